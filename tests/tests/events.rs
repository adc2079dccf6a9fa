//! The closed loop: intake, the state machine, history, idempotency, optimistic
//! concurrency, deadlines, duplicates, photos, the live feed and Open311, on both stores.

use crate::support::{as_leader, call, district, loaded_app, postgis_store};
use minqing_domain::App;
use minqing_domain::events::{self, Role, TRANSITIONS, allowed};
use minqing_domain::model::{Event, STATUSES};
use minqing_server::http::app;
use serde_json::{Value, json};

/// A point inside the district (a building of the register), different per `i`.
fn point(state: &App, i: usize) -> (f64, f64) {
    let ix = state.index().unwrap();
    let b = &ix.buildings[(i * 7919) % ix.buildings.len()];
    (b.lon, b.lat)
}

async fn post_json(
    router: &axum::Router,
    uri: &str,
    body: &Value,
    key: Option<&str>,
) -> (u16, Value) {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(k) = key {
        headers.push(("idempotency-key", k));
    }
    let (s, _, b) = call(router, "POST", uri, &headers, body.to_string().into_bytes()).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

fn intake_body(state: &App, i: usize, category: &str) -> Value {
    let (lon, lat) = point(state, i);
    json!({"category": category, "source": "grid_worker", "title": format!("测试事项{i}"),
           "description": "楼上漏水", "lon": lon, "lat": lat})
}

async fn create(router: &axum::Router, body: &Value) -> Value {
    let (s, v) = post_json(router, "/api/v1/events", body, None).await;
    assert_eq!(s, 201, "{v}");
    v
}

async fn step(router: &axum::Router, code: &str, body: Value) -> (u16, Value) {
    post_json(
        router,
        &format!("/api/v1/events/{code}/transitions"),
        &body,
        None,
    )
    .await
}

async fn detail(router: &axum::Router, code: &str) -> Value {
    let (s, _, b) = call(
        router,
        "GET",
        &format!("/api/v1/events/{code}"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(s, 200);
    serde_json::from_slice(&b).unwrap()
}

/// History is complete: one step per version, numbered 1..=version, each step starting
/// where the previous one ended.
fn assert_history_complete(d: &Value) {
    let h = d["history"].as_array().unwrap();
    assert_eq!(h.len() as i64, d["version"].as_i64().unwrap(), "{d}");
    let mut status: Option<String> = None;
    for (i, s) in h.iter().enumerate() {
        assert_eq!(s["seq"], i as i64 + 1);
        assert_eq!(s["from"].as_str().map(str::to_string), status, "{s}");
        status = Some(s["to"].as_str().unwrap().to_string());
    }
    assert_eq!(status.as_deref(), d["status"].as_str());
}

#[test]
fn transition_table_by_role() {
    use Role::*;
    // (role, from, action, allowed)
    let cases = [
        (Leader, "accepted", "assign_mediation", true),
        (Admin, "accepted", "assign_mediation", false),
        (Mediator, "accepted", "assign_mediation", false),
        (GridWorker, "accepted", "assign_mediation", false),
        (GridWorker, "accepted", "resolve", true),
        (Mediator, "mediating", "resolve", true),
        (GridWorker, "mediating", "resolve", false),
        (Mediator, "mediating", "divert", true),
        (Mediator, "accepted", "divert", false),
        (Leader, "accepted", "divert", true),
        (Leader, "resolved", "close", true),
        (Leader, "diverted", "close", true),
        (Mediator, "resolved", "close", false),
        (GridWorker, "closed", "follow_up", true),
        (GridWorker, "followed_up", "follow_up", true),
        (GridWorker, "resolved", "follow_up", false),
        (GridWorker, "accepted", "escalate", true),
        (Leader, "closed", "escalate", false),
        (Leader, "mediating", "set_risk_tier", true),
        (GridWorker, "mediating", "set_risk_tier", false),
        (Admin, "closed", "close", false),
        (Admin, "accepted", "close", false),
        (Admin, "followed_up", "resolve", false),
    ];
    for (role, from, action, expect) in cases {
        assert_eq!(
            allowed(role, from, action).is_some(),
            expect,
            "{role:?} {from} {action}"
        );
    }
    for status in STATUSES {
        for a in events::actions() {
            assert!(
                allowed(Role::Screen, status, a).is_none(),
                "the screen only reads"
            );
        }
    }
    // Every rule's statuses exist; the leader may take every rule but the risk centre's
    // joint review, the administrator (accounts, not cases) none.
    for r in TRANSITIONS {
        for f in r.from {
            assert!(STATUSES.contains(f));
            // Joint reviews are the risk centre's alone.
            assert_eq!(
                allowed(Role::Leader, f, r.action).is_some(),
                r.action != "joint_review",
                "{} from {f}",
                r.action
            );
            assert!(allowed(Role::Admin, f, r.action).is_none());
        }
        if let Some(t) = r.to {
            assert!(STATUSES.contains(&t));
        }
    }
}

#[test]
fn overdue_and_deadlines() {
    let d = events::Deadlines::default();
    assert_eq!(d.days("dispute", "small"), 15);
    assert_eq!(d.days("dispute", "large"), 60);
    assert_eq!(d.days("public_safety", "medium"), 6);
    let mut e = Event {
        code: "5106032026000001".into(),
        category: "dispute".into(),
        source: "visitor".into(),
        status: "mediating".into(),
        risk_tier: "small".into(),
        title: "t".into(),
        description: String::new(),
        lon: 0.0,
        lat: 0.0,
        address_code: None,
        grid_code: "g".into(),
        reported_at: 1_000,
        deadline: d.deadline("dispute", "small", 1_000),
        mediation_org: None,
        diversion: None,
        resolved_by_mediation: false,
        escalated: false,
        closed_at: None,
        version: 1,
        updated_at: 1_000,
        ..Default::default()
    };
    assert_eq!(e.deadline, 1_000 + 15 * 86_400);
    assert!(!events::is_overdue(&e, e.deadline));
    assert!(events::is_overdue(&e, e.deadline + 1));
    e.status = "closed".into();
    assert!(
        !events::is_overdue(&e, e.deadline + 1),
        "closed matters are never overdue"
    );
}

/// Walk every path of the machine over HTTP and try every illegal action in each
/// status: 409 with the allowed actions listed.
async fn walk_the_machine(state: &App, router: &axum::Router) {
    let org = events::MEDIATION_ORGS[0];
    let paths: Vec<Vec<Value>> = vec![
        vec![
            json!({"action":"assign_mediation","org":org}),
            json!({"action":"resolve"}),
            json!({"action":"close"}),
            json!({"action":"follow_up","note":"回访一"}),
            json!({"action":"follow_up","note":"回访二"}),
        ],
        vec![
            json!({"action":"escalate"}),
            json!({"action":"assign_mediation","org":org}),
            json!({"action":"set_risk_tier","risk_tier":"large"}),
            json!({"action":"divert","kind":"litigation"}),
            json!({"action":"close"}),
        ],
        vec![
            json!({"action":"resolve"}),
            json!({"action":"close"}),
            json!({"action":"follow_up"}),
        ],
        vec![
            json!({"action":"divert","kind":"arbitration"}),
            json!({"action":"close"}),
        ],
    ];
    for (p, path) in paths.iter().enumerate() {
        let ev = create(router, &intake_body(state, 100 + p, "dispute")).await;
        let code = ev["code"].as_str().unwrap().to_string();
        assert_eq!(ev["status"], "accepted");
        assert_eq!(ev["version"], 1);
        let mut version = 1;
        for body in path {
            let d = detail(router, &code).await;
            let status = d["status"].as_str().unwrap().to_string();
            let allowed: Vec<String> =
                serde_json::from_value(d["allowed_actions"].clone()).unwrap();
            // Every action outside the allowed list is refused with the list.
            for a in events::actions() {
                if allowed.iter().any(|x| x == a) {
                    continue;
                }
                let (s, v) = step(
                    router,
                    &code,
                    json!({"action": a, "version": version, "org": org,
                    "kind": "arbitration", "risk_tier": "medium"}),
                )
                .await;
                if a == "joint_review" && s == 403 {
                    // Another role (the risk centre) may take it: not the leader's.
                    continue;
                }
                assert_eq!(s, 409, "{a} from {status}: {v}");
                assert_eq!(v["error"]["details"]["allowed"], json!(allowed), "{v}");
            }
            let mut body = body.clone();
            body["version"] = json!(version);
            let (s, v) = step(router, &code, body.clone()).await;
            assert_eq!(s, 200, "{body} from {status}: {v}");
            version += 1;
            assert_eq!(v["version"], version);
            // The same request again carries a stale version.
            let (s, v) = step(router, &code, body.clone()).await;
            assert_eq!(s, 409, "{v}");
            assert_eq!(v["error"]["details"]["current_version"], version);
        }
        let d = detail(router, &code).await;
        assert_history_complete(&d);
        let in_index = state.events().get(&code).cloned().unwrap();
        assert_eq!(in_index.version, version);
        assert_eq!(in_index.status, d["status"].as_str().unwrap());
    }
    // The outcomes of the first two paths.
    let list = call(
        router,
        "GET",
        "/api/v1/events?status=followed_up&limit=1000",
        &[],
        vec![],
    )
    .await;
    assert_eq!(list.0, 200);
}

#[tokio::test]
async fn every_transition_on_sqlite() {
    let (_tmp, state, router, _) = loaded_app(0.01).await;
    let router = as_leader(&state, router).await;
    walk_the_machine(&state, &router).await;
}

#[tokio::test]
async fn every_transition_and_idempotency_on_postgis() {
    let (_tmp, dir, _) = district(0.01);
    let store = postgis_store().await;
    minqing_domain::import::import_dir(&store, &dir, &|_| {})
        .await
        .unwrap();
    let state = App::new(store.clone());
    state.set_index(minqing_domain::load_index(&store).await.unwrap());
    let router = as_leader(&state, app(state.clone())).await;
    walk_the_machine(&state, &router).await;
    concurrent_retries(&state, &router).await;
    // Restart: the store alone gives back the same events.
    let reloaded = minqing_domain::load_index(&store).await.unwrap().1;
    assert_eq!(reloaded.len(), state.events().len());
}

/// Many parallel retries with one key make exactly one event.
async fn concurrent_retries(state: &App, router: &axum::Router) {
    let before = state.store.count("events").await.unwrap();
    let body = intake_body(state, 7, "petition");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (r, b) = (router.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            post_json(&r, "/api/v1/events", &b, Some("retry-key-1")).await
        }));
    }
    let mut codes = std::collections::HashSet::new();
    for t in tasks {
        let (s, v) = t.await.unwrap();
        assert_eq!(s, 201, "{v}");
        codes.insert(v["code"].as_str().unwrap().to_string());
    }
    assert_eq!(codes.len(), 1, "one code for every retry: {codes:?}");
    assert_eq!(state.store.count("events").await.unwrap(), before + 1);
    // Same key, another body.
    let mut other = body.clone();
    other["title"] = json!("别的事项");
    let (s, v) = post_json(router, "/api/v1/events", &other, Some("retry-key-1")).await;
    assert_eq!(s, 422, "{v}");
    // After its lifetime the key is free again: the purge removes it and the same key
    // with the other body makes a new event.
    let later = minqing_domain::time::system_now() + events::write::IDEMPOTENCY_TTL_S + 1;
    assert!(
        events::write::purge_idempotency(&state.store, later)
            .await
            .unwrap()
            >= 1
    );
    let (s, v) = post_json(router, "/api/v1/events", &other, Some("retry-key-1")).await;
    assert_eq!(s, 201, "{v}");
    assert!(!codes.contains(v["code"].as_str().unwrap()));
    // Parallel intakes without keys all get distinct codes.
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (r, b) = (router.clone(), intake_body(state, 300 + i, "consultation"));
        tasks.push(tokio::spawn(async move {
            post_json(&r, "/api/v1/events", &b, None).await
        }));
    }
    let mut codes = std::collections::HashSet::new();
    for t in tasks {
        let (s, v) = t.await.unwrap();
        assert_eq!(s, 201, "{v}");
        codes.insert(v["code"].as_str().unwrap().to_string());
    }
    assert_eq!(codes.len(), 12);
}

#[tokio::test]
async fn intake_validation_idempotency_duplicates_and_lists() {
    let (_tmp, state, router, m) = loaded_app(0.01).await;
    let router = as_leader(&state, router).await;
    concurrent_retries(&state, &router).await;

    // A place farther than the duplicate radius from the parallel intakes above (points
    // 300–311 are buildings too, and two buildings may stand in one compound).
    let here = (1..)
        .find(|&i| {
            (300..312).all(|j| events::distance_m(point(&state, i), point(&state, j)) > 100.0)
        })
        .unwrap();
    let body = intake_body(&state, here, "dispute");
    let first = create(&router, &body).await;
    let code = first["code"].as_str().unwrap();
    let year = minqing_domain::time::local_year(minqing_domain::time::system_now());
    assert!(
        code.starts_with(&format!("510603{year}")) && code.len() == 16,
        "{code}"
    );
    for level in ["grid", "community", "township"] {
        assert!(first[level]["code"].is_string(), "{level}: {first}");
    }
    assert_eq!(first["possible_duplicates"], json!([]));
    let second = create(&router, &body).await;
    let dups = second["possible_duplicates"].as_array().unwrap();
    assert!(dups.iter().any(|d| d["code"] == first["code"]), "{second}");
    // Another category at the same place is not a duplicate.
    let third = create(&router, &intake_body(&state, here, "consultation")).await;
    assert_eq!(third["possible_duplicates"], json!([]));

    // Large matters are escalated at intake (two history steps).
    let mut large = intake_body(&state, 2, "petition");
    large["risk_tier"] = json!("large");
    let v = create(&router, &large).await;
    assert_eq!(v["escalated"], true);
    assert_eq!(v["version"], 2);
    assert_history_complete(&detail(&router, v["code"].as_str().unwrap()).await);

    // Bad input.
    let (s, _, b) = call(
        &router,
        "POST",
        "/api/v1/events",
        &[("content-type", "application/json")],
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!(s, 400, "{}", String::from_utf8_lossy(&b));
    let mut outside = body.clone();
    outside["lon"] = json!(10.0);
    outside["lat"] = json!(10.0);
    let (s, v) = post_json(&router, "/api/v1/events", &outside, None).await;
    assert_eq!(s, 422, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("outside the district")
    );
    let mut wrong = body.clone();
    wrong["category"] = json!("noise");
    assert_eq!(
        post_json(&router, "/api/v1/events", &wrong, None).await.0,
        422
    );
    let mut unknown = body.clone();
    unknown["colour"] = json!("red");
    assert_eq!(
        post_json(&router, "/api/v1/events", &unknown, None).await.0,
        422
    );
    let big = json!({"category":"dispute","source":"visitor","title":"x","description":"长".repeat(40_000),"lon":0,"lat":0});
    assert_eq!(
        post_json(&router, "/api/v1/events", &big, None).await.0,
        413
    );
    let (s, _) = step(
        &router,
        "5106032099999999",
        json!({"action":"close","version":1}),
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = step(&router, code, json!({"action":"fly","version":1})).await;
    assert_eq!(s, 422);
    let (s, v) = step(
        &router,
        code,
        json!({"action":"assign_mediation","version":1,"org":"无名调解会"}),
    )
    .await;
    assert_eq!(s, 422, "{v}");

    // Lists: filters, paging, overdue (every open generated event is past its deadline by now).
    let (s, _, b) = call(
        &router,
        "GET",
        "/api/v1/events?limit=5&offset=0",
        &[],
        vec![],
    )
    .await;
    assert_eq!(s, 200);
    let all: Value = serde_json::from_slice(&b).unwrap();
    assert!(all["total"].as_u64().unwrap() as usize >= m.events + 5);
    assert_eq!(all["events"].as_array().unwrap().len(), 5);
    let (_, _, b) = call(
        &router,
        "GET",
        "/api/v1/events?overdue=true&limit=1000&from=2023-01-01&to=2025-01-01",
        &[],
        vec![],
    )
    .await;
    let overdue: Value = serde_json::from_slice(&b).unwrap();
    let n_open_generated = state
        .events()
        .events
        .iter()
        .filter(|e| {
            e.reported_at < 1_735_660_800 && !minqing_domain::model::is_closed_status(&e.status)
        })
        .count();
    assert_eq!(
        overdue["total"].as_u64().unwrap() as usize,
        n_open_generated
    );
    assert!(n_open_generated > 0);
    for e in overdue["events"].as_array().unwrap() {
        assert_eq!(e["overdue"], true);
        assert!(!matches!(
            e["status"].as_str(),
            Some("closed" | "followed_up")
        ));
    }
    let grid = first["grid"]["code"].as_str().unwrap();
    let (_, _, b) = call(
        &router,
        "GET",
        &format!("/api/v1/events?grid={grid}&category=dispute&status=accepted&limit=1000"),
        &[],
        vec![],
    )
    .await;
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert!(
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == first["code"])
    );
    for e in v["events"].as_array().unwrap() {
        assert_eq!(e["grid"]["code"], grid);
        assert_eq!(e["category"], "dispute");
    }
    for bad in [
        "bbox=1,2,3",
        "status=lost",
        "limit=-1",
        "limit=abc",
        "from=yesterday",
        "overdue=maybe",
        "category=x",
    ] {
        let (s, _, _) = call(
            &router,
            "GET",
            &format!("/api/v1/events?{bad}"),
            &[],
            vec![],
        )
        .await;
        assert_eq!(s, 400, "{bad}");
    }
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn photos_round_trip_and_rejections() {
    let (_tmp, state, router, _) = loaded_app(0.01).await;
    let router = as_leader(&state, router).await;
    let ev = create(&router, &intake_body(&state, 3, "public_safety")).await;
    let code = ev["code"].as_str().unwrap();
    let uri = format!("/api/v1/events/{code}/photos");
    let bytes = png(800, 400);
    let (s, _, b) = call(
        &router,
        "POST",
        &uri,
        &[("content-type", "image/png")],
        bytes.clone(),
    )
    .await;
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
    let v: Value = serde_json::from_slice(&b).unwrap();
    let (s, h, got) = call(&router, "GET", v["url"].as_str().unwrap(), &[], vec![]).await;
    assert_eq!(s, 200);
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(got, bytes);
    let (s, h, thumb) = call(&router, "GET", v["thumb"].as_str().unwrap(), &[], vec![]).await;
    assert_eq!(s, 200);
    assert_eq!(h["content-type"], "image/jpeg");
    let t = image::load_from_memory(&thumb).unwrap();
    assert_eq!((t.width(), t.height()), (320, 160));
    let d = detail(&router, code).await;
    assert_eq!(d["photos"].as_array().unwrap().len(), 1);
    // The photo is a step of the event's history (same status, new version).
    let last = d["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "attach_photo", "{d}");
    assert_eq!(last["from"], last["to"]);
    assert_history_complete(&d);

    let (s, _, _) = call(
        &router,
        "POST",
        &uri,
        &[("content-type", "image/png")],
        b"<?php echo 1; ?>".to_vec(),
    )
    .await;
    assert_eq!(s, 422);
    let (s, _, _) = call(
        &router,
        "POST",
        &uri,
        &[("content-type", "image/jpeg")],
        bytes.clone(),
    )
    .await;
    assert_eq!(s, 422, "a PNG declared as JPEG does not decode as JPEG");
    let (s, _, _) = call(
        &router,
        "POST",
        &uri,
        &[("content-type", "text/plain")],
        b"hello".to_vec(),
    )
    .await;
    assert_eq!(s, 415);
    let (s, _, b) = call(
        &router,
        "POST",
        &uri,
        &[("content-type", "image/png")],
        vec![0u8; 10 * 1024 * 1024 + 1],
    )
    .await;
    assert_eq!(s, 413, "{}", String::from_utf8_lossy(&b));
    let (s, _, _) = call(
        &router,
        "POST",
        "/api/v1/events/5106032099999999/photos",
        &[("content-type", "image/png")],
        bytes,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _, _) = call(
        &router,
        "GET",
        &format!("/api/v1/events/{code}/photos/999"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(s, 404);
    let (s, _, _) = call(
        &router,
        "GET",
        &format!("/api/v1/events/{code}/photos/..%2F..%2Fetc"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(s, 404);
}

/// Read SSE frames until `pred` holds for one message; returns (id, data) of it.
async fn read_until(
    body: &mut axum::body::Body,
    buf: &mut String,
    pred: impl Fn(&str) -> bool,
) -> (i64, Value) {
    use http_body_util::BodyExt;
    loop {
        while let Some(end) = buf.find("\n\n") {
            let msg: String = buf.drain(..end + 2).collect();
            let id = msg
                .lines()
                .find_map(|l| l.strip_prefix("id:"))
                .map(|s| s.trim().parse::<i64>().unwrap());
            let data = msg
                .lines()
                .find_map(|l| l.strip_prefix("data:"))
                .map(|s| s.trim().to_string());
            if let (Some(id), Some(data)) = (id, data)
                && pred(&data)
            {
                return (id, serde_json::from_str(&data).unwrap());
            }
        }
        let frame = tokio::time::timeout(std::time::Duration::from_secs(20), body.frame())
            .await
            .expect("the feed delivers within 20 s")
            .expect("stream open")
            .unwrap();
        if let Ok(d) = frame.into_data() {
            buf.push_str(&String::from_utf8_lossy(&d));
        }
    }
}

async fn open_feed(router: &axum::Router, last: Option<i64>) -> axum::body::Body {
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder().uri("/api/v1/events/stream");
    if let Some(l) = last {
        req = req.header("last-event-id", l.to_string());
    }
    let resp = router
        .clone()
        .oneshot(req.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    resp.into_body()
}

#[tokio::test]
async fn live_feed_and_replay() {
    let (_tmp, state, public, _) = loaded_app(0.01).await;
    let router = as_leader(&state, public.clone()).await;
    let mut body = open_feed(&router, None).await;
    // The same feed without a token (the large screen): each event's public form.
    let mut public_body = open_feed(&public, None).await;
    let ev = create(&router, &intake_body(&state, 4, "dispute")).await;
    let code = ev["code"].as_str().unwrap().to_string();
    let mut buf = String::new();
    let (id1, msg) = read_until(&mut body, &mut buf, |d| d.contains(&code)).await;
    assert_eq!(msg["change"], "created");
    assert_eq!(msg["event"]["code"], code.as_str());
    assert_eq!(msg["event"]["description"], "楼上漏水");
    let mut public_buf = String::new();
    let (public_id, msg) =
        read_until(&mut public_body, &mut public_buf, |d| d.contains(&code)).await;
    assert_eq!(public_id, id1);
    assert_eq!(msg["event"]["category"], "dispute");
    for private in ["title", "description", "address_code", "mediation_org"] {
        assert!(
            msg["event"].get(private).is_none(),
            "{private} in the public feed: {msg}"
        );
    }
    // The disclosure layer's public grain: the public cell's centre and the day.
    let (lon, lat) = (
        msg["event"]["lon"].as_f64().unwrap(),
        msg["event"]["lat"].as_f64().unwrap(),
    );
    assert_eq!(
        minqing_domain::disclosure::public_cell_centre(lon, lat),
        (lon, lat),
        "at a public cell's centre"
    );
    assert_eq!(msg["event"]["reported_at"].as_str().unwrap().len(), 10);
    drop(public_body);
    let (s, _) = step(&router, &code, json!({"action":"escalate","version":1})).await;
    assert_eq!(s, 200);
    let (id2, msg) = read_until(&mut body, &mut buf, |d| d.contains(&code)).await;
    assert!(id2 > id1);
    assert_eq!(msg["change"], "escalate");
    assert_eq!(msg["event"]["escalated"], true);
    drop(body);

    // A client that saw id1 reconnects and gets the escalation it missed, then a new one.
    let mut body = open_feed(&router, Some(id1)).await;
    let mut buf = String::new();
    let (id, msg) = read_until(&mut body, &mut buf, |_| true).await;
    assert_eq!(id, id2);
    assert_eq!(msg["change"], "escalate");
    let other = create(&router, &intake_body(&state, 5, "petition")).await;
    let (id3, msg) = read_until(&mut body, &mut buf, |_| true).await;
    assert!(id3 > id2);
    assert_eq!(msg["event"]["code"], other["code"]);
}

#[tokio::test]
async fn open311_conformance() {
    let (_tmp, state, router, _) = loaded_app(0.01).await;
    let router = as_leader(&state, router).await;
    let get = |uri: &'static str| {
        let r = router.clone();
        async move { call(&r, "GET", uri, &[], vec![]).await }
    };
    let (s, h, b) = get("/open311/v2/discovery.json").await;
    assert_eq!(s, 200);
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let d: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(
        d["endpoints"][0]["specification"],
        "http://wiki.open311.org/GeoReport_v2"
    );
    let (s, h, b) = get("/open311/v2/discovery.xml").await;
    assert_eq!(s, 200);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/xml"));
    assert!(
        String::from_utf8(b)
            .unwrap()
            .contains("<discovery><changeset>")
    );

    let (_, _, b) = get("/open311/v2/services.json").await;
    let services: Vec<Value> = serde_json::from_slice(&b).unwrap();
    assert_eq!(services.len(), 5);
    for s in &services {
        for f in [
            "service_code",
            "service_name",
            "description",
            "metadata",
            "type",
            "keywords",
            "group",
        ] {
            assert!(!s[f].is_null(), "{f} in {s}");
        }
        assert_eq!(s["type"], "realtime");
    }
    let (_, _, b) = get("/open311/v2/services.xml").await;
    let xml = String::from_utf8(b).unwrap();
    assert_eq!(xml.matches("<service>").count(), 5, "{xml}");
    assert!(xml.starts_with("<?xml") && xml.contains("<services>"));
    let (s, _, b) = get("/open311/v2/services/dispute.json").await;
    assert_eq!(s, 200);
    let def: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(def["service_code"], "dispute");
    assert_eq!(def["attributes"][0]["datatype"], "singlevaluelist");
    let (_, _, b) = get("/open311/v2/services/dispute.xml").await;
    assert!(
        String::from_utf8(b)
            .unwrap()
            .contains("<attributes><attribute>")
    );

    // Error format: [{code, description}] with the HTTP status, in both formats.
    let (s, _, b) = get("/open311/v2/services/noise.json").await;
    assert_eq!(s, 404);
    let e: Vec<Value> = serde_json::from_slice(&b).unwrap();
    assert_eq!(e[0]["code"], 404);
    assert!(e[0]["description"].is_string());
    let (s, _, b) = get("/open311/v2/requests/0000.xml").await;
    assert_eq!(s, 404);
    assert!(
        String::from_utf8(b)
            .unwrap()
            .contains("<errors><error><code>404</code><description>")
    );

    // POST per the spec: form-encoded.
    let (lon, lat) = point(&state, 9);
    let form = format!(
        "service_code=dispute&lat={lat}&long={lon}&address_string=%E5%BB%BA%E8%AE%BE%E8%B7%AF1%E5%8F%B7&description=%E9%82%BB%E9%87%8C%E5%99%AA%E9%9F%B3&attribute%5Brisk_tier%5D=medium&email=a%40b.example"
    );
    let (s, _, b) = call(
        &router,
        "POST",
        "/open311/v2/requests.json",
        &[("content-type", "application/x-www-form-urlencoded")],
        form.into_bytes(),
    )
    .await;
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
    let created: Vec<Value> = serde_json::from_slice(&b).unwrap();
    let id = created[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        created[0]
            .as_object()
            .unwrap()
            .contains_key("service_notice")
    );
    assert_eq!(state.events().get(&id).unwrap().risk_tier, "medium");
    let (s, _, b) = call(
        &router,
        "POST",
        "/open311/v2/requests.json",
        &[("content-type", "application/x-www-form-urlencoded")],
        b"service_code=dispute&description=x".to_vec(),
    )
    .await;
    assert_eq!(s, 400);
    let e: Vec<Value> = serde_json::from_slice(&b).unwrap();
    assert_eq!(e[0]["code"], 400);
    let (s, _, b) = call(
        &router,
        "POST",
        "/open311/v2/requests.xml",
        &[("content-type", "application/x-www-form-urlencoded")],
        format!("service_code=petition&lat={lat}&long={lon}").into_bytes(),
    )
    .await;
    assert_eq!(s, 201);
    assert!(
        String::from_utf8(b)
            .unwrap()
            .contains("<service_requests><request>")
    );

    let (s, _, b) = call(
        &router,
        "GET",
        &format!("/open311/v2/requests/{id}.json"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(s, 200);
    let r: Vec<Value> = serde_json::from_slice(&b).unwrap();
    let r = &r[0];
    assert_eq!(r["service_request_id"], id.as_str());
    assert_eq!(r["status"], "open");
    assert_eq!(r["service_code"], "dispute");
    for f in [
        "status_notes",
        "service_name",
        "description",
        "requested_datetime",
        "updated_datetime",
        "expected_datetime",
        "lat",
        "long",
    ] {
        assert!(!r[f].is_null(), "{f} in {r}");
    }
    assert!(
        minqing_domain::time::parse_instant(r["requested_datetime"].as_str().unwrap()).is_some()
    );
    let (_, _, b) = call(
        &router,
        "GET",
        &format!("/open311/v2/requests/{id}.xml"),
        &[],
        vec![],
    )
    .await;
    let xml = String::from_utf8(b).unwrap();
    assert!(
        xml.contains(&format!("<service_request_id>{id}</service_request_id>")),
        "{xml}"
    );
    assert!(xml.contains("<status>open</status>"));

    // Queries: generated history by dates and status; new ones by default window.
    let (s, _, b) = get("/open311/v2/requests.json?start_date=2024-01-01T00:00:00Z&end_date=2024-12-31T23:59:59Z&status=closed&service_code=dispute").await;
    assert_eq!(s, 200);
    let list: Vec<Value> = serde_json::from_slice(&b).unwrap();
    assert!(!list.is_empty());
    for r in &list {
        assert_eq!(r["status"], "closed");
        assert_eq!(r["service_code"], "dispute");
    }
    let (_, _, b) = get("/open311/v2/requests.json").await;
    let recent: Vec<Value> = serde_json::from_slice(&b).unwrap();
    assert!(
        recent
            .iter()
            .any(|r| r["service_request_id"] == id.as_str())
    );
    let (s, _, b) = get("/open311/v2/requests.json?status=pending").await;
    assert_eq!(s, 400);
    assert!(serde_json::from_slice::<Vec<Value>>(&b).is_ok());
    let (s, _, _) = get("/open311/v2/requests.xml?start_date=never").await;
    assert_eq!(s, 400);

    let (_, _, b) = get("/api/openapi.json").await;
    let doc: Value = serde_json::from_slice(&b).unwrap();
    for path in [
        "/api/v1/events",
        "/api/v1/events/{code}",
        "/api/v1/events/{code}/transitions",
        "/api/v1/events/stream",
        "/api/v1/events/{code}/photos",
        "/open311/v2/discovery.json",
        "/open311/v2/services.json",
        "/open311/v2/requests.json",
        "/open311/v2/requests/{service_request_id}.json",
    ] {
        assert!(doc["paths"][path].is_object(), "OpenAPI lists {path}");
    }
}

#[tokio::test]
async fn intake_by_free_text_address_is_geocoded() {
    let (_tmp, state, router, _) = loaded_app(0.01).await;
    let router = as_leader(&state, router).await;
    let (label, code, grid) = {
        let ix = state.index().unwrap();
        let b = &ix.buildings[ix.buildings.len() / 2];
        let grid = ix.areas[b.grid.unwrap() as usize].area.code.clone();
        (b.label.clone(), b.code.clone(), grid)
    };
    let body =
        json!({"category": "dispute", "source": "visitor", "title": "地址上报", "address": label});
    let (s, v) = post_json(&router, "/api/v1/events", &body, None).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["address_code"], code.as_str(), "{v}");
    assert_eq!(v["grid"]["code"], grid.as_str());
    // An address the matcher cannot place is refused with its candidates, not guessed.
    let body = json!({"category": "dispute", "source": "visitor", "title": "地址上报", "address": "火星殖民地一号楼"});
    let (s, v) = post_json(&router, "/api/v1/events", &body, None).await;
    assert_eq!(s, 422, "{v}");
    assert!(v["error"]["details"]["candidates"].is_array(), "{v}");
}

/// The one-map view's "events behind" a hot-spot cell or a risk building: the list by
/// H3 cell matches the hot-spot model's count for that cell, and the list by building
/// holds exactly the events whose address is that building or one of its units.
#[tokio::test]
async fn list_by_hotspot_cell_and_by_building() {
    let (_tmp, state, router, _m) = loaded_app(0.01).await;
    let router = as_leader(&state, router).await;
    let get = |uri: String| {
        let router = router.clone();
        async move {
            let (s, _, b) = call(&router, "GET", &uri, &[], vec![]).await;
            (
                s,
                serde_json::from_slice::<Value>(&b).unwrap_or(Value::Null),
            )
        }
    };
    let (s, hot) = get("/api/v1/analysis/hotspots".into()).await;
    assert_eq!(s, 200, "{hot}");
    let cell = hot["cells"]
        .as_array()
        .unwrap()
        .iter()
        .max_by(|a, b| {
            a["count"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["count"].as_f64().unwrap())
        })
        .unwrap();
    let id = cell["cell"].as_str().unwrap();
    // The model counts events (as a float: it may also sum weights).
    let count = cell["count"].as_f64().unwrap() as u64;
    assert!(count > 1, "the busiest cell has events: {cell}");
    let (s, v) = get(format!("/api/v1/events?cell={id}&limit=1000")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["total"].as_u64().unwrap(), count, "the cell's count");
    let h3: h3o::CellIndex = id.parse().unwrap();
    // The cell's centre comes with it (the large screen's tour flies there).
    let centre =
        h3o::LatLng::new(cell["lat"].as_f64().unwrap(), cell["lon"].as_f64().unwrap()).unwrap();
    assert_eq!(
        centre.to_cell(h3.resolution()),
        h3,
        "the centre lies in its cell"
    );
    for e in v["events"].as_array().unwrap() {
        let ll = h3o::LatLng::new(e["lat"].as_f64().unwrap(), e["lon"].as_f64().unwrap()).unwrap();
        assert_eq!(ll.to_cell(h3.resolution()), h3, "{e}");
    }
    // With another filter on top (a category) the total can only shrink.
    let (_, d) = get(format!("/api/v1/events?cell={id}&category=dispute&limit=0")).await;
    assert!(d["total"].as_u64().unwrap() <= count);

    // By building: the building of the first event with a register address.
    let ix = state.index().unwrap();
    let register = state.analysis.register(&ix);
    let (code, b) = state
        .events()
        .events
        .iter()
        .find_map(|e| {
            let b = *register.building_of_address.get(e.address_code.as_ref()?)?;
            Some((ix.buildings[b as usize].code.clone(), b))
        })
        .expect("an event at a register address");
    let expected = state
        .events()
        .events
        .iter()
        .filter(|e| {
            e.address_code
                .as_ref()
                .and_then(|c| register.building_of_address.get(c))
                == Some(&b)
        })
        .count();
    let (s, v) = get(format!("/api/v1/events?building={code}&limit=1000")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["total"].as_u64().unwrap() as usize, expected);
    assert!(expected >= 1);
    for e in v["events"].as_array().unwrap() {
        let at = register
            .building_of_address
            .get(e["address_code"].as_str().unwrap());
        assert_eq!(at, Some(&b), "{e}");
    }
    // Anonymous callers may ask for the total (an aggregate), not the records.
    let anonymous = app(state.clone());
    let (s, _, b) = call(
        &anonymous,
        "GET",
        &format!("/api/v1/events?cell={id}&limit=0"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(s, 200);
    let t: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(t["total"].as_u64().unwrap(), count);
    let (s, _, _) = call(
        &anonymous,
        "GET",
        &format!("/api/v1/events?cell={id}"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(s, 401);
    let (s, _) = get("/api/v1/events?cell=not-a-cell".into()).await;
    assert_eq!(s, 400);
    let (s, _) = get("/api/v1/events?building=NO-SUCH-BUILDING".into()).await;
    assert_eq!(s, 404);
}

/// The living demo changes the district only through the real write path: each tick
/// that did something left a stored event with a history step by the acting account,
/// and reports land inside the district with a building address.
#[tokio::test]
async fn the_living_demo_moves_events_through_the_write_path() {
    use minqing_domain::generate::live::{Tick, tick};
    use rand::SeedableRng;
    let (_tmp, state, router, _) = crate::support::loaded_app(0.01).await;
    let _ = crate::support::bearer(
        &state,
        &router,
        minqing_domain::auth::Role::Leader,
        &[],
        None,
    )
    .await;
    let caller = minqing_domain::auth::Caller {
        user_id: 1,
        username: "demo-leader".into(),
        display: "演示领导".into(),
        role: minqing_domain::auth::Role::Leader,
        grids: Default::default(),
        mediation_org: None,
        client: "test".into(),
        token_hash: String::new(),
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let before = state.events().len();
    let (mut reported, mut moved) = (Vec::new(), Vec::new());
    for _ in 0..40 {
        match tick(&mut rng, &state, &caller).await {
            Tick::Reported(code) => reported.push(code),
            Tick::Moved { code, action } => moved.push((code, action)),
            Tick::Nothing => {}
        }
    }
    assert!(
        !reported.is_empty() && !moved.is_empty(),
        "{reported:?} {moved:?}"
    );
    assert_eq!(state.events().len(), before + reported.len());
    for code in &reported {
        let stored = minqing_domain::events::write::event_by_code(&state.store, code)
            .await
            .unwrap()
            .expect("a reported event is stored");
        assert!(stored.address_code.is_some());
        assert!(!stored.grid_code.is_empty());
    }
    for (code, action) in &moved {
        let history = minqing_domain::events::write::history(&state.store, code)
            .await
            .unwrap();
        assert!(
            history
                .iter()
                .any(|s| s.action == *action && s.actor == "demo-leader"),
            "{code}: no {action} step by the demo in {history:?}"
        );
    }
}

/// A cleared form field (`supervised=`, `status=`) is no filter: the same answer as
/// without it, not a 400.
#[tokio::test]
async fn empty_list_parameters_are_no_filter() {
    let (_tmp, state, router, _) = crate::support::loaded_app(0.01).await;
    let leader = crate::support::as_leader(&state, router).await;
    let total = |uri: &'static str| {
        let leader = leader.clone();
        async move {
            let (s, _, b) = crate::support::call(&leader, "GET", uri, &[], vec![]).await;
            assert_eq!(s, 200, "{uri}: {}", String::from_utf8_lossy(&b));
            serde_json::from_slice::<serde_json::Value>(&b).unwrap()["total"]
                .as_u64()
                .unwrap()
        }
    };
    let all = total("/api/v1/events?limit=0").await;
    assert!(all > 0);
    let cleared =
        total("/api/v1/events?limit=0&supervised=&escalated=&status=&category=&owner=&from=&to=")
            .await;
    assert_eq!(cleared, all);
}

/// The screen's funnel counts a period's flow: of the events accepted in the period, how
/// many reached each stage, each stage at most the one before; a consultation settled
/// on the spot passes mediation without a mediator; a duplicate is in no stage.
#[tokio::test]
async fn the_funnel_counts_the_periods_flow() {
    let (tmp, state, router, m) = loaded_app(0.01).await;
    let router = as_leader(&state, router).await;
    let today = minqing_domain::time::today(state.clock.now());
    let funnel = |router: axum::Router, q: String| async move {
        let (s, _, b) = call(
            &router,
            "GET",
            &format!("/api/v1/analysis/funnel?{q}"),
            &[],
            vec![],
        )
        .await;
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
        serde_json::from_slice::<Value>(&b).unwrap()
    };
    let period = format!("from={today}&to={today}");
    let before = funnel(router.clone(), period.clone()).await;
    // Walk each event along `steps` (each at the event's current version).
    let walk = |steps: Vec<Value>, i: usize, category: &'static str| {
        let (router, body) = (router.clone(), intake_body(&state, 100 + i, category));
        async move {
            let v = create(&router, &body).await;
            let code = v["code"].as_str().unwrap().to_string();
            let mut version = v["version"].as_i64().unwrap();
            for mut s in steps {
                s["version"] = json!(version);
                let (st, v) = step(&router, &code, s.clone()).await;
                assert_eq!(st, 200, "{s}: {v}");
                version = v["version"].as_i64().unwrap();
            }
            code
        }
    };
    let mediate = || json!({"action": "assign_mediation", "org": events::MEDIATION_ORGS[0]});
    let resolve = || json!({"action": "resolve", "note": "调解成功"});
    let close = || json!({"action": "close", "satisfaction": "satisfied"});
    let first = walk(vec![], 0, "dispute").await;
    walk(vec![mediate()], 1, "dispute").await;
    walk(vec![mediate(), resolve()], 2, "dispute").await;
    walk(vec![resolve()], 3, "consultation").await;
    walk(
        vec![
            mediate(),
            json!({"action": "divert", "kind": "litigation", "note": "调解未果"}),
            close(),
        ],
        4,
        "dispute",
    )
    .await;
    walk(
        vec![
            mediate(),
            resolve(),
            close(),
            json!({"action": "follow_up", "visit_kind": "routine", "outcome": "矛盾已化解"}),
        ],
        5,
        "dispute",
    )
    .await;
    walk(
        vec![json!({"action": "mark_duplicate", "duplicate_of": first})],
        6,
        "dispute",
    )
    .await;
    let after = funnel(router.clone(), period.clone()).await;
    let added = |k: &str| after[k].as_i64().unwrap() - before[k].as_i64().unwrap();
    let stages = ["accepted", "mediation", "settled", "closed", "followed_up"];
    assert_eq!(
        stages.map(added),
        [6, 5, 4, 2, 1],
        "before {before}, after {after}"
    );
    assert_eq!(added("mediated"), 4);
    assert_eq!(added("duplicates"), 1);
    assert_eq!(after["window"]["from"], today);
    // Every stage at most the one before, in the seed's years as now.
    for q in [
        period,
        "from=2024-01-01&to=2024-12-31".to_string(),
        String::new(),
    ] {
        let f = funnel(router.clone(), q.clone()).await;
        let counts = stages.map(|k| f[k].as_i64().unwrap());
        assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{q}: {f}");
        assert!(counts[0] > 0, "{q}: {f}");
    }
    // The events of 2024 as they stood at the end of 2024, counted from the generated
    // history file: closed when a step took them to closed (or on to a follow-up)
    // before 2025.
    let f = funnel(router.clone(), "from=2024-01-01&to=2024-12-31".into()).await;
    assert_eq!(f["accepted"], m.events_2024);
    let (y2024, y2025) = (
        minqing_domain::generate::events::Y2024,
        minqing_domain::generate::events::Y2025,
    );
    let reported_2024: std::collections::HashSet<String> = state
        .events()
        .events
        .iter()
        .filter(|e| (y2024..y2025).contains(&e.reported_at))
        .map(|e| e.code.clone())
        .collect();
    let mut steps = csv::Reader::from_path(tmp.path().join("district/event_steps.csv")).unwrap();
    let header = steps.headers().unwrap().clone();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let (code, at, to) = (col("event_code"), col("at"), col("to_status"));
    let closed_in_2024: std::collections::HashSet<String> = steps
        .records()
        .map(Result::unwrap)
        .filter(|r| {
            reported_2024.contains(&r[code])
                && matches!(&r[to], "closed" | "followed_up")
                && r[at].parse::<i64>().unwrap() < y2025
        })
        .map(|r| r[code].to_string())
        .collect();
    assert_eq!(f["closed"], closed_in_2024.len());
    assert!(closed_in_2024.len() <= m.closed_2024);
    assert_eq!(f["duplicates"], 0);
}

/// A past period's funnel shows where its events stood at the period's end: an event
/// settled in the period and closed two days after it counts as settled, not closed,
/// for that period, and as closed for a period that takes in the closure.
#[tokio::test]
async fn the_funnel_of_a_past_period_reads_the_history() {
    let (_tmp, state, router, _) = loaded_app(0.01).await;
    // 2027-03-10 10:00 CST: after every generated event, so the period holds only ours.
    let day = minqing_domain::time::DAY;
    let t0 =
        minqing_domain::time::day_start(minqing_domain::time::parse_date("2027-03-10").unwrap())
            .unwrap()
            + 10 * 3600;
    state.clock.advance(t0 - state.clock.now());
    // One sign-in for the days the test moves the clock through.
    state.auth().set_ttl_secs(30 * day);
    let router = as_leader(&state, router).await;
    let funnel = |q: &'static str| {
        let router = router.clone();
        async move {
            let (s, _, b) = call(
                &router,
                "GET",
                &format!("/api/v1/analysis/funnel?{q}"),
                &[],
                vec![],
            )
            .await;
            assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
            let v: Value = serde_json::from_slice(&b).unwrap();
            [
                "accepted",
                "mediation",
                "settled",
                "closed",
                "followed_up",
                "mediated",
            ]
            .map(|k| v[k].as_i64().unwrap())
        }
    };
    let v = create(&router, &intake_body(&state, 900, "dispute")).await;
    let code = v["code"].as_str().unwrap().to_string();
    let mut version = v["version"].as_i64().unwrap();
    let take = |mut s: Value, version: i64| {
        let (router, code) = (router.clone(), code.clone());
        s["version"] = json!(version);
        async move {
            let (st, v) = step(&router, &code, s.clone()).await;
            assert_eq!(st, 200, "{s}: {v}");
            v["version"].as_i64().unwrap()
        }
    };
    version = take(
        json!({"action": "assign_mediation", "org": events::MEDIATION_ORGS[0]}),
        version,
    )
    .await;
    version = take(json!({"action": "resolve", "note": "调解成功"}), version).await;
    let day_one = "from=2027-03-10&to=2027-03-10";
    assert_eq!(funnel(day_one).await, [1, 1, 1, 0, 0, 1]);
    // Two days later: closed; the first day's answer does not change.
    state.clock.advance(2 * day);
    version = take(
        json!({"action": "close", "satisfaction": "satisfied"}),
        version,
    )
    .await;
    assert_eq!(funnel(day_one).await, [1, 1, 1, 0, 0, 1]);
    assert_eq!(
        funnel("from=2027-03-10&to=2027-03-12").await,
        [1, 1, 1, 1, 0, 1]
    );
    assert_eq!(funnel("from=2027-03-10").await, [1, 1, 1, 1, 0, 1]);
    // A follow-up a day later shows from that day on only.
    state.clock.advance(day);
    take(
        json!({"action": "follow_up", "visit_kind": "routine", "outcome": "矛盾已化解"}),
        version,
    )
    .await;
    assert_eq!(
        funnel("from=2027-03-10&to=2027-03-12").await,
        [1, 1, 1, 1, 0, 1]
    );
    assert_eq!(
        funnel("from=2027-03-10&to=2027-03-13").await,
        [1, 1, 1, 1, 1, 1]
    );
}

/// The list reads packed keys in time order instead of the records; for every filter
/// and every kind of caller its page, total and counts must be what a scan of every
/// record through `Filter::matches` and the caller's scope gives, also after events
/// moved on, changed owner and had their report time corrected.
#[tokio::test]
async fn the_list_answers_as_a_scan_of_every_record() {
    use minqing_domain::auth::{Access, Caller};
    use minqing_domain::events::query::{self, Counts, Filter, ListParams};
    use std::sync::Arc;
    let (_tmp, state, _router, _) = loaded_app(0.02).await;
    let (township, grid, org, owner) = {
        let ix = state.index().unwrap();
        let events = state.events();
        let e = &events.events[events.len() / 2];
        let township = ix
            .area(&e.grid_code)
            .map(|g| ix.ancestors(g))
            .and_then(|a| {
                a.iter()
                    .find(|a| a.area.level == minqing_domain::model::AreaLevel::Township)
                    .map(|a| a.area.code.clone())
            })
            .expect("a township");
        let org = events
            .events
            .iter()
            .find_map(|e| e.mediation_org.clone())
            .expect("a mediation organisation");
        let owner = events
            .events
            .iter()
            .find_map(|e| e.owner.clone())
            .expect("an owner");
        (township, e.grid_code.clone(), org, owner)
    };
    // Some events move on, change hands, and one has its report time corrected.
    let changed: Vec<Event> = {
        let events = state.events();
        events.events.iter().step_by(97).take(8).cloned().collect()
    };
    for (i, mut e) in changed.into_iter().enumerate() {
        e.status = STATUSES[i % STATUSES.len()].into();
        e.owner = Some(if i % 2 == 0 {
            "u".into()
        } else {
            owner.clone()
        });
        if i == 3 {
            e.reported_at -= 40 * 86_400;
        }
        e.version += 1;
        state.events_mut().upsert(e);
    }
    let signed = |role: Role, grids: &[&str], org: Option<&str>| {
        Access::Signed(Caller {
            user_id: 1,
            username: "u".into(),
            display: "u".into(),
            role,
            grids: Arc::new(grids.iter().map(|g| g.to_string()).collect()),
            mediation_org: org.map(str::to_string),
            client: "test".into(),
            token_hash: String::new(),
        })
    };
    let callers = [
        signed(Role::Leader, &[], None),
        signed(Role::Reception, &[], None),
        signed(Role::GridWorker, &[grid.as_str()], None),
        signed(Role::Mediator, &[], Some(org.as_str())),
    ];
    let owner_param = owner.clone();
    let params: Vec<ListParams> = vec![
        ListParams::default(),
        ListParams {
            status: Some("accepted,mediating,resolved,diverted"),
            ..Default::default()
        },
        ListParams {
            category: Some("dispute"),
            ..Default::default()
        },
        ListParams {
            source: Some("visitor,grid_worker"),
            ..Default::default()
        },
        ListParams {
            overdue: Some("true"),
            ..Default::default()
        },
        ListParams {
            overdue: Some("false"),
            status: Some("mediating"),
            ..Default::default()
        },
        ListParams {
            owner: Some(&owner_param),
            ..Default::default()
        },
        ListParams {
            owner: Some("me"),
            ..Default::default()
        },
        ListParams {
            owner: Some("nobody-has-this-name"),
            ..Default::default()
        },
        ListParams {
            grid: Some(&township),
            ..Default::default()
        },
        ListParams {
            grid: Some(&grid),
            category: Some("dispute"),
            ..Default::default()
        },
        ListParams {
            risk_tier: Some("medium,large"),
            escalated: Some("false"),
            ..Default::default()
        },
        ListParams {
            supervised: Some("true"),
            ..Default::default()
        },
        ListParams {
            from: Some("2024-03-01"),
            to: Some("2024-03-31"),
            ..Default::default()
        },
        ListParams {
            from: Some("2025-01-01"),
            status: Some("closed,followed_up"),
            source: Some("visitor"),
            ..Default::default()
        },
        ListParams {
            unit: Some(&org),
            ..Default::default()
        },
    ];
    let mut nonempty = 0;
    for access in &callers {
        for p in &params {
            if let (Some(c), Some(area)) = (access.caller(), p.grid)
                && c.role.grid_scoped()
                && !c.can_see_grid(area)
            {
                // A grid worker naming an area beyond its grids is refused, not filtered.
                let refused = query::list(&state, access, p, 20, 5);
                assert!(
                    matches!(refused, Err(minqing_domain::Error::Forbidden(_))),
                    "{p:?}"
                );
                continue;
            }
            let (page, want, want_counts) = loop {
                let now = state.clock.now();
                let page = query::list(&state, access, p, 20, 5).unwrap();
                let filter = Filter::parse_for(p, Some("u")).unwrap();
                let ix = state.index().unwrap();
                let grids = filter.area_grids(&ix);
                let events = state.events();
                let mut all: Vec<&Event> = events
                    .events
                    .iter()
                    .filter(|e| access.can_see(e) && filter.matches(e, grids.as_ref(), now, None))
                    .collect();
                all.sort_by(|x, y| {
                    y.reported_at
                        .cmp(&x.reported_at)
                        .then_with(|| y.code.cmp(&x.code))
                });
                let want: Vec<String> = all.iter().map(|e| e.code.clone()).collect();
                let counts = Counts::of(all.iter().copied(), now);
                // A second boundary between the two reads may move an overdue count.
                if state.clock.now() == now {
                    break (page, want, counts);
                }
            };
            let role = access.caller().map(|c| c.role);
            assert_eq!(page.total, want.len(), "{role:?} {p:?}");
            let codes: Vec<String> = page.events.iter().map(|e| e.code.clone()).collect();
            let expected: Vec<String> = want.iter().skip(5).take(20).cloned().collect();
            assert_eq!(codes, expected, "{role:?} {p:?}");
            assert_eq!(page.counts, want_counts, "{role:?} {p:?}");
            nonempty += usize::from(!want.is_empty());
        }
    }
    assert!(
        nonempty >= callers.len() * params.len() / 2,
        "too few filters matched anything ({nonempty}) to compare"
    );
}
