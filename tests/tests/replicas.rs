//! Several replicas on one PostGIS database: a write accepted by one is seen by the
//! others' API, tiles and live feed; a replica that missed notifications catches up
//! from the outbox without a reload.

use crate::support::{as_leader, call, district, postgis_store};
use minqing_domain::App;
use minqing_domain::events::replica;
use minqing_domain::events::write;
use minqing_server::http::app;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Generous ceiling for the tests (the machine is shared); the benchmark measures the
/// real delay.
const CEILING: Duration = Duration::from_secs(15);

async fn replica_of(store: &minqing_domain::store::Store) -> (App, axum::Router, i64) {
    let state = App::new(store.clone());
    let after = write::last_change(store).await.unwrap();
    state.set_index(minqing_domain::load_index(store).await.unwrap());
    let router = app(state.clone());
    (state, router, after)
}

/// Wait until `uri` on `router` answers 200 with a body for which `done` holds.
async fn eventually(router: &axum::Router, uri: &str, done: impl Fn(&Value) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let (s, _, b) = call(router, "GET", uri, &[], vec![]).await;
        if s == 200
            && let Ok(v) = serde_json::from_slice::<Value>(&b)
            && done(&v)
        {
            return start.elapsed();
        }
        assert!(start.elapsed() < CEILING, "{uri} never became visible");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A small district in a fresh PostGIS database and two replicas of it, each following
/// the outbox, with routers acting for one leader (sessions live in the store: one
/// sign-in works on every replica).
struct TwoReplicas {
    _tmp: tempfile::TempDir,
    store: minqing_domain::store::Store,
    a: App,
    b: App,
    router_a: axum::Router,
    router_b: axum::Router,
}

async fn two_replicas() -> TwoReplicas {
    let (tmp, dir, _) = district(0.01);
    let store = postgis_store().await;
    minqing_domain::import::import_dir(&store, &dir, &|_| {})
        .await
        .unwrap();
    let (a, router_a, after_a) = replica_of(&store).await;
    let (b, router_b, after_b) = replica_of(&store).await;
    tokio::spawn(replica::follow(a.clone(), after_a));
    tokio::spawn(replica::follow(b.clone(), after_b));
    let leader =
        crate::support::bearer(&a, &router_a, minqing_domain::auth::Role::Leader, &[], None).await;
    TwoReplicas {
        _tmp: tmp,
        store,
        a,
        b,
        router_a: crate::support::acting_as(router_a, leader.clone()),
        router_b: crate::support::acting_as(router_b, leader),
    }
}

#[tokio::test]
async fn writes_reach_every_replica_and_late_ones_catch_up() {
    let TwoReplicas {
        _tmp,
        store,
        a,
        b,
        router_a,
        router_b,
    } = two_replicas().await;

    // Intake on A is visible in B's API…
    let (lon, lat) = {
        let ix = a.index().unwrap();
        let bl = &ix.buildings[ix.buildings.len() / 3];
        (bl.lon, bl.lat)
    };
    let body = json!({"category": "dispute", "source": "visitor", "title": "跨副本事项", "lon": lon, "lat": lat});
    let (s, _, resp) = call(
        &router_a,
        "POST",
        "/api/v1/events",
        &[("content-type", "application/json")],
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&resp));
    let created: Value = serde_json::from_slice(&resp).unwrap();
    let code = created["code"].as_str().unwrap().to_string();
    let waited = eventually(&router_b, &format!("/api/v1/events/{code}"), |_| true).await;
    eprintln!("replica B saw the intake after {waited:?}");
    // …in B's tiles (the event's point at z16)…
    let t = minqing_tiles::TileId::from_lonlat(lon, lat, 16).unwrap();
    let (s, _, tile) = call(
        &router_b,
        "GET",
        &format!("/tiles/events/16/{}/{}.mvt", t.x(), t.y()),
        &[],
        vec![],
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        tile.windows(code.len()).any(|w| w == code.as_bytes()),
        "the point is in B's tile"
    );
    // …and a step taken on B reaches A.
    let (s, _, resp) = call(
        &router_b,
        "POST",
        &format!("/api/v1/events/{code}/transitions"),
        &[("content-type", "application/json")],
        json!({"action": "escalate", "version": 1})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&resp));
    eventually(&router_a, &format!("/api/v1/events/{code}"), |v| {
        v["escalated"] == true
    })
    .await;
    assert_eq!(a.events().len(), b.events().len());

    // A replica that heard nothing (no follower yet) holds an old index; started from its
    // outbox position it catches up without reloading.
    let (c, router_c, after_c) = replica_of(&store).await;
    let router_c = as_leader(&c, router_c).await;
    let (s, _, resp) = call(
        &router_a,
        "POST",
        "/api/v1/events",
        &[("content-type", "application/json")],
        json!({"category": "petition", "source": "visitor", "title": "错过的通知", "lon": lon, "lat": lat})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(s, 201);
    let missed: Value = serde_json::from_slice(&resp).unwrap();
    let missed = missed["code"].as_str().unwrap().to_string();
    assert!(c.events().get(&missed).is_none());
    let last = replica::catch_up(&c, after_c).await.unwrap();
    assert!(last > after_c);
    assert!(
        c.events().get(&missed).is_some(),
        "caught up from the outbox"
    );
    let (s, _, _) = call(
        &router_c,
        "GET",
        &format!("/api/v1/events/{missed}"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(s, 200);
}

/// An alias added on one replica is used by the others' matcher and search without a
/// reload (a notification on the alias channel), and so is its removal.
#[tokio::test]
async fn alias_edits_reach_every_replica() {
    let TwoReplicas {
        _tmp,
        b,
        router_a,
        router_b,
        ..
    } = two_replicas().await;
    let road = {
        let ix = b.index().unwrap();
        (0..ix.buildings.len())
            .find_map(|i| ix.register.building(i)?.2.road.clone())
            .expect("a road")
    };
    let alias = "旧城大道";
    let found_by_alias = |v: &Value| {
        v["hits"]
            .as_array()
            .is_some_and(|hits| hits.iter().any(|h| h["label"] == road.as_str()))
    };
    let search = format!("/api/v1/search?q={}", crate::aliases::urlencode(alias));
    let (s, _, before) = call(&router_b, "GET", &search, &[], vec![]).await;
    assert_eq!(s, 200);
    assert!(!found_by_alias(&serde_json::from_slice(&before).unwrap()));

    let uri = format!(
        "/api/v1/address-aliases/{}",
        crate::aliases::urlencode(alias)
    );
    let body = json!({ "canonical": road }).to_string().into_bytes();
    let headers = [("content-type", "application/json")];
    let (s, _, resp) = call(&router_a, "PUT", &uri, &headers, body).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&resp));
    let waited = eventually(&router_b, &search, found_by_alias).await;
    eprintln!("replica B searched by the new alias after {waited:?}");

    let (s, _, _) = call(&router_a, "DELETE", &uri, &[], vec![]).await;
    assert_eq!(s, 204);
    eventually(&router_b, &search, |v| !found_by_alias(v)).await;
}
