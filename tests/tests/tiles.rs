//! Vector and heat-map tiles, decoded with `mvt-reader` and `image` (decoders we did not
//! write) and checked against the index: positions, brute-force counts, attributes,
//! aggregation totals, privacy, HTTP caching and precise invalidation.

use crate::support::{add_event, as_leader, call, loaded_app};
use minqing_domain::Change;
use minqing_domain::index::Index;
use minqing_domain::model::Event;
use minqing_tiles::{TileId, TileRange};
use mvt_reader::Reader;
use mvt_reader::feature::Value;
use std::collections::HashMap;

const BUFFER: f64 = 64.0;

/// Independent slippy-map projection to fractional tile-local units.
fn tile_xy(lon: f64, lat: f64, t: TileId) -> (f64, f64) {
    let n = (1u64 << t.z()) as f64;
    let x = (lon + 180.0) / 360.0 * n;
    let y = (1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n;
    (
        (x - f64::from(t.x())) * 4096.0,
        (y - f64::from(t.y())) * 4096.0,
    )
}

fn in_buffered(lon: f64, lat: f64, t: TileId) -> bool {
    let (x, y) = tile_xy(lon, lat, t);
    let (x, y) = (x.round(), y.round());
    let (lo, hi) = (-BUFFER, 4096.0 + BUFFER);
    x >= lo && x <= hi && y >= lo && y <= hi
}

struct Decoded {
    layers: HashMap<String, Vec<mvt_reader::feature::Feature<f32>>>,
}

fn decode(bytes: &[u8]) -> Decoded {
    let r = Reader::new(bytes.to_vec()).expect("mvt-reader decodes the tile");
    let names = r.get_layer_names().expect("layer names");
    let meta = r.get_layer_metadata().expect("metadata");
    let mut layers = HashMap::new();
    for (i, name) in names.into_iter().enumerate() {
        assert_eq!(meta[i].extent, 4096);
        assert_eq!(meta[i].version, 2);
        layers.insert(name, r.get_features(i).expect("features"));
    }
    Decoded { layers }
}

fn prop<'a>(f: &'a mvt_reader::feature::Feature<f32>, k: &str) -> Option<&'a Value> {
    f.properties.as_ref().and_then(|p| p.get(k))
}

fn num(v: Option<&Value>) -> f64 {
    match v {
        Some(Value::UInt(u)) => *u as f64,
        Some(Value::Int(i)) | Some(Value::SInt(i)) => *i as f64,
        Some(Value::Double(d)) => *d,
        Some(Value::Float(f)) => f64::from(*f),
        other => panic!("not a number: {other:?}"),
    }
}

fn string(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

fn point(f: &mvt_reader::feature::Feature<f32>) -> (f64, f64) {
    match &f.geometry {
        geo_types::Geometry::Point(p) => (f64::from(p.x()), f64::from(p.y())),
        geo_types::Geometry::MultiPoint(mp) => (f64::from(mp.0[0].x()), f64::from(mp.0[0].y())),
        g => panic!("not a point: {g:?}"),
    }
}

async fn get_tile(
    app: &axum::Router,
    uri: &str,
    headers: &[(&str, &str)],
) -> (u16, axum::http::HeaderMap, Vec<u8>) {
    call(app, "GET", uri, headers, Vec::new()).await
}

/// The densest z-level tile of the buildings (by the index), to test real content.
fn densest_tile(index: &Index, z: u8) -> TileId {
    let mut counts: HashMap<TileId, usize> = HashMap::new();
    for b in &index.buildings {
        *counts
            .entry(TileId::from_lonlat(b.lon, b.lat, z).unwrap())
            .or_default() += 1;
    }
    counts.into_iter().max_by_key(|(t, n)| (*n, *t)).unwrap().0
}

fn district_bounds(index: &Index) -> minqing_tiles::projection::LonLatBounds {
    let (mut w, mut s, mut e, mut n) = (180.0f64, 90.0f64, -180.0f64, -90.0f64);
    for b in &index.buildings {
        w = w.min(b.lon);
        e = e.max(b.lon);
        s = s.min(b.lat);
        n = n.max(b.lat);
    }
    minqing_tiles::projection::LonLatBounds {
        west: w,
        south: s,
        east: e,
        north: n,
    }
}

#[tokio::test]
async fn vector_tiles_match_the_index() {
    let (_tmp, state, app, _m) = loaded_app(0.03).await;
    // Event points (with codes) are drawn for callers who may see the events.
    let app = as_leader(&state, app).await;
    let index = state.index().unwrap();

    // Buildings at z14..16: positions, brute-force counts, attributes.
    for z in [14u8, 15, 16] {
        let t = densest_tile(&index, z);
        let (status, h, body) = get_tile(
            &app,
            &format!("/tiles/buildings/{z}/{}/{}.mvt", t.x(), t.y()),
            &[],
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            h["content-type"].to_str().unwrap(),
            "application/vnd.mapbox-vector-tile"
        );
        let d = decode(&body);
        let feats = &d.layers["buildings"];
        let expected: Vec<_> = index
            .buildings
            .iter()
            .filter(|b| in_buffered(b.lon, b.lat, t))
            .collect();
        assert!(expected.len() > 10, "z{z} tile too sparse to test");
        assert_eq!(feats.len(), expected.len(), "z{z} brute-force count");
        let by_code: HashMap<&str, _> = expected.iter().map(|b| (b.code.as_str(), *b)).collect();
        for f in feats {
            let code = string(prop(f, "code"));
            let b = by_code
                .get(code.as_str())
                .expect("feature is a building in range");
            let (x, y) = point(f);
            let (ex, ey) = tile_xy(b.lon, b.lat, t);
            assert!(
                (x - ex).abs() <= 1.0 && (y - ey).abs() <= 1.0,
                "position of {code}"
            );
            // Tiles carry the disclosure layer's protected resident counts.
            assert_eq!(
                num(prop(f, "residents")),
                f64::from(minqing_domain::disclosure::protected_building_residents(
                    &b.code,
                    b.residents
                ))
            );
            assert_eq!(num(prop(f, "units")), f64::from(b.units));
            assert_eq!(num(prop(f, "enterprises")), f64::from(b.enterprises));
            assert!(prop(f, "cluster").is_none());
        }
    }
    // The same set as a brute-force scan at deeper zooms and at the district's edges
    // (where the lookup's cells are larger than the tile, or the buffer reaches past the
    // last building): the buildings whose buffered tile holds them, no more, no fewer.
    let west = index
        .buildings
        .iter()
        .min_by(|a, b| a.lon.total_cmp(&b.lon))
        .unwrap();
    let north = index
        .buildings
        .iter()
        .max_by(|a, b| a.lat.total_cmp(&b.lat))
        .unwrap();
    let mut probes: Vec<TileId> = [17u8, 18, 20].map(|z| densest_tile(&index, z)).to_vec();
    for b in [west, north] {
        for z in 14..=19u8 {
            probes.push(TileId::from_lonlat(b.lon, b.lat, z).unwrap());
        }
    }
    for t in probes {
        let (status, _, body) = get_tile(
            &app,
            &format!("/tiles/buildings/{}/{}/{}.mvt", t.z(), t.x(), t.y()),
            &[],
        )
        .await;
        assert_eq!(status, 200, "{t:?}");
        let mut got: Vec<String> = decode(&body).layers["buildings"]
            .iter()
            .map(|f| string(prop(f, "code")))
            .collect();
        let mut expected: Vec<String> = index
            .buildings
            .iter()
            .filter(|b| in_buffered(b.lon, b.lat, t))
            .map(|b| b.code.clone())
            .collect();
        got.sort();
        expected.sort();
        assert!(!expected.is_empty());
        assert_eq!(got, expected, "buildings of {t:?}");
    }

    // Events at z15 in the densest event tile: counts, attributes; composite with buildings.
    let events: Vec<Event> = state.events().events.clone();
    let mut ecounts: HashMap<TileId, usize> = HashMap::new();
    for e in &events {
        *ecounts
            .entry(TileId::from_lonlat(e.lon, e.lat, 15).unwrap())
            .or_default() += 1;
    }
    let t = ecounts.into_iter().max_by_key(|(t, n)| (*n, *t)).unwrap().0;
    let (status, _, body) = get_tile(
        &app,
        &format!("/tiles/buildings,events/15/{}/{}.mvt", t.x(), t.y()),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    let d = decode(&body);
    assert!(d.layers.contains_key("buildings") && d.layers.contains_key("events"));
    let ev = &d.layers["events"];
    let expected: HashMap<&str, &Event> = events
        .iter()
        .filter(|e| in_buffered(e.lon, e.lat, t))
        .map(|e| (e.code.as_str(), e))
        .collect();
    assert_eq!(ev.len(), expected.len());
    for f in ev {
        let e = expected[string(prop(f, "code")).as_str()];
        assert_eq!(string(prop(f, "category")), e.category);
        assert_eq!(string(prop(f, "status")), e.status);
        assert_eq!(string(prop(f, "risk_tier")), e.risk_tier);
        assert_eq!(num(prop(f, "reported_at")), e.reported_at as f64);
        let (x, y) = point(f);
        let (ex, ey) = tile_xy(e.lon, e.lat, t);
        assert!((x - ex).abs() <= 1.0 && (y - ey).abs() <= 1.0);
    }

    // A filter narrows the events to the brute-force set.
    let cat = events[0].category.clone();
    let (status, _, body) = get_tile(
        &app,
        &format!(
            "/tiles/events/15/{}/{}.mvt?category={cat}&from=2024-01-01&to=2024-12-31",
            t.x(),
            t.y()
        ),
        &[],
    )
    .await;
    // 2024-01-01 00:00 and 2024-12-31 23:59:59 in China Standard Time.
    let (from, to) = (1_704_038_400i64, 1_735_660_799i64);
    let n = expected
        .values()
        .filter(|e| e.category == cat && e.reported_at >= from && e.reported_at <= to)
        .count();
    if n == 0 {
        assert_eq!(status, 204);
    } else {
        assert_eq!(status, 200);
        assert_eq!(decode(&body).layers["events"].len(), n);
    }

    // Aggregation: at a zoom where the district fits one tile, the cells sum to the totals.
    let bounds = district_bounds(&index);
    let z = (0..=13u8)
        .rev()
        .find(|&z| TileRange::covering(&bounds, z).unwrap().len() == 1)
        .expect("the district fits one tile at some zoom");
    let t = TileId::from_lonlat(bounds.west, bounds.north, z).unwrap();
    let (status, _, body) = get_tile(
        &app,
        &format!(
            "/tiles/buildings,enterprises,events/{z}/{}/{}.mvt",
            t.x(),
            t.y()
        ),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    let d = decode(&body);
    let sum =
        |layer: &str, key: &str| -> f64 { d.layers[layer].iter().map(|f| num(prop(f, key))).sum() };
    assert_eq!(sum("buildings", "count") as usize, index.buildings.len());
    let residents: u64 = index
        .buildings
        .iter()
        .map(|b| {
            u64::from(minqing_domain::disclosure::protected_building_residents(
                &b.code,
                b.residents,
            ))
        })
        .sum();
    assert_eq!(sum("buildings", "residents") as u64, residents);
    let units: u64 = index.buildings.iter().map(|b| u64::from(b.units)).sum();
    assert_eq!(sum("buildings", "units") as u64, units);
    assert_eq!(sum("events", "count") as usize, events.len());
    let open = events.iter().filter(|e| e.status != "closed").count();
    assert_eq!(sum("events", "open") as usize, open);
    let located = index
        .enterprises
        .iter()
        .filter(|e| e.building.is_some())
        .count();
    assert_eq!(sum("enterprises", "count") as usize, located);
    for f in &d.layers["buildings"] {
        assert_eq!(prop(f, "cluster"), Some(&Value::Bool(true)));
    }

    // Areas: the right level per zoom, with names and counts from the index.
    for (z, level) in [(10u8, "township"), (12, "community"), (15, "grid")] {
        let t = densest_tile(&index, z);
        let (status, _, body) = get_tile(
            &app,
            &format!("/tiles/areas/{z}/{}/{}.mvt", t.x(), t.y()),
            &[],
        )
        .await;
        assert_eq!(status, 200);
        let d = decode(&body);
        for f in &d.layers["areas"] {
            assert_eq!(string(prop(f, "level")), level);
            let a = index.area(&string(prop(f, "code"))).expect("area exists");
            assert_eq!(string(prop(f, "name")), a.area.name);
        }
    }
}

/// Every property key of every layer, over tiles at every zoom from 8 to 16 across the
/// district, is one the catalog lists; none names a person or an identity document, and
/// no key-group count is served. `name` exists only on areas, roads and the basemap's
/// layers, and there its value is a place name from the store.
#[tokio::test]
async fn no_personal_fields_and_size_limits() {
    let (_tmp, state, app, _m) = loaded_app(0.03).await;
    let index = state.index().unwrap();
    let place_names: std::collections::HashSet<&str> = index
        .areas
        .iter()
        .map(|a| a.area.name.as_str())
        .chain(index.roads.iter().map(|r| r.name.as_str()))
        .chain(
            index
                .basemap
                .water
                .iter()
                .chain(&index.basemap.landuse)
                .chain(&index.basemap.pois)
                .filter_map(|f| f.name.as_deref()),
        )
        .collect();
    let (_, _, catalog) = get_tile(&app, "/tiles/catalog", &[]).await;
    let catalog: serde_json::Value = serde_json::from_slice(&catalog).unwrap();
    let mut allowed: HashMap<String, Vec<String>> = HashMap::new();
    let mut ids: Vec<String> = Vec::new();
    for l in catalog["layers"].as_array().unwrap() {
        let id = l["id"].as_str().unwrap().to_string();
        ids.push(id.clone());
        allowed.insert(
            id,
            l["fields"].as_object().unwrap().keys().cloned().collect(),
        );
    }
    // Every layer of the registry is in the catalog and is checked below.
    let registry: Vec<&str> = minqing_domain::tiles_service::layers::LAYERS
        .iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(ids, registry);
    for required in [
        "areas",
        "buildings",
        "enterprises",
        "events",
        "hotspots",
        "risk",
        "roads",
    ] {
        assert!(allowed.contains_key(required), "API.md requires {required}");
    }
    let forbidden = [
        "id_number",
        "idcard",
        "phone",
        "mobile",
        "tel",
        "key_group",
        "person",
        "resident_name",
        "owner",
        "contact",
    ];
    let bounds = district_bounds(&index);
    let all = ids.join(",");
    let mut checked = 0;
    let mut seen_layers = std::collections::HashSet::new();
    for z in 8..=16u8 {
        let range = TileRange::covering(&bounds, z).unwrap();
        let step = (range.len() / 40).max(1) as usize;
        for t in range.iter().step_by(step) {
            let (status, _, body) = get_tile(
                &app,
                &format!("/tiles/{all}/{z}/{}/{}.mvt", t.x(), t.y()),
                &[],
            )
            .await;
            if status == 204 {
                continue;
            }
            assert_eq!(status, 200);
            assert!(body.len() <= 500 * 1024, "tile {t} is {} bytes", body.len());
            let d = decode(&body);
            let total: usize = d.layers.values().map(Vec::len).sum();
            assert!(total <= 20_000, "tile {t} has {total} features");
            for (layer, feats) in &d.layers {
                seen_layers.insert(layer.clone());
                for f in feats {
                    for (k, v) in f.properties.iter().flatten() {
                        let kl = k.to_lowercase();
                        assert!(allowed[layer].contains(k), "{layer}.{k} not in the catalog");
                        assert!(!forbidden.iter().any(|p| kl.contains(p)), "{layer}.{k}");
                        if kl.contains("name") {
                            assert!(
                                ["areas", "roads", "water", "landuse", "pois"]
                                    .contains(&layer.as_str()),
                                "{layer}.{k}"
                            );
                            assert!(place_names.contains(string(Some(v)).as_str()));
                        }
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000, "checked only {checked} features");
    for id in &ids {
        assert!(seen_layers.contains(id), "no {id} feature was checked");
    }
}

#[tokio::test]
async fn http_behaviour_of_tiles() {
    let (_tmp, state, app, _m) = loaded_app(0.01).await;
    let index = state.index().unwrap();
    let t = densest_tile(&index, 14);
    let uri = format!("/tiles/buildings/14/{}/{}.mvt", t.x(), t.y());

    // ETag, Cache-Control, 304.
    let (status, h, body) = get_tile(&app, &uri, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(h["cache-control"], "public, max-age=60");
    let etag = h["etag"].to_str().unwrap().to_string();
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "strong ETag {etag}"
    );
    let (status, _, body304) = get_tile(&app, &uri, &[("if-none-match", &etag)]).await;
    assert_eq!(status, 304);
    assert!(body304.is_empty());
    let (status, _, _) = get_tile(&app, &uri, &[("if-none-match", "\"other\"")]).await;
    assert_eq!(status, 200);

    // gzip on request, same content.
    let (status, h, gz) = get_tile(&app, &uri, &[("accept-encoding", "gzip, br")]).await;
    assert_eq!(status, 200);
    assert_eq!(h["content-encoding"], "gzip");
    let gz_etag = h["etag"].to_str().unwrap().to_string();
    assert_eq!(gz_etag, format!("{}-gz\"", etag.trim_end_matches('"')));
    for tag in [&gz_etag, &etag] {
        let (status, h, _) = get_tile(
            &app,
            &uri,
            &[("if-none-match", tag), ("accept-encoding", "gzip")],
        )
        .await;
        assert_eq!(status, 304, "{tag}");
        assert_eq!(h["etag"].to_str().unwrap(), gz_etag);
    }
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
    assert_eq!(plain, body);
    let (_, h, _) = get_tile(&app, &uri, &[("accept-encoding", "gzip;q=0")]).await;
    assert!(h.get("content-encoding").is_none());

    // Errors and empty tiles.
    for (uri, code) in [
        ("/tiles/buildings/23/0/0.mvt", 400),
        ("/tiles/buildings/3/8/0.mvt", 400),
        ("/tiles/buildings/3/0/8.mvt", 400),
        ("/tiles/buildings/x/0/0.mvt", 400),
        ("/tiles/people/3/0/0.mvt", 404),
        ("/tiles/buildings,people/3/0/0.mvt", 404),
        ("/tiles/people.json", 404),
        ("/tiles/events/3/0/0.mvt?from=notadate", 400),
        ("/tiles/events/3/0/0.mvt?from=2024-02-01&to=2024-01-01", 400),
        ("/heatmap/23/0/0.png", 400),
        ("/heatmap/3/0/0.png?to=2024-02-30", 400),
        ("/tiles/buildings/14/0/0.mvt", 204),
        ("/tiles/buildings/0/0/0.mvt", 204), // below the layer's minzoom
        ("/tiles/events/0/0/0.mvt", 200),
    ] {
        let (status, _, body) = get_tile(&app, uri, &[]).await;
        assert_eq!(status, code, "{uri}: {}", String::from_utf8_lossy(&body));
        if code >= 400 {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert!(v["error"]["message"].as_str().unwrap().len() > 5, "{uri}");
        }
        if code == 204 {
            assert!(body.is_empty());
        }
    }

    // TileJSON 3.0.0.
    let (status, _, body) = get_tile(
        &app,
        "/tiles/buildings,events.json",
        &[("host", "example.test:9000")],
    )
    .await;
    assert_eq!(status, 200);
    let tj: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(tj["tilejson"], "3.0.0");
    assert_eq!(
        tj["tiles"][0],
        "http://example.test:9000/tiles/buildings,events/{z}/{x}/{y}.mvt"
    );
    assert!(tj["minzoom"].as_u64().unwrap() <= tj["maxzoom"].as_u64().unwrap());
    assert_eq!(tj["bounds"].as_array().unwrap().len(), 4);
    assert_eq!(tj["center"].as_array().unwrap().len(), 3);
    let ids: Vec<&str> = tj["vector_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["buildings", "events"]);
    assert!(tj["vector_layers"][0]["fields"].is_object());

    // Style: only our own URLs.
    let (status, _, body) = get_tile(&app, "/style.json", &[("host", "127.0.0.1:8080")]).await;
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    let style: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(style["version"], 8);
    for url in text.split('"').filter(|s| s.starts_with("http")) {
        assert!(
            url.starts_with("http://127.0.0.1:8080/"),
            "external URL {url}"
        );
    }
    let glyph = style["glyphs"]
        .as_str()
        .unwrap()
        .replace("http://127.0.0.1:8080", "")
        .replace("{fontstack}", "Noto%20Sans%20CJK%20SC%20Regular")
        .replace("{range}", "0-255");
    let (status, _, _) = get_tile(&app, &glyph, &[]).await;
    assert_eq!(status, 200);

    // Heat map: a 256×256 RGBA PNG, transparent far from events, coloured at the densest place.
    let e = state.events().events.clone();
    let mut counts: HashMap<TileId, usize> = HashMap::new();
    for ev in &e {
        *counts
            .entry(TileId::from_lonlat(ev.lon, ev.lat, 13).unwrap())
            .or_default() += 1;
    }
    let t = counts.into_iter().max_by_key(|(t, n)| (*n, *t)).unwrap().0;
    let (status, h, body) =
        get_tile(&app, &format!("/heatmap/13/{}/{}.png", t.x(), t.y()), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(h["content-type"], "image/png");
    let img = image::load_from_memory(&body).unwrap();
    assert_eq!(img.color(), image::ColorType::Rgba8);
    let img = img.to_rgba8();
    assert_eq!(img.dimensions(), (256, 256));
    assert!(
        img.pixels().any(|p| p[3] > 0),
        "the densest tile shows density"
    );
    assert!(img.pixels().any(|p| p[3] == 0), "some area is transparent");
    let (status, _, body) = get_tile(&app, "/heatmap/13/0/0.png", &[]).await;
    assert_eq!(status, 200);
    let img = image::load_from_memory(&body).unwrap().to_rgba8();
    assert_eq!(img.dimensions(), (256, 256));
    assert!(img.pixels().all(|p| p[3] == 0), "empty tile is transparent");
}

#[tokio::test]
async fn new_event_invalidates_exactly_the_tiles_it_touches() {
    let (_tmp, state, app, _m) = loaded_app(0.01).await;
    // Event points (with codes) are drawn for callers who may see the events.
    let app = as_leader(&state, app).await;
    let index = state.index().unwrap();
    let hub = densest_tile(&index, 15);
    let b = index
        .buildings
        .iter()
        .find(|b| TileId::from_lonlat(b.lon, b.lat, 15).unwrap() == hub)
        .unwrap()
        .clone();
    // A tile far away (a corner of the district) whose ETag must survive.
    let bounds = district_bounds(&index);
    let far = TileId::from_lonlat(bounds.west, bounds.south, 15).unwrap();
    assert_ne!(far, hub);
    let far_uri = format!("/tiles/buildings,events/15/{}/{}.mvt", far.x(), far.y());
    let (far_status, far_h, _) = get_tile(&app, &far_uri, &[]).await;
    let far_etag = far_h.get("etag").map(|v| v.to_str().unwrap().to_string());

    // Cache every zoom's tile containing the new point, then add the event.
    let mut before: HashMap<u8, (u16, usize, Option<String>)> = HashMap::new();
    for z in [8u8, 11, 13, 14, 15, 16] {
        let t = TileId::from_lonlat(b.lon, b.lat, z).unwrap();
        let (status, h, body) = get_tile(
            &app,
            &format!("/tiles/events/{z}/{}/{}.mvt", t.x(), t.y()),
            &[],
        )
        .await;
        let count = if status == 200 {
            decode(&body).layers["events"]
                .iter()
                .map(|f| prop(f, "count").map_or(1.0, |v| num(Some(v))))
                .sum::<f64>() as usize
        } else {
            0
        };
        before.insert(
            z,
            (
                status,
                count,
                h.get("etag").map(|v| v.to_str().unwrap().to_string()),
            ),
        );
    }
    let template = state.events().events[0].clone();
    let event = Event {
        code: "EV-TILES-TEST-0001".into(),
        lon: b.lon,
        lat: b.lat,
        status: "reported".into(),
        ..template
    };
    add_event(&state, &event);
    for z in [8u8, 11, 13, 14, 15, 16] {
        let t = TileId::from_lonlat(b.lon, b.lat, z).unwrap();
        let (status, h, body) = get_tile(
            &app,
            &format!("/tiles/events/{z}/{}/{}.mvt", t.x(), t.y()),
            &[],
        )
        .await;
        assert_eq!(status, 200, "z{z}");
        let d = decode(&body);
        let feats = &d.layers["events"];
        let count = feats
            .iter()
            .map(|f| prop(f, "count").map_or(1.0, |v| num(Some(v))))
            .sum::<f64>() as usize;
        assert_eq!(count, before[&z].1 + 1, "z{z} shows one more event");
        assert_ne!(
            h.get("etag").map(|v| v.to_str().unwrap().to_string()),
            before[&z].2
        );
        if z >= 14 {
            assert!(
                feats
                    .iter()
                    .any(|f| prop(f, "code") == Some(&Value::String("EV-TILES-TEST-0001".into())))
            );
        }
    }
    // The far tile was not touched: same status and ETag (served from the cache).
    let (status, h, _) = get_tile(&app, &far_uri, &[]).await;
    assert_eq!(status, far_status);
    assert_eq!(
        h.get("etag").map(|v| v.to_str().unwrap().to_string()),
        far_etag
    );
    assert!(state.tiles.cache_len() > 0);

    // Moving the event: the old tile loses it, the new one gains it.
    let far_b = index
        .buildings
        .iter()
        .find(|x| {
            TileId::from_lonlat(x.lon, x.lat, 16).unwrap()
                != TileId::from_lonlat(b.lon, b.lat, 16).unwrap()
                && (x.lon - b.lon).abs() > 0.01
        })
        .unwrap();
    let moved = Event {
        lon: far_b.lon,
        lat: far_b.lat,
        ..event.clone()
    };
    state.events_mut().upsert(moved.clone());
    state.publish(Change::Event {
        code: moved.code.clone(),
        lon: moved.lon,
        lat: moved.lat,
        before: Some((event.lon, event.lat)),
    });
    let has = |body: &[u8]| {
        !body.is_empty()
            && decode(body).layers.get("events").is_some_and(|fs| {
                fs.iter()
                    .any(|f| prop(f, "code") == Some(&Value::String("EV-TILES-TEST-0001".into())))
            })
    };
    let old_t = TileId::from_lonlat(b.lon, b.lat, 16).unwrap();
    let new_t = TileId::from_lonlat(far_b.lon, far_b.lat, 16).unwrap();
    let (_, _, body) = get_tile(
        &app,
        &format!("/tiles/events/16/{}/{}.mvt", old_t.x(), old_t.y()),
        &[],
    )
    .await;
    assert!(!has(&body), "old tile no longer shows the moved event");
    let (_, _, body) = get_tile(
        &app,
        &format!("/tiles/events/16/{}/{}.mvt", new_t.x(), new_t.y()),
        &[],
    )
    .await;
    assert!(has(&body), "new tile shows the moved event");
}

/// Equal up to JSON's decimal round trip.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

fn api_json(status: u16, body: &[u8]) -> serde_json::Value {
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(body));
    serde_json::from_slice(body).expect("JSON")
}

/// The exterior ring of a decoded polygon feature (the first polygon of a multipolygon).
fn exterior(f: &mvt_reader::feature::Feature<f32>) -> Vec<(f64, f64)> {
    let ring = match &f.geometry {
        geo_types::Geometry::Polygon(p) => p.exterior().clone(),
        geo_types::Geometry::MultiPolygon(mp) => mp.0[0].exterior().clone(),
        g => panic!("not a polygon: {g:?}"),
    };
    ring.0
        .iter()
        .map(|c| (f64::from(c.x), f64::from(c.y)))
        .collect()
}

/// Bring the `hotspots`/`risk` feed up to the current events, as the background rebuild
/// that the next tile request starts would.
fn settle_analysis_layers(state: &minqing_domain::App) {
    let prepared = state.tiles.prepared().expect("tiles prepared");
    minqing_domain::tiles_service::analysis_layers::rebuild(state, &prepared)
        .expect("rebuild the analysis tile feed");
}

/// The `hotspots` and `risk` layers carry exactly what the analysis endpoints answer:
/// the same H3 cells with the same count, gi_z, p and class, at the cells' positions;
/// the same grid and building scores and tiers. A new event refreshes them.
#[tokio::test]
async fn hotspot_and_risk_layers_match_the_analysis_endpoints() {
    use h3o::{CellIndex, LatLng};
    let (_tmp, state, app, _m) = loaded_app(0.03).await;
    let index = state.index().unwrap();
    // A leader may see every aggregate, whatever the tile access rules are.
    let auth =
        crate::support::bearer(&state, &app, minqing_domain::auth::Role::Leader, &[], None).await;
    let h = [("authorization", auth.as_str())];
    // The reception desk reads every event but has no key-group rights: its building
    // scores are the public ones the risk tiles carry.
    let reception = crate::support::bearer(
        &state,
        &app,
        minqing_domain::auth::Role::Reception,
        &[],
        None,
    )
    .await;
    let r = [("authorization", reception.as_str())];

    // --- hotspots ---
    let (status, _, body) = get_tile(&app, "/api/v1/analysis/hotspots", &h).await;
    let api = api_json(status, &body);
    let cells: HashMap<String, &serde_json::Value> = api["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["cell"].as_str().unwrap().to_string(), c))
        .collect();
    assert!(cells.len() > 50);
    let hottest = api["cells"]
        .as_array()
        .unwrap()
        .iter()
        .max_by(|a, b| {
            a["gi_z"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["gi_z"].as_f64().unwrap())
        })
        .unwrap();
    assert!(hottest["class"].as_str().unwrap().starts_with("hot"));
    let hot_cell: CellIndex = hottest["cell"].as_str().unwrap().parse().unwrap();
    let centre = LatLng::from(hot_cell);
    let boundary = |c: &str| -> Vec<(f64, f64)> {
        let cell: CellIndex = c.parse().unwrap();
        cell.boundary().iter().map(|v| (v.lng(), v.lat())).collect()
    };
    let hot_tile = |z: u8| TileId::from_lonlat(centre.lng(), centre.lat(), z).unwrap();
    for z in [8u8, 11, 13, 15] {
        let t = hot_tile(z);
        let (status, _, body) = get_tile(
            &app,
            &format!("/tiles/hotspots/{z}/{}/{}.mvt", t.x(), t.y()),
            &h,
        )
        .await;
        assert_eq!(status, 200, "z{z}");
        let d = decode(&body);
        let feats = &d.layers["hotspots"];
        let mut seen = std::collections::HashSet::new();
        for f in feats {
            let cell = string(prop(f, "cell"));
            let c = cells
                .get(&cell)
                .unwrap_or_else(|| panic!("{cell} not in the API"));
            // A count of 1–4 is left out of the tile (the disclosure layer).
            let count = c["count"].as_f64().unwrap();
            if count > 0.0 && count < 5.0 {
                assert!(prop(f, "count").is_none(), "{cell}");
            } else {
                assert_eq!(num(prop(f, "count")), count, "{cell}");
            }
            assert!(
                close(num(prop(f, "gi_z")), c["gi_z"].as_f64().unwrap()),
                "{cell}"
            );
            assert!(close(num(prop(f, "p")), c["p"].as_f64().unwrap()), "{cell}");
            assert_eq!(
                string(prop(f, "class")),
                c["class"].as_str().unwrap(),
                "{cell}"
            );
            assert!(seen.insert(cell.clone()), "{cell} twice");
            // A cell wholly inside the tile has its six vertices where H3 puts them.
            let b = boundary(&cell);
            let inside = b.iter().all(|&(lon, lat)| {
                let (x, y) = tile_xy(lon, lat, t);
                (0.0..=4096.0).contains(&x) && (0.0..=4096.0).contains(&y)
            });
            if inside && z >= 11 {
                let ring = exterior(f);
                for &(lon, lat) in &b {
                    let (ex, ey) = tile_xy(lon, lat, t);
                    assert!(
                        ring.iter()
                            .any(|&(x, y)| (x - ex).abs() <= 1.0 && (y - ey).abs() <= 1.0),
                        "vertex of {cell} at z{z}"
                    );
                }
            }
        }
        // Brute force: every cell with a vertex inside the buffered tile is there, and
        // none whose vertices all lie well outside it.
        for cell in cells.keys() {
            let pts: Vec<(f64, f64)> = boundary(cell)
                .iter()
                .map(|&(lon, lat)| tile_xy(lon, lat, t))
                .collect();
            let within = |m: f64| {
                pts.iter().any(|&(x, y)| {
                    x >= -BUFFER + m
                        && x <= 4096.0 + BUFFER - m
                        && y >= -BUFFER + m
                        && y <= 4096.0 + BUFFER - m
                })
            };
            let (x0, x1) = pts
                .iter()
                .fold((f64::MAX, f64::MIN), |a, p| (a.0.min(p.0), a.1.max(p.0)));
            let (y0, y1) = pts
                .iter()
                .fold((f64::MAX, f64::MIN), |a, p| (a.0.min(p.1), a.1.max(p.1)));
            let bbox_far = x1 < -BUFFER - 2.0
                || x0 > 4096.0 + BUFFER + 2.0
                || y1 < -BUFFER - 2.0
                || y0 > 4096.0 + BUFFER + 2.0;
            if within(3.0) {
                assert!(seen.contains(cell), "z{z}: {cell} missing");
            }
            if bbox_far {
                assert!(!seen.contains(cell), "z{z}: {cell} is outside");
            }
        }
        assert!(seen.contains(hottest["cell"].as_str().unwrap()), "z{z}");
    }

    // --- risk ---
    // Building points: only the medium and large tiers. At this scale there may be none,
    // so make one: twenty open, overdue petitions at the densest z16 tile's first building.
    let risky_building = |api: &serde_json::Value| -> HashMap<String, (f64, String)> {
        api["units"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["tier"] != "small")
            .map(|u| {
                (
                    u["code"].as_str().unwrap().to_string(),
                    (
                        u["score"].as_f64().unwrap(),
                        u["tier"].as_str().unwrap().to_string(),
                    ),
                )
            })
            .collect()
    };
    let hub = densest_tile(&index, 16);
    let target = index
        .buildings
        .iter()
        .find(|b| TileId::from_lonlat(b.lon, b.lat, 16).unwrap() == hub)
        .unwrap()
        .clone();
    let (status, _, body) =
        get_tile(&app, "/api/v1/analysis/risk?level=building&limit=5000", &r).await;
    assert!(!risky_building(&api_json(status, &body)).contains_key(&target.code));
    let template = state.events().events[0].clone();
    let latest = state
        .events()
        .events
        .iter()
        .map(|e| e.reported_at)
        .max()
        .unwrap();
    for i in 0..20 {
        let e = Event {
            code: format!("EV-RISK-TILE-{i:04}"),
            category: "petition".into(),
            status: "reported".into(),
            lon: target.lon,
            lat: target.lat,
            address_code: Some(target.code.clone()),
            reported_at: latest,
            deadline: latest + 1,
            closed_at: None,
            ..template.clone()
        };
        add_event(&state, &e);
    }
    // Tile requests keep the previous results while a background rebuild runs (the
    // hotspot part below checks that path); here the rebuild is done at once. The risk
    // layer is shared by every caller, so it carries the public scores (without the
    // key-group factor): the anonymous answer of the risk endpoint.
    settle_analysis_layers(&state);
    let (status, _, body) =
        get_tile(&app, "/api/v1/analysis/risk?level=grid&limit=5000", &[]).await;
    let grid_risk: HashMap<String, (f64, String)> = api_json(status, &body)["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["code"].as_str().unwrap().to_string(),
                (
                    u["score"].as_f64().unwrap(),
                    u["tier"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect();
    let (status, _, body) =
        get_tile(&app, "/api/v1/analysis/risk?level=building&limit=5000", &r).await;
    let risky = risky_building(&api_json(status, &body));
    assert!(
        risky.contains_key(&target.code),
        "twenty petitions make a risky building"
    );
    let mut building_points = 0;
    for z in [8u8, 10, 12, 14, 15, 16] {
        let t = TileId::from_lonlat(target.lon, target.lat, z).unwrap();
        let (status, _, body) = get_tile(
            &app,
            &format!("/tiles/risk,areas/{z}/{}/{}.mvt", t.x(), t.y()),
            &h,
        )
        .await;
        assert_eq!(status, 200);
        let d = decode(&body);
        let feats = &d.layers["risk"];
        let mut grids = std::collections::HashSet::new();
        let mut points = std::collections::HashSet::new();
        for f in feats {
            let code = string(prop(f, "code"));
            let level = string(prop(f, "level"));
            let (score, tier) = if level == "grid" {
                assert!(matches!(
                    f.geometry,
                    geo_types::Geometry::Polygon(_) | geo_types::Geometry::MultiPolygon(_)
                ));
                grids.insert(code.clone());
                grid_risk
                    .get(&code)
                    .unwrap_or_else(|| panic!("grid {code}"))
            } else {
                assert_eq!(level, "building");
                assert!(z >= 14, "building points from z14");
                let b = index.buildings.iter().find(|b| b.code == code).unwrap();
                let (x, y) = point(f);
                let (ex, ey) = tile_xy(b.lon, b.lat, t);
                assert!((x - ex).abs() <= 1.0 && (y - ey).abs() <= 1.0, "{code}");
                points.insert(code.clone());
                risky
                    .get(&code)
                    .unwrap_or_else(|| panic!("building {code} is not medium/large"))
            };
            assert!(close(num(prop(f, "score")), *score), "{code}");
            assert_eq!(&string(prop(f, "tier")), tier, "{code}");
        }
        assert!(!grids.is_empty(), "z{z}");
        let target_grid = &index.areas[target.grid.unwrap() as usize].area.code;
        assert!(grids.contains(target_grid), "z{z}");
        if z >= 14 {
            // The same grids as the areas layer draws at this zoom.
            let areas: std::collections::HashSet<String> = d.layers["areas"]
                .iter()
                .map(|f| string(prop(f, "code")))
                .collect();
            assert_eq!(grids, areas, "z{z}");
            let expected: std::collections::HashSet<String> = index
                .buildings
                .iter()
                .filter(|b| risky.contains_key(&b.code) && in_buffered(b.lon, b.lat, t))
                .map(|b| b.code.clone())
                .collect();
            assert_eq!(points, expected, "z{z}: medium and large buildings");
            assert!(points.contains(&target.code), "z{z}");
            building_points += points.len();
        }
    }
    assert!(building_points >= 3);

    // One building's score is detail about its events and people: anonymous callers
    // (and the large screen) get the grids only, from the endpoint and on the tiles.
    let (status, _, _) =
        get_tile(&app, "/api/v1/analysis/risk?level=building&limit=5000", &[]).await;
    assert_eq!(status, 401, "anonymous building risk");
    let screen =
        crate::support::bearer(&state, &app, minqing_domain::auth::Role::Screen, &[], None).await;
    let (status, _, _) = get_tile(
        &app,
        "/api/v1/analysis/risk?level=building&limit=5000",
        &[("authorization", screen.as_str())],
    )
    .await;
    assert_eq!(status, 403, "the large screen's building risk");
    let t = TileId::from_lonlat(target.lon, target.lat, 16).unwrap();
    let uri = format!("/tiles/risk/16/{}/{}.mvt", t.x(), t.y());
    for headers in [&[][..], &[("authorization", screen.as_str())][..]] {
        let (status, _, body) = get_tile(&app, &uri, headers).await;
        assert_eq!(status, 200);
        let d = decode(&body);
        let levels: Vec<String> = d.layers["risk"]
            .iter()
            .map(|f| string(prop(f, "level")))
            .collect();
        assert!(levels.iter().any(|l| l == "grid"), "{levels:?}");
        assert!(
            levels.iter().all(|l| l == "grid"),
            "no building point reaches a caller without the right: {levels:?}"
        );
    }
    // A grid worker sees the points of its own grids only.
    let target_grid = index.areas[target.grid.unwrap() as usize].area.code.clone();
    let other_grid = index
        .areas
        .iter()
        .find(|a| {
            a.area.level == minqing_domain::model::AreaLevel::Grid && a.area.code != target_grid
        })
        .unwrap()
        .area
        .code
        .clone();
    for (grid, sees) in [(target_grid.clone(), true), (other_grid, false)] {
        let worker = crate::support::bearer(
            &state,
            &app,
            minqing_domain::auth::Role::GridWorker,
            std::slice::from_ref(&grid),
            None,
        )
        .await;
        let wh = [("authorization", worker.as_str())];
        let (status, _, body) =
            get_tile(&app, "/api/v1/analysis/risk?level=building&limit=5000", &wh).await;
        let api = api_json(status, &body);
        let units = api["units"].as_array().unwrap();
        assert!(units.iter().all(|u| u["grid"] == grid.as_str()), "{grid}");
        assert_eq!(
            units.iter().any(|u| u["code"] == target.code.as_str()),
            sees
        );
        let (_, _, body) = get_tile(&app, &uri, &wh).await;
        let d = decode(&body);
        let point = d.layers["risk"]
            .iter()
            .any(|f| string(prop(f, "code")) == target.code);
        assert_eq!(point, sees, "grid worker of {grid}");
    }

    // --- a new event refreshes the layer (Gi* is global: the whole layer is redrawn) ---
    let t = hot_tile(13);
    let uri = format!("/tiles/hotspots/13/{}/{}.mvt", t.x(), t.y());
    let hot_count = |body: &[u8]| -> f64 {
        let d = decode(body);
        let f = d.layers["hotspots"]
            .iter()
            .find(|f| string(prop(f, "cell")) == hottest["cell"].as_str().unwrap())
            .unwrap();
        num(prop(f, "count"))
    };
    let (_, before_h, before_body) = get_tile(&app, &uri, &h).await;
    let (status, again_h, _) = get_tile(&app, &uri, &h).await;
    assert_eq!(status, 200);
    assert_eq!(before_h["etag"], again_h["etag"], "cached");
    let event = Event {
        code: "EV-HOTSPOT-TILE-0001".into(),
        lon: centre.lng(),
        lat: centre.lat(),
        ..template
    };
    add_event(&state, &event);
    // The layer is rebuilt in the background (requests meanwhile get the previous
    // results), so ask until the new results arrive; a rebuild takes milliseconds here.
    let mut after = None;
    for _ in 0..1000 {
        let (status, after_h, body) = get_tile(&app, &uri, &h).await;
        assert_eq!(status, 200);
        if after_h["etag"] != before_h["etag"] {
            after = Some(body);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let body = after.expect("the hotspots tile never showed the new event");
    assert_eq!(hot_count(&body), hot_count(&before_body) + 1.0);
    let d = decode(&body);
    let f = d.layers["hotspots"]
        .iter()
        .find(|f| string(prop(f, "cell")) == hottest["cell"].as_str().unwrap())
        .unwrap();
    let (status, _, body) = get_tile(&app, "/api/v1/analysis/hotspots", &h).await;
    let api = api_json(status, &body);
    let now = api["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cell"] == hottest["cell"])
        .unwrap();
    assert_eq!(num(prop(f, "count")), now["count"].as_f64().unwrap());
    assert!(close(num(prop(f, "gi_z")), now["gi_z"].as_f64().unwrap()));
}

/// The features of one layer of a tile (none for an empty tile), for other modules.
pub(crate) fn decode_layer(bytes: &[u8], layer: &str) -> Vec<mvt_reader::feature::Feature<f32>> {
    if bytes.is_empty() {
        return Vec::new();
    }
    decode(bytes).layers.remove(layer).unwrap_or_default()
}

pub(crate) fn prop_of<'a>(f: &'a mvt_reader::feature::Feature<f32>, k: &str) -> Option<&'a Value> {
    prop(f, k)
}

pub(crate) fn num_value(v: &Value) -> f64 {
    num(Some(v))
}

pub(crate) fn num_prop(f: &mvt_reader::feature::Feature<f32>, k: &str) -> f64 {
    num(prop(f, k))
}

pub(crate) fn point_of(f: &mvt_reader::feature::Feature<f32>) -> (f64, f64) {
    point(f)
}
