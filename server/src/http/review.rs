//! The address-link review queue over HTTP (`minqing_domain::address_service::review`).

use super::{ApiError, AppState, ErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use minqing_domain::address_service::review::{self, Resolution, ReviewPage};
use minqing_domain::auth::Caller;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// This area's routes, each registered together with its OpenAPI operation.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::{router::OpenApiRouter, routes};
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(resolve))
}

#[derive(Deserialize, IntoParams)]
pub struct ReviewQuery {
    /// `residents`, `housing` or `enterprises`.
    pub kind: Option<String>,
    /// `ambiguous` or `unmatched`; both when absent.
    pub status: Option<String>,
    /// Records per page, 1–200 (default 50).
    pub limit: Option<String>,
    /// Records to skip (default 0).
    pub offset: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct ResolveRequest {
    /// The unit or building code the record belongs to.
    pub code: String,
    /// Why (optional, up to 1,000 characters).
    #[serde(default)]
    pub note: Option<String>,
}

/// The review queue of one record kind: ambiguous and unmatched addresses with the
/// matcher's candidates.
#[utoipa::path(get, path = "/api/v1/review", params(ReviewQuery), responses(
    (status = 200, body = ReviewPage),
    (status = 400, body = ErrorBody)
))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ReviewQuery>,
) -> Result<Json<ReviewPage>, ApiError> {
    Ok(Json(
        review::list(
            &state,
            &caller,
            q.kind.as_deref(),
            q.status.as_deref().filter(|s| !s.is_empty()),
            q.limit.as_deref(),
            q.offset.as_deref(),
        )
        .await?,
    ))
}

/// Resolve one record of the queue to a register code. The resolution is kept in
/// `link_resolutions`; the per-building figures, analysis profiles and tiles show it
/// as soon as this answers.
#[utoipa::path(post, path = "/api/v1/review/{kind}/{id}", request_body = ResolveRequest,
    params(("kind" = String, Path, description = "residents, housing or enterprises"),
           ("id" = String, Path, description = "record id")),
    responses(
        (status = 200, body = Resolution),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "the code is not in the register")
    ))]
pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Resolution>, ApiError> {
    let request = serde_json::from_slice::<ResolveRequest>(&body)
        .map(|r| (r.code, r.note))
        .map_err(|e| e.to_string());
    Ok(Json(
        review::resolve(&state, &caller, &kind, id, request).await?,
    ))
}
