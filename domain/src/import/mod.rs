//! `minqing import`: loads a directory of import files into a store.
//!
//! Each file is one transaction and is streamed in batches (never held whole in
//! memory). Bad rows are reported with their line numbers and the good rows still load.
//! Keys make it idempotent: importing the same files twice changes nothing. Records
//! carrying an `address_code` that exists in the register are linked by it; the others
//! are linked through the address matcher on their free-text address (unit, building,
//! ambiguous or unmatched; `pending` only while no register has been imported yet).
//!
//! Formats (`source.rs`): each import file may come as CSV, Excel (`sheet.rs`),
//! GeoJSON, Shapefile (`shp.rs`) or GeoPackage (`gpkg.rs`) under its base name; every
//! file of the directory is accounted for in the reports — a file that cannot be read
//! as a whole is a report with `failed` set (the CLI then exits non-zero), never skipped.
//!
//! Coordinates (`lon`/`lat` of buildings and events, geometries of the layers) are
//! WGS-84 unless the file declares another system (`crs.rs`): a Shapefile's `.prj`, a
//! GeoPackage's `srs_id`, or a sidecar file named after it with `.crs` appended
//! (`buildings.csv.crs`, `events.xlsx.crs`) holding one word — `wgs84`, `cgcs2000`,
//! `gcj02`, `bd09` or `EPSG:4490`/`4544`/`4523`… — or else the import's `--crs`. GCJ-02
//! and BD-09 points are converted to WGS-84 (iterative inverse, error far under 0.5 m),
//! Gauss-Krüger metres projected back, before validation and storage.

pub mod crs;
mod decode;
pub mod delta;
mod district;
pub mod gpkg;
pub mod mapping;
mod rows;
mod sheet;
mod shp;
pub mod source;

/// The import files, in the order they are read (areas before the buildings placed in
/// them, buildings before units, the register and its alias table before the records
/// linked to it).
pub const FILES: [&str; 22] = [
    "areas.geojson",
    "address_aliases.csv",
    "roads.geojson",
    "water.geojson",
    "landuse.geojson",
    "pois.geojson",
    "buildings.csv",
    "units.csv",
    "housing.csv",
    "residents.csv",
    "residents-gbk.csv",
    "enterprises.csv",
    "events.csv",
    "event_steps.csv",
    "work_items.csv",
    "patrol_teams.csv",
    "patrol_members.csv",
    "patrols.geojson",
    "grid_forces.csv",
    "key_groups.csv",
    "key_group_visits.csv",
    "manifest.json",
];

pub use decode::Encoding;

/// The header of each CSV import file: what `minqing generate` writes and the importer
/// requires (extra columns are ignored, order is free).
pub mod columns {
    use crate::store::tables;

    pub const BUILDINGS: &[&str] = tables::BUILDINGS.columns;
    pub const UNITS: &[&str] = &["code", "building_code", "unit", "floor", "room", "label"];
    /// Old name or other spelling → the register's name (`address_aliases.csv`).
    pub const ADDRESS_ALIASES: &[&str] = &["alias", "canonical"];
    pub const HOUSING: &[&str] = &["id", "address", "address_code", "floor_area", "occupancy"];
    pub const RESIDENTS: &[&str] = &[
        "id",
        "name",
        "sex",
        "birth_date",
        "id_number",
        "phone",
        "registration",
        "household_id",
        "relation",
        "address",
        "address_code",
        "key_groups",
    ];
    pub const ENTERPRISES: &[&str] = &[
        "id",
        "name",
        "credit_code",
        "industry",
        "size",
        "employees",
        "address",
        "address_code",
    ];
    pub const EVENTS: &[&str] = tables::EVENTS.columns;
    pub const EVENT_STEPS: &[&str] = tables::EVENT_STEPS.columns;
}

use crate::store::{SqlValue, Store, Table, tables};
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

/// A rejected row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineError {
    pub line: u64,
    pub message: String,
}

/// How records of a file were linked to the register.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LinkCounts {
    pub unit: u64,
    pub building: u64,
    pub ambiguous: u64,
    pub unmatched: u64,
    pub pending: u64,
}

/// What importing one file did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    pub file: String,
    /// `csv`, `xlsx`, `xls`, `geojson`, `shapefile`, `geopackage`, or `-` for a file not
    /// understood.
    pub format: &'static str,
    /// What the numbers of `errors` count: `line`, `row` (spreadsheets) or `feature`.
    pub position: &'static str,
    /// The coordinate system the file's coordinates were read in.
    pub crs: String,
    /// Why the file as a whole could not be read (or was read only up to a point); such
    /// an import fails.
    pub failed: Option<String>,
    pub encoding: &'static str,
    /// Data rows read (header excluded).
    pub rows_total: u64,
    /// Rows newly stored.
    pub rows_loaded: u64,
    /// Valid rows already in the store (a repeated import), and a delta's repeated
    /// retirements.
    pub rows_duplicate: u64,
    /// Stored records whose values a delta replaced (`op` update).
    pub rows_updated: u64,
    /// Stored records a delta retired (`op` retire).
    pub rows_retired: u64,
    pub errors: Vec<LineError>,
    pub links: LinkCounts,
}

impl FileReport {
    /// The report of `file` before any row is read (encoding UTF-8 until detected).
    fn empty(file: String) -> FileReport {
        FileReport {
            file,
            format: "csv",
            position: "line",
            crs: "wgs84".into(),
            failed: None,
            encoding: "utf-8",
            rows_total: 0,
            rows_loaded: 0,
            rows_duplicate: 0,
            rows_updated: 0,
            rows_retired: 0,
            errors: Vec::new(),
            links: LinkCounts::default(),
        }
    }
}

/// The register as the importer needs it to validate and link records.
#[derive(Default)]
pub struct ImportContext {
    district: Option<district::DistrictShape>,
    pub grid_codes: HashSet<String>,
    pub building_codes: HashSet<String>,
    pub unit_codes: HashSet<String>,
    pub event_codes: HashSet<String>,
    /// The address matcher's register, once buildings exist.
    pub register: Option<std::sync::Arc<minqing_address::Register>>,
    /// The coordinate system of the `lon`/`lat` columns of the file being imported.
    pub crs: crs::Crs,
    /// What the forces' files are checked against.
    pub forces: crate::forces::import::Known,
    /// The mapping's value maps of the file being imported.
    pub recoder: mapping::Recoder,
}

impl ImportContext {
    /// Whether a point lies inside the district polygon (true when none is known yet).
    pub fn in_district(&self, lon: f64, lat: f64) -> bool {
        self.district.as_ref().is_none_or(|d| d.contains(lon, lat))
    }

    fn set_district(&mut self, d: geo_types::MultiPolygon<f64>) {
        self.district = district::DistrictShape::new(d);
    }
}

/// The kind of each import file, by name.
fn table_for(file: &str) -> Option<Table> {
    Some(match file {
        "areas.geojson" => tables::AREAS,
        "roads.geojson" => tables::ROADS,
        "water.geojson" => tables::WATER,
        "landuse.geojson" => tables::LANDUSE,
        "pois.geojson" => tables::POIS,
        "address_aliases.csv" => tables::ADDRESS_ALIASES,
        "buildings.csv" => tables::BUILDINGS,
        "units.csv" => tables::UNITS,
        "housing.csv" => tables::HOUSING,
        "enterprises.csv" => tables::ENTERPRISES,
        "events.csv" => tables::EVENTS,
        "event_steps.csv" => tables::EVENT_STEPS,
        f if f.starts_with("residents") && f.ends_with(".csv") => tables::RESIDENTS,
        f => return crate::forces::import::table_for(f),
    })
}

/// Options of an import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The coordinate system of files that declare none (no `.prj`, `.crs` sidecar or
    /// GeoPackage `srs_id`).
    pub crs: Option<crs::Crs>,
    /// File names and headers of the district's own files (`mapping.rs`).
    pub mapping: Option<mapping::Mapping>,
    /// A delta import: rows of residents, housing and enterprises without an `op` are
    /// updates of the stored records (`delta.rs`).
    pub delta: bool,
    /// Read, check and link every file, report, and write nothing: each file's
    /// transaction is rolled back, and what it would have added is carried in memory to
    /// the files after it.
    pub dry_run: bool,
}

/// Import every file of `dir` in dependency order. `progress` is told each file.
pub async fn import_dir(
    store: &Store,
    dir: &Path,
    progress: &dyn Fn(&str),
) -> Result<Vec<FileReport>> {
    import_dir_with(store, dir, &ImportOptions::default(), progress).await
}

/// [`import_dir`] with options. Every file of the directory has its report: those not
/// understood, and those that cannot be read as a whole, with `failed` set.
pub async fn import_dir_with(
    store: &Store,
    dir: &Path,
    opts: &ImportOptions,
    progress: &dyn Fn(&str),
) -> Result<Vec<FileReport>> {
    let entries = source::plan_with(dir, opts.mapping.as_ref())
        .with_context(|| format!("reading {}", dir.display()))?;
    let mut reports = Vec::new();
    let mut planned = Vec::new();
    for e in entries {
        match e {
            source::Entry::Import(p) => planned.push(p),
            source::Entry::Failed(name, why) => {
                progress(&name);
                let mut r = FileReport::empty(name);
                r.format = "-";
                r.failed = Some(why);
                if !opts.dry_run {
                    record_failure(store, &r).await?;
                }
                reports.push(r);
            }
        }
    }
    let order = |n: &str| FILES.iter().position(|f| *f == n).unwrap_or(5);
    planned.sort_by_key(|p| (order(&p.canonical), p.name.clone()));
    let mut ctx = ImportContext::default();
    refresh_context(store, &mut ctx, "all").await?;
    let mut dry = opts.dry_run.then(DryRegister::default);
    for p in planned {
        progress(&p.name);
        let report = import_planned(store, &p, &mut ctx, opts, dry.as_mut()).await?;
        reports.push(report);
    }
    Ok(reports)
}

/// The report as stored: a file-level failure is error 0 (`import_reports` has no
/// column of its own for it).
fn stored_form(r: &FileReport) -> FileReport {
    let mut stored = r.clone();
    if let Some(why) = &r.failed {
        stored.errors.insert(
            0,
            LineError {
                line: 0,
                message: format!("file failed: {why}"),
            },
        );
    }
    stored
}

/// Store the report of a file that could not be imported at all.
async fn record_failure(store: &Store, r: &FileReport) -> Result<()> {
    let mut stored = stored_form(r);
    stored.encoding = "-";
    let mut tx = store.begin().await?;
    tx.record_report(&stored).await?;
    tx.commit().await
}

/// Reload what validation needs after a file changed the register.
async fn refresh_context(store: &Store, ctx: &mut ImportContext, after: &str) -> Result<()> {
    if matches!(after, "all" | "areas") {
        let areas = store.load_areas().await?;
        ctx.grid_codes = areas
            .iter()
            .filter(|a| a.level == crate::model::AreaLevel::Grid)
            .map(|a| a.code.clone())
            .collect();
        if let Some(d) = areas
            .into_iter()
            .find(|a| a.level == crate::model::AreaLevel::District)
        {
            ctx.set_district(d.geometry);
        }
    }
    if matches!(after, "all" | "buildings") {
        ctx.building_codes = codes(store, "SELECT code FROM buildings").await?;
    }
    if matches!(after, "all" | "units") {
        ctx.unit_codes = codes(store, "SELECT code FROM units").await?;
    }
    if matches!(after, "all" | "buildings" | "units" | "address_aliases") {
        ctx.register = if ctx.building_codes.is_empty() {
            None
        } else {
            let (areas, buildings, units) = tokio::try_join!(
                store.load_areas(),
                store.load_buildings(),
                store.load_units()
            )?;
            Some(register_of(store, areas, buildings, units).await?)
        };
    }
    if matches!(after, "all" | "events") {
        ctx.event_codes = codes(store, "SELECT code FROM events").await?;
    }
    crate::forces::import::refresh(store, ctx, after).await?;
    Ok(())
}

pub(crate) async fn codes(store: &Store, sql: &str) -> Result<HashSet<String>> {
    use futures_util::TryStreamExt;
    let mut out = HashSet::new();
    crate::store::dispatch!(store, Store, p => {
        let mut rows = sqlx::query_scalar::<_, String>(sql).fetch(p);
        while let Some(c) = rows.try_next().await? {
            out.insert(c);
        }
    });
    Ok(out)
}

/// Lines in the file at `path`: about its rows, before they are parsed.
fn count_lines(path: &Path) -> Result<u64> {
    use std::io::Read;
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut lines = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            return Ok(lines);
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}

/// Import one file in one transaction (its format from its extension).
pub async fn import_file(
    store: &Store,
    path: &Path,
    ctx: &mut ImportContext,
) -> Result<FileReport> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let dir = path.parent().unwrap_or(Path::new("."));
    let planned = source::plan(dir)?
        .into_iter()
        .find_map(|e| match e {
            source::Entry::Import(p) if p.name == name => Some(Ok(p)),
            source::Entry::Failed(n, why) if n == name => Some(Err(why)),
            _ => None,
        })
        .with_context(|| format!("no import file {name}"))?
        .map_err(|why| anyhow::anyhow!("{name}: {why}"))?;
    import_planned(store, &planned, ctx, &ImportOptions::default(), None).await
}

/// The coordinate system a file declares in its `.crs` sidecar, else the import's.
fn declared_crs(path: &Path, opts: &ImportOptions) -> Result<Option<crs::Crs>, String> {
    let mut sidecar = path.as_os_str().to_owned();
    sidecar.push(".crs");
    let sidecar = std::path::PathBuf::from(sidecar);
    match std::fs::read_to_string(&sidecar) {
        Ok(text) => crs::Crs::parse(&text).map(Some).ok_or_else(|| {
            format!(
                "{}: unknown datum {:?} (want wgs84, cgcs2000, gcj02, bd09 or EPSG:4490/4544/4523…)",
                sidecar.display(),
                text.trim()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(opts.crs.clone()),
        Err(e) => Err(format!("reading {}: {e}", sidecar.display())),
    }
}

/// The records of a file in a format other than CSV (and GeoJSON layers).
async fn open_records(
    p: &source::Planned,
    explicit: Option<&crs::Crs>,
) -> Result<Option<source::Records>, String> {
    use source::Format;
    let layer = p.canonical.ends_with(".geojson");
    Ok(Some(match p.format {
        Format::Csv => return Ok(None),
        Format::GeoJson if layer => return Ok(None),
        Format::GeoJson => {
            let bytes = std::fs::read(&p.path).map_err(|e| e.to_string())?;
            geojson_records(&p.canonical, &bytes, explicit.cloned().unwrap_or_default())
        }
        Format::Xlsx => sheet::records(&p.path, false)?,
        Format::Xls => sheet::records(&p.path, true)?,
        Format::Shapefile => shp::records(&p.path, explicit)?,
        Format::GeoPackage => {
            let stem = p.name.rsplit_once('.').map_or(p.name.as_str(), |(s, _)| s);
            gpkg::records(&p.path, stem, explicit).await?
        }
    }))
}

/// A GeoJSON file of a table (buildings, events): each feature's properties are its
/// columns, its geometry the point.
fn geojson_records(canonical: &str, bytes: &[u8], crs: crs::Crs) -> source::Records {
    let header: Vec<String> = rows::required(canonical)
        .iter()
        .map(|s| s.to_string())
        .collect();
    let names = header.clone();
    let items: Vec<source::Item> = rows::geojson_features(bytes)
        .into_iter()
        .map(|item| match item {
            Err(e) => source::Item::Bad(e),
            Ok((pos, f)) => {
                let cells = names
                    .iter()
                    .map(|n| {
                        f.properties
                            .as_ref()
                            .and_then(|p| p.get(n))
                            .map_or(source::Cell::Empty, source::Cell::from_json)
                    })
                    .collect();
                let geometry = f.geometry.as_ref().map(|g| {
                    geo_types::Geometry::<f64>::try_from(g.clone())
                        .map_err(|e| format!("bad geometry: {e}"))
                        .and_then(|mut g| crs.geometry_to_wgs84(&mut g).map(|()| g))
                });
                source::Item::Row(source::SourceRow {
                    pos,
                    cells,
                    geometry,
                })
            }
        })
        .collect();
    source::Records {
        header,
        encoding: "utf-8",
        crs: crs.name(),
        items: Box::new(items.into_iter()),
    }
}

/// A point standing for a record's geometry: the point itself, or a point inside a
/// footprint (not the centroid, which an L-shaped building may not contain).
fn representative(g: &geo_types::Geometry<f64>) -> Result<(f64, f64), String> {
    use geo::InteriorPoint;
    match g {
        geo_types::Geometry::Point(p) => Ok((p.x(), p.y())),
        geo_types::Geometry::MultiPoint(m) if m.0.len() == 1 => Ok((m.0[0].x(), m.0[0].y())),
        geo_types::Geometry::Polygon(_) | geo_types::Geometry::MultiPolygon(_) => g
            .interior_point()
            .map(|p| (p.x(), p.y()))
            .ok_or_else(|| "the footprint has no area".to_string()),
        _ => Err("the geometry must be a point or a footprint polygon".into()),
    }
}

/// The geometry layers' features, as store rows: a layer's record is its feature.
fn layer_row(
    canonical: &str,
    header: &[String],
    row: source::SourceRow,
    ctx: &ImportContext,
) -> Result<Vec<SqlValue>, String> {
    let mut props = serde_json::Map::new();
    for (h, c) in header.iter().zip(&row.cells) {
        props.insert(h.clone(), c.json().map_err(|e| format!("column {h}: {e}"))?);
    }
    let g = match row.geometry.ok_or("the feature has no geometry")?? {
        // Shapefiles store every line as a multi-part line: one part is a line.
        geo_types::Geometry::MultiLineString(mut m) if m.0.len() == 1 => {
            geo_types::Geometry::LineString(m.0.remove(0))
        }
        geo_types::Geometry::MultiPoint(mut m) if m.0.len() == 1 => {
            geo_types::Geometry::Point(m.0.remove(0))
        }
        g => g,
    };
    let f = geojson::Feature {
        bbox: None,
        geometry: Some(geojson::Geometry::new(geojson::Value::from(&g))),
        id: None,
        properties: Some(props),
        foreign_members: None,
    };
    rows::feature_row(canonical, &f, ctx)
}

/// The values of the required columns of `canonical` (in [`rows::required`] order) and
/// the `op` of one record of a spreadsheet or geographic file.
fn record_values(
    canonical: &str,
    index: &[usize],
    op_index: Option<usize>,
    row: source::SourceRow,
) -> Result<(Vec<String>, Option<String>), String> {
    let names = rows::required(canonical);
    let mut values = Vec::with_capacity(names.len());
    for (n, &i) in names.iter().zip(index) {
        let v = match row.cells.get(i) {
            Some(c) => c
                .text()
                .map_err(|e| format!("column {n}: {e}"))?
                .into_owned(),
            None => String::new(),
        };
        values.push(v);
    }
    if let Some(g) = row.geometry {
        let (lon, lat) = representative(&g?)?;
        for (n, v) in names.iter().zip(values.iter_mut()) {
            match *n {
                "lon" => *v = lon.to_string(),
                "lat" => *v = lat.to_string(),
                _ => {}
            }
        }
    }
    let op = match op_index.and_then(|i| row.cells.get(i)) {
        Some(c) => Some(
            c.text()
                .map_err(|e| format!("column op: {e}"))?
                .into_owned(),
        ),
        None => None,
    };
    Ok((values, op))
}

/// A file's rows as they are validated: the operation, the key and the store row.
#[derive(Clone)]
struct RowMaker {
    canonical: String,
    /// Where the table's key is among the required columns.
    key: usize,
    /// Whether rows carry operations (an `op` column, or a `--delta` import of a
    /// record table): batches then go through [`delta::apply`].
    ops: bool,
    delta: bool,
}

impl RowMaker {
    fn make(
        &self,
        line: u64,
        values: Vec<String>,
        op: Option<String>,
        ctx: &ImportContext,
    ) -> Result<delta::Pending, LineError> {
        let err = |message: String| LineError { line, message };
        let op = delta::Op::parse(op.as_deref(), self.delta).map_err(err)?;
        let key = values.get(self.key).map_or("", |k| k.trim()).to_string();
        if op == delta::Op::Retire {
            // A retire row needs only its key.
            if key.is_empty() {
                return Err(err(format!(
                    "{} is empty",
                    rows::required(&self.canonical)[self.key]
                )));
            }
            return Ok(delta::Pending {
                line,
                op,
                key,
                row: None,
                link: None,
            });
        }
        let (row, link) = rows::parse_values(&self.canonical, values, ctx).map_err(err)?;
        Ok(delta::Pending {
            line,
            op,
            key,
            row: Some(row),
            link,
        })
    }
}

/// The register rows a dry run has validated but not stored, so the files after them
/// are checked and linked as a real import would (units against the buildings, records
/// against the register).
#[derive(Default)]
struct DryRegister {
    areas: Vec<crate::model::Area>,
    buildings: Vec<crate::model::Building>,
    units: Vec<crate::store::load::UnitRow>,
}

fn text_of(v: &SqlValue) -> Option<String> {
    match v {
        SqlValue::Text(s) => s.clone(),
        SqlValue::Int(i) => i.map(|i| i.to_string()),
        SqlValue::Real(f) => f.map(|f| f.to_string()),
    }
}

fn u32_of(v: &SqlValue) -> Option<u32> {
    match v {
        SqlValue::Int(Some(i)) => u32::try_from(*i).ok(),
        _ => None,
    }
}

fn f64_of(v: &SqlValue) -> f64 {
    match v {
        SqlValue::Real(Some(f)) => *f,
        SqlValue::Int(Some(i)) => *i as f64,
        _ => f64::NAN,
    }
}

impl DryRegister {
    /// Take the validated rows of `table` into the context as a commit would.
    async fn take(
        &mut self,
        store: &Store,
        ctx: &mut ImportContext,
        table: &str,
        rows: Vec<Vec<SqlValue>>,
    ) -> Result<()> {
        let key = |r: &Vec<SqlValue>| r.first().and_then(text_of).unwrap_or_default();
        match table {
            "areas" => {
                for r in &rows {
                    let level = r.get(2).and_then(text_of).unwrap_or_default();
                    let code = key(r);
                    let geometry = r
                        .get(5)
                        .and_then(text_of)
                        .and_then(|t| t.parse::<geojson::Geometry>().ok())
                        .and_then(|g| geo_types::Geometry::<f64>::try_from(g).ok())
                        .and_then(|g| match g {
                            geo_types::Geometry::Polygon(p) => {
                                Some(geo_types::MultiPolygon(vec![p]))
                            }
                            geo_types::Geometry::MultiPolygon(m) => Some(m),
                            _ => None,
                        })
                        .unwrap_or(geo_types::MultiPolygon(Vec::new()));
                    let level = crate::model::AreaLevel::parse(&level)
                        .unwrap_or(crate::model::AreaLevel::Grid);
                    if level == crate::model::AreaLevel::Grid {
                        ctx.grid_codes.insert(code.clone());
                    }
                    if level == crate::model::AreaLevel::District {
                        ctx.set_district(geometry.clone());
                    }
                    ctx.forces.area_codes.insert(code.clone());
                    self.areas.push(crate::model::Area {
                        code,
                        name: r.get(1).and_then(text_of).unwrap_or_default(),
                        level,
                        parent: r.get(3).and_then(text_of),
                        kind: r.get(4).and_then(text_of).unwrap_or_default(),
                        geometry,
                    });
                }
                if !self.buildings.is_empty() {
                    self.rebuild(store, ctx).await?;
                }
            }
            "buildings" => {
                for r in &rows {
                    ctx.building_codes.insert(key(r));
                    self.buildings.push(crate::model::Building {
                        code: key(r),
                        label: r.get(1).and_then(text_of).unwrap_or_default(),
                        grid_code: r.get(2).and_then(text_of).unwrap_or_default(),
                        road: r.get(3).and_then(text_of),
                        door: r.get(4).and_then(u32_of),
                        compound: r.get(5).and_then(text_of),
                        building_no: r.get(6).and_then(u32_of),
                        village_group: r.get(7).and_then(u32_of),
                        house_no: r.get(8).and_then(u32_of),
                        kind: r.get(9).and_then(text_of).unwrap_or_default(),
                        floors: r.get(10).and_then(u32_of).unwrap_or(0),
                        lon: r.get(11).map_or(f64::NAN, f64_of),
                        lat: r.get(12).map_or(f64::NAN, f64_of),
                    });
                }
                self.rebuild(store, ctx).await?;
            }
            "units" => {
                for r in &rows {
                    ctx.unit_codes.insert(key(r));
                    self.units.push(crate::store::load::UnitRow {
                        code: key(r),
                        building_code: r.get(1).and_then(text_of).unwrap_or_default(),
                        unit_no: r.get(2).and_then(u32_of),
                        room: r.get(4).and_then(u32_of),
                        label: r.get(5).and_then(text_of).unwrap_or_default(),
                    });
                }
                self.rebuild(store, ctx).await?;
            }
            "events" => ctx.event_codes.extend(rows.iter().map(key)),
            "patrol_teams" => ctx.forces.team_codes.extend(rows.iter().map(key)),
            "key_group_people" => ctx.forces.key_group_ids.extend(rows.iter().map(key)),
            _ => {}
        }
        Ok(())
    }

    /// The matcher's register over the stored and the dry run's register rows.
    async fn rebuild(&self, store: &Store, ctx: &mut ImportContext) -> Result<()> {
        let (mut areas, mut buildings, mut units) = tokio::try_join!(
            store.load_areas(),
            store.load_buildings(),
            store.load_units()
        )?;
        with_unstored(&mut buildings, &self.buildings, |b| &b.code);
        with_unstored(&mut units, &self.units, |u| &u.code);
        with_unstored(&mut areas, &self.areas, |a| &a.code);
        ctx.register = Some(register_of(store, areas, buildings, units).await?);
        Ok(())
    }
}

/// Append the dry run's rows whose code the store does not hold.
fn with_unstored<T: Clone>(stored: &mut Vec<T>, dry: &[T], code: impl Fn(&T) -> &String) {
    let known: HashSet<String> = stored.iter().map(|r| code(r).clone()).collect();
    stored.extend(dry.iter().filter(|r| !known.contains(code(r))).cloned());
}

/// The matcher's register over these rows, with the centre's alias table from the store.
async fn register_of(
    store: &Store,
    areas: Vec<crate::model::Area>,
    buildings: Vec<crate::model::Building>,
    units: Vec<crate::store::load::UnitRow>,
) -> Result<std::sync::Arc<minqing_address::Register>> {
    let aliases = store.load_aliases().await?;
    let names = crate::address_service::area_names(&areas);
    let reg = tokio::task::spawn_blocking(move || {
        crate::address_service::build_register(&names, &buildings, &units, &aliases)
    })
    .await??;
    Ok(std::sync::Arc::new(reg))
}

/// Import one planned file in one transaction; a dry run rolls it back.
async fn import_planned(
    store: &Store,
    p: &source::Planned,
    ctx: &mut ImportContext,
    opts: &ImportOptions,
    dry: Option<&mut DryRegister>,
) -> Result<FileReport> {
    let name = p.name.clone();
    let canonical = p.canonical.as_str();
    let table = table_for(canonical).with_context(|| format!("unknown import file {name}"))?;
    let mut report = FileReport::empty(name.clone());
    report.format = p.format.name();
    report.position = p.format.position();
    let dry_run = dry.is_some();
    let fail = async |mut report: FileReport, why: String| -> Result<FileReport> {
        report.failed = Some(why);
        if !dry_run {
            record_failure(store, &report).await?;
        }
        Ok(report)
    };
    let explicit = match declared_crs(&p.path, opts) {
        Ok(c) => c,
        Err(why) => return fail(report, why).await,
    };
    let mut records = match open_records(p, explicit.as_ref()).await {
        Ok(r) => r,
        Err(why) => return fail(report, why).await,
    };
    let mapping = opts.mapping.as_ref().and_then(|m| m.table(canonical));
    ctx.recoder = mapping
        .map(|m| m.recoder(rows::required(canonical)))
        .unwrap_or_default();
    // Geographic formats arrive converted; tables' `lon`/`lat` are converted per row.
    ctx.crs = match &records {
        Some(r) if p.format.geographic() => {
            report.crs = r.crs.clone();
            crs::Crs::default()
        }
        _ => {
            let c = explicit.clone().unwrap_or_default();
            report.crs = c.name();
            c
        }
    };
    if let Some(r) = &mut records {
        report.encoding = r.encoding;
        if let Some(m) = mapping {
            m.rename(&mut r.header);
        }
    }
    let layer = canonical.ends_with(".geojson");
    let index = match &records {
        Some(r) if !layer => {
            match rows::column_index(canonical, &r.header, p.format.geographic()) {
                Ok(i) => i,
                Err(e) => {
                    let why = bad_header(&name, canonical, &r.header, &e);
                    return fail(report, why).await;
                }
            }
        }
        _ => Vec::new(),
    };
    let csv = match (&records, p.format) {
        (None, source::Format::Csv) => {
            let file = std::fs::File::open(&p.path)
                .with_context(|| format!("opening {}", p.path.display()))?;
            match CsvRows::new(canonical, file, mapping) {
                Ok(r) => Some(r),
                Err(e) => return fail(report, format!("{e:#}")).await,
            }
        }
        _ => None,
    };
    let op_index = match (&records, &csv) {
        (Some(r), _) if !layer => op_position(&r.header),
        (_, Some(c)) => c.parser.op,
        _ => None,
    };
    let delta_table = delta::DELTA_TABLES.contains(&table.name);
    if op_index.is_some() && !delta_table {
        let why = format!(
            "an op column (a delta) is read only in files of {}",
            delta::DELTA_TABLES.join(", ")
        );
        return fail(report, why).await;
    }
    let maker = RowMaker {
        canonical: canonical.to_string(),
        key: rows::required(canonical)
            .iter()
            .position(|c| *c == table.key)
            .unwrap_or(0),
        ops: delta_table && (op_index.is_some() || opts.delta),
        delta: opts.delta,
    };
    let incoming = match p.format {
        source::Format::Csv | source::Format::GeoJson => count_lines(&p.path)?,
        // About 64 bytes a row in a compressed workbook; a feature a few hundred.
        _ => std::fs::metadata(&p.path).map_or(0, |m| m.len() / 64),
    };
    let mut tx = store.begin().await?;
    tx.begin_bulk().await?;
    // A delta changes a few rows of a big table: its indexes stay.
    let deferred = if maker.ops {
        tx.defer_indexes(&table, 0).await?
    } else {
        tx.defer_indexes(&table, incoming).await?
    };
    let keep_rows = dry_run
        && matches!(
            table.name,
            "areas" | "buildings" | "units" | "events" | "patrol_teams" | "key_group_people"
        );
    let mut kept: Vec<Vec<SqlValue>> = Vec::new();
    let mut batch: Vec<delta::Pending> = Vec::with_capacity(table.batch_rows());
    let mut in_batch: HashSet<String> = HashSet::new();
    let mut pending_links = LinkCounts::default();
    // Rows of a plain import are inserted as they come; rows with operations go
    // through `delta::apply`, which records each outcome.
    let flush = async |tx: &mut crate::store::StoreTx,
                       batch: &mut Vec<delta::Pending>,
                       in_batch: &mut HashSet<String>,
                       report: &mut FileReport,
                       kept: &mut Vec<Vec<SqlValue>>|
           -> Result<()> {
        in_batch.clear();
        if keep_rows {
            kept.extend(batch.iter().filter_map(|p| p.row.clone()));
        }
        if maker.ops {
            return delta::apply(tx, &table, &name, batch, report).await;
        }
        let rows: Vec<Vec<SqlValue>> = batch.drain(..).filter_map(|p| p.row).collect();
        let n = tx.insert(&table, &rows).await?;
        report.rows_loaded += n;
        report.rows_duplicate += rows.len() as u64 - n;
        Ok(())
    };
    let mut take = async |item: Result<delta::Pending, LineError>,
                          tx: &mut crate::store::StoreTx,
                          batch: &mut Vec<delta::Pending>,
                          in_batch: &mut HashSet<String>,
                          report: &mut FileReport,
                          kept: &mut Vec<Vec<SqlValue>>|
           -> Result<()> {
        report.rows_total += 1;
        match item {
            Ok(pending) => {
                if maker.ops {
                    // One statement never touches a key twice (see `delta::apply`).
                    if !in_batch.insert(pending.key.clone()) {
                        flush(tx, batch, in_batch, report, kept).await?;
                        in_batch.insert(pending.key.clone());
                    }
                } else if let Some(l) = pending.link {
                    count_link(&mut pending_links, l);
                }
                batch.push(pending);
            }
            Err(e) => report.errors.push(e),
        }
        if batch.len() >= table.batch_rows() {
            flush(tx, batch, in_batch, report, kept).await?;
        }
        Ok(())
    };
    if records.is_none() && csv.is_none() {
        if p.format == source::Format::GeoJson {
            let text =
                std::fs::read(&p.path).with_context(|| format!("reading {}", p.path.display()))?;
            let transform = explicit.filter(|c| {
                !matches!(
                    c,
                    crs::Crs::Geographic(minqing_address::coords::Datum::Wgs84)
                )
            });
            for item in rows::geojson_features(&text) {
                let item = item.and_then(|(line, mut f)| {
                    if let (Some(c), Some(g)) = (&transform, f.geometry.as_mut()) {
                        let converted = geo_types::Geometry::<f64>::try_from(g.clone())
                            .map_err(|e| format!("bad geometry: {e}"))
                            .and_then(|mut geo| c.geometry_to_wgs84(&mut geo).map(|()| geo));
                        match converted {
                            Ok(geo) => *g = geojson::Geometry::new(geojson::Value::from(&geo)),
                            Err(m) => return Err(LineError { line, message: m }),
                        }
                    }
                    rows::feature_row(canonical, &f, ctx)
                        .map(|r| delta::Pending {
                            line,
                            op: delta::Op::Add,
                            key: String::new(),
                            row: Some(r),
                            link: None,
                        })
                        .map_err(|m| LineError { line, message: m })
                });
                take(
                    item,
                    &mut tx,
                    &mut batch,
                    &mut in_batch,
                    &mut report,
                    &mut kept,
                )
                .await?;
            }
        }
    } else {
        // Rows are validated, linked and sealed on a thread of their own while this task
        // stores the batch before: the maker and the store's writer work at once.
        let incoming = match (records, csv) {
            (Some(r), _) => Incoming::Records(r),
            (None, Some(c)) => {
                report.encoding = c.encoding.name();
                Incoming::Csv(c)
            }
            (None, None) => unreachable!("checked above"),
        };
        let shared = Arc::new(std::mem::take(ctx));
        let (made_tx, mut made_rx) = tokio::sync::mpsc::channel::<Vec<Made>>(4);
        let worker = {
            let shape = RowShape {
                maker: maker.clone(),
                index: index.clone(),
                op_index,
                layer,
            };
            let ctx = shared.clone();
            std::thread::Builder::new()
                .name("import-rows".into())
                .spawn(move || make_rows(incoming, &shape, &ctx, &made_tx))
                .context("starting the row maker")?
        };
        let consumed = async {
            while let Some(made) = made_rx.recv().await {
                for m in made {
                    match m {
                        Made::Row(item) => {
                            take(
                                item,
                                &mut tx,
                                &mut batch,
                                &mut in_batch,
                                &mut report,
                                &mut kept,
                            )
                            .await?
                        }
                        Made::Broken(why) => {
                            report.failed = Some(why);
                            return Ok(());
                        }
                    }
                }
            }
            anyhow::Ok(())
        }
        .await;
        // The maker stops at its next batch once nobody receives.
        drop(made_rx);
        let joined = worker.join();
        *ctx = Arc::try_unwrap(shared)
            .map_err(|_| anyhow::anyhow!("the row maker still holds the import context"))?;
        joined.map_err(|_| anyhow::anyhow!("the row maker panicked"))?;
        consumed?;
    }
    flush(&mut tx, &mut batch, &mut in_batch, &mut report, &mut kept).await?;
    if !maker.ops {
        report.links = pending_links;
    }
    tx.rebuild_indexes(deferred).await?;
    if let Some(dry) = dry {
        // Nothing is kept: the transaction is rolled back with the connection's cache
        // given back, and what the file would have added is taken into the context.
        rollback_bulk(tx).await?;
        dry.take(store, ctx, table.name, kept).await?;
        return Ok(report);
    }
    tx.record_report(&stored_form(&report)).await?;
    tx.commit_bulk().await?;
    let after = match table.name {
        "areas" => "areas",
        "buildings" => "buildings",
        "units" => "units",
        "address_aliases" => "address_aliases",
        "events" => "events",
        "patrol_teams" => "patrol_teams",
        "key_group_people" => "key_group_people",
        _ => "",
    };
    if !after.is_empty() {
        refresh_context(store, ctx, after).await?;
    }
    Ok(report)
}

/// Roll back a transaction begun with `begin_bulk`, giving SQLite's default page cache
/// back to its connection (as `commit_bulk` does).
async fn rollback_bulk(tx: crate::store::StoreTx) -> Result<()> {
    match tx {
        crate::store::StoreTx::Sqlite(mut tx) => {
            sqlx::query("PRAGMA cache_size = -2000")
                .execute(&mut *tx)
                .await?;
            tx.rollback().await?;
        }
        crate::store::StoreTx::Postgres(tx) => tx.rollback().await?,
    }
    Ok(())
}

/// Where a file's `op` column is.
fn op_position(header: &[String]) -> Option<usize> {
    header.iter().position(|h| h.trim() == mapping::OP_COLUMN)
}

/// A header that lacks our columns: what is missing and what its headers look like.
fn bad_header(file: &str, canonical: &str, header: &[String], e: &str) -> String {
    let stem = canonical.rsplit_once('.').map_or(canonical, |(s, _)| s);
    let s = mapping::suggest(file, Some(stem), header);
    format!(
        "bad header: {e}. {}. Map the columns with --mapping FILE (--suggest-mapping FILE writes one)",
        mapping::describe(&s)
    )
}

/// Where a file's rows come from once it is open.
enum Incoming {
    /// A spreadsheet or geographic file's records.
    Records(source::Records),
    Csv(CsvRows<std::fs::File>),
}

/// How a file's records become rows of its table.
struct RowShape {
    maker: RowMaker,
    /// Source column of each required column (records only).
    index: Vec<usize>,
    op_index: Option<usize>,
    /// A geographic layer (`*.geojson` tables): records become features.
    layer: bool,
}

/// One record made into a row (or refused with its line), or the end of a file that
/// cannot be read further.
enum Made {
    Row(Result<delta::Pending, LineError>),
    Broken(String),
}

/// Rows handed over per message by [`make_rows`].
const MADE_BATCH: usize = 512;

/// Make every record of `incoming` into a row, in file order, handing them to `out` in
/// batches; stops early when `out` is closed.
fn make_rows(
    incoming: Incoming,
    shape: &RowShape,
    ctx: &ImportContext,
    out: &tokio::sync::mpsc::Sender<Vec<Made>>,
) {
    let mut made = Vec::with_capacity(MADE_BATCH);
    let hand_over = |made: &mut Vec<Made>| {
        out.blocking_send(std::mem::replace(made, Vec::with_capacity(MADE_BATCH)))
            .is_ok()
    };
    let canonical = shape.maker.canonical.as_str();
    match incoming {
        Incoming::Records(records) => {
            let header = records.header;
            for item in records.items {
                let m = match item {
                    source::Item::Row(row) => {
                        let line = row.pos;
                        Made::Row(if shape.layer {
                            layer_row(canonical, &header, row, ctx)
                                .map(|r| delta::Pending {
                                    line,
                                    op: delta::Op::Add,
                                    key: String::new(),
                                    row: Some(r),
                                    link: None,
                                })
                                .map_err(|message| LineError { line, message })
                        } else {
                            record_values(canonical, &shape.index, shape.op_index, row)
                                .map_err(|message| LineError { line, message })
                                .and_then(|(values, op)| shape.maker.make(line, values, op, ctx))
                        })
                    }
                    source::Item::Bad(e) => Made::Row(Err(e)),
                    source::Item::Broken(why) => {
                        made.push(Made::Broken(why));
                        hand_over(&mut made);
                        return;
                    }
                };
                made.push(m);
                if made.len() >= MADE_BATCH && !hand_over(&mut made) {
                    return;
                }
            }
        }
        Incoming::Csv(mut rows) => {
            while let Some(item) = rows.next_values() {
                let item =
                    item.and_then(|(line, values, op)| shape.maker.make(line, values, op, ctx));
                made.push(Made::Row(item));
                if made.len() >= MADE_BATCH && !hand_over(&mut made) {
                    return;
                }
            }
        }
    }
    if !made.is_empty() {
        hand_over(&mut made);
    }
}

/// The rows of one CSV import file, read as a stream: each its values (in
/// [`rows::required`] order) and `op`, or the line's error. A row with the wrong number of
/// fields or bad UTF-8 is an error and reading goes on; any other unreadable input ends
/// the file.
struct CsvRows<R: std::io::Read> {
    csv: csv::Reader<decode::Rewound<R>>,
    encoding: Encoding,
    parser: rows::CsvParser,
    record: csv::ByteRecord,
    done: bool,
}

impl<R: std::io::Read> CsvRows<R> {
    fn new(name: &str, file: R, mapping: Option<&mapping::TableMapping>) -> Result<Self> {
        let (encoding, reader) = decode::sniff(file)?;
        let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
        let mut header: Vec<String> = match csv.byte_headers() {
            Ok(h) => h
                .iter()
                .map(|f| {
                    encoding
                        .decode(f)
                        .unwrap_or_default()
                        .trim_start_matches('\u{feff}')
                        .to_string()
                })
                .collect(),
            Err(e) => anyhow::bail!("{name}: cannot read the header: {e}"),
        };
        if let Some(m) = mapping {
            m.rename(&mut header);
        }
        let parser = rows::CsvParser::new(name, &header)
            .map_err(|e| anyhow::anyhow!("{}", bad_header(name, name, &header, &e)))?;
        Ok(Self {
            csv,
            encoding,
            parser,
            record: csv::ByteRecord::new(),
            done: false,
        })
    }

    #[allow(clippy::type_complexity)]
    fn next_values(&mut self) -> Option<Result<(u64, Vec<String>, Option<String>), LineError>> {
        if self.done {
            return None;
        }
        let line = self.csv.position().line() + 1;
        match self.csv.read_byte_record(&mut self.record) {
            Ok(false) => {
                self.done = true;
                None
            }
            Ok(true) => {
                let line = self.record.position().map_or(line, |p| p.line());
                Some(
                    self.parser
                        .values(&self.record, self.encoding)
                        .map(|(values, op)| (line, values, op))
                        .map_err(|message| LineError { line, message }),
                )
            }
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                if !matches!(
                    e.kind(),
                    csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }
                ) {
                    self.done = true;
                }
                Some(Err(LineError {
                    line,
                    message: format!("unreadable row: {e}"),
                }))
            }
        }
    }
}

/// Validate the bytes of one import file named `name` exactly as [`import_file`] does,
/// without a store: the report of what an import would do (`rows_loaded` counts the
/// valid rows; nothing is checked against stored keys). The fuzz targets use this.
pub fn check_bytes(name: &str, bytes: &[u8], ctx: &ImportContext) -> Result<FileReport> {
    table_for(name).with_context(|| format!("unknown import file {name}"))?;
    let mut report = FileReport::empty(name.to_string());
    let take = |report: &mut FileReport,
                ok: Result<Option<crate::model::LinkStatus>, LineError>| {
        report.rows_total += 1;
        match ok {
            Ok(link) => {
                report.rows_loaded += 1;
                if let Some(l) = link {
                    count_link(&mut report.links, l);
                }
            }
            Err(e) => report.errors.push(e),
        }
    };
    if name.ends_with(".geojson") {
        for item in rows::geojson_features(bytes) {
            let r = item.and_then(|(line, f)| {
                rows::feature_row(name, &f, ctx)
                    .map(|_| None)
                    .map_err(|m| LineError { line, message: m })
            });
            take(&mut report, r);
        }
    } else {
        let mut rows = CsvRows::new(name, bytes, None)?;
        report.encoding = rows.encoding.name();
        while let Some(item) = rows.next_values() {
            let r = item.and_then(|(line, values, _)| {
                rows::parse_values(name, values, ctx)
                    .map(|(_, link)| link)
                    .map_err(|message| LineError { line, message })
            });
            take(&mut report, r);
        }
    }
    Ok(report)
}

fn count_link(c: &mut LinkCounts, l: crate::model::LinkStatus) {
    use crate::model::LinkStatus::*;
    match l {
        Unit => c.unit += 1,
        Building => c.building += 1,
        Ambiguous => c.ambiguous += 1,
        Unmatched => c.unmatched += 1,
        Pending => c.pending += 1,
    }
}

/// The header of a planned file, as the importer reads it (`None`: a layer, whose
/// features carry their properties, or a file whose header cannot be read).
async fn header_of(p: &source::Planned) -> Option<Vec<String>> {
    if p.format == source::Format::Csv {
        let file = std::fs::File::open(&p.path).ok()?;
        let (encoding, reader) = decode::sniff(file).ok()?;
        let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
        let h = csv.byte_headers().ok()?;
        return Some(
            h.iter()
                .map(|f| {
                    encoding
                        .decode(f)
                        .unwrap_or_default()
                        .trim_start_matches('\u{feff}')
                        .to_string()
                })
                .collect(),
        );
    }
    open_records(p, None).await.ok().flatten().map(|r| r.header)
}

/// Suggestions for every file of `dir` whose name or columns are not Minqing's (after
/// `opts.mapping`, when given): the base name it looks like and each header's column.
pub async fn suggest_mapping(
    dir: &Path,
    opts: &ImportOptions,
) -> Result<Vec<mapping::FileSuggestion>> {
    let entries = source::plan_with(dir, opts.mapping.as_ref())
        .with_context(|| format!("reading {}", dir.display()))?;
    let mut out = Vec::new();
    for e in entries {
        match e {
            source::Entry::Failed(name, _) => {
                let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
                let Some(format) = ext.as_deref().and_then(source::Format::from_ext) else {
                    continue;
                };
                let p = source::Planned {
                    path: dir.join(&name),
                    name: name.clone(),
                    canonical: "residents.csv".into(),
                    format,
                };
                if let Some(header) = header_of(&p).await {
                    out.push(mapping::suggest(&name, None, &header));
                }
            }
            source::Entry::Import(p) if !p.canonical.ends_with(".geojson") => {
                let Some(mut header) = header_of(&p).await else {
                    continue;
                };
                let m = opts.mapping.as_ref().and_then(|m| m.table(&p.canonical));
                if let Some(m) = m {
                    m.rename(&mut header);
                }
                let named =
                    source::canonical(p.name.rsplit_once('.').map_or("", |(s, _)| s)).is_some();
                if rows::column_index(&p.canonical, &header, p.format.geographic()).is_err()
                    || !named
                {
                    let stem = p.canonical.rsplit_once('.').map_or("", |(s, _)| s);
                    out.push(mapping::suggest(&p.name, Some(stem), &header));
                }
            }
            source::Entry::Import(_) => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod check_tests {
    use super::*;

    /// `check_bytes` (the fuzz targets' entry) reports like an import: a missing column
    /// stops the file, a short row or a broken feature is a numbered error and reading
    /// goes on, and every row is either valid or reported.
    #[test]
    fn check_bytes_reports_every_row() {
        let ctx = ImportContext::default();
        assert!(check_bytes("units.csv", b"code,label\n1,x\n", &ctx).is_err());
        let csv = "code,building_code,unit,floor,room,label\n1,2\n\u{ff}\n";
        let r = check_bytes("units.csv", csv.as_bytes(), &ctx).unwrap();
        assert_eq!(r.rows_total, 2);
        assert_eq!(r.rows_total, r.rows_loaded + r.errors.len() as u64);
        assert_eq!(r.errors[0].line, 2);
        let geo = "{\"type\":\"FeatureCollection\",\"features\":[\n{\"type\":\"Feature\"\n]}";
        let r = check_bytes("roads.geojson", geo.as_bytes(), &ctx).unwrap();
        assert_eq!((r.rows_total, r.rows_loaded), (1, 0));
        assert_eq!(r.errors[0].line, 2);
        assert!(check_bytes("nonsense.csv", b"", &ctx).is_err());
    }
}
