//! Key groups on the six lists over HTTP: the people (masked) and their follow-up, the
//! counts per grid, unmasking and recording a visit. The handlers parse the request and
//! call `minqing_domain::personal::key_groups`, which checks role and grid, audits and
//! masks.

use super::events::parse_json;
use super::personal::UnmaskRequest;
use super::{ApiError, AppState, ErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minqing_domain::auth::Caller;
use minqing_domain::personal::key_groups::{self, People, PersonDetail, Summary, VisitRequest};
use serde::Deserialize;

/// The key-group routes.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::{router::OpenApiRouter, routes};
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(summary))
        .routes(routes!(detail))
        .routes(routes!(unmask))
        .routes(routes!(record_visit))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// A grid code (in the caller's grids).
    pub grid: Option<String>,
    /// drug, mental, correction, released, youth, hiv_risk.
    pub list: Option<String>,
    /// stable, attention, alert.
    pub status: Option<String>,
    /// `true`: only follow-ups due today or earlier.
    pub due: Option<String>,
    /// 1–5000, default 500 (`total` counts all).
    pub limit: Option<String>,
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The people on the six lists in the caller's grids, masked, due follow-ups first
/// (grid workers of the person's grid, leaders, the risk centre; audited).
#[utoipa::path(get, path = "/api/v1/key-groups", tag = "personal", params(ListQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "`total`, `due` and `people` (masked)"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<People>, ApiError> {
    let due = match q.due.as_deref() {
        None | Some("") | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => return Err(ApiError::BadRequest("due must be true or false".into())),
    };
    let limit = match q.limit.as_deref() {
        None => 500,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=5000).contains(n))
            .ok_or_else(|| ApiError::BadRequest(format!("limit must be 1–5000, got {v:?}")))?,
    };
    let filter = key_groups::Filter {
        grid: nonempty(q.grid),
        list: nonempty(q.list),
        status: nonempty(q.status),
        due,
        limit,
    };
    Ok(Json(key_groups::list(&state, &caller, filter).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// A grid, community or township code; the district without.
    pub area: Option<String>,
}

/// Key-group follow-up status per grid: exact (per list, per status, due) for callers
/// entitled to the people (audited); only each grid's total, suppressed below 5, for
/// other roles with key-group aggregates; nothing of grids outside a grid worker's.
#[utoipa::path(get, path = "/api/v1/key-groups/summary", tag = "personal", params(SummaryQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "`grids` with their counts"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn summary(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<SummaryQuery>,
) -> Result<Json<Summary>, ApiError> {
    let area = nonempty(q.area);
    Ok(Json(
        key_groups::summary(&state, &caller, area.as_deref()).await?,
    ))
}

/// One person on a list with the resident record (masked) and the follow-up record.
#[utoipa::path(get, path = "/api/v1/key-groups/{id}", tag = "personal", security(("bearer" = [])),
    params(("id" = String, Path, description = "key-group record id")),
    responses((status = 200, description = "the record, masked"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PersonDetail>, ApiError> {
    Ok(Json(key_groups::detail(&state, &caller, &id).await?))
}

/// One person on a list in full: leaders, with a stated reason (audited).
#[utoipa::path(post, path = "/api/v1/key-groups/{id}/unmask", tag = "personal", security(("bearer" = [])),
    params(("id" = String, Path, description = "key-group record id")), request_body = UnmaskRequest,
    responses((status = 200, description = "the record in full"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn unmask(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<PersonDetail>, ApiError> {
    let req = serde_json::from_slice::<UnmaskRequest>(&body).ok();
    let reason = req.as_ref().map(|r| r.reason.as_str());
    Ok(Json(
        key_groups::unmask(&state, &caller, &id, reason).await?,
    ))
}

/// Record a visit, counselling or help (grid workers of the person's grid, the risk
/// centre); a new `status` changes the follow-up plan. A stale `version` is a 409.
#[utoipa::path(post, path = "/api/v1/key-groups/{id}/visits", tag = "personal", security(("bearer" = [])),
    params(("id" = String, Path, description = "key-group record id")), request_body = VisitRequest,
    responses((status = 201, description = "the updated record, masked"), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn record_visit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<PersonDetail>), ApiError> {
    let req: VisitRequest = parse_json(body)?;
    Ok((
        StatusCode::CREATED,
        Json(key_groups::record_visit(&state, &caller, &id, req).await?),
    ))
}
