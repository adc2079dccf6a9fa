//! Personal records over HTTP: the handlers parse the request and call
//! `minqing_domain::personal`, which checks the role and scope, audits, and masks.

use super::{ApiError, AppState, ErrorBody};
use axum::Json;
use axum::extract::{Path, State};
use minqing_domain::auth::Caller;
use minqing_domain::config::Secret;
use minqing_domain::personal::{self, BuildingHouseholds, ResidentRecord};
use serde::Deserialize;
use utoipa::ToSchema;

/// This area's routes, each registered together with its OpenAPI operation.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::{router::OpenApiRouter, routes};
    OpenApiRouter::new()
        .routes(routes!(building_households))
        .routes(routes!(lookup))
        .routes(routes!(resident))
        .routes(routes!(unmask))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnmaskRequest {
    /// Why this record must be seen in full (4–500 characters); stored in the audit log.
    pub reason: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    /// An 18-character ID number (GB 11643).
    #[schema(value_type = String)]
    pub id_number: Secret,
}

/// Households and residents of one building (masked).
#[utoipa::path(get, path = "/api/v1/buildings/{code}/households", tag = "personal", security(("bearer" = [])),
    params(("code" = String, Path, description = "building code")),
    responses((status = 200, body = BuildingHouseholds), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn building_households(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<Json<BuildingHouseholds>, ApiError> {
    Ok(Json(
        personal::building_households(&state, &caller, &code).await?,
    ))
}

/// One resident (masked).
#[utoipa::path(get, path = "/api/v1/residents/{id}", tag = "personal", security(("bearer" = [])),
    params(("id" = String, Path, description = "resident id")),
    responses((status = 200, body = ResidentRecord), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn resident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ResidentRecord>, ApiError> {
    Ok(Json(personal::resident(&state, &caller, &id).await?))
}

/// One resident in full: an explicit, audited action with a stated reason.
#[utoipa::path(post, path = "/api/v1/residents/{id}/unmask", tag = "personal", security(("bearer" = [])),
    params(("id" = String, Path, description = "resident id")), request_body = UnmaskRequest,
    responses((status = 200, body = ResidentRecord), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn unmask(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<ResidentRecord>, ApiError> {
    let req = serde_json::from_slice::<UnmaskRequest>(&body).ok();
    let reason = req.as_ref().map(|r| r.reason.as_str());
    Ok(Json(personal::unmask(&state, &caller, &id, reason).await?))
}

/// Exact lookup by ID number through the blind index (masked; within the caller's
/// grids). An ID number outside the caller's grids answers 404 like an unknown one, so
/// the answer never reveals that the person lives elsewhere in the district.
#[utoipa::path(post, path = "/api/v1/residents/lookup", tag = "personal", security(("bearer" = [])),
    request_body = LookupRequest,
    responses((status = 200, body = Vec<ResidentRecord>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn lookup(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Json<Vec<ResidentRecord>>, ApiError> {
    let req = serde_json::from_slice::<LookupRequest>(&body).ok();
    let id_number = req.as_ref().map(|r| &r.id_number);
    Ok(Json(personal::lookup(&state, &caller, id_number).await?))
}
