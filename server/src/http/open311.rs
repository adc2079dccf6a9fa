//! Open311 GeoReport v2 (<http://wiki.open311.org/GeoReport_v2>): discovery, services
//! (our five categories), service definitions, requests (our events) in JSON and XML,
//! and the spec's error format `[{"code", "description"}]` with the HTTP status.
//! A POSTed request goes through the same intake path as `POST /api/v1/events`.
//!
//! Access: discovery, services and definitions are open. Requests are read with the
//! access rules of events: callers who may see an event's record get it whole; everyone
//! else who may read aggregates (the public, when `public_aggregates` is on) gets its
//! public form — service, status, dates, the point rounded to about 100 m — never the
//! description or the address. Posting needs an account with intake rights: the token
//! as `Authorization: Bearer` or as the spec's `api_key` field.

use super::{ApiError, AppState};
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use minqing_domain::auth::{Access, Permission};
use minqing_domain::events;
use minqing_domain::events::service::{self, Intake, IntakeRequest};
use minqing_domain::model::{CATEGORIES, Event, is_closed_status};
use minqing_domain::time::{End, format_utc, parse_bound};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Requests returned at most per query (the spec's suggested cap).
const MAX_REQUESTS: usize = 1000;
/// The default window of `requests` without dates (the spec: last 90 days).
const DEFAULT_WINDOW_S: i64 = 90 * 86_400;

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Json,
    Xml,
}

fn split_format(file: &str) -> Option<(&str, Format)> {
    if let Some(s) = file.strip_suffix(".json") {
        Some((s, Format::Json))
    } else {
        file.strip_suffix(".xml").map(|s| (s, Format::Xml))
    }
}

/// An Open311 error: `[{"code": status, "description"}]` or `<errors><error>…`.
struct O311Error {
    status: StatusCode,
    description: String,
    format: Format,
}

fn err(status: StatusCode, format: Format, description: impl Into<String>) -> O311Error {
    O311Error {
        status,
        description: description.into(),
        format,
    }
}

impl O311Error {
    fn from_api(e: ApiError, format: Format) -> O311Error {
        let status = e.into_response().status();
        // Internal causes were logged by into_response; the message is generic.
        let description = match status {
            StatusCode::NOT_FOUND => "not found".to_string(),
            StatusCode::SERVICE_UNAVAILABLE => "the service is unavailable; retry later".into(),
            StatusCode::INSUFFICIENT_STORAGE => "the store's disk is full; retry later".into(),
            StatusCode::INTERNAL_SERVER_ERROR => "internal error".into(),
            _ => "the request was rejected".into(),
        };
        err(status, format, description)
    }
}

impl IntoResponse for O311Error {
    fn into_response(self) -> Response {
        let body = json!([{"code": self.status.as_u16(), "description": self.description}]);
        let mut r = render(&body, "errors", self.format);
        *r.status_mut() = self.status;
        r
    }
}

/// Map an intake/validation error with its own message (validation messages are ours
/// and safe to show).
fn intake_error(e: impl Into<ApiError>, format: Format) -> O311Error {
    let e: ApiError = e.into();
    match &e {
        ApiError::BadRequest(m) | ApiError::Unprocessable(m) => {
            err(StatusCode::BAD_REQUEST, format, m.clone())
        }
        ApiError::UnprocessableWith { message, .. } => {
            err(StatusCode::BAD_REQUEST, format, message.clone())
        }
        ApiError::Unauthorized(m) => err(StatusCode::UNAUTHORIZED, format, m.clone()),
        ApiError::Forbidden(m) => err(StatusCode::FORBIDDEN, format, m.clone()),
        _ => O311Error::from_api(e, format),
    }
}

fn xml_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
}

/// The element name of one item of a list element (`services` → `service`).
fn item_name(list: &str) -> &'static str {
    match list {
        "services" => "service",
        "service_requests" => "request",
        "errors" => "error",
        "attributes" => "attribute",
        "values" => "value",
        "endpoints" => "endpoint",
        "formats" => "format",
        _ => "item",
    }
}

fn to_xml(name: &str, v: &Value, out: &mut String) {
    match v {
        Value::Null => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>");
        }
        Value::Array(items) => {
            out.push_str(&format!("<{name}>"));
            for i in items {
                to_xml(item_name(name), i, out);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Object(m) => {
            out.push_str(&format!("<{name}>"));
            for (k, v) in m {
                to_xml(k, v, out);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::String(s) => {
            out.push_str(&format!("<{name}>"));
            xml_escape(s, out);
            out.push_str(&format!("</{name}>"));
        }
        other => out.push_str(&format!("<{name}>{other}</{name}>")),
    }
}

fn render(body: &Value, root: &str, format: Format) -> Response {
    match format {
        Format::Json => axum::Json(body.clone()).into_response(),
        Format::Xml => {
            let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
            to_xml(root, body, &mut s);
            ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], s).into_response()
        }
    }
}

fn service_name(code: &str) -> &'static str {
    match code {
        "dispute" => "矛盾纠纷 Dispute",
        "petition" => "信访 Petition",
        "consultation" => "咨询 Consultation",
        "public_safety" => "治安隐患 Public safety",
        _ => "便民服务 Service request",
    }
}

fn service(code: &str) -> Value {
    let (description, keywords, group) = match code {
        "dispute" => (
            "Disputes between neighbours, families, tenants, employers: mediated, or diverted to arbitration, review, ruling or litigation.",
            "纠纷, 调解, dispute, mediation",
            "矛盾纠纷化解",
        ),
        "petition" => (
            "Letters and visits to the authorities (信访).",
            "信访, petition",
            "信访",
        ),
        "consultation" => (
            "Questions about policies and procedures.",
            "咨询, consultation",
            "服务",
        ),
        "public_safety" => (
            "Hazards to public order and safety.",
            "治安, 隐患, safety",
            "平安建设",
        ),
        _ => (
            "Requests for local public services.",
            "服务, service",
            "服务",
        ),
    };
    json!({
        "service_code": code,
        "service_name": service_name(code),
        "description": description,
        "metadata": true,
        "type": "realtime",
        "keywords": keywords,
        "group": group,
    })
}

#[utoipa::path(get, path = "/open311/v2/discovery.json", tag = "open311",
    responses((status = 200, description = "GeoReport v2 discovery (also `.xml`)")))]
pub async fn discovery(headers: HeaderMap) -> Response {
    discovery_in(headers, Format::Json)
}

fn discovery_in(headers: HeaderMap, format: Format) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let body = json!({
        "changeset": "2026-01-01T00:00:00Z",
        "contact": "旌阳区社会治理综合服务中心",
        "key_service": "Reading needs no key. Posting a request needs the token of an account with intake rights as api_key (accounts come from the centre's administrator).",
        "endpoints": [{
            "specification": "http://wiki.open311.org/GeoReport_v2",
            "url": format!("http://{host}/open311/v2"),
            "changeset": "2026-01-01T00:00:00Z",
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    });
    render(&body, "discovery", format)
}

#[utoipa::path(get, path = "/open311/v2/services.json", tag = "open311",
    responses((status = 200, description = "the five categories as services (also `.xml`)")))]
pub async fn services() -> Response {
    services_in(Format::Json)
}

fn services_in(format: Format) -> Response {
    let list: Vec<Value> = CATEGORIES.iter().map(|c| service(c)).collect();
    render(&Value::Array(list), "services", format)
}

fn definition(code: &str) -> Value {
    let tiers: Vec<Value> = events::RISK_TIERS
        .iter()
        .map(|t| json!({"key": t, "name": t}))
        .collect();
    json!({
        "service_code": code,
        "attributes": [{
            "variable": true,
            "code": "risk_tier",
            "datatype": "singlevaluelist",
            "required": false,
            "datatype_description": "Risk tier; small when absent.",
            "order": 1,
            "description": "风险等级 Risk tier",
            "values": tiers,
        }],
    })
}

#[utoipa::path(get, path = "/open311/v2/services/{service_code}.json", tag = "open311",
    params(("service_code" = String, Path, description = "a category")),
    responses((status = 200, description = "service definition (also `.xml`)"), (status = 404)))]
pub async fn service_definition(Path(file): Path<String>) -> Response {
    let Some((code, format)) = split_format(&file) else {
        return err(StatusCode::NOT_FOUND, Format::Json, "use .json or .xml").into_response();
    };
    if !CATEGORIES.contains(&code) {
        return err(StatusCode::NOT_FOUND, format, format!("no service {code}")).into_response();
    }
    render(&definition(code), "service_definition", format)
}

/// A request as `access` may see it (see the module comment).
fn request_view(e: &Event, state: &AppState, access: &Access) -> Value {
    let full = access.can_see(e);
    let mut v = full_request_view(e, state);
    if !full {
        v["description"] = json!(service_name(&e.category));
        v["address"] = Value::Null;
        v["address_id"] = Value::Null;
        // The disclosure layer's public grain: the public cell's centre, the CST day.
        let (lon, lat) = minqing_domain::disclosure::public_cell_centre(e.lon, e.lat);
        v["lat"] = json!(lat);
        v["long"] = json!(lon);
        for (k, t) in [
            ("requested_datetime", e.reported_at),
            ("updated_datetime", e.updated_at),
            ("expected_datetime", e.deadline),
        ] {
            v[k] = json!(minqing_domain::time::format_date(t));
        }
    }
    v
}

fn full_request_view(e: &Event, state: &AppState) -> Value {
    let t = format_utc;
    let address = e
        .address_code
        .as_deref()
        .and_then(|c| state.index().ok()?.building(c).map(|b| b.label.clone()));
    json!({
        "service_request_id": e.code,
        "status": if is_closed_status(&e.status) { "closed" } else { "open" },
        "status_notes": format!("{} ({})", status_note(&e.status), e.status),
        "service_name": service_name(&e.category),
        "service_code": e.category,
        "description": if e.description.is_empty() { e.title.clone() } else { e.description.clone() },
        "agency_responsible": e.mediation_org,
        "service_notice": Value::Null,
        "requested_datetime": t(e.reported_at),
        "updated_datetime": t(e.updated_at),
        "expected_datetime": t(e.deadline),
        "address": address,
        "address_id": e.address_code,
        "zipcode": Value::Null,
        "lat": e.lat,
        "long": e.lon,
        "media_url": Value::Null,
    })
}

fn status_note(status: &str) -> &'static str {
    match status {
        "accepted" => "已受理 accepted",
        "mediating" => "调解中 in mediation",
        "resolved" => "已化解 resolved",
        "diverted" => "已导入法定途径 diverted to formal channels",
        "closed" => "已办结 closed",
        "followed_up" => "已回访 closed and followed up",
        _ => "",
    }
}

#[utoipa::path(get, path = "/open311/v2/requests.json", tag = "open311",
    params(
        ("service_request_id" = Option<String>, Query, description = "comma-separated ids; other filters are then ignored"),
        ("service_code" = Option<String>, Query, description = "comma-separated categories"),
        ("start_date" = Option<String>, Query, description = "ISO 8601; default 90 days before end_date"),
        ("end_date" = Option<String>, Query, description = "ISO 8601; default now"),
        ("status" = Option<String>, Query, description = "open, closed or both comma-separated"),
    ),
    responses((status = 200, description = "service requests, newest first, at most 1000 (also `.xml`)"), (status = 400)))]
pub async fn requests(
    State(state): State<AppState>,
    access: Access,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    requests_in(state, access, q, Format::Json).await
}

async fn requests_in(
    state: AppState,
    access: Access,
    q: HashMap<String, String>,
    format: Format,
) -> Response {
    if let Err(e) = access.require(Permission::Aggregates) {
        return intake_error(e, format).into_response();
    }
    match find_requests(&state, &access, &q, format) {
        Ok(list) => render(&Value::Array(list), "service_requests", format),
        Err(e) => e.into_response(),
    }
}

fn find_requests(
    state: &AppState,
    access: &Access,
    q: &HashMap<String, String>,
    format: Format,
) -> Result<Vec<Value>, O311Error> {
    let events = state.events();
    if let Some(ids) = q.get("service_request_id") {
        return Ok(ids
            .split(',')
            .filter_map(|id| events.get(id.trim()))
            .map(|e| request_view(e, state, access))
            .collect());
    }
    let bad = |m: String| err(StatusCode::BAD_REQUEST, format, m);
    let codes: Option<Vec<&str>> = q
        .get("service_code")
        .map(|s| s.split(',').map(str::trim).collect());
    if let Some(codes) = &codes
        && let Some(c) = codes.iter().find(|c| !CATEGORIES.contains(c))
    {
        return Err(bad(format!("unknown service_code {c}")));
    }
    // One calendar: a date is a whole day in China Standard Time, both ends inclusive;
    // `end` is exclusive here.
    let date = |name: &str, v: &str, which: End| {
        parse_bound(v, which).ok_or_else(|| {
            bad(format!(
                "{name} must be a date YYYY-MM-DD (China Standard Time) or an RFC 3339 date-time"
            ))
        })
    };
    // Without access to the records, whole days only (the disclosure layer's public
    // grain), and the default window ends with today, not now.
    let public = !access.allows(Permission::EventsRead);
    if public {
        for name in ["start_date", "end_date"] {
            minqing_domain::disclosure::require_day_grain(name, q.get(name).map(String::as_str))
                .map_err(|e| bad(e.to_string()))?;
        }
    }
    let end = match q.get("end_date") {
        Some(v) => date("end_date", v, End::To)?,
        None if public => {
            let today = minqing_domain::time::today(state.clock.now());
            date("end_date", today.as_str(), End::To)?
        }
        None => state.clock.now() + 1,
    };
    let start = match q.get("start_date") {
        Some(v) => date("start_date", v, End::From)?,
        None => end - DEFAULT_WINDOW_S,
    };
    let (mut open, mut closed) = (true, true);
    if let Some(s) = q.get("status") {
        open = false;
        closed = false;
        for part in s.split(',') {
            match part.trim() {
                "open" => open = true,
                "closed" => closed = true,
                other => return Err(bad(format!("status must be open or closed; got {other}"))),
            }
        }
    }
    let mut hits: Vec<&Event> = events
        .events
        .iter()
        .filter(|e| e.reported_at >= start && e.reported_at < end)
        .filter(|e| {
            codes
                .as_ref()
                .is_none_or(|c| c.contains(&e.category.as_str()))
        })
        .filter(|e| {
            if is_closed_status(&e.status) {
                closed
            } else {
                open
            }
        })
        .collect();
    hits.sort_by(|a, b| {
        b.reported_at
            .cmp(&a.reported_at)
            .then_with(|| b.code.cmp(&a.code))
    });
    Ok(hits
        .into_iter()
        .take(MAX_REQUESTS)
        .map(|e| request_view(e, state, access))
        .collect())
}

#[utoipa::path(get, path = "/open311/v2/requests/{service_request_id}.json", tag = "open311",
    params(("service_request_id" = String, Path, description = "an event code")),
    responses((status = 200, description = "a one-element list (also `.xml`)"), (status = 404)))]
pub async fn request(
    State(state): State<AppState>,
    access: Access,
    Path(file): Path<String>,
) -> Response {
    let Some((id, format)) = split_format(&file) else {
        return err(StatusCode::NOT_FOUND, Format::Json, "use .json or .xml").into_response();
    };
    if let Err(e) = access.require(Permission::Aggregates) {
        return intake_error(e, format).into_response();
    }
    let found = state
        .events()
        .get(id)
        .map(|e| request_view(e, &state, &access));
    match found {
        Some(v) => render(&json!([v]), "service_requests", format),
        None => err(
            StatusCode::NOT_FOUND,
            format,
            format!("no service request {id}"),
        )
        .into_response(),
    }
}

#[utoipa::path(post, path = "/open311/v2/requests.json", tag = "open311",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "api_key (or Authorization: Bearer), service_code, lat and long or address_string (geocoded) or address_id (a building code), description, attribute[risk_tier]"),
    responses((status = 201, description = "`[{service_request_id, service_notice, account_id}]` (also `.xml`)"), (status = 400), (status = 503)))]
pub async fn post_request(
    State(state): State<AppState>,
    access: Access,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    post_in(state, access, headers, form, Format::Json).await
}

async fn post_in(
    state: AppState,
    access: Access,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
    format: Format,
) -> Response {
    match create(&state, access, &headers, form, format).await {
        Ok(v) => {
            let mut r = render(&v, "service_requests", format);
            *r.status_mut() = StatusCode::CREATED;
            r
        }
        Err(e) => e.into_response(),
    }
}

async fn create(
    state: &AppState,
    access: Access,
    headers: &HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
    format: Format,
) -> Result<Value, O311Error> {
    let bad = |m: &str| err(StatusCode::BAD_REQUEST, format, m);
    let Form(pairs) = form.map_err(|r| {
        let status = r.status();
        err(
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                status
            } else {
                StatusCode::BAD_REQUEST
            },
            format,
            "the body must be application/x-www-form-urlencoded",
        )
    })?;
    let f: HashMap<String, String> = pairs.into_iter().collect();
    let caller = match (access, f.get("api_key")) {
        (Access::Signed(c), _) => c,
        (Access::Anonymous { .. }, Some(token)) => state
            .auth()
            .authenticate(&state.store, token.trim(), "open311".into())
            .await
            .map_err(|e| intake_error(e, format))?,
        (Access::Anonymous { .. }, None) => {
            return Err(err(
                StatusCode::UNAUTHORIZED,
                format,
                "api_key (or Authorization: Bearer) is required to post a request",
            ));
        }
    };
    let code = f
        .get("service_code")
        .ok_or_else(|| bad("service_code is required"))?;
    if !CATEGORIES.contains(&code.as_str()) {
        return Err(err(
            StatusCode::NOT_FOUND,
            format,
            format!("no service {code}"),
        ));
    }
    let num = |k: &str| -> Result<Option<f64>, O311Error> {
        f.get(k)
            .map(|v| {
                v.trim()
                    .parse::<f64>()
                    .map_err(|_| bad(&format!("{k} must be a number")))
            })
            .transpose()
    };
    let (lat, lon) = (num("lat")?, num("long")?);
    let description = f.get("description").cloned().unwrap_or_default();
    let address = f.get("address_string").cloned().unwrap_or_default();
    let address_id = f
        .get("address_id")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let located =
        (lat.is_some() && lon.is_some()) || address_id.is_some() || !address.trim().is_empty();
    if !located || lat.is_some() != lon.is_some() {
        return Err(bad(
            "a location is required: lat and long, address_string or address_id",
        ));
    }
    let title: String = if description.trim().is_empty() {
        service_name(code).to_string()
    } else {
        description.trim().chars().take(30).collect()
    };
    let full = if address.trim().is_empty() {
        description.clone()
    } else {
        format!("{description}（地址：{}）", address.trim())
    };
    let req = IntakeRequest {
        category: code.clone(),
        source: "visitor".into(),
        title,
        description: full,
        lon,
        lat,
        address_code: if lat.is_none() { address_id } else { None },
        address: (lat.is_none() && !address.trim().is_empty()).then(|| address.trim().to_string()),
        risk_tier: f.get("attribute[risk_tier]").cloned(),
    };
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255);
    // The JSON API's answer, so both interfaces replay one stored body per key.
    let index = state.index().map_err(|e| intake_error(e, format))?;
    let now = state.clock.now();
    let render = |e: &Event, d: &[service::Duplicate]| {
        super::events::intake_view(e, d, &index, now).to_string()
    };
    let body: Value = match service::intake(state, &req, key, &caller, &render)
        .await
        .map_err(|e| intake_error(e, format))?
    {
        Intake::Created { event, duplicates } => {
            super::events::intake_view(&event, &duplicates, &index, now)
        }
        Intake::Replayed { body } => serde_json::from_str(&body).map_err(|_| {
            intake_error(ApiError::Internal(anyhow::anyhow!("stored body")), format)
        })?,
    };
    Ok(json!([{
        "service_request_id": body["code"],
        "service_notice": format!("已受理，办理时限至 {}", body["deadline"].as_str().unwrap_or_default()),
        "account_id": Value::Null,
    }]))
}

/// `/open311/v2/…`, both formats.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa::OpenApi;
    use utoipa_axum::{router::OpenApiRouter, routes};
    // The `.xml` twins are plain routes, deliberately undocumented: the OpenAPI document
    // describes the JSON form (each operation says "also `.xml`"). A service definition
    // and a single request are `{code}.json` in the spec, which axum cannot route (no
    // suffix after a parameter): one `{file}` route serves both formats, and their
    // operations come from `SuffixedPaths` below.
    OpenApiRouter::with_openapi(SuffixedPaths::openapi())
        .routes(routes!(discovery))
        .route(
            "/open311/v2/discovery.xml",
            get(|h: HeaderMap| async move { discovery_in(h, Format::Xml) }),
        )
        .routes(routes!(services))
        .route(
            "/open311/v2/services.xml",
            get(|| async { services_in(Format::Xml) }),
        )
        .route("/open311/v2/services/{file}", get(service_definition))
        .routes(routes!(requests, post_request))
        .route(
            "/open311/v2/requests.xml",
            get(
                |s: State<AppState>, a: Access, q: Query<HashMap<String, String>>| async move {
                    requests_in(s.0, a, q.0, Format::Xml).await
                },
            )
            .post(
                |s: State<AppState>,
                 a: Access,
                 h: HeaderMap,
                 f: Result<Form<Vec<(String, String)>>, FormRejection>| async move {
                    post_in(s.0, a, h, f, Format::Xml).await
                },
            ),
        )
        .route("/open311/v2/requests/{file}", get(request))
        .layer(axum::extract::DefaultBodyLimit::max(
            super::events::JSON_BODY_LIMIT,
        ))
}

/// The operations of the two `{file}` routes (see [`router`]).
#[derive(utoipa::OpenApi)]
#[openapi(paths(service_definition, request))]
struct SuffixedPaths;
