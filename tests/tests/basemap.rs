//! The basemap of our own: the generator's water, land use and points of interest
//! (water never over a building, every kind of institution present, names in Chinese),
//! their import on both stores (bad features located, good ones loaded, any geographic
//! format), and their tile layers (in the catalog and TileJSON, each at the zooms it
//! promises, with no field beyond kind, name and rank).

use crate::support::{call, district, loaded_app, postgis_store, sqlite_store};
use geo::{Contains, Intersects};
use minqing_domain::import::import_dir;
use minqing_domain::store::Store;
use minqing_tiles::{TileId, TileRange};
use mvt_reader::Reader;
use mvt_reader::feature::Value;
use std::collections::{BTreeSet, HashMap};

fn features(path: &std::path::Path) -> Vec<geojson::Feature> {
    let text = std::fs::read_to_string(path).unwrap();
    match text.parse::<geojson::GeoJson>().unwrap() {
        geojson::GeoJson::FeatureCollection(fc) => fc.features,
        other => panic!("not a collection: {other:?}"),
    }
}

fn prop_str(f: &geojson::Feature, k: &str) -> Option<String> {
    f.property(k).and_then(|v| v.as_str()).map(str::to_string)
}

fn is_chinese(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| ('\u{4e00}'..='\u{9fff}').contains(&c) || c.is_ascii_digit())
}

/// The generated layers: water over no building (with room to spare), both a river and
/// a lake, land use of every generated kind, every kind of point of interest with a
/// Chinese name, the mediation rooms one per community.
#[test]
fn generated_basemap_keeps_water_off_buildings_and_names_every_institution() {
    let (_tmp, dir, m) = district(0.05);
    let water = features(&dir.join("water.geojson"));
    let landuse = features(&dir.join("landuse.geojson"));
    let pois = features(&dir.join("pois.geojson"));
    let kinds = |fs: &[geojson::Feature]| -> BTreeSet<String> {
        fs.iter().filter_map(|f| prop_str(f, "kind")).collect()
    };
    assert!(kinds(&water).contains("river"), "{:?}", kinds(&water));
    assert!(
        kinds(&water)
            .iter()
            .any(|k| k == "lake" || k == "reservoir"),
        "{:?}",
        kinds(&water)
    );
    for k in ["residential", "farmland", "forest", "park"] {
        assert!(kinds(&landuse).contains(k), "no {k} land use");
    }
    assert_eq!(
        kinds(&pois),
        minqing_domain::basemap::POI_KINDS
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
    );
    for f in &pois {
        let name = prop_str(f, "name").expect("a point of interest has a name");
        assert!(is_chinese(&name), "{name}");
    }
    for f in water.iter().chain(&landuse) {
        if let Some(name) = prop_str(f, "name") {
            assert!(is_chinese(&name), "{name}");
        }
    }
    assert_eq!(
        pois.iter()
            .filter(|f| prop_str(f, "kind").as_deref() == Some("mediation_room"))
            .count(),
        m.communities
    );
    assert!(
        pois.iter()
            .any(|f| prop_str(f, "name").as_deref() == Some("旌阳区综治中心"))
    );

    // No building stands in the water, nor within 5 m of it (the generator keeps 8 m).
    let polys: Vec<geo_types::Geometry<f64>> = water
        .iter()
        .filter_map(|f| {
            let g: geo_types::Geometry<f64> = f.geometry.clone()?.try_into().ok()?;
            matches!(
                g,
                geo_types::Geometry::Polygon(_) | geo_types::Geometry::MultiPolygon(_)
            )
            .then_some(g)
        })
        .collect();
    assert!(polys.len() >= 2);
    let text = std::fs::read_to_string(dir.join("buildings.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let mut checked = 0;
    let m_lon = 111_320.0 * 31.127f64.to_radians().cos();
    let m_lat = 110_574.0;
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let (lon, lat): (f64, f64) = (rec[11].parse().unwrap(), rec[12].parse().unwrap());
        let p = geo_types::Point::new(lon, lat);
        // A 5 m box around the building.
        let (dx, dy) = (5.0 / m_lon, 5.0 / m_lat);
        let around = geo_types::Rect::new(
            geo_types::coord! { x: lon - dx, y: lat - dy },
            geo_types::coord! { x: lon + dx, y: lat + dy },
        );
        for g in &polys {
            assert!(!g.contains(&p), "building {} is in the water", &rec[0]);
            assert!(
                !g.intersects(&around),
                "building {} is within 5 m of the water",
                &rec[0]
            );
        }
        checked += 1;
    }
    assert_eq!(checked, m.building_addresses);
}

/// Damage features of the three files in known ways: each bad one is reported on its
/// line with what is wrong, the others load, on `store`; the index then holds them.
async fn import_locates_bad_features(store: Store) {
    let (_tmp, dir, _m) = district(0.01);
    let mut expected: HashMap<&str, (Vec<u64>, Vec<&str>)> = HashMap::new();
    let mut edit = |file: &'static str, edits: &[(usize, &'static str, serde_json::Value)]| {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut bad = Vec::new();
        let mut words = Vec::new();
        for (line, word, patch) in edits {
            let raw = lines[*line].trim_end_matches(',').to_string();
            let comma = lines[*line].ends_with(',');
            let mut f: serde_json::Value = serde_json::from_str(&raw).unwrap();
            for (k, v) in patch.as_object().unwrap() {
                if k == "geometry" {
                    f["geometry"] = v.clone();
                } else {
                    f["properties"][k] = v.clone();
                }
            }
            lines[*line] = format!("{}{}", f, if comma { "," } else { "" });
            // A valid collection is numbered by feature: line k + 1 holds feature k.
            bad.push(*line as u64);
            words.push(*word);
        }
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        expected.insert(file, (bad, words));
    };
    edit(
        "water.geojson",
        &[(1, "unknown kind", serde_json::json!({"kind": "sea"}))],
    );
    edit(
        "landuse.geojson",
        &[
            (
                2,
                "Polygon",
                serde_json::json!({"geometry": {"type": "Point", "coordinates": [104.4, 31.1]}}),
            ),
            (3, "id", serde_json::json!({"id": "x"})),
        ],
    );
    edit(
        "pois.geojson",
        &[
            (1, "name", serde_json::json!({"name": null})),
            (2, "rank", serde_json::json!({"rank": 7})),
            (
                3,
                "Point",
                serde_json::json!({"geometry": {"type": "LineString", "coordinates": [[104.4, 31.1], [104.5, 31.2]]}}),
            ),
        ],
    );
    let totals: HashMap<&str, usize> = ["water.geojson", "landuse.geojson", "pois.geojson"]
        .into_iter()
        .map(|f| (f, features(&dir.join(f)).len()))
        .collect();
    let reports = import_dir(&store, &dir, &|_| {}).await.expect("import");
    for (file, (lines, words)) in &expected {
        let r = reports.iter().find(|r| r.file == *file).expect("reported");
        assert!(r.failed.is_none(), "{file}: {:?}", r.failed);
        let got: Vec<u64> = r.errors.iter().map(|e| e.line).collect();
        assert_eq!(&got, lines, "{file}: {:?}", r.errors);
        for (e, w) in r.errors.iter().zip(words) {
            assert!(
                e.message.contains(w),
                "{file} line {}: {}",
                e.line,
                e.message
            );
        }
        assert_eq!(r.rows_total as usize, totals[file]);
        assert_eq!(r.rows_loaded as usize, totals[file] - lines.len(), "{file}");
    }
    let table = |f: &str| f.trim_end_matches(".geojson").to_string();
    for (file, (lines, _)) in &expected {
        assert_eq!(
            store.count(&table(file)).await.unwrap() as usize,
            totals[file] - lines.len()
        );
    }
    // Twice changes nothing.
    let again = import_dir(&store, &dir, &|_| {}).await.expect("import");
    for file in expected.keys() {
        let r = again.iter().find(|r| r.file == *file).unwrap();
        assert_eq!(r.rows_loaded, 0, "{file}");
    }
    let loaded = store.load_basemap().await.expect("load");
    assert_eq!(loaded.water.len(), totals["water.geojson"] - 1);
    assert_eq!(loaded.pois.len(), totals["pois.geojson"] - 3);
    assert!(loaded.pois.iter().all(|p| (1..=3).contains(&p.rank)));
    assert!(loaded.landuse.iter().all(|l| l.rank == 0));
    store.close().await;
}

#[tokio::test]
async fn basemap_import_locates_bad_features_on_the_embedded_store() {
    let tmp = tempfile::tempdir().unwrap();
    import_locates_bad_features(sqlite_store(tmp.path()).await).await;
}

#[tokio::test]
async fn basemap_import_locates_bad_features_on_postgis() {
    import_locates_bad_features(postgis_store().await).await;
}

/// The points of interest as a GeoPackage (another format the import plan reads) load
/// like the GeoJSON file.
#[tokio::test]
async fn points_of_interest_import_from_a_geopackage() {
    let (tmp, dir, _m) = district(0.01);
    let pois = features(&dir.join("pois.geojson"));
    let gpkg = dir.join("pois.gpkg");
    write_points_gpkg(&gpkg, &pois).await;
    std::fs::remove_file(dir.join("pois.geojson")).unwrap();
    let store = sqlite_store(tmp.path()).await;
    let reports = import_dir(&store, &dir, &|_| {}).await.expect("import");
    let r = reports
        .iter()
        .find(|r| r.file == "pois.gpkg")
        .expect("reported");
    assert_eq!(r.format, "geopackage");
    assert!(r.errors.is_empty() && r.failed.is_none(), "{r:?}");
    assert_eq!(r.rows_loaded as usize, pois.len());
    let loaded = store.load_basemap().await.unwrap();
    assert_eq!(loaded.pois.len(), pois.len());
    let first = &loaded.pois[0];
    assert_eq!(first.name, prop_str(&pois[0], "name"));
    assert_eq!(Some(first.kind.clone()), prop_str(&pois[0], "kind"));
}

/// A minimal GeoPackage with one point table `pois` (WGS-84): the standard's binary
/// geometry header (GP, version 0, flags: little-endian, no envelope) then WKB.
async fn write_points_gpkg(path: &std::path::Path, pois: &[geojson::Feature]) {
    use sqlx::sqlite::SqliteConnectOptions;
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
    for sql in [
        "PRAGMA application_id = 1196444487",
        "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT)",
        "INSERT INTO gpkg_spatial_ref_sys VALUES ('WGS 84', 4326, 'EPSG', 4326, 'GEOGCS[\"WGS 84\"]', NULL)",
        "CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT, description TEXT DEFAULT '', last_change DATETIME, min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER)",
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) VALUES ('pois', 'features', 'pois', 4326)",
        "CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL)",
        "INSERT INTO gpkg_geometry_columns VALUES ('pois', 'geom', 'POINT', 4326, 0, 0)",
        "CREATE TABLE pois (fid INTEGER PRIMARY KEY, geom BLOB, id INTEGER, name TEXT, kind TEXT, rank INTEGER)",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    for f in pois {
        let Some(geojson::Value::Point(c)) = f.geometry.as_ref().map(|g| g.value.clone()) else {
            panic!("a point")
        };
        let mut blob = vec![b'G', b'P', 0, 0b0000_0001];
        blob.extend(4326i32.to_le_bytes());
        blob.push(1);
        blob.extend(1u32.to_le_bytes());
        blob.extend(c[0].to_le_bytes());
        blob.extend(c[1].to_le_bytes());
        sqlx::query("INSERT INTO pois (geom, id, name, kind, rank) VALUES (?, ?, ?, ?, ?)")
            .bind(blob)
            .bind(f.property("id").and_then(|v| v.as_i64()).unwrap())
            .bind(prop_str(f, "name"))
            .bind(prop_str(f, "kind"))
            .bind(f.property("rank").and_then(|v| v.as_i64()))
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
}

fn decode(bytes: &[u8]) -> HashMap<String, Vec<mvt_reader::feature::Feature<f32>>> {
    let r = Reader::new(bytes.to_vec()).expect("mvt-reader decodes the tile");
    let names = r.get_layer_names().expect("layer names");
    names
        .into_iter()
        .enumerate()
        .map(|(i, n)| (n, r.get_features(i).expect("features")))
        .collect()
}

fn string(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// The layers are in the catalog and TileJSON; over the district at every zoom from 8
/// to 16, water and land use are drawn from z8, points of interest only from the zoom
/// their rank allows (a community's mediation room from z15), names are the stored
/// ones, and no feature carries a field beyond kind, name and rank.
#[tokio::test]
async fn basemap_tiles_carry_their_layers_at_their_zooms() {
    let (_tmp, state, app, _m) = loaded_app(0.03).await;
    let index = state.index().unwrap();
    let b = index.basemap.clone();
    assert!(!b.water.is_empty() && !b.landuse.is_empty() && !b.pois.is_empty());
    let (status, _, body) = call(&app, "GET", "/tiles/catalog", &[], Vec::new()).await;
    assert_eq!(status, 200);
    let catalog: serde_json::Value = serde_json::from_slice(&body).unwrap();
    for id in ["landuse", "water", "pois"] {
        let l = catalog["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == id)
            .unwrap_or_else(|| panic!("{id} not in the catalog"));
        assert!(l["fields"]["kind"].is_string(), "{id}");
    }
    let (status, _, body) = call(
        &app,
        "GET",
        "/tiles/landuse,water,roads,pois.json",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
    let tj: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let ids: Vec<&str> = tj["vector_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["landuse", "water", "roads", "pois"]);

    let names: BTreeSet<&str> = b
        .water
        .iter()
        .chain(&b.landuse)
        .chain(&b.pois)
        .filter_map(|f| f.name.as_deref())
        .collect();
    let (mut w, mut s, mut e, mut n) = (180.0f64, 90.0f64, -180.0f64, -90.0f64);
    for a in &index.areas {
        use geo::BoundingRect;
        if let Some(r) = a.area.geometry.bounding_rect() {
            w = w.min(r.min().x);
            s = s.min(r.min().y);
            e = e.max(r.max().x);
            n = n.max(r.max().y);
        }
    }
    let bounds = minqing_tiles::projection::LonLatBounds {
        west: w,
        south: s,
        east: e,
        north: n,
    };
    // Per zoom: features seen per layer, point-of-interest kinds and ranks seen.
    let mut seen: HashMap<(u8, &str), usize> = HashMap::new();
    for z in 8..=16u8 {
        let range = TileRange::covering(&bounds, z).unwrap();
        let step = (range.len() / 60).max(1) as usize;
        let tiles: Vec<TileId> = range.iter().step_by(step).collect();
        for t in tiles {
            let (status, _, body) = call(
                &app,
                "GET",
                &format!("/tiles/landuse,water,pois/{z}/{}/{}.mvt", t.x(), t.y()),
                &[],
                Vec::new(),
            )
            .await;
            if status == 204 {
                continue;
            }
            assert_eq!(status, 200);
            for (layer, feats) in decode(&body) {
                let layer: &str = match layer.as_str() {
                    "landuse" => "landuse",
                    "water" => "water",
                    "pois" => "pois",
                    other => panic!("unexpected layer {other}"),
                };
                *seen.entry((z, layer)).or_default() += feats.len();
                for f in &feats {
                    let props = f.properties.clone().unwrap_or_default();
                    for k in props.keys() {
                        assert!(
                            ["kind", "name", "rank"].contains(&k.as_str()),
                            "{layer}.{k} is not a basemap field"
                        );
                    }
                    let kind = string(props.get("kind")).expect("kind");
                    if let Some(name) = string(props.get("name")) {
                        assert!(names.contains(name.as_str()), "{layer}: {name}");
                    }
                    match layer {
                        "pois" => {
                            let rank = match props.get("rank") {
                                Some(Value::UInt(r)) => *r,
                                other => panic!("rank {other:?}"),
                            };
                            let least =
                                minqing_domain::tiles_service::basemap::poi_min_zoom(rank as u8);
                            assert!(z >= least, "{kind} of rank {rank} at z{z}");
                            assert!(string(props.get("name")).is_some(), "{kind} without a name");
                        }
                        "water" => {
                            assert!(minqing_domain::basemap::WATER_KINDS.contains(&kind.as_str()))
                        }
                        _ => {
                            assert!(minqing_domain::basemap::LANDUSE_KINDS.contains(&kind.as_str()))
                        }
                    }
                }
            }
        }
    }
    for z in [8u8, 10, 12, 14, 16] {
        assert!(
            seen.get(&(z, "landuse")).copied().unwrap_or(0) > 0,
            "no land use at z{z}"
        );
    }
    for z in 8..=10u8 {
        assert_eq!(seen.get(&(z, "pois")), None, "points of interest at z{z}");
    }
    // At the tiles holding them: each point of interest from the zoom its rank allows
    // and not before; the river at every zoom.
    let layer_names = |z: u8, lon: f64, lat: f64, layer: &'static str| {
        let t = TileId::from_lonlat(lon, lat, z).unwrap();
        let app = app.clone();
        async move {
            let (status, _, body) = call(
                &app,
                "GET",
                &format!("/tiles/{layer}/{z}/{}/{}.mvt", t.x(), t.y()),
                &[],
                Vec::new(),
            )
            .await;
            if status == 204 {
                return Vec::new();
            }
            assert_eq!(status, 200);
            decode(&body)
                .remove(layer)
                .unwrap_or_default()
                .iter()
                .map(|f| {
                    // A feature without a name (a polygon piece) by its kind: `#river`.
                    let p = f.properties.as_ref();
                    string(p.and_then(|p| p.get("name"))).unwrap_or_else(|| {
                        format!(
                            "#{}",
                            string(p.and_then(|p| p.get("kind"))).unwrap_or_default()
                        )
                    })
                })
                .collect::<Vec<_>>()
        }
    };
    let mut ranks_checked = BTreeSet::new();
    for p in b.pois.iter().step_by(3) {
        let geo_types::Geometry::Point(pt) = p.geometry else {
            panic!("a point")
        };
        let least = minqing_domain::tiles_service::basemap::poi_min_zoom(p.rank);
        for z in 10..=16u8 {
            let here = layer_names(z, pt.x(), pt.y(), "pois").await;
            let name = p.name.clone().unwrap();
            assert_eq!(
                here.contains(&name),
                z >= least,
                "{name} (rank {}) at z{z}",
                p.rank
            );
        }
        ranks_checked.insert(p.rank);
    }
    assert_eq!(ranks_checked, BTreeSet::from([1, 2, 3]));
    let river = b
        .water
        .iter()
        .find(|f| matches!(f.geometry, geo_types::Geometry::LineString(_)))
        .expect("the river's centreline");
    let geo_types::Geometry::LineString(line) = &river.geometry else {
        unreachable!()
    };
    let mid = line.0[line.0.len() / 2];
    for z in 8..=16u8 {
        let here = layer_names(z, mid.x, mid.y, "water").await;
        // The centreline, and from the zoom the banks are drawn also the river's area.
        assert!(
            here.iter().filter(|n| *n == "绵远河").count() >= 1,
            "no river at z{z}: {here:?}"
        );
        if z >= 13 {
            assert!(
                here.iter().any(|n| n == "#river"),
                "no river banks at z{z}: {here:?}"
            );
        }
    }
}

/// A named park or lake has its name once on the map, however many tiles it crosses:
/// on one point in the one tile that holds it, never on the polygon pieces (whose
/// labels were placed once per tile, twice for a park across a tile edge).
#[tokio::test]
async fn a_named_polygon_is_labelled_once_across_tile_edges() {
    let (_tmp, state, app, _m) = loaded_app(0.03).await;
    let index = state.index().unwrap();
    let b = index.basemap.clone();
    let named: Vec<(&str, &geo_types::Geometry<f64>)> = b
        .landuse
        .iter()
        .chain(&b.water)
        .filter(|f| {
            matches!(
                f.geometry,
                geo_types::Geometry::Polygon(_) | geo_types::Geometry::MultiPolygon(_)
            )
        })
        .filter_map(|f| Some((f.name.as_deref()?, &f.geometry)))
        .collect();
    assert!(!named.is_empty(), "the generator names parks and lakes");
    for z in [12u8, 15] {
        // Every tile any named polygon touches.
        let mut tiles = BTreeSet::new();
        for (_, g) in &named {
            let r = geo::BoundingRect::bounding_rect(*g).unwrap();
            let bounds = minqing_tiles::projection::LonLatBounds {
                west: r.min().x,
                south: r.min().y,
                east: r.max().x,
                north: r.max().y,
            };
            tiles.extend(TileRange::covering(&bounds, z).unwrap().iter());
        }
        let mut labels: HashMap<String, usize> = HashMap::new();
        let mut crossing_polygons = 0;
        for t in &tiles {
            let (status, _, body) = call(
                &app,
                "GET",
                &format!("/tiles/landuse,water/{z}/{}/{}.mvt", t.x(), t.y()),
                &[],
                Vec::new(),
            )
            .await;
            if status == 204 {
                continue;
            }
            assert_eq!(status, 200);
            for (_, feats) in decode(&body) {
                for f in feats {
                    let props = f.properties.clone().unwrap_or_default();
                    let name = string(props.get("name"));
                    match f.geometry {
                        // mvt-reader reads a point feature as a one-point MultiPoint.
                        geo_types::Geometry::Point(_) | geo_types::Geometry::MultiPoint(_) => {
                            *labels
                                .entry(name.expect("a label point has a name"))
                                .or_default() += 1;
                        }
                        geo_types::Geometry::Polygon(_) | geo_types::Geometry::MultiPolygon(_) => {
                            assert_eq!(name, None, "z{z}: a polygon piece carries a name");
                            crossing_polygons += 1;
                        }
                        _ => {}
                    }
                }
            }
        }
        assert!(crossing_polygons > 0, "z{z}");
        for (name, _) in &named {
            assert_eq!(
                labels.get(*name).copied(),
                Some(named.iter().filter(|(n, _)| n == name).count()),
                "z{z}: {name} labelled once per feature"
            );
        }
    }
}
