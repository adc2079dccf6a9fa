//! The basemap of our own: rivers and lakes (`water`), land use (`landuse`) and points of
//! interest (`pois`), imported like the roads (`water.geojson`, `landuse.geojson`,
//! `pois.geojson` in any geographic format the importer reads), stored in both stores
//! (migration 0012), loaded once into the index and drawn by the tile layers of the
//! same names (`tiles_service::basemap`). None of it is about a person: names are of
//! rivers, parks, hills and institutions.

use anyhow::{Context, Result, anyhow};
use geo_types::Geometry;

/// Kinds of water: areas (`river` as its banks, `lake`, `reservoir`, `pond`) or
/// centrelines (`river`, `stream`, `canal`).
pub const WATER_KINDS: &[&str] = &["river", "lake", "reservoir", "pond", "stream", "canal"];
/// Kinds of land use.
pub const LANDUSE_KINDS: &[&str] = &[
    "residential",
    "commercial",
    "industrial",
    "farmland",
    "forest",
    "park",
];
/// Kinds of points of interest.
pub const POI_KINDS: &[&str] = &[
    "governance_centre",
    "township_office",
    "police",
    "mediation_room",
    "school",
    "hospital",
    "market",
    "station",
];

/// One basemap feature as the index holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub id: i64,
    pub name: Option<String>,
    pub kind: String,
    /// Points of interest: 1 district-wide, 2 a township's, 3 a community's; 0 otherwise.
    pub rank: u8,
    /// Lon/lat: a (multi)polygon or (multi)line for water, a (multi)polygon for land use,
    /// a point for a point of interest.
    pub geometry: Geometry<f64>,
}

/// The three layers.
#[derive(Debug, Clone, Default)]
pub struct Basemap {
    pub water: Vec<Feature>,
    pub landuse: Vec<Feature>,
    pub pois: Vec<Feature>,
}

impl Basemap {
    pub fn is_empty(&self) -> bool {
        self.water.is_empty() && self.landuse.is_empty() && self.pois.is_empty()
    }
}

/// Checks one feature of a basemap file (`water.geojson`, `landuse.geojson`,
/// `pois.geojson`) and gives the store row's values after `id`:
/// `(name, kind, rank)` (`rank` only for points of interest). Errors say what is wrong.
pub fn check_feature(
    file: &str,
    geom: &Geometry<f64>,
    name: Option<String>,
    kind: Option<String>,
    rank: Option<i64>,
) -> Result<(Option<String>, String, Option<i64>), String> {
    let kind = kind.ok_or("missing property kind")?;
    let (kinds, shapes): (&[&str], &str) = match file {
        "water.geojson" => (
            WATER_KINDS,
            "a Polygon, MultiPolygon, LineString or MultiLineString",
        ),
        "landuse.geojson" => (LANDUSE_KINDS, "a Polygon or MultiPolygon"),
        _ => (POI_KINDS, "a Point"),
    };
    if !kinds.contains(&kind.as_str()) {
        return Err(format!("unknown kind {kind}: one of {}", kinds.join(", ")));
    }
    let shape_ok = match file {
        "water.geojson" => matches!(
            geom,
            Geometry::Polygon(_)
                | Geometry::MultiPolygon(_)
                | Geometry::LineString(_)
                | Geometry::MultiLineString(_)
        ),
        "landuse.geojson" => matches!(geom, Geometry::Polygon(_) | Geometry::MultiPolygon(_)),
        _ => matches!(geom, Geometry::Point(_)),
    };
    if !shape_ok {
        return Err(format!(
            "a {} feature must be {shapes}",
            file.trim_end_matches(".geojson")
        ));
    }
    if file == "pois.geojson" {
        let name = name.ok_or("missing property name (a point of interest is named)")?;
        let rank = rank.unwrap_or(2);
        if !(1..=3).contains(&rank) {
            return Err(format!("rank {rank} must be 1, 2 or 3"));
        }
        return Ok((Some(name), kind, Some(rank)));
    }
    Ok((name, kind, None))
}

/// A stored feature's geometry.
pub fn parse_geometry(geojson: &str) -> Result<Geometry<f64>> {
    let g: geojson::Geometry = geojson.parse().context("basemap geometry is not GeoJSON")?;
    Geometry::<f64>::try_from(g).map_err(|e| anyhow!("basemap geometry: {e}"))
}
