//! The 1+1+4+N forces of a grid: its grid leader (网格长), its full-time grid worker
//! (专职网格员), the four forces that enter the grid (政法, 公安, 城管, 物业) and the N
//! others (楼栋长, volunteers); the full-time flag per grid and the full-time rate per
//! area (the source: 100 % in the urban community grids).

use super::store::ForceRow;
use crate::App;
use crate::audit::Record;
use crate::auth::{Caller, Permission};
use crate::error::{Error, Result};
use crate::model::AreaLevel;
use serde::Serialize;

/// One member of a grid's forces; the phone only masked.
#[derive(Debug, Clone, Serialize)]
pub struct Force {
    pub id: String,
    pub role: String,
    pub role_name: &'static str,
    pub name: String,
    pub phone: Option<String>,
    pub full_time: bool,
}

impl From<ForceRow> for Force {
    fn from(f: ForceRow) -> Self {
        Force {
            role_name: super::role_name(&f.role),
            id: f.id,
            role: f.role,
            name: f.name,
            phone: f.phone_masked,
            full_time: f.full_time,
        }
    }
}

impl Force {
    pub(super) fn role_order(&self) -> usize {
        super::FORCE_ROLES
            .iter()
            .position(|(r, _)| *r == self.role)
            .unwrap_or(usize::MAX)
    }
}

/// A grid's forces.
#[derive(Debug, Clone, Serialize)]
pub struct GridForces {
    pub grid_code: String,
    pub grid_name: String,
    /// Whether the grid has a full-time grid worker.
    pub full_time: bool,
    /// Members per role, in the 1+1+4+N order.
    pub counts: Vec<(String, usize)>,
    pub members: Vec<Force>,
}

/// Whether a grid's forces include a full-time grid worker.
pub fn has_full_time_worker(forces: &[Force]) -> bool {
    forces
        .iter()
        .any(|f| f.role == "grid_worker" && f.full_time)
}

/// The forces of grid `code`: names and masked phones of the people on duty there, for
/// roles that read personal records, in their grids; every read is audited.
pub async fn grid_forces(state: &App, caller: &Caller, code: &str) -> Result<GridForces> {
    caller.require(Permission::PersonalRead)?;
    let ix = state.index()?;
    let grid = ix
        .area(code)
        .filter(|a| a.area.level == AreaLevel::Grid)
        .ok_or_else(|| Error::NotFound(format!("no grid {code}")))?;
    caller.require_grid(Some(code))?;
    let members = ix
        .forces
        .read()
        .grid_forces
        .get(code)
        .cloned()
        .unwrap_or_default();
    crate::audit::append(&state.store, Record::by(caller, "read_grid_forces", code))
        .await
        .map_err(Error::internal)?;
    let counts = super::FORCE_ROLES
        .iter()
        .map(|(r, _)| {
            (
                r.to_string(),
                members.iter().filter(|m| m.role == *r).count(),
            )
        })
        .collect();
    Ok(GridForces {
        grid_code: code.to_string(),
        grid_name: grid.area.name.clone(),
        full_time: has_full_time_worker(&members),
        counts,
        members,
    })
}

/// The full-time rate of one area's grids.
#[derive(Debug, Clone, Serialize)]
pub struct FullTimeRate {
    pub code: String,
    pub name: String,
    pub grids: usize,
    pub full_time_grids: usize,
    pub rate: Option<f64>,
    /// The urban community grids among them (grids of `community` communities).
    pub urban_grids: usize,
    pub urban_full_time_grids: usize,
}

/// Full-time rates per township and for the district (first). An aggregate of grids,
/// not of people: public like the other aggregates.
pub fn full_time_rates(state: &App) -> Result<Vec<FullTimeRate>> {
    let ix = state.index()?;
    let forces = ix.forces.read();
    let mut out: Vec<FullTimeRate> = Vec::new();
    let entry = |code: &str, name: &str, out: &mut Vec<FullTimeRate>| -> usize {
        match out.iter().position(|r| r.code == code) {
            Some(i) => i,
            None => {
                out.push(FullTimeRate {
                    code: code.to_string(),
                    name: name.to_string(),
                    grids: 0,
                    full_time_grids: 0,
                    rate: None,
                    urban_grids: 0,
                    urban_full_time_grids: 0,
                });
                out.len() - 1
            }
        }
    };
    entry(crate::model::DISTRICT_CODE, "全区", &mut out);
    for g in ix.areas.iter().filter(|a| a.area.level == AreaLevel::Grid) {
        let full = forces
            .grid_forces
            .get(&g.area.code)
            .is_some_and(|f| has_full_time_worker(f));
        let chain = ix.ancestors(g);
        let urban = chain
            .iter()
            .any(|a| a.area.level == AreaLevel::Community && a.area.kind == "community");
        let mut slots = vec![0];
        if let Some(t) = chain.iter().find(|a| a.area.level == AreaLevel::Township) {
            slots.push(entry(&t.area.code, &t.area.name, &mut out));
        }
        for i in slots {
            let r = &mut out[i];
            r.grids += 1;
            r.full_time_grids += usize::from(full);
            r.urban_grids += usize::from(urban);
            r.urban_full_time_grids += usize::from(urban && full);
        }
    }
    for r in &mut out {
        r.rate = (r.grids > 0)
            .then(|| (r.full_time_grids as f64 / r.grids as f64 * 1000.0).round() / 1000.0);
    }
    out[1..].sort_by(|a, b| a.code.cmp(&b.code));
    Ok(out)
}
