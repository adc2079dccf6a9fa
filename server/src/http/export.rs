//! `/api/v1/export/*`: CSV exports for leaders and admins (`Permission::Export`).
//!
//! An export takes many records out of the system at once, so each one is written to
//! the audit log (with its query) before a byte is sent, and each carries only what its
//! purpose needs: event records without their free-text description, area figures with
//! key-group counts only for callers allowed them and only at 5 persons or more.

use super::events::ListQuery;
use super::{ApiError, AppState};
use axum::extract::{Query, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use minqing_domain::analysis as an;
use minqing_domain::audit;
use minqing_domain::auth::{Access, Caller, Permission};
use minqing_domain::events;
use minqing_domain::events::query;
use minqing_domain::model::AreaLevel;
use serde::Deserialize;

/// This area's routes, each registered together with its OpenAPI operation.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::{router::OpenApiRouter, routes};
    OpenApiRouter::new()
        .routes(routes!(events_csv))
        .routes(routes!(areas_csv))
}

fn csv_response(file_name: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response()
}

fn finish(w: csv::Writer<Vec<u8>>) -> Result<Vec<u8>, ApiError> {
    w.into_inner()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("CSV export: {e}")))
}

/// A cell as a spreadsheet will read it safely: text that a spreadsheet would take for
/// a formula (starting with `=`, `+`, `-`, `@`, or a tab or carriage return) gets a
/// leading apostrophe, so an event title such as `=HYPERLINK(…)` stays text. Numbers
/// (a negative coordinate) are left as they are.
fn neutralised(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && cell.parse::<f64>().is_err() {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

fn write_row<const N: usize>(w: &mut csv::Writer<Vec<u8>>, row: [&str; N]) -> Result<(), ApiError> {
    w.write_record(row.map(neutralised).iter().map(|c| c.as_ref()))
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("CSV export: {e}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn formulas_are_neutralised_numbers_are_not() {
        use super::neutralised;
        for (cell, want) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1+2", "'+1+2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("-cmd", "'-cmd"),
            ("\t=1", "'\t=1"),
            ("-12.5", "-12.5"),
            ("104.39", "104.39"),
            ("邻里纠纷", "邻里纠纷"),
            ("", ""),
        ] {
            assert_eq!(neutralised(cell), want, "{cell:?}");
        }
    }
}

/// Write the audit entry for an export; the export is refused (503) if it cannot be.
async fn audited(
    state: &AppState,
    caller: &Caller,
    action: &str,
    query: &str,
) -> Result<(), ApiError> {
    audit::append(&state.store, audit::Record::by(caller, action, query))
        .await
        .map(|_| ())
        .map_err(|e| ApiError::Unavailable(format!("the audit log cannot be written: {e}")))
}

/// Event records matching the list filters (`limit`/`offset` are ignored: an export
/// has every match), newest first, as CSV. No description: titles say what a matter
/// is; descriptions may name people.
#[utoipa::path(get, path = "/api/v1/export/events.csv", params(ListQuery), responses(
    (status = 200, description = "Events as CSV (UTF-8)", content_type = "text/csv"),
    (status = 400, body = super::error::ErrorBody),
    (status = 401, body = super::error::ErrorBody),
    (status = 403, body = super::error::ErrorBody)
))]
pub async fn events_csv(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    caller.require(Permission::Export)?;
    audited(
        &state,
        &caller,
        "export_events",
        raw.as_deref().unwrap_or(""),
    )
    .await?;
    let index = state.index()?;
    // The list's own filter and order, over every event the caller may see.
    let now = state.clock.now();
    let access = Access::Signed(caller.clone());
    let rows = query::list(&state, &access, &q.params(), i64::MAX, 0)?.events;
    let mut w = csv::Writer::from_writer(Vec::new());
    write_row(
        &mut w,
        [
            "code",
            "category",
            "source",
            "status",
            "risk_tier",
            "title",
            "grid",
            "community",
            "township",
            "reported_at",
            "deadline",
            "overdue",
            "closed_at",
            "mediation_org",
            "diversion",
            "resolved_by_mediation",
            "escalated",
            "lon",
            "lat",
            "address_code",
        ],
    )?;
    let t = minqing_domain::time::format_utc;
    for e in &rows {
        let mut community = String::new();
        let mut township = String::new();
        if let Some(grid) = index.area(&e.grid_code) {
            for a in index.ancestors(grid) {
                match a.area.level {
                    AreaLevel::Community => community = a.area.code.clone(),
                    AreaLevel::Township => township = a.area.code.clone(),
                    _ => {}
                }
            }
        }
        write_row(
            &mut w,
            [
                &e.code,
                &e.category,
                &e.source,
                &e.status,
                &e.risk_tier,
                &e.title,
                &e.grid_code,
                &community,
                &township,
                &t(e.reported_at),
                &t(e.deadline),
                if events::is_overdue(e, now) {
                    "true"
                } else {
                    "false"
                },
                &e.closed_at.map(t).unwrap_or_default(),
                e.mediation_org.as_deref().unwrap_or(""),
                e.diversion.as_deref().unwrap_or(""),
                if e.resolved_by_mediation {
                    "true"
                } else {
                    "false"
                },
                if e.escalated { "true" } else { "false" },
                &format!("{:.6}", e.lon),
                &format!("{:.6}", e.lat),
                e.address_code.as_deref().unwrap_or(""),
            ],
        )?;
    }
    Ok(csv_response("events.csv", finish(w)?))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AreasExportParams {
    /// `township`, `community` or `grid` (default `grid`).
    pub level: Option<String>,
}

/// Figures per area (models 1 and 2) as CSV. `key_group_persons` is empty below 5
/// persons, and `withheld` for callers who may not see key-group figures.
#[utoipa::path(get, path = "/api/v1/export/areas.csv", params(AreasExportParams), responses(
    (status = 200, description = "Area figures as CSV (UTF-8)", content_type = "text/csv"),
    (status = 400, body = super::error::ErrorBody),
    (status = 401, body = super::error::ErrorBody),
    (status = 403, body = super::error::ErrorBody)
))]
pub async fn areas_csv(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
    Query(q): Query<AreasExportParams>,
) -> Result<Response, ApiError> {
    caller.require(Permission::Export)?;
    let level = match q.level.as_deref().filter(|s| !s.is_empty()) {
        None => AreaLevel::Grid,
        Some(s) => match AreaLevel::parse(s) {
            Some(l @ (AreaLevel::Township | AreaLevel::Community | AreaLevel::Grid)) => l,
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "level must be township, community or grid, got {s:?}"
                )));
            }
        },
    };
    audited(
        &state,
        &caller,
        "export_areas",
        raw.as_deref().unwrap_or(""),
    )
    .await?;
    let body = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
        let ix = state.index()?;
        let reg = state.analysis.register(&ix);
        let mut w = csv::Writer::from_writer(Vec::new());
        write_row(
            &mut w,
            [
                "code",
                "name",
                "level",
                "parent",
                "residents",
                "males",
                "females",
                "registered",
                "floating",
                "elderly",
                "elderly_alone",
                "units_owner_occupied",
                "units_rented",
                "units_vacant",
                "overcrowded_units",
                "enterprises",
                "key_group_persons",
            ],
        )?;
        for (i, a) in ix.areas.iter().enumerate() {
            if a.area.level != level {
                continue;
            }
            let p = reg.area_population[i]
                .finish(a.area_km2)
                .suppressed(an::KEY_GROUP_MIN);
            let h = &reg.area_housing[i];
            let grid = (level == AreaLevel::Grid).then_some(a.area.code.as_str());
            let key_groups = if caller.can_see_key_groups(grid) {
                p.key_groups
                    .persons
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            } else {
                "withheld".to_string()
            };
            let enterprises: u32 =
                h.enterprises_by_section.iter().sum::<u32>() + h.enterprises_unknown_section;
            let n = |v: u32| v.to_string();
            write_row(
                &mut w,
                [
                    &a.area.code,
                    &a.area.name,
                    a.area.level.as_str(),
                    a.area.parent.as_deref().unwrap_or(""),
                    &n(p.residents),
                    &n(p.males),
                    &n(p.females),
                    &n(p.registered),
                    &n(p.floating),
                    &n(p.elderly),
                    &n(p.elderly_alone),
                    &n(h.units[0]),
                    &n(h.units[1]),
                    &n(h.units[2]),
                    &n(h.overcrowded_units),
                    &n(enterprises),
                    &key_groups,
                ],
            )?;
        }
        finish(w)
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("export task failed: {e}")))??;
    Ok(csv_response(&format!("areas-{}.csv", level.as_str()), body))
}
