//! Disclosure control: the one door every aggregate passes on its way to a caller who
//! has no personal-data rights over it (anonymous callers, the large screen, roles
//! without `PersonalRead`, grid workers outside their grids).
//!
//! # Who gets what
//! [`Figures::for_grid`] decides: a caller with `PersonalRead` whose scope covers the
//! figures gets them exact, and the read is audited ([`audit_exact`]); everyone else gets
//! protected figures. Tiles are never audited, so they carry protected figures for
//! everyone.
//!
//! # The method (why this one is in ARCHITECTURE.md)
//! 1. **Safe units.** Register figures (models 1 and 2) are published per *grid*, the
//!    smallest unit a caller without rights may ask about. A township, community or
//!    the district is the sum of its grids' protected figures; a drawn polygon is
//!    *snapped* to the grids of which it holds more than half of the buildings
//!    ([`ProtectedRegister::snap`]) and refused when it holds no such grid. Every
//!    answer is therefore a fixed function of the grids' protected figures, so no
//!    combination of answers — differences, chains, overlaps — says more than those.
//! 2. **Cell-key perturbation** (after the ABS TableBuilder): each counter of each
//!    grid (and each building's resident count on the map) is a *cell*; its key is a
//!    keyed hash ([`cell_key`], HMAC-SHA-256 under a secret derived from the data key)
//!    of the cell's identity and its true content, and the published value is
//!    [`perturb`]`(count, key)`: a fixed table, so the same cell always gets the same
//!    noise and asking again (or averaging) gains nothing. Counts 1–4 become 0 or 5
//!    (5 with probability count/5, unbiased); counts of 5 and more move by −2..=+2
//!    (probabilities .1 .2 .4 .2 .1) but never below 5. Zero stays zero.
//! 3. **Small counts.** [`count_may_leave`] is the one rule for any other count (event
//!    cells, per-building event counts, key-group lists): 0 or at least 5.
//! 4. **Events.** In public, an event is never placed finer than its *public cell*
//!    (the Web-Mercator grid of 2^18 cells a side, about 130 m in the district,
//!    [`public_cell_centre`]) nor timed finer than its CST day; cells with 1–4 events
//!    are left out. Time filters of protected callers must be whole days
//!    ([`require_day_grain`]).
//!
//! Why not differential privacy (the `opendp` crate): a Laplace mechanism needs a
//! privacy budget per caller, and anonymous callers cannot be told apart (a new
//! connection is a new budget); fresh noise per answer is exactly what averaging
//! defeats unless answers are cached forever. The cell-key table gives the same
//! answer every time without state, and snapping removes the differencing that
//! cell keys alone do not stop.
//!
//! # Guarantee
//! For a caller without rights: every population, housing and enterprise figure it can
//! obtain, from any number of queries, is a sum of the protected counters of whole
//! grids (or, on the map, of protected building resident counts); no protected counter
//! equals 1–4, and each differs from the truth by the fixed table's noise. It can learn
//! a grid's counter only within that noise, and nothing about a part of a grid
//! (a building, a household) beyond what the grid's figures say. Event figures are never
//! finer than (public cell, CST day), and no count 1–4 is sent.

use crate::App;
use crate::Error;
use crate::auth::{Access, Permission};
use crate::index::Index;
use hmac::{Hmac, Mac};
use minqing_analysis::housing::HousingProfile;
use minqing_analysis::population::PopulationProfile;
use sha2::Sha256;
use std::sync::OnceLock;

/// The smallest count that may leave for a caller without rights (the one 5).
pub const MIN_COUNT: u32 = crate::analysis::KEY_GROUP_MIN;

/// Whether count `n` may leave for a caller without rights to the records behind it:
/// 0, or at least [`MIN_COUNT`]. The one rule for counts that are not perturbed.
pub fn count_may_leave(n: u64) -> bool {
    n == 0 || n >= u64::from(MIN_COUNT)
}

/// `n` if it may leave, else `None` (see [`count_may_leave`]).
pub fn leave(n: u64) -> Option<u64> {
    count_may_leave(n).then_some(n)
}

/// Which figures a caller gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figures {
    /// The true figures (personal-data roles in scope; audited).
    Exact,
    /// Protected figures (everyone else).
    Protected,
}

impl Figures {
    /// For figures of one grid (`Some(code)`) or of anything wider or in no grid
    /// (`None`: only unscoped personal-data roles get them exact).
    pub fn for_grid(access: &Access, grid: Option<&str>) -> Figures {
        let exact = access.caller().is_some_and(|c| {
            c.role.allows(Permission::PersonalRead) && c.require_grid(grid).is_ok()
        });
        if exact {
            Figures::Exact
        } else {
            Figures::Protected
        }
    }

    pub fn is_exact(self) -> bool {
        self == Figures::Exact
    }
}

/// Record an exact aggregate read (`read_aggregate`, target e.g. `population:G01`).
/// Fails closed like every personal read: no audit entry, no answer.
pub async fn audit_exact(app: &App, access: &Access, target: &str) -> Result<(), Error> {
    let Some(caller) = access.caller() else {
        return Err(Error::Forbidden(
            "exact figures need a signed-in role".into(),
        ));
    };
    crate::audit::append(
        &app.store,
        crate::audit::Record::by(caller, "read_aggregate", target),
    )
    .await
    .map(|_| ())
    .map_err(crate::events::write::audit_unavailable)
}

/// Refuse a time bound finer than a whole day for a protected caller.
pub fn require_day_grain(name: &str, value: Option<&str>) -> Result<(), Error> {
    match value.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(()),
        Some(s) if crate::time::parse_date(s).is_some() && s.len() == 10 => Ok(()),
        Some(s) => Err(Error::Invalid(format!(
            "{name} must be a date YYYY-MM-DD for callers without access to event records (public figures are whole days), got {s:?}"
        ))),
    }
}

fn secret() -> &'static [u8; 32] {
    static SECRET: OnceLock<[u8; 32]> = OnceLock::new();
    SECRET.get_or_init(|| crate::personal::keys().cell_key_secret())
}

/// The key of a cell: a keyed hash of its identity `parts` and its true count.
pub fn cell_key(parts: &[&str], count: u64) -> u32 {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret()).expect("any key length");
    for p in parts {
        mac.update(p.as_bytes());
        mac.update(&[0]);
    }
    mac.update(&count.to_le_bytes());
    let out = mac.finalize().into_bytes();
    u32::from_le_bytes([out[0], out[1], out[2], out[3]])
}

/// The perturbation table: the published value of a cell with `count` records and key
/// `key` (see the module doc). A pure function: same cell, same answer.
pub fn perturb(count: u64, key: u32) -> u64 {
    let min = u64::from(MIN_COUNT);
    // The key as a fraction of 2^32, in per-mille buckets (enough for this table).
    let u = (u64::from(key) * 1000) >> 32;
    match count {
        0 => 0,
        c if c < min => {
            if u < c * 1000 / min {
                min
            } else {
                0
            }
        }
        c => {
            let d: i64 = match u {
                0..100 => -2,
                100..300 => -1,
                300..700 => 0,
                700..900 => 1,
                _ => 2,
            };
            (c as i64 + d).max(min as i64) as u64
        }
    }
}

fn protect(parts: &[&str], v: &mut u32) {
    *v = perturb(u64::from(*v), cell_key(parts, u64::from(*v))).min(u64::from(u32::MAX)) as u32;
}

/// A population profile's counters perturbed as the cells of unit `unit`.
pub fn protect_population(p: &PopulationProfile, unit: &str) -> PopulationProfile {
    let mut p = p.clone();
    protect(&[unit, "residents"], &mut p.residents);
    for (i, c) in p.age_bands.iter_mut().enumerate() {
        protect(&[unit, "age", &i.to_string()], c);
    }
    protect(&[unit, "unknown_age"], &mut p.unknown_age);
    protect(&[unit, "males"], &mut p.males);
    protect(&[unit, "females"], &mut p.females);
    protect(&[unit, "registered"], &mut p.registered);
    protect(&[unit, "floating"], &mut p.floating);
    for (i, c) in p.persons_by_household_size.iter_mut().enumerate() {
        protect(&[unit, "household", &i.to_string()], c);
    }
    protect(&[unit, "elderly"], &mut p.elderly);
    protect(&[unit, "elderly_alone"], &mut p.elderly_alone);
    for (i, c) in p.key_groups.iter_mut().enumerate() {
        protect(&[unit, "key_group", &i.to_string()], c);
    }
    protect(&[unit, "key_group_persons"], &mut p.key_group_persons);
    p
}

/// A housing profile's counters perturbed as the cells of unit `unit`.
pub fn protect_housing(h: &HousingProfile, unit: &str) -> HousingProfile {
    let mut h = h.clone();
    for (i, c) in h.units.iter_mut().enumerate() {
        protect(&[unit, "units", &i.to_string()], c);
    }
    for (i, c) in h.residents.iter_mut().enumerate() {
        protect(&[unit, "unit_residents", &i.to_string()], c);
    }
    protect(&[unit, "overcrowded_units"], &mut h.overcrowded_units);
    protect(
        &[unit, "overcrowded_residents"],
        &mut h.overcrowded_residents,
    );
    protect(&[unit, "unknown_area"], &mut h.unknown_area);
    protect(
        &[unit, "vacant_with_residents"],
        &mut h.vacant_with_residents,
    );
    for (i, c) in h.enterprises_by_section.iter_mut().enumerate() {
        protect(&[unit, "section", &i.to_string()], c);
    }
    protect(
        &[unit, "unknown_section"],
        &mut h.enterprises_unknown_section,
    );
    for (i, c) in h.enterprises_by_size.iter_mut().enumerate() {
        protect(&[unit, "size", &i.to_string()], c);
    }
    for (i, c) in h.employees_by_size.iter_mut().enumerate() {
        *c = perturb(*c, cell_key(&[unit, "employees", &i.to_string()], *c));
    }
    h
}

/// A building's resident count as the map shows it.
pub fn protected_building_residents(code: &str, residents: u32) -> u32 {
    let n = u64::from(residents);
    perturb(n, cell_key(&["building", code, "residents"], n)) as u32
}

/// The register figures protected callers get: per grid, perturbed once; per wider
/// area, the sum of its grids (buildings in no grid form one more unit of the district).
pub struct ProtectedRegister {
    /// Indexed like `Index::areas`.
    pub area_population: Vec<PopulationProfile>,
    pub area_housing: Vec<HousingProfile>,
    /// Buildings per grid (indexed like `Index::areas`; 0 elsewhere).
    grid_buildings: Vec<u32>,
}

/// A drawn polygon widened (or narrowed) to whole grids.
pub struct Snapped {
    /// Grid indexes (into `Index::areas`).
    pub grids: Vec<u32>,
    pub population: PopulationProfile,
    pub housing: HousingProfile,
    /// Buildings of those grids.
    pub buildings: u32,
    /// Area of those grids in km².
    pub area_km2: f64,
}

impl ProtectedRegister {
    /// From the exact per-area and per-building profiles of the analysis service.
    pub fn build(
        ix: &Index,
        area_population: &[PopulationProfile],
        area_housing: &[HousingProfile],
        building_population: &[PopulationProfile],
        building_housing: &[HousingProfile],
        district: Option<u32>,
    ) -> ProtectedRegister {
        use crate::model::AreaLevel;
        let na = ix.areas.len();
        let empty_p = |p: &PopulationProfile| PopulationProfile::new(p.basis());
        let empty_h = |h: &HousingProfile| HousingProfile::new(h.rule());
        let mut out_p: Vec<PopulationProfile> = area_population.iter().map(empty_p).collect();
        let mut out_h: Vec<HousingProfile> = area_housing.iter().map(empty_h).collect();
        let mut grid_buildings = vec![0u32; na];
        for b in &ix.buildings {
            if let Some(g) = b.grid {
                grid_buildings[g as usize] += 1;
            }
        }
        for (g, entry) in ix.areas.iter().enumerate() {
            if entry.area.level != AreaLevel::Grid {
                continue;
            }
            let p = protect_population(&area_population[g], &entry.area.code);
            let h = protect_housing(&area_housing[g], &entry.area.code);
            let mut cur = Some(g as u32);
            while let Some(a) = cur {
                out_p[a as usize].merge(&p);
                out_h[a as usize].merge(&h);
                cur = ix.areas[a as usize].parent;
            }
        }
        // Buildings in no grid: one more unit, counted in the district only.
        if let Some(d) = district
            && let (Some(p0), Some(h0)) = (building_population.first(), building_housing.first())
        {
            let mut p = empty_p(p0);
            let mut h = empty_h(h0);
            let mut any = false;
            for (b, building) in ix.buildings.iter().enumerate() {
                if building.grid.is_none() {
                    p.merge(&building_population[b]);
                    h.merge(&building_housing[b]);
                    any = true;
                }
            }
            if any {
                out_p[d as usize].merge(&protect_population(&p, "(no grid)"));
                out_h[d as usize].merge(&protect_housing(&h, "(no grid)"));
            }
        }
        ProtectedRegister {
            area_population: out_p,
            area_housing: out_h,
            grid_buildings,
        }
    }

    /// The whole grids of a polygon: those of which it holds more than half of the
    /// buildings. `Error::Unprocessable` when there is none (a polygon smaller than
    /// about half a grid is refused: protected figures start at one grid).
    pub fn snap(
        &self,
        ix: &Index,
        buildings_inside: &[u32],
        basis_of: &PopulationProfile,
        rule_of: &HousingProfile,
    ) -> Result<Snapped, Error> {
        let mut inside: std::collections::BTreeMap<u32, u32> = Default::default();
        for &b in buildings_inside {
            if let Some(g) = ix.buildings[b as usize].grid {
                *inside.entry(g).or_default() += 1;
            }
        }
        let grids: Vec<u32> = inside
            .into_iter()
            .filter(|&(g, n)| 2 * n > self.grid_buildings[g as usize])
            .map(|(g, _)| g)
            .collect();
        if grids.is_empty() {
            return Err(Error::Unprocessable(
                "the polygon holds no whole grid: figures of a drawn area start at one grid (draw round at least half of a grid's buildings)".into(),
            ));
        }
        let mut population = PopulationProfile::new(basis_of.basis());
        let mut housing = HousingProfile::new(rule_of.rule());
        let mut buildings = 0;
        let mut area_km2 = 0.0;
        for &g in &grids {
            population.merge(&self.area_population[g as usize]);
            housing.merge(&self.area_housing[g as usize]);
            buildings += self.grid_buildings[g as usize];
            area_km2 += ix.areas[g as usize].area_km2;
        }
        Ok(Snapped {
            grids,
            population,
            housing,
            buildings,
            area_km2,
        })
    }
}

/// Keys of JSON answers whose small integers are not counts of people or events (a
/// resolution, a page size, an age, a weight…). Every other integer 1–4 is a count.
pub const NOT_COUNTS: &[&str] = &[
    "resolution",
    "limit",
    "offset",
    "year",
    "month",
    "week",
    "step",
    "version",
    "level",
    "order",
    "elderly_age",
    "min_residents",
    "min_area_per_person_m2",
    "hot_steps",
    "cold_steps",
    "bins",
    "undefined_bins",
    "weight",
    "reference",
    "zoom",
    "minzoom",
    "maxzoom",
    "medium",
    "large",
    "days",
    "hours",
    // The district's structure, not people: areas and teams.
    "townships",
    "communities",
    "grids",
    "patrol_teams",
    // The forces' own work — staff and their patrols, not residents or events.
    "patrol_members",
    "patrols_last_30_days",
];

/// Suppress every count 1–4 in a JSON answer for a protected caller: each integer from
/// 1 to 4 under a key not in [`NOT_COUNTS`] becomes `null`. Fails closed: a new count
/// field is suppressed without anyone listing it.
pub fn suppress_json_counts(v: &mut serde_json::Value) {
    fn walk(v: &mut serde_json::Value, key: Option<&str>) {
        match v {
            serde_json::Value::Object(o) => {
                for (k, x) in o.iter_mut() {
                    walk(x, Some(k.as_str()));
                }
            }
            serde_json::Value::Array(a) => {
                for x in a {
                    walk(x, key);
                }
            }
            serde_json::Value::Number(n) => {
                let small = n.as_u64().is_some_and(|c| !count_may_leave(c));
                if small && !key.is_some_and(|k| NOT_COUNTS.contains(&k)) {
                    *v = serde_json::Value::Null;
                }
            }
            _ => {}
        }
    }
    walk(v, None);
}

/// Cells per side of the public event grid (Web Mercator): 2^18, the 128-unit cells of
/// a z13 tile, about 150 m at the equator and 130 m at the district's latitude.
pub const PUBLIC_CELL_LEVEL: u32 = 18;

/// The public cell of a point, as (column, row) of the public grid.
pub fn public_cell(lon: f64, lat: f64) -> (i64, i64) {
    let (u, v) = minqing_tiles::projection::lonlat_to_world(lon, lat);
    let n = f64::from(1u32 << PUBLIC_CELL_LEVEL);
    ((u * n).floor() as i64, (v * n).floor() as i64)
}

/// The centre of a point's public cell, lon/lat rounded to 6 decimals: where the public
/// sees an event.
pub fn public_cell_centre(lon: f64, lat: f64) -> (f64, f64) {
    let (cx, cy) = public_cell(lon, lat);
    let n = f64::from(1u32 << PUBLIC_CELL_LEVEL);
    let (lo, la) =
        minqing_tiles::projection::world_to_lonlat((cx as f64 + 0.5) / n, (cy as f64 + 0.5) / n);
    let r = |x: f64| (x * 1e6).round() / 1e6;
    (r(lo), r(la))
}

/// Public event cells of a tile at zoom `z`: the side of a cell in tile units (of
/// `extent`), never finer than the public grid and never finer than `min_units`.
pub fn public_cell_units(z: u8, extent: u32, min_units: u32) -> i64 {
    // A tile at zoom z spans 2^(18 - z) public cells a side.
    let per_tile = 2f64.powi(PUBLIC_CELL_LEVEL as i32 - i32::from(z));
    let units = (f64::from(extent) / per_tile).round().max(1.0) as i64;
    units.max(i64::from(min_units))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perturbation_never_gives_one_to_four_and_is_fixed() {
        for c in 0..200u64 {
            for k in [0u32, 1, 99_999, u32::MAX / 3, u32::MAX / 2, u32::MAX] {
                let v = perturb(c, k);
                assert!(count_may_leave(v), "{c} with key {k} gave {v}");
                assert_eq!(v, perturb(c, k));
                if c >= 5 {
                    assert!(v.abs_diff(c) <= 2);
                }
            }
        }
        assert_eq!(perturb(0, 12345), 0);
    }

    #[test]
    fn small_counts_are_unbiased_over_keys() {
        // Over evenly spread keys, a count of 2 becomes 5 two fifths of the time.
        let n = 10_000u64;
        let fives = (0..n)
            .filter(|i| perturb(2, (i * (u64::from(u32::MAX) / n)) as u32) == 5)
            .count();
        assert!((3_900..=4_100).contains(&fives), "{fives}");
    }

    #[test]
    fn cell_keys_depend_on_the_cell_and_its_count() {
        assert_eq!(
            cell_key(&["G1", "residents"], 10),
            cell_key(&["G1", "residents"], 10)
        );
        assert_ne!(
            cell_key(&["G1", "residents"], 10),
            cell_key(&["G1", "residents"], 11)
        );
        assert_ne!(
            cell_key(&["G1", "residents"], 10),
            cell_key(&["G2", "residents"], 10)
        );
        assert_ne!(cell_key(&["G1", "x"], 10), cell_key(&["G1x", ""], 10));
    }

    #[test]
    fn public_cells_are_about_130_m_and_centred() {
        let (a, b) = public_cell_centre(104.06, 30.66);
        let (c, d) = public_cell_centre(104.0605, 30.6601);
        assert_eq!((a, b), (c, d), "nearby points share their centre");
        assert_eq!(public_cell(a, b), public_cell(104.06, 30.66));
        // The next cell east: one cell width (360° / 2^18) further.
        let (e, _) = public_cell_centre(a + 0.0014, b);
        assert!(
            (e - a - 360.0 / f64::from(1u32 << 18)).abs() < 2e-6,
            "{a} {e}"
        );
        let metres = (e - a).abs() * 111_320.0 * 30.66f64.to_radians().cos();
        assert!((100.0..200.0).contains(&metres), "{metres}");
        assert_eq!(public_cell_units(13, 4096, 128), 128);
        assert_eq!(public_cell_units(15, 4096, 64), 512);
        assert_eq!(public_cell_units(10, 4096, 128), 128);
    }
}
