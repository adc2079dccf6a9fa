//! Files as a district has them (issue 23): Excel workbooks, Shapefiles with GBK or
//! UTF-8 attribute tables and projected coordinates, GeoPackages, broken files and bad
//! cells. Every fixture is written here, from a generated district, into a temp dir; each
//! scenario runs on both stores.

use crate::support::{district, postgis_store, sqlite_store};
use geo::InteriorPoint;
use minqing_domain::import::crs::Crs;
use minqing_domain::import::{FileReport, import_dir};
use minqing_domain::store::Store;
use std::collections::HashMap;
use std::path::Path;

/// The rows of a generated CSV file: header and records.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// Columns whose values are numbers in a spreadsheet people make (the rest text).
const NUMERIC: [&str; 8] = [
    "door",
    "building_no",
    "village_group",
    "house_no",
    "floors",
    "lon",
    "lat",
    "floor_area",
];

/// Write `rows` as the first sheet of an `.xlsx`, numeric columns as numbers.
fn write_xlsx(path: &Path, header: &[String], rows: &[Vec<String>]) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let (r, c) = (r as u32 + 1, c as u16);
            if v.is_empty() {
                continue;
            }
            match v.parse::<f64>() {
                Ok(n) if NUMERIC.contains(&header[c as usize].as_str()) => {
                    sheet.write_number(r, c, n).unwrap();
                }
                _ => {
                    sheet.write_string(r, c, v).unwrap();
                }
            }
        }
    }
    book.save(path).unwrap();
}

/// Project WGS-84 lon/lat to `crs` metres (inverting `to_wgs84` by Newton steps, so
/// the fixture does not use the code under test's forward direction).
fn project(crs: &Crs, lon: f64, lat: f64) -> (f64, f64) {
    // Start from a rough Gauss-Krüger guess and refine with a numeric Jacobian.
    let (mut x, mut y) = (500_000.0 + (lon - 105.0) * 95_000.0, lat * 110_900.0);
    if crs.name().contains("4523") {
        x += 35_000_000.0;
    }
    for _ in 0..30 {
        let (l0, b0) = crs.to_wgs84(x, y).unwrap();
        let (l1, b1) = crs.to_wgs84(x + 1.0, y).unwrap();
        let (l2, b2) = crs.to_wgs84(x, y + 1.0).unwrap();
        let (a, b, c, d) = (l1 - l0, l2 - l0, b1 - b0, b2 - b0);
        let det = a * d - b * c;
        let (dl, db) = (lon - l0, lat - b0);
        x += (d * dl - b * db) / det;
        y += (a * db - c * dl) / det;
    }
    (x, y)
}

const PRJ_4544: &str = r#"PROJCS["CGCS2000_3_Degree_GK_CM_105E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",105.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;

/// `areas.geojson` → `areas.shp` + `.dbf` in GBK (with a `.cpg`) + `.prj` in EPSG:4544.
fn areas_to_shapefile(dir: &Path) {
    use geo::MapCoords;
    let text = std::fs::read_to_string(dir.join("areas.geojson")).unwrap();
    let fc: geojson::FeatureCollection = text.parse().unwrap();
    let crs = Crs::parse("EPSG:4544").unwrap();
    let fields = ["code", "name", "level", "parent", "kind"];
    let mut table = dbase::TableWriterBuilder::with_encoding(dbase::encoding::EncodingRs::from(
        encoding_rs::GBK,
    ));
    for f in fields {
        table = table.add_character_field(dbase::FieldName::try_from(f).unwrap(), 80);
    }
    let mut w = shapefile::Writer::from_path(dir.join("areas.shp"), table).unwrap();
    for f in &fc.features {
        let g: geo_types::Geometry<f64> = f.geometry.clone().unwrap().try_into().unwrap();
        let mp = match g {
            geo_types::Geometry::Polygon(p) => geo_types::MultiPolygon(vec![p]),
            geo_types::Geometry::MultiPolygon(m) => m,
            other => panic!("{other:?}"),
        };
        let projected = mp.map_coords(|c| {
            let (x, y) = project(&crs, c.x, c.y);
            geo_types::Coord { x, y }
        });
        let shape = shapefile::Polygon::from(projected);
        let mut rec = dbase::Record::default();
        for k in fields {
            let v = f
                .properties
                .as_ref()
                .and_then(|p| p.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_string);
            rec.insert(k.to_string(), dbase::FieldValue::Character(v));
        }
        w.write_shape_and_record(&shape, &rec).unwrap();
    }
    drop(w);
    std::fs::write(dir.join("areas.cpg"), "GBK").unwrap();
    std::fs::write(dir.join("areas.prj"), PRJ_4544).unwrap();
    std::fs::remove_file(dir.join("areas.geojson")).unwrap();
}

/// `buildings.csv` → `buildings.xlsx` (numbers as numbers).
fn buildings_to_xlsx(dir: &Path) {
    let (header, rows) = read_csv(&dir.join("buildings.csv"));
    write_xlsx(&dir.join("buildings.xlsx"), &header, &rows);
    std::fs::remove_file(dir.join("buildings.csv")).unwrap();
}

/// `buildings.csv` → `buildings.gpkg`: square footprints around each point, in EPSG:4523
/// (zone number in the easting), attributes as typed columns.
async fn buildings_to_geopackage(dir: &Path) -> HashMap<String, (f64, f64)> {
    use sqlx::{ConnectOptions, Connection};
    let (header, rows) = read_csv(&dir.join("buildings.csv"));
    let crs = Crs::parse("EPSG:4523").unwrap();
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join("buildings.gpkg"))
        .create_if_missing(true);
    let mut c = opts.connect().await.unwrap();
    for sql in [
        "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT, srs_id INTEGER PRIMARY KEY, organization TEXT, organization_coordsys_id INTEGER, definition TEXT, description TEXT)",
        "INSERT INTO gpkg_spatial_ref_sys VALUES ('CGCS2000 / 3-degree Gauss-Kruger zone 35', 4523, 'EPSG', 4523, 'PROJCS[]', NULL)",
        "CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT, identifier TEXT, srs_id INTEGER)",
        "INSERT INTO gpkg_contents VALUES ('buildings', 'features', 'buildings', 4523)",
        "CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT, geometry_type_name TEXT, srs_id INTEGER, z INTEGER, m INTEGER)",
        "INSERT INTO gpkg_geometry_columns VALUES ('buildings', 'geom', 'POLYGON', 4523, 0, 0)",
    ] {
        sqlx::query(sql).execute(&mut c).await.unwrap();
    }
    let cols: Vec<&String> = header
        .iter()
        .filter(|h| !["lon", "lat"].contains(&h.as_str()))
        .collect();
    let decl: Vec<String> = cols
        .iter()
        .map(|h| {
            let t = if ["door", "building_no", "village_group", "house_no", "floors"]
                .contains(&h.as_str())
            {
                "INTEGER"
            } else {
                "TEXT"
            };
            format!("{h} {t}")
        })
        .collect();
    sqlx::query(&format!(
        "CREATE TABLE buildings (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom BLOB, {})",
        decl.join(", ")
    ))
    .execute(&mut c)
    .await
    .unwrap();
    let mut truth = HashMap::new();
    let insert = format!(
        "INSERT INTO buildings (geom, {}) VALUES (?{})",
        cols.iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        ", ?".repeat(cols.len())
    );
    let at = |n: &str| header.iter().position(|h| h == n).unwrap();
    for row in &rows {
        let (lon, lat): (f64, f64) = (
            row[at("lon")].parse().unwrap(),
            row[at("lat")].parse().unwrap(),
        );
        let (x, y) = project(&crs, lon, lat);
        let square = geo_types::Polygon::new(
            geo_types::LineString::from(vec![
                (x - 6.0, y - 6.0),
                (x + 6.0, y - 6.0),
                (x + 6.0, y + 6.0),
                (x - 6.0, y + 6.0),
                (x - 6.0, y - 6.0),
            ]),
            vec![],
        );
        let blob = minqing_domain::import::gpkg::write::blob(&square.into(), 4523);
        let mut q = sqlx::query(&insert).bind(blob);
        for col in &cols {
            let v = &row[at(col)];
            q = match v.parse::<i64>() {
                Ok(n) if !["code", "grid_code", "label"].contains(&col.as_str()) => q.bind(n),
                _ if v.is_empty() => q.bind(Option::<String>::None),
                _ => q.bind(v.clone()),
            };
        }
        q.execute(&mut c).await.unwrap();
        truth.insert(row[at("code")].clone(), (lon, lat));
    }
    c.close().await.unwrap();
    std::fs::remove_file(dir.join("buildings.csv")).unwrap();
    truth
}

fn report<'a>(reports: &'a [FileReport], file: &str) -> &'a FileReport {
    reports
        .iter()
        .find(|r| r.file == file)
        .unwrap_or_else(|| panic!("no report for {file}: {reports:?}"))
}

/// A district with its areas as a GBK, projected Shapefile and its buildings as an
/// Excel workbook imports exactly like the CSV/GeoJSON original, and its units link.
async fn shapefile_and_xlsx(store: Store) {
    let (_tmp, dir, m) = district(0.01);
    let original: geojson::FeatureCollection = std::fs::read_to_string(dir.join("areas.geojson"))
        .unwrap()
        .parse()
        .unwrap();
    areas_to_shapefile(&dir);
    buildings_to_xlsx(&dir);
    let reports = import_dir(&store, &dir, &|_| {}).await.unwrap();
    for r in &reports {
        assert!(r.failed.is_none() && r.errors.is_empty(), "{r:?}");
    }
    let areas = report(&reports, "areas.shp");
    assert_eq!(
        (areas.format, areas.encoding, areas.crs.as_str()),
        ("shapefile", "gb18030", "CGCS2000_3_Degree_GK_CM_105E")
    );
    let b = report(&reports, "buildings.xlsx");
    assert_eq!((b.format, b.position), ("xlsx", "row"));
    assert_eq!(b.rows_loaded as usize, m.building_addresses);
    assert_eq!(
        store.count("buildings").await.unwrap() as usize,
        m.building_addresses
    );
    assert_eq!(
        store.count("units").await.unwrap() as usize,
        m.unit_addresses
    );
    // Names came through GBK intact, and the polygons back to within 0.1 m.
    let snap = store.load().await.unwrap();
    let mut worst: f64 = 0.0;
    for f in &original.features {
        let code = f.property("code").unwrap().as_str().unwrap();
        let name = f.property("name").unwrap().as_str().unwrap();
        let stored = snap.areas.iter().find(|a| a.code == code).unwrap();
        assert_eq!(stored.name, name);
        let g: geo_types::Geometry<f64> = f.geometry.clone().unwrap().try_into().unwrap();
        let want = g.interior_point().unwrap();
        let got: Vec<_> = geo::CoordsIter::coords_iter(&stored.geometry).collect();
        let orig: Vec<_> = geo::CoordsIter::coords_iter(&g).collect();
        assert_eq!(got.len(), orig.len(), "{code}");
        // The Shapefile writer may turn rings round: match each vertex to its nearest.
        for a in &got {
            let nearest = orig
                .iter()
                .map(|b| minqing_address::coords::distance_m((a.x, a.y), (b.x, b.y)))
                .fold(f64::INFINITY, f64::min);
            worst = worst.max(nearest);
        }
        assert!(want.x().is_finite());
    }
    assert!(
        worst <= 0.1,
        "worst area vertex after the 4544 round trip: {worst} m"
    );
}

#[tokio::test]
async fn shapefile_and_xlsx_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    shapefile_and_xlsx(sqlite_store(tmp.path()).await).await;
}

#[tokio::test]
async fn shapefile_and_xlsx_postgis() {
    shapefile_and_xlsx(postgis_store().await).await;
}

/// Building footprints from a GeoPackage in EPSG:4523 load as points inside them.
async fn geopackage_footprints(store: Store) {
    let (_tmp, dir, m) = district(0.01);
    let truth = buildings_to_geopackage(&dir).await;
    let reports = import_dir(&store, &dir, &|_| {}).await.unwrap();
    for r in &reports {
        assert!(r.failed.is_none() && r.errors.is_empty(), "{r:?}");
    }
    let b = report(&reports, "buildings.gpkg");
    assert_eq!((b.format, b.crs.as_str()), ("geopackage", "EPSG:4523"));
    assert_eq!(b.rows_loaded as usize, m.building_addresses);
    let snap = store.load().await.unwrap();
    let mut worst: f64 = 0.0;
    for s in &snap.buildings {
        worst = worst.max(minqing_address::coords::distance_m(
            (s.lon, s.lat),
            truth[&s.code],
        ));
    }
    // The square is 12 m wide around the point: its interior point is its centre.
    assert!(worst <= 0.1, "{worst} m");
    assert_eq!(
        store.count("units").await.unwrap() as usize,
        m.unit_addresses
    );
}

#[tokio::test]
async fn geopackage_footprints_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    geopackage_footprints(sqlite_store(tmp.path()).await).await;
}

#[tokio::test]
async fn geopackage_footprints_postgis() {
    geopackage_footprints(postgis_store().await).await;
}

/// Files the importer cannot read are each named with the reason, and the rest loads.
async fn broken_files_named(store: Store) {
    let (_tmp, dir, m) = district(0.01);
    // A wrong extension, a Shapefile without its table, a corrupt workbook, a truncated
    // .shp (roads), a file with an unknown name.
    std::fs::write(dir.join("housing.doc"), b"not read").unwrap();
    areas_to_shapefile(&dir);
    let roads_shp = {
        let text = std::fs::read_to_string(dir.join("roads.geojson")).unwrap();
        let fc: geojson::FeatureCollection = text.parse().unwrap();
        let mut table = dbase::TableWriterBuilder::new();
        for f in ["name", "class"] {
            table = table.add_character_field(dbase::FieldName::try_from(f).unwrap(), 60);
        }
        table = table.add_numeric_field(dbase::FieldName::try_from("id").unwrap(), 10, 0);
        let mut w = shapefile::Writer::from_path(dir.join("roads.shp"), table).unwrap();
        for f in &fc.features {
            let g: geo_types::Geometry<f64> = f.geometry.clone().unwrap().try_into().unwrap();
            let geo_types::Geometry::LineString(l) = g else {
                panic!()
            };
            let shape = shapefile::Polyline::from(l);
            let mut rec = dbase::Record::default();
            for k in ["name", "class"] {
                let v = f.property(k).and_then(|v| v.as_str()).map(str::to_string);
                rec.insert(k.to_string(), dbase::FieldValue::Character(v));
            }
            let id = f.property("id").and_then(|v| v.as_f64());
            rec.insert("id".into(), dbase::FieldValue::Numeric(id));
            w.write_shape_and_record(&shape, &rec).unwrap();
        }
        drop(w);
        std::fs::remove_file(dir.join("roads.geojson")).unwrap();
        fc.features.len()
    };
    // Cut the .shp in the middle of its third feature; drop the index so the reader
    // walks the file.
    let shp = std::fs::read(dir.join("roads.shp")).unwrap();
    let second_end = {
        // Header 100 bytes; each record: 8-byte header with its length in 16-bit words.
        let mut at = 100usize;
        for _ in 0..2 {
            let words = u32::from_be_bytes(shp[at + 4..at + 8].try_into().unwrap()) as usize;
            at += 8 + words * 2;
        }
        at
    };
    std::fs::write(dir.join("roads.shp"), &shp[..second_end + 20]).unwrap();
    std::fs::remove_file(dir.join("roads.shx")).unwrap();
    std::fs::write(dir.join("patrols.shp"), &shp[..100]).unwrap(); // no .dbf
    std::fs::write(dir.join("enterprises.xlsx"), b"PK\x03\x04 not really a zip").unwrap();
    std::fs::remove_file(dir.join("enterprises.csv")).unwrap();
    std::fs::write(dir.join("notes.xlsx"), b"whatever").unwrap();
    let reports = import_dir(&store, &dir, &|_| {}).await.unwrap();
    let failed: HashMap<&str, &str> = reports
        .iter()
        .filter_map(|r| r.failed.as_deref().map(|w| (r.file.as_str(), w)))
        .collect();
    let mut names: Vec<&str> = failed.keys().copied().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "enterprises.xlsx",
            "housing.doc",
            "notes.xlsx",
            "patrols.shp",
            "roads.shp"
        ],
        "{failed:?}"
    );
    assert!(
        failed["housing.doc"].contains(".doc"),
        "{}",
        failed["housing.doc"]
    );
    assert!(
        failed["patrols.shp"].contains("patrols.dbf"),
        "{}",
        failed["patrols.shp"]
    );
    assert!(
        failed["enterprises.xlsx"].contains("xlsx"),
        "{}",
        failed["enterprises.xlsx"]
    );
    assert!(failed["notes.xlsx"].contains("not an import file"));
    assert!(
        failed["roads.shp"].contains("feature 3"),
        "{}",
        failed["roads.shp"]
    );
    // The two roads before the cut loaded; everything else loaded whole.
    let roads = report(&reports, "roads.shp");
    assert_eq!(roads.rows_loaded, 2, "{roads:?}");
    assert!(roads_shp > 3);
    assert_eq!(store.count("roads").await.unwrap(), 2);
    assert_eq!(
        store.count("buildings").await.unwrap() as usize,
        m.building_addresses
    );
    assert_eq!(store.count("enterprises").await.unwrap(), 0);
    // The failures are stored with the reports.
    let stored: i64 = match &store {
        Store::Sqlite(p) => sqlx::query_scalar(
            "SELECT COUNT(*) FROM import_errors WHERE line = 0 AND message LIKE 'file failed:%'",
        )
        .fetch_one(p)
        .await
        .unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(
            "SELECT COUNT(*) FROM import_errors WHERE line = 0 AND message LIKE 'file failed:%'",
        )
        .fetch_one(p)
        .await
        .unwrap(),
    };
    assert_eq!(stored, 5);
}

#[tokio::test]
async fn broken_files_named_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    broken_files_named(sqlite_store(tmp.path()).await).await;
}

#[tokio::test]
async fn broken_files_named_postgis() {
    broken_files_named(postgis_store().await).await;
}

/// Bad cells and rows in a workbook and a Shapefile are reported with their row or
/// feature number and the rest loads.
async fn bad_rows_located(store: Store) {
    let (_tmp, dir, m) = district(0.01);
    let (header, mut rows) = read_csv(&dir.join("buildings.csv"));
    let at = |n: &str| header.iter().position(|h| h == n).unwrap();
    // Sheet row = index + 2 (header is row 1).
    rows[2][at("door")] = "十二".into(); // text in a number column: row 4
    rows[5][at("lon")] = "116.3975".into(); // Beijing: outside the district, row 7
    rows[5][at("lat")] = "39.9087".into();
    write_xlsx(&dir.join("buildings.xlsx"), &header, &rows);
    std::fs::remove_file(dir.join("buildings.csv")).unwrap();
    // Residents in a workbook where the ID number column holds numbers (Excel keeps 15
    // digits): those rows are refused with a hint.
    let (rh, rrows) = read_csv(&dir.join("residents.csv"));
    let id_at = rh.iter().position(|h| h == "id_number").unwrap();
    let numeric = rrows
        .iter()
        .position(|r| r[id_at].bytes().all(|b| b.is_ascii_digit()))
        .unwrap();
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in rh.iter().enumerate() {
        sheet.write_string(0, c as u16, h).unwrap();
    }
    for (r, row) in rrows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let (rr, cc) = (r as u32 + 1, c as u16);
            if c == id_at && r == numeric {
                sheet
                    .write_number(rr, cc, v.parse::<f64>().unwrap())
                    .unwrap();
            } else if !v.is_empty() {
                sheet.write_string(rr, cc, v).unwrap();
            }
        }
    }
    book.save(dir.join("residents.xlsx")).unwrap();
    std::fs::remove_file(dir.join("residents.csv")).unwrap();
    let reports = import_dir(&store, &dir, &|_| {}).await.unwrap();
    let b = report(&reports, "buildings.xlsx");
    assert!(b.failed.is_none());
    let lines: Vec<u64> = b.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [4, 7], "{:?}", b.errors);
    assert!(
        b.errors[0].message.contains("door"),
        "{}",
        b.errors[0].message
    );
    assert!(
        b.errors[1].message.contains("outside the district"),
        "{}",
        b.errors[1].message
    );
    assert_eq!(b.rows_loaded as usize, m.building_addresses - 2);
    let r = report(&reports, "residents.xlsx");
    let lines: Vec<u64> = r.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [numeric as u64 + 2], "{:?}", r.errors);
    assert!(
        r.errors[0].message.contains("id_number"),
        "{}",
        r.errors[0].message
    );
    assert!(
        r.errors[0].message.contains("15"),
        "{}",
        r.errors[0].message
    );
    assert_eq!(r.rows_loaded as usize, rrows.len() - 1);
}

#[tokio::test]
async fn bad_rows_located_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    bad_rows_located(sqlite_store(tmp.path()).await).await;
}

#[tokio::test]
async fn bad_rows_located_postgis() {
    bad_rows_located(postgis_store().await).await;
}
