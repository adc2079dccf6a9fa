//! `minqing import`: loads a directory of import files into a store.
//!
//! Each file is one transaction and is streamed in batches (never held whole in
//! memory). Bad rows are reported with their line numbers and the good rows still load.
//! Keys make it idempotent: importing the same files twice changes nothing. Records
//! carrying an `address_code` that exists in the register are linked by it; the others
//! are linked through the address matcher on their free-text address (unit, building,
//! ambiguous or unmatched; `pending` only while no register has been imported yet).
//!
//! Coordinates (`lon`/`lat` of buildings and events) are WGS-84 unless the file declares
//! another datum in a sidecar file named after it with `.crs` appended
//! (`buildings.csv.crs`, `events.csv.crs`) holding one word: `wgs84`, `gcj02` or `bd09`.
//! GCJ-02 and BD-09 points are converted to WGS-84 (iterative inverse, error far under
//! 0.5 m) before validation and storage.

mod decode;
mod district;
mod rows;

/// The import files, in the order they are read (areas before the buildings placed in
/// them, buildings before units, the register before the records linked to it).
pub const FILES: [&str; 18] = [
    "areas.geojson",
    "roads.geojson",
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
pub struct ImportContext {
    district: Option<district::DistrictShape>,
    pub grid_codes: HashSet<String>,
    pub building_codes: HashSet<String>,
    pub unit_codes: HashSet<String>,
    pub event_codes: HashSet<String>,
    /// The address matcher's register, once buildings exist.
    pub register: Option<std::sync::Arc<minqing_address::Register>>,
    /// Datum of the coordinates of the file being imported.
    pub crs: minqing_address::coords::Datum,
    /// What the forces' files are checked against.
    pub forces: crate::forces::import::Known,
}

impl Default for ImportContext {
    fn default() -> Self {
        Self {
            district: None,
            grid_codes: HashSet::new(),
            building_codes: HashSet::new(),
            unit_codes: HashSet::new(),
            event_codes: HashSet::new(),
            register: None,
            crs: minqing_address::coords::Datum::Wgs84,
            forces: Default::default(),
        }
    }
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

/// Import every known file of `dir` in dependency order. `progress` is told each file.
pub async fn import_dir(
    store: &Store,
    dir: &Path,
    progress: &dyn Fn(&str),
) -> Result<Vec<FileReport>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| table_for(n).is_some())
        .collect();
    let order = |n: &str| FILES.iter().position(|f| *f == n).unwrap_or(5);
    names.sort_by_key(|n| (order(n), n.clone()));
    let mut ctx = ImportContext::default();
    refresh_context(store, &mut ctx, "all").await?;
    let mut reports = Vec::new();
    for name in names {
        progress(&name);
        let report = import_file(store, &dir.join(&name), &mut ctx).await?;
        reports.push(report);
    }
    Ok(reports)
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

/// Import one file in one transaction.
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
    let table = table_for(&name).with_context(|| format!("unknown import file {name}"))?;
    ctx.crs = file_datum(path)?;
    let mut report = FileReport::empty(name.clone());
    let mut tx = store.begin().await?;
    tx.begin_bulk().await?;
    let deferred = tx.defer_indexes(&table, count_lines(path)?).await?;
    let mut batch: Vec<Vec<SqlValue>> = Vec::with_capacity(table.batch_rows());
    let mut valid = 0u64;
    let flush =
        async |tx: &mut crate::store::StoreTx, batch: &mut Vec<Vec<SqlValue>>| -> Result<u64> {
            let n = tx.insert(&table, batch).await?;
            batch.clear();
            Ok(n)
        };
    if name.ends_with(".geojson") {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        for item in rows::geojson_features(&text) {
            report.rows_total += 1;
            match item.and_then(|(line, f)| {
                rows::feature_row(&name, &f, ctx).map_err(|m| LineError { line, message: m })
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
    } else {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut rows = CsvRows::new(&name, file)?;
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
    tx.record_report(&report).await?;
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

/// The datum a file's coordinates are in, from its `.crs` sidecar (WGS-84 without one).
fn file_datum(path: &Path) -> Result<minqing_address::coords::Datum> {
    let mut sidecar = path.as_os_str().to_owned();
    sidecar.push(".crs");
    match std::fs::read_to_string(&sidecar) {
        Ok(text) => crate::address_service::parse_datum(&text).with_context(|| {
            format!(
                "{}: unknown datum {:?} (want wgs84, gcj02 or bd09)",
                Path::new(&sidecar).display(),
                text.trim()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(minqing_address::coords::Datum::Wgs84)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", Path::new(&sidecar).display())),
    }
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
