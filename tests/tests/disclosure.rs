//! The disclosure layer under attack (issue 21), on both stores: what a caller without
//! personal-data rights computes from cleverly combined questions must not be the truth
//! (or the question is refused). Score inversion is covered by
//! `analysis::risk_scores_leave_the_withheld_factor_out_entirely`.
//!
//! Also the guard against bypasses: every GET operation of the OpenAPI document and
//! every tile layer of the catalog, called anonymously on a demo district, is checked
//! against the rule (no count 1–4, events only at public cell centres and days, no
//! person fields).

use crate::support::{as_leader, bearer, call, district, get, postgis_store, sqlite_store};
use minqing_domain::auth::Role;
use minqing_domain::disclosure::{NOT_COUNTS, public_cell, public_cell_centre};
use minqing_domain::model::AreaLevel;
use minqing_domain::{App, index::Index};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

/// A generated district imported into the embedded store or a fresh PostGIS database.
async fn app_on(pg: bool, scale: f64) -> (tempfile::TempDir, App, axum::Router) {
    let (tmp, dir, _m) = district(scale);
    let store = if pg {
        postgis_store().await
    } else {
        sqlite_store(tmp.path()).await
    };
    minqing_domain::import::import_dir(&store, &dir, &|_| {})
        .await
        .expect("import");
    let state = App::new(store.clone());
    state.set_index(minqing_domain::load_index(&store).await.expect("load"));
    let router = minqing_server::http::app(state.clone());
    (tmp, state, router)
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

async fn get_json(router: &axum::Router, uri: &str) -> (u16, Value) {
    let (status, body) = get(router, uri).await;
    let v = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, v)
}

async fn polygon(router: &axum::Router, geometry: &Value) -> (u16, Value) {
    let (status, _, bytes) = call(
        router,
        "POST",
        "/api/v1/analysis/population",
        &[("content-type", "application/geo+json")],
        geometry.to_string().into_bytes(),
    )
    .await;
    (status, json_of(&bytes))
}

fn ring(lon: f64, lat: f64, half: f64) -> Vec<[f64; 2]> {
    vec![
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
}

fn square(lon: f64, lat: f64, half: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [ring(lon, lat, half)]})
}

/// The polygons of an area as GeoJSON MultiPolygon coordinates.
fn area_polygons(ix: &Index, area: usize) -> Vec<Value> {
    match geojson::Value::from(&ix.areas[area].area.geometry) {
        geojson::Value::MultiPolygon(polys) => polys
            .into_iter()
            .map(|p| serde_json::to_value(p).unwrap())
            .collect(),
        geojson::Value::Polygon(p) => vec![serde_json::to_value(p).unwrap()],
        other => panic!("an area is not a polygon: {other:?}"),
    }
}

fn multipolygon(polys: Vec<Value>) -> Value {
    json!({"type": "MultiPolygon", "coordinates": polys})
}

/// The counters of a population answer an attacker would subtract.
fn counters(v: &Value) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for k in [
        "residents",
        "males",
        "females",
        "registered",
        "floating",
        "elderly",
        "elderly_alone",
        "unknown_age",
    ] {
        out.push((
            k.to_string(),
            v[k].as_u64().unwrap_or_else(|| panic!("{k}: {v}")),
        ));
    }
    for (band, n) in v["age_bands"].as_object().unwrap() {
        out.push((format!("age {band}"), n.as_u64().unwrap()));
    }
    out
}

fn assert_no_small_counts(v: &Value, what: &str) {
    for (k, n) in counters(v) {
        assert!(n == 0 || n >= 5, "{what}: {k} = {n}");
    }
}

/// Buildings with residents in grids of at least three buildings (a lone building
/// would be its grid), in a stable order.
fn populated(ix: &Index) -> Vec<usize> {
    let mut per_grid: HashMap<u32, usize> = HashMap::new();
    for b in &ix.buildings {
        if let Some(g) = b.grid {
            *per_grid.entry(g).or_default() += 1;
        }
    }
    (0..ix.buildings.len())
        .filter(|&b| {
            let x = &ix.buildings[b];
            x.residents > 0 && x.grid.is_some_and(|g| per_grid[&g] >= 3)
        })
        .collect()
}

fn community_of(ix: &Index, b: usize) -> usize {
    let g = ix.buildings[b].grid.unwrap() as usize;
    ix.areas[g].parent.unwrap() as usize
}

/// A tiny polygon round one building: refused for the public; exact (and audited) for
/// a leader, which shows the attack would work without the layer.
async fn tiny_polygon(state: &App, anon: &axum::Router, leader: &axum::Router, admin: &str) {
    let ix = state.index().unwrap();
    let b = populated(&ix)[0];
    let building = &ix.buildings[b];
    let tiny = square(building.lon, building.lat, 0.00005);
    let (status, v) = polygon(anon, &tiny).await;
    assert_eq!(status, 422, "{v}");
    assert!(v.to_string().contains("whole grid"), "{v}");
    let inside: u32 = ix
        .buildings_in(
            [building.lon - 0.00005, building.lat - 0.00005],
            [building.lon + 0.00005, building.lat + 0.00005],
        )
        .map(|x| x.residents)
        .sum();
    let (status, v) = polygon(leader, &tiny).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["figures"], "exact");
    assert_eq!(v["residents"].as_u64().unwrap(), u64::from(inside));
    let (status, log) = get_json(
        &crate::support::acting_as(anon.clone(), admin.to_string()),
        "/api/v1/audit?action=read_aggregate",
    )
    .await;
    assert_eq!(status, 200, "{log}");
    assert!(
        log.to_string().contains("population:polygon"),
        "exact read not audited: {log}"
    );
}

/// Differencing pairs and chains: polygons that differ by one building (added outside,
/// or cut out inside) give the same protected answer, so the difference is zero — not
/// that building's figures, which the leader's exact answers do show.
async fn differencing(state: &App, anon: &axum::Router, leader: &axum::Router) {
    let ix = state.index().unwrap();
    let pop = populated(&ix);
    let b = pop[pop.len() / 2];
    let community = community_of(&ix, b);
    let base = area_polygons(&ix, community);
    // Buildings outside the community, each alone in a tiny square.
    let outside: Vec<usize> = pop
        .iter()
        .copied()
        .filter(|&x| community_of(&ix, x) != community)
        .take(4)
        .collect();
    assert_eq!(outside.len(), 4, "the district needs two communities");
    let (status, first) = polygon(anon, &multipolygon(base.clone())).await;
    assert_eq!(status, 200, "{first}");
    assert_no_small_counts(&first, "community polygon");
    let mut previous = first.clone();
    let mut chain = base.clone();
    for &x in &outside {
        let bx = &ix.buildings[x];
        chain.push(json!([ring(bx.lon, bx.lat, 0.00005)]));
        let (status, next) = polygon(anon, &multipolygon(chain.clone())).await;
        assert_eq!(status, 200, "{next}");
        // The attacker's difference is zero for every counter: not the building.
        for ((k, a), (_, p)) in counters(&next).into_iter().zip(counters(&previous)) {
            assert_eq!(a, p, "{k}: the chain step moved the answer");
        }
        assert_ne!(
            next["residents"].as_u64().unwrap() - previous["residents"].as_u64().unwrap(),
            u64::from(bx.residents),
            "the difference gave the building's residents"
        );
        previous = next;
    }
    // The pair that differs by one building inside: cut a hole round `b`.
    let hb = &ix.buildings[b];
    let hole = ring(hb.lon, hb.lat, 0.00005);
    let holed: Vec<Value> = base
        .iter()
        .map(|p| {
            let mut p = p.clone();
            p.as_array_mut().unwrap().push(json!(hole.clone()));
            p
        })
        .collect();
    let (status, cut) = polygon(anon, &multipolygon(holed.clone())).await;
    assert_eq!(status, 200, "{cut}");
    for ((k, a), (_, p)) in counters(&cut).into_iter().zip(counters(&first)) {
        assert_eq!(a, p, "{k}: cutting one building out moved the answer");
    }
    // Without the layer the same pair gives the building away exactly.
    let (_, exact_all) = polygon(leader, &multipolygon(base)).await;
    let (_, exact_cut) = polygon(leader, &multipolygon(holed)).await;
    assert_eq!(
        exact_all["residents"].as_u64().unwrap() - exact_cut["residents"].as_u64().unwrap(),
        u64::from(hb.residents),
        "the exact path should show the attack's target"
    );
}

/// Repeated queries and other phrasings of the same question give the same answer, so
/// averaging gains nothing; the answers differ from the truth by the table's noise and
/// never show 1–4.
async fn averaging(state: &App, anon: &axum::Router, leader: &axum::Router) {
    let ix = state.index().unwrap();
    let grids: Vec<usize> = (0..ix.areas.len())
        .filter(|&a| ix.areas[a].area.level == AreaLevel::Grid)
        .collect();
    let mut differs = 0;
    let mut compared = 0;
    for &g in &grids {
        let code = &ix.areas[g].area.code;
        let uri = format!("/api/v1/analysis/population?area={code}");
        let (status, once) = get(anon, &uri).await;
        assert_eq!(status, 200, "{once}");
        for _ in 0..5 {
            assert_eq!(
                get(anon, &uri).await.1,
                once,
                "asking again changed the answer"
            );
        }
        let once: Value = serde_json::from_str(&once).unwrap();
        assert_no_small_counts(&once, code);
        let (_, exact) = get_json(leader, &uri).await;
        assert_eq!(exact["figures"], "exact");
        for ((k, p), (_, e)) in counters(&once).into_iter().zip(counters(&exact)) {
            compared += 1;
            if p != e {
                differs += 1;
            }
            if e >= 5 {
                assert!(p.abs_diff(e) <= 2, "{code} {k}: {p} vs {e}");
            }
        }
        // The grid asked as a drawn polygon: the very same figures.
        let (status, drawn) = polygon(anon, &multipolygon(area_polygons(&ix, g))).await;
        assert_eq!(status, 200, "{drawn}");
        assert_eq!(counters(&drawn), counters(&once), "{code} drawn");
    }
    // The average of any number of answers is the one answer, and that is not the
    // truth for a good share of the counters.
    assert!(
        differs * 5 > compared,
        "only {differs} of {compared} counters perturbed"
    );
}

/// Event cells sliced by day: no cell of 1–4 events, every cell at its public cell's
/// centre; finer time bounds are refused.
async fn event_time_slicing(state: &App, anon: &axum::Router) {
    let ix = state.index().unwrap();
    let _ = &ix;
    let z = 15u8;
    // The (tile, day) with the most events, and some single-event ones.
    let mut per: HashMap<(minqing_tiles::TileId, String), usize> = HashMap::new();
    for e in &state.events().events {
        let t = minqing_tiles::TileId::from_lonlat(e.lon, e.lat, z).unwrap();
        *per.entry((t, minqing_domain::time::format_date(e.reported_at)))
            .or_default() += 1;
    }
    let mut slices: Vec<_> = per.into_iter().collect();
    slices.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.1.cmp(&b.0.1)));
    let singles = slices.iter().filter(|s| s.1 < 5).take(5).cloned();
    let picked: Vec<_> = slices.iter().take(3).cloned().chain(singles).collect();
    assert!(picked.iter().any(|s| s.1 < 5), "no thin slice to attack");
    let cell = 512.0; // public cell side in z15 tile units
    for ((t, day), n) in picked {
        let uri = format!(
            "/tiles/events/{}/{}/{}.mvt?from={day}&to={day}",
            t.z(),
            t.x(),
            t.y()
        );
        let (status, _, bytes) = call(anon, "GET", &uri, &[], Vec::new()).await;
        assert!(status == 200 || status == 204, "{uri}: {status}");
        let features = crate::tiles::decode_layer(&bytes, "events");
        let mut shown = 0.0;
        for f in &features {
            let count = crate::tiles::num_prop(f, "count");
            assert!(count >= 5.0, "{uri}: a cell of {count}");
            assert!(crate::tiles::prop_of(f, "code").is_none(), "{uri}: a point");
            let (x, y) = crate::tiles::point_of(f);
            for c in [x, y] {
                assert_eq!(c.rem_euclid(cell), cell / 2.0, "{uri}: not a cell centre");
            }
            shown += count;
        }
        assert!(shown <= n as f64, "{uri}: {shown} of {n}");
    }
    for uri in [
        "/tiles/events/15/0/0.mvt?from=2025-01-01T00:00:00Z",
        "/api/v1/events?limit=0&from=2025-01-01T08:00:00%2B08:00",
        "/api/v1/analysis/hotspots?to=2025-01-01T00:00:00Z",
        "/open311/v2/requests.json?start_date=2025-01-01T00:00:00Z",
    ] {
        let (status, body) = get(anon, uri).await;
        assert_eq!(status, 400, "{uri}: {body}");
    }
}

/// Open311 joins: the public view places a request at its public cell's centre and
/// dates it by the day, so joining it to buildings gets no finer than (cell, day).
async fn open311_join(state: &App, anon: &axum::Router) {
    let events: HashMap<String, minqing_domain::model::Event> = state
        .events()
        .events
        .iter()
        .map(|e| (e.code.clone(), e.clone()))
        .collect();
    let last = events.values().map(|e| e.reported_at).max().unwrap();
    let end = minqing_domain::time::format_date(last);
    let start = minqing_domain::time::format_date(last - 60 * 86_400);
    let (status, list) = get_json(
        anon,
        &format!("/open311/v2/requests.json?start_date={start}&end_date={end}"),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap();
    assert!(!list.is_empty());
    let mut moved = 0;
    for r in list {
        let code = r["service_request_id"].as_str().unwrap();
        let e = &events[code];
        let (lon, lat) = public_cell_centre(e.lon, e.lat);
        assert_eq!(
            (r["long"].as_f64().unwrap(), r["lat"].as_f64().unwrap()),
            (lon, lat)
        );
        assert_eq!(public_cell(lon, lat), public_cell(e.lon, e.lat));
        if (lon - e.lon).abs() + (lat - e.lat).abs() > 1e-5 {
            moved += 1;
        }
        for k in [
            "requested_datetime",
            "updated_datetime",
            "expected_datetime",
        ] {
            let t = r[k].as_str().unwrap();
            assert_eq!(t.len(), 10, "{k} finer than a day: {t}");
        }
        assert!(r["address_id"].is_null() && r["address"].is_null());
    }
    assert!(
        moved * 10 >= list.len() * 9,
        "only {moved} of {} moved",
        list.len()
    );
}

/// Per-building, box and owner counts are refused; area counts never show 1–4, though
/// the truth has such counts.
async fn event_counts(state: &App, anon: &axum::Router, leader: &axum::Router) {
    let ix = state.index().unwrap();
    let e = state.events().events[0].clone();
    let building = e
        .address_code
        .as_deref()
        .and_then(|c| ix.building(c).map(|b| b.code.clone()))
        .unwrap_or_else(|| ix.buildings[0].code.clone());
    for uri in [
        format!("/api/v1/events?limit=0&building={building}"),
        format!(
            "/api/v1/events?limit=0&bbox={},{},{},{}",
            e.lon - 0.0001,
            e.lat - 0.0001,
            e.lon + 0.0001,
            e.lat + 0.0001
        ),
        "/api/v1/events?limit=0&owner=someone".to_string(),
    ] {
        let (status, body) = get(anon, &uri).await;
        assert_eq!(status, 403, "{uri}: {body}");
        let (status, body) = get(leader, &uri.replace("owner=someone", "status=accepted")).await;
        assert_eq!(status, 200, "{uri}: {body}");
    }
    let mut small_truths = 0;
    for a in ix
        .areas
        .iter()
        .filter(|a| a.area.level == AreaLevel::Grid)
        .take(40)
    {
        for category in minqing_domain::model::CATEGORIES.iter().take(4) {
            let uri = format!(
                "/api/v1/events?limit=0&grid={}&category={category}",
                a.area.code
            );
            let (_, truth) = get_json(leader, &uri).await;
            let (status, public) = get_json(anon, &uri).await;
            assert_eq!(status, 200, "{public}");
            let t = truth["total"].as_u64().unwrap();
            if (1..5).contains(&t) {
                small_truths += 1;
                assert!(public["total"].is_null(), "{uri}: {public}");
            } else {
                assert_eq!(public["total"].as_u64(), Some(t));
            }
        }
    }
    assert!(small_truths > 0, "no small count to protect");
}

async fn attacks(pg: bool) {
    let (_tmp, state, anon) = app_on(pg, 0.03).await;
    let leader = as_leader(&state, anon.clone()).await;
    let admin = bearer(&state, &anon, Role::Admin, &[], None).await;
    tiny_polygon(&state, &anon, &leader, &admin).await;
    differencing(&state, &anon, &leader).await;
    averaging(&state, &anon, &leader).await;
    event_time_slicing(&state, &anon).await;
    open311_join(&state, &anon).await;
    event_counts(&state, &anon, &leader).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn attacks_fail_on_the_embedded_store() {
    attacks(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn attacks_fail_on_postgis() {
    attacks(true).await;
}

/// Walk a JSON answer for the rule: no count 1–4 (any integer outside
/// [`NOT_COUNTS`]), no person fields, event positions at public cell centres.
fn check_answer(what: &str, v: &Value, key: Option<&str>, problems: &mut Vec<String>) {
    const PERSON: [&str; 6] = [
        "id_number",
        "phone",
        "birth_date",
        "household",
        "resident_id",
        "gender",
    ];
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if PERSON.contains(&k.as_str()) {
                    problems.push(format!("{what}: person field {k}"));
                }
                check_answer(what, x, Some(k), problems);
            }
            let pos = match (o.get("lon").or(o.get("long")), o.get("lat")) {
                (Some(a), Some(b)) => a.as_f64().zip(b.as_f64()),
                _ => None,
            };
            let eventish = o.contains_key("service_request_id")
                || (o.contains_key("status") && o.contains_key("category"));
            if let (Some((lon, lat)), true) = (pos, eventish)
                && public_cell_centre(lon, lat) != (lon, lat)
            {
                problems.push(format!(
                    "{what}: an event at {lon},{lat}, not a cell centre"
                ));
            }
        }
        Value::Array(a) => {
            for x in a {
                check_answer(what, x, key, problems);
            }
        }
        Value::Number(n) => {
            // Summaries of hot-spot classes and emerging patterns count H3 cells.
            let cells = key.is_some_and(|k| {
                k.ends_with("_hot_spot")
                    || k.ends_with("_cold_spot")
                    || k.starts_with("hot9")
                    || k.starts_with("cold9")
                    || k == "no_pattern"
                    || k == "not_significant"
            });
            if let Some(c) = n.as_u64()
                && (1..5).contains(&c)
                && !cells
                && !key.is_some_and(|k| NOT_COUNTS.contains(&k))
            {
                problems.push(format!("{what}: {} = {c}", key.unwrap_or("?")));
            }
        }
        _ => {}
    }
}

/// Every GET operation of the OpenAPI document that an anonymous caller may call, and
/// every tile layer of the catalog, answers within the rule, on both stores. A new
/// endpoint, export field or layer that bypasses the disclosure layer makes this fail.
#[tokio::test(flavor = "multi_thread")]
async fn nothing_anonymous_bypasses_the_disclosure_layer() {
    nothing_anonymous_bypasses(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_anonymous_bypasses_the_disclosure_layer_on_postgis() {
    nothing_anonymous_bypasses(true).await;
}

async fn nothing_anonymous_bypasses(pg: bool) {
    let (_tmp, state, anon) = app_on(pg, 0.03).await;
    let ix = state.index().unwrap();
    let (_, doc) = get_json(&anon, "/api/openapi.json").await;
    let mut problems = Vec::new();
    let mut answered = 0;
    // Path parameters filled with real values of the district.
    let grid = ix
        .areas
        .iter()
        .find(|a| a.area.level == AreaLevel::Grid)
        .unwrap()
        .area
        .code
        .clone();
    let event = state.events().events[0].code.clone();
    let building = ix.buildings[0].code.clone();
    let fill = |path: &str| -> String {
        path.replace("{code}", &event)
            .replace("{service_request_id}", &event)
            .replace("{building}", &building)
            .replace("{grid}", &grid)
            .replace("{service_code}", "dispute")
    };
    let mut queries: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    queries.insert(
        "/api/v1/analysis/risk",
        vec!["level=grid".into(), "level=building".into()],
    );
    queries.insert("/api/v1/areas", vec!["level=grid".into()]);
    queries.insert(
        "/api/v1/analysis/population",
        vec![String::new(), format!("area={grid}")],
    );
    queries.insert("/api/v1/analysis/housing", vec![format!("area={grid}")]);
    queries.insert("/api/v1/events", vec![format!("limit=0&grid={grid}")]);
    for (path, item) in doc["paths"].as_object().unwrap() {
        if item.get("get").is_none() || path.contains("{z}") || path.contains("stream") {
            continue;
        }
        // Any other parameter gets a value that exists nowhere (the answer is then a
        // refusal or a 404, which discloses nothing).
        let mut path = fill(path);
        while let (Some(a), Some(b)) = (path.find('{'), path.find('}')) {
            path.replace_range(a..=b, "1");
        }
        for q in queries
            .get(path.as_str())
            .cloned()
            .unwrap_or(vec![String::new()])
        {
            let uri = if q.is_empty() {
                path.clone()
            } else {
                format!("{path}?{q}")
            };
            let (status, _, bytes) = call(&anon, "GET", &uri, &[], Vec::new()).await;
            if status != 200 {
                continue; // refused: nothing disclosed
            }
            answered += 1;
            // The forces' endpoints report staff and patrols (teams, members, patrol
            // visits), not residents or events: outside this rule.
            if [
                "/api/v1/patrol",
                "/api/v1/grid-forces",
                "/api/v1/analysis/patrol-coverage",
            ]
            .iter()
            .any(|p| uri.starts_with(p))
            {
                continue;
            }
            if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
                check_answer(&uri, &v, None, &mut problems);
            }
        }
    }
    assert!(answered >= 10, "only {answered} operations answered");
    // The tile catalog: every numeric field about residents or events, at three zooms.
    let (_, catalog) = get_json(&anon, "/tiles/catalog").await;
    let district = ix
        .areas
        .iter()
        .position(|a| a.area.level == AreaLevel::District)
        .unwrap();
    let centre = {
        use geo::Centroid;
        ix.areas[district].area.geometry.centroid().unwrap()
    };
    for layer in catalog["layers"].as_array().unwrap() {
        let id = layer["id"].as_str().unwrap();
        let counted: Vec<String> = layer["fields"]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(_, d)| {
                        let d = d.as_str().unwrap_or_default();
                        d.starts_with("Number") && (d.contains("resident") || d.contains("event"))
                    })
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        for z in [11u8, 13, 15] {
            let t = minqing_tiles::TileId::from_lonlat(centre.x(), centre.y(), z).unwrap();
            let uri = format!("/tiles/{id}/{z}/{}/{}.mvt", t.x(), t.y());
            let (status, _, bytes) = call(&anon, "GET", &uri, &[], Vec::new()).await;
            assert!(status == 200 || status == 204, "{uri}: {status}");
            for f in crate::tiles::decode_layer(&bytes, id) {
                for k in &counted {
                    if let Some(v) = crate::tiles::prop_of(&f, k) {
                        let n = crate::tiles::num_value(v);
                        if n > 0.0 && n < 5.0 {
                            problems.push(format!("{uri}: {k} = {n}"));
                        }
                    }
                }
                if id == "events" && crate::tiles::prop_of(&f, "code").is_some() {
                    problems.push(format!("{uri}: an event point"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

async fn post_json(router: &axum::Router, uri: &str, auth: &str, body: Value) -> (u16, Value) {
    let (status, _, bytes) = call(
        router,
        "POST",
        uri,
        &[
            ("content-type", "application/json"),
            ("authorization", auth),
        ],
        body.to_string().into_bytes(),
    )
    .await;
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v)
}

async fn audit_actions(router: &axum::Router, admin: &str, action: &str) -> Vec<Value> {
    let (status, _, bytes) = call(
        router,
        "GET",
        &format!("/api/v1/audit?action={action}&limit=1000"),
        &[("authorization", admin)],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    let v = json_of(&bytes);
    let entries = v
        .get("entries")
        .or(v.get("items"))
        .cloned()
        .unwrap_or(v.clone());
    entries.as_array().cloned().unwrap_or_default()
}

/// Lookups are rate limited per account and every one (and the refusal) audited; the
/// review queue resolves queued records only, audited, and its reads are audited;
/// anonymous sign-in failures are aggregated in the audit.
async fn weak_spots(pg: bool) {
    let (_tmp, state, router) = app_on(pg, 0.03).await;
    let leader = bearer(&state, &router, Role::Leader, &[], None).await;
    let admin = bearer(&state, &router, Role::Admin, &[], None).await;

    // Lookups: 20 in the window, then 429 with Retry-After; all audited.
    let body = "11010519900101001";
    let id = format!(
        "{body}{}",
        minqing_domain::ids::id_check_char(body).unwrap()
    );
    for i in 0..20 {
        let (status, v) = post_json(
            &router,
            "/api/v1/residents/lookup",
            &leader,
            json!({"id_number": id}),
        )
        .await;
        assert_eq!(status, 404, "lookup {i}: {v}");
    }
    let (status, v) = post_json(
        &router,
        "/api/v1/residents/lookup",
        &leader,
        json!({"id_number": id}),
    )
    .await;
    assert_eq!(status, 429, "{v}");
    assert_eq!(audit_actions(&router, &admin, "lookup_id").await.len(), 20);
    assert_eq!(
        audit_actions(&router, &admin, "denied_lookup_id")
            .await
            .len(),
        1
    );
    // Another account is not held up by this one.
    let other = bearer(&state, &router, Role::Leader, &[], None).await;
    let (status, _) = post_json(
        &router,
        "/api/v1/residents/lookup",
        &other,
        json!({"id_number": id}),
    )
    .await;
    assert_eq!(status, 404);

    // The review queue: reading it is audited; a queued record resolves once, audited;
    // a record not in the queue (any more) is not relinked.
    // Put one resident in the queue (as an unmatched import would).
    let rid: String = {
        use minqing_domain::store::Store;
        let sql_id = "SELECT id FROM residents ORDER BY id LIMIT 1";
        let sql_q = "UPDATE residents SET link = 'unmatched', address_code = NULL WHERE id = $1";
        match &state.store {
            Store::Sqlite(p) => {
                let id: String = sqlx::query_scalar(sql_id).fetch_one(p).await.unwrap();
                sqlx::query(sql_q).bind(&id).execute(p).await.unwrap();
                id
            }
            Store::Postgres(p) => {
                let id: String = sqlx::query_scalar(sql_id).fetch_one(p).await.unwrap();
                sqlx::query(sql_q).bind(&id).execute(p).await.unwrap();
                id
            }
        }
    };
    let (status, _, bytes) = call(
        &router,
        "GET",
        "/api/v1/review?kind=residents&status=unmatched&limit=200",
        &[("authorization", &leader)],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&bytes).contains(&rid));
    assert_eq!(audit_actions(&router, &admin, "read_review").await.len(), 1);
    let kind = "residents";
    let code = state.index().unwrap().buildings[0].code.clone();
    let uri = format!("/api/v1/review/{kind}/{rid}");
    let (status, v) = post_json(&router, &uri, &leader, json!({"code": code})).await;
    assert_eq!(status, 200, "{v}");
    let resolved = audit_actions(&router, &admin, "resolve_link").await;
    assert_eq!(resolved.len(), 1);
    assert!(resolved[0].to_string().contains(&rid));
    let (status, v) = post_json(&router, &uri, &leader, json!({"code": code})).await;
    assert_eq!(status, 404, "a linked record relinked: {v}");
    assert_eq!(
        audit_actions(&router, &admin, "resolve_link").await.len(),
        1
    );

    // Anonymous sign-in failures: one audit entry per address and window.
    for _ in 0..12 {
        let (status, _) = post_json(
            &router,
            "/api/v1/auth/login",
            "",
            json!({"username": "nobody-here", "password": "wrong-password"}),
        )
        .await;
        assert!(status == 401 || status == 429, "{status}");
    }
    let failed = audit_actions(&router, &admin, "login_failed").await;
    let locked = audit_actions(&router, &admin, "login_locked").await;
    assert_eq!(failed.len() + locked.len(), 1, "{failed:?} {locked:?}");
    state
        .auth()
        .advance_clock(minqing_domain::auth::sessions::FAILURE_WINDOW_SECS + 1);
    let _ = post_json(
        &router,
        "/api/v1/auth/login",
        "",
        json!({"username": "nobody-here", "password": "wrong-password"}),
    )
    .await;
    let all: Vec<Value> = [
        audit_actions(&router, &admin, "login_failed").await,
        audit_actions(&router, &admin, "login_locked").await,
    ]
    .concat();
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(
        all.iter()
            .any(|e| e.to_string().contains("11 more failed sign-ins")),
        "{all:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn weak_spots_on_the_embedded_store() {
    weak_spots(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn weak_spots_on_postgis() {
    weak_spots(true).await;
}

/// Uploaded photos lose their EXIF (GPS) when stored, and images over the pixel limit
/// are refused before decoding.
#[test]
fn photos_are_stored_without_exif_and_bounded() {
    use minqing_domain::events::service::{MAX_PHOTO_PIXELS, has_metadata, process_photo};
    // A small JPEG with an APP1 Exif segment spliced in after SOI.
    let img = image::RgbImage::from_pixel(40, 30, image::Rgb([200, 30, 30]));
    let mut jpeg = std::io::Cursor::new(Vec::new());
    img.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
    let jpeg = jpeg.into_inner();
    let exif: &[u8] = b"Exif\0\0MM\0*\0\0\0\x08\0\0GPS 31.2N 121.5E";
    let mut with_exif = jpeg[..2].to_vec();
    with_exif.extend_from_slice(&[0xFF, 0xE1]);
    with_exif.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    with_exif.extend_from_slice(exif);
    with_exif.extend_from_slice(&jpeg[2..]);
    assert!(has_metadata(&with_exif));
    let p = process_photo(&with_exif, image::ImageFormat::Jpeg, 64).expect("a valid photo");
    assert!(!has_metadata(&p.bytes), "EXIF kept");
    assert!(!p.bytes.windows(3).any(|w| w == b"GPS"));
    assert_eq!((p.width, p.height), (40, 30));
    // A PNG header claiming 6000×6000 pixels (36 MP) is refused from its header.
    let big = image::GrayImage::new(6000, 6000);
    let mut png = std::io::Cursor::new(Vec::new());
    big.write_to(&mut png, image::ImageFormat::Png).unwrap();
    const { assert!(6000 * 6000 > MAX_PHOTO_PIXELS) };
    let Err(err) = process_photo(&png.into_inner(), image::ImageFormat::Png, 64) else {
        panic!("a 36-megapixel image was accepted");
    };
    assert!(err.contains("megapixels"), "{err}");
}
