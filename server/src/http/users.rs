//! Account administration over HTTP (admins). Accounts are created and changed with
//! `minqing user …`; the API lists them.

use super::{ApiError, AppState};
use axum::Json;
use axum::extract::State;
use minqing_domain::auth::users::{self, UserSummary};
use minqing_domain::auth::{Caller, Permission};

/// This area's routes, each registered together with its OpenAPI operation.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::{router::OpenApiRouter, routes};
    OpenApiRouter::new().routes(routes!(list_users))
}

/// Every account with its role and grid scope (admins).
#[utoipa::path(get, path = "/api/v1/users", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Vec<UserSummary>), (status = 401, body = super::ErrorBody),
              (status = 403, body = super::ErrorBody)))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<UserSummary>>, ApiError> {
    caller.require(Permission::ManageUsers)?;
    Ok(Json(users::list(&state.store).await?))
}
