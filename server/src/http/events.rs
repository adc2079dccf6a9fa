//! `/api/v1/events…`: intake, list, detail with history, transitions, photos and the
//! live feed, over the domain's closed loop (`minqing_domain::events`): the handlers
//! read the request, call the service, and render the answer.

use super::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minqing_domain::auth::{Access, Caller, Permission, Role};
use minqing_domain::events::query::{self, ListParams};
use minqing_domain::events::service::{
    self, ChangeRecord, Duplicate, Intake, IntakeRequest, TransitionRequest, valid_code,
    visible_event,
};
use minqing_domain::events::{self, work, write};
use minqing_domain::index::Index;
use minqing_domain::model::{Event, EventStep};
use minqing_domain::time::format_utc;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

/// This area's routes, each registered together with its OpenAPI operation and with its
/// own body limit (the API's 413 format).
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use axum::extract::DefaultBodyLimit;
    use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
    use utoipa_axum::routes;
    let json_limit = DefaultBodyLimit::max(JSON_BODY_LIMIT);
    OpenApiRouter::new()
        .routes(routes!(list, create).layer(json_limit))
        .routes(routes!(stream))
        .routes(routes!(detail))
        .routes(routes!(transition).layer(json_limit))
        .routes(routes!(upload_photo).layer(DefaultBodyLimit::max(PHOTO_LIMIT)))
        .routes(routes!(get_photo))
        .routes(routes!(get_thumb))
}

/// Largest intake or transition body.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;
/// Largest photo.
pub const PHOTO_LIMIT: usize = 10 * 1024 * 1024;
/// How often the live feed checks that a signed-in caller's session is still valid.
pub const STREAM_SESSION_RECHECK: std::time::Duration = std::time::Duration::from_secs(60);
/// Longest side of a thumbnail, pixels.
pub const THUMB_SIDE: u32 = 320;
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
    let t = format_utc;
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
        // The place by its name (the register's label), where the code is known.
        "address": event.address_code.as_deref().and_then(|c| index?.address_label(c)),
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
        "owner": event.owner.as_ref().map(|u| json!({
            "username": u,
            "display": event.owner_display.as_deref().unwrap_or(u),
        })),
        "owner_unit": owner_unit_view(event, index),
        "case_leader": event.case_leader,
        "supervision": event.supervision.as_ref().map(|s| json!({
            "note": s.note,
            "deadline": s.deadline,
            "by": s.by,
            "at": t(s.at),
        })),
        "satisfaction": event.satisfaction,
        "duplicate_of": event.duplicate_of,
        "next_visit": event.next_visit,
        "large_since": event.large_since.map(t),
    })
}

/// `{"kind", "name"}` of the owning unit (a grid also has its `code`), or null.
fn owner_unit_view(event: &Event, index: Option<&Index>) -> Value {
    match (&event.owner_unit_kind, &event.owner_unit) {
        (Some(kind), Some(unit)) if kind == "grid" => {
            let name = index
                .and_then(|ix| ix.area(unit))
                .map_or_else(|| unit.clone(), |a| a.area.name.clone());
            json!({"kind": kind, "name": name, "code": unit})
        }
        (Some(kind), Some(unit)) => json!({"kind": kind, "name": unit}),
        _ => Value::Null,
    }
}

fn step_view(s: &EventStep) -> Value {
    json!({
        "seq": s.seq,
        "at": format_utc(s.at),
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

/// The answer to an intake: the event and its possible duplicates.
pub(crate) fn intake_view(
    event: &Event,
    duplicates: &[Duplicate],
    index: &Index,
    now: i64,
) -> Value {
    let mut body = view(event, Some(index), now);
    body["possible_duplicates"] = duplicates
        .iter()
        .map(|d| json!({"code": d.code, "title": d.title, "status": d.status, "distance_m": d.distance_m, "reported_at": format_utc(d.reported_at)}))
        .collect();
    body
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
    let index = state.index()?;
    let now = state.clock.now();
    let render = |e: &Event, d: &[Duplicate]| intake_view(e, d, &index, now).to_string();
    match service::intake(&state, &req, key.as_deref(), &caller, &render).await? {
        Intake::Created { event, duplicates } => Ok((
            StatusCode::CREATED,
            [(header::LOCATION, format!("/api/v1/events/{}", event.code))],
            axum::Json(intake_view(&event, &duplicates, &index, now)),
        )
            .into_response()),
        Intake::Replayed { body } => {
            let body: Value = serde_json::from_str(&body).map_err(anyhow::Error::from)?;
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
    /// Reported on or after: a date YYYY-MM-DD (whole days in China Standard Time) or an
    /// RFC 3339 instant.
    pub from: Option<String>,
    /// Reported on or before (the whole day of a date; both ends are inclusive).
    pub to: Option<String>,
    pub overdue: Option<String>,
    /// An H3 cell (hex index, e.g. a hot-spot cell): events whose point lies in it.
    pub cell: Option<String>,
    /// A building code: events whose `address_code` is the building or one of its units
    /// (as the building-level risk counts them).
    pub building: Option<String>,
    /// An owner's username, or `me` (the caller's cases).
    pub owner: Option<String>,
    /// One source or a comma-separated list: higher_level, township, department,
    /// grid_worker, visitor.
    pub source: Option<String>,
    /// One risk tier or a comma-separated list: small, medium, large.
    pub risk_tier: Option<String>,
    /// true or false.
    pub escalated: Option<String>,
    /// true or false: under a leader's supervision (督办).
    pub supervised: Option<String>,
    /// An owning unit: an organisation's or department's name, or a grid code.
    pub unit: Option<String>,
    /// 0–1000, default 100. `limit=0` answers only `total`: callers who may read
    /// aggregates but not event records (the screen, anonymous) may ask for totals.
    pub limit: Option<String>,
    pub offset: Option<String>,
}

impl ListQuery {
    /// The domain's view of these parameters; an empty value (`supervised=`, as a
    /// form sends a cleared field) means the filter is not set.
    pub fn params(&self) -> ListParams<'_> {
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().filter(|s| !s.is_empty())
        }
        ListParams {
            bbox: given(&self.bbox),
            status: given(&self.status),
            grid: given(&self.grid),
            category: given(&self.category),
            from: given(&self.from),
            to: given(&self.to),
            overdue: given(&self.overdue),
            cell: given(&self.cell),
            building: given(&self.building),
            owner: given(&self.owner),
            source: given(&self.source),
            risk_tier: given(&self.risk_tier),
            escalated: given(&self.escalated),
            supervised: given(&self.supervised),
            unit: given(&self.unit),
        }
    }
}

/// List events, newest first, with paging (`total` counts all matches; `counts` gives
/// `by_status`, `overdue` and `due_24h` over all matches, not only the page).
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(ListQuery),
    responses((status = 200, description = "`{total, limit, offset, counts, events}`"), (status = 400)))]
pub async fn list(
    State(state): State<AppState>,
    access: Access,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let limit = q
        .limit
        .as_deref()
        .map(|v| query::parse_int("limit", v, 0..=1000))
        .transpose()?
        .unwrap_or(100);
    let offset = q
        .offset
        .as_deref()
        .map(|v| query::parse_int("offset", v, 0..=i64::MAX))
        .transpose()?
        .unwrap_or(0);
    let page = query::list(&state, &access, &q.params(), limit, offset)?;
    let index = state.index()?;
    let now = state.clock.now();
    let events: Vec<Value> = page
        .events
        .iter()
        .map(|e| view(e, Some(&*index), now))
        .collect();
    let mut body = json!({"total": page.total, "limit": limit, "offset": offset, "counts": page.counts, "events": events});
    if !access.allows(Permission::EventsRead) {
        // Counts only, through the disclosure layer: no count of 1–4 leaves.
        minqing_domain::disclosure::suppress_json_counts(&mut body);
    }
    Ok(axum::Json(body))
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
    // The disclosure layer's public grain: the public cell's centre, the CST day.
    if let (Some(lon), Some(lat)) = (
        event.get("lon").and_then(Value::as_f64),
        event.get("lat").and_then(Value::as_f64),
    ) {
        let (lon, lat) = minqing_domain::disclosure::public_cell_centre(lon, lat);
        out.insert("lon".into(), json!(lon));
        out.insert("lat".into(), json!(lat));
    }
    for k in ["reported_at", "deadline", "closed_at"] {
        if let Some(day) = out
            .get(k)
            .and_then(Value::as_str)
            .and_then(minqing_domain::time::parse_instant)
        {
            out.insert(k.into(), json!(minqing_domain::time::format_date(day)));
        }
    }
    Value::Object(out)
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
    let visits = write::visits(&state.store, &code).await?;
    let reviews = write::reviews(&state.store, &code).await?;
    let mut v = view(&event, Some(&*index), state.clock.now());
    v["history"] = history.iter().map(step_view).collect();
    v["visits"] = visits
        .iter()
        .map(|x| json!({"at": format_utc(x.at), "kind": x.kind, "outcome": x.outcome, "next_visit": x.next_visit, "by": x.by}))
        .collect();
    v["joint_reviews"] = reviews
        .iter()
        .map(|r| json!({"at": format_utc(r.at), "participants": r.participants, "conclusion": r.conclusion, "by": r.by}))
        .collect();
    v["possible_duplicates"] = service::possible_duplicates(&state, &caller, &event)
        .iter()
        .filter(|d| d.code != event.code)
        .map(|d| json!({"code": d.code, "title": d.title, "status": d.status, "distance_m": d.distance_m, "reported_at": format_utc(d.reported_at)}))
        .collect();
    v["allowed_actions"] = json!(events::allowed_actions(caller.role, &event));
    v["photos"] = photos
        .iter()
        .map(|id| json!({"id": id, "url": format!("/api/v1/events/{code}/photos/{id}"), "thumb": format!("/api/v1/events/{code}/photos/{id}/thumb")}))
        .collect();
    Ok(axum::Json(v))
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
    let (after, step) = service::transition(&state, &caller, &code, &req).await?;
    let mut v = view(&after, Some(&*index), state.clock.now());
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
    let photo =
        tokio::task::spawn_blocking(move || service::process_photo(&bytes, format, THUMB_SIDE))
            .await
            .map_err(|e| ApiError::Internal(e.into()))?
            .map_err(ApiError::Unprocessable)?;
    let id = service::attach_photo(&state, &caller, &code, &photo).await?;
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
        // A photo stored before uploads were cleaned loses its EXIF on the way out.
        let bytes = tokio::task::spawn_blocking({
            let ct = p.content_type.clone();
            move || service::served_photo(p.bytes, &ct)
        })
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
        (p.content_type, bytes)
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
fn feed_message(access: &Access, payload: &str, index: Option<&Index>, now: i64) -> Option<String> {
    let mut v: Value = match ChangeRecord::parse(payload) {
        Some(r) => json!({"change": r.change, "event": view(&r.event, index, now)}),
        // An older store's payload: already the API's view.
        None => serde_json::from_str(payload).ok()?,
    };
    let event = v.get("event")?;
    let sees = match ChangeRecord::parse(payload) {
        Some(r) => access.can_see(&r.event),
        None => {
            let grid = event["grid"]["code"].as_str().unwrap_or_default();
            access.can_see_event(grid, event["mediation_org"].as_str())
        }
    };
    if sees {
        return Some(v.to_string());
    }
    if !access.allows(Permission::Aggregates) {
        return None;
    }
    let mut public = public_view(event);
    // The signed-in wall also gets what happened (a title is not personal; the
    // description and address are).
    if access.caller().is_some_and(|c| c.role == Role::Screen)
        && let Some(t) = event.get("title")
    {
        public["title"] = t.clone();
    }
    v["event"] = public;
    Some(v.to_string())
}

/// The `alert` messages a committed change makes for `access`: the alerts it made new
/// ([`work::kinds_made_by`]) for the callers it concerns ([`work::concerns`]); the
/// screen gets every one of the district (without personal data).
fn feed_alerts(access: &Access, payload: &str, index: Option<&Index>, now: i64) -> Vec<String> {
    let Some(r) = ChangeRecord::parse(payload) else {
        return Vec::new();
    };
    let Some(caller) = access.caller() else {
        return Vec::new();
    };
    let kinds = work::kinds_made_by(&r.change, &r.event);
    if kinds.is_empty() {
        return Vec::new();
    }
    let wall = caller.role == Role::Screen;
    let concerned = caller.can_see(&r.event) && work::concerns(caller, &r.event);
    if !wall && !concerned {
        return Vec::new();
    }
    work::alerts_of(&r.event, now)
        .iter()
        .filter(|a| kinds.contains(&a.kind))
        .map(|a| {
            let mut v = super::work::alert_json(a, Some(&r.event), index, None);
            v["change"] = json!(r.change);
            v.to_string()
        })
        .collect()
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
/// anonymous; the signed-in screen also gets the title).
///
/// `event: alert` messages (no id) follow a change that makes an alert for the caller:
/// a supervision (`supervised`), a tier that became large (`large_risk`), an assignment
/// (every alert of the event for its new owner, organisation, grid or unit); `data` is
/// `{code, kind, title, at, category, status, risk_tier, community, township, grid,
/// change}`. The screen gets every alert of the district in that form. `EventSource` cannot send headers, so the token may also come as the
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
    let mut revocations = state.auth().revocations();
    let (tx, rx) = tokio::sync::mpsc::channel::<axum::response::sse::Event>(256);
    let app = state.0.clone();
    let store = app.store.clone();
    tokio::spawn(async move {
        // Other replicas' writes do not reach this bus: poll the outbox too.
        let mut poll = tokio::time::interval(std::time::Duration::from_secs(5));
        let mut recheck = tokio::time::interval(STREAM_SESSION_RECHECK);
        recheck.tick().await; // the first tick is immediate; the session was just checked
        loop {
            loop {
                let batch = match write::changes_after(&store, last, 500).await {
                    Ok(b) => b,
                    Err(_) => break,
                };
                let full = batch.len() == 500;
                for (seq, payload) in batch {
                    last = seq;
                    let index = app.index().ok();
                    let now = app.clock.now();
                    let alerts = feed_alerts(&access, &payload, index.as_deref(), now);
                    let Some(message) = feed_message(&access, &payload, index.as_deref(), now)
                    else {
                        continue;
                    };
                    let ev = axum::response::sse::Event::default()
                        .event("event")
                        .id(seq.to_string())
                        .data(message);
                    if tx.send(ev).await.is_err() {
                        return;
                    }
                    // Alerts carry no id: a reconnect resumes after the change itself.
                    for a in alerts {
                        let ev = axum::response::sse::Event::default().event("alert").data(a);
                        if tx.send(ev).await.is_err() {
                            return;
                        }
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
                _ = recheck.tick() => {
                    // A signed-in feed lives only as long as its session: revoked,
                    // expired or disabled (also on another replica), the feed ends.
                    if let Access::Signed(c) = &access
                        && app.auth().recheck(&app.store, c).await.is_err()
                    {
                        return;
                    }
                }
                r = revocations.recv() => {
                    if let (Ok(hash), Access::Signed(c)) = (r, &access)
                        && hash == c.token_hash
                    {
                        return;
                    }
                }
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
