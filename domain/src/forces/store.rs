//! Reading the forces' tables at start (one query per table, both backends).

use super::{ForcesSnapshot, GridTask, WorkItem};
use crate::store::{Store, dispatch};
use anyhow::{Context, Result};
use futures_util::TryStreamExt;
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct TeamRow {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub area_code: String,
}

/// A team member as the index keeps them: the phone only masked.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub id: String,
    pub team_code: String,
    pub duty: String,
}

#[derive(Debug, Clone)]
pub struct PatrolRow {
    pub code: String,
    pub team_code: String,
    pub started_at: i64,
    pub ended_at: i64,
    pub findings: String,
    pub logged_by: Option<String>,
    pub track: Vec<(f64, f64)>,
}

/// A grid force as the index keeps them: the phone only masked.
#[derive(Debug, Clone)]
pub struct ForceRow {
    pub id: String,
    pub grid_code: String,
    pub role: String,
    pub name: String,
    pub phone_masked: Option<String>,
    pub full_time: bool,
}

/// The points of a GeoJSON LineString.
pub fn parse_track(geojson: &str) -> Result<Vec<(f64, f64)>> {
    let g: geojson::Geometry = geojson.parse().context("track is not GeoJSON")?;
    match g.value {
        geojson::Value::LineString(pts) => Ok(pts
            .into_iter()
            .filter(|p| p.len() >= 2)
            .map(|p| (p[0], p[1]))
            .collect()),
        _ => anyhow::bail!("a track must be a LineString"),
    }
}

/// The GeoJSON of a track.
pub fn track_geojson(track: &[(f64, f64)]) -> String {
    let pts: Vec<String> = track
        .iter()
        .map(|(x, y)| format!("[{x:.7},{y:.7}]"))
        .collect();
    format!(
        "{{\"type\":\"LineString\",\"coordinates\":[{}]}}",
        pts.join(",")
    )
}

/// The masked form of a stored (encrypted) phone of record `id`; `None` when absent or
/// unreadable (logged).
fn masked_phone(id: &str, stored: Option<String>) -> Option<String> {
    let stored = stored?;
    match crate::personal::keys().decrypt("phone", id, &stored) {
        Ok(plain) => Some(crate::personal::mask::mask_phone(&plain)),
        Err(e) => {
            tracing::warn!(id, error = %e, "a force member's phone does not decrypt");
            None
        }
    }
}

impl Store {
    /// Everything about the forces, one table after another (one pooled connection at a
    /// time, as the start-up load runs beside the other tables' loads).
    pub async fn load_forces(&self) -> Result<ForcesSnapshot> {
        let started = std::time::Instant::now();
        let s = ForcesSnapshot {
            teams: self.load_teams().await?,
            members: self.load_members().await?,
            patrols: self.load_patrols().await?,
            forces: self.load_grid_forces().await?,
            work_items: self.load_work_items().await?,
            tasks: self.load_tasks().await?,
        };
        tracing::info!(
            patrols = s.patrols.len(),
            ms = started.elapsed().as_millis() as u64,
            "forces read"
        );
        Ok(s)
    }

    async fn load_teams(&self) -> Result<Vec<TeamRow>> {
        let sql = "SELECT code, name, kind, area_code FROM patrol_teams ORDER BY code";
        let mut out = Vec::new();
        dispatch!(self, Store, p => {
            let mut rows = sqlx::query(sql).fetch(p);
            while let Some(r) = rows.try_next().await? {
                out.push(TeamRow { code: r.try_get(0)?, name: r.try_get(1)?, kind: r.try_get(2)?, area_code: r.try_get(3)? });
            }
        });
        Ok(out)
    }

    async fn load_members(&self) -> Result<Vec<MemberRow>> {
        let sql = "SELECT id, team_code, duty FROM patrol_members ORDER BY id";
        let mut out = Vec::new();
        dispatch!(self, Store, p => {
            let mut rows = sqlx::query(sql).fetch(p);
            while let Some(r) = rows.try_next().await? {
                out.push(MemberRow { id: r.try_get(0)?, team_code: r.try_get(1)?, duty: r.try_get(2)? });
            }
        });
        Ok(out)
    }

    async fn load_patrols(&self) -> Result<Vec<PatrolRow>> {
        let sql = "SELECT code, team_code, started_at, ended_at, findings, logged_by, geojson FROM patrols ORDER BY started_at, code";
        let mut out = Vec::new();
        dispatch!(self, Store, p => {
            let mut rows = sqlx::query(sql).fetch(p);
            while let Some(r) = rows.try_next().await? {
                let geojson: String = r.try_get(6)?;
                out.push(PatrolRow {
                    code: r.try_get(0)?,
                    team_code: r.try_get(1)?,
                    started_at: r.try_get(2)?,
                    ended_at: r.try_get(3)?,
                    findings: r.try_get(4)?,
                    logged_by: r.try_get(5)?,
                    track: parse_track(&geojson)?,
                });
            }
        });
        Ok(out)
    }

    async fn load_grid_forces(&self) -> Result<Vec<ForceRow>> {
        let sql = "SELECT id, grid_code, role, name, phone, full_time FROM grid_forces ORDER BY id";
        let mut out = Vec::new();
        dispatch!(self, Store, p => {
            let mut rows = sqlx::query(sql).fetch(p);
            while let Some(r) = rows.try_next().await? {
                let id: String = r.try_get(0)?;
                let phone: Option<String> = r.try_get(4)?;
                let full_time: i64 = r.try_get(5)?;
                out.push(ForceRow {
                    phone_masked: masked_phone(&id, phone),
                    id,
                    grid_code: r.try_get(1)?,
                    role: r.try_get(2)?,
                    name: r.try_get(3)?,
                    full_time: full_time != 0,
                });
            }
        });
        Ok(out)
    }

    async fn load_work_items(&self) -> Result<Vec<WorkItem>> {
        let sql = "SELECT code, name, department, legal_basis, frequency, minutes FROM work_items ORDER BY code";
        let mut out = Vec::new();
        dispatch!(self, Store, p => {
            let mut rows = sqlx::query(sql).fetch(p);
            while let Some(r) = rows.try_next().await? {
                out.push(WorkItem {
                    code: r.try_get(0)?,
                    name: r.try_get(1)?,
                    department: r.try_get(2)?,
                    legal_basis: r.try_get(3)?,
                    frequency: r.try_get(4)?,
                    minutes: r.try_get(5)?,
                });
            }
        });
        Ok(out)
    }

    async fn load_tasks(&self) -> Result<Vec<GridTask>> {
        let sql = "SELECT code, grid_code, item_code, assignee_id, note, status, due_at, created_at, created_by, version FROM grid_tasks ORDER BY code";
        let mut out = Vec::new();
        dispatch!(self, Store, p => {
            let mut rows = sqlx::query(sql).fetch(p);
            while let Some(r) = rows.try_next().await? {
                out.push(GridTask {
                    code: r.try_get(0)?,
                    grid_code: r.try_get(1)?,
                    item_code: r.try_get(2)?,
                    assignee_id: r.try_get(3)?,
                    note: r.try_get(4)?,
                    status: r.try_get(5)?,
                    due_at: r.try_get(6)?,
                    created_at: r.try_get(7)?,
                    created_by: r.try_get(8)?,
                    version: r.try_get(9)?,
                });
            }
        });
        Ok(out)
    }
}
