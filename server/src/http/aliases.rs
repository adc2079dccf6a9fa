//! The centre's road aliases and old names over HTTP
//! (`minqing_domain::address_service::aliases`).

use super::{ApiError, AppState, ErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use minqing_domain::address_service::aliases::{self, AliasEntry, AliasTable};
use minqing_domain::auth::Caller;
use serde::Deserialize;
use utoipa::ToSchema;

/// This area's routes, each registered together with its OpenAPI operation.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::{router::OpenApiRouter, routes};
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(put, remove))
}

#[derive(Deserialize, ToSchema)]
pub struct AliasRequest {
    /// The register's name the alias stands for.
    pub canonical: String,
}

/// The road aliases and old names the matcher reads as the register's names.
#[utoipa::path(get, path = "/api/v1/address-aliases", responses(
    (status = 200, body = AliasTable),
    (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody)
))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<AliasTable>, ApiError> {
    Ok(Json(aliases::list(&state, &caller).await?))
}

/// Add an alias (or point one at another name). Audited; the matcher uses it as soon as
/// this answers.
#[utoipa::path(put, path = "/api/v1/address-aliases/{alias}", request_body = AliasRequest,
    params(("alias" = String, Path, description = "another spelling or an old name")),
    responses(
        (status = 200, body = AliasEntry),
        (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "the register could not use the pair, with the reason")
    ))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(alias): Path<String>,
    body: Bytes,
) -> Result<Json<AliasEntry>, ApiError> {
    let canonical = serde_json::from_slice::<AliasRequest>(&body)
        .map(|r| r.canonical)
        .map_err(|e| e.to_string());
    Ok(Json(
        aliases::put(&state, &caller, &alias, canonical).await?,
    ))
}

/// Remove an alias. Audited.
#[utoipa::path(delete, path = "/api/v1/address-aliases/{alias}",
    params(("alias" = String, Path, description = "the alias to remove")),
    responses(
        (status = 204),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(alias): Path<String>,
) -> Result<StatusCode, ApiError> {
    aliases::remove(&state, &caller, &alias).await?;
    Ok(StatusCode::NO_CONTENT)
}
