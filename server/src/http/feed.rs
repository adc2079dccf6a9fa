//! `GET /api/v1/events/latest`: the most recently changed events in the form the live
//! feed (`/api/v1/events/stream`) sends them, so a feed — the large screen's — starts
//! with what just happened instead of an empty list until the next change. The same
//! rule as the feed: the full record for callers who may see it, the public view for
//! callers who may read aggregates only, plus the title for the signed-in screen.

use super::events::{public_view, view};
use super::{ApiError, AppState};
use axum::Json;
use axum::extract::{Query, State};
use minqing_domain::auth::{Access, Permission, Role};
use minqing_domain::events::query::parse_int;
use minqing_domain::model::Event;
use serde::Deserialize;
use serde_json::{Value, json};

/// This area's routes, each registered together with its OpenAPI operation.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::{router::OpenApiRouter, routes};
    OpenApiRouter::new().routes(routes!(latest))
}

/// Latest-events parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LatestQuery {
    /// How many events (1 to 50, default 20).
    pub limit: Option<String>,
}

/// The most recently changed events, newest change first (`{events}`), each as the live
/// feed would send it to this caller.
#[utoipa::path(get, path = "/api/v1/events/latest", tag = "events", params(LatestQuery),
    responses((status = 200, description = "`{events}`, newest change first"), (status = 400)))]
pub async fn latest(
    State(state): State<AppState>,
    access: Access,
    Query(q): Query<LatestQuery>,
) -> Result<Json<Value>, ApiError> {
    access.require(Permission::Aggregates)?;
    let limit = q
        .limit
        .as_deref()
        .map(|v| parse_int("limit", v, 1..=50))
        .transpose()?
        .unwrap_or(20) as usize;
    let index = state.index()?;
    let now = state.clock.now();
    let events = state.events();
    let newest_first =
        |a: &&Event, b: &&Event| b.updated_at.cmp(&a.updated_at).then(b.code.cmp(&a.code));
    let mut recent: Vec<&Event> = events.events.iter().collect();
    if recent.len() > limit {
        recent.select_nth_unstable_by(limit, newest_first);
        recent.truncate(limit);
    }
    recent.sort_by(newest_first);
    let wall = access.caller().is_some_and(|c| c.role == Role::Screen);
    let list: Vec<Value> = recent
        .into_iter()
        .map(|e| {
            let full = view(e, Some(&*index), now);
            if access.can_see(e) {
                return full;
            }
            let mut public = public_view(&full);
            if wall {
                public["title"] = full["title"].clone();
            }
            public
        })
        .collect();
    Ok(Json(json!({"events": list})))
}
