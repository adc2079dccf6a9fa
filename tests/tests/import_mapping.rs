//! A district's own files under their own names and headers (issue 23): the residents
//! as `户籍人口2024.xlsx` with the public-security export's Chinese headers and values
//! (男/女, 户籍/流动). The suggestion finds the file and its columns, the dry run says
//! exactly what the import then does and writes nothing, and importing twice changes
//! nothing the second time. Both stores.

use crate::support::{district, postgis_store, sqlite_store};
use minqing_domain::import::mapping::{self, Mapping};
use minqing_domain::import::{FileReport, ImportOptions, import_dir_with, suggest_mapping};
use minqing_domain::store::Store;
use std::path::Path;

/// Our residents columns → the headers of the district's export.
const HEADERS: [(&str, &str); 12] = [
    ("id", "人员编号"),
    ("name", "姓名"),
    ("sex", "性别"),
    ("birth_date", "出生日期"),
    // Not in the built-in table: found as a near match.
    ("id_number", "公民身份证号"),
    ("phone", "联系电话"),
    ("registration", "人口类型"),
    ("household_id", "户编号"),
    ("relation", "与户主关系"),
    ("address", "现住址"),
    ("address_code", "地址编码"),
    ("key_groups", "重点人群"),
];

/// The register files and `户籍人口2024.xlsx` (from `residents.csv`, its 5th data row
/// with a broken ID number) in `work`; returns the number of residents rows.
fn district_files(generated: &Path, work: &Path) -> usize {
    std::fs::create_dir_all(work).unwrap();
    for f in [
        "areas.geojson",
        "roads.geojson",
        "buildings.csv",
        "units.csv",
    ] {
        std::fs::copy(generated.join(f), work.join(f)).unwrap();
    }
    let mut r = csv::Reader::from_path(generated.join("residents.csv")).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in header.iter().enumerate() {
        let theirs = HEADERS.iter().find(|(o, _)| o == h).unwrap().1;
        sheet.write_string(0, c as u16, theirs).unwrap();
    }
    let mut n = 0;
    for (i, rec) in r.records().enumerate() {
        let rec = rec.unwrap();
        for (c, v) in rec.iter().enumerate() {
            let v = match (header[c].as_str(), v) {
                ("sex", "M") => "男".to_string(),
                ("sex", "F") => "女".to_string(),
                ("registration", "registered") => "户籍".to_string(),
                ("registration", "floating") => "流动".to_string(),
                ("id_number", v) if i == 4 => {
                    let right = minqing_domain::ids::id_check_char(&v[..17]).unwrap();
                    format!("{}{}", &v[..17], if right == '0' { '1' } else { '0' })
                }
                (_, v) => v.to_string(),
            };
            sheet.write_string(i as u32 + 1, c as u16, &v).unwrap();
        }
        n += 1;
    }
    book.save(work.join("户籍人口2024.xlsx")).unwrap();
    n
}

async fn counts(store: &Store) -> Vec<i64> {
    let mut out = Vec::new();
    for t in [
        "areas",
        "roads",
        "buildings",
        "units",
        "residents",
        "import_reports",
        "import_errors",
    ] {
        out.push(store.count(t).await.unwrap());
    }
    out
}

fn report<'a>(reports: &'a [FileReport], file: &str) -> &'a FileReport {
    reports
        .iter()
        .find(|r| r.file == file)
        .unwrap_or_else(|| panic!("no report for {file}: {reports:?}"))
}

/// The parts of a report a dry run must predict.
fn outcome(r: &FileReport) -> (u64, u64, u64, Vec<u64>, minqing_domain::import::LinkCounts) {
    (
        r.rows_total,
        r.rows_loaded,
        r.rows_duplicate,
        r.errors.iter().map(|e| e.line).collect(),
        r.links.clone(),
    )
}

async fn mapped_files(store: Store) {
    let (tmp, generated, _m) = district(0.01);
    let work = tmp.path().join("work");
    let residents = district_files(&generated, &work);
    let xlsx = "户籍人口2024.xlsx";

    // Without a mapping the file is named, never skipped.
    let plain = ImportOptions {
        dry_run: true,
        ..Default::default()
    };
    let reports = import_dir_with(&store, &work, &plain, &|_| {})
        .await
        .unwrap();
    let why = report(&reports, xlsx).failed.clone().unwrap();
    assert!(why.contains("--mapping"), "{why}");

    // The suggestion: the base name from the headers, each header's column.
    let suggestions = suggest_mapping(&work, &ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(suggestions.len(), 1, "{suggestions:?}");
    let s = &suggestions[0];
    assert_eq!(s.base.as_deref(), Some("residents"), "{s:?}");
    for (ours, theirs) in HEADERS {
        let g = s.columns.iter().find(|g| g.header == theirs);
        assert_eq!(g.map(|g| g.column.as_str()), Some(ours), "{theirs}: {s:?}");
    }
    let near: Vec<&str> = s
        .columns
        .iter()
        .filter(|g| g.how == "near")
        .map(|g| g.header.as_str())
        .collect();
    assert_eq!(near, ["公民身份证号"]);
    // The written file (sex recoded 男/女 by default) plus the registration's values.
    let text = mapping::to_toml(&suggestions)
        + "\n[residents.values.registration]\n\"户籍\" = \"registered\"\n\"流动\" = \"floating\"\n";
    let path = tmp.path().join("mapping.toml");
    std::fs::write(&path, &text).unwrap();
    let map = Mapping::load(&path).unwrap_or_else(|e| panic!("{e}\n{text}"));

    // The dry run: everything read, checked and linked; nothing written.
    let before = counts(&store).await;
    let dry = ImportOptions {
        mapping: Some(map.clone()),
        dry_run: true,
        ..Default::default()
    };
    let predicted = import_dir_with(&store, &work, &dry, &|_| {}).await.unwrap();
    assert_eq!(counts(&store).await, before, "a dry run writes nothing");
    let r = report(&predicted, xlsx);
    assert_eq!(r.failed, None, "{r:?}");
    assert_eq!(r.rows_total as usize, residents);
    assert_eq!(r.rows_loaded as usize, residents - 1);
    // The broken ID number: data row 5 is spreadsheet row 6.
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert_eq!(r.errors[0].line, 6);
    assert!(r.errors[0].message.contains("GB 11643"), "{:?}", r.errors);
    // Linked against the register the same dry run read (nothing waits as pending).
    assert_eq!(r.links.pending, 0, "{:?}", r.links);
    assert!(
        r.links.unit as f64 > 0.8 * residents as f64,
        "{:?}",
        r.links
    );
    assert!(report(&predicted, "units.csv").errors.is_empty());

    // The import does what the dry run said.
    let mapped = ImportOptions {
        mapping: Some(map),
        ..Default::default()
    };
    let done = import_dir_with(&store, &work, &mapped, &|_| {})
        .await
        .unwrap();
    for p in &predicted {
        assert_eq!(outcome(report(&done, &p.file)), outcome(p), "{}", p.file);
    }
    assert_eq!(
        store.count("residents").await.unwrap() as usize,
        residents - 1
    );
    let (sex, registration): (String, String) = match &store {
        Store::Sqlite(p) => sqlx::query_as("SELECT sex, registration FROM residents LIMIT 1")
            .fetch_one(p)
            .await
            .unwrap(),
        Store::Postgres(p) => sqlx::query_as("SELECT sex, registration FROM residents LIMIT 1")
            .fetch_one(p)
            .await
            .unwrap(),
    };
    assert!(["M", "F"].contains(&sex.as_str()), "{sex}");
    assert!(
        ["registered", "floating"].contains(&registration.as_str()),
        "{registration}"
    );

    // Importing the same files again changes nothing.
    let before = counts(&store).await;
    let again = import_dir_with(&store, &work, &mapped, &|_| {})
        .await
        .unwrap();
    for r in &again {
        assert_eq!(r.rows_loaded, 0, "{}: {r:?}", r.file);
        assert_eq!(
            r.rows_duplicate + r.errors.len() as u64,
            r.rows_total,
            "{}",
            r.file
        );
    }
    let after = counts(&store).await;
    // Only the reports of the second run were added.
    assert_eq!(after[..5], before[..5]);
    assert_eq!(after[5], before[5] + again.len() as i64);
    store.close().await;
}

#[tokio::test]
async fn mapped_files_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    mapped_files(sqlite_store(tmp.path()).await).await;
}

#[tokio::test]
async fn mapped_files_postgis() {
    mapped_files(postgis_store().await).await;
}

/// A header the mapping does not fix fails its file with the suggestion in the message.
#[tokio::test]
async fn unmapped_headers_are_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let store = sqlite_store(tmp.path()).await;
    let dir = tmp.path().join("in");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("housing.csv"),
        "房屋编号,房屋地址,建筑面积,居住状态\nH1,光明村1组1号,80.5,owner\n",
    )
    .unwrap();
    let reports = import_dir_with(&store, &dir, &ImportOptions::default(), &|_| {})
        .await
        .unwrap();
    let why = reports[0].failed.clone().unwrap();
    assert!(why.contains("missing column id"), "{why}");
    assert!(why.contains("房屋编号 → id"), "{why}");
    assert!(why.contains("--suggest-mapping"), "{why}");
    // A mapping with a column Minqing does not have is refused, naming the entry.
    let e = Mapping::parse("[housing.columns]\n\"面积\" = \"area\"\n").unwrap_err();
    assert!(e.contains("[housing.columns]") && e.contains("area"), "{e}");
}

/// The generator's files carry addresses as people type them (`generate/noise.rs`), so
/// an import leaves hard cases for a person: the review queue is not empty, and its
/// records are the damaged and contradicted ones, never linked with confidence.
#[tokio::test]
async fn generated_input_fills_the_review_queue() {
    let (tmp, dir, m) = district(0.01);
    let text = std::fs::read_to_string(dir.join("residents.csv")).unwrap();
    // Slips of several kinds are there (a separator inside a number, a door range).
    assert!(
        text.lines().any(|l| l.contains("，") && l.contains('号')),
        "separators"
    );
    let range = text.lines().any(|l| {
        let c: Vec<char> = l.chars().collect();
        c.windows(3)
            .any(|w| w[0].is_ascii_digit() && w[1] == '-' && w[2].is_ascii_digit())
    });
    assert!(range, "door-number ranges");
    let store = sqlite_store(tmp.path()).await;
    let reports = minqing_domain::import::import_dir(&store, &dir, &|_| {})
        .await
        .unwrap();
    // Every record still loads: only its address text is noisier.
    assert_eq!(
        store.count("residents").await.unwrap() as usize,
        m.residents
    );
    let waiting: u64 = reports
        .iter()
        .map(|r| r.links.ambiguous + r.links.unmatched)
        .sum();
    let Store::Sqlite(p) = &store else {
        unreachable!()
    };
    let queued: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM residents WHERE link IN ('ambiguous', 'unmatched')) \
         + (SELECT COUNT(*) FROM housing WHERE link IN ('ambiguous', 'unmatched')) \
         + (SELECT COUNT(*) FROM enterprises WHERE link IN ('ambiguous', 'unmatched'))",
    )
    .fetch_one(p)
    .await
    .unwrap();
    assert!(queued > 0, "the review queue is empty");
    assert_eq!(queued as u64, waiting, "the link report counts the queue");
}
