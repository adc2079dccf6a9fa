//! Patrol teams (群防群治巡逻队) and their patrols: the in-memory records, the list
//! filters and logging a patrol.

use super::store::{PatrolRow, TeamRow, track_geojson};
use crate::App;
use crate::auth::{Caller, Permission};
use crate::error::{Error, Result};
use crate::index::Index;
use crate::store::{StoreTx, dispatch};

/// The H3 resolution of a patrol's visited cells: model 3's default resolution.
pub const VISIT_RESOLUTION: u8 = crate::analysis::DEFAULT_RESOLUTION;

/// A patrol team with its members counted.
#[derive(Debug, Clone)]
pub struct Team {
    pub code: String,
    pub name: String,
    /// `full_time` or `part_time`.
    pub kind: String,
    pub area_code: String,
    pub area_name: String,
    /// `street`, `town`, `community` or `village`.
    pub area_kind: String,
    /// The township of the home area (itself for a township team).
    pub township_code: String,
    pub core_members: u32,
    pub volunteers: u32,
}

impl Team {
    pub(super) fn new(t: &TeamRow, core: u32, volunteers: u32, ix: &Index) -> Team {
        let area = ix.area(&t.area_code);
        let township = area
            .map(|a| ix.ancestors(a))
            .and_then(|chain| {
                chain
                    .into_iter()
                    .find(|a| a.area.level == crate::model::AreaLevel::Township)
            })
            .map(|a| a.area.code.clone())
            .unwrap_or_default();
        Team {
            code: t.code.clone(),
            name: t.name.clone(),
            kind: t.kind.clone(),
            area_code: t.area_code.clone(),
            area_name: area.map(|a| a.area.name.clone()).unwrap_or_default(),
            area_kind: area.map(|a| a.area.kind.clone()).unwrap_or_default(),
            township_code: township,
            core_members: core,
            volunteers,
        }
    }

    pub fn members(&self) -> u32 {
        self.core_members + self.volunteers
    }

    /// Whether the team's core meets the staffing standard of its home area.
    pub fn meets_standard(&self) -> bool {
        super::staffing_standard(&self.area_kind).contains(&self.core_members)
    }
}

/// One patrol with its track and the cells it visited.
#[derive(Debug, Clone)]
pub struct Patrol {
    pub code: String,
    /// Index of the team in `ForcesIndex::teams`.
    pub team: u32,
    pub started_at: i64,
    pub ended_at: i64,
    pub findings: String,
    /// The account that logged it (patrols logged in the app), if any.
    pub logged_by: Option<String>,
    /// GPS fixes, lon/lat.
    pub track: Vec<(f64, f64)>,
    /// Lon/lat bounding box of the track: min lon, min lat, max lon, max lat.
    pub bbox: [f64; 4],
    /// The H3 cells (resolution [`VISIT_RESOLUTION`]) holding a fix of the track, sorted,
    /// without repeats: the cells this patrol visited.
    pub cells: Vec<u64>,
    /// Centres (lon/lat) of `cells`, for the tile layer's coverage cells.
    pub cell_centres: Vec<(f64, f64)>,
    /// Codes of the grid, community and township of the first fix (empty outside).
    pub areas: Vec<String>,
    /// The track for the `patrols` tile layer, prepared once: in world coordinates,
    /// simplified for each zoom from `tiles::LINE_MIN_ZOOM` (see `tiles::prepare_lines`).
    pub lines: Vec<Vec<(f64, f64)>>,
    /// The CST day the patrol started (`YYYY-MM-DD`), as the tiles label it.
    pub day: String,
}

/// The H3 cells visited by a track: the cells holding one of its fixes.
pub fn visited_cells(track: &[(f64, f64)]) -> Vec<u64> {
    let res = h3o::Resolution::try_from(VISIT_RESOLUTION).expect("valid resolution");
    let mut cells: Vec<u64> = track
        .iter()
        .filter_map(|&(lon, lat)| h3o::LatLng::new(lat, lon).ok())
        .map(|ll| u64::from(ll.to_cell(res)))
        .collect();
    cells.sort_unstable();
    cells.dedup();
    cells
}

impl Patrol {
    pub(super) fn new(p: PatrolRow, team: u32, ix: &Index) -> Patrol {
        let mut bbox = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for &(x, y) in &p.track {
            bbox = [
                bbox[0].min(x),
                bbox[1].min(y),
                bbox[2].max(x),
                bbox[3].max(y),
            ];
        }
        let areas = p
            .track
            .first()
            .and_then(|&(x, y)| ix.grid_at(x, y))
            .map(|g| {
                ix.ancestors(g)
                    .into_iter()
                    .filter(|a| a.area.level != crate::model::AreaLevel::District)
                    .map(|a| a.area.code.clone())
                    .collect()
            })
            .unwrap_or_default();
        let cells = visited_cells(&p.track);
        let cell_centres = cells
            .iter()
            .filter_map(|&c| h3o::CellIndex::try_from(c).ok())
            .map(|c| {
                let ll = h3o::LatLng::from(c);
                (ll.lng(), ll.lat())
            })
            .collect();
        Patrol {
            lines: super::tiles::prepare_lines(&p.track),
            day: crate::time::format_date(p.started_at),
            cells,
            cell_centres,
            code: p.code,
            team,
            started_at: p.started_at,
            ended_at: p.ended_at,
            findings: p.findings,
            logged_by: p.logged_by,
            track: p.track,
            bbox,
            areas,
        }
    }
}

/// The patrol list's filters.
#[derive(Debug, Clone, Default)]
pub struct PatrolFilter {
    pub window: Option<crate::time::Window>,
    pub team: Option<String>,
    /// A township, community or grid code: patrols that started there, or whose team's
    /// home area is that area.
    pub area: Option<String>,
}

/// The patrols matching `f`, oldest first, with the total before `limit`.
pub fn list(state: &App, f: &PatrolFilter, limit: usize) -> Result<(usize, Vec<Patrol>)> {
    let ix = state.index()?;
    let forces = ix.forces.read();
    if let Some(t) = &f.team
        && forces.team(t).is_none()
    {
        return Err(Error::NotFound(format!("no patrol team {t}")));
    }
    if let Some(a) = &f.area
        && ix.area(a).is_none()
    {
        return Err(Error::NotFound(format!("no area {a}")));
    }
    let slice = match f.window {
        Some(w) => forces.patrols_between(w.from, w.to),
        None => &forces.patrols[..],
    };
    let team = f.team.as_deref().and_then(|t| forces.team_index(t));
    let mut total = 0;
    let mut out = Vec::new();
    for p in slice {
        if team.is_some_and(|t| t != p.team) {
            continue;
        }
        if let Some(a) = &f.area {
            let home = &forces.teams[p.team as usize];
            if !p.areas.iter().any(|c| c == a) && home.area_code != *a && home.township_code != *a {
                continue;
            }
        }
        total += 1;
        if out.len() < limit {
            out.push(p.clone());
        }
    }
    Ok((total, out))
}

/// A patrol logged in the app (the grid view): the caller walked `track` from
/// `started_at` to `ended_at` and found `findings`.
#[derive(Debug, Clone, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PatrolLog {
    /// The team patrolled for; by default the team of the caller's grid's community (or
    /// township).
    pub team: Option<String>,
    /// RFC 3339 instants or unix seconds.
    pub started_at: i64,
    pub ended_at: i64,
    /// GPS fixes `[lon, lat]` in WGS-84, in order; at least 2.
    pub track: Vec<[f64; 2]>,
    #[serde(default)]
    pub findings: String,
}

/// Most fixes a logged track may have.
pub const MAX_TRACK_POINTS: usize = 20_000;

/// Log a patrol: checked, stored with an audit-free history (the patrol row is its own
/// record, with who logged it), then added to the index.
pub async fn log(state: &App, caller: &Caller, req: PatrolLog) -> Result<Patrol> {
    caller.require(Permission::Intake)?;
    if req.track.len() < 2 {
        return Err(Error::Invalid("a track needs at least 2 fixes".into()));
    }
    if req.track.len() > MAX_TRACK_POINTS {
        return Err(Error::TooLarge(format!(
            "a track may have at most {MAX_TRACK_POINTS} fixes"
        )));
    }
    if req.findings.chars().count() > 2000 {
        return Err(Error::Invalid(
            "findings may be at most 2000 characters".into(),
        ));
    }
    let now = state.clock.now();
    if req.ended_at < req.started_at {
        return Err(Error::Invalid(
            "ended_at must not be before started_at".into(),
        ));
    }
    if req.ended_at > now + 300 {
        return Err(Error::Invalid("ended_at is in the future".into()));
    }
    if req.ended_at - req.started_at > 24 * 3600 {
        return Err(Error::Invalid("a patrol lasts at most 24 hours".into()));
    }
    let ix = state.index()?;
    let track: Vec<(f64, f64)> = req.track.iter().map(|p| (p[0], p[1])).collect();
    if track
        .iter()
        .any(|&(x, y)| !x.is_finite() || !y.is_finite() || x.abs() > 180.0 || y.abs() > 90.0)
    {
        return Err(Error::Invalid("track coordinates must be lon/lat".into()));
    }
    let (x, y) = track[0];
    let grid = ix
        .grid_at(x, y)
        .ok_or_else(|| Error::Unprocessable("the track starts outside the district".into()))?;
    caller.require_grid(Some(&grid.area.code))?;
    let chain: Vec<String> = ix
        .ancestors(grid)
        .into_iter()
        .map(|a| a.area.code.clone())
        .collect();
    let team_code = {
        let forces = ix.forces.read();
        match &req.team {
            Some(t) => forces
                .team(t)
                .map(|t| t.code.clone())
                .ok_or_else(|| Error::Unprocessable(format!("no patrol team {t}")))?,
            // The community's team, else the township's.
            None => chain
                .iter()
                .find_map(|c| forces.teams.iter().find(|t| t.area_code == *c))
                .map(|t| t.code.clone())
                .ok_or_else(|| {
                    Error::Unprocessable("no patrol team serves this area; name one".into())
                })?,
        }
    };
    let row = PatrolRow {
        code: String::new(),
        team_code,
        started_at: req.started_at,
        ended_at: req.ended_at,
        findings: req.findings.trim().to_string(),
        logged_by: Some(caller.username.clone()),
        track,
    };
    let mut tx = state.store.begin().await?;
    let row = insert_logged(&mut tx, row, now).await?;
    tx.commit().await?;
    let patrol = {
        let mut forces = ix.forces.write();
        let team = forces
            .team_index(&row.team_code)
            .expect("checked above; teams never go away");
        let p = Patrol::new(row, team, &ix);
        forces.insert_patrol(p.clone());
        p
    };
    Ok(patrol)
}

/// Insert a logged patrol under a fresh code (`PL` + the logging time in seconds + 6
/// random digits: unique without a counter that concurrent writers would contend for).
async fn insert_logged(tx: &mut StoreTx, mut row: PatrolRow, now: i64) -> Result<PatrolRow> {
    row.code = format!("PL{now}{:06}", rand::random::<u32>() % 1_000_000);
    let geojson = track_geojson(&row.track);
    dispatch!(tx, StoreTx, t => sqlx::query(
        "INSERT INTO patrols (code, team_code, started_at, ended_at, findings, logged_by, geojson) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&row.code)
        .bind(&row.team_code)
        .bind(row.started_at)
        .bind(row.ended_at)
        .bind(&row.findings)
        .bind(&row.logged_by)
        .bind(&geojson)
        .execute(&mut **t)
        .await
        .map_err(Error::internal)?
        .rows_affected());
    Ok(row)
}
