//! Importing the district's residents from an Excel workbook (issue 23): the generator's
//! `residents.csv` (627,000 rows at `--scale 1`) is written as `residents.xlsx` with
//! `rust_xlsxwriter`, the register (areas, roads, buildings, units) is imported into a
//! fresh SQLite store, then the workbook alone is imported and timed — reading the
//! sheet, validating, sealing ID numbers and phones, linking every address through the
//! matcher, and storing. The goal is ≥ 50,000 rows/s.
//!
//!     cargo bench -p minqing-server --bench import_xlsx
//!
//! `MINQING_BENCH_SCALE` sets the district (default 1).

use std::time::Instant;

// The allocator of the `minqing` binary, so the import is timed as `minqing import` runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let scale: f64 = std::env::var("MINQING_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let tmp = tempfile::tempdir().expect("temp dir");
    let gen_dir = tmp.path().join("district");
    let t = Instant::now();
    minqing_domain::generate::generate(&gen_dir, scale, 20_240_101, &|_| {}).expect("generate");
    eprintln!("generated scale {scale} in {:.1?}", t.elapsed());

    // The register first, in its own directory.
    let register = tmp.path().join("register");
    std::fs::create_dir_all(&register).expect("dir");
    for f in [
        "areas.geojson",
        "roads.geojson",
        "buildings.csv",
        "units.csv",
    ] {
        std::fs::copy(gen_dir.join(f), register.join(f)).expect("copy");
    }
    // The residents as a workbook.
    let work = tmp.path().join("residents");
    std::fs::create_dir_all(&work).expect("dir");
    let t = Instant::now();
    let rows = write_workbook(&gen_dir.join("residents.csv"), &work.join("residents.xlsx"));
    let size = std::fs::metadata(work.join("residents.xlsx")).map_or(0, |m| m.len());
    eprintln!(
        "wrote residents.xlsx: {rows} rows, {:.1} MB, in {:.1?}",
        size as f64 / 1e6,
        t.elapsed()
    );

    rt.block_on(async {
        let url = format!("sqlite://{}", tmp.path().join("bench.db").display());
        let store = minqing_domain::store::Store::connect(&url)
            .await
            .expect("store");
        store.migrate().await.expect("migrate");
        let t = Instant::now();
        minqing_domain::import::import_dir(&store, &register, &|_| {})
            .await
            .expect("register");
        eprintln!("register imported in {:.1?}", t.elapsed());
        let t = Instant::now();
        let reports = minqing_domain::import::import_dir(&store, &work, &|_| {})
            .await
            .expect("residents");
        let secs = t.elapsed().as_secs_f64();
        let r = &reports[0];
        assert!(r.failed.is_none(), "{r:?}");
        println!(
            "residents.xlsx: {} rows ({} loaded, {} bad) in {secs:.1} s = {:.0} rows/s \
             (links: unit {}, building {}, ambiguous {}, unmatched {})",
            r.rows_total,
            r.rows_loaded,
            r.errors.len(),
            r.rows_total as f64 / secs,
            r.links.unit,
            r.links.building,
            r.links.ambiguous,
            r.links.unmatched
        );
    });
}

/// Write the CSV's rows into the first sheet (constant memory: rows stream to disk);
/// returns the data rows.
fn write_workbook(csv_path: &std::path::Path, out: &std::path::Path) -> u64 {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book
        .add_worksheet_with_constant_memory()
        .expect("a constant-memory worksheet");
    let mut r = csv::Reader::from_path(csv_path).expect("residents.csv");
    let header = r.headers().expect("header").clone();
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, h).expect("cell");
    }
    let mut n = 0u32;
    for rec in r.records() {
        let rec = rec.expect("row");
        n += 1;
        for (c, v) in rec.iter().enumerate() {
            if !v.is_empty() {
                sheet.write_string(n, c as u16, v).expect("cell");
            }
        }
    }
    book.save(out).expect("save");
    n as u64
}
