//! Which files of an import directory are imported, in which format, and the records of
//! the formats other than CSV.
//!
//! Each import file has a base name (`buildings`, `areas`, `residents-gbk`, …) and may
//! come in any format that can hold it: tables (`units`, `residents*`, …) as CSV, Excel
//! (`.xlsx`, `.xls`), or a geographic format whose attributes are the columns; the
//! layers with geometry (`areas`, `roads`, `patrols`) as GeoJSON, Shapefile (`.shp` with
//! its `.dbf`, `.prj`, `.cpg`) or GeoPackage (`.gpkg`). Buildings and events may come as
//! points or footprints from a geographic format: their `lon`/`lat` is then the point, or
//! a point inside the footprint. The same columns need no mapping; a Shapefile's
//! 10-character field names (`village_gr`, `building_c`) are read as the full names.
//!
//! Every file of the directory is accounted for: imported, a known part of another file
//! (`.dbf`, `.prj`, `.crs` sidecars…), a file that is plainly not data (`manifest.json`,
//! `README*`, `*.md`, hidden files), or a failure naming what is wrong.

use super::LineError;
use std::path::{Path, PathBuf};

/// The formats the importer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    GeoJson,
    Xlsx,
    Xls,
    Shapefile,
    GeoPackage,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::GeoJson => "geojson",
            Format::Xlsx => "xlsx",
            Format::Xls => "xls",
            Format::Shapefile => "shapefile",
            Format::GeoPackage => "geopackage",
        }
    }

    pub fn from_ext(ext: &str) -> Option<Format> {
        Some(match ext {
            "csv" => Format::Csv,
            "geojson" | "json" => Format::GeoJson,
            "xlsx" | "xlsm" => Format::Xlsx,
            "xls" => Format::Xls,
            "shp" => Format::Shapefile,
            "gpkg" => Format::GeoPackage,
            _ => return None,
        })
    }

    /// Whether records carry a geometry.
    pub fn geographic(self) -> bool {
        matches!(
            self,
            Format::GeoJson | Format::Shapefile | Format::GeoPackage
        )
    }

    /// What a record's number counts in reports.
    pub fn position(self) -> &'static str {
        match self {
            Format::Csv => "line",
            Format::Xlsx | Format::Xls => "row",
            Format::GeoJson | Format::Shapefile | Format::GeoPackage => "feature",
        }
    }
}

/// The tables (CSV-shaped files), by base name.
const TABLES: [&str; 13] = [
    "address_aliases",
    "buildings",
    "units",
    "housing",
    "enterprises",
    "events",
    "event_steps",
    "work_items",
    "patrol_teams",
    "patrol_members",
    "grid_forces",
    "key_groups",
    "key_group_visits",
];
/// The layers (GeoJSON-shaped files), by base name.
const LAYERS: [&str; 6] = ["areas", "roads", "water", "landuse", "pois", "patrols"];

/// The import file (as `minqing generate` names it) a base name stands for.
pub fn canonical(stem: &str) -> Option<String> {
    if LAYERS.contains(&stem) {
        Some(format!("{stem}.geojson"))
    } else if TABLES.contains(&stem) || stem.starts_with("residents") {
        Some(format!("{stem}.csv"))
    } else {
        None
    }
}

/// One file to import.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The file's own name (`buildings.xlsx`).
    pub name: String,
    pub path: PathBuf,
    /// The import file it stands for (`buildings.csv`).
    pub canonical: String,
    pub format: Format,
}

/// What the importer makes of each file of a directory.
#[derive(Debug)]
pub enum Entry {
    Import(Planned),
    /// Not understood: the file and why.
    Failed(String, String),
}

/// Parts of a Shapefile other than the `.shp` itself.
const SHAPEFILE_PARTS: [&str; 8] = ["dbf", "shx", "prj", "cpg", "sbn", "sbx", "qix", "qmd"];

/// Plan the import of every file directly in `dir` (sub-directories are not read).
pub fn plan(dir: &Path) -> std::io::Result<Vec<Entry>> {
    plan_with(dir, None)
}

/// [`plan`] with a column mapping, whose `[files]` patterns name the base name of
/// files not named after one (`户籍人口2024.xlsx` → `residents`).
pub fn plan_with(
    dir: &Path,
    mapping: Option<&super::mapping::Mapping>,
) -> std::io::Result<Vec<Entry>> {
    let mut names: Vec<String> = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.path().is_file() {
            match e.file_name().into_string() {
                Ok(n) => names.push(n),
                Err(n) => names.push(n.to_string_lossy().into_owned()),
            }
        }
    }
    names.sort();
    let exists = |n: &str| names.iter().any(|m| m == n);
    let mut out = Vec::new();
    for name in &names {
        let lower = name.to_lowercase();
        if lower == "manifest.json"
            || lower.starts_with('.')
            || lower.starts_with("readme")
            || lower.ends_with(".md")
        {
            continue;
        }
        // A `.crs` sidecar belongs to the file it names.
        if let Some(target) = name.strip_suffix(".crs") {
            if !exists(target) {
                out.push(Entry::Failed(
                    name.clone(),
                    format!("a coordinate-system sidecar without its file {target}"),
                ));
            }
            continue;
        }
        let (stem, ext) = match name.rsplit_once('.') {
            Some((s, e)) => (s.to_string(), e.to_ascii_lowercase()),
            None => (name.clone(), String::new()),
        };
        // `areas.shp.xml` (ArcGIS metadata) belongs to its Shapefile too.
        if ext == "xml" && stem.to_ascii_lowercase().ends_with(".shp") && exists(&stem) {
            continue;
        }
        if SHAPEFILE_PARTS.contains(&ext.as_str()) {
            let shp = ["shp", "SHP"]
                .iter()
                .map(|e| format!("{stem}.{e}"))
                .find(|n| exists(n));
            if shp.is_none() {
                out.push(Entry::Failed(
                    name.clone(),
                    format!("a Shapefile part without its {stem}.shp"),
                ));
            }
            continue;
        }
        let mapped = mapping.and_then(|m| m.base_for(name)).and_then(canonical);
        let Some(canonical) = canonical(&stem).or(mapped) else {
            out.push(Entry::Failed(
                name.clone(),
                format!(
                    "not an import file: the names are {}, {} and residents*, each .csv, .xlsx, \
                     .xls, .geojson, .shp or .gpkg (or name it in the [files] of a --mapping; \
                     --suggest-mapping writes one)",
                    LAYERS.join(", "),
                    TABLES.join(", ")
                ),
            ));
            continue;
        };
        let Some(format) = Format::from_ext(&ext) else {
            out.push(Entry::Failed(
                name.clone(),
                format!(
                    "format .{ext} is not read: use .csv, .xlsx, .xls, .geojson, .shp (with .dbf) or .gpkg"
                ),
            ));
            continue;
        };
        if canonical.ends_with(".geojson") && !format.geographic() {
            out.push(Entry::Failed(
                name.clone(),
                format!("{stem} need geometry: give them as GeoJSON, Shapefile or GeoPackage"),
            ));
            continue;
        }
        if format == Format::Shapefile
            && !exists(&format!("{stem}.dbf"))
            && !exists(&format!("{stem}.DBF"))
        {
            out.push(Entry::Failed(
                name.clone(),
                format!("its attribute table {stem}.dbf is missing (a Shapefile needs its .shp and .dbf)"),
            ));
            continue;
        }
        out.push(Entry::Import(Planned {
            name: name.clone(),
            path: dir.join(name),
            canonical,
            format,
        }));
    }
    Ok(out)
}

/// One cell of a record, as the format gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Int(i64),
    Real(f64),
    /// A value that cannot be read (an Excel error, bad text encoding): why.
    Bad(String),
}

/// Largest integer a spreadsheet's double keeps exactly in every digit (Excel shows 15).
const EXACT_DIGITS: f64 = 1e15;

impl Cell {
    /// The text a CSV file would have held.
    pub fn text(&self) -> Result<std::borrow::Cow<'_, str>, String> {
        use std::borrow::Cow;
        Ok(match self {
            Cell::Empty => Cow::Borrowed(""),
            Cell::Text(s) => Cow::Borrowed(s.as_str()),
            Cell::Int(i) => Cow::Owned(i.to_string()),
            Cell::Real(f) if f.fract() == 0.0 && f.abs() < EXACT_DIGITS => {
                Cow::Owned((*f as i64).to_string())
            }
            Cell::Real(f) if f.fract() == 0.0 && f.is_finite() => {
                return Err(format!(
                    "the number {f:.0} has more digits than a spreadsheet keeps exactly \
                     (15); store this column as text"
                ));
            }
            Cell::Real(f) => Cow::Owned(f.to_string()),
            Cell::Bad(why) => return Err(why.clone()),
        })
    }

    /// The value as a GeoJSON property.
    pub fn json(&self) -> Result<serde_json::Value, String> {
        Ok(match self {
            Cell::Empty => serde_json::Value::Null,
            Cell::Text(s) => serde_json::Value::String(s.clone()),
            Cell::Int(i) => (*i).into(),
            Cell::Real(f) if f.fract() == 0.0 && f.abs() < EXACT_DIGITS => (*f as i64).into(),
            Cell::Real(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .ok_or_else(|| format!("{f} is not a number"))?,
            Cell::Bad(why) => return Err(why.clone()),
        })
    }

    pub fn from_json(v: &serde_json::Value) -> Cell {
        match v {
            serde_json::Value::Null => Cell::Empty,
            serde_json::Value::String(s) => Cell::Text(s.clone()),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Cell::Int(i),
                None => Cell::Real(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::Bool(b) => Cell::Int(*b as i64),
            other => Cell::Text(other.to_string()),
        }
    }
}

/// One record of a spreadsheet or a geographic file.
pub struct SourceRow {
    /// Its row (1 = the header row) or feature number (from 1).
    pub pos: u64,
    /// In the order of the file's header.
    pub cells: Vec<Cell>,
    /// The feature's geometry in WGS-84, or why it has none usable.
    pub geometry: Option<Result<geo_types::Geometry<f64>, String>>,
}

/// What a reader yields.
pub enum Item {
    Row(SourceRow),
    /// A record that cannot be read; reading goes on.
    Bad(LineError),
    /// The file cannot be read further (truncated, corrupt): why. Reading stops and the
    /// file counts as failed; the records read before it stay.
    Broken(String),
}

/// The records of a file in a format other than CSV.
pub struct Records {
    pub header: Vec<String>,
    pub encoding: &'static str,
    /// The CRS the geometries were converted from.
    pub crs: String,
    pub items: Box<dyn Iterator<Item = Item> + Send>,
}

/// Dates in spreadsheets and `.dbf` files, as the CSV files write them.
pub fn excel_date(serial: f64) -> Cell {
    // Day 0 of the 1900 system as Excel counts (its 1900-02-29 bug ends before 1900-03-01).
    let days = serial.floor() as i64;
    let Ok(span) = jiff::Span::new().try_days(days) else {
        return Cell::Bad(format!("date serial {serial} is out of range"));
    };
    let Ok(date) = jiff::civil::date(1899, 12, 30).checked_add(span) else {
        return Cell::Bad(format!("date serial {serial} is out of range"));
    };
    let secs = ((serial - serial.floor()) * 86_400.0).round() as i64;
    if secs == 0 {
        Cell::Text(date.to_string())
    } else {
        Cell::Text(format!(
            "{date} {:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file the generator writes is an import file by its base name (a new import
    /// file must be added here too, or a directory holding it would fail).
    #[test]
    fn every_generated_file_is_known_by_its_base_name() {
        for file in crate::import::FILES
            .iter()
            .filter(|f| **f != "manifest.json")
        {
            let stem = file.rsplit_once('.').map_or(*file, |(s, _)| s);
            assert_eq!(canonical(stem).as_deref(), Some(*file), "{file}");
        }
    }

    #[test]
    fn cells_read_as_csv_text() {
        assert_eq!(Cell::Real(12.0).text().unwrap(), "12");
        assert_eq!(Cell::Real(104.39791).text().unwrap(), "104.39791");
        assert_eq!(Cell::Int(-3).text().unwrap(), "-3");
        let e = Cell::Real(510_603_199_001_011_234.0).text().unwrap_err();
        assert!(e.contains("15"), "{e}");
        assert!(Cell::Bad("#N/A".into()).text().is_err());
        assert_eq!(excel_date(45_292.0), Cell::Text("2024-01-01".into()));
        assert_eq!(
            excel_date(45_292.5),
            Cell::Text("2024-01-01 12:00:00".into())
        );
        assert_eq!(canonical("buildings").as_deref(), Some("buildings.csv"));
        assert_eq!(canonical("areas").as_deref(), Some("areas.geojson"));
        assert_eq!(
            canonical("residents-gbk").as_deref(),
            Some("residents-gbk.csv")
        );
        assert_eq!(canonical("notes"), None);
        // The basemap's layers (GeoJSON-shaped: they need geometry).
        for stem in ["water", "landuse", "pois"] {
            assert_eq!(canonical(stem), Some(format!("{stem}.geojson")));
        }
    }
}
