//! `GET /api/v1/search`, `POST /api/v1/geocode`, `GET /api/v1/reverse`.
//!
//! All three run on the in-memory register and index: no SQL. Coordinates are WGS-84
//! unless the caller passes `crs=gcj02|bd09`, in which case input points are read in, and
//! output points written in, that datum (what Amap/Tencent or Baidu base maps need).

use super::{ApiError, AppState};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use minqing_address::coords::{self, Datum};
use minqing_address::{HitKind, Level, Register};
use minqing_domain::address_service::geocode::{Geocoded, geocode_one, out_point};
use minqing_domain::address_service::{datum_name, parse_datum};
use minqing_domain::index::Index;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// This area's routes, each registered together with its OpenAPI operation.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::{router::OpenApiRouter, routes};
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(geocode))
        .routes(routes!(reverse))
}

/// Largest geocode batch; larger batches are refused with 413.
pub const MAX_GEOCODE_BATCH: usize = 1_000;
/// Longest single address accepted, in characters.
pub const MAX_ADDRESS_CHARS: usize = 500;
/// Largest `limit` of a search.
pub const MAX_SEARCH_LIMIT: usize = 50;

fn datum_param(crs: Option<&str>) -> Result<Datum, ApiError> {
    match crs {
        None | Some("") => Ok(Datum::Wgs84),
        Some(s) => parse_datum(s).ok_or_else(|| {
            ApiError::BadRequest(format!("crs must be wgs84, gcj02 or bd09, got {s:?}"))
        }),
    }
}

#[derive(Deserialize, IntoParams)]
pub struct SearchQuery {
    /// The text typed so far: characters (`锦绣花园`, `锦绣花园3`) or pinyin (`jxhy`,
    /// `jinxiu`), or a building/unit code.
    pub q: Option<String>,
    /// Hits to return, 1–50 (default 10).
    pub limit: Option<String>,
    /// Datum of the returned points: `wgs84` (default), `gcj02` or `bd09`.
    pub crs: Option<String>,
}

/// One search hit.
#[derive(Serialize, ToSchema)]
pub struct SearchHitBody {
    /// Building or unit code; area code for areas; for roads and compounds, the code of
    /// their first building.
    pub code: String,
    pub label: String,
    /// Township and community, to tell same-named places apart.
    pub context: String,
    /// `area`, `road`, `compound`, `building` or `unit`.
    pub kind: &'static str,
    /// Relevance in [0, 1].
    pub score: f64,
    pub lon: f64,
    pub lat: f64,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResponse {
    pub query: String,
    pub hits: Vec<SearchHitBody>,
}

fn kind_name(k: HitKind) -> &'static str {
    match k {
        HitKind::Area => "area",
        HitKind::Road => "road",
        HitKind::Compound => "compound",
        HitKind::Building => "building",
    }
}

/// A code typed into the search box: the building or unit it names.
fn code_hit(reg: &Register, q: &str, datum: Datum) -> Option<SearchHitBody> {
    let (level, i) = reg.find_code(q)?;
    let (label, building, kind) = match level {
        Level::Building => {
            let (_, label, _, _) = reg.building(i)?;
            (label.to_string(), i, "building")
        }
        Level::Unit => {
            let (_, b) = reg.unit(i)?;
            (reg.unit_label(i)?, b, "unit")
        }
    };
    let (lon, lat) = out_point(reg.position(building)?, datum);
    Some(SearchHitBody {
        code: q.to_string(),
        label: short_label(&label),
        context: String::new(),
        kind,
        score: 1.0,
        lon,
        lat,
    })
}

fn short_label(label: &str) -> String {
    label
        .strip_prefix(minqing_address::PROVINCE_CITY_DISTRICT)
        .unwrap_or(label)
        .to_string()
}

/// Address search as you type: areas, roads, compounds and buildings by characters or
/// pinyin initials, best first; a full building or unit code finds that address.
#[utoipa::path(get, path = "/api/v1/search", params(SearchQuery), responses(
    (status = 200, body = SearchResponse),
    (status = 400, body = super::ErrorBody)
))]
pub async fn search(
    State(state): State<AppState>,
    access: minqing_domain::auth::Access,
    Query(q): Query<SearchQuery>,
) -> Result<Json<SearchResponse>, ApiError> {
    // The address register is public geography, not a personal record.
    access.require(minqing_domain::auth::Permission::Aggregates)?;
    let text = q.q.as_deref().map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err(ApiError::BadRequest("q is required".into()));
    }
    if text.chars().count() > 100 {
        return Err(ApiError::BadRequest(
            "q is longer than 100 characters".into(),
        ));
    }
    let limit = match q.limit.as_deref() {
        None | Some("") => 10,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_SEARCH_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "limit must be an integer from 1 to {MAX_SEARCH_LIMIT}, got {l:?}"
                ))
            })?,
    };
    let datum = datum_param(q.crs.as_deref())?;
    let ix = state.index()?;
    let reg = &ix.register;
    let mut hits: Vec<SearchHitBody> = Vec::with_capacity(limit);
    if text.bytes().all(|b| b.is_ascii_digit())
        && let Some(hit) = code_hit(reg, text, datum)
    {
        hits.push(hit);
    }
    for h in reg.search(text, limit) {
        if hits.len() >= limit {
            break;
        }
        let (lon, lat) = out_point((h.lon, h.lat), datum);
        hits.push(SearchHitBody {
            code: h.code,
            label: h.label,
            context: h.context,
            kind: kind_name(h.kind),
            score: (h.score * 1000.0).round() / 1000.0,
            lon,
            lat,
        });
    }
    Ok(Json(SearchResponse {
        query: text.to_string(),
        hits,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct GeocodeRequest {
    /// Free-text addresses, at most 1,000.
    pub addresses: Vec<String>,
    /// Datum of the returned points: `wgs84` (default), `gcj02` or `bd09`.
    #[serde(default)]
    pub crs: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct GeocodeResponse {
    pub crs: &'static str,
    pub results: Vec<Geocoded>,
}

/// Batch geocoding: one result per input address, in input order.
#[utoipa::path(post, path = "/api/v1/geocode", request_body = GeocodeRequest, responses(
    (status = 200, body = GeocodeResponse),
    (status = 400, body = super::ErrorBody),
    (status = 413, body = super::ErrorBody, description = "more than 1,000 addresses")
))]
pub async fn geocode(
    State(state): State<AppState>,
    access: minqing_domain::auth::Access,
    body: Bytes,
) -> Result<Json<GeocodeResponse>, ApiError> {
    // The address register is public geography, not a personal record.
    access.require(minqing_domain::auth::Permission::Aggregates)?;
    let req: GeocodeRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "body must be {{\"addresses\": [\"…\", …]}} (strings): {e}"
        ))
    })?;
    if req.addresses.len() > MAX_GEOCODE_BATCH {
        return Err(ApiError::PayloadTooLarge(format!(
            "at most {MAX_GEOCODE_BATCH} addresses per request, got {}; split the batch",
            req.addresses.len()
        )));
    }
    if let Some(i) = req
        .addresses
        .iter()
        .position(|a| a.chars().count() > MAX_ADDRESS_CHARS)
    {
        return Err(ApiError::BadRequest(format!(
            "address {i} is longer than {MAX_ADDRESS_CHARS} characters"
        )));
    }
    let datum = datum_param(req.crs.as_deref())?;
    let ix = state.index()?;
    let reg = ix.register.clone();
    // A full batch takes some milliseconds: off the async workers.
    let results = tokio::task::spawn_blocking(move || {
        req.addresses
            .iter()
            .map(|a| geocode_one(&reg, a, datum))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Json(GeocodeResponse {
        crs: datum_name(datum),
        results,
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct ReverseQuery {
    /// Longitude.
    pub lon: Option<String>,
    /// Latitude.
    pub lat: Option<String>,
    /// Datum of the given and returned points: `wgs84` (default), `gcj02` or `bd09`.
    pub crs: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct NearestBuilding {
    pub code: String,
    pub label: String,
    pub lon: f64,
    pub lat: f64,
    /// Distance from the query point, in metres.
    pub distance_m: f64,
}

#[derive(Serialize, ToSchema)]
pub struct AreaRef {
    pub code: String,
    pub name: String,
    /// `grid`, `community`, `township` or `district`.
    pub level: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct ReverseResponse {
    pub crs: &'static str,
    /// Whether the point lies inside one of the district's grids.
    pub inside_district: bool,
    pub building: Option<NearestBuilding>,
    /// The areas containing the point, innermost first (grid → … → district); empty
    /// outside the district.
    pub areas: Vec<AreaRef>,
}

/// Reverse geocoding: the nearest building address and the areas containing the
/// point. A point outside the district is still answered (200) with the nearest
/// building, its distance and no areas, so a caller can tell "just outside" from far.
#[utoipa::path(get, path = "/api/v1/reverse", params(ReverseQuery), responses(
    (status = 200, body = ReverseResponse),
    (status = 400, body = super::ErrorBody)
))]
pub async fn reverse(
    State(state): State<AppState>,
    access: minqing_domain::auth::Access,
    Query(q): Query<ReverseQuery>,
) -> Result<Json<ReverseResponse>, ApiError> {
    // The address register is public geography, not a personal record.
    access.require(minqing_domain::auth::Permission::Aggregates)?;
    let num = |name: &str, v: Option<&str>, range: f64| -> Result<f64, ApiError> {
        let v = v.ok_or_else(|| ApiError::BadRequest(format!("{name} is required")))?;
        v.trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && x.abs() <= range)
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "{name} must be a number within ±{range}, got {v:?}"
                ))
            })
    };
    let lon = num("lon", q.lon.as_deref(), 180.0)?;
    let lat = num("lat", q.lat.as_deref(), 90.0)?;
    let datum = datum_param(q.crs.as_deref())?;
    let (lon, lat) = coords::convert(lon, lat, datum, Datum::Wgs84);
    let ix = state.index()?;
    Ok(Json(reverse_at(&ix, lon, lat, datum)))
}

fn reverse_at(ix: &Index, lon: f64, lat: f64, datum: Datum) -> ReverseResponse {
    let building = ix.nearest_building(lon, lat).map(|b| {
        let (x, y) = out_point((b.lon, b.lat), datum);
        NearestBuilding {
            code: b.code.clone(),
            label: b.label.clone(),
            lon: x,
            lat: y,
            distance_m: (coords::distance_m((lon, lat), (b.lon, b.lat)) * 10.0).round() / 10.0,
        }
    });
    let areas: Vec<AreaRef> = ix
        .grid_at(lon, lat)
        .map(|g| {
            ix.ancestors(g)
                .into_iter()
                .map(|a| AreaRef {
                    code: a.area.code.clone(),
                    name: a.area.name.clone(),
                    level: a.area.level.as_str(),
                })
                .collect()
        })
        .unwrap_or_default();
    ReverseResponse {
        crs: datum_name(datum),
        inside_district: !areas.is_empty(),
        building,
        areas,
    }
}
