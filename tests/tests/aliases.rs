//! The centre's road aliases and old names: imported with the district's files, edited
//! over the API by leaders and admins (audited), used by the matcher at once and after
//! a reload — on both stores.

use crate::support::{bearer, call, district, postgis_store, sqlite_store};
use minqing_domain::auth::Role;
use minqing_domain::store::Store;
use serde_json::{Value, json};
use std::path::Path;

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    let body = body.map_or_else(Vec::new, |b| b.to_string().into_bytes());
    let (status, _, bytes) = call(app, method, uri, &headers, body).await;
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        json_of(&bytes)
    };
    (status, value)
}

/// The register code the geocoder gives `address`, if any.
async fn geocoded(app: &axum::Router, address: &str) -> Option<String> {
    let (status, v) = send(
        app,
        "POST",
        "/api/v1/geocode",
        None,
        Some(json!({ "addresses": [address] })),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["results"][0]["code"].as_str().map(str::to_string)
}

async fn app_over(store: &Store) -> (minqing_domain::App, axum::Router) {
    let state = minqing_domain::App::new(store.clone());
    state.set_index(minqing_domain::load_index(store).await.expect("load"));
    let router = minqing_server::http::app(state.clone());
    (state, router)
}

/// The old names of the generated district (`address_aliases.csv`): old → current.
fn generated_aliases(dir: &Path) -> Vec<(String, String)> {
    let mut rd = csv::Reader::from_path(dir.join("address_aliases.csv")).unwrap();
    rd.records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string())
        })
        .collect()
}

async fn exercise(store: Store, dir: &Path) {
    let reports = minqing_domain::import::import_dir(&store, dir, &|_| {})
        .await
        .expect("import");
    let file = reports
        .iter()
        .find(|r| r.file == "address_aliases.csv")
        .expect("the alias file is imported");
    let old_names = generated_aliases(dir);
    assert!(!old_names.is_empty(), "the generator renames some roads");
    assert_eq!(file.rows_loaded, old_names.len() as u64, "{file:?}");
    assert!(file.errors.is_empty(), "{file:?}");
    let (state, app) = app_over(&store).await;

    // Records typed with an old name link to the renamed road's buildings.
    let truth: std::collections::HashMap<String, String> = {
        let mut rd = csv::Reader::from_path(dir.join("truth/links.csv")).unwrap();
        rd.records()
            .map(|r| r.unwrap())
            .filter(|r| &r[0] == "residents.csv")
            .map(|r| (r[1].to_string(), r[2].to_string()))
            .collect()
    };
    let mut rd = csv::Reader::from_path(dir.join("residents.csv")).unwrap();
    let header = rd.headers().unwrap().clone();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let (id_col, address_col) = (col("id"), col("address"));
    let typed_old: Vec<(String, String)> = rd
        .records()
        .map(|r| r.unwrap())
        .filter(|r| {
            old_names
                .iter()
                .any(|(old, _)| r[address_col].contains(old.as_str()))
        })
        .map(|r| (r[id_col].to_string(), r[address_col].to_string()))
        .collect();
    assert!(
        !typed_old.is_empty(),
        "some residents' addresses carry an old road name"
    );
    let mut linked_right = 0;
    for (id, address) in &typed_old {
        let code = geocoded(&app, address).await;
        let want = &truth[id];
        if code
            .as_deref()
            .is_some_and(|c| c.starts_with(want.as_str()) || want.starts_with(c))
        {
            linked_right += 1;
        }
    }
    assert!(
        linked_right * 10 >= typed_old.len() * 9,
        "{linked_right} of {} old-name addresses geocode to their building",
        typed_old.len()
    );

    let leader = bearer(&state, &app, Role::Leader, &[], None).await;
    let admin = bearer(&state, &app, Role::Admin, &[], None).await;
    let grid = state
        .index()
        .unwrap()
        .areas
        .iter()
        .find(|a| a.area.level == minqing_domain::model::AreaLevel::Grid)
        .unwrap()
        .area
        .code
        .clone();
    let worker = bearer(&state, &app, Role::GridWorker, &[grid], None).await;

    // The table as imported, every pair in use.
    let (status, table) = send(&app, "GET", "/api/v1/address-aliases", Some(&leader), None).await;
    assert_eq!(status, 200, "{table}");
    let listed = table["aliases"].as_array().unwrap();
    assert_eq!(listed.len(), old_names.len(), "{table}");
    for a in listed {
        assert_eq!(a["added_by"], "import", "{a}");
        assert!(a.get("unused").is_none(), "{a}");
    }

    // A building on a road with a door number of its own, and a new old name for that
    // road.
    let ix = state.index().unwrap();
    let (road, door, code) = (0..ix.buildings.len())
        .find_map(|i| {
            // Not in a compound: a compound's buildings share its gate's door number.
            let (c, _, parts, _) = ix.register.building(i)?;
            if parts.compound.is_some() {
                return None;
            }
            Some((parts.road.clone()?, parts.door?, c.to_string()))
        })
        .expect("a building on a road");
    drop(ix);
    let alias = "老城关大道";
    let typed = format!("{alias}{door}号");
    assert_ne!(geocoded(&app, &typed).await.as_deref(), Some(code.as_str()));

    // Only leaders and admins edit; bad input is refused with the reason.
    let put = |who: Option<String>, alias: &str, body: Value| {
        let app = app.clone();
        let uri = format!("/api/v1/address-aliases/{}", urlencode(alias));
        async move { send(&app, "PUT", &uri, who.as_deref(), Some(body)).await }
    };
    let (status, _) = put(None, alias, json!({ "canonical": road })).await;
    assert_eq!(status, 401);
    let (status, _) = put(Some(worker.clone()), alias, json!({ "canonical": road })).await;
    assert_eq!(status, 403);
    let (status, v) = put(Some(leader.clone()), alias, json!({ "name": road })).await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = put(
        Some(leader.clone()),
        alias,
        json!({ "canonical": "没有这条路" }),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["details"]["reason"], "unknown_name", "{v}");
    let (status, v) = put(Some(leader.clone()), &road, json!({ "canonical": road })).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["details"]["reason"], "clash", "{v}");
    assert_ne!(geocoded(&app, &typed).await.as_deref(), Some(code.as_str()));

    // Added: the matcher reads the old name at once, and the edit is audited.
    let (status, v) = put(Some(leader.clone()), alias, json!({ "canonical": road })).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["canonical"], road.as_str());
    assert_eq!(geocoded(&app, &typed).await.as_deref(), Some(code.as_str()));
    let (status, audit) = send(
        &app,
        "GET",
        "/api/v1/audit?action=set_alias&limit=100",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{audit}");
    let target = format!("{alias}→{road}");
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["target"] == target.as_str() && e["role"] == "leader"),
        "{audit}"
    );

    // A reload (another replica, a restart) reads the table from the store.
    let (_, reloaded) = app_over(&store).await;
    assert_eq!(
        geocoded(&reloaded, &typed).await.as_deref(),
        Some(code.as_str())
    );

    // Removed: the old name is unknown again; a second removal is a 404.
    let uri = format!("/api/v1/address-aliases/{}", urlencode(alias));
    let (status, _) = send(&app, "DELETE", &uri, Some(&worker), None).await;
    assert_eq!(status, 403);
    let (status, v) = send(&app, "DELETE", &uri, Some(&admin), None).await;
    assert_eq!(status, 204, "{v}");
    assert_ne!(geocoded(&app, &typed).await.as_deref(), Some(code.as_str()));
    let (status, _) = send(&app, "DELETE", &uri, Some(&admin), None).await;
    assert_eq!(status, 404);
    let (_, audit) = send(
        &app,
        "GET",
        "/api/v1/audit?action=remove_alias&limit=100",
        Some(&admin),
        None,
    )
    .await;
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["target"] == alias && e["role"] == "admin"),
        "{audit}"
    );
    let (_, table) = send(&app, "GET", "/api/v1/address-aliases", Some(&admin), None).await;
    assert_eq!(table["aliases"].as_array().unwrap().len(), old_names.len());
}

/// Every byte but ASCII letters and digits percent-encoded.
pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn aliases_on_sqlite() {
    let (tmp, dir, _) = district(0.02);
    let store = sqlite_store(tmp.path()).await;
    exercise(store, &dir).await;
}

#[tokio::test]
async fn aliases_on_postgis() {
    let (_tmp, dir, _) = district(0.02);
    exercise(postgis_store().await, &dir).await;
}
