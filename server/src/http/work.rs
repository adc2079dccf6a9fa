//! The work of the closed loop for each account: `/api/v1/tasks`,
//! `/api/v1/assignees`, `/api/v1/alerts` (and marking them read), and model 5 per
//! owner (`/api/v1/analysis/workload`), over `minqing_domain::events::work`.

use super::events::{public_view, view};
use super::{ApiError, AppState};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use minqing_domain::auth::users;
use minqing_domain::auth::{Caller, Permission, Role};
use minqing_domain::events::query::parse_int;
use minqing_domain::events::work::{self, Alert};
use minqing_domain::events::{self, write};
use minqing_domain::index::Index;
use minqing_domain::model::Event;
use minqing_domain::time::format_utc;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashSet;

/// This area's routes, each registered together with its OpenAPI operation.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use axum::extract::DefaultBodyLimit;
    use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
    use utoipa_axum::routes;
    OpenApiRouter::new()
        .routes(routes!(tasks))
        .routes(routes!(assignees))
        .routes(routes!(alerts))
        .routes(routes!(alerts_read).layer(DefaultBodyLimit::max(super::events::JSON_BODY_LIMIT)))
        .routes(routes!(workload))
        .routes(routes!(funnel))
}

/// Task list parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskQuery {
    /// `true`: the caller's recently finished ones (events they took a step on in the
    /// last 30 days that ask nothing of them any more), newest first.
    pub done: Option<String>,
    /// 1–1000, default 200.
    pub limit: Option<String>,
}

/// The caller's work: each item is the event (as in the event list) with `task_kind`:
/// `case`, `follow_up_visit` or `supervision`.
///
/// Grid workers: accepted events of their grids, closed events of their grids whose
/// next follow-up visit (`next_visit`) is due today or earlier, and supervised open
/// events of their grids. Mediators: their organisation's accepted and mediating events.
/// Grid workers also get `key_group_follow_ups`: the people on the key-group lists of
/// their grids whose next follow-up visit is due (masked; audited).
/// Everyone: the open events they own, and supervision of those. Supervision first,
/// then due visits, then by deadline. With `done=true`: the recently finished ones.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "events", params(TaskQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "`{total, tasks: [event + task_kind]}`"),
              (status = 401), (status = 403)))]
pub async fn tasks(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<TaskQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Tasks)?;
    let done = match q.done.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => return Err(ApiError::BadRequest("done must be true or false".into())),
    };
    let limit = q
        .limit
        .as_deref()
        .map(|v| parse_int("limit", v, 1..=1000))
        .transpose()?
        .unwrap_or(200) as usize;
    let now = state.clock.now();
    let index = state.index()?;
    let items: Vec<(Event, &'static str)> = if done {
        let codes =
            write::codes_stepped_by(&state.store, &caller.username, now - work::DONE_WINDOW_S)
                .await?;
        let today = minqing_domain::time::today(now);
        let events = state.events();
        let mut v: Vec<(Event, &'static str)> = codes
            .iter()
            .filter_map(|c| events.get(c))
            .filter(|e| caller.can_see(e) && work::task_kind(&caller, e, &today).is_none())
            .map(|e| (e.clone(), "case"))
            .collect();
        v.sort_by(|a, b| {
            b.0.updated_at
                .cmp(&a.0.updated_at)
                .then_with(|| a.0.code.cmp(&b.0.code))
        });
        v
    } else {
        let events = state.events();
        work::tasks_for(&caller, &events.events, now)
            .into_iter()
            .filter(|(e, _)| caller.can_see(e))
            .map(|(e, k)| (e.clone(), k))
            .collect()
    };
    let total = items.len();
    let tasks: Vec<Value> = items
        .iter()
        .take(limit)
        .map(|(e, kind)| {
            let mut v = view(e, Some(&index), now);
            v["task_kind"] = json!(kind);
            v["done"] = json!(done);
            v
        })
        .collect();
    // A grid worker's due key-group follow-ups (audited when any), beside the events.
    let follow_ups = if done {
        Vec::new()
    } else {
        minqing_domain::personal::key_groups::due_follow_ups(&state, &caller).await?
    };
    Ok(Json(json!({
        "total": total, "done": done, "tasks": tasks,
        "key_group_follow_ups": follow_ups,
    })))
}

/// Assignee list parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssigneeQuery {
    /// Only this role: grid_worker, mediator, leader, reception, risk_centre.
    pub role: Option<String>,
    /// Only grid workers of this grid.
    pub grid: Option<String>,
    /// Only mediators of this organisation.
    pub org: Option<String>,
}

/// The unit of an account as the API shows it.
fn unit_json(kind: &str, unit: &str, index: &Index) -> Value {
    if kind == "grid" {
        let name = index
            .area(unit)
            .map_or_else(|| unit.to_string(), |a| a.area.name.clone());
        json!({"kind": kind, "name": name, "code": unit})
    } else {
        json!({"kind": kind, "name": unit})
    }
}

/// The accounts work can be assigned to (reception, leaders, risk centre): active
/// accounts whose role works events, each with `username`, `display`, `role`, `unit`
/// (`{kind, name}`; a grid worker's first grid, with its `code`), `grids` and
/// `mediation_org`. No personal data.
#[utoipa::path(get, path = "/api/v1/assignees", tag = "events", params(AssigneeQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "`{assignees: [...]}`"), (status = 401), (status = 403)))]
pub async fn assignees(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AssigneeQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Assign)?;
    let role = match q.role.as_deref() {
        None => None,
        Some(r) => Some(
            Role::parse(r)
                .filter(|r| r.allows(Permission::EventsWrite))
                .ok_or_else(|| {
                    ApiError::BadRequest(
                        "role must be grid_worker, mediator, leader, reception or risk_centre"
                            .into(),
                    )
                })?,
        ),
    };
    let index = state.index()?;
    let list = users::list(&state.store).await?;
    let out: Vec<Value> = list
        .iter()
        .filter(|u| !u.disabled && u.role.allows(Permission::EventsWrite))
        .filter(|u| role.is_none_or(|r| u.role == r))
        .filter(|u| q.grid.as_ref().is_none_or(|g| u.grids.contains(g)))
        .filter(|u| {
            q.org
                .as_ref()
                .is_none_or(|o| u.mediation_org.as_ref() == Some(o))
        })
        .map(|u| {
            let grid = u.grids.first().map(String::as_str).unwrap_or_default();
            let unit = events::unit_of(u.role, u.mediation_org.as_deref(), grid)
                .filter(|(k, unit)| *k != "grid" || !unit.is_empty())
                .map_or(Value::Null, |(k, unit)| unit_json(k, &unit, &index));
            json!({
                "username": u.username,
                "display": u.display,
                "role": u.role,
                "unit": unit,
                "grids": u.grids,
                "mediation_org": u.mediation_org,
            })
        })
        .collect();
    Ok(Json(json!({"total": out.len(), "assignees": out})))
}

/// Alert parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// `all`: the district's alerts (screen, leaders, risk centre, admins), without
    /// personal data and without read marks. The screen's default.
    pub scope: Option<String>,
    /// 1–1000, default 200 (the counts cover every alert).
    pub limit: Option<String>,
}

/// An alert as the caller sees it.
pub fn alert_json(
    a: &Alert,
    e: Option<&Event>,
    index: Option<&Index>,
    read: Option<bool>,
) -> Value {
    let mut v = json!({"code": a.code, "kind": a.kind, "title": a.title, "at": format_utc(a.at)});
    if let Some(e) = e {
        let p = public_view(&view(e, index, a.at));
        for k in [
            "category",
            "status",
            "risk_tier",
            "community",
            "township",
            "grid",
        ] {
            v[k] = p.get(k).cloned().unwrap_or(Value::Null);
        }
    }
    if let Some(r) = read {
        v["read"] = json!(r);
    }
    v
}

/// Whether a role may see the district's alerts.
fn sees_all_alerts(role: Role) -> bool {
    matches!(
        role,
        Role::Screen | Role::Leader | Role::RiskCentre | Role::Admin
    )
}

/// The caller's alerts: for the events they own, or their organisation, grid or unit
/// owns, that are due within 24 h (`due_soon`), `overdue`, became large-risk in the last
/// 7 days (`large_risk`) or are `supervised`; each `{code, kind, title, at, read,
/// category, status, risk_tier, community, township, grid}`, newest first, with
/// `unread` and `counts` per kind. `scope=all` (the screen's default): the whole
/// district's, with counts and titles, no personal data and no read marks.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "events", params(AlertQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "`{scope, total, unread, counts, alerts}`"),
              (status = 400), (status = 401), (status = 403)))]
pub async fn alerts(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AlertQuery>,
) -> Result<Json<Value>, ApiError> {
    let all = match q.scope.as_deref() {
        Some("all") => true,
        Some("mine") => false,
        None => caller.role == Role::Screen,
        Some(_) => return Err(ApiError::BadRequest("scope must be all or mine".into())),
    };
    let limit = q
        .limit
        .as_deref()
        .map(|v| parse_int("limit", v, 1..=1000))
        .transpose()?
        .unwrap_or(200) as usize;
    let now = state.clock.now();
    let index = state.index().ok();
    if all {
        if !sees_all_alerts(caller.role) {
            return Err(ApiError::Forbidden(format!(
                "the role {} sees its own alerts only",
                caller.role.as_str()
            )));
        }
        let events = state.events();
        let list = work::all_alerts(&events.events, now);
        let body: Vec<Value> = list
            .iter()
            .take(limit)
            .map(|a| alert_json(a, events.get(&a.code), index.as_deref(), None))
            .collect();
        return Ok(Json(json!({
            "scope": "all",
            "total": list.len(),
            "counts": work::count_kinds(&list),
            "alerts": body,
        })));
    }
    caller.require(Permission::EventsRead)?;
    let read = write::alerts_read(&state.store, caller.user_id).await?;
    let events = state.events();
    let list: Vec<Alert> = work::alerts_for(&caller, &events.events, now)
        .into_iter()
        .filter(|a| events.get(&a.code).is_some_and(|e| caller.can_see(e)))
        .collect();
    let unread = list.iter().filter(|a| !read.contains(&a.key())).count();
    let mut sorted: Vec<&Alert> = list.iter().collect();
    // Unread first, each newest first.
    sorted.sort_by_key(|a| read.contains(&a.key()));
    let body: Vec<Value> = sorted
        .iter()
        .take(limit)
        .map(|a| {
            alert_json(
                a,
                events.get(&a.code),
                index.as_deref(),
                Some(read.contains(&a.key())),
            )
        })
        .collect();
    Ok(Json(json!({
        "scope": "mine",
        "total": list.len(),
        "unread": unread,
        "counts": work::count_kinds(&list),
        "alerts": body,
    })))
}

/// Which alerts to mark read.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// Event codes whose current alerts are read; absent: every current alert.
    pub codes: Option<Vec<String>>,
}

/// Mark the caller's current alerts read: those of `codes`, or all of them (`{}`).
/// A later alert of the same event (a new deadline, a new supervision) is unread again.
#[utoipa::path(post, path = "/api/v1/alerts/read", tag = "events", request_body = ReadRequest,
    security(("bearer" = [])),
    responses((status = 200, description = "`{marked, unread}`"), (status = 401), (status = 403), (status = 422)))]
pub async fn alerts_read(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::EventsRead)?;
    let body = body.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let req: ReadRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ReadRequest::default()
    } else {
        super::events::parse_json(Ok(body))?
    };
    if let Some(c) = &req.codes
        && c.len() > 10_000
    {
        return Err(ApiError::Unprocessable(
            "at most 10000 codes at once".into(),
        ));
    }
    let now = state.clock.now();
    let mine: Vec<Alert> = {
        let events = state.events();
        work::alerts_for(&caller, &events.events, now)
            .into_iter()
            .filter(|a| events.get(&a.code).is_some_and(|e| caller.can_see(e)))
            .collect()
    };
    let wanted: Option<HashSet<&str>> = req
        .codes
        .as_ref()
        .map(|c| c.iter().map(String::as_str).collect());
    let marks: Vec<(String, String, i64)> = mine
        .iter()
        .filter(|a| wanted.as_ref().is_none_or(|w| w.contains(a.code.as_str())))
        .map(Alert::key)
        .collect();
    write::mark_alerts_read(&state.store, caller.user_id, &marks, now).await?;
    let read = write::alerts_read(&state.store, caller.user_id).await?;
    let unread = mine.iter().filter(|a| !read.contains(&a.key())).count();
    Ok(Json(json!({"marked": marks.len(), "unread": unread})))
}

/// Workload parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WorkloadQuery {
    /// Accepted on or after: a date YYYY-MM-DD (whole days in China Standard Time) or an
    /// RFC 3339 instant. Without from and to: the calendar year of the latest event.
    pub from: Option<String>,
    /// Accepted on or before (the whole day of a date; both ends are inclusive).
    pub to: Option<String>,
}

fn load_json(l: &work::Load) -> Value {
    let mut v = serde_json::to_value(l).unwrap_or(Value::Null);
    if let Some(d) = l.mean_closure_days {
        v["mean_closure_days"] = json!((d * 100.0).round() / 100.0);
    }
    if let Some(d) = l.median_closure_days {
        v["median_closure_days"] = json!((d * 100.0).round() / 100.0);
    }
    if let Some(r) = l.satisfaction_rate {
        v["satisfaction_rate"] = json!((r * 10_000.0).round() / 10_000.0);
    }
    v
}

/// Model 5 per owner (leaders, admins): for the events accepted in the window, per
/// owner account (`by_owner`), per mediation organisation (`by_org`) and per owning unit
/// (`by_unit`): events, open, closed, overdue (open past the deadline plus closed late),
/// mean days to closure and satisfaction counts at closure.
#[utoipa::path(get, path = "/api/v1/analysis/workload", tag = "analysis", params(WorkloadQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "`{window, total, by_owner, by_org, by_unit, without_owner}`"),
              (status = 400), (status = 401), (status = 403)))]
pub async fn workload(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<WorkloadQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::Workload)?;
    let window = minqing_domain::time::parse_window(q.from.as_deref(), q.to.as_deref())?;
    let now = state.clock.now();
    let index = state.index()?;
    let events = state.events();
    let window = window.or_else(|| {
        let last = events.events.iter().map(|e| e.reported_at).max()?;
        let year = minqing_domain::time::local_year(last);
        let from = format!("{year}-01-01");
        let to = format!("{year}-12-31");
        minqing_domain::time::parse_window(Some(&from), Some(&to))
            .ok()
            .flatten()
    });
    let w = work::workload(events.events.iter(), window, now);
    drop(events);
    let window_json = match window {
        None => json!({"from": null, "to": null, "timezone": "UTC+8"}),
        Some(w) => json!({
            "from": (w.from > i64::MIN / 4).then(|| minqing_domain::time::format_date(w.from)),
            "to": (w.to < i64::MAX / 4).then(|| minqing_domain::time::format_date(w.to - 1)),
            "timezone": "UTC+8",
        }),
    };
    let by_owner: Vec<Value> = w
        .by_owner
        .iter()
        .map(|(u, (d, l))| {
            let mut v = load_json(l);
            v["username"] = json!(u);
            v["display"] = json!(owner_name(u, d, &index));
            v
        })
        .collect();
    let by_org: Vec<Value> = w
        .by_org
        .iter()
        .map(|(o, l)| {
            let mut v = load_json(l);
            v["org"] = json!(o);
            v
        })
        .collect();
    let by_unit: Vec<Value> = w
        .by_unit
        .iter()
        .map(|((k, u), l)| {
            let mut v = load_json(l);
            v["unit"] = unit_json(k, u, &index);
            v
        })
        .collect();
    Ok(Json(json!({
        "window": window_json,
        "total": load_json(&w.total),
        "without_owner": w.without_owner,
        "by_owner": by_owner,
        "by_org": by_org,
        "by_unit": by_unit,
    })))
}

/// An owner as people read it: the account's display name; a grid worker's account
/// without one (the demo's `grid-<code>`) by its grid's name, never the account code.
fn owner_name(username: &str, display: &str, index: &Index) -> String {
    if display == username
        && let Some(grid) = username.strip_prefix("grid-")
        && let Some(a) = index.area(grid)
    {
        return format!("{}（网格员）", a.area.name);
    }
    display.to_string()
}

/// Funnel parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FunnelQuery {
    /// Accepted on or after: a date YYYY-MM-DD (whole days in China Standard Time) or an
    /// RFC 3339 instant. Without from and to: every event.
    pub from: Option<String>,
    /// Accepted on or before (the whole day of a date; both ends are inclusive).
    pub to: Option<String>,
}

/// The closed loop's funnel (受理 → 调解 → 化解/分流 → 办结 → 回访) of a period's flow: of
/// the events accepted in the period, how many had reached each stage by the period's
/// end, read from each event's history (`accepted`, `mediation`, `settled`, `closed`,
/// `followed_up`; each at most the one before),
/// `mediated` (really through a mediation organisation) and `duplicates` (left out).
/// A public aggregate, like the models.
#[utoipa::path(get, path = "/api/v1/analysis/funnel", tag = "analysis", params(FunnelQuery),
    responses((status = 200, description = "`{window, accepted, mediation, settled, closed, followed_up, mediated, duplicates}`"),
              (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody)))]
pub async fn funnel(
    State(state): State<AppState>,
    access: minqing_domain::auth::Access,
    Query(q): Query<FunnelQuery>,
) -> Result<Json<Value>, ApiError> {
    access.require(Permission::Aggregates)?;
    let window = minqing_domain::time::parse_window(q.from.as_deref(), q.to.as_deref())?;
    state.index()?;
    let f = {
        let events = state.events();
        work::funnel(events.events.iter(), &events.reached, window)
    };
    let mut body = serde_json::to_value(&f).unwrap_or(Value::Null);
    body["window"] = match window {
        None => json!({"from": null, "to": null, "timezone": "UTC+8"}),
        Some(w) => json!({
            "from": (w.from > i64::MIN / 4).then(|| minqing_domain::time::format_date(w.from)),
            "to": (w.to < i64::MAX / 4).then(|| minqing_domain::time::format_date(w.to - 1)),
            "timezone": "UTC+8",
        }),
    };
    Ok(Json(body))
}
