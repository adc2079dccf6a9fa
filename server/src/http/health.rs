//! Liveness, the headline counts, and the landing page.

use super::{ApiError, AppState};
use crate::model::AreaLevel;
use axum::Json;
use axum::extract::State;
use axum::response::Html;
use serde::Serialize;
use utoipa::ToSchema;

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
    /// Records linked to the register, by how (`unit`, `building`, `pending`, …).
    #[schema(value_type = Object)]
    pub links: serde_json::Value,
    pub store: &'static str,
}

#[utoipa::path(get, path = "/api/v1/stats", security(("bearer" = [])), responses(
    (status = 200, body = Stats), (status = 401, body = super::error::ErrorBody)))]
pub async fn stats(
    State(state): State<AppState>,
    caller: crate::auth::Caller,
) -> Result<Json<Stats>, ApiError> {
    caller.require(crate::auth::Permission::Aggregates)?;
    let ix = state.index()?;
    Ok(Json(Stats {
        building_addresses: ix.buildings.len(),
        unit_addresses: ix.unit_count,
        residents: ix.people.len(),
        housing_units: ix.housing_count,
        enterprises: ix.enterprises.len(),
        grids: ix.count_level(AreaLevel::Grid),
        events: state.events().len(),
        townships: ix.count_level(AreaLevel::Township),
        communities: ix.count_level(AreaLevel::Community),
        links: serde_json::json!({
            "residents": ix.resident_links,
            "housing": ix.housing_links,
            "enterprises": ix.enterprise_links,
        }),
        store: state.store.backend(),
    }))
}

/// A plain landing page until the map views land.
pub async fn home(State(state): State<AppState>) -> Html<String> {
    let body = match state.index() {
        Ok(ix) => format!(
            "<p>楼幢地址 {} · 户室地址 {} · 实有人口 {} · 企业 {} · 网格 {} · 事件 {}</p>",
            ix.buildings.len(),
            ix.unit_count,
            ix.people.len(),
            ix.enterprises.len(),
            ix.count_level(AreaLevel::Grid),
            state.events().len()
        ),
        Err(_) => "<p>数据加载中…</p>".to_string(),
    };
    Html(format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>民情 Minqing</title></head>\
         <body><h1>民情 · 旌阳区综治中心</h1>{body}<ul><li><a href=\"/api/v1/stats\">/api/v1/stats</a></li>\
         <li><a href=\"/api/v1/areas?level=township\">/api/v1/areas</a></li>\
         <li><a href=\"/api/openapi.json\">/api/openapi.json</a></li><li><a href=\"/metrics\">/metrics</a></li></ul></body></html>"
    ))
}
