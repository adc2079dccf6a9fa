//! Area polygons as GeoJSON.

use super::{ApiError, AppState};
use axum::Json;
use axum::extract::{Query, State};
use minqing_domain::model::AreaLevel;
use serde::Deserialize;

/// This area's routes, each registered together with its OpenAPI operation.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::{router::OpenApiRouter, routes};
    OpenApiRouter::new().routes(routes!(areas))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AreasQuery {
    /// `township`, `community` or `grid` (also `district`).
    pub level: String,
}

/// GeoJSON FeatureCollection of the area polygons of one level, with `code`, `name`,
/// `parent` and `kind`.
/// Public like the map's `areas` tile layer: boundaries and names of administrative areas.
#[utoipa::path(get, path = "/api/v1/areas", params(AreasQuery), responses(
    (status = 200, description = "GeoJSON FeatureCollection", content_type = "application/geo+json"),
    (status = 400, body = super::error::ErrorBody)
))]
pub async fn areas(
    State(state): State<AppState>,
    access: minqing_domain::auth::Access,
    Query(q): Query<AreasQuery>,
) -> Result<Json<geojson::FeatureCollection>, ApiError> {
    access.require(minqing_domain::auth::Permission::Aggregates)?;
    let level = AreaLevel::parse(&q.level).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "level must be district, township, community or grid, got {:?}",
            q.level
        ))
    })?;
    let ix = state.index()?;
    let features = ix
        .areas
        .iter()
        .filter(|a| a.area.level == level)
        .map(|a| {
            let mut props = serde_json::Map::new();
            props.insert("code".into(), a.area.code.clone().into());
            props.insert("name".into(), a.area.name.clone().into());
            props.insert("parent".into(), a.area.parent.clone().into());
            props.insert("kind".into(), a.area.kind.clone().into());
            props.insert(
                "area_km2".into(),
                ((a.area_km2 * 1000.0).round() / 1000.0).into(),
            );
            geojson::Feature {
                bbox: None,
                geometry: Some(geojson::Geometry::new(geojson::Value::from(
                    &a.area.geometry,
                ))),
                id: None,
                properties: Some(props),
                foreign_members: None,
            }
        })
        .collect();
    Ok(Json(geojson::FeatureCollection {
        bbox: None,
        features,
        foreign_members: None,
    }))
}
