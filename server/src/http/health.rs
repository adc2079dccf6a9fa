//! Liveness and the headline counts.

use super::{ApiError, AppState};
use axum::Json;
use axum::extract::State;
use minqing_domain::model::AreaLevel;
use serde::Serialize;
use utoipa::ToSchema;

/// This area's routes, each registered together with its OpenAPI operation.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::{router::OpenApiRouter, routes};
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(stats))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` once the data is loaded.
    pub status: &'static str,
}

/// `{"status":"ok"}` once the data is loaded; 503 with `Retry-After` before.
#[utoipa::path(get, path = "/healthz", responses(
    (status = 200, body = Health),
    (status = 503, body = super::error::ErrorBody, description = "still loading")
))]
pub async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.index()?;
    Ok(Json(Health { status: "ok" }))
}

/// Headline counts of the loaded district.
#[derive(Serialize, ToSchema)]
pub struct Stats {
    pub building_addresses: usize,
    pub unit_addresses: usize,
    pub residents: usize,
    pub housing_units: usize,
    pub enterprises: usize,
    pub grids: usize,
    pub events: usize,
    pub townships: usize,
    pub communities: usize,
    /// Patrol teams, their members, and patrols started in the last 30 days.
    pub patrol_teams: usize,
    pub patrol_members: usize,
    pub patrols_last_30_days: usize,
    /// Records linked to the register, by how (`unit`, `building`, `pending`, …).
    #[schema(value_type = Object)]
    pub links: serde_json::Value,
    pub store: &'static str,
}

/// A public aggregate (see `auth::Access`): district-wide counts only, nothing personal,
/// so an unattended screen can show them before anyone signs in.
#[utoipa::path(get, path = "/api/v1/stats", responses((status = 200, body = Stats), (status = 401)))]
pub async fn stats(
    State(state): State<AppState>,
    access: minqing_domain::auth::Access,
) -> Result<Json<serde_json::Value>, ApiError> {
    access.require(minqing_domain::auth::Permission::Aggregates)?;
    let ix = state.index()?;
    let (patrol_teams, patrol_members, patrols_last_30_days) = {
        let f = ix.forces.read();
        let now = state.clock.now();
        (
            f.teams.len(),
            f.members,
            f.patrols_between(now - 30 * minqing_domain::time::DAY, now)
                .len(),
        )
    };
    let stats = Stats {
        building_addresses: ix.buildings.len(),
        unit_addresses: ix.unit_count,
        residents: ix.people.len(),
        housing_units: ix.housing_count,
        enterprises: ix.enterprises.len(),
        grids: ix.count_level(AreaLevel::Grid),
        events: state.events().len(),
        townships: ix.count_level(AreaLevel::Township),
        communities: ix.count_level(AreaLevel::Community),
        patrol_teams,
        patrol_members,
        patrols_last_30_days,
        links: serde_json::json!({
            "residents": ix.resident_links,
            "housing": ix.housing_links,
            "enterprises": ix.enterprise_links,
        }),
        store: state.store.backend(),
    };
    let mut body = serde_json::to_value(stats).map_err(|e| ApiError::Internal(e.into()))?;
    // Through the disclosure layer for callers without personal-data rights.
    if !access.allows(minqing_domain::auth::Permission::PersonalRead) {
        minqing_domain::disclosure::suppress_json_counts(&mut body);
    }
    Ok(Json(body))
}
