//! Malformed input: bad rows are reported with their line numbers and the good rows
//! still load, on both stores.

use crate::support::{district, postgis_store, sqlite_store};
use minqing_domain::import::{FileReport, import_dir};
use minqing_domain::store::Store;
use std::io::Write;

/// Damage copies of the generated files in known ways and return the expected bad lines
/// per file.
fn damage(dir: &std::path::Path) -> Vec<(&'static str, Vec<u64>)> {
    let edit = |name: &str, f: &dyn Fn(usize, &str) -> Option<String>| -> Vec<u64> {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut out = String::new();
        let mut bad = Vec::new();
        for (i, line) in text.lines().enumerate() {
            match f(i, line) {
                Some(replacement) => {
                    bad.push(i as u64 + 1);
                    out.push_str(&replacement);
                }
                None => out.push_str(line),
            }
            out.push('\n');
        }
        std::fs::write(&path, out).unwrap();
        bad
    };
    let mut expected = Vec::new();
    // Truncated row and a row with an extra field.
    expected.push((
        "units.csv",
        edit("units.csv", &|i, l| match i {
            3 => Some(l.split(',').take(3).collect::<Vec<_>>().join(",")),
            5 => Some(format!("{l},extra")),
            _ => None,
        }),
    ));
    // Invalid ID number (check digit changed) and an invalid phone.
    expected.push((
        "residents.csv",
        edit("residents.csv", &|i, l| match i {
            2 => {
                let mut f: Vec<String> = l.split(',').map(str::to_string).collect();
                let last = f[4].pop().unwrap();
                f[4].push(if last == '0' { '1' } else { '0' });
                Some(f.join(","))
            }
            4 => {
                let mut f: Vec<String> = l.split(',').map(str::to_string).collect();
                f[5] = "12345".into();
                Some(f.join(","))
            }
            _ => None,
        }),
    ));
    // Coordinates outside the district and a non-number.
    expected.push((
        "buildings.csv",
        edit("buildings.csv", &|i, l| {
            let mut f: Vec<String> = l.split(',').map(str::to_string).collect();
            match i {
                6 => {
                    f[11] = "116.3975".into();
                    f[12] = "39.9087".into();
                    Some(f.join(","))
                }
                8 => {
                    f[12] = "north".into();
                    Some(f.join(","))
                }
                _ => None,
            }
        }),
    ));
    // Broken GBK: a byte sequence that is not GB18030, in the GBK file.
    let path = dir.join("residents-gbk.csv");
    let bytes = std::fs::read(&path).unwrap();
    let mut lines: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    lines[3] = lines[3]
        .iter()
        .map(|&b| if b >= 0x80 { 0xFF } else { b })
        .collect();
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&lines.join(&b'\n')).unwrap();
    expected.push(("residents-gbk.csv", vec![4]));
    // A broken GeoJSON feature line.
    expected.push((
        "roads.geojson",
        edit("roads.geojson", &|i, _| {
            (i == 2).then(|| "{\"type\":\"Feature\",\"geometry\":".to_string())
        }),
    ));
    expected
}

async fn check(store: Store) {
    let (_tmp, dir, m) = district(0.01);
    let expected = damage(&dir);
    let reports: Vec<FileReport> = import_dir(&store, &dir, &|_| {})
        .await
        .expect("import finishes despite bad rows");
    // Units of the two rejected buildings are rejected too (their building is unknown).
    let mut expected = expected;
    let units = std::fs::read_to_string(dir.join("units.csv")).unwrap();
    let bad_buildings: Vec<String> = {
        let text = std::fs::read_to_string(dir.join("buildings.csv")).unwrap();
        text.lines()
            .enumerate()
            .filter(|(i, _)| [6, 8].contains(i))
            .map(|(_, l)| l.split(',').next().unwrap().to_string())
            .collect()
    };
    let cascade = units.lines().enumerate().filter(|(_, l)| {
        let f: Vec<&str> = l.split(',').collect();
        f.len() == 6 && bad_buildings.iter().any(|b| b == f[1])
    });
    let units_expected = &mut expected
        .iter_mut()
        .find(|(f, _)| *f == "units.csv")
        .unwrap()
        .1;
    units_expected.extend(cascade.map(|(i, _)| i as u64 + 1));
    units_expected.sort_unstable();
    for (file, bad_lines) in &expected {
        let r = reports.iter().find(|r| r.file == *file).unwrap();
        let got: Vec<u64> = r.errors.iter().map(|e| e.line).collect();
        assert_eq!(&got, bad_lines, "{file}: {:?}", r.errors);
        assert_eq!(
            r.rows_loaded,
            r.rows_total - bad_lines.len() as u64,
            "{file}: the good rows load"
        );
        assert!(r.errors.iter().all(|e| !e.message.is_empty()));
    }
    let r = reports.iter().find(|r| r.file == "residents.csv").unwrap();
    assert!(
        r.errors[0].message.contains("GB 11643"),
        "{}",
        r.errors[0].message
    );
    let r = reports.iter().find(|r| r.file == "buildings.csv").unwrap();
    assert!(
        r.errors[0].message.contains("outside the district"),
        "{}",
        r.errors[0].message
    );
    assert_eq!(
        store.count("buildings").await.unwrap() as usize,
        m.building_addresses - 2
    );
    // Errors are kept with their report.
    assert!(store.count("import_errors").await.unwrap() >= 9);
    store.close().await;
}

#[tokio::test]
async fn malformed_rows_on_the_embedded_store() {
    let tmp = tempfile::tempdir().unwrap();
    check(sqlite_store(tmp.path()).await).await;
}

#[tokio::test]
async fn malformed_rows_on_postgis() {
    check(postgis_store().await).await;
}
