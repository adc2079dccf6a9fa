//! Account administration over HTTP (admins). Accounts are created and changed with
//! `minqing user …`; the API lists them and ends an account's sessions (the wall's
//! long-lived kiosk session included).

use super::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, State};
use minqing_domain::auth::sessions::{self, Revoked};
use minqing_domain::auth::users::{self, UserSummary};
use minqing_domain::auth::{Caller, Permission};

/// This area's routes, each registered together with its OpenAPI operation.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::{router::OpenApiRouter, routes};
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(revoke_sessions))
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

/// End every session of an account at once (admins; audited as `revoke_sessions`): its
/// tokens stop working, its live feeds close. The way to sign out a wall's kiosk session.
#[utoipa::path(post, path = "/api/v1/users/{username}/revoke-sessions", tag = "auth",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "the account")),
    responses((status = 200, body = Revoked), (status = 401, body = super::ErrorBody),
              (status = 403, body = super::ErrorBody), (status = 404, body = super::ErrorBody)))]
pub async fn revoke_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    caller.require(Permission::ManageUsers)?;
    Ok(Json(
        sessions::revoke_user_sessions(&state, &caller, &username).await?,
    ))
}
