//! The conformance suite: the same checks against the embedded store and PostGIS.

use crate::support::{district, get, postgis_store, sqlite_store};
use minqing_domain::App;
use minqing_domain::generate::Manifest;
use minqing_domain::store::Store;
use minqing_server::http::app;

/// Import a generated district, check every figure through the index and the API,
/// re-import and check that nothing changed.
async fn conformance(store: Store, dir: &std::path::Path, m: &Manifest) {
    let reports = minqing_domain::import::import_dir(&store, dir, &|_| {})
        .await
        .expect("import");
    for r in &reports {
        assert!(
            r.errors.is_empty(),
            "{}: unexpected bad rows {:?}",
            r.file,
            &r.errors[..r.errors.len().min(3)]
        );
        assert_eq!(r.rows_loaded, r.rows_total, "{} loads every row", r.file);
    }
    let residents: u64 = reports
        .iter()
        .filter(|r| r.file.starts_with("residents"))
        .map(|r| r.rows_loaded)
        .sum();
    assert_eq!(residents as usize, m.residents);
    let linked: u64 = reports
        .iter()
        .filter(|r| r.file.starts_with("residents"))
        .map(|r| r.links.unit)
        .sum();
    assert!(
        linked as f64 > 0.8 * m.residents as f64,
        "rows with an address_code link at unit level"
    );
    assert_eq!(
        store.count("buildings").await.unwrap() as usize,
        m.building_addresses
    );
    assert_eq!(
        store.count("units").await.unwrap() as usize,
        m.unit_addresses
    );
    assert_eq!(store.count("events").await.unwrap() as usize, m.events);

    // Idempotent: a second import adds nothing and reports every row as a duplicate.
    let again = minqing_domain::import::import_dir(&store, dir, &|_| {})
        .await
        .expect("re-import");
    for r in &again {
        assert_eq!(r.rows_loaded, 0, "{} re-import added rows", r.file);
        assert_eq!(r.rows_duplicate, r.rows_total, "{}", r.file);
    }
    assert_eq!(
        store.count("residents").await.unwrap() as usize,
        m.residents
    );

    // The index and the API see exactly the generated district.
    let state = App::new(store.clone());
    let router = app(state.clone());
    let (status, _) = get(&router, "/healthz").await;
    assert_eq!(status, 503, "not healthy before the index is loaded");
    state.set_index(
        minqing_domain::load_index(&store)
            .await
            .expect("load index"),
    );
    let (status, body) = get(&router, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let auth = crate::support::bearer(
        &state,
        &router,
        minqing_domain::auth::Role::Screen,
        &[],
        None,
    )
    .await;
    let (status, _, body) = crate::support::call(
        &router,
        "GET",
        "/api/v1/stats",
        &[("authorization", &auth)],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
    let s: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(s["building_addresses"], m.building_addresses);
    assert_eq!(s["unit_addresses"], m.unit_addresses);
    assert_eq!(s["residents"], m.residents);
    assert_eq!(s["housing_units"], m.housing_units);
    assert_eq!(s["enterprises"], m.enterprises);
    assert_eq!(s["grids"], m.grids);
    assert_eq!(s["events"], m.events);
    let ix = state.index().unwrap();
    // Per-building aggregates add up to the totals of linked records.
    let in_buildings: u64 = ix.buildings.iter().map(|b| u64::from(b.residents)).sum();
    let linked_people = ix.people.iter().filter(|p| p.building.is_some()).count() as u64;
    assert_eq!(in_buildings, linked_people);
    let units_in_buildings: u64 = ix.buildings.iter().map(|b| u64::from(b.units)).sum();
    assert_eq!(units_in_buildings as usize, m.unit_addresses);
    // Point-in-polygon agrees with the stored grid of every building.
    for b in ix.buildings.iter().step_by(7) {
        let grid = ix.grid_at(b.lon, b.lat).expect("building inside a grid");
        assert_eq!(
            Some(&grid.area.code),
            b.grid.map(|g| &ix.areas[g as usize].area.code)
        );
    }
    // The nearest building to a building's own point is itself.
    let b = &ix.buildings[ix.buildings.len() / 2];
    assert_eq!(ix.nearest_building(b.lon, b.lat).unwrap().code, b.code);
    let (status, _, body) = crate::support::call(
        &router,
        "GET",
        "/api/v1/areas?level=grid",
        &[("authorization", &auth)],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
    let fc: geojson::FeatureCollection = String::from_utf8(body).unwrap().parse().unwrap();
    assert_eq!(fc.features.len(), m.grids);
    store.close().await;
}

#[tokio::test]
async fn embedded_store_conforms() {
    let (tmp, dir, m) = district(0.02);
    let store = sqlite_store(tmp.path()).await;
    conformance(store, &dir, &m).await;
}

#[tokio::test]
async fn postgis_store_conforms() {
    let (_tmp, dir, m) = district(0.02);
    let store = postgis_store().await;
    conformance(store.clone(), &dir, &m).await;
}

#[tokio::test]
async fn postgis_has_real_geometry_with_gist_indexes() {
    let (_tmp, dir, m) = district(0.01);
    let store = postgis_store().await;
    minqing_domain::import::import_dir(&store, &dir, &|_| {})
        .await
        .unwrap();
    let Store::Postgres(pool) = &store else {
        panic!("expected PostGIS")
    };
    let inside: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM buildings b JOIN areas g ON g.code = b.grid_code WHERE ST_Intersects(g.geom, b.geom)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        inside as usize, m.building_addresses,
        "every building lies in its grid, by PostGIS"
    );
    let srid: i32 = sqlx::query_scalar("SELECT Find_SRID('public', 'buildings', 'geom')")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(srid, 4326);
    let gist: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM pg_indexes WHERE indexdef ILIKE '%USING gist%'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(
        gist, 8,
        "areas, roads, water, landuse, pois, buildings, events and patrols have GiST indexes"
    );
    let grid_area: f64 =
        sqlx::query_scalar("SELECT SUM(ST_Area(geom)) FROM areas WHERE level = 'grid'")
            .fetch_one(pool)
            .await
            .unwrap();
    let district_area: f64 =
        sqlx::query_scalar("SELECT ST_Area(geom) FROM areas WHERE level = 'district'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert!((grid_area - district_area).abs() / district_area < 1e-9);
    store.close().await;
}

/// The embedded store reads its big tables as packed text (see `store::load`): every
/// coordinate must still come back bit for bit, including doubles that need 17 digits,
/// and NULLs, tricky text and the load order must survive.
#[tokio::test]
async fn embedded_store_loads_coordinates_and_text_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let store = sqlite_store(tmp.path()).await;
    let Store::Sqlite(pool) = &store else {
        unreachable!()
    };
    // Neighbouring doubles around a real longitude and latitude, a third, 0.1 + 0.2, the
    // smallest subnormal, and a negative: none of these survive 15 significant digits.
    let mut coords: Vec<(f64, f64)> = Vec::new();
    for k in 0..40u64 {
        let lon = f64::from_bits(104.398_f64.to_bits() + k * 7_919);
        let lat = f64::from_bits(31.127_f64.to_bits() - k * 104_729);
        coords.push((lon, lat));
    }
    coords.push((1.0 / 3.0, 0.1 + 0.2));
    coords.push((f64::from_bits(1), -179.999_999_999_999_97));
    // Codes inserted in reverse, so rowid order is not code order.
    for (i, (lon, lat)) in coords.iter().enumerate().rev() {
        let road = (!i.is_multiple_of(3)).then(|| format!("路{i}:~,'\"|"));
        sqlx::query(
            "INSERT INTO buildings (code, label, grid_code, road, door, compound, building_no, \
             village_group, house_no, kind, floors, lon, lat) \
             VALUES (?1, ?2, 'G1', ?3, ?4, NULL, ?5, NULL, NULL, 'walkup', ?6, ?7, ?8)",
        )
        .bind(format!("B{i:03}"))
        .bind(format!("旌阳区{i}号,~:"))
        .bind(road)
        .bind(i.is_multiple_of(2).then_some(i as i64))
        .bind(i as i64 * 3)
        .bind(1 + i as i64 % 30)
        .bind(lon)
        .bind(lat)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO events (code, category, source, status, risk_tier, title, description, lon, lat, \
             address_code, grid_code, reported_at, deadline, mediation_org, diversion, \
             resolved_by_mediation, escalated, closed_at, version, updated_at) \
             VALUES (?1, 'neighbour', 'grid', 'intake', 'low', ?2, '', ?3, ?4, NULL, 'G1', ?5, ?6, \
             ?7, NULL, ?8, 0, ?9, 1, ?5)",
        )
        .bind(format!("E{i:03}"))
        .bind(format!("噪音\n{i}"))
        .bind(lon)
        .bind(lat)
        .bind(1_700_000_000 + (i as i64 % 5))
        .bind(1_700_100_000_i64)
        .bind(i.is_multiple_of(4).then(|| "人民调解委员会".to_string()))
        .bind(i as i64 % 2)
        .bind(i.is_multiple_of(3).then_some(1_700_050_000_i64))
        .execute(pool)
        .await
        .unwrap();
    }
    let buildings = store.load_buildings().await.unwrap();
    assert_eq!(buildings.len(), coords.len());
    for (i, b) in buildings.iter().enumerate() {
        assert_eq!(b.code, format!("B{i:03}"), "ordered by code");
        let (lon, lat) = coords[i];
        assert_eq!(
            (b.lon.to_bits(), b.lat.to_bits()),
            (lon.to_bits(), lat.to_bits()),
            "{}",
            b.code
        );
        assert_eq!(b.label, format!("旌阳区{i}号,~:"));
        assert_eq!(
            b.road,
            (!i.is_multiple_of(3)).then(|| format!("路{i}:~,'\"|"))
        );
        assert_eq!(b.door, i.is_multiple_of(2).then_some(i as u32));
        assert_eq!(
            (b.compound.as_deref(), b.building_no, b.village_group),
            (None, Some(i as u32 * 3), None)
        );
        assert_eq!((b.kind.as_str(), b.floors), ("walkup", 1 + i as u32 % 30));
    }
    let events = store.load_events().await.unwrap();
    assert_eq!(events.len(), coords.len());
    let mut expected: Vec<(i64, String)> = (0..coords.len())
        .map(|i| (1_700_000_000 + (i as i64 % 5), format!("E{i:03}")))
        .collect();
    expected.sort();
    for (e, (reported_at, code)) in events.iter().zip(&expected) {
        assert_eq!(
            (e.reported_at, &e.code),
            (*reported_at, code),
            "ordered by reported_at, code"
        );
        let i: usize = e.code[1..].parse().unwrap();
        let (lon, lat) = coords[i];
        assert_eq!(
            (e.lon.to_bits(), e.lat.to_bits()),
            (lon.to_bits(), lat.to_bits()),
            "{}",
            e.code
        );
        assert_eq!(e.title, format!("噪音\n{i}"));
        assert_eq!(e.description, "");
        assert_eq!(e.address_code, None);
        assert_eq!(
            e.mediation_org,
            i.is_multiple_of(4).then(|| "人民调解委员会".to_string())
        );
        assert_eq!((e.resolved_by_mediation, e.escalated), (i % 2 == 1, false));
        assert_eq!(e.closed_at, i.is_multiple_of(3).then_some(1_700_050_000));
        assert_eq!(
            (e.version, e.deadline, e.updated_at),
            (1, 1_700_100_000, e.reported_at)
        );
    }
    store.close().await;
}

/// Every index of the store's own tables, as (table, definition), sorted.
async fn index_definitions(store: &Store) -> Vec<(String, String)> {
    let mut defs: Vec<(String, String)> = match store {
        Store::Sqlite(pool) => sqlx::query_as(
            "SELECT tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
        Store::Postgres(pool) => sqlx::query_as(
            "SELECT tablename::text, indexdef FROM pg_indexes WHERE schemaname = 'public'",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
    };
    defs.sort();
    defs
}

/// Indexes of `table` as the transaction sees them.
async fn indexes_in_tx(tx: &mut minqing_domain::store::StoreTx, table: &str) -> i64 {
    use minqing_domain::store::StoreTx;
    match tx {
        StoreTx::Sqlite(tx) => sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1",
        )
        .bind(table)
        .fetch_one(&mut **tx)
        .await
        .unwrap(),
        StoreTx::Postgres(tx) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM pg_indexes WHERE tablename = $1")
                .bind(table)
                .fetch_one(&mut **tx)
                .await
                .unwrap()
        }
    }
}

/// A big import drops the plain secondary indexes of the table it fills and builds them
/// once at the end: an import leaves exactly the indexes the migrations made, a load
/// that never commits leaves them untouched, and a table with many more rows than the
/// load keeps its indexes while it is loaded.
async fn import_keeps_the_indexes(store: Store) {
    use minqing_domain::store::tables::RESIDENTS;
    let (_tmp, dir, _m) = district(0.01);
    let migrated = index_definitions(&store).await;
    let mut tx = store.begin().await.unwrap();
    let of_residents = indexes_in_tx(&mut tx, "residents").await;
    assert_eq!(of_residents, 5, "residents has its key and four indexes");
    let deferred = tx.defer_indexes(&RESIDENTS, 1).await.unwrap();
    let left = indexes_in_tx(&mut tx, "residents").await;
    assert!(
        left < of_residents,
        "an empty table's secondary indexes are dropped for the load ({left} of {of_residents} left)"
    );
    assert!(left >= 1, "the primary key stays for ON CONFLICT");
    drop(deferred);
    drop(tx); // never committed: rolled back
    assert_eq!(index_definitions(&store).await, migrated);

    minqing_domain::import::import_dir(&store, &dir, &|_| {})
        .await
        .unwrap();
    assert_eq!(
        index_definitions(&store).await,
        migrated,
        "an import rebuilds exactly the indexes it dropped"
    );

    let rows = store.count("residents").await.unwrap() as u64;
    let mut tx = store.begin().await.unwrap();
    let small = rows.div_ceil(minqing_domain::store::REBUILD_RATIO) - 1;
    let deferred = tx.defer_indexes(&RESIDENTS, small).await.unwrap();
    assert_eq!(
        indexes_in_tx(&mut tx, "residents").await,
        of_residents,
        "a table with many more rows than the load keeps its indexes"
    );
    tx.rebuild_indexes(deferred).await.unwrap();
    let deferred = tx.defer_indexes(&RESIDENTS, small + 1).await.unwrap();
    assert_eq!(
        indexes_in_tx(&mut tx, "residents").await,
        left,
        "a load of a quarter of the table's rows rebuilds its indexes"
    );
    tx.rebuild_indexes(deferred).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(index_definitions(&store).await, migrated);
    store.close().await;
}

#[tokio::test]
async fn embedded_import_keeps_the_indexes() {
    let tmp = tempfile::tempdir().unwrap();
    import_keeps_the_indexes(sqlite_store(tmp.path()).await).await;
}

#[tokio::test]
async fn postgis_import_keeps_the_indexes() {
    import_keeps_the_indexes(postgis_store().await).await;
}
