//! The grid work list (网格工作清单) and item admission (网格事项准入): only a task whose
//! type is on the list may be dispatched to a grid. A dispatched task is stored with its
//! first history step in one transaction and appears in the grid's task list; the
//! expected minutes of a grid's open admitted tasks are its workload (model 5).

use crate::App;
use crate::auth::{Caller, Permission};
use crate::error::{Detail, Error, Result};
use crate::model::AreaLevel;
use crate::store::{StoreTx, dispatch};
use serde::{Deserialize, Serialize};

/// The rule a refused dispatch names.
pub const ADMISSION_RULE: &str = "grid_work_list_admission";

/// One task type admitted into grids.
#[derive(Debug, Clone, Serialize)]
pub struct WorkItem {
    pub code: String,
    pub name: String,
    /// The issuing department.
    pub department: String,
    /// The legal or policy basis.
    pub legal_basis: String,
    /// How often (e.g. `每月`, `按需`).
    pub frequency: String,
    /// Expected minutes of work per task.
    pub minutes: i64,
}

/// A task dispatched to a grid.
#[derive(Debug, Clone, Serialize)]
pub struct GridTask {
    pub code: String,
    pub grid_code: String,
    pub item_code: String,
    /// A member of the grid's forces, if assigned.
    pub assignee_id: Option<String>,
    pub note: String,
    /// `open` or `done`.
    pub status: String,
    pub due_at: i64,
    pub created_at: i64,
    pub created_by: String,
    pub version: i64,
}

/// A dispatch request.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DispatchRequest {
    /// A code of the grid work list (`GET /api/v1/work-items`).
    pub item_code: String,
    #[serde(default)]
    pub note: String,
    /// A member of the grid's 1+1+4+N forces.
    pub assignee_id: Option<String>,
    /// Due date `YYYY-MM-DD` (the whole day, CST); default 7 days from now.
    pub due: Option<String>,
}

/// Dispatch an admitted task to grid `grid`.
pub async fn dispatch_task(
    state: &App,
    caller: &Caller,
    grid: &str,
    req: DispatchRequest,
) -> Result<GridTask> {
    caller.require(Permission::DispatchTasks)?;
    let ix = state.index()?;
    if ix
        .area(grid)
        .is_none_or(|a| a.area.level != AreaLevel::Grid)
    {
        return Err(Error::NotFound(format!("no grid {grid}")));
    }
    let item = req.item_code.trim().to_string();
    {
        let forces = ix.forces.read();
        if forces.work_item(&item).is_none() {
            return Err(Error::UnprocessableWith {
                message: format!(
                    "网格事项准入：事项 {item:?} 不在网格工作清单上，未列入清单的事项不得派入网格 (rule {ADMISSION_RULE}: only task types on the grid work list may be dispatched to a grid)"
                ),
                detail: Detail::NotAdmitted {
                    rule: ADMISSION_RULE,
                    item_code: item.to_string(),
                },
            });
        }
        if let Some(a) = &req.assignee_id
            && !forces
                .grid_forces
                .get(grid)
                .is_some_and(|f| f.iter().any(|m| m.id == *a))
        {
            return Err(Error::Unprocessable(format!(
                "{a} is not one of the forces of grid {grid}"
            )));
        }
    }
    if req.note.chars().count() > 2000 {
        return Err(Error::Invalid("note may be at most 2000 characters".into()));
    }
    let now = state.clock.now();
    let due_at = match req.due.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => now + 7 * crate::time::DAY,
        Some(d) => {
            crate::time::parse_bound(d, crate::time::End::To).ok_or_else(|| {
                Error::Invalid(format!("due must be a date YYYY-MM-DD, got {d:?}"))
            })? - 1
        }
    };
    if due_at < now {
        return Err(Error::Invalid("due is in the past".into()));
    }
    let task = GridTask {
        code: format!("GT{now}{:06}", rand::random::<u32>() % 1_000_000),
        grid_code: grid.to_string(),
        item_code: item,
        assignee_id: req.assignee_id,
        note: req.note.trim().to_string(),
        status: "open".into(),
        due_at,
        created_at: now,
        created_by: caller.username.clone(),
        version: 1,
    };
    let mut tx = state.store.begin().await?;
    insert_task(&mut tx, &task).await?;
    tx.commit().await?;
    {
        let mut forces = ix.forces.write();
        let at = forces.tasks.partition_point(|t| t.code < task.code);
        forces.tasks.insert(at, task.clone());
        forces.generation += 1;
    }
    Ok(task)
}

/// Finishing a task.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompleteRequest {
    /// What was done (1–2000 characters).
    pub note: String,
    /// The task's `version` as read; a stale one is a 409.
    pub version: Option<i64>,
}

/// Mark task `code` of grid `grid` done with a note (the grid's grid workers and the
/// roles that take steps everywhere): the status, version and a history step in one
/// transaction, then the index.
pub async fn complete_task(
    state: &App,
    caller: &Caller,
    grid: &str,
    code: &str,
    req: CompleteRequest,
) -> Result<GridTask> {
    caller.require(Permission::EventsWrite)?;
    let ix = state.index()?;
    if ix
        .area(grid)
        .is_none_or(|a| a.area.level != AreaLevel::Grid)
    {
        return Err(Error::NotFound(format!("no grid {grid}")));
    }
    caller.require_grid(Some(grid))?;
    let current = ix
        .forces
        .read()
        .tasks
        .iter()
        .find(|t| t.code == code && t.grid_code == grid)
        .cloned()
        .ok_or_else(|| Error::NotFound(format!("no task {code} in grid {grid}")))?;
    let note = req.note.trim().to_string();
    if !(1..=2000).contains(&note.chars().count()) {
        return Err(Error::Unprocessable(
            "note must say in 1–2000 characters what was done".into(),
        ));
    }
    let version = req.version.unwrap_or(current.version);
    if current.status != "open" || version != current.version {
        return Err(Error::Conflict {
            message: format!(
                "task {code} is {} at version {} (version {version} sent): reload it",
                current.status, current.version
            ),
            detail: None,
        });
    }
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let n = dispatch!(&mut tx, StoreTx, p => {
        let n = sqlx::query("UPDATE grid_tasks SET status = 'done', version = version + 1 WHERE code = $1 AND version = $2 AND status = 'open'")
            .bind(code).bind(version)
            .execute(&mut **p).await.map_err(Error::internal)?.rows_affected();
        if n == 1 {
            sqlx::query("INSERT INTO grid_task_steps (task_code, seq, at, actor, action, note) \
                         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, 'done', $4 FROM grid_task_steps WHERE task_code = $1")
                .bind(code).bind(now).bind(&caller.username).bind(&note)
                .execute(&mut **p).await.map_err(Error::internal)?;
        }
        n
    });
    if n != 1 {
        return Err(Error::Conflict {
            message: format!("task {code} has changed: reload it"),
            detail: None,
        });
    }
    tx.commit().await?;
    let mut forces = ix.forces.write();
    let done = forces
        .tasks
        .iter_mut()
        .find(|t| t.code == code)
        .map(|t| {
            t.status = "done".into();
            t.version += 1;
            t.clone()
        })
        .ok_or_else(|| Error::NotFound(format!("no task {code}")))?;
    forces.generation += 1;
    Ok(done)
}

/// The task row and its first history step.
async fn insert_task(tx: &mut StoreTx, t: &GridTask) -> Result<()> {
    dispatch!(tx, StoreTx, p => {
        sqlx::query("INSERT INTO grid_tasks (code, grid_code, item_code, assignee_id, note, status, due_at, created_at, created_by, version) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
            .bind(&t.code).bind(&t.grid_code).bind(&t.item_code).bind(&t.assignee_id).bind(&t.note)
            .bind(&t.status).bind(t.due_at).bind(t.created_at).bind(&t.created_by).bind(t.version)
            .execute(&mut **p).await.map_err(Error::internal)?;
        sqlx::query("INSERT INTO grid_task_steps (task_code, seq, at, actor, action, note) VALUES ($1, 1, $2, $3, 'dispatch', $4)")
            .bind(&t.code).bind(t.created_at).bind(&t.created_by).bind(&t.note)
            .execute(&mut **p).await.map_err(Error::internal)?;
    });
    Ok(())
}

/// A grid's admitted tasks and its workload.
#[derive(Debug, Clone, Serialize)]
pub struct GridTasks {
    pub grid_code: String,
    pub open_tasks: usize,
    /// Expected minutes of the open tasks (the work list's minutes per item).
    pub open_minutes: i64,
    pub tasks: Vec<GridTaskView>,
}

/// A task with its item's name.
#[derive(Debug, Clone, Serialize)]
pub struct GridTaskView {
    #[serde(flatten)]
    pub task: GridTask,
    pub item_name: String,
    pub department: String,
    pub minutes: i64,
}

/// The admitted tasks of grid `grid`, newest first: for its grid workers and for roles
/// that read events everywhere.
pub fn grid_tasks(state: &App, caller: &Caller, grid: &str) -> Result<GridTasks> {
    caller.require(Permission::EventsRead)?;
    let ix = state.index()?;
    if ix
        .area(grid)
        .is_none_or(|a| a.area.level != AreaLevel::Grid)
    {
        return Err(Error::NotFound(format!("no grid {grid}")));
    }
    caller.require_grid(Some(grid))?;
    let forces = ix.forces.read();
    let mut tasks: Vec<GridTaskView> = forces
        .tasks
        .iter()
        .filter(|t| t.grid_code == grid)
        .map(|t| {
            let item = forces.work_item(&t.item_code);
            GridTaskView {
                task: t.clone(),
                item_name: item.map(|i| i.name.clone()).unwrap_or_default(),
                department: item.map(|i| i.department.clone()).unwrap_or_default(),
                minutes: item.map_or(0, |i| i.minutes),
            }
        })
        .collect();
    tasks.sort_by_key(|t| std::cmp::Reverse(t.task.created_at));
    let open: Vec<&GridTaskView> = tasks.iter().filter(|t| t.task.status == "open").collect();
    Ok(GridTasks {
        grid_code: grid.to_string(),
        open_tasks: open.len(),
        open_minutes: open.iter().map(|t| t.minutes).sum(),
        tasks,
    })
}
