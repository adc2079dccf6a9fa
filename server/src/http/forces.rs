//! The forces on the ground over HTTP: patrol teams and patrols, patrol coverage of the
//! hot spots, the 1+1+4+N grid forces, the grid work list and admitted tasks. Each
//! handler parses the request and calls `minqing_domain::forces`.

use super::events::parse_json;
use super::{ApiError, AppState, ErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minqing_domain::auth::{Access, Caller, Permission};
use minqing_domain::forces::{self, Patrol};
use minqing_domain::time::{DAY, format_local};
use serde::Deserialize;
use serde_json::{Value, json};

/// The forces' routes, each registered together with its OpenAPI operation.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::{router::OpenApiRouter, routes};
    OpenApiRouter::new()
        .routes(routes!(patrols, log_patrol))
        .routes(routes!(patrol_teams))
        .routes(routes!(grid_forces))
        .routes(routes!(grid_tasks, dispatch_task))
        .routes(routes!(complete_task))
        .routes(routes!(work_items))
        .routes(routes!(full_time_rates))
        .routes(routes!(patrol_coverage))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PatrolQuery {
    /// First day (YYYY-MM-DD, CST) or instant.
    pub from: Option<String>,
    /// Last day (inclusive) or instant.
    pub to: Option<String>,
    /// A patrol team code.
    pub team: Option<String>,
    /// A township, community or grid code.
    pub area: Option<String>,
    /// Most patrols returned (default 500, at most 5000); `total` counts all.
    pub limit: Option<usize>,
}

fn patrol_json(p: &Patrol, team: &forces::Team) -> Value {
    json!({
        "code": p.code,
        "team": team.code,
        "team_name": team.name,
        "started_at": format_local(p.started_at),
        "ended_at": format_local(p.ended_at),
        "minutes": (p.ended_at - p.started_at) / 60,
        "findings": p.findings,
        "logged_in_app": p.logged_by.is_some(),
        "cells_visited": p.cells.len(),
        "track": p.track.iter().map(|(x, y)| [*x, *y]).collect::<Vec<_>>(),
    })
}

/// Patrols (with their GPS tracks), oldest first.
#[utoipa::path(get, path = "/api/v1/patrols", tag = "forces", params(PatrolQuery), responses(
    (status = 200, description = "`total` and `patrols` with `track` ([lon, lat] fixes)"),
    (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn patrols(
    State(state): State<AppState>,
    access: Access,
    Query(q): Query<PatrolQuery>,
) -> Result<Json<Value>, ApiError> {
    access.require(Permission::Aggregates)?;
    let filter = forces::PatrolFilter {
        window: minqing_domain::time::parse_window(q.from.as_deref(), q.to.as_deref())?,
        team: q.team.filter(|t| !t.is_empty()),
        area: q.area.filter(|a| !a.is_empty()),
    };
    let limit = q.limit.unwrap_or(500);
    if limit > 5000 {
        return Err(ApiError::BadRequest("limit must be at most 5000".into()));
    }
    let (total, list) = forces::patrols::list(&state, &filter, limit)?;
    let ix = state.index()?;
    let f = ix.forces.read();
    let patrols: Vec<Value> = list
        .iter()
        .map(|p| patrol_json(p, &f.teams[p.team as usize]))
        .collect();
    Ok(Json(json!({"total": total, "patrols": patrols})))
}

/// Log a patrol (the grid view): team, start and end, the track from the phone's
/// location, findings.
#[utoipa::path(post, path = "/api/v1/patrols", tag = "forces", security(("bearer" = [])),
    request_body(content = String, description = "`{team?, started_at, ended_at (unix seconds), track: [[lon, lat], …], findings}`"),
    responses((status = 201, description = "the stored patrol"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn log_patrol(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req: forces::patrols::PatrolLog = parse_json(body)?;
    let p = forces::patrols::log(&state, &caller, req).await?;
    let ix = state.index()?;
    let f = ix.forces.read();
    Ok((
        StatusCode::CREATED,
        Json(patrol_json(&p, &f.teams[p.team as usize])),
    ))
}

/// Patrol teams with their type, home area and members (core by the staffing standard,
/// volunteers), and their patrols in the last 30 days.
#[utoipa::path(get, path = "/api/v1/patrol-teams", tag = "forces", responses(
    (status = 200, description = "`teams` and the district's totals")))]
pub async fn patrol_teams(
    State(state): State<AppState>,
    access: Access,
) -> Result<Json<Value>, ApiError> {
    access.require(Permission::Aggregates)?;
    let ix = state.index()?;
    let f = ix.forces.read();
    let now = state.clock.now();
    let mut recent = vec![0usize; f.teams.len()];
    for p in f.patrols_between(now - 30 * DAY, now) {
        recent[p.team as usize] += 1;
    }
    let teams: Vec<Value> = f
        .teams
        .iter()
        .zip(&recent)
        .map(|(t, n)| {
            let standard = forces::staffing_standard(&t.area_kind);
            json!({
                "code": t.code, "name": t.name, "kind": t.kind,
                "area_code": t.area_code, "area_name": t.area_name, "area_kind": t.area_kind,
                "township_code": t.township_code,
                "members": t.members(), "core_members": t.core_members, "volunteers": t.volunteers,
                "staffing_standard": [standard.start(), standard.end()],
                "meets_standard": t.meets_standard(),
                "patrols_last_30_days": n,
            })
        })
        .collect();
    Ok(Json(json!({
        "patrol_teams": f.teams.len(),
        "patrol_members": f.members,
        "full_time_teams": f.teams.iter().filter(|t| t.kind == "full_time").count(),
        "patrols_last_30_days": recent.iter().sum::<usize>(),
        "teams": teams,
    })))
}

/// The grid's 1+1+4+N forces: role, name, masked phone, full-time flag (audited read).
#[utoipa::path(get, path = "/api/v1/grids/{code}/forces", tag = "forces", security(("bearer" = [])),
    params(("code" = String, Path, description = "grid code")),
    responses((status = 200, description = "the grid's forces"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn grid_forces(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<Json<forces::grid_forces::GridForces>, ApiError> {
    Ok(Json(
        forces::grid_forces::grid_forces(&state, &caller, &code).await?,
    ))
}

/// The grid's admitted tasks, newest first, with the workload of the open ones.
#[utoipa::path(get, path = "/api/v1/grids/{code}/tasks", tag = "forces", security(("bearer" = [])),
    params(("code" = String, Path, description = "grid code")),
    responses((status = 200, description = "tasks and workload"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn grid_tasks(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<Json<forces::work_list::GridTasks>, ApiError> {
    Ok(Json(forces::work_list::grid_tasks(&state, &caller, &code)?))
}

/// Dispatch a task to a grid: only types on the grid work list are admitted (otherwise
/// 422 naming the rule `grid_work_list_admission`).
#[utoipa::path(post, path = "/api/v1/grids/{code}/tasks", tag = "forces", security(("bearer" = [])),
    params(("code" = String, Path, description = "grid code")),
    request_body(content = String, description = "`{item_code, note?, assignee_id?, due? (YYYY-MM-DD)}`"),
    responses((status = 201, description = "the dispatched task"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "not on the grid work list")))]
pub async fn dispatch_task(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<forces::GridTask>), ApiError> {
    let req: forces::work_list::DispatchRequest = parse_json(body)?;
    let t = forces::work_list::dispatch_task(&state, &caller, &code, req).await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// Finish a dispatched task with a note (the grid's grid workers; leaders, the reception,
/// the risk centre). A stale `version` or a task already done is a 409.
#[utoipa::path(post, path = "/api/v1/grids/{code}/tasks/{task}/done", tag = "forces", security(("bearer" = [])),
    params(("code" = String, Path, description = "grid code"), ("task" = String, Path, description = "task code")),
    request_body(content = String, description = "`{note, version?}`"),
    responses((status = 200, description = "the finished task"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn complete_task(
    State(state): State<AppState>,
    caller: Caller,
    Path((code, task)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<forces::GridTask>, ApiError> {
    let req: forces::work_list::CompleteRequest = parse_json(body)?;
    Ok(Json(
        forces::work_list::complete_task(&state, &caller, &code, &task, req).await?,
    ))
}

/// The grid work list: the task types admitted into grids.
#[utoipa::path(get, path = "/api/v1/work-items", tag = "forces", responses(
    (status = 200, description = "`items`: code, name, department, legal_basis, frequency, minutes")))]
pub async fn work_items(
    State(state): State<AppState>,
    access: Access,
) -> Result<Json<Value>, ApiError> {
    access.require(Permission::Aggregates)?;
    let ix = state.index()?;
    let f = ix.forces.read();
    Ok(Json(json!({
        "rule": forces::work_list::ADMISSION_RULE,
        "items": f.work_items,
    })))
}

/// Full-time grid-worker rates: the district, then each township (grids, full-time
/// grids, urban community grids).
#[utoipa::path(get, path = "/api/v1/grid-forces/rates", tag = "forces", responses(
    (status = 200, description = "rates per area")))]
pub async fn full_time_rates(
    State(state): State<AppState>,
    access: Access,
) -> Result<Json<Vec<forces::grid_forces::FullTimeRate>>, ApiError> {
    access.require(Permission::Aggregates)?;
    Ok(Json(forces::grid_forces::full_time_rates(&state)?))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct CoverageQuery {
    /// End of the 7- and 30-day windows: a day (inclusive) or an instant; default now
    /// (or the end of the patrol record, when it stopped over 30 days ago).
    pub to: Option<String>,
    /// Keep one township's (community's, grid's) hot cells.
    pub area: Option<String>,
}

/// Model 3's patrol coverage: for each significant hot cell, patrol visits in the last
/// 7 and 30 days; uncovered cells flagged; per township.
#[utoipa::path(get, path = "/api/v1/analysis/patrol-coverage", tag = "forces", params(CoverageQuery),
    responses((status = 200, description = "coverage report"), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn patrol_coverage(
    State(state): State<AppState>,
    access: Access,
    Query(q): Query<CoverageQuery>,
) -> Result<Json<forces::CoverageReport>, ApiError> {
    access.require(Permission::Aggregates)?;
    let to = match q.to.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            minqing_domain::time::parse_bound(s, minqing_domain::time::End::To).ok_or_else(
                || {
                    ApiError::BadRequest(format!(
                        "to must be a date YYYY-MM-DD or an RFC 3339 instant, got {s:?}"
                    ))
                },
            )?,
        ),
    };
    let area = q.area.filter(|a| !a.is_empty());
    let state2 = state.clone();
    let report =
        tokio::task::spawn_blocking(move || forces::patrol_coverage(&state2, to, area.as_deref()))
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("coverage task failed: {e}")))??;
    Ok(Json(report))
}
