//! Address service: search, geocode and reverse endpoints, linking on import, the review
//! queue, datum conversion on import, and matching quality against the generator's own
//! ground truth (`truth/links.csv`).

use crate::support::{call, district, get, loaded_app, sqlite_store};
use minqing_address::coords::{self, Datum};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

async fn post_json(app: &axum::Router, uri: &str, body: &Value) -> (u16, Value) {
    let (status, _, bytes) = call(
        app,
        "POST",
        uri,
        &[("content-type", "application/json")],
        serde_json::to_vec(body).unwrap(),
    )
    .await;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (status, json_of(&text))
}

async fn get_auth(app: &axum::Router, auth: &str, uri: &str) -> (u16, String) {
    let (status, _, bytes) = call(app, "GET", uri, &[("authorization", auth)], Vec::new()).await;
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn post_json_auth(app: &axum::Router, auth: &str, uri: &str, body: &Value) -> (u16, Value) {
    let (status, _, bytes) = call(
        app,
        "POST",
        uri,
        &[
            ("content-type", "application/json"),
            ("authorization", auth),
        ],
        serde_json::to_vec(body).unwrap(),
    )
    .await;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (status, json_of(&text))
}

/// Percent-encode a query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn pinyin_initials(name: &str) -> String {
    use pinyin::ToPinyin;
    name.to_pinyin()
        .map(|p| p.map_or(String::new(), |p| p.first_letter().to_string()))
        .collect()
}

#[tokio::test]
async fn search_finds_a_compound_by_name_and_by_pinyin_initials() {
    let (_tmp, state, app, _) = loaded_app(0.02).await;
    let ix = state.index().unwrap();
    let compound = (0..ix.register.building_count())
        .find_map(|i| ix.register.building(i)?.2.compound.clone())
        .expect("a compound");
    let hits_for = |body: &str| -> Vec<Value> {
        json_of(body)["hits"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let (status, body) = get(
        &app,
        &format!("/api/v1/search?q={}&limit=5", enc(&compound)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let hits = hits_for(&body);
    assert!(
        hits.iter()
            .any(|h| h["label"] == compound.as_str() && h["kind"] == "compound"),
        "{compound}: {body}"
    );
    for h in &hits {
        assert!(h["code"].is_string() && h["lon"].is_f64() && h["lat"].is_f64());
    }

    let initials = pinyin_initials(&compound);
    let (status, body) = get(&app, &format!("/api/v1/search?q={initials}&limit=50")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        hits_for(&body)
            .iter()
            .any(|h| h["label"] == compound.as_str()),
        "{initials} should find {compound}: {body}"
    );

    // Building 1 of the compound, and a code typed in full.
    let (_, body) = get(
        &app,
        &format!("/api/v1/search?q={}&limit=20", enc(&format!("{compound}1"))),
    )
    .await;
    let building = hits_for(&body)
        .into_iter()
        .find(|h| h["kind"] == "building")
        .unwrap_or_else(|| panic!("a building of {compound}: {body}"));
    let code = building["code"].as_str().unwrap().to_string();
    let (_, body) = get(&app, &format!("/api/v1/search?q={code}")).await;
    assert_eq!(hits_for(&body)[0]["code"], code.as_str(), "{body}");

    for bad in [
        "/api/v1/search",
        "/api/v1/search?q=",
        "/api/v1/search?q=a&limit=0",
        "/api/v1/search?q=a&limit=x",
        "/api/v1/search?q=a&limit=51",
        "/api/v1/search?q=a&crs=utm",
    ] {
        let (status, body) = get(&app, bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(json_of(&body)["error"]["message"].is_string());
    }
}

#[tokio::test]
async fn geocode_batch_clean_noisy_and_garbage() {
    let (_tmp, state, app, _) = loaded_app(0.02).await;
    let ix = state.index().unwrap();
    let reg = &ix.register;
    // A unit in a multi-unit building, and its clean and noisy labels.
    let unit = (0..reg.unit_count())
        .find(|&u| reg.unit_label(u).is_some_and(|l| l.contains("单元")))
        .expect("a unit with 单元");
    let (unit_code, building) = reg.unit(unit).unwrap();
    let building_code = reg.building(building).unwrap().0.to_string();
    let clean = reg.unit_label(unit).unwrap();
    let noisy = clean
        .replacen("四川省德阳市", "", 1)
        .replace("单元", "单元 ")
        .replacen('1', "１", 1);
    let inputs = json!({"addresses": [clean, noisy, "asdfgh!!", "", "旌阳区"]});
    let (status, body) = post_json(&app, "/api/v1/geocode", &inputs).await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    let r = &results[0];
    assert_eq!(r["code"], unit_code, "{r}");
    assert_eq!(r["level"], "unit");
    assert!(r["confidence"].as_f64().unwrap() >= 0.9, "{r}");
    let (lon, lat) = reg.position(building).unwrap();
    assert!((r["lon"].as_f64().unwrap() - lon).abs() < 1e-6);
    assert!((r["lat"].as_f64().unwrap() - lat).abs() < 1e-6);
    let r = &results[1];
    assert!(
        r["code"] == unit_code || r["code"] == building_code.as_str(),
        "noisy {noisy}: {r}"
    );
    for r in &results[2..] {
        assert!(r["code"].is_null() && r["level"].is_null(), "{r}");
        assert!(r["confidence"].as_f64().unwrap() < 0.5, "{r}");
        assert!(r["lon"].is_null());
    }

    // The same address in GCJ-02 output is the converted point.
    let (_, body) = post_json(
        &app,
        "/api/v1/geocode",
        &json!({"addresses": [results[0]["input"]], "crs": "gcj02"}),
    )
    .await;
    let (gx, gy) = coords::convert(lon, lat, Datum::Wgs84, Datum::Gcj02);
    let r = &body["results"][0];
    assert!(
        coords::distance_m(
            (r["lon"].as_f64().unwrap(), r["lat"].as_f64().unwrap()),
            (gx, gy)
        ) < 0.05
    );

    // A door shared by several buildings of a compound, without the building number,
    // is ambiguous between them.
    let mut doors: HashMap<(String, u32), Vec<usize>> = HashMap::new();
    for i in 0..reg.building_count() {
        let (_, _, p, _) = reg.building(i).unwrap();
        if let (Some(road), Some(door), Some(_)) = (&p.road, p.door, &p.compound) {
            doors.entry((road.clone(), door)).or_default().push(i);
        }
    }
    let shared = doors
        .values()
        .filter(|v| v.len() > 1)
        .min()
        .expect("a door shared by buildings");
    let p = reg.building(shared[0]).unwrap().2;
    let text = format!(
        "{}{}{}号{}",
        p.community,
        p.road.clone().unwrap(),
        p.door.unwrap(),
        p.compound.clone().unwrap()
    );
    let (_, body) = post_json(&app, "/api/v1/geocode", &json!({"addresses": [text]})).await;
    let r = &body["results"][0];
    assert!(r["code"].is_null(), "{r}");
    assert_eq!(r["ambiguous"], true, "{r}");
    assert!(r["candidates"].as_array().unwrap().len() >= 2, "{r}");

    // Limits and validation.
    let many: Vec<String> = (0..1001).map(|i| format!("{i}号")).collect();
    let (status, body) = post_json(&app, "/api/v1/geocode", &json!({ "addresses": many })).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    for bad in [
        json!({}),
        json!({"addresses": "x"}),
        json!({"addresses": [1, 2]}),
        json!({"addresses": ["x".repeat(501)]}),
        json!({"addresses": ["x"], "crs": "wgs72"}),
    ] {
        let (status, body) = post_json(&app, "/api/v1/geocode", &bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, _, _) = call(&app, "POST", "/api/v1/geocode", &[], b"not json".to_vec()).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn reverse_gives_the_nearest_building_and_the_containing_areas() {
    let (_tmp, state, app, _) = loaded_app(0.02).await;
    let ix = state.index().unwrap();
    let b = &ix.buildings[ix.buildings.len() / 2];
    let grid = &ix.areas[b.grid.unwrap() as usize];
    let (status, body) = get(
        &app,
        &format!("/api/v1/reverse?lon={}&lat={}", b.lon + 1e-6, b.lat),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let v = json_of(&body);
    assert_eq!(v["inside_district"], true);
    assert_eq!(v["building"]["code"], b.code.as_str(), "{body}");
    assert!(v["building"]["distance_m"].as_f64().unwrap() < 1.0);
    let levels: Vec<&str> = v["areas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["grid", "community", "township", "district"]);
    assert_eq!(v["areas"][0]["code"], grid.area.code.as_str());
    let community = &ix.areas[grid.parent.unwrap() as usize];
    assert_eq!(v["areas"][1]["code"], community.area.code.as_str());
    assert_eq!(v["areas"][1]["name"], community.area.name.as_str());

    // The same point given in BD-09 finds the same building.
    let (bx, by) = coords::convert(b.lon, b.lat, Datum::Wgs84, Datum::Bd09);
    let (_, body) = get(&app, &format!("/api/v1/reverse?lon={bx}&lat={by}&crs=bd09")).await;
    let v = json_of(&body);
    assert_eq!(v["building"]["code"], b.code.as_str(), "{body}");
    assert_eq!(v["areas"][0]["code"], grid.area.code.as_str());

    // Outside the district: 200, the nearest building with its distance, no areas.
    let (status, body) = get(&app, "/api/v1/reverse?lon=116.39&lat=39.91").await;
    assert_eq!(status, 200, "{body}");
    let v = json_of(&body);
    assert_eq!(v["inside_district"], false);
    assert!(v["areas"].as_array().unwrap().is_empty());
    assert!(v["building"]["distance_m"].as_f64().unwrap() > 100_000.0);

    for bad in [
        "/api/v1/reverse",
        "/api/v1/reverse?lon=104.4",
        "/api/v1/reverse?lon=abc&lat=31",
        "/api/v1/reverse?lon=181&lat=31",
        "/api/v1/reverse?lon=104&lat=-91",
        "/api/v1/reverse?lon=NaN&lat=31",
        "/api/v1/reverse?lon=104&lat=31&crs=x",
    ] {
        let (status, body) = get(&app, bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(json_of(&body)["error"]["code"], "bad_request");
    }
}

/// Import reports link every free-text record (nothing stays `pending`), and the
/// figures agree with the store's `link` column.
#[tokio::test]
async fn import_links_free_text_records() {
    let (tmp, dir, m) = district(0.02);
    let store = sqlite_store(tmp.path()).await;
    let reports = minqing_domain::import::import_dir(&store, &dir, &|_| {})
        .await
        .expect("import");
    let mut linked = 0u64;
    let mut all = 0u64;
    for r in reports.iter().filter(|r| {
        r.file.starts_with("residents") || r.file == "housing.csv" || r.file == "enterprises.csv"
    }) {
        let l = &r.links;
        assert_eq!(l.pending, 0, "{r:?}");
        assert_eq!(
            l.unit + l.building + l.ambiguous + l.unmatched,
            r.rows_loaded,
            "{r:?}"
        );
        linked += l.unit + l.building;
        all += r.rows_loaded;
        println!("{}: {:?}", r.file, l);
    }
    assert_eq!(all as usize, m.residents + m.housing_units + m.enterprises);
    assert!(linked as f64 >= 0.97 * all as f64, "{linked} of {all}");
    let minqing_domain::store::Store::Sqlite(pool) = &store else {
        unreachable!()
    };
    for t in ["residents", "housing", "enterprises"] {
        let unlinked: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {t} WHERE link = 'pending' \
             OR (link IN ('unit', 'building') AND address_code IS NULL)"
        ))
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(unlinked, 0, "{t}");
    }
}

/// Write a residents file with one record whose address cannot be matched, copied from
/// a generated record (valid ID number) with a new id.
fn write_unmatchable_resident(generated: &Path, out_dir: &Path, id: &str) {
    let mut rd = csv::Reader::from_path(generated.join("residents.csv")).unwrap();
    let header = rd.headers().unwrap().clone();
    let row = rd.records().next().unwrap().unwrap();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let mut fields: Vec<String> = row.iter().map(str::to_string).collect();
    fields[col("id")] = id.to_string();
    fields[col("address")] = "火星基地东区某处".to_string();
    fields[col("address_code")] = String::new();
    std::fs::create_dir_all(out_dir).unwrap();
    let mut w = csv::Writer::from_path(out_dir.join("residents-extra.csv")).unwrap();
    w.write_record(&header).unwrap();
    w.write_record(&fields).unwrap();
    w.flush().unwrap();
}

#[tokio::test]
async fn review_queue_round_trip() {
    let (tmp, state, app, _) = loaded_app(0.02).await;
    let generated = tmp.path().join("district");
    let extra = tmp.path().join("extra");
    write_unmatchable_resident(&generated, &extra, "R99999999");
    let reports = minqing_domain::import::import_dir(&state.store, &extra, &|_| {})
        .await
        .unwrap();
    assert_eq!(reports[0].links.unmatched, 1, "{:?}", reports[0]);

    // The queue shows free-text addresses of people: leaders and admins only.
    let (status, _) = get(&app, "/api/v1/review?kind=residents&status=unmatched").await;
    assert_eq!(status, 401);
    let screen =
        crate::support::bearer(&state, &app, minqing_domain::auth::Role::Screen, &[], None).await;
    let (status, _) = get_auth(
        &app,
        &screen,
        "/api/v1/review?kind=residents&status=unmatched",
    )
    .await;
    assert_eq!(status, 403);
    let auth =
        crate::support::bearer(&state, &app, minqing_domain::auth::Role::Leader, &[], None).await;

    let queue = |status: &'static str| {
        let app = app.clone();
        let auth = auth.clone();
        async move {
            let (code, body) = get_auth(
                &app,
                &auth,
                &format!("/api/v1/review?kind=residents&status={status}&limit=200"),
            )
            .await;
            assert_eq!(code, 200, "{body}");
            json_of(&body)
        }
    };
    let page = queue("unmatched").await;
    let items = page["items"].as_array().unwrap();
    let item = items
        .iter()
        .find(|i| i["id"] == "R99999999")
        .unwrap_or_else(|| panic!("{page}"));
    assert_eq!(item["address"], "火星基地东区某处");
    assert_eq!(item["status"], "unmatched");
    // Only the id and the address text: no personal fields.
    let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["address", "candidates", "id", "status"]);
    let total_before = page["total"].as_i64().unwrap();

    // Validation.
    let ix = state.index().unwrap();
    let unit_code = ix.units[0].code.clone();
    let (status, body) = post_json_auth(
        &app,
        &auth,
        "/api/v1/review/residents/R99999999",
        &json!({"code": "5106030000000000000"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = post_json_auth(
        &app,
        &auth,
        "/api/v1/review/residents/NOPE",
        &json!({"code": unit_code}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = post_json_auth(
        &app,
        &auth,
        "/api/v1/review/people/R99999999",
        &json!({"code": unit_code}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = post_json_auth(
        &app,
        &auth,
        "/api/v1/review/residents/R99999999",
        &json!({}),
    )
    .await;
    assert_eq!(status, 400);
    for bad in [
        "/api/v1/review",
        "/api/v1/review?kind=people",
        "/api/v1/review?kind=residents&status=unit",
        "/api/v1/review?kind=residents&limit=1000",
    ] {
        let (status, body) = get_auth(&app, &auth, bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }

    // Resolve it.
    let (status, body) = post_json_auth(
        &app,
        &auth,
        "/api/v1/review/residents/R99999999",
        &json!({"code": unit_code, "note": "visited; lives there"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["old_link"], "unmatched");
    assert!(body["old_code"].is_null());
    assert_eq!(body["code"], unit_code.as_str());
    assert_eq!(body["link"], "unit");

    let page = queue("unmatched").await;
    assert_eq!(page["total"].as_i64().unwrap(), total_before - 1);
    assert!(
        !page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == "R99999999")
    );
    let minqing_domain::store::Store::Sqlite(pool) = &state.store else {
        unreachable!()
    };
    let (code, link): (Option<String>, String) =
        sqlx::query_as("SELECT address_code, link FROM residents WHERE id = 'R99999999'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(
        (code.as_deref(), link.as_str()),
        (Some(unit_code.as_str()), "unit")
    );
    let logged: (String, Option<String>, String, String, String, String) = sqlx::query_as(
        "SELECT kind, old_code, old_link, new_code, new_link, note FROM link_resolutions WHERE record_id = 'R99999999'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        logged,
        (
            "residents".into(),
            None,
            "unmatched".into(),
            unit_code.clone(),
            "unit".into(),
            "visited; lives there".into()
        )
    );

    // Ambiguous records come with candidates.
    let page = queue("ambiguous").await;
    for i in page["items"].as_array().unwrap() {
        assert!(!i["candidates"].as_array().unwrap().is_empty(), "{i}");
    }
}

/// The buildings-layer feature of building `code` in the z16 tile over `(lon, lat)`:
/// its `residents` property.
async fn tile_residents(app: &axum::Router, code: &str, lon: f64, lat: f64) -> u64 {
    use mvt_reader::feature::Value as V;
    let t = minqing_tiles::TileId::from_lonlat(lon, lat, 16).unwrap();
    let (status, _, bytes) = call(
        app,
        "GET",
        &format!("/tiles/buildings/16/{}/{}.mvt", t.x(), t.y()),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
    let r = mvt_reader::Reader::new(bytes.to_vec()).unwrap();
    let layer = r
        .get_layer_names()
        .unwrap()
        .iter()
        .position(|n| n == "buildings")
        .expect("buildings layer");
    for f in r.get_features(layer).unwrap() {
        let p = f.properties.as_ref().unwrap();
        if p.get("code") == Some(&V::String(code.to_string())) {
            return match p.get("residents") {
                Some(V::UInt(n)) => *n,
                Some(V::Int(n)) | Some(V::SInt(n)) => *n as u64,
                other => panic!("residents: {other:?}"),
            };
        }
    }
    panic!("building {code} not in its z16 tile");
}

/// A review resolution moves the record's counts in memory before it answers: the
/// building's and unit's residents, the link totals, the grid's population profile and
/// the buildings tile showing the building (the record was unlinked in the loaded index,
/// as after a restart). Without the relink all of these stay until the next load.
#[tokio::test]
async fn review_resolution_updates_the_aggregates_at_once() {
    let (tmp, state, app, _) = loaded_app(0.01).await;
    let extra = tmp.path().join("extra");
    write_unmatchable_resident(&tmp.path().join("district"), &extra, "R99999990");
    minqing_domain::import::import_dir(&state.store, &extra, &|_| {})
        .await
        .unwrap();
    state.set_index(minqing_domain::load_index(&state.store).await.unwrap());
    let ix = state.index().unwrap();
    let (unit_i, unit) = ix
        .units
        .iter()
        .enumerate()
        .find(|(_, u)| ix.buildings[u.building as usize].grid.is_some())
        .unwrap();
    let b = unit.building as usize;
    let building = ix.buildings[b].clone();
    let grid = ix.areas[building.grid.unwrap() as usize].area.code.clone();
    let unit_code = unit.code.clone();
    let unmatched_before = ix.resident_links.unmatched;
    let (unit_before, unit_links_before) = (unit.residents, ix.resident_links.unit);
    let auth =
        crate::support::bearer(&state, &app, minqing_domain::auth::Role::Leader, &[], None).await;
    let population = |app: axum::Router, auth: String, grid: String| async move {
        let (status, body) = get_auth(
            &app,
            &auth,
            &format!("/api/v1/analysis/population?area={grid}"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        json_of(&body)["residents"].as_u64().unwrap()
    };
    let pop_before = population(app.clone(), auth.clone(), grid.clone()).await;
    let tile_before = tile_residents(&app, &building.code, building.lon, building.lat).await;
    // Tiles carry the disclosure layer's protected resident counts.
    let shown = |n: u32| {
        u64::from(minqing_domain::disclosure::protected_building_residents(
            &building.code,
            n,
        ))
    };
    assert_eq!(tile_before, shown(building.residents));
    drop(ix);

    let (status, body) = post_json_auth(
        &app,
        &auth,
        "/api/v1/review/residents/R99999990",
        &json!({"code": unit_code}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let ix = state.index().unwrap();
    assert_eq!(ix.buildings[b].residents, building.residents + 1);
    assert_eq!(ix.units[unit_i].residents, unit_before + 1);
    assert_eq!(ix.resident_links.unmatched, unmatched_before - 1);
    assert_eq!(ix.resident_links.unit, unit_links_before + 1);
    assert_eq!(
        ix.people.len(),
        state.store.load_residents().await.unwrap().len()
    );
    assert_eq!(
        population(app.clone(), auth.clone(), grid.clone()).await,
        pop_before + 1
    );
    assert_eq!(
        tile_residents(&app, &building.code, building.lon, building.lat).await,
        shown(building.residents + 1)
    );

    // Moving it again (to the building level of another building) moves the counts away.
    let other = ix
        .buildings
        .iter()
        .position(|x| x.grid.is_some() && x.grid != building.grid)
        .unwrap();
    let other_before = ix.buildings[other].residents;
    let other_code = ix.buildings[other].code.clone();
    drop(ix);
    // A record no longer in the queue is not relinked (issue 21): nothing moves.
    let (status, body) = post_json_auth(
        &app,
        &auth,
        "/api/v1/review/residents/R99999990",
        &json!({"code": other_code}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let ix = state.index().unwrap();
    assert_eq!(ix.buildings[other].residents, other_before);
    assert_eq!(ix.buildings[b].residents, building.residents + 1);
    let _ = (
        unit_i,
        unit_before,
        unit_links_before,
        grid,
        pop_before,
        population,
    );
}

/// Buildings declared in GCJ-02 (and events in BD-09) are stored in WGS-84 within 0.5 m.
#[tokio::test]
async fn coordinates_in_gcj02_and_bd09_are_converted_on_import() {
    let (tmp, dir, _) = district(0.01);
    let rewrite = |file: &str, datum: Datum| -> HashMap<String, (f64, f64)> {
        let path = dir.join(file);
        let mut rd = csv::Reader::from_path(&path).unwrap();
        let header = rd.headers().unwrap().clone();
        let (ci, lo, la) = (
            header.iter().position(|h| h == "code").unwrap(),
            header.iter().position(|h| h == "lon").unwrap(),
            header.iter().position(|h| h == "lat").unwrap(),
        );
        let mut truth = HashMap::new();
        let rows: Vec<Vec<String>> = rd
            .records()
            .map(|r| {
                let r = r.unwrap();
                let mut f: Vec<String> = r.iter().map(str::to_string).collect();
                let (lon, lat): (f64, f64) = (f[lo].parse().unwrap(), f[la].parse().unwrap());
                truth.insert(f[ci].clone(), (lon, lat));
                let (x, y) = coords::convert(lon, lat, Datum::Wgs84, datum);
                f[lo] = format!("{x:.8}");
                f[la] = format!("{y:.8}");
                f
            })
            .collect();
        let mut w = csv::Writer::from_path(&path).unwrap();
        w.write_record(&header).unwrap();
        for r in rows {
            w.write_record(&r).unwrap();
        }
        w.flush().unwrap();
        truth
    };
    let buildings = rewrite("buildings.csv", Datum::Gcj02);
    let events = rewrite("events.csv", Datum::Bd09);
    std::fs::write(dir.join("buildings.csv.crs"), "GCJ-02\n").unwrap();
    std::fs::write(dir.join("events.csv.crs"), "bd09").unwrap();
    let store = sqlite_store(tmp.path()).await;
    let reports = minqing_domain::import::import_dir(&store, &dir, &|_| {})
        .await
        .unwrap();
    for r in &reports {
        assert!(r.errors.is_empty(), "{r:?}");
    }
    let snap = store.load().await.unwrap();
    assert_eq!(snap.buildings.len(), buildings.len());
    let mut worst: f64 = 0.0;
    for b in &snap.buildings {
        worst = worst.max(coords::distance_m((b.lon, b.lat), buildings[&b.code]));
    }
    for e in &snap.events {
        worst = worst.max(coords::distance_m((e.lon, e.lat), events[&e.code]));
    }
    println!("worst round-trip error after import: {worst:.4} m");
    assert!(worst < 0.5, "{worst} m");

    // An unknown datum refuses the file.
    std::fs::write(dir.join("buildings.csv.crs"), "utm48n").unwrap();
    let reports = minqing_domain::import::import_dir(&store, &dir, &|_| {})
        .await
        .unwrap();
    let b = reports.iter().find(|r| r.file == "buildings.csv").unwrap();
    assert!(
        b.failed
            .as_deref()
            .is_some_and(|w| w.contains("unknown datum")),
        "{b:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Quality against the generator's ground truth.

/// A seed neither the generator's defaults (7) nor the address crate's tuning (0xA/0xB)
/// use.
const EVAL_SEED: u64 = 20_261_128;

#[derive(Default, Debug, Clone, Copy)]
struct Tally {
    total: u64,
    answered: u64,
    building_right: u64,
    unit_truths: u64,
    unit_answered: u64,
    unit_right: u64,
    confident_wrong: u64,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.total += o.total;
        self.answered += o.answered;
        self.building_right += o.building_right;
        self.unit_truths += o.unit_truths;
        self.unit_answered += o.unit_answered;
        self.unit_right += o.unit_right;
        self.confident_wrong += o.confident_wrong;
    }
    fn building_p(&self) -> f64 {
        ratio(self.building_right, self.answered)
    }
    fn building_r(&self) -> f64 {
        ratio(self.building_right, self.total)
    }
    fn unit_p(&self) -> f64 {
        ratio(self.unit_right, self.unit_answered)
    }
    fn unit_r(&self) -> f64 {
        ratio(self.unit_right, self.unit_truths)
    }
    fn confident_wrong_rate(&self) -> f64 {
        ratio(self.confident_wrong, self.total)
    }
    fn line(&self, name: &str) -> String {
        format!(
            "{name:<22} n={:>7}  building P={:.4} R={:.4}  unit P={:.4} R={:.4}  confident-wrong={:.5}",
            self.total,
            self.building_p(),
            self.building_r(),
            self.unit_p(),
            self.unit_r(),
            self.confident_wrong_rate()
        )
    }
    fn meets_goals(&self) -> bool {
        self.building_p() >= 0.995
            && self.building_r() >= 0.97
            && self.unit_p() >= 0.99
            && self.unit_r() >= 0.95
            && self.confident_wrong_rate() <= 0.001
    }
}

struct Labelled {
    file: String,
    text: String,
    code: String,
    unit_level: bool,
    noisy: bool,
}

/// The address texts of every resident, housing unit and enterprise with their true
/// code, from the generated files and `truth/links.csv`.
fn labelled(dir: &Path) -> Vec<Labelled> {
    let mut texts: HashMap<(String, String), String> = HashMap::new();
    for file in [
        "residents.csv",
        "residents-gbk.csv",
        "housing.csv",
        "enterprises.csv",
    ] {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let text = if file.ends_with("gbk.csv") {
            encoding_rs::GB18030.decode(&bytes).0.into_owned()
        } else {
            String::from_utf8(bytes).unwrap()
        };
        let mut rd = csv::Reader::from_reader(text.as_bytes());
        let header = rd.headers().unwrap().clone();
        let id = header.iter().position(|h| h == "id").unwrap();
        let addr = header.iter().position(|h| h == "address").unwrap();
        for r in rd.records() {
            let r = r.unwrap();
            texts.insert((file.to_string(), r[id].to_string()), r[addr].to_string());
        }
    }
    let mut out = Vec::with_capacity(texts.len());
    let mut rd = csv::Reader::from_path(dir.join("truth/links.csv")).unwrap();
    for r in rd.records() {
        let r = r.unwrap();
        let key = (r[0].to_string(), r[1].to_string());
        let text = texts
            .remove(&key)
            .unwrap_or_else(|| panic!("{key:?} in truth but not in the files"));
        out.push(Labelled {
            file: key.0,
            text,
            code: r[2].to_string(),
            unit_level: &r[3] == "unit",
            noisy: &r[4] == "1",
        });
    }
    assert!(texts.is_empty(), "{} records without truth", texts.len());
    out
}

fn score(reg: &minqing_address::Register, rec: &Labelled, t: &mut Tally) {
    let r = reg.match_address(&rec.text);
    t.total += 1;
    t.unit_truths += u64::from(rec.unit_level);
    let Some(code) = r.code.as_deref() else {
        return;
    };
    t.answered += 1;
    let true_building = &rec.code[..19];
    let building_ok = code.get(..19) == Some(true_building);
    t.building_right += u64::from(building_ok);
    let mut unit_ok = true;
    if rec.unit_level && code.len() == 25 {
        t.unit_answered += 1;
        unit_ok = code == rec.code;
        t.unit_right += u64::from(unit_ok);
    }
    if !(building_ok && unit_ok) && r.confidence >= 0.9 {
        t.confident_wrong += 1;
    }
}

/// Evaluate the matcher on a generated district; returns the overall tally.
fn evaluate(scale: f64) -> Tally {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    minqing_domain::generate::generate(&dir, scale, EVAL_SEED, &|_| {}).unwrap();
    evaluate_dir(&dir)
}

/// Evaluate on an already generated district directory.
fn evaluate_dir(dir: &Path) -> Tally {
    let started = Instant::now();
    let reg = minqing_domain::address_service::register_from_dir(dir).unwrap();
    println!(
        "register: {} buildings, {} units, built in {:.2} s",
        reg.building_count(),
        reg.unit_count(),
        started.elapsed().as_secs_f64()
    );
    let records = labelled(dir);
    if let Ok(out) = std::env::var("MINQING_EVAL_DUMP") {
        dump(dir, &reg, &records, Path::new(&out));
    }
    let mut by_file: Vec<(String, Tally)> = Vec::new();
    let mut noisy = Tally::default();
    let mut clean = Tally::default();
    let started = Instant::now();
    for rec in &records {
        let i = match by_file.iter().position(|(f, _)| *f == rec.file) {
            Some(i) => i,
            None => {
                by_file.push((rec.file.clone(), Tally::default()));
                by_file.len() - 1
            }
        };
        let mut one = Tally::default();
        score(&reg, rec, &mut one);
        by_file[i].1.add(&one);
        if rec.noisy {
            noisy.add(&one);
        } else {
            clean.add(&one);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let mut all = Tally::default();
    for (f, t) in &by_file {
        println!("{}", t.line(f));
        all.add(t);
    }
    println!("{}", clean.line("labels as registered"));
    println!("{}", noisy.line("noisy labels"));
    println!("{}", all.line("all"));
    println!(
        "linking rate: {} records in {secs:.2} s on one thread = {:.0} records/s",
        records.len(),
        records.len() as f64 / secs
    );
    all
}

/// Write the register and the labelled records as tab-separated text for the address
/// crate's `truth_rate` example (a release build of the pure crate alone measures the
/// linking rate without building the whole server in release).
fn dump(dir: &Path, reg: &minqing_address::Register, records: &[Labelled], out: &Path) {
    use std::io::Write;
    std::fs::create_dir_all(out).unwrap();
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut w = std::io::BufWriter::new(std::fs::File::create(out.join("buildings.tsv")).unwrap());
    let mut index = HashMap::new();
    for i in 0..reg.building_count() {
        let (code, _, p, (lon, lat)) = reg.building(i).unwrap();
        index.insert(code.to_string(), i);
        writeln!(
            w,
            "{code}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{lon}\t{lat}",
            p.township,
            p.community,
            p.road.clone().unwrap_or_default(),
            opt(p.door),
            p.compound.clone().unwrap_or_default(),
            opt(p.building),
            opt(p.group),
            opt(p.house)
        )
        .unwrap();
    }
    w.flush().unwrap();
    let mut w = std::io::BufWriter::new(std::fs::File::create(out.join("units.tsv")).unwrap());
    let mut rd = csv::Reader::from_path(dir.join("units.csv")).unwrap();
    for r in rd.records() {
        let r = r.unwrap();
        writeln!(w, "{}\t{}\t{}\t{}", &r[0], index[&r[1]], &r[2], &r[4]).unwrap();
    }
    w.flush().unwrap();
    let mut w = std::io::BufWriter::new(std::fs::File::create(out.join("records.tsv")).unwrap());
    for rec in records {
        writeln!(
            w,
            "{}\t{}\t{}\t{}\t{}",
            rec.file,
            rec.code,
            if rec.unit_level { "unit" } else { "building" },
            u8::from(rec.noisy),
            clean(&rec.text)
        )
        .unwrap();
    }
    w.flush().unwrap();
}

#[test]
fn matching_quality_on_the_generators_ground_truth() {
    let all = evaluate(0.03);
    assert!(all.total > 20_000, "{}", all.line("all"));
    assert!(all.meets_goals(), "below the goals: {}", all.line("all"));
}

/// The whole district (972,000 records). Run in release:
/// `cargo test --release -p minqing-tests --test tests full_district_matching -- --ignored --nocapture`
///
/// `MINQING_EVAL_DIR=DIR` evaluates a district generated beforehand (e.g. by the
/// release binary: `minqing generate --out DIR --scale 1 --seed 20261128`), and
/// `MINQING_EVAL_DUMP=DIR2` writes the labelled set for the address crate's
/// `truth_rate` example.
#[test]
#[ignore]
fn full_district_matching_quality_and_rate() {
    let all = match std::env::var("MINQING_EVAL_DIR") {
        Ok(dir) => evaluate_dir(Path::new(&dir)),
        Err(_) => evaluate(1.0),
    };
    assert!(all.meets_goals(), "below the goals: {}", all.line("all"));
}

// ---------------------------------------------------------------------------------------
// The hard evaluation set (minqing_address::eval) on the generator's register.

/// Seeds of the hard set, separate from the generator's defaults, the easy set above and
/// the address crate's tuning seeds. The matcher was improved looking at the DEV seed
/// only; the goals are asserted on the TEST seed.
const HARD_DEV_SEED: u64 = 0x4A5D_0DE5;
const HARD_TEST_SEED: u64 = 0x4A5D_7E57;

/// Generate a district at `scale` with `seed` and evaluate the hard set on it.
fn hard_evaluation(
    scale: f64,
    seed: u64,
    per_kind: usize,
    mixed: usize,
) -> (
    minqing_address::eval::Tally,
    Vec<(
        minqing_address::eval::HardKind,
        minqing_address::eval::Tally,
    )>,
) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    minqing_domain::generate::generate(&dir, scale, seed, &|_| {}).unwrap();
    hard_evaluation_dir(&dir, seed, per_kind, mixed)
}

/// The hard set on an already generated district: plant shared compound names, build
/// the register, draw the cases, match, print the table. `MINQING_HARD_DUMP=DIR` also
/// writes the register's entries as `buildings.tsv` and `units.tsv` for the address
/// crate's `hard_eval` example (a release build of the pure crate alone).
fn hard_evaluation_dir(
    dir: &Path,
    seed: u64,
    per_kind: usize,
    mixed: usize,
) -> (
    minqing_address::eval::Tally,
    Vec<(
        minqing_address::eval::HardKind,
        minqing_address::eval::Tally,
    )>,
) {
    use minqing_address::eval;
    let (buildings, units) =
        minqing_domain::address_service::register_entries_from_dir(dir).unwrap();
    if let Ok(out) = std::env::var("MINQING_HARD_DUMP") {
        dump_entries(&buildings, &units, Path::new(&out));
    }
    let started = Instant::now();
    let p = eval::prepare(buildings, units, seed, per_kind, mixed).unwrap();
    let drawn = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let (all, per, wrong) = eval::evaluate(&p.register, &p.units, &p.cases, 60);
    println!(
        "hard set, seed {seed:#x}: register {} buildings, {} units, {} compounds ({} names \
         now shared by two communities); {} cases drawn and labelled in {drawn:.1} s, \
         matched in {:.2} s",
        p.register.building_count(),
        p.register.unit_count(),
        p.compounds,
        p.shared.len(),
        p.cases.len(),
        started.elapsed().as_secs_f64()
    );
    println!("{}", eval::table(&all, &per));
    println!("wrong answers (first {}):", wrong.len());
    for w in &wrong {
        println!("  {w}");
    }
    (all, per)
}

/// The register's plain entries as tab-separated text (the `truth_rate` format).
fn dump_entries(
    buildings: &[minqing_address::BuildingEntry],
    units: &[minqing_address::UnitEntry],
    out: &Path,
) {
    use std::io::Write;
    std::fs::create_dir_all(out).unwrap();
    let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut w = std::io::BufWriter::new(std::fs::File::create(out.join("buildings.tsv")).unwrap());
    for b in buildings {
        let p = &b.parts;
        writeln!(
            w,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            b.code,
            p.township,
            p.community,
            p.road.clone().unwrap_or_default(),
            opt(p.door),
            p.compound.clone().unwrap_or_default(),
            opt(p.building),
            opt(p.group),
            opt(p.house),
            b.lon,
            b.lat
        )
        .unwrap();
    }
    w.flush().unwrap();
    let mut w = std::io::BufWriter::new(std::fs::File::create(out.join("units.tsv")).unwrap());
    for u in units {
        writeln!(
            w,
            "{}\t{}\t{}\t{}",
            u.code,
            u.building,
            opt(u.unit),
            opt(u.room)
        )
        .unwrap();
    }
    w.flush().unwrap();
}

/// The goals on the hard set, held-out seed. Every kind is present, the traps produce
/// should-abstain labels, and no kind has a confident wrong rate above the goal.
#[test]
fn hard_set_meets_the_goals() {
    use minqing_address::eval::HardKind;
    // MINQING_HARD_SEED=dev runs the seed the matcher was improved on.
    let seed = match std::env::var("MINQING_HARD_SEED").as_deref() {
        Ok("dev") => HARD_DEV_SEED,
        Ok(s) => s
            .parse::<u64>()
            .expect("MINQING_HARD_SEED: dev or a number"),
        Err(_) => HARD_TEST_SEED,
    };
    let (all, per) = hard_evaluation(0.03, seed, 300, 3_000);
    assert_eq!(per.len(), HardKind::ALL.len(), "a kind produced no cases");
    for (k, t) in &per {
        assert!(t.total >= 100, "{}: only {} cases", k.name(), t.total);
    }
    let get = |k: HardKind| per.iter().find(|(x, _)| *x == k).unwrap().1;
    for trap in [HardKind::NoSuchBuilding, HardKind::SharedCompound] {
        assert!(
            get(trap).should_abstain >= 30,
            "{}: {:?}",
            trap.name(),
            get(trap)
        );
    }
    for (k, t) in &per {
        assert!(
            t.building_precision() >= 0.995 && t.confident_wrong_rate() <= 0.005,
            "{}: {}",
            k.name(),
            t.row(k.name())
        );
    }
    assert!(all.meets_goals(), "below the goals: {}", all.row("OVERALL"));
}

/// The hard set at the district's full scale (release; see the easy set's test for
/// `MINQING_EVAL_DIR`).
#[test]
#[ignore]
fn hard_set_full_district() {
    let seed = HARD_TEST_SEED;
    let (all, _) = match std::env::var("MINQING_EVAL_DIR") {
        Ok(dir) => hard_evaluation_dir(Path::new(&dir), seed, 2_000, 20_000),
        Err(_) => hard_evaluation(1.0, seed, 2_000, 20_000),
    };
    assert!(all.meets_goals(), "below the goals: {}", all.row("OVERALL"));
}

/// The review queue's SQL on PostGIS: list, resolve, and the resolution log.
#[tokio::test]
async fn review_queue_on_postgis() {
    let (tmp, dir, _) = district(0.01);
    let store = crate::support::postgis_store().await;
    minqing_domain::import::import_dir(&store, &dir, &|_| {})
        .await
        .unwrap();
    let extra = tmp.path().join("extra");
    write_unmatchable_resident(&dir, &extra, "R99999998");
    minqing_domain::import::import_dir(&store, &extra, &|_| {})
        .await
        .unwrap();
    let state = minqing_domain::App::new(store.clone());
    state.set_index(minqing_domain::load_index(&store).await.unwrap());
    let app = minqing_server::http::app(state.clone());
    let auth =
        crate::support::bearer(&state, &app, minqing_domain::auth::Role::Admin, &[], None).await;
    let (status, body) = get_auth(
        &app,
        &auth,
        "/api/v1/review?kind=residents&status=unmatched",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let page = json_of(&body);
    assert!(page["total"].as_i64().unwrap() >= 1, "{page}");
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == "R99999998"),
        "{page}"
    );
    let code = state.index().unwrap().buildings[0].code.clone();
    let (status, body) = post_json_auth(
        &app,
        &auth,
        "/api/v1/review/residents/R99999998",
        &json!({"code": code}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["link"], "building");
    let minqing_domain::store::Store::Postgres(pool) = &store else {
        unreachable!()
    };
    let (new_code, note): (String, String) =
        sqlx::query_as("SELECT new_code, note FROM link_resolutions WHERE record_id = 'R99999998'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!((new_code.as_str(), note.as_str()), (code.as_str(), ""));
}
