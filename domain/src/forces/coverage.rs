//! Model 3's patrol coverage: for each significant hot cell (Gi* hot spot at 95 % or
//! 99 % confidence after the FDR correction, model 3's default query), the patrols that
//! visited it in the last 7 and 30 days. A patrol visits a cell when one of its GPS fixes
//! lies in the cell (fixes come every few tens of metres, far below a resolution-9
//! cell's 170 m edge). A hot cell no patrol visited in 30 days is flagged uncovered.
//!
//! The windows end at `to` (default now): a patrol counts in the last 7 days when it
//! started in `[to − 7 d, to)`. When the record of patrols stops more than 30 days before
//! now (a historical data set such as the synthetic district's 2023–2024), the default
//! `to` is the second after the newest patrol started, so the figures describe the last
//! weeks of the record instead of being empty; the report says which `to` it used.
//!
//! Every cell is named by the township and community containing its centre and the
//! named road nearest to it (`place`: "旌阳街道 · 观音社区 · 青龙北路附近"), so a screen
//! can say where an uncovered hot spot is without coordinates: a community holds several
//! cells, and two of them named alike cannot be told apart on a list. A road further
//! than [`ROAD_NEAR_M`] names nothing (it would mislead more than it helps).
//!
//! Each patrol's visited cells are computed once when it is loaded or logged
//! ([`super::Patrol::cells`]); a report then walks the patrols of the 30 days (found by
//! binary search on start time) and their cells against a hash of the hot cells.

use super::Patrol;
use crate::App;
use crate::error::Result;
use crate::time::DAY;
use minqing_analysis::hotspot::HotspotClass;
use serde::Serialize;
use std::collections::HashMap;

/// Visits of each of `hot` (H3 cells) by the patrols of `patrols` that started in
/// `[to − 7 d, to)` and `[to − 30 d, to)`: `(visits_7d, visits_30d)` per cell, in `hot`'s
/// order. `patrols` must be ordered by start time.
pub fn visits(hot: &[u64], patrols: &[Patrol], to: i64) -> Vec<(u32, u32)> {
    let mut at: HashMap<u64, usize> = HashMap::with_capacity(hot.len());
    for (i, &c) in hot.iter().enumerate() {
        at.entry(c).or_insert(i);
    }
    let mut out = vec![(0u32, 0u32); hot.len()];
    let a = patrols.partition_point(|p| p.started_at < to - 30 * DAY);
    let b = patrols.partition_point(|p| p.started_at < to);
    for p in &patrols[a..b.max(a)] {
        let recent = p.started_at >= to - 7 * DAY;
        for c in &p.cells {
            if let Some(&i) = at.get(c) {
                out[i].1 += 1;
                if recent {
                    out[i].0 += 1;
                }
            }
        }
    }
    out
}

/// The farthest a road may be from a cell's centre to name it (a resolution-9 cell's
/// edge is about 170 m).
pub const ROAD_NEAR_M: f64 = 300.0;

/// The named road nearest to `(lon, lat)` within [`ROAD_NEAR_M`] and its distance in
/// metres. Brute force over the segments: a district has a few thousand, a report a few
/// hundred cells, so this stays well under a millisecond per report.
pub fn nearest_road(roads: &[crate::model::Road], lon: f64, lat: f64) -> Option<(&str, f64)> {
    // Local equirectangular metres around the point: exact enough within a few hundred
    // metres, which is all this is asked.
    let (kx, ky) = (111_320.0 * lat.to_radians().cos(), 110_540.0);
    let mut best: Option<(&str, f64)> = None;
    // A compound's own lane names no place a patrol would head for.
    for r in roads
        .iter()
        .filter(|r| !r.name.trim().is_empty() && r.class != "service")
    {
        for seg in r.geometry.lines() {
            let (ax, ay) = ((seg.start.x - lon) * kx, (seg.start.y - lat) * ky);
            let (bx, by) = ((seg.end.x - lon) * kx, (seg.end.y - lat) * ky);
            let (dx, dy) = (bx - ax, by - ay);
            let len2 = dx * dx + dy * dy;
            let t = if len2 > 0.0 {
                (-(ax * dx + ay * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let d = (ax + t * dx).hypot(ay + t * dy);
            if d <= ROAD_NEAR_M && best.is_none_or(|(_, b)| d < b) {
                best = Some((r.name.as_str(), d));
            }
        }
    }
    best
}

/// Whether a Gi* class counts as a significant hot cell.
pub fn is_significant_hot(c: HotspotClass) -> bool {
    matches!(c, HotspotClass::Hot99 | HotspotClass::Hot95)
}

/// One hot cell and its patrol visits.
#[derive(Debug, Clone, Serialize)]
pub struct CellCoverage {
    /// H3 cell index (hex).
    pub cell: String,
    pub class: &'static str,
    pub gi_z: f64,
    /// Events counted in the cell.
    pub events: f64,
    /// Centre of the cell.
    pub lon: f64,
    pub lat: f64,
    pub township_code: Option<String>,
    pub township_name: Option<String>,
    /// The community (or village) containing the cell's centre.
    pub community_code: Option<String>,
    pub community_name: Option<String>,
    /// The named road nearest to the cell's centre (within [`ROAD_NEAR_M`]).
    pub road: Option<String>,
    /// The cell named by place: `township · community · road附近` (the parts known;
    /// `区内` outside every grid).
    pub place: String,
    pub visits_7d: u32,
    pub visits_30d: u32,
    /// No patrol in the last 30 days.
    pub uncovered: bool,
}

/// The coverage of one township's hot cells.
#[derive(Debug, Clone, Serialize)]
pub struct TownshipCoverage {
    pub code: String,
    pub name: String,
    pub hot_cells: usize,
    pub covered_7d: usize,
    pub covered_30d: usize,
    /// Share of hot cells visited in 30 days (null without hot cells).
    pub share_covered: Option<f64>,
}

/// The coverage report.
#[derive(Debug, Clone, Serialize)]
pub struct CoverageReport {
    /// End of the windows (unix seconds, exclusive).
    pub to: i64,
    pub hot_cells: usize,
    pub covered_7d: usize,
    pub covered_30d: usize,
    /// Share of hot cells visited in the last 30 days (null without hot cells).
    pub share_covered: Option<f64>,
    /// Patrols that started in the 30 days.
    pub patrols_30d: usize,
    pub townships: Vec<TownshipCoverage>,
    /// Every hot cell, uncovered first, then by z-score.
    pub cells: Vec<CellCoverage>,
}

/// The default end of the windows (see the module doc).
pub fn default_to(now: i64, patrols: &[Patrol]) -> i64 {
    match patrols.last() {
        Some(p) if p.started_at < now - 30 * DAY => p.started_at + 1,
        _ => now,
    }
}

fn share(n: usize, of: usize) -> Option<f64> {
    (of > 0).then(|| (n as f64 / of as f64 * 1000.0).round() / 1000.0)
}

/// Patrol coverage of the significant hot cells of model 3's default query; `area`
/// keeps one township's (or community's, grid's) cells.
pub fn patrol_coverage(state: &App, to: Option<i64>, area: Option<&str>) -> Result<CoverageReport> {
    let ix = state.index()?;
    if let Some(a) = area
        && ix.area(a).is_none()
    {
        return Err(crate::Error::NotFound(format!("no area {a}")));
    }
    let hot = crate::analysis::hotspots(state, crate::analysis::HotspotQuery::default())?;
    let mut cells: Vec<CellCoverage> = Vec::new();
    let mut ids: Vec<u64> = Vec::new();
    for c in &hot.report.cells {
        if !is_significant_hot(c.class) {
            continue;
        }
        let Ok(cell) = h3o::CellIndex::try_from(c.cell) else {
            continue;
        };
        let centre = h3o::LatLng::from(cell);
        let (lon, lat) = (centre.lng(), centre.lat());
        let chain = ix
            .grid_at(lon, lat)
            .map(|g| ix.ancestors(g))
            .unwrap_or_default();
        if let Some(a) = area
            && !chain.iter().any(|e| e.area.code == a)
        {
            continue;
        }
        let township = chain
            .iter()
            .find(|e| e.area.level == crate::model::AreaLevel::Township);
        let community = chain
            .iter()
            .find(|e| e.area.level == crate::model::AreaLevel::Community);
        let road = nearest_road(&ix.roads, lon, lat).map(|(name, _)| name.to_string());
        let mut parts: Vec<String> = [township, community]
            .into_iter()
            .flatten()
            .map(|a| a.area.name.clone())
            .collect();
        if parts.is_empty() {
            parts.push("区内".to_string());
        }
        if let Some(r) = &road {
            parts.push(format!("{r}附近"));
        }
        let place = parts.join(" · ");
        ids.push(c.cell);
        cells.push(CellCoverage {
            cell: cell.to_string(),
            class: c.class.as_str(),
            gi_z: (c.gi_z * 1000.0).round() / 1000.0,
            events: c.count,
            lon: (lon * 1e6).round() / 1e6,
            lat: (lat * 1e6).round() / 1e6,
            township_code: township.map(|t| t.area.code.clone()),
            township_name: township.map(|t| t.area.name.clone()),
            community_code: community.map(|t| t.area.code.clone()),
            community_name: community.map(|t| t.area.name.clone()),
            road,
            place,
            visits_7d: 0,
            visits_30d: 0,
            uncovered: true,
        });
    }
    let forces = ix.forces.read();
    let to = to.unwrap_or_else(|| default_to(state.clock.now(), &forces.patrols));
    let v = visits(&ids, &forces.patrols, to);
    let patrols_30d = forces.patrols_between(to - 30 * DAY, to).len();
    drop(forces);
    for (c, (v7, v30)) in cells.iter_mut().zip(v) {
        c.visits_7d = v7;
        c.visits_30d = v30;
        c.uncovered = v30 == 0;
    }
    let mut by_township: Vec<TownshipCoverage> = Vec::new();
    for c in &cells {
        let (Some(code), Some(name)) = (&c.township_code, &c.township_name) else {
            continue;
        };
        let t = match by_township.iter().position(|t| t.code == *code) {
            Some(i) => &mut by_township[i],
            None => {
                by_township.push(TownshipCoverage {
                    code: code.clone(),
                    name: name.clone(),
                    hot_cells: 0,
                    covered_7d: 0,
                    covered_30d: 0,
                    share_covered: None,
                });
                by_township.last_mut().expect("pushed")
            }
        };
        t.hot_cells += 1;
        t.covered_7d += usize::from(c.visits_7d > 0);
        t.covered_30d += usize::from(c.visits_30d > 0);
    }
    for t in &mut by_township {
        t.share_covered = share(t.covered_30d, t.hot_cells);
    }
    by_township.sort_by(|a, b| a.code.cmp(&b.code));
    cells.sort_by(|a, b| {
        b.uncovered
            .cmp(&a.uncovered)
            .then(b.gi_z.total_cmp(&a.gi_z))
            .then(a.cell.cmp(&b.cell))
    });
    let covered_7d = cells.iter().filter(|c| c.visits_7d > 0).count();
    let covered_30d = cells.iter().filter(|c| c.visits_30d > 0).count();
    Ok(CoverageReport {
        to,
        hot_cells: cells.len(),
        covered_7d,
        covered_30d,
        share_covered: share(covered_30d, cells.len()),
        patrols_30d,
        townships: by_township,
        cells,
    })
}
