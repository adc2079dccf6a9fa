//! `/api/v1/analysis/*`: the five models over HTTP. The computing and caching is in
//! [`minqing_domain::analysis`]; this file parses and validates parameters and shapes responses.
//!
//! Dates are `YYYY-MM-DD` in China Standard Time (UTC+8); `from` and `to` are both
//! inclusive days.

use super::analysis_json;
use super::{ApiError, AppState};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use minqing_domain::analysis::{
    self as an, EfficiencyQuery, EmergingQuery, HotspotQuery, RiskLevel, RiskQuery, Step,
};
use minqing_domain::auth::{Access, Permission};
use minqing_domain::disclosure::{self, Figures};
use minqing_domain::tiles_service::filters::EventAudience;
use serde::Deserialize;
use serde_json::{Value, json};

/// This area's routes, each registered together with its OpenAPI operation.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::{router::OpenApiRouter, routes};
    OpenApiRouter::new()
        .routes(routes!(population, population_polygon))
        .routes(routes!(housing))
        .routes(routes!(hotspots))
        .routes(routes!(emerging))
        .routes(routes!(risk))
        .routes(routes!(efficiency))
}

/// Run a model off the async runtime (Gi* and emerging hot spots take milliseconds to
/// a second on a cold cache).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("analysis task failed: {e}")))?
}

const WITHHELD: &str =
    "key-group figures are shown only to roles allowed to see them, in their grids";

/// Replace a profile's key-group counts for callers who may not see them.
fn withhold_key_groups(body: &mut Value) {
    body["key_groups"] = json!({ "withheld": WITHHELD });
}

/// Keep the key-group factor's name and weight, drop what would reveal its count.
fn withhold_key_group_factor(factors: &mut Value) {
    for f in factors.as_array_mut().into_iter().flatten() {
        if f["factor"] == "key_group_density"
            && let Some(o) = f.as_object_mut()
        {
            for k in [
                "raw",
                "normalised",
                "contribution",
                "suppressed",
                "weight",
                "reference",
            ] {
                o.remove(k);
            }
            o.insert("withheld".into(), WITHHELD.into());
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AreaParams {
    /// Township, community or grid code (default: the whole district).
    pub area: Option<String>,
}

fn area_json(ix: &minqing_domain::index::Index, area: u32) -> Value {
    let a = &ix.areas[area as usize];
    json!({"code": a.area.code, "name": a.area.name, "level": a.area.level.as_str()})
}

/// Model 1: population structure of an area (key-group counts below 5 omitted).
#[utoipa::path(get, path = "/api/v1/analysis/population", params(AreaParams), responses(
    (status = 200, description = "Population structure", content_type = "application/json"),
    (status = 404, body = super::error::ErrorBody)
))]
pub async fn population(
    State(state): State<AppState>,
    access: Access,
    Query(q): Query<AreaParams>,
) -> Result<Json<Value>, ApiError> {
    access.require(Permission::Aggregates)?;
    let (area, figures) = area_figures(&state, &access, q.area.as_deref(), "population").await?;
    blocking(move || {
        let ix = state.index()?;
        let reg = state.analysis.register(&ix);
        let profile = if figures.is_exact() {
            &reg.area_population[area as usize]
        } else {
            &reg.protected.area_population[area as usize]
        };
        let mut body = analysis_json::population_json(profile, ix.areas[area as usize].area_km2);
        let a = &ix.areas[area as usize].area;
        let grid = (a.level == minqing_domain::model::AreaLevel::Grid).then_some(a.code.as_str());
        if !access.can_see_key_groups(grid) {
            withhold_key_groups(&mut body);
        }
        body["area"] = area_json(&ix, area);
        body["figures"] = figures_json(figures);
        Ok(Json(body))
    })
    .await
}

/// How the figures of an answer were made (see `minqing_domain::disclosure`).
fn figures_json(f: Figures) -> Value {
    match f {
        Figures::Exact => json!("exact"),
        Figures::Protected => json!(
            "protected: each grid's counts perturbed by a fixed cell-key table (counts 1-4 become 0 or 5), wider areas are sums of grids"
        ),
    }
}

/// Resolve `?area=` and decide the caller's figures for it; an exact read is audited
/// before anything is computed.
async fn area_figures(
    state: &AppState,
    access: &Access,
    area: Option<&str>,
    model: &str,
) -> Result<(u32, Figures), ApiError> {
    let (area, grid, code) = {
        let ix = state.index()?;
        let area = an::resolve_area(&ix, area)?;
        let a = &ix.areas[area as usize].area;
        let grid = (a.level == minqing_domain::model::AreaLevel::Grid).then(|| a.code.clone());
        (area, grid, a.code.clone())
    };
    let figures = Figures::for_grid(access, grid.as_deref());
    if figures.is_exact() {
        disclosure::audit_exact(state, access, &format!("{model}:{code}")).await?;
    }
    Ok((area, figures))
}

/// Parse a GeoJSON Polygon or MultiPolygon (bare geometry or a Feature).
fn polygon_from_body(body: &[u8]) -> Result<geo_types::MultiPolygon<f64>, ApiError> {
    let bad = |m: String| ApiError::BadRequest(m);
    let text = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8".into()))?;
    let gj: geojson::GeoJson = text
        .parse()
        .map_err(|e| bad(format!("the body is not GeoJSON: {e}")))?;
    let geometry = match gj {
        geojson::GeoJson::Geometry(g) => g,
        geojson::GeoJson::Feature(f) => f
            .geometry
            .ok_or_else(|| bad("the Feature has no geometry".into()))?,
        geojson::GeoJson::FeatureCollection(_) => {
            return Err(bad(
                "send one Polygon or MultiPolygon (or a Feature), not a FeatureCollection".into(),
            ));
        }
    };
    let g: geo_types::Geometry<f64> = geometry
        .try_into()
        .map_err(|e| bad(format!("invalid geometry: {e}")))?;
    let mp = match g {
        geo_types::Geometry::Polygon(p) => geo_types::MultiPolygon::new(vec![p]),
        geo_types::Geometry::MultiPolygon(mp) => mp,
        _ => return Err(bad("the geometry must be a Polygon or MultiPolygon".into())),
    };
    use geo::CoordsIter;
    let mut n = 0usize;
    for c in mp.coords_iter() {
        n += 1;
        if !(c.x.is_finite() && c.y.is_finite() && c.x.abs() <= 180.0 && c.y.abs() <= 90.0) {
            return Err(bad("coordinates must be lon/lat degrees (WGS-84)".into()));
        }
    }
    if n < 4 {
        return Err(bad(
            "the polygon needs at least three distinct vertices".into()
        ));
    }
    if n > 100_000 {
        return Err(bad("the polygon has more than 100,000 vertices".into()));
    }
    Ok(mp)
}

/// Model 1 (and 2) for a drawn polygon: a GeoJSON Polygon or MultiPolygon in lon/lat
/// (a bare geometry or a Feature). Buildings whose point lies inside count.
#[utoipa::path(post, path = "/api/v1/analysis/population", request_body(content = String, content_type = "application/geo+json", description = "GeoJSON Polygon or MultiPolygon (or a Feature) in lon/lat"), responses(
    (status = 200, description = "Population structure (and housing) of the polygon", content_type = "application/json"),
    (status = 400, body = super::error::ErrorBody)
))]
pub async fn population_polygon(
    State(state): State<AppState>,
    access: Access,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    access.require(Permission::Aggregates)?;
    let polygon = polygon_from_body(&body)?;
    // A drawn polygon may cross grids: only unscoped personal-data roles get it exact.
    let figures = Figures::for_grid(&access, None);
    if figures.is_exact() {
        disclosure::audit_exact(&state, &access, "population:polygon").await?;
    }
    blocking(move || {
        let ix = state.index()?;
        let reg = state.analysis.register(&ix);
        let (mut body, housing, area) = if figures.is_exact() {
            let (pop, housing, buildings) = an::population_of_polygon(&reg, &ix, &polygon);
            let body = analysis_json::population_json(&pop, an::polygon_km2(&polygon));
            (body, housing, json!({"level": "polygon", "buildings": buildings}))
        } else {
            let inside = an::buildings_in_polygon(&ix, &polygon);
            let district = reg.district.unwrap_or(0) as usize;
            let s = reg.protected.snap(
                &ix,
                &inside,
                &reg.area_population[district],
                &reg.area_housing[district],
            )?;
            let body = analysis_json::population_json(&s.population, s.area_km2);
            let grids: Vec<Value> = s.grids.iter().map(|&g| area_json(&ix, g)).collect();
            let area = json!({"level": "grids", "buildings": s.buildings, "grids": grids,
                "snapping": "the polygon counts as the whole grids of which it holds more than half of the buildings"});
            (body, s.housing, area)
        };
        if !access.can_see_key_groups(None) {
            withhold_key_groups(&mut body);
        }
        body["area"] = area;
        body["housing"] = analysis_json::housing_json(&housing);
        body["figures"] = figures_json(figures);
        Ok(Json(body))
    })
    .await
}

/// Model 2: housing units (occupancy, over-crowding, mismatches) and enterprises.
#[utoipa::path(get, path = "/api/v1/analysis/housing", params(AreaParams), responses(
    (status = 200, description = "Housing and enterprises", content_type = "application/json"),
    (status = 404, body = super::error::ErrorBody)
))]
pub async fn housing(
    State(state): State<AppState>,
    access: Access,
    Query(q): Query<AreaParams>,
) -> Result<Json<Value>, ApiError> {
    access.require(Permission::Aggregates)?;
    let (area, figures) = area_figures(&state, &access, q.area.as_deref(), "housing").await?;
    blocking(move || {
        let ix = state.index()?;
        let reg = state.analysis.register(&ix);
        let profile = if figures.is_exact() {
            &reg.area_housing[area as usize]
        } else {
            &reg.protected.area_housing[area as usize]
        };
        let mut body = analysis_json::housing_json(profile);
        body["area"] = area_json(&ix, area);
        body["figures"] = figures_json(figures);
        Ok(Json(body))
    })
    .await
}

/// Whether the caller gets event figures protected (it may not read event records):
/// then time bounds must be whole days.
fn protected_events(
    access: &Access,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<bool, ApiError> {
    let protected = !access.allows(Permission::EventsRead);
    if protected {
        disclosure::require_day_grain("from", from)?;
        disclosure::require_day_grain("to", to)?;
    }
    Ok(protected)
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct HotspotParams {
    /// First day, `YYYY-MM-DD` (UTC+8), inclusive. Default: all events.
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (UTC+8), inclusive.
    pub to: Option<String>,
    /// Event category (`dispute`, `petition`, …).
    pub category: Option<String>,
    /// Intake source (`grid_worker`, `visitor`, …).
    pub source: Option<String>,
    /// H3 resolution, 5–10 (default 9).
    pub resolution: Option<String>,
}

fn window_json(w: Option<minqing_analysis::efficiency::Window>) -> Value {
    match w {
        None => json!({"from": null, "to": null, "timezone": "UTC+8"}),
        Some(w) => json!({
            "from": (w.from > i64::MIN / 4).then(|| minqing_domain::time::format_date(w.from)),
            "to": (w.to < i64::MAX / 4).then(|| minqing_domain::time::format_date(w.to - 1)),
            "timezone": "UTC+8",
        }),
    }
}

/// Model 3: Getis-Ord Gi* hot spots over the district's H3 cells, FDR-corrected.
#[utoipa::path(get, path = "/api/v1/analysis/hotspots", params(HotspotParams), responses(
    (status = 200, description = "Every study-area cell with its centre (lon, lat), count, gi_z, p, p_adjusted and class", content_type = "application/json"),
    (status = 400, body = super::error::ErrorBody)
))]
pub async fn hotspots(
    State(state): State<AppState>,
    access: Access,
    Query(q): Query<HotspotParams>,
) -> Result<Json<Value>, ApiError> {
    access.require(Permission::Aggregates)?;
    let protected = protected_events(&access, q.from.as_deref(), q.to.as_deref())?;
    let query = HotspotQuery {
        resolution: an::parse_resolution(q.resolution.as_deref())?,
        window: minqing_domain::time::parse_window(q.from.as_deref(), q.to.as_deref())?,
        category: an::parse_category(q.category.as_deref())?,
        source: an::parse_source(q.source.as_deref())?,
    };
    if protected && query.resolution > an::DEFAULT_RESOLUTION {
        return Err(ApiError::BadRequest(format!(
            "resolution finer than {} needs access to event records (public cells are about 130 m)",
            an::DEFAULT_RESOLUTION
        )));
    }
    blocking(move || {
        let r = an::hotspots(&state, query)?;
        let cells: Vec<Value> = r
            .report
            .cells
            .iter()
            .map(|c| {
                let cell = h3o::CellIndex::try_from(c.cell).ok();
                // The cell's centre, so a view can fly to it without an H3 library.
                let centre = cell.map(h3o::LatLng::from);
                json!({
                    "cell": cell.map(|c| c.to_string()).unwrap_or_default(),
                    "lon": centre.map(|ll| ll.lng()),
                    "lat": centre.map(|ll| ll.lat()),
                    "count": if protected && !disclosure::count_may_leave(c.count.max(0.0).round() as u64) { Value::Null } else { json!(c.count) },
                    "gi_z": c.gi_z,
                    "p": c.p,
                    "p_adjusted": c.p_adjusted,
                    "class": an::class_name(c.class),
                })
            })
            .collect();
        let mut summary = serde_json::Map::new();
        for c in &r.report.cells {
            let e = summary.entry(an::class_name(c.class)).or_insert(json!(0));
            *e = json!(e.as_u64().unwrap_or(0) + 1);
        }
        Ok(Json(json!({
            "resolution": query.resolution,
            "window": window_json(query.window),
            "category": query.category.map(|c| minqing_domain::model::CATEGORIES[usize::from(c)]),
            "source": query.source.map(|s| minqing_domain::model::SOURCES[usize::from(s)]),
            // Counts of 1–4 leave only for readers of the records (a handful of events
            // outside the study area would otherwise point at one household).
            "events": small_count(protected, r.events as u64),
            "events_outside_study_area": small_count(protected, r.outside as u64),
            "study_area": "H3 cells whose centre lies in the district polygon",
            "correction": minqing_analysis::hotspot::CORRECTION_NOTE,
            "undefined_cells": r.report.undefined_cells,
            "classes": summary,
            "kde": {
                "kernel": "quartic (ArcGIS Kernel Density formula)",
                "bandwidth_rule": "ArcGIS default search radius: 0.9 * min(SD, sqrt(1/ln 2) * Dm) * n^-0.2 over the selected events in Web Mercator metres (SD standard distance, Dm median distance to the mean centre)",
                "bandwidth_m": r.kde_bandwidth_m,
            },
            "cells": cells,
        })))
    })
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct EmergingParams {
    /// `week` or `month` (default `month`).
    pub step: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub category: Option<String>,
    pub source: Option<String>,
    /// H3 resolution, 5–10 (default 9).
    pub resolution: Option<String>,
}

/// Model 3: emerging (space-time) hot spots, ArcGIS categories, Mann-Kendall trend.
/// Lists the cells with a pattern (others are counted in `patterns.no_pattern`).
#[utoipa::path(get, path = "/api/v1/analysis/hotspots/emerging", params(EmergingParams), responses(
    (status = 200, description = "Emerging hot spot patterns", content_type = "application/json"),
    (status = 400, body = super::error::ErrorBody)
))]
pub async fn emerging(
    State(state): State<AppState>,
    access: Access,
    Query(q): Query<EmergingParams>,
) -> Result<Json<Value>, ApiError> {
    access.require(Permission::Aggregates)?;
    let protected = protected_events(&access, q.from.as_deref(), q.to.as_deref())?;
    let step = match q.step.as_deref().filter(|s| !s.is_empty()) {
        None | Some("month") => Step::Month,
        Some("week") => Step::Week,
        Some(s) => {
            return Err(ApiError::BadRequest(format!(
                "step must be week or month, got {s:?}"
            )));
        }
    };
    let query = EmergingQuery {
        step,
        resolution: an::parse_resolution(q.resolution.as_deref())?,
        window: minqing_domain::time::parse_window(q.from.as_deref(), q.to.as_deref())?,
        category: an::parse_category(q.category.as_deref())?,
        source: an::parse_source(q.source.as_deref())?,
    };
    blocking(move || {
        let r = an::emerging(&state, query)?;
        let mut patterns = serde_json::Map::new();
        let mut cells = Vec::new();
        for c in &r.report.cells {
            let name = c.pattern.as_str();
            let e = patterns.entry(name).or_insert(json!(0));
            *e = json!(e.as_u64().unwrap_or(0) + 1);
            if c.pattern != minqing_analysis::emerging::Pattern::NoPattern {
                cells.push(json!({
                    "cell": h3o::CellIndex::try_from(c.cell).map(|c| c.to_string()).unwrap_or_default(),
                    "pattern": name,
                    "hot_steps": c.hot_steps,
                    "cold_steps": c.cold_steps,
                    "trend": c.trend.trend.as_str(),
                    "trend_z": c.trend.z,
                    "trend_p": c.trend.p,
                    "final_z": c.z.last().copied().unwrap_or(0.0),
                }));
            }
        }
        Ok(Json(json!({
            "step": match step { Step::Week => "week", Step::Month => "month" },
            "resolution": query.resolution,
            "steps": r.step_starts.iter().map(|&t| minqing_domain::time::format_date(t)).collect::<Vec<_>>(),
            "end": minqing_domain::time::format_date(r.end - 1),
            "events": small_count(protected, r.events as u64),
            "method": "space-time Gi* per bin (ring-1 H3 neighbourhood, current and previous step), BH FDR across all bins, significant at adjusted p < 0.10; Mann-Kendall trend of each cell's z series at alpha 0.05; ArcGIS Emerging Hot Spot Analysis categories",
            "bins": r.report.bins,
            "undefined_bins": r.report.undefined_bins,
            "patterns": patterns,
            "cells": cells,
        })))
    })
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct RiskParams {
    /// `grid` or `building`.
    pub level: Option<String>,
    /// Area code (default: the whole district).
    pub area: Option<String>,
    /// Window for event factors (default: the year up to the latest event).
    pub from: Option<String>,
    pub to: Option<String>,
    /// Units returned, highest score first (default 500, at most 5000).
    pub limit: Option<String>,
}

/// Model 4: explainable risk score per grid or building, with factor contributions.
#[utoipa::path(get, path = "/api/v1/analysis/risk", params(RiskParams), responses(
    (status = 200, description = "Scores, tiers and factors", content_type = "application/json"),
    (status = 400, body = super::error::ErrorBody),
    (status = 404, body = super::error::ErrorBody)
))]
pub async fn risk(
    State(state): State<AppState>,
    access: Access,
    Query(q): Query<RiskParams>,
) -> Result<Json<Value>, ApiError> {
    access.require(Permission::Aggregates)?;
    let level = match q.level.as_deref() {
        Some("grid") => RiskLevel::Grid,
        Some("building") => RiskLevel::Building,
        other => {
            return Err(ApiError::BadRequest(format!(
                "level must be grid or building, got {:?}",
                other.unwrap_or("")
            )));
        }
    };
    let limit = match q.limit.as_deref().filter(|s| !s.is_empty()) {
        None => 500,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=5000).contains(n))
            .ok_or_else(|| {
                ApiError::BadRequest(format!("limit must be from 1 to 5000, got {s:?}"))
            })?,
    };
    // One building's score is detail about that building's events and people
    // (`EventAudience::sees_building`): callers who may see none of it get a refusal,
    // grid workers their grids' buildings.
    let audience = EventAudience::of(&access);
    if level == RiskLevel::Building
        && matches!(audience, EventAudience::Aggregates | EventAudience::Org(_))
    {
        let why = "building risk scores count the events and people of one building: they need an account that reads the events of its grid (the grid level is open)";
        return Err(match access.caller() {
            None => ApiError::Unauthorized(why.into()),
            Some(_) => ApiError::Forbidden(why.into()),
        });
    }
    protected_events(&access, q.from.as_deref(), q.to.as_deref())?;
    let window = minqing_domain::time::parse_window(q.from.as_deref(), q.to.as_deref())?;
    blocking(move || {
        let ix = state.index()?;
        let area = an::resolve_area(&ix, q.area.as_deref())?;
        let r = an::risk(&state, RiskQuery { level, area, window })?;
        let visible: Vec<&an::RiskUnit> = r
            .units
            .iter()
            .filter(|u| match level {
                RiskLevel::Grid => true,
                RiskLevel::Building => {
                    let b = &ix.buildings[u.unit as usize];
                    let grid = b.grid.map(|g| ix.areas[g as usize].area.code.as_str());
                    audience.sees_building(grid)
                }
            })
            .collect();
        let config = match level {
            RiskLevel::Grid => &state.analysis.risk_grid,
            RiskLevel::Building => &state.analysis.risk_building,
        };
        // Per unit: the caller's score. Without the right to key-group figures the
        // factor is left out of the score itself, not only of its explanation.
        let scored: Vec<(&an::RiskUnit, String, minqing_analysis::risk::RiskScore, bool)> = visible
            .iter()
            .map(|&u| {
                let grid = match level {
                    RiskLevel::Grid => ix.areas[u.unit as usize].area.code.clone(),
                    RiskLevel::Building => ix.buildings[u.unit as usize]
                        .grid
                        .map(|g| ix.areas[g as usize].area.code.clone())
                        .unwrap_or_default(),
                };
                let exact = access.can_see_key_groups(Some(&grid));
                let score = if exact {
                    u.score
                } else {
                    u.without_key_groups(config)
                };
                (u, grid, score, exact)
            })
            .collect();
        let mut order: Vec<usize> = (0..scored.len()).collect();
        order.sort_by(|&a, &b| scored[b].2.score.total_cmp(&scored[a].2.score));
        let mut tiers = json!({"small": 0, "medium": 0, "large": 0});
        for (_, _, s, _) in &scored {
            let t = an::tier_name(s.tier);
            tiers[t] = json!(tiers[t].as_u64().unwrap_or(0) + 1);
        }
        let units: Vec<Value> = order
            .iter()
            .take(limit)
            .map(|&i| {
                let (u, grid, score, exact) = &scored[i];
                let (code, name) = match level {
                    RiskLevel::Grid => {
                        let a = &ix.areas[u.unit as usize].area;
                        (a.code.clone(), a.name.clone())
                    }
                    RiskLevel::Building => {
                        let b = &ix.buildings[u.unit as usize];
                        (b.code.clone(), b.label.clone())
                    }
                };
                let shown = an::RiskUnit {
                    unit: u.unit,
                    inputs: u.inputs,
                    score: *score,
                };
                let mut factors = analysis_json::factors_json(&shown);
                if !exact {
                    withhold_key_group_factor(&mut factors);
                }
                json!({
                    "code": code,
                    "name": name,
                    "grid": grid,
                    "score": score.score,
                    "tier": an::tier_name(score.tier),
                    "factors": factors,
                })
            })
            .collect();
        Ok(Json(json!({
            "level": match level { RiskLevel::Grid => "grid", RiskLevel::Building => "building" },
            "area": area_json(&ix, area),
            "window": window_json(Some(r.window)),
            "formula": "score = sum of contributions; contribution = 100 * normalised weight * x/(x + reference); tiers by absolute thresholds",
            "tier_thresholds": {"medium": config.tiers.medium, "large": config.tiers.large},
            "total": scored.len(),
            "tiers": tiers,
            "units": units,
        })))
    })
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct EfficiencyParams {
    /// Area code (default: the whole district).
    pub area: Option<String>,
    /// First day `YYYY-MM-DD` (UTC+8), inclusive. Default: the calendar year of the
    /// latest event.
    pub from: Option<String>,
    /// Last day, inclusive.
    pub to: Option<String>,
}

/// Model 5: closure and mediation rates, handling times, overdue events, workload
/// per grid, year-on-year and month-on-month changes, anomalous weeks.
#[utoipa::path(get, path = "/api/v1/analysis/efficiency", params(EfficiencyParams), responses(
    (status = 200, description = "Closed-loop efficiency", content_type = "application/json"),
    (status = 400, body = super::error::ErrorBody),
    (status = 404, body = super::error::ErrorBody)
))]
pub async fn efficiency(
    State(state): State<AppState>,
    access: Access,
    Query(q): Query<EfficiencyParams>,
) -> Result<Json<Value>, ApiError> {
    access.require(Permission::Aggregates)?;
    let protected = protected_events(&access, q.from.as_deref(), q.to.as_deref())?;
    let window = minqing_domain::time::parse_window(q.from.as_deref(), q.to.as_deref())?;
    if let Some(w) = window
        && (w.from <= i64::MIN / 4 || w.to >= i64::MAX / 4)
    {
        return Err(ApiError::BadRequest(
            "give both from and to, or neither".into(),
        ));
    }
    blocking(move || {
        let ix = state.index()?;
        let area = an::resolve_area(&ix, q.area.as_deref())?;
        let result = an::efficiency(&state, EfficiencyQuery { area, window })?;
        let mut body = analysis_json::efficiency_json(&result);
        if protected {
            disclosure::suppress_json_counts(&mut body);
        }
        Ok(Json(body))
    })
    .await
}

/// `n`, or null for a caller without access to the records when `n` is 1–4.
fn small_count(protected: bool, n: u64) -> Value {
    if protected && !disclosure::count_may_leave(n) {
        Value::Null
    } else {
        json!(n)
    }
}
