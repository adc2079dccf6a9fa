//! The forces on the ground (群防群治): patrol teams and their patrols, the 1+1+4+N
//! forces of every grid, and the grid work list with its admission rule (网格事项准入).
//!
//! - `patrols.rs` — teams, members (the staffing standard), patrols with their GPS
//!   tracks, the patrol filters, and logging a patrol;
//! - `coverage.rs` — model 3's patrol coverage of significant hot cells;
//! - `grid_forces.rs` — the 1+1+4+N forces of a grid and the full-time rates;
//! - `work_list.rs` — the admission catalogue and the tasks dispatched to grids;
//! - `import.rs` — the import files' columns and row checks;
//! - `store.rs` — reading these tables at start.
//!
//! Everything is read once at start into [`ForcesIndex`] (held by the register index, so
//! every loader builds it), and writes (a logged patrol, a dispatched task) commit to the
//! store before they are applied to it: no read of the forces runs SQL.
//!
//! **The staffing standard and the 3,000.** The source gives 163 teams of 3,000+ people
//! and a staffing standard of 10–15 people per urban street team, 8–10 per township team
//! and 3–8 per village or community team. 163 teams of at most 15 are at most 2,445
//! people, so the two figures only agree if the standard counts a team's core
//! (专职/骨干) patrollers and the 3,000+ also count its volunteers (义务巡逻队员). That is
//! the reading here: every member has a `duty`, `core` or `volunteer`; the standard holds
//! for the core of every team, and the member count includes both.
//!
//! Phones of team members and grid forces are stored encrypted (the residents' scheme,
//! `personal::crypto`, under the `phone` column label) and the index holds them only
//! masked: no plain phone is kept in memory.

pub mod coverage;
pub mod grid_forces;
pub mod import;
pub mod patrols;
pub mod store;
pub mod tiles;
pub mod work_list;

pub use coverage::{CoverageReport, patrol_coverage};
pub use grid_forces::Force;
pub use patrols::{Patrol, PatrolFilter, Team};
pub use work_list::{GridTask, WorkItem};

use std::collections::HashMap;

/// Team kinds: full-time (专职) or part-time (兼职) patrol teams.
pub const TEAM_KINDS: [&str; 2] = ["full_time", "part_time"];
/// A member's duty in the team: the core counted by the staffing standard, or a volunteer.
pub const MEMBER_DUTIES: [&str; 2] = ["core", "volunteer"];

/// The 1+1+4+N roles of a grid's forces with their Chinese names: 1 grid leader, 1
/// full-time grid worker, the 4 forces that enter the grid, and the N others.
pub const FORCE_ROLES: [(&str, &str); 8] = [
    ("grid_leader", "网格长"),
    ("grid_worker", "专职网格员"),
    ("political_legal", "政法干警"),
    ("police", "社区民警"),
    ("urban_management", "城管队员"),
    ("property", "物业服务人员"),
    ("building_head", "楼栋长"),
    ("volunteer", "志愿者"),
];

/// The Chinese name of a force role.
pub fn role_name(role: &str) -> &'static str {
    FORCE_ROLES
        .iter()
        .find(|(r, _)| *r == role)
        .map_or("其他", |(_, n)| n)
}

/// The staffing standard: core members per team by the kind of its home area (`street`
/// and `town` townships, `community` and `village` communities).
pub fn staffing_standard(area_kind: &str) -> std::ops::RangeInclusive<u32> {
    match area_kind {
        "street" => 10..=15,
        "town" => 8..=10,
        _ => 3..=8,
    }
}

/// Everything about the forces, in memory.
#[derive(Debug, Default)]
pub struct ForcesIndex {
    pub teams: Vec<Team>,
    team_by_code: HashMap<String, u32>,
    /// Members of all teams.
    pub members: usize,
    /// Patrols ordered by start time (then code).
    pub patrols: Vec<Patrol>,
    patrol_codes: std::collections::HashSet<String>,
    /// The forces of each grid, by grid code.
    pub grid_forces: HashMap<String, Vec<Force>>,
    pub work_items: Vec<WorkItem>,
    pub tasks: Vec<GridTask>,
    /// Bumped by every applied write (tile and model caches key on it).
    pub generation: u64,
}

/// What the store holds about the forces, as read at start.
#[derive(Debug, Default)]
pub struct ForcesSnapshot {
    pub teams: Vec<store::TeamRow>,
    pub members: Vec<store::MemberRow>,
    pub patrols: Vec<store::PatrolRow>,
    pub forces: Vec<store::ForceRow>,
    pub work_items: Vec<WorkItem>,
    pub tasks: Vec<GridTask>,
}

impl ForcesIndex {
    /// Build from what the store holds, placing teams and patrols in `ix`'s areas.
    pub fn build(s: ForcesSnapshot, ix: &crate::index::Index) -> ForcesIndex {
        let mut out = ForcesIndex {
            members: s.members.len(),
            ..Default::default()
        };
        let mut counts: HashMap<&str, (u32, u32)> = HashMap::new();
        for m in &s.members {
            let c = counts.entry(m.team_code.as_str()).or_default();
            if m.duty == "core" {
                c.0 += 1;
            } else {
                c.1 += 1;
            }
        }
        for t in &s.teams {
            let (core, volunteers) = counts.get(t.code.as_str()).copied().unwrap_or_default();
            let team = Team::new(t, core, volunteers, ix);
            out.team_by_code
                .insert(team.code.clone(), out.teams.len() as u32);
            out.teams.push(team);
        }
        let mut patrols: Vec<Patrol> = s
            .patrols
            .into_iter()
            .filter_map(|p| {
                let team = *out.team_by_code.get(&p.team_code)?;
                Some(Patrol::new(p, team, ix))
            })
            .collect();
        patrols.sort_by(|a, b| (a.started_at, &a.code).cmp(&(b.started_at, &b.code)));
        out.patrol_codes = patrols.iter().map(|p| p.code.clone()).collect();
        out.patrols = patrols;
        for f in s.forces {
            out.grid_forces
                .entry(f.grid_code.clone())
                .or_default()
                .push(Force::from(f));
        }
        for v in out.grid_forces.values_mut() {
            v.sort_by(|a, b| (a.role_order(), &a.id).cmp(&(b.role_order(), &b.id)));
        }
        out.work_items = s.work_items;
        out.work_items.sort_by(|a, b| a.code.cmp(&b.code));
        out.tasks = s.tasks;
        out.tasks.sort_by(|a, b| a.code.cmp(&b.code));
        out
    }

    /// The team with `code`.
    pub fn team(&self, code: &str) -> Option<&Team> {
        self.team_by_code
            .get(code)
            .map(|&i| &self.teams[i as usize])
    }

    /// Index of the team with `code`.
    pub fn team_index(&self, code: &str) -> Option<u32> {
        self.team_by_code.get(code).copied()
    }

    /// The patrols that started in `[from, to)` (unix seconds).
    pub fn patrols_between(&self, from: i64, to: i64) -> &[Patrol] {
        let a = self.patrols.partition_point(|p| p.started_at < from);
        let b = self.patrols.partition_point(|p| p.started_at < to);
        &self.patrols[a..b.max(a)]
    }

    /// Whether a patrol code is taken.
    pub fn has_patrol(&self, code: &str) -> bool {
        self.patrol_codes.contains(code)
    }

    /// Add a committed patrol, keeping the order.
    pub fn insert_patrol(&mut self, p: Patrol) {
        let at = self
            .patrols
            .partition_point(|q| (q.started_at, &q.code) < (p.started_at, &p.code));
        self.patrol_codes.insert(p.code.clone());
        self.patrols.insert(at, p);
        self.generation += 1;
    }

    /// The work item with `code`.
    pub fn work_item(&self, code: &str) -> Option<&WorkItem> {
        self.work_items
            .binary_search_by(|w| w.code.as_str().cmp(code))
            .ok()
            .map(|i| &self.work_items[i])
    }
}
