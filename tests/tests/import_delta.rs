//! Monthly deltas (issue 23): a residents file with an `op` column adds, updates and
//! retires records by their keys, its report counts the delta's rows only, a second
//! application changes nothing, and retired residents leave the index. Both stores.

use crate::support::{district, postgis_store, sqlite_store};
use minqing_domain::import::{ImportOptions, import_dir, import_dir_with};
use minqing_domain::store::Store;

async fn resident(store: &Store, id: &str) -> Option<(String, Option<String>, String)> {
    let sql = "SELECT address, address_code, link FROM residents WHERE id = $1";
    match store {
        Store::Sqlite(p) => sqlx::query_as(sql).bind(id).fetch_optional(p).await,
        Store::Postgres(p) => sqlx::query_as(sql).bind(id).fetch_optional(p).await,
    }
    .unwrap()
}

async fn delta(store: Store) {
    let (tmp, dir, m) = district(0.01);
    import_dir(&store, &dir, &|_| {}).await.unwrap();
    let before = store.count("residents").await.unwrap();
    assert_eq!(before as usize, m.residents);

    // Rows of the generated files: the delta is built from them.
    let mut r = csv::Reader::from_path(dir.join("residents.csv")).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows: Vec<Vec<String>> = r
        .records()
        .map(|x| x.unwrap().iter().map(str::to_string).collect())
        .collect();
    let units: Vec<(String, String)> = csv::Reader::from_path(dir.join("units.csv"))
        .unwrap()
        .records()
        .map(|x| {
            let x = x.unwrap();
            (x[0].to_string(), x[5].to_string())
        })
        .collect();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let line = |op: &str, row: &[String]| {
        let mut out = vec![op.to_string()];
        out.extend(row.iter().cloned());
        out
    };
    // 1 add (a new key), 2 updates (moved house: another unit's label, no code), 3
    // retires (only the key given), then an update and a retire of unknown keys.
    let mut added = rows[0].clone();
    added[col("id")] = "R99000001".into();
    let moved = |k: usize, unit: usize| {
        let mut row = rows[k].clone();
        row[col("address")] = units[unit].1.clone();
        row[col("address_code")] = String::new();
        row
    };
    let retire = |k: usize| {
        let mut row = vec![String::new(); header.len()];
        row[col("id")] = rows[k][col("id")].clone();
        row
    };
    let mut unknown = rows[1].clone();
    unknown[col("id")] = "R99000002".into();
    let delta_rows = [
        line("add", &added),
        line("update", &moved(1, units.len() - 1)),
        line("变更", &moved(2, units.len() - 2)),
        line("retire", &retire(3)),
        line("注销", &retire(4)),
        line("retire", &retire(5)),
        line("update", &unknown),
        line("retire", &{
            let mut r = retire(6);
            r[col("id")] = "R99000003".into();
            r
        }),
    ];
    let delta_dir = tmp.path().join("delta-2025-01");
    std::fs::create_dir_all(&delta_dir).unwrap();
    let mut w = csv::Writer::from_path(delta_dir.join("residents.csv")).unwrap();
    let mut h = vec!["op".to_string()];
    h.extend(header.iter().cloned());
    w.write_record(&h).unwrap();
    for row in &delta_rows {
        w.write_record(row).unwrap();
    }
    w.flush().unwrap();

    let opts = ImportOptions::default();
    let reports = import_dir_with(&store, &delta_dir, &opts, &|_| {})
        .await
        .unwrap();
    let r = &reports[0];
    assert_eq!(r.failed, None, "{r:?}");
    assert_eq!(r.rows_total, 8);
    assert_eq!(
        (
            r.rows_loaded,
            r.rows_updated,
            r.rows_retired,
            r.rows_duplicate
        ),
        (1, 2, 3, 0),
        "{r:?}"
    );
    let lines: Vec<u64> = r.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [8, 9], "{:?}", r.errors);
    assert!(
        r.errors[0]
            .message
            .contains("no record R99000002 to update")
    );
    assert!(
        r.errors[1]
            .message
            .contains("no record R99000003 to retire")
    );
    // The link report is the delta's own: the added and the two updated rows.
    let l = &r.links;
    assert_eq!(
        l.unit + l.building + l.ambiguous + l.unmatched + l.pending,
        3,
        "{l:?}"
    );

    assert_eq!(store.count("residents").await.unwrap(), before + 1 - 3);
    assert!(resident(&store, "R99000001").await.is_some());
    for row in &rows[3..6] {
        assert_eq!(resident(&store, &row[col("id")]).await, None, "retired");
    }
    // The moved residents now live (and link) where the update says.
    let (address, code, link) = resident(&store, &rows[1][col("id")]).await.unwrap();
    assert_eq!(address, units[units.len() - 1].1);
    assert_eq!(
        code.as_deref(),
        Some(units[units.len() - 1].0.as_str()),
        "{link}"
    );
    assert_eq!(link, "unit");
    assert_eq!(store.count("import_retired").await.unwrap(), 3);

    // The same delta again: the add and the retires are repeats, the updates rewrite
    // the same values, the unknown keys are still errors.
    let snapshot = (
        store.count("residents").await.unwrap(),
        resident(&store, &rows[1][col("id")]).await,
        resident(&store, &rows[2][col("id")]).await,
    );
    let again = import_dir_with(&store, &delta_dir, &opts, &|_| {})
        .await
        .unwrap();
    let r = &again[0];
    assert_eq!(
        (
            r.rows_loaded,
            r.rows_updated,
            r.rows_retired,
            r.rows_duplicate
        ),
        (0, 2, 0, 4),
        "{r:?}"
    );
    assert_eq!(r.errors.len(), 2);
    let now = (
        store.count("residents").await.unwrap(),
        resident(&store, &rows[1][col("id")]).await,
        resident(&store, &rows[2][col("id")]).await,
    );
    assert_eq!(now, snapshot);

    // Retired residents leave the index (and every aggregate built on it).
    let (ix, _) = minqing_domain::load_index(&store).await.unwrap();
    assert_eq!(ix.people.len() as i64, before - 2);

    // `--delta`: rows without an op are updates; a plain import without one keeps the
    // stored record (a repeat).
    std::fs::write(
        delta_dir.join("residents.csv"),
        format!(
            "{}\n{}\n",
            header.join(","),
            moved(7, 0)
                .iter()
                .map(|v| format!("\"{v}\""))
                .collect::<Vec<_>>()
                .join(",")
        ),
    )
    .unwrap();
    let plain = import_dir_with(&store, &delta_dir, &opts, &|_| {})
        .await
        .unwrap();
    assert_eq!((plain[0].rows_duplicate, plain[0].rows_updated), (1, 0));
    assert_ne!(
        resident(&store, &rows[7][col("id")]).await.unwrap().0,
        units[0].1
    );
    let as_delta = ImportOptions {
        delta: true,
        ..Default::default()
    };
    let d = import_dir_with(&store, &delta_dir, &as_delta, &|_| {})
        .await
        .unwrap();
    assert_eq!(
        (d[0].rows_duplicate, d[0].rows_updated),
        (0, 1),
        "{:?}",
        d[0]
    );
    assert_eq!(
        resident(&store, &rows[7][col("id")]).await.unwrap().0,
        units[0].1
    );
    store.close().await;
}

#[tokio::test]
async fn monthly_delta_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    delta(sqlite_store(tmp.path()).await).await;
}

#[tokio::test]
async fn monthly_delta_postgis() {
    delta(postgis_store().await).await;
}
