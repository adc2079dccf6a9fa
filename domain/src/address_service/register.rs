//! Building the address matcher's [`Register`] from the store's rows (at load and during
//! import) or straight from a directory of import files (evaluation and benchmarks).
//!
//! A building's township and community names are not columns of `buildings`: they come
//! from its grid's ancestors in the area hierarchy (grid → community → township).

use crate::model::Building;
use crate::store::load::UnitRow;
use anyhow::{Context, Result};
use minqing_address::{AddressParts, Aliases, BuildingEntry, Register, UnitEntry};
use std::collections::HashMap;
use std::path::Path;

/// An area's name and parent, as far as the register needs it.
#[derive(Debug, Clone)]
pub struct AreaName {
    pub code: String,
    pub name: String,
    pub parent: Option<String>,
}

/// Build the matcher's register with the centre's alias table. Building `i` of the
/// register is `buildings[i]`, so building indices agree with the index's; units whose
/// building is unknown are skipped. Alias pairs the register cannot use are logged.
pub fn build_register(
    areas: &[AreaName],
    buildings: &[Building],
    units: &[UnitRow],
    aliases: &Aliases,
) -> Result<Register> {
    let (entries, unit_entries) = register_entries(areas, buildings, units);
    let register = Register::with_aliases(entries, unit_entries, aliases)
        .context("building the address register")?;
    for problem in register.alias_problems() {
        tracing::warn!(?problem, "address alias not used");
    }
    Ok(register)
}

/// The matcher's plain entries for the store's buildings and units (building `i` is
/// `buildings[i]`; units whose building is unknown are left out).
pub fn register_entries(
    areas: &[AreaName],
    buildings: &[Building],
    units: &[UnitRow],
) -> (Vec<BuildingEntry>, Vec<UnitEntry>) {
    let by_code: HashMap<&str, &AreaName> = areas.iter().map(|a| (a.code.as_str(), a)).collect();
    let parent_of = |code: &str| -> Option<&AreaName> {
        by_code
            .get(code)
            .and_then(|a| a.parent.as_deref())
            .and_then(|p| by_code.get(p).copied())
    };
    let mut entries = Vec::with_capacity(buildings.len());
    let mut building_index: HashMap<&str, usize> = HashMap::with_capacity(buildings.len());
    for (i, b) in buildings.iter().enumerate() {
        let community = parent_of(&b.grid_code);
        let township = community.and_then(|c| parent_of(&c.code));
        building_index.insert(b.code.as_str(), i);
        entries.push(BuildingEntry {
            code: b.code.clone(),
            parts: AddressParts {
                township: township.map(|t| t.name.clone()).unwrap_or_default(),
                community: community.map(|c| c.name.clone()).unwrap_or_default(),
                road: b.road.clone(),
                door: b.door,
                compound: b.compound.clone(),
                building: b.building_no,
                group: b.village_group,
                house: b.house_no,
                ..Default::default()
            },
            lon: b.lon,
            lat: b.lat,
        });
    }
    let unit_entries = units
        .iter()
        .filter_map(|u| {
            Some(UnitEntry {
                code: u.code.clone(),
                building: *building_index.get(u.building_code.as_str())?,
                unit: u.unit_no,
                room: u.room,
            })
        })
        .collect();
    (entries, unit_entries)
}

/// Area names from [`crate::model::Area`]s.
pub fn area_names(areas: &[crate::model::Area]) -> Vec<AreaName> {
    areas
        .iter()
        .map(|a| AreaName {
            code: a.code.clone(),
            name: a.name.clone(),
            parent: a.parent.clone(),
        })
        .collect()
}

/// Build the register from a directory of import files (`areas.geojson`,
/// `buildings.csv`, `units.csv`), without a store. The files must be UTF-8, as
/// `minqing generate` writes them.
pub fn register_from_dir(dir: &Path) -> Result<Register> {
    let (b, u) = register_entries_from_dir(dir)?;
    Register::new(b, u).context("building the address register")
}

/// The matcher's plain entries from a directory of import files (see
/// [`register_from_dir`]), e.g. for an evaluation that edits them first.
pub fn register_entries_from_dir(dir: &Path) -> Result<(Vec<BuildingEntry>, Vec<UnitEntry>)> {
    let text = std::fs::read_to_string(dir.join("areas.geojson")).context("areas.geojson")?;
    let fc: geojson::FeatureCollection = text.parse().context("areas.geojson")?;
    let prop =
        |f: &geojson::Feature, k: &str| f.property(k).and_then(|v| v.as_str()).map(str::to_string);
    let areas: Vec<AreaName> = fc
        .features
        .iter()
        .filter_map(|f| {
            Some(AreaName {
                code: prop(f, "code")?,
                name: prop(f, "name")?,
                parent: prop(f, "parent"),
            })
        })
        .collect();
    let num = |s: &str| s.trim().parse::<u32>().ok();
    let txt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    let mut buildings = Vec::new();
    let mut rd = csv::Reader::from_path(dir.join("buildings.csv")).context("buildings.csv")?;
    let h = rd.headers()?.clone();
    let col = |n: &str| h.iter().position(|c| c == n).context(format!("column {n}"));
    let c = [
        col("code")?,
        col("label")?,
        col("grid_code")?,
        col("road")?,
        col("door")?,
        col("compound")?,
        col("building_no")?,
        col("village_group")?,
        col("house_no")?,
        col("kind")?,
        col("floors")?,
        col("lon")?,
        col("lat")?,
    ];
    for r in rd.records() {
        let r = r?;
        let f = |k: usize| r.get(c[k]).unwrap_or_default();
        buildings.push(Building {
            code: f(0).to_string(),
            label: f(1).to_string(),
            grid_code: f(2).to_string(),
            road: txt(f(3)),
            door: num(f(4)),
            compound: txt(f(5)),
            building_no: num(f(6)),
            village_group: num(f(7)),
            house_no: num(f(8)),
            kind: f(9).to_string(),
            floors: num(f(10)).unwrap_or(1),
            lon: f(11).parse().unwrap_or(f64::NAN),
            lat: f(12).parse().unwrap_or(f64::NAN),
        });
    }
    let mut units = Vec::new();
    let mut rd = csv::Reader::from_path(dir.join("units.csv")).context("units.csv")?;
    let h = rd.headers()?.clone();
    let col = |n: &str| h.iter().position(|c| c == n).context(format!("column {n}"));
    let c = [
        col("code")?,
        col("building_code")?,
        col("unit")?,
        col("room")?,
    ];
    for r in rd.records() {
        let r = r?;
        let f = |k: usize| r.get(c[k]).unwrap_or_default();
        units.push(UnitRow {
            code: f(0).to_string(),
            building_code: f(1).to_string(),
            unit_no: num(f(2)),
            room: num(f(3)),
            label: String::new(),
        });
    }
    Ok(register_entries(&areas, &buildings, &units))
}
