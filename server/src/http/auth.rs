//! Signing in and out, and the two extractors every handler declares its caller with:
//! [`Caller`] (a valid bearer token is required: 401 otherwise) and [`Access`] (anonymous
//! callers too, for public aggregates).

use super::{ApiError, AppState, ErrorBody};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use minqing_domain::auth::sessions::{self, SignedIn};
use minqing_domain::auth::{Access, Caller, Role};
use minqing_domain::config::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use utoipa::ToSchema;

/// This area's routes, each registered together with its OpenAPI operation.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::{router::OpenApiRouter, routes};
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::Unauthorized("sign in first (Authorization: Bearer …)".into())
            })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 128)
            .ok_or_else(|| ApiError::Unauthorized("malformed Authorization header".into()))?;
        let client = client_address(parts);
        Ok(state
            .auth()
            .authenticate(&state.store, token, client)
            .await?)
    }
}

impl FromRequestParts<AppState> for Access {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
        {
            Caller::from_request_parts(parts, state)
                .await
                .map(Access::Signed)
        } else {
            Ok(Access::Anonymous {
                public_aggregates: state.auth().public_aggregates(),
            })
        }
    }
}

/// The peer address of the connection, if the server recorded it.
pub fn client_address(parts: &Parts) -> String {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Login body. The password is a [`Secret`]: it never appears in Debug output or logs.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    #[schema(value_type = String)]
    pub password: Secret,
}

/// The signed-in account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub username: String,
    pub display: String,
    pub role: Role,
    pub grids: Vec<String>,
    pub mediation_org: Option<String>,
}

/// Sign in with a username and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = SignedIn), (status = 401, body = ErrorBody),
              (status = 429, description = "too many failed attempts; see Retry-After")))]
pub async fn login(
    State(state): State<AppState>,
    parts: Parts,
    body: axum::body::Bytes,
) -> Result<Json<SignedIn>, ApiError> {
    let req: LoginRequest = serde_json::from_slice(&body)
        .map_err(|_| ApiError::BadRequest("expected {\"username\", \"password\"}".into()))?;
    let client = client_address(&parts);
    Ok(Json(
        sessions::login(&state, &req.username, &req.password, &client).await?,
    ))
}

/// End this session (the token stops working at once).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    state
        .auth()
        .revoke(&state.store, &caller.token_hash)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in account, its role and scope.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        display: caller.display,
        username: caller.username,
        role: caller.role,
        grids: caller
            .grids
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        mediation_org: caller.mediation_org,
    })
}
