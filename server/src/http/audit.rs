//! `GET /api/v1/audit`: the audit log, for admins.

use super::{ApiError, AppState, ErrorBody};
use axum::Json;
use axum::extract::{Query, State};
use minqing_domain::audit::{self, AuditFilter, AuditPage};
use minqing_domain::auth::Caller;
use serde::Deserialize;
use utoipa::IntoParams;

/// This area's routes, each registered together with its OpenAPI operation.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::{router::OpenApiRouter, routes};
    OpenApiRouter::new().routes(routes!(query))
}

/// Filters of `GET /api/v1/audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Exact username.
    pub actor: Option<String>,
    /// Exact action.
    pub action: Option<String>,
    /// Exact target (e.g. a resident id or building code).
    pub target: Option<String>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
    /// Only entries with a sequence number above this (paging).
    pub after_seq: Option<i64>,
    /// At most this many entries (1–1000, default 100).
    pub limit: Option<u32>,
}

/// Query the audit log (admins).
#[utoipa::path(get, path = "/api/v1/audit", tag = "auth", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = AuditPage), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn query(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    caller.require(minqing_domain::auth::Permission::AuditRead)?;
    let Query(q) = q.map_err(|e| ApiError::BadRequest(format!("bad query: {}", e.body_text())))?;
    let filter = AuditFilter {
        actor: q.actor,
        action: q.action,
        target: q.target,
        since: q.since,
        until: q.until,
        after_seq: q.after_seq,
        limit: q.limit.unwrap_or(100),
    };
    Ok(Json(audit::query(&state.store, &caller, &filter).await?))
}
