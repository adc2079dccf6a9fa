//! `/api/v1/events…`: intake, list, detail with history, transitions, photos and the
//! live feed. The write path is HTTP → validation → one store transaction
//! ([`crate::events::write`]) → commit → acknowledge → EventIndex → `Change`.

use super::{ApiError, AppState, Change};
use crate::auth::{Access, Caller, Permission, Role};
use crate::events::{self, Deadlines, write};
use crate::index::Index;
use crate::model::{CATEGORIES, DISTRICT_CODE, Event, EventStep, SOURCES, STATUSES};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use utoipa::ToSchema;

/// Largest intake or transition body.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;
/// Largest photo.
pub const PHOTO_LIMIT: usize = 10 * 1024 * 1024;
/// Longest side of a thumbnail, pixels.
pub const THUMB_SIDE: u32 = 320;
/// Possible duplicates: same category within this distance…
pub const DUPLICATE_RADIUS_M: f64 = 50.0;
/// …and this many seconds.
pub const DUPLICATE_WINDOW_S: i64 = 7 * 86_400;

/// An event as the API shows it.
pub fn view(event: &Event, index: Option<&Index>, now: i64) -> Value {
    let mut areas = serde_json::Map::new();
    if let Some(ix) = index
        && let Some(grid) = ix.area(&event.grid_code)
    {
        for a in ix.ancestors(grid) {
            areas.insert(
                a.area.level.as_str().to_string(),
                json!({"code": a.area.code, "name": a.area.name}),
            );
        }
    }
    let t = events::time::format_utc;
    json!({
        "code": event.code,
        "category": event.category,
        "source": event.source,
        "status": event.status,
        "risk_tier": event.risk_tier,
        "title": event.title,
        "description": event.description,
        "lon": event.lon,
        "lat": event.lat,
        "address_code": event.address_code,
        "grid": areas.get("grid").cloned().unwrap_or_else(|| json!({"code": event.grid_code})),
        "community": areas.get("community"),
        "township": areas.get("township"),
        "reported_at": t(event.reported_at),
        "deadline": t(event.deadline),
        "overdue": events::is_overdue(event, now),
        "mediation_org": event.mediation_org,
        "diversion": event.diversion,
        "resolved_by_mediation": event.resolved_by_mediation,
        "escalated": event.escalated,
        "closed_at": event.closed_at.map(t),
        "version": event.version,
        "updated_at": t(event.updated_at),
    })
}

fn step_view(s: &EventStep) -> Value {
    json!({
        "seq": s.seq,
        "at": events::time::format_utc(s.at),
        "actor": s.actor,
        "action": s.action,
        "from": s.from_status,
        "to": s.to_status,
        "note": s.note,
    })
}

/// Read a JSON body with the API's error format: 413 over the limit, 400 for bad
/// JSON, 422 for well-formed JSON with wrong fields.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let body = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!("the body exceeds {JSON_BODY_LIMIT} bytes"))
        } else {
            ApiError::BadRequest(r.body_text())
        }
    })?;
    let mut de = serde_json::Deserializer::from_slice(&body);
    let v = T::deserialize(&mut de).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::Unprocessable(e.to_string()),
        _ => ApiError::BadRequest(format!("invalid JSON: {e}")),
    })?;
    de.end()
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))?;
    Ok(v)
}

/// `POST /api/v1/events`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntakeRequest {
    /// One of dispute, petition, consultation, public_safety, service_request.
    pub category: String,
    /// One of higher_level, township, department, grid_worker, visitor.
    pub source: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    /// A building code of the register; its point is used when lon/lat are absent.
    pub address_code: Option<String>,
    /// A free-text address, geocoded through the address matcher when neither a point
    /// nor an `address_code` is given (422 with the candidates when it abstains).
    pub address: Option<String>,
    /// small (default), medium or large; large matters are escalated at intake.
    pub risk_tier: Option<String>,
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(ApiError::Unprocessable(format!(
            "{field} must be one of {}; got {value:?}",
            allowed.join(", ")
        )))
    }
}

/// A validated intake, ready to be written.
pub struct Draft {
    pub event: Event,
    /// The normalised request, compared on idempotent retries.
    pub canonical: String,
}

/// Validate an intake and place it (point → grid by point-in-polygon). The code is
/// given in the transaction.
pub fn validate(
    req: &IntakeRequest,
    index: &Index,
    deadlines: &Deadlines,
    now: i64,
) -> Result<Draft, ApiError> {
    one_of("category", &req.category, &CATEGORIES)?;
    one_of("source", &req.source, &SOURCES)?;
    let tier = req.risk_tier.clone().unwrap_or_else(|| "small".into());
    one_of("risk_tier", &tier, &events::RISK_TIERS)?;
    let title = req.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(ApiError::Unprocessable(
            "title must be 1 to 200 characters".into(),
        ));
    }
    if req.description.chars().count() > 5_000 {
        return Err(ApiError::Unprocessable(
            "description must be at most 5000 characters".into(),
        ));
    }
    let mut address_code = req.address_code.clone();
    let (lon, lat) = match (req.lon, req.lat, &req.address_code, &req.address) {
        (Some(lon), Some(lat), _, _) => (lon, lat),
        (None, None, Some(code), _) => {
            let b = index.building(code).ok_or_else(|| {
                ApiError::Unprocessable(format!(
                    "address_code {code:?} is not a building of the register"
                ))
            })?;
            (b.lon, b.lat)
        }
        (None, None, None, Some(text)) => {
            let b = geocode_building(index, text)?;
            address_code = Some(b.code.clone());
            (b.lon, b.lat)
        }
        _ => {
            return Err(ApiError::Unprocessable(
                "give a point (lon and lat), a register building address_code or an address".into(),
            ));
        }
    };
    if !(lon.is_finite()
        && lat.is_finite()
        && (-180.0..=180.0).contains(&lon)
        && (-90.0..=90.0).contains(&lat))
    {
        return Err(ApiError::Unprocessable("lon/lat out of range".into()));
    }
    let grid = index.grid_at(lon, lat).ok_or_else(|| {
        ApiError::Unprocessable(format!("the point {lon},{lat} lies outside the district"))
    })?;
    let event = Event {
        code: String::new(),
        category: req.category.clone(),
        source: req.source.clone(),
        status: "accepted".into(),
        risk_tier: tier.clone(),
        title: title.to_string(),
        description: req.description.trim().to_string(),
        lon,
        lat,
        address_code,
        grid_code: grid.area.code.clone(),
        reported_at: now,
        deadline: deadlines.deadline(&req.category, &tier, now),
        mediation_org: None,
        diversion: None,
        resolved_by_mediation: false,
        escalated: tier == "large",
        closed_at: None,
        version: 0,
        updated_at: now,
    };
    let canonical = serde_json::to_string(&IntakeRequest {
        title: title.to_string(),
        description: event.description.clone(),
        risk_tier: Some(tier),
        ..req.clone()
    })
    .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Draft { event, canonical })
}

/// The register building a free-text address names, through the address matcher; 422
/// (with the matcher's candidates) when it abstains.
fn geocode_building<'a>(
    index: &'a Index,
    text: &str,
) -> Result<&'a crate::index::BuildingEntry, ApiError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 200 {
        return Err(ApiError::Unprocessable(
            "address must be 1 to 200 characters".into(),
        ));
    }
    let m = index.register.match_address(text);
    match (m.code.as_ref(), m.building) {
        (Some(_), Some(b)) => index
            .buildings
            .get(b)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("register and index disagree"))),
        _ => Err(ApiError::UnprocessableWith {
            message: format!(
                "the address {text:?} could not be placed with confidence; give a point or pick a candidate's address_code"
            ),
            details: json!({"candidates": m.candidates.iter().map(|c| json!({"address_code": c.code, "label": c.label})).collect::<Vec<_>>()}),
        }),
    }
}

/// Same category within 50 m and 7 days.
pub fn possible_duplicates(state: &AppState, e: &Event) -> Vec<Value> {
    let d = 0.001; // degrees: > 50 m in both directions at the district's latitude
    let events = state.events();
    let mut v: Vec<(f64, &Event)> = events
        .in_box([e.lon - d, e.lat - d], [e.lon + d, e.lat + d])
        .filter(|o| {
            o.category == e.category && (e.reported_at - o.reported_at).abs() <= DUPLICATE_WINDOW_S
        })
        .map(|o| (events::distance_m((e.lon, e.lat), (o.lon, o.lat)), o))
        .filter(|(m, _)| *m <= DUPLICATE_RADIUS_M)
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v.iter()
        .map(|(m, o)| json!({"code": o.code, "title": o.title, "status": o.status, "distance_m": (m * 10.0).round() / 10.0, "reported_at": events::time::format_utc(o.reported_at)}))
        .collect()
}

/// The result of an intake: created or replayed from its idempotency key.
pub enum Intake {
    Created { event: Box<Event>, body: Value },
    Replayed { body: Value },
}

/// The shared intake path (JSON API and Open311): one transaction, then index and bus.
pub async fn intake(
    state: &AppState,
    req: &IntakeRequest,
    idempotency_key: Option<&str>,
    caller: &Caller,
) -> Result<Intake, ApiError> {
    caller.require(Permission::Intake)?;
    let index = state.index()?;
    let now = events::now();
    let Draft {
        mut event,
        canonical,
    } = validate(req, &index, &state.deadlines, now)?;
    // A grid worker reports from their own grids.
    caller.require_grid(Some(&event.grid_code))?;
    // Keys are per account: another account's key never replays someone else's answer.
    let idempotency_key = idempotency_key.map(|k| format!("{}:{k}", caller.user_id));
    let idempotency_key = idempotency_key.as_deref();
    let duplicates = possible_duplicates(state, &event);
    let mut tx = write::begin(&state.store).await?;
    if let Some(key) = idempotency_key
        && let Some((request, response)) = write::find_idempotency(&mut tx, key, now).await?
    {
        drop(tx); // rolls back
        if request != canonical {
            return Err(ApiError::Unprocessable(
                "this Idempotency-Key was used for a different request".into(),
            ));
        }
        let body = serde_json::from_str(&response).map_err(|e| ApiError::Internal(e.into()))?;
        return Ok(Intake::Replayed { body });
    }
    let year = events::time::local_year(now);
    let seq = write::next_sequence(&mut tx, year).await?;
    event.code = format!("{DISTRICT_CODE}{year}{seq:06}");
    let mut steps = vec![EventStep {
        event_code: event.code.clone(),
        seq: 1,
        at: now,
        actor: format!("{}:{}", caller.username, req.source),
        action: "accept".into(),
        from_status: None,
        to_status: "accepted".into(),
        note: format!("受理：{}", event.title),
    }];
    if event.escalated {
        steps.push(EventStep {
            seq: 2,
            actor: caller.username.clone(),
            action: "escalate".into(),
            from_status: Some("accepted".into()),
            note: "重大事项，报送社会风险研判中心".into(),
            ..steps[0].clone()
        });
    }
    event.version = steps.len() as i64;
    write::insert_event(&mut tx, &event).await?;
    for s in &steps {
        write::append_step(&mut tx, s).await?;
    }
    let mut body = view(&event, Some(&*index), now);
    body["possible_duplicates"] = Value::Array(duplicates);
    let text = body.to_string();
    if let Some(key) = idempotency_key {
        write::insert_idempotency(&mut tx, key, &event.code, &canonical, &text, now).await?;
    }
    let payload = json!({"change": "created", "event": view(&event, Some(&*index), now)});
    write::record_change(&mut tx, &event.code, "accept", &payload.to_string(), now).await?;
    write::commit(tx).await?;
    apply(state, event.clone());
    Ok(Intake::Created {
        event: Box::new(event),
        body,
    })
}

/// After the commit: the in-memory index, then the change bus. Also how other replicas'
/// writes arrive (`http::replica`): an event no newer than the one held is ignored.
pub(crate) fn apply(state: &AppState, event: Event) {
    let change = |before: Option<(f64, f64)>| Change::Event {
        code: event.code.clone(),
        lon: event.lon,
        lat: event.lat,
        before,
    };
    let previous = {
        let mut events = state.events_mut();
        // Two commits of one event may be applied out of order: keep the newest.
        if events
            .get(&event.code)
            .is_some_and(|e| e.version >= event.version)
        {
            return;
        }
        events.upsert(event.clone())
    };
    state.publish(change(previous.map(|p| (p.lon, p.lat))));
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let k = v
                .to_str()
                .map_err(|_| ApiError::BadRequest("Idempotency-Key must be ASCII".into()))?
                .trim();
            if k.is_empty() || k.len() > 255 {
                return Err(ApiError::BadRequest(
                    "Idempotency-Key must be 1 to 255 characters".into(),
                ));
            }
            Ok(Some(k.to_string()))
        }
    }
}

/// Take in a new event.
///
/// 201 with the event (its code, grid, community, township) and `possible_duplicates`
/// (same category within 50 m and 7 days). A retry with the same `Idempotency-Key` and
/// body returns the first response (201, header `Idempotent-Replayed: true`); the same
/// key with another body is a 422. The response comes only after the commit.
#[utoipa::path(post, path = "/api/v1/events", tag = "events",
    request_body = IntakeRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes a retried intake return the first result")),
    responses((status = 201, description = "created"), (status = 400), (status = 413), (status = 422), (status = 503)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: IntakeRequest = parse_json(body)?;
    let key = idempotency_key(&headers)?;
    match intake(&state, &req, key.as_deref(), &caller).await? {
        Intake::Created { event, body } => Ok((
            StatusCode::CREATED,
            [(header::LOCATION, format!("/api/v1/events/{}", event.code))],
            axum::Json(body),
        )
            .into_response()),
        Intake::Replayed { body } => {
            let loc = format!(
                "/api/v1/events/{}",
                body["code"].as_str().unwrap_or_default()
            );
            Ok((
                StatusCode::CREATED,
                [
                    (header::LOCATION, loc),
                    (
                        header::HeaderName::from_static("idempotent-replayed"),
                        "true".into(),
                    ),
                ],
                axum::Json(body),
            )
                .into_response())
        }
    }
}

/// List filters (all optional).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// minLon,minLat,maxLon,maxLat
    pub bbox: Option<String>,
    /// One status or a comma-separated list.
    pub status: Option<String>,
    /// A grid code, or a community/township code (its grids).
    pub grid: Option<String>,
    pub category: Option<String>,
    /// Reported at or after: unix seconds, YYYY-MM-DD or RFC 3339.
    pub from: Option<String>,
    /// Reported before.
    pub to: Option<String>,
    pub overdue: Option<String>,
    /// An H3 cell (hex index, e.g. a hot-spot cell): events whose point lies in it.
    pub cell: Option<String>,
    /// A building code: events whose `address_code` is the building or one of its units
    /// (as the building-level risk counts them).
    pub building: Option<String>,
    /// 0–1000, default 100. `limit=0` answers only `total`: callers who may read
    /// aggregates but not event records (the screen, anonymous) may ask for totals.
    pub limit: Option<String>,
    pub offset: Option<String>,
}

fn parse_bool(name: &str, v: &str) -> Result<bool, ApiError> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::BadRequest(format!(
            "{name} must be true or false"
        ))),
    }
}

fn parse_int(name: &str, v: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64, ApiError> {
    v.parse::<i64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{name} must be an integer in {}..={}",
                range.start(),
                range.end()
            ))
        })
}

pub fn parse_time(name: &str, v: &str) -> Result<i64, ApiError> {
    events::time::parse(v).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "{name} must be unix seconds, YYYY-MM-DD or an RFC 3339 date-time"
        ))
    })
}

/// A compiled list filter.
pub struct Filter {
    bbox: Option<[f64; 4]>,
    statuses: Option<Vec<String>>,
    area: Option<String>,
    category: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    overdue: Option<bool>,
    cell: Option<h3o::CellIndex>,
    building: Option<String>,
}

impl Filter {
    pub fn parse(q: &ListQuery) -> Result<Filter, ApiError> {
        let bbox = match &q.bbox {
            None => None,
            Some(b) => {
                let v: Vec<f64> = b
                    .split(',')
                    .map(|s| s.trim().parse::<f64>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| {
                        ApiError::BadRequest("bbox must be minLon,minLat,maxLon,maxLat".into())
                    })?;
                if v.len() != 4 || v[0] > v[2] || v[1] > v[3] || v.iter().any(|x| !x.is_finite()) {
                    return Err(ApiError::BadRequest(
                        "bbox must be minLon,minLat,maxLon,maxLat with min ≤ max".into(),
                    ));
                }
                Some([v[0], v[1], v[2], v[3]])
            }
        };
        let statuses = match &q.status {
            None => None,
            Some(s) => {
                let v: Vec<String> = s.split(',').map(|x| x.trim().to_string()).collect();
                for x in &v {
                    if !STATUSES.contains(&x.as_str()) {
                        return Err(ApiError::BadRequest(format!(
                            "status must be among {}; got {x:?}",
                            STATUSES.join(", ")
                        )));
                    }
                }
                Some(v)
            }
        };
        if let Some(c) = &q.category
            && !CATEGORIES.contains(&c.as_str())
        {
            return Err(ApiError::BadRequest(format!(
                "category must be one of {}",
                CATEGORIES.join(", ")
            )));
        }
        Ok(Filter {
            bbox,
            statuses,
            area: q.grid.clone(),
            category: q.category.clone(),
            from: q
                .from
                .as_deref()
                .map(|v| parse_time("from", v))
                .transpose()?,
            to: q.to.as_deref().map(|v| parse_time("to", v)).transpose()?,
            overdue: q
                .overdue
                .as_deref()
                .map(|v| parse_bool("overdue", v))
                .transpose()?,
            cell: q
                .cell
                .as_deref()
                .map(|v| {
                    v.parse::<h3o::CellIndex>().map_err(|_| {
                        ApiError::BadRequest("cell must be an H3 cell index in hex".into())
                    })
                })
                .transpose()?,
            building: q.building.clone(),
        })
    }

    /// The building filter as a building index of `register` (`None`: no such filter).
    /// An unknown building code is a 404.
    pub fn building_index(
        &self,
        index: &Index,
        register: &crate::analysis::RegisterModels,
    ) -> Result<Option<u32>, ApiError> {
        let Some(code) = &self.building else {
            return Ok(None);
        };
        if index.building(code).is_none() {
            return Err(ApiError::NotFound(format!("no building {code}")));
        }
        Ok(register.building_of_address.get(code).copied())
    }

    /// The register models a `building` filter needs to find its events (`None`
    /// without such a filter).
    pub fn register(
        &self,
        state: &AppState,
        index: &std::sync::Arc<Index>,
    ) -> Option<std::sync::Arc<crate::analysis::RegisterModels>> {
        self.building
            .is_some()
            .then(|| state.analysis.register(index))
    }

    /// The `building` argument of [`Filter::matches`], given [`Filter::register`].
    pub fn building_arg<'r>(
        &self,
        index: &Index,
        register: Option<&'r crate::analysis::RegisterModels>,
    ) -> Result<Option<(u32, &'r crate::analysis::RegisterModels)>, ApiError> {
        Ok(match register {
            Some(r) => match self.building_index(index, r)? {
                Some(b) => Some((b, r)),
                // A building of the index that the register does not know: nothing matches.
                None => Some((u32::MAX, r)),
            },
            None => None,
        })
    }

    /// `building`: the index from [`Filter::building_index`] when the filter has one.
    pub fn matches(
        &self,
        e: &Event,
        index: &Index,
        now: i64,
        building: Option<(u32, &crate::analysis::RegisterModels)>,
    ) -> bool {
        if let Some(cell) = self.cell {
            let inside = h3o::LatLng::new(e.lat, e.lon)
                .map(|ll| ll.to_cell(cell.resolution()) == cell)
                .unwrap_or(false);
            if !inside {
                return false;
            }
        }
        if let Some((b, register)) = building {
            let at = e
                .address_code
                .as_ref()
                .and_then(|c| register.building_of_address.get(c));
            if at != Some(&b) {
                return false;
            }
        }
        if let Some([a, b, c, d]) = self.bbox
            && !(e.lon >= a && e.lon <= c && e.lat >= b && e.lat <= d)
        {
            return false;
        }
        if let Some(s) = &self.statuses
            && !s.contains(&e.status)
        {
            return false;
        }
        if let Some(c) = &self.category
            && c != &e.category
        {
            return false;
        }
        if self.from.is_some_and(|f| e.reported_at < f)
            || self.to.is_some_and(|t| e.reported_at >= t)
        {
            return false;
        }
        if let Some(o) = self.overdue
            && events::is_overdue(e, now) != o
        {
            return false;
        }
        if let Some(area) = &self.area
            && area != &e.grid_code
        {
            let inside = index
                .area(&e.grid_code)
                .map(|g| index.ancestors(g).iter().any(|a| &a.area.code == area))
                .unwrap_or(false);
            if !inside {
                return false;
            }
        }
        true
    }
}

/// List events, newest first, with paging (`total` counts all matches).
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(ListQuery),
    responses((status = 200, description = "`{total, limit, offset, events}`"), (status = 400)))]
pub async fn list(
    State(state): State<AppState>,
    access: Access,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let filter = Filter::parse(&q)?;
    let limit = q
        .limit
        .as_deref()
        .map(|v| parse_int("limit", v, 0..=1000))
        .transpose()?
        .unwrap_or(100);
    // Records need EventsRead (and are limited to the caller's events); a bare total is
    // an aggregate.
    let records = access.allows(Permission::EventsRead);
    if !records {
        access.require(if limit == 0 {
            Permission::Aggregates
        } else {
            Permission::EventsRead
        })?;
    }
    if let (Some(c), Some(area)) = (access.caller(), &q.grid)
        && c.role.grid_scoped()
        && !c.can_see_grid(area)
    {
        return Err(ApiError::Forbidden(format!(
            "the grid {area} is outside your grids"
        )));
    }
    let visible =
        |e: &Event| !records || access.can_see_event(&e.grid_code, e.mediation_org.as_deref());
    let offset = q
        .offset
        .as_deref()
        .map(|v| parse_int("offset", v, 0..=i64::MAX))
        .transpose()?
        .unwrap_or(0);
    let index = state.index()?;
    let now = events::now();
    let register = filter.register(&state, &index);
    let building = filter.building_arg(&index, register.as_deref())?;
    let matches = |e: &Event| visible(e) && filter.matches(e, &index, now, building);
    let events = state.events();
    let mut hits: Vec<&Event> = match (filter.bbox, filter.cell) {
        (Some([a, b, c, d]), _) => events
            .in_box([a, b], [c, d])
            .filter(|e| matches(e))
            .collect(),
        (None, Some(cell)) => {
            // The cell's bounding box through the R-tree, then the exact cell test.
            let boundary = cell.boundary();
            let (mut w, mut s, mut e, mut n) = (180.0f64, 90.0f64, -180.0f64, -90.0f64);
            for v in boundary.iter() {
                w = w.min(v.lng());
                e = e.max(v.lng());
                s = s.min(v.lat());
                n = n.max(v.lat());
            }
            // Padded a little: the edges between the vertices are not quite straight in
            // lon/lat.
            let pad = 1e-4;
            events
                .in_box([w - pad, s - pad], [e + pad, n + pad])
                .filter(|e| matches(e))
                .collect()
        }
        (None, None) => events.events.iter().filter(|e| matches(e)).collect(),
    };
    hits.sort_by(|x, y| {
        y.reported_at
            .cmp(&x.reported_at)
            .then_with(|| y.code.cmp(&x.code))
    });
    let page: Vec<Value> = hits
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|e| view(e, Some(&*index), now))
        .collect();
    Ok(axum::Json(
        json!({"total": hits.len(), "limit": limit, "offset": offset, "events": page}),
    ))
}

/// The event `code` if it exists and the caller may see it: 404 when it does not exist,
/// 403 when it lies outside the caller's grids or organisation.
fn visible_event(state: &AppState, caller: &Caller, code: &str) -> Result<Event, ApiError> {
    let event = state
        .events()
        .get(code)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("no event {code}")))?;
    if caller.can_see_event(&event.grid_code, event.mediation_org.as_deref()) {
        Ok(event)
    } else {
        Err(ApiError::Forbidden(format!(
            "the event {code} is outside your grids or organisation"
        )))
    }
}

/// What callers who may not read an event's record still see of it (the large screen's
/// live feed, Open311 without a token): category, status and place at the level of
/// areas, the point rounded to about 100 m; never the title, description or address.
pub fn public_view(event: &Value) -> Value {
    const KEEP: [&str; 13] = [
        "code",
        "category",
        "source",
        "status",
        "risk_tier",
        "grid",
        "community",
        "township",
        "reported_at",
        "deadline",
        "overdue",
        "escalated",
        "closed_at",
    ];
    let mut out = serde_json::Map::new();
    for k in KEEP {
        if let Some(v) = event.get(k) {
            out.insert(k.to_string(), v.clone());
        }
    }
    for k in ["lon", "lat"] {
        if let Some(v) = event.get(k).and_then(Value::as_f64) {
            out.insert(k.to_string(), json!((v * 1000.0).round() / 1000.0));
        }
    }
    Value::Object(out)
}

fn valid_code(code: &str) -> Result<(), ApiError> {
    if code.len() == 16 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("no event {code:?}")))
    }
}

/// One event with its full history, the caller's allowed actions and its photos.
#[utoipa::path(get, path = "/api/v1/events/{code}", tag = "events",
    params(("code" = String, Path, description = "event code")),
    responses((status = 200, description = "the event with `history`"), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require(Permission::EventsRead)?;
    valid_code(&code)?;
    let index = state.index()?;
    let event = visible_event(&state, &caller, &code)?;
    let history = write::history(&state.store, &code).await?;
    let photos = write::photo_ids(&state.store, &code).await?;
    let mut v = view(&event, Some(&*index), events::now());
    v["history"] = history.iter().map(step_view).collect();
    v["allowed_actions"] = json!(events::allowed_actions(caller.role, &event));
    v["photos"] = photos
        .iter()
        .map(|id| json!({"id": id, "url": format!("/api/v1/events/{code}/photos/{id}"), "thumb": format!("/api/v1/events/{code}/photos/{id}/thumb")}))
        .collect();
    Ok(axum::Json(v))
}

/// `POST /api/v1/events/{code}/transitions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// assign_mediation, resolve, divert, close, follow_up, escalate, set_risk_tier.
    pub action: String,
    #[serde(default)]
    pub note: String,
    /// The version the caller saw; a stale one is a 409.
    pub version: i64,
    /// assign_mediation: one of the mediation organisations.
    pub org: Option<String>,
    /// divert: arbitration, administrative_review, administrative_ruling, litigation.
    pub kind: Option<String>,
    /// set_risk_tier: small, medium, large.
    pub risk_tier: Option<String>,
}

/// Apply `req` to `before` (rules already checked): the new event and its step.
fn transition_of(
    before: &Event,
    req: &TransitionRequest,
    rule: &events::Rule,
    caller: &Caller,
    deadlines: &Deadlines,
    now: i64,
) -> Result<(Event, EventStep), ApiError> {
    let mut e = before.clone();
    let mut note = req.note.trim().to_string();
    if note.chars().count() > 2_000 {
        return Err(ApiError::Unprocessable(
            "note must be at most 2000 characters".into(),
        ));
    }
    match req.action.as_str() {
        "assign_mediation" => {
            let org = req.org.as_deref().unwrap_or_default();
            one_of("org", org, &events::MEDIATION_ORGS)?;
            e.mediation_org = Some(org.to_string());
            if note.is_empty() {
                note = format!("分派至{org}");
            }
        }
        "divert" => {
            let kind = req.kind.as_deref().unwrap_or_default();
            one_of("kind", kind, &events::DIVERSIONS)?;
            e.diversion = Some(kind.to_string());
        }
        "resolve" => e.resolved_by_mediation = before.status == "mediating",
        "close" => e.closed_at = Some(now),
        "escalate" => e.escalated = true,
        "set_risk_tier" => {
            let tier = req.risk_tier.as_deref().unwrap_or_default();
            one_of("risk_tier", tier, &events::RISK_TIERS)?;
            e.risk_tier = tier.to_string();
            e.deadline = deadlines.deadline(&e.category, tier, e.reported_at);
            if note.is_empty() {
                note = format!("风险等级 {} → {tier}", before.risk_tier);
            }
        }
        _ => {}
    }
    if let Some(to) = rule.to {
        e.status = to.to_string();
    }
    e.version = before.version + 1;
    e.updated_at = now;
    let step = EventStep {
        event_code: e.code.clone(),
        seq: e.version,
        at: now,
        actor: caller.username.clone(),
        action: req.action.clone(),
        from_status: Some(before.status.clone()),
        to_status: e.status.clone(),
        note,
    };
    Ok((e, step))
}

/// Take one step of the closed loop.
///
/// 409 when `version` is stale (details: `current_version`) or the action is not
/// allowed from the current status (details: `allowed` actions); 403 when the step
/// exists but not for the caller's role; 422 for a missing/unknown org, kind or tier.
#[utoipa::path(post, path = "/api/v1/events/{code}/transitions", tag = "events",
    request_body = TransitionRequest,
    params(("code" = String, Path, description = "event code")),
    responses((status = 200, description = "the changed event"), (status = 403), (status = 404), (status = 409), (status = 422), (status = 503)))]
pub async fn transition(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require(Permission::EventsWrite)?;
    valid_code(&code)?;
    visible_event(&state, &caller, &code)?;
    let req: TransitionRequest = parse_json(body)?;
    if !events::actions().contains(&req.action.as_str()) {
        return Err(ApiError::Unprocessable(format!(
            "action must be one of {}",
            events::actions().join(", ")
        )));
    }
    let index = state.index()?;
    let now = events::now();
    let mut tx = write::begin(&state.store).await?;
    let before = write::event_in(&mut tx, &code)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no event {code}")))?;
    if req.version != before.version {
        return Err(ApiError::Conflict {
            message: format!(
                "stale version {}: the event is at version {}",
                req.version, before.version
            ),
            details: Some(json!({"current_version": before.version, "status": before.status})),
        });
    }
    let allowed = events::allowed_actions(caller.role, &before);
    let rule = match events::allowed(caller.role, &before.status, &req.action) {
        Some(rule) if allowed.contains(&req.action.as_str()) => rule,
        _ => {
            let someone_may = Role::ALL
                .iter()
                .any(|r| events::allowed_actions(*r, &before).contains(&req.action.as_str()));
            if someone_may {
                return Err(ApiError::Forbidden(format!(
                    "the role {} may not {} an event",
                    caller.role.as_str(),
                    req.action
                )));
            }
            return Err(ApiError::Conflict {
                message: format!(
                    "{} is not allowed from status {}{}",
                    req.action,
                    before.status,
                    if req.action == "escalate" && before.escalated {
                        " (already escalated)"
                    } else {
                        ""
                    }
                ),
                details: Some(json!({"status": before.status, "allowed": allowed})),
            });
        }
    };
    let (after, step) = transition_of(&before, &req, rule, &caller, &state.deadlines, now)?;
    if !write::update_event(&mut tx, &after, before.version).await? {
        return Err(ApiError::Conflict {
            message: "the event changed meanwhile; reload it".into(),
            details: None,
        });
    }
    write::append_step(&mut tx, &step).await?;
    let payload = json!({"change": req.action, "event": view(&after, Some(&*index), now)});
    write::record_change(&mut tx, &code, &req.action, &payload.to_string(), now).await?;
    write::commit(tx).await?;
    apply(&state, after.clone());
    let mut v = view(&after, Some(&*index), now);
    v["step"] = step_view(&step);
    v["allowed_actions"] = json!(events::allowed_actions(caller.role, &after));
    Ok(axum::Json(v))
}

fn error_415(message: &str) -> Response {
    let body = super::error::ErrorBody {
        error: super::error::ErrorDetail {
            code: "unsupported_media_type".into(),
            message: message.into(),
            details: None,
        },
    };
    (StatusCode::UNSUPPORTED_MEDIA_TYPE, axum::Json(body)).into_response()
}

/// Decode (the only validation that counts), bound the size, and make a JPEG thumbnail.
fn process_photo(bytes: &[u8], declared: image::ImageFormat) -> Result<write::Photo, String> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes));
    reader.set_format(declared);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(12_000);
    limits.max_image_height = Some(12_000);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| format!("not a valid image: {e}"))?;
    let thumb = img.thumbnail(THUMB_SIDE, THUMB_SIDE).to_rgb8();
    let mut out = std::io::Cursor::new(Vec::new());
    thumb
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .map_err(|e| format!("thumbnail: {e}"))?;
    Ok(write::Photo {
        id: 0,
        content_type: declared.to_mime_type().to_string(),
        width: img.width() as i64,
        height: img.height() as i64,
        bytes: bytes.to_vec(),
        thumb: out.into_inner(),
    })
}

/// Attach a photo: the raw body with `Content-Type: image/jpeg` or `image/png`, at
/// most 10 MB. It is decoded to prove it is an image (422 otherwise; 415 for other
/// content types), a 320 px JPEG thumbnail is made, and both are stored in the
/// database under a server-generated id.
#[utoipa::path(post, path = "/api/v1/events/{code}/photos", tag = "events",
    params(("code" = String, Path, description = "event code")),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 201, description = "`{id, url, thumb, width, height}`"), (status = 404), (status = 413), (status = 415), (status = 422)))]
pub async fn upload_photo(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(Permission::EventsWrite)?;
    valid_code(&code)?;
    visible_event(&state, &caller, &code)?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    let format = match ct.as_deref() {
        Some("image/jpeg") => image::ImageFormat::Jpeg,
        Some("image/png") => image::ImageFormat::Png,
        _ => return Ok(error_415("Content-Type must be image/jpeg or image/png")),
    };
    let bytes = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge("a photo may be at most 10 MB".into())
        } else {
            ApiError::BadRequest(r.body_text())
        }
    })?;
    if bytes.len() > PHOTO_LIMIT {
        return Err(ApiError::PayloadTooLarge(
            "a photo may be at most 10 MB".into(),
        ));
    }
    let photo = tokio::task::spawn_blocking(move || process_photo(&bytes, format))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(ApiError::Unprocessable)?;
    let now = events::now();
    let index = state.index()?;
    // The photo and its history step in one transaction; the step makes it a change of
    // the event (new version), so the live feed and the other caches see it.
    let mut tx = write::begin(&state.store).await?;
    let before = write::event_in(&mut tx, &code)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no event {code}")))?;
    let id = write::insert_photo(&mut tx, &code, &photo, now).await?;
    let mut after = before.clone();
    after.version = before.version + 1;
    after.updated_at = now;
    let step = EventStep {
        event_code: code.clone(),
        seq: after.version,
        at: now,
        actor: caller.username.clone(),
        action: "attach_photo".into(),
        from_status: Some(before.status.clone()),
        to_status: before.status.clone(),
        note: format!("照片 {id}（{}×{}）", photo.width, photo.height),
    };
    if !write::update_event(&mut tx, &after, before.version).await? {
        return Err(ApiError::Conflict {
            message: "the event changed meanwhile; retry".into(),
            details: None,
        });
    }
    write::append_step(&mut tx, &step).await?;
    let payload = json!({"change": "attach_photo", "event": view(&after, Some(&*index), now)});
    write::record_change(&mut tx, &code, "attach_photo", &payload.to_string(), now).await?;
    write::commit(tx).await?;
    apply(&state, after);
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/api/v1/events/{code}/photos/{id}"),
        )],
        axum::Json(json!({
            "id": id,
            "url": format!("/api/v1/events/{code}/photos/{id}"),
            "thumb": format!("/api/v1/events/{code}/photos/{id}/thumb"),
            "content_type": photo.content_type,
            "width": photo.width,
            "height": photo.height,
        })),
    )
        .into_response())
}

async fn photo_response(
    state: &AppState,
    caller: &Caller,
    code: &str,
    id: &str,
    thumb: bool,
) -> Result<Response, ApiError> {
    caller.require(Permission::EventsRead)?;
    valid_code(code)?;
    visible_event(state, caller, code)?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::NotFound("no such photo".into()))?;
    let p = write::photo(&state.store, code, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such photo".into()))?;
    let (ct, bytes) = if thumb {
        ("image/jpeg".to_string(), p.thumb)
    } else {
        (p.content_type, p.bytes)
    };
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&ct).map_err(|e| ApiError::Internal(e.into()))?,
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400, immutable"),
    );
    Ok(resp)
}

/// A photo as uploaded, with its content type.
#[utoipa::path(get, path = "/api/v1/events/{code}/photos/{id}", tag = "events",
    params(("code" = String, Path), ("id" = i64, Path)),
    responses((status = 200, description = "image/jpeg or image/png"), (status = 404)))]
pub async fn get_photo(
    State(state): State<AppState>,
    caller: Caller,
    Path((code, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    photo_response(&state, &caller, &code, &id, false).await
}

/// A photo's 320 px JPEG thumbnail.
#[utoipa::path(get, path = "/api/v1/events/{code}/photos/{id}/thumb", tag = "events",
    params(("code" = String, Path), ("id" = i64, Path)),
    responses((status = 200, description = "image/jpeg"), (status = 404)))]
pub async fn get_thumb(
    State(state): State<AppState>,
    caller: Caller,
    Path((code, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    photo_response(&state, &caller, &code, &id, true).await
}

/// One outbox payload as `access` may see it: unchanged, reduced to the public view, or
/// nothing.
fn feed_message(access: &Access, payload: &str) -> Option<String> {
    let mut v: Value = serde_json::from_str(payload).ok()?;
    let event = v.get("event")?;
    let grid = event["grid"]["code"].as_str().unwrap_or_default();
    if access.can_see_event(grid, event["mediation_org"].as_str()) {
        return Some(payload.to_string());
    }
    if !access.allows(Permission::Aggregates) {
        return None;
    }
    v["event"] = public_view(event);
    Some(v.to_string())
}

/// Live feed of new and changed events (Server-Sent Events).
///
/// Each message is `event: event`, `id: <change sequence>` and `data:` the change
/// (`{"change", "event"}`). The sequence is persisted with the change in the same
/// transaction, so a client reconnecting with `Last-Event-ID` (header, or the
/// `last_event_id` query parameter) first gets every change it missed, replayed from the
/// store, then live ones. Without it the feed starts at the present. Keep-alive
/// comments every 15 s.
///
/// Each message is checked against the caller: the full event for callers who may see
/// it, its [`public_view`] for callers who may read aggregates only (the large screen,
/// anonymous). `EventSource` cannot send headers, so the token may also come as the
/// `access_token` query parameter.
#[utoipa::path(get, path = "/api/v1/events/stream", tag = "events",
    params(("Last-Event-ID" = Option<String>, Header, description = "resume after this change")),
    responses((status = 200, description = "text/event-stream")))]
pub async fn stream(
    State(state): State<AppState>,
    access: Access,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let access = match (q.get("access_token"), &access) {
        (Some(token), Access::Anonymous { .. }) => Access::Signed(
            state
                .auth()
                .authenticate(&state.store, token, "event-stream".into())
                .await?,
        ),
        _ => access,
    };
    access.require(Permission::Aggregates)?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| q.get("last_event_id").cloned());
    let mut last = match resume {
        Some(v) => v
            .trim()
            .parse::<i64>()
            .map_err(|_| ApiError::BadRequest("Last-Event-ID must be a change number".into()))?,
        None => write::last_change(&state.store).await?,
    };
    // Subscribe before the first read so nothing committed in between is missed.
    let mut changes = state.subscribe();
    let (tx, rx) = tokio::sync::mpsc::channel::<axum::response::sse::Event>(256);
    let store = state.store.clone();
    tokio::spawn(async move {
        // Other replicas' writes do not reach this bus: poll the outbox too.
        let mut poll = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            loop {
                let batch = match write::changes_after(&store, last, 500).await {
                    Ok(b) => b,
                    Err(_) => break,
                };
                let full = batch.len() == 500;
                for (seq, payload) in batch {
                    last = seq;
                    let Some(payload) = feed_message(&access, &payload) else {
                        continue;
                    };
                    let ev = axum::response::sse::Event::default()
                        .event("event")
                        .id(seq.to_string())
                        .data(payload);
                    if tx.send(ev).await.is_err() {
                        return;
                    }
                }
                if !full {
                    break;
                }
            }
            tokio::select! {
                r = changes.recv() => {
                    if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                        return;
                    }
                }
                _ = poll.tick() => {}
                _ = tx.closed() => return,
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|ev| (Ok::<_, std::convert::Infallible>(ev), rx))
    });
    Ok(axum::response::sse::Sse::new(stream)
        .keep_alive(
            axum::response::sse::KeepAlive::new().interval(std::time::Duration::from_secs(15)),
        )
        .into_response())
}
