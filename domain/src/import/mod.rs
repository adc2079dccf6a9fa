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
mod district;
pub mod gpkg;
mod rows;
mod sheet;
mod shp;
pub mod source;

/// The import files, in the order they are read (areas before the buildings placed in
/// them, buildings before units, the register before the records linked to it).
pub const FILES: [&str; 21] = [
    "areas.geojson",
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
    /// Valid rows already in the store (a repeated import).
    pub rows_duplicate: u64,
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
    let entries = source::plan(dir).with_context(|| format!("reading {}", dir.display()))?;
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
                record_failure(store, &r).await?;
                reports.push(r);
            }
        }
    }
    let order = |n: &str| FILES.iter().position(|f| *f == n).unwrap_or(5);
    planned.sort_by_key(|p| (order(&p.canonical), p.name.clone()));
    let mut ctx = ImportContext::default();
    refresh_context(store, &mut ctx, "all").await?;
    for p in planned {
        progress(&p.name);
        let report = import_planned(store, &p, &mut ctx, opts).await?;
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
    if matches!(after, "all" | "buildings" | "units") {
        ctx.register = if ctx.building_codes.is_empty() {
            None
        } else {
            let (areas, buildings, units) = tokio::try_join!(
                store.load_areas(),
                store.load_buildings(),
                store.load_units()
            )?;
            let names = crate::address_service::area_names(&areas);
            let reg = tokio::task::spawn_blocking(move || {
                crate::address_service::build_register(&names, &buildings, &units)
            })
            .await??;
            Some(std::sync::Arc::new(reg))
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
    import_planned(store, &planned, ctx, &ImportOptions::default()).await
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

/// One record of `records` as a store row of the file `canonical`.
fn record_row(
    canonical: &str,
    header: &[String],
    index: &[usize],
    row: source::SourceRow,
    ctx: &ImportContext,
) -> Result<(Vec<SqlValue>, Option<crate::model::LinkStatus>), String> {
    if canonical.ends_with(".geojson") {
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
        return rows::feature_row(canonical, &f, ctx).map(|r| (r, None));
    }
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
    rows::parse_values(canonical, values, ctx)
}

/// Import one planned file in one transaction.
async fn import_planned(
    store: &Store,
    p: &source::Planned,
    ctx: &mut ImportContext,
    opts: &ImportOptions,
) -> Result<FileReport> {
    let name = p.name.clone();
    let canonical = p.canonical.as_str();
    let table = table_for(canonical).with_context(|| format!("unknown import file {name}"))?;
    let mut report = FileReport::empty(name.clone());
    report.format = p.format.name();
    report.position = p.format.position();
    let fail = async |mut report: FileReport, why: String| -> Result<FileReport> {
        report.failed = Some(why);
        record_failure(store, &report).await?;
        Ok(report)
    };
    let explicit = match declared_crs(&p.path, opts) {
        Ok(c) => c,
        Err(why) => return fail(report, why).await,
    };
    let records = match open_records(p, explicit.as_ref()).await {
        Ok(r) => r,
        Err(why) => return fail(report, why).await,
    };
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
    if let Some(r) = &records {
        report.encoding = r.encoding;
    }
    let index = match &records {
        Some(r) if !canonical.ends_with(".geojson") => {
            match rows::column_index(canonical, &r.header, p.format.geographic()) {
                Ok(i) => i,
                Err(e) => return fail(report, format!("bad header: {e}")).await,
            }
        }
        _ => Vec::new(),
    };
    let csv = match (&records, p.format) {
        (None, source::Format::Csv) => {
            let file = std::fs::File::open(&p.path)
                .with_context(|| format!("opening {}", p.path.display()))?;
            match CsvRows::new(canonical, file) {
                Ok(r) => Some(r),
                Err(e) => return fail(report, format!("{e:#}")).await,
            }
        }
        _ => None,
    };
    let incoming = match p.format {
        source::Format::Csv | source::Format::GeoJson => count_lines(&p.path)?,
        // About 64 bytes a row in a compressed workbook; a feature a few hundred.
        _ => std::fs::metadata(&p.path).map_or(0, |m| m.len() / 64),
    };
    let mut tx = store.begin().await?;
    tx.begin_bulk().await?;
    let deferred = tx.defer_indexes(&table, incoming).await?;
    let mut batch: Vec<Vec<SqlValue>> = Vec::with_capacity(table.batch_rows());
    let mut valid = 0u64;
    let flush =
        async |tx: &mut crate::store::StoreTx, batch: &mut Vec<Vec<SqlValue>>| -> Result<u64> {
            let n = tx.insert(&table, batch).await?;
            batch.clear();
            Ok(n)
        };
    if let Some(records) = records {
        let header = records.header;
        for item in records.items {
            let row = match item {
                source::Item::Row(r) => r,
                source::Item::Bad(e) => {
                    report.rows_total += 1;
                    report.errors.push(e);
                    continue;
                }
                source::Item::Broken(why) => {
                    report.failed = Some(why);
                    break;
                }
            };
            report.rows_total += 1;
            let line = row.pos;
            match record_row(canonical, &header, &index, row, ctx) {
                Ok((row, link)) => {
                    valid += 1;
                    if let Some(l) = link {
                        count_link(&mut report.links, l);
                    }
                    batch.push(row);
                }
                Err(message) => report.errors.push(LineError { line, message }),
            }
            if batch.len() >= table.batch_rows() {
                report.rows_loaded += flush(&mut tx, &mut batch).await?;
            }
        }
    } else if p.format == source::Format::GeoJson {
        let text =
            std::fs::read(&p.path).with_context(|| format!("reading {}", p.path.display()))?;
        let transform = explicit.filter(|c| {
            !matches!(
                c,
                crs::Crs::Geographic(minqing_address::coords::Datum::Wgs84)
            )
        });
        for item in rows::geojson_features(&text) {
            report.rows_total += 1;
            match item.and_then(|(line, mut f)| {
                if let (Some(c), Some(g)) = (&transform, f.geometry.as_mut()) {
                    let converted = geo_types::Geometry::<f64>::try_from(g.clone())
                        .map_err(|e| format!("bad geometry: {e}"))
                        .and_then(|mut geo| c.geometry_to_wgs84(&mut geo).map(|()| geo));
                    match converted {
                        Ok(geo) => *g = geojson::Geometry::new(geojson::Value::from(&geo)),
                        Err(m) => return Err(LineError { line, message: m }),
                    }
                }
                rows::feature_row(canonical, &f, ctx).map_err(|m| LineError { line, message: m })
            }) {
                Ok(row) => {
                    valid += 1;
                    batch.push(row);
                }
                Err(e) => report.errors.push(e),
            }
            if batch.len() >= table.batch_rows() {
                report.rows_loaded += flush(&mut tx, &mut batch).await?;
            }
        }
    } else if let Some(mut rows) = csv {
        report.encoding = rows.encoding.name();
        while let Some(item) = rows.next_row(ctx) {
            report.rows_total += 1;
            match item {
                Ok((row, link)) => {
                    valid += 1;
                    if let Some(l) = link {
                        count_link(&mut report.links, l);
                    }
                    batch.push(row);
                }
                Err(e) => report.errors.push(e),
            }
            if batch.len() >= table.batch_rows() {
                report.rows_loaded += flush(&mut tx, &mut batch).await?;
            }
        }
    }
    report.rows_loaded += flush(&mut tx, &mut batch).await?;
    report.rows_duplicate = valid - report.rows_loaded;
    tx.rebuild_indexes(deferred).await?;
    tx.record_report(&stored_form(&report)).await?;
    tx.commit_bulk().await?;
    let after = match table.name {
        "areas" => "areas",
        "buildings" => "buildings",
        "units" => "units",
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

/// The rows of one CSV import file, read as a stream: each a store row (with its link
/// status) or the line's error. A row with the wrong number of fields or bad UTF-8 is an
/// error and reading goes on; any other unreadable input ends the file.
struct CsvRows<R: std::io::Read> {
    csv: csv::Reader<decode::Rewound<R>>,
    encoding: Encoding,
    parser: rows::CsvParser,
    record: csv::ByteRecord,
    done: bool,
}

impl<R: std::io::Read> CsvRows<R> {
    fn new(name: &str, file: R) -> Result<Self> {
        let (encoding, reader) = decode::sniff(file)?;
        let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
        let header: Vec<String> = match csv.byte_headers() {
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
        let parser = rows::CsvParser::new(name, &header)
            .map_err(|e| anyhow::anyhow!("{name}: bad header: {e}"))?;
        Ok(Self {
            csv,
            encoding,
            parser,
            record: csv::ByteRecord::new(),
            done: false,
        })
    }

    #[allow(clippy::type_complexity)]
    fn next_row(
        &mut self,
        ctx: &ImportContext,
    ) -> Option<Result<(Vec<SqlValue>, Option<crate::model::LinkStatus>), LineError>> {
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
                        .parse(&self.record, self.encoding, ctx)
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
        let mut rows = CsvRows::new(name, bytes)?;
        report.encoding = rows.encoding.name();
        while let Some(item) = rows.next_row(ctx) {
            take(&mut report, item.map(|(_, link)| link));
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
