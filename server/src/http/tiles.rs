//! Tile endpoints (paths fixed by API.md):
//!
//! - `GET /tiles/catalog` — the layers, zoom ranges, fields and filters.
//! - `GET /tiles/{layer[,layer…]}.json` — TileJSON 3.0.0.
//! - `GET /tiles/{layer[,layer…]}/{z}/{x}/{y}.mvt` — MVT 2.1, extent 4096, XYZ.
//! - `GET /heatmap/{z}/{x}/{y}.png?category=&status=&from=&to=` — 256×256 RGBA KDE tile.
//! - `GET /style.json` — a MapLibre style over these sources (see [`super::style`]).
//! - `GET /fonts/{fontstack}/{range}.pbf` — an empty glyph set (see [`super::style`]).
//!
//! Responses: `Cache-Control: public, max-age=60` (short: events change; revalidation
//! with the strong ETag is a cheap 304), `ETag` (hash of the uncompressed bytes; the
//! gzip variant carries the same tag with `-gz`), `If-None-Match` → 304, gzip when the
//! request accepts it, `Vary: Accept-Encoding`. An empty vector tile is **204 No Content**
//! (always; never an empty 200). A heat-map tile is always a 200 PNG, fully transparent
//! where there is no density. z > 22 or x/y outside 0..2^z → 400; an unknown layer → 404;
//! a bad filter → 400.

use super::{ApiError, AppState};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, RawPathParams, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use minqing_domain::auth::{Access, Permission};
use minqing_domain::tiles_service::filters::{EventAudience, EventFilter};
use minqing_domain::tiles_service::layers::{self, LAYERS, LayerSpec};
use minqing_domain::tiles_service::prepared::POINT_MIN_ZOOM;
use minqing_tiles::{MAX_ZOOM, TileId};
use serde_json::{Value, json};
use std::collections::HashMap;

pub const CACHE_CONTROL: &str = "public, max-age=60";
/// Tiles whose event points depend on who asks.
pub const PRIVATE_CACHE_CONTROL: &str = "private, max-age=60";
pub const MVT_CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tiles/catalog", get(catalog))
        .route("/tiles/{file}", get(tilejson))
        .route("/tiles/{layers}/{z}/{x}/{file}", get(vector_tile))
        .route("/heatmap/{z}/{x}/{file}", get(heatmap))
        .route("/style.json", get(style))
        .route("/fonts/{fontstack}/{file}", get(glyphs))
}

/// Parse `a,b,c` into registered layers (first occurrence wins); unknown → 404.
fn parse_layers(spec: &str) -> Result<Vec<&'static LayerSpec>, ApiError> {
    let mut out: Vec<&'static LayerSpec> = Vec::new();
    for id in spec.split(',') {
        let id = id.trim();
        if id.is_empty() {
            return Err(ApiError::BadRequest(
                "empty layer name in the layer list".into(),
            ));
        }
        let layer = layers::layer(id).ok_or_else(|| {
            ApiError::NotFound(format!(
                "unknown tile layer {id:?}; see /tiles/catalog for the layers"
            ))
        })?;
        if !out.iter().any(|l| l.id == layer.id) {
            out.push(layer);
        }
    }
    Ok(out)
}

fn parse_tile(z: &str, x: &str, y: &str) -> Result<TileId, ApiError> {
    TileId::parse(z, x, y).map_err(|e| ApiError::BadRequest(format!("bad tile address: {e}")))
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("127.0.0.1:8080");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| {
            let mut parts = token.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

fn etag_matches(headers: &HeaderMap, etag: &Bytes) -> bool {
    let bare = std::str::from_utf8(etag)
        .unwrap_or_default()
        .trim_matches('"');
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|t| t == "*" || t == bare || t.strip_suffix("-gz") == Some(bare))
}

/// The common response of a tile: 304, 204 or the (possibly gzipped) bytes. Built in
/// place (one header map, tags made when the tile was cached): a cached tile is mostly
/// this function and hyper.
fn tile_response(
    entry: &minqing_domain::tiles_service::cache::Cached,
    headers: &HeaderMap,
    content_type: &'static str,
    cache_control: &'static str,
) -> Response {
    let gzip = !entry.bytes.is_empty() && accepts_gzip(headers);
    let (status, body) = if etag_matches(headers, &entry.etag) {
        (StatusCode::NOT_MODIFIED, None)
    } else if entry.bytes.is_empty() {
        (StatusCode::NO_CONTENT, None)
    } else if gzip {
        (StatusCode::OK, Some(entry.gzipped().clone()))
    } else {
        (StatusCode::OK, Some(entry.bytes.clone()))
    };
    let mut response = Response::new(body.map_or_else(Body::empty, Body::from));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.reserve(5);
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    let tag = if gzip { &entry.etag_gzip } else { &entry.etag };
    // The cache made the tag from hex digits and a dash: always a valid header value.
    if let Ok(tag) = HeaderValue::from_maybe_shared(tag.clone()) {
        h.insert(header::ETAG, tag);
    }
    if status == StatusCode::OK {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if gzip {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
    }
    response
}

/// The event filter of a tile request; callers who may not read event records filter
/// by whole days only (the disclosure layer's public grain).
fn filter_from(query: &HashMap<String, String>, access: &Access) -> Result<EventFilter, ApiError> {
    if !access.allows(Permission::EventsRead) {
        for name in ["from", "to"] {
            minqing_domain::disclosure::require_day_grain(
                name,
                query.get(name).map(String::as_str),
            )?;
        }
    }
    EventFilter::parse(query).map_err(|m| ApiError::BadRequest(format!("bad filter: {m}")))
}

async fn vector_tile(
    State(state): State<AppState>,
    access: Access,
    params: RawPathParams,
    Query(query): Query<HashMap<String, String>>,
    // The request itself, last: its headers are read in place (a `HeaderMap` extractor
    // clones them for every tile).
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    // Borrowed in route order (layers, z, x, y.mvt): `Path<(String, …)>` copies each.
    let mut values = params.iter().map(|(_, v)| v);
    let mut next = || values.next().unwrap_or_default();
    let (layer_list, z, x, file) = (next(), next(), next(), next());
    let y = file
        .strip_suffix(".mvt")
        .ok_or_else(|| ApiError::NotFound("vector tiles end in .mvt".into()))?;
    let layers = parse_layers(layer_list)?;
    let tile = parse_tile(z, x, y)?;
    let filter = filter_from(&query, &access)?;
    access.require(Permission::Aggregates)?;
    state.index()?;
    let audience = EventAudience::of(&access);
    minqing_domain::tiles_service::analysis_layers::refresh(&state, &layers).await?;
    let entry = state
        .tiles
        .vector_tile(&layers, tile, &filter, &audience, state.events_lock())?;
    // Event points shown to one caller's scope must not sit in shared caches.
    let personal = audience != EventAudience::Aggregates && layers.iter().any(|l| l.id == "events");
    let cache_control = if personal {
        PRIVATE_CACHE_CONTROL
    } else {
        CACHE_CONTROL
    };
    Ok(tile_response(
        &entry,
        headers,
        MVT_CONTENT_TYPE,
        cache_control,
    ))
}

async fn heatmap(
    State(state): State<AppState>,
    access: Access,
    Path((z, x, file)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let y = file
        .strip_suffix(".png")
        .ok_or_else(|| ApiError::NotFound("heat-map tiles end in .png".into()))?;
    let tile = parse_tile(&z, &x, y)?;
    let filter = filter_from(&query, &access)?;
    access.require(Permission::Aggregates)?;
    state.index()?;
    let entry = state
        .tiles
        .heatmap_tile(tile, &filter, state.events_lock())?;
    Ok(tile_response(&entry, headers, "image/png", CACHE_CONTROL))
}

fn fields_json(spec: &LayerSpec) -> Value {
    Value::Object(
        spec.fields
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect(),
    )
}

async fn catalog(State(state): State<AppState>, access: Access) -> Result<Response, ApiError> {
    access.require(Permission::Aggregates)?;
    state.index()?;
    let layers: Vec<Value> = LAYERS
        .iter()
        .map(|l| {
            let points = matches!(l.id, "buildings" | "enterprises" | "events");
            json!({
                "id": l.id,
                "description": l.description,
                "minzoom": l.minzoom,
                "maxzoom": l.maxzoom,
                "point_minzoom": if points { Some(POINT_MIN_ZOOM) } else { None },
                "fields": fields_json(l),
                "filters": if l.id == "events" { vec!["category", "status", "from", "to"] } else { vec![] },
                "tiles": format!("/tiles/{}/{{z}}/{{x}}/{{y}}.mvt", l.id),
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "layers": layers,
        "composite": "comma-separate layers, e.g. /tiles/buildings,events/{z}/{x}/{y}.mvt",
        "extent": minqing_tiles::EXTENT,
        "buffer": layers::BUFFER,
        "max_features_per_tile": layers::MAX_FEATURES_PER_TILE,
        "max_tile_bytes": minqing_domain::tiles_service::MAX_TILE_BYTES,
        "empty_tile": "204 No Content",
        // A configured outside basemap the views draw under these layers (null: none).
        "outside_basemap": state.outside_basemap.as_ref().map(|b| json!({
            "tiles": b.0.tiles,
            "tile_size": b.0.tile_size.unwrap_or(256),
            "attribution": b.0.attribution,
        })),
        "heatmap": {
            "tiles": "/heatmap/{z}/{x}/{y}.png",
            "filters": ["category", "status", "from", "to"],
            "kernel": "quartic",
            "bandwidth": "default search radius of all events (ArcGIS rule) clamped to 4..40 pixels of the zoom; fixed per zoom",
        },
        "time_filters": "from/to: YYYY-MM-DD (whole days in China Standard Time, both ends inclusive) or an RFC 3339 instant",
    }))
    .into_response())
}

async fn tilejson(
    State(state): State<AppState>,
    access: Access,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let spec = file
        .strip_suffix(".json")
        .ok_or_else(|| ApiError::NotFound(format!("no such tile resource {file:?}")))?;
    let layers = parse_layers(spec)?;
    access.require(Permission::Aggregates)?;
    state.index()?;
    let prepared = state.tiles.prepared().ok_or(ApiError::Loading)?;
    let ids: Vec<&str> = layers.iter().map(|l| l.id).collect();
    let b = prepared.bounds;
    let base = base_url(&headers);
    let vector_layers: Vec<Value> = layers
        .iter()
        .map(|l| {
            json!({
                "id": l.id,
                "description": l.description,
                "minzoom": l.minzoom,
                "maxzoom": l.maxzoom,
                "fields": fields_json(l),
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "tilejson": "3.0.0",
        "name": format!("minqing:{}", ids.join(",")),
        "description": "民情 Minqing vector tiles from the in-memory index",
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [format!("{base}/tiles/{}/{{z}}/{{x}}/{{y}}.mvt", ids.join(","))],
        "minzoom": layers.iter().map(|l| l.minzoom).min().unwrap_or(0),
        "maxzoom": layers.iter().map(|l| l.maxzoom).max().unwrap_or(MAX_ZOOM),
        "bounds": b,
        "center": [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0, 12],
        "vector_layers": vector_layers,
    }))
    .into_response())
}

async fn style(
    State(state): State<AppState>,
    access: Access,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    access.require(Permission::Aggregates)?;
    state.index()?;
    let prepared = state.tiles.prepared().ok_or(ApiError::Loading)?;
    let outside = state.outside_basemap.as_ref().map(|b| &b.0);
    Ok(axum::Json(super::style::style(
        &base_url(&headers),
        prepared.bounds,
        outside,
    ))
    .into_response())
}

async fn glyphs(Path((_fontstack, file)): Path<(String, String)>) -> Result<Response, ApiError> {
    if !file.ends_with(".pbf") {
        return Err(ApiError::NotFound("glyph ranges end in .pbf".into()));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-protobuf"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        Vec::<u8>::new(),
    )
        .into_response())
}
