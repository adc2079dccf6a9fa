//! Access control: the role matrix over every endpoint, scope escapes, tokens, lockout,
//! masking, encryption at rest on both stores, key rotation, the audit chain, and
//! hostile inputs.

use crate::support::{bearer, call, loaded_app, postgis_store, sqlite_store};
use minqing_domain::App;
use minqing_domain::auth::Role;
use minqing_domain::store::Store;
use std::collections::HashMap;
use std::path::Path;

/// Plain-text ID numbers and phones of the generated residents, by resident id (from
/// the import files, which are the only place they exist in plain text).
fn plaintext(district: &Path) -> HashMap<String, (String, String)> {
    let mut out = HashMap::new();
    for file in ["residents.csv", "residents-gbk.csv"] {
        let bytes = std::fs::read(district.join(file)).unwrap();
        let text = match std::str::from_utf8(&bytes) {
            Ok(t) => t.to_string(),
            Err(_) => encoding_rs::GBK.decode(&bytes).0.into_owned(),
        };
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let h = r.headers().unwrap().clone();
        let col = |n: &str| h.iter().position(|c| c == n).unwrap();
        let (id, idn, phone) = (col("id"), col("id_number"), col("phone"));
        for rec in r.records() {
            let rec = rec.unwrap();
            out.insert(
                rec[id].to_string(),
                (rec[idn].to_string(), rec[phone].to_string()),
            );
        }
    }
    out
}

/// A resident, its building and its grid, for every grid that has one.
async fn residents_by_grid(state: &App) -> Vec<(String, String, String)> {
    let rows: Vec<(String, Option<String>)> = match &state.store {
        Store::Sqlite(p) => sqlx::query_as(
            "SELECT r.id, COALESCE(u.building_code, b.code) FROM residents r \
             LEFT JOIN units u ON u.code = r.address_code LEFT JOIN buildings b ON b.code = r.address_code \
             ORDER BY r.id",
        )
        .fetch_all(p)
        .await
        .unwrap(),
        Store::Postgres(_) => unreachable!(),
    };
    let ix = state.index().unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (id, building) in rows {
        let Some(b) = building.and_then(|b| ix.building(&b).map(|e| (b, e.grid))) else {
            continue;
        };
        let Some(g) = b.1.map(|g| ix.areas[g as usize].area.code.clone()) else {
            continue;
        };
        if seen.insert(g.clone()) {
            out.push((id, b.0, g));
        }
    }
    out
}

struct Fixture {
    _tmp: tempfile::TempDir,
    state: App,
    router: axum::Router,
    plain: HashMap<String, (String, String)>,
    /// (resident, building, grid) in grid A and in grid B.
    a: (String, String, String),
    b: (String, String, String),
    tokens: Vec<(&'static str, Option<String>)>,
    /// An event in grid A and one in grid B (reported by the leader).
    event_a: String,
    event_b: String,
}

/// The leader reports an event at `building`; its code.
async fn report_at(router: &axum::Router, leader: &str, building: &str) -> String {
    let body = serde_json::json!({"category": "dispute", "source": "visitor",
        "title": "邻里噪音纠纷", "description": "三楼住户反映夜间噪音", "address_code": building});
    let (s, _, b) = call(
        router,
        "POST",
        "/api/v1/events",
        &[
            ("content-type", "application/json"),
            ("authorization", leader),
        ],
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&b));
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    v["code"].as_str().unwrap().to_string()
}

async fn fixture() -> Fixture {
    let (tmp, state, router, _) = loaded_app(0.01).await;
    let plain = plaintext(&tmp.path().join("district"));
    let by_grid = residents_by_grid(&state).await;
    assert!(by_grid.len() >= 2, "need residents in two grids");
    let (a, b) = (by_grid[0].clone(), by_grid[1].clone());
    let mut tokens = vec![("anonymous", None)];
    for (name, role) in [
        ("screen", Role::Screen),
        ("grid_worker", Role::GridWorker),
        ("mediator", Role::Mediator),
        ("leader", Role::Leader),
        ("admin", Role::Admin),
        ("reception", Role::Reception),
        ("risk_centre", Role::RiskCentre),
    ] {
        let grids = if role == Role::GridWorker {
            vec![a.2.clone()]
        } else {
            vec![]
        };
        let org = (role == Role::Mediator).then_some("some org");
        tokens.push((name, Some(bearer(&state, &router, role, &grids, org).await)));
    }
    let leader = tokens[4].1.clone().unwrap();
    let event_a = report_at(&router, &leader, &a.1).await;
    let event_b = report_at(&router, &leader, &b.1).await;
    Fixture {
        _tmp: tmp,
        state,
        router,
        plain,
        a,
        b,
        tokens,
        event_a,
        event_b,
    }
}

/// The tile (at `z`) holding a lon/lat point.
fn tile_of(lon: f64, lat: f64, z: u32) -> (u32, u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n) as u32;
    let y = ((1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n) as u32;
    (z, x, y)
}

async fn send(
    f: &Fixture,
    auth: Option<&str>,
    method: &str,
    uri: &str,
    body: &str,
) -> (u16, Vec<u8>) {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    let (s, _, b) = call(&f.router, method, uri, &headers, body.as_bytes().to_vec()).await;
    (s, b)
}

#[tokio::test]
async fn role_matrix_over_every_endpoint() {
    let f = fixture().await;
    let (res, building, _) = &f.a;
    let id_number = &f.plain[res].0;
    let lookup = format!("{{\"id_number\":\"{id_number}\"}}");
    let households = format!("/api/v1/buildings/{building}/households");
    let resident = format!("/api/v1/residents/{res}");
    let unmask = format!("/api/v1/residents/{res}/unmask");
    let (grid_a, grid_b) = (&f.a.2, &f.b.2);
    let (ev_a, ev_b) = (&f.event_a, &f.event_b);
    let event_a = format!("/api/v1/events/{ev_a}");
    let event_b = format!("/api/v1/events/{ev_b}");
    let step_a = format!("/api/v1/events/{ev_a}/transitions");
    let photo_a = format!("/api/v1/events/{ev_a}/photos/1");
    let list_b = format!("/api/v1/events?grid={grid_b}");
    let population_a = format!("/api/v1/analysis/population?area={grid_a}");
    let (lon, lat) = {
        let ix = f.state.index().unwrap();
        let b = ix.building(building).unwrap();
        (b.lon, b.lat)
    };
    let (z, x, y) = tile_of(lon, lat, 15);
    let buildings_tile = format!("/tiles/buildings/{z}/{x}/{y}.mvt");
    let events_tile = format!("/tiles/events/{z}/{x}/{y}.mvt");
    let heat_tile = format!("/heatmap/{z}/{x}/{y}.png");
    let reverse = format!("/api/v1/reverse?lon={lon}&lat={lat}");
    let intake = |building: &str| {
        serde_json::json!({"category": "consultation", "source": "grid_worker",
            "title": "政策咨询", "address_code": building})
        .to_string()
    };
    let (intake_a, intake_b) = (intake(building), intake(&f.b.1));
    // An account whose sessions the administrator may end (no one else may).
    minqing_domain::auth::users::create(
        &f.state.store,
        "wall-matrix",
        "test-password-1",
        Role::Screen,
        None,
        &[],
    )
    .await
    .unwrap();
    // Columns: anonymous, screen, grid_worker (grid A), mediator, leader, admin, reception,
    // risk_centre.
    let table: Vec<(&str, &str, &str, [u16; 8])> = vec![
        ("GET", "/healthz", "", [200; 8]),
        ("GET", "/metrics", "", [200; 8]),
        ("GET", "/api/openapi.json", "", [200; 8]),
        // Public aggregates (`public_aggregates`, on by default): counts, areas, the
        // aggregate map layers, the models, the address register.
        ("GET", "/api/v1/stats", "", [200; 8]),
        ("GET", "/api/v1/areas?level=grid", "", [200; 8]),
        ("GET", &population_a, "", [200; 8]),
        ("GET", "/api/v1/analysis/hotspots", "", [200; 8]),
        ("GET", "/api/v1/analysis/risk?level=grid", "", [200; 8]),
        // One building's score: readers of every event, grid workers in their grids
        // (an empty answer outside them), nobody else.
        (
            "GET",
            "/api/v1/analysis/risk?level=building",
            "",
            [401, 403, 200, 403, 200, 200, 200, 200],
        ),
        ("GET", "/api/v1/analysis/efficiency", "", [200; 8]),
        (
            "GET",
            "/api/v1/analysis/funnel?from=2025-01-01&to=2025-12-31",
            "",
            [200; 8],
        ),
        (
            "GET",
            "/api/v1/analysis/funnel?from=2025-13-01",
            "",
            [400; 8],
        ),
        ("GET", "/api/v1/search?q=%E8%B7%AF", "", [200; 8]),
        ("GET", &reverse, "", [200; 8]),
        (
            "POST",
            "/api/v1/geocode",
            "{\"addresses\":[\"人民路1号\"]}",
            [200; 8],
        ),
        ("GET", "/tiles/catalog", "", [200; 8]),
        ("GET", "/tiles/buildings.json", "", [200; 8]),
        ("GET", "/style.json", "", [200; 8]),
        ("GET", &buildings_tile, "", [200; 8]),
        // Everyone gets the events layer; what it carries differs (see below).
        ("GET", &events_tile, "", [200; 8]),
        ("GET", &heat_tile, "", [200; 8]),
        ("GET", "/open311/v2/services.json", "", [200; 8]),
        ("GET", "/open311/v2/requests.json", "", [200; 8]),
        // Event totals are aggregates; event records are not.
        ("GET", "/api/v1/events?limit=0", "", [200; 8]),
        (
            "GET",
            "/api/v1/events?limit=5",
            "",
            [401, 403, 200, 200, 200, 200, 200, 200],
        ),
        ("GET", &list_b, "", [401, 403, 403, 200, 200, 200, 200, 200]),
        (
            "GET",
            &event_a,
            "",
            [401, 403, 200, 403, 200, 200, 200, 200],
        ),
        (
            "GET",
            &event_b,
            "",
            [401, 403, 403, 403, 200, 200, 200, 200],
        ),
        // Version 0 is stale: a 409 shows the caller got past the access checks.
        (
            "POST",
            &step_a,
            "{\"action\":\"escalate\",\"version\":0}",
            [401, 403, 409, 403, 409, 403, 409, 409],
        ),
        (
            "GET",
            &photo_a,
            "",
            [401, 403, 404, 403, 404, 404, 404, 404],
        ),
        (
            "POST",
            "/api/v1/events",
            &intake_a,
            [401, 403, 201, 403, 201, 403, 201, 403],
        ),
        (
            "POST",
            "/api/v1/events",
            &intake_b,
            [401, 403, 403, 403, 201, 403, 201, 403],
        ),
        (
            "GET",
            "/api/v1/review?kind=residents",
            "",
            [401, 403, 403, 403, 200, 200, 403, 403],
        ),
        // The road-alias table: leaders and admins (a refused body is a 422 after the
        // role check).
        (
            "GET",
            "/api/v1/address-aliases",
            "",
            [401, 403, 403, 403, 200, 200, 403, 403],
        ),
        (
            "PUT",
            "/api/v1/address-aliases/%E6%97%A7%E8%B7%AF%E5%90%8D",
            "{\"canonical\":\"没有这条路\"}",
            [401, 403, 403, 403, 422, 422, 403, 403],
        ),
        (
            "DELETE",
            "/api/v1/address-aliases/%E6%97%A7%E8%B7%AF%E5%90%8D",
            "",
            [401, 403, 403, 403, 404, 404, 403, 403],
        ),
        (
            "GET",
            "/api/v1/auth/me",
            "",
            [401, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/users",
            "",
            [401, 403, 403, 403, 403, 200, 403, 403],
        ),
        (
            "GET",
            "/api/v1/audit",
            "",
            [401, 403, 403, 403, 403, 200, 403, 403],
        ),
        (
            "GET",
            "/api/v1/export/events.csv",
            "",
            [401, 403, 403, 403, 200, 200, 403, 403],
        ),
        (
            "GET",
            "/api/v1/export/areas.csv?level=grid",
            "",
            [401, 403, 403, 403, 200, 200, 403, 403],
        ),
        (
            "GET",
            &households,
            "",
            [401, 403, 200, 403, 200, 200, 403, 403],
        ),
        (
            "GET",
            &resident,
            "",
            [401, 403, 200, 403, 200, 200, 403, 403],
        ),
        (
            "POST",
            &unmask,
            "{\"reason\":\"court order 2024-17\"}",
            [401, 403, 403, 403, 200, 200, 403, 403],
        ),
        (
            "POST",
            "/api/v1/residents/lookup",
            &lookup,
            [401, 403, 200, 403, 200, 200, 403, 403],
        ),
        // The work of the closed loop (issue 20).
        (
            "GET",
            "/api/v1/tasks",
            "",
            [401, 403, 200, 200, 200, 403, 200, 200],
        ),
        (
            "GET",
            "/api/v1/assignees",
            "",
            [401, 403, 403, 403, 200, 403, 200, 200],
        ),
        // The screen's own alerts are the district's (scope=all).
        (
            "GET",
            "/api/v1/alerts",
            "",
            [401, 200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/alerts?scope=all",
            "",
            [401, 200, 403, 403, 200, 200, 403, 200],
        ),
        (
            "POST",
            "/api/v1/alerts/read",
            "{}",
            [401, 403, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/analysis/workload",
            "",
            [401, 403, 403, 403, 200, 200, 403, 403],
        ),
        // The six key-group lists (issue 22): the people for the grid's workers, leaders
        // and the risk centre; protected totals also for admins; visits by the grid and
        // the risk centre. An unknown record answers 404 to those who could see one.
        (
            "GET",
            "/api/v1/key-groups",
            "",
            [401, 403, 200, 403, 200, 403, 403, 200],
        ),
        (
            "GET",
            "/api/v1/key-groups/summary",
            "",
            [401, 403, 200, 403, 200, 200, 403, 200],
        ),
        (
            "GET",
            "/api/v1/key-groups/KG999999",
            "",
            [401, 403, 404, 403, 404, 403, 403, 404],
        ),
        (
            "POST",
            "/api/v1/key-groups/KG999999/visits",
            "{\"kind\":\"visit\",\"note\":\"入户走访\"}",
            [401, 403, 404, 403, 403, 403, 403, 404],
        ),
        (
            "POST",
            "/api/v1/users/wall-matrix/revoke-sessions",
            "",
            [401, 403, 403, 403, 403, 200, 403, 403],
        ),
        (
            "POST",
            "/api/v1/users/no-such-account/revoke-sessions",
            "",
            [401, 403, 403, 403, 403, 404, 403, 403],
        ),
    ];
    let mut failures = Vec::new();
    for (method, uri, body, expected) in &table {
        for ((role, token), want) in f.tokens.iter().zip(expected) {
            let (got, resp) = send(&f, token.as_deref(), method, uri, body).await;
            if got != *want {
                failures.push(format!(
                    "{method} {uri} as {role}: want {want}, got {got} {}",
                    String::from_utf8_lossy(&resp)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The OpenAPI document lists every endpoint of the table.
    let (_, doc) = send(&f, None, "GET", "/api/openapi.json", "").await;
    let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
    for p in [
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/auth/me",
        "/api/v1/users",
        "/api/v1/audit",
        "/api/v1/buildings/{code}/households",
        "/api/v1/residents/{id}",
        "/api/v1/residents/{id}/unmask",
        "/api/v1/residents/lookup",
        "/api/v1/export/events.csv",
        "/api/v1/export/areas.csv",
        "/api/v1/tasks",
        "/api/v1/assignees",
        "/api/v1/alerts",
        "/api/v1/alerts/read",
        "/api/v1/analysis/workload",
        "/api/v1/key-groups",
        "/api/v1/key-groups/summary",
        "/api/v1/key-groups/{id}",
        "/api/v1/key-groups/{id}/unmask",
        "/api/v1/key-groups/{id}/visits",
        "/api/v1/users/{username}/revoke-sessions",
        "/api/v1/analysis/funnel",
        "/api/v1/address-aliases",
        "/api/v1/address-aliases/{alias}",
    ] {
        assert!(doc["paths"][p].is_object(), "OpenAPI lists {p}");
    }
}

/// What each caller gets from the shared endpoints: event points only for those who may
/// see them, key-group figures only for roles allowed them, public aggregates closed
/// when the configuration says so; refusals and sign-ins in the audit log.
#[tokio::test]
async fn each_caller_sees_only_their_share() {
    let f = fixture().await;
    let token = |i: usize| f.tokens[i].1.as_deref();
    let (anon, screen, gw, mediator, leader) = (None, token(1), token(2), token(3), token(4));
    let (lon, lat) = {
        let ix = f.state.index().unwrap();
        let b = ix.building(&f.a.1).unwrap();
        (b.lon, b.lat)
    };
    // Event points carry their code: MVT keeps string values verbatim, so the code's
    // bytes are in a tile exactly when the event is drawn as a point.
    let (z, x, y) = tile_of(lon, lat, 16);
    let uri = format!("/tiles/events/{z}/{x}/{y}.mvt");
    let has_code = |bytes: &[u8]| {
        bytes
            .windows(f.event_a.len())
            .any(|w| w == f.event_a.as_bytes())
    };
    for (who, auth, sees) in [
        ("anonymous", anon, false),
        ("screen", screen, false),
        ("mediator of another organisation", mediator, false),
        ("grid worker of grid A", gw, true),
        ("leader", leader, true),
    ] {
        let (s, bytes) = send(&f, auth, "GET", &uri, "").await;
        assert_eq!(s, 200, "{who}");
        assert_eq!(has_code(&bytes), sees, "{who}: event point in {uri}");
    }
    // Key-group figures of grid A: withheld from the public and the screen.
    let uri = format!("/api/v1/analysis/population?area={}", f.a.2);
    for (who, auth, shown) in [
        ("anonymous", anon, false),
        ("screen", screen, false),
        ("mediator", mediator, false),
        ("grid worker of grid A", gw, true),
        ("leader", leader, true),
    ] {
        let (s, body) = send(&f, auth, "GET", &uri, "").await;
        assert_eq!(s, 200);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v["key_groups"]["by_group"].is_object(),
            shown,
            "{who}: {}",
            v["key_groups"]
        );
        assert_eq!(v["key_groups"]["withheld"].is_string(), !shown, "{who}");
    }
    // Open311 without a token: the request's public form, never its description.
    let uri = format!("/open311/v2/requests/{}.json", f.event_a);
    let (_, body) = send(&f, anon, "GET", &uri, "").await;
    let text = String::from_utf8_lossy(&body);
    assert!(
        !text.contains("夜间噪音") && text.contains(&f.event_a),
        "{text}"
    );
    let (_, body) = send(&f, leader, "GET", &uri, "").await;
    assert!(String::from_utf8_lossy(&body).contains("夜间噪音"));
    // Posting to Open311 needs an account with intake rights.
    let form = format!("service_code=dispute&lat={lat}&long={lon}&description=test");
    let post = |auth: Option<String>| {
        let (router, form) = (f.router.clone(), form.clone());
        async move {
            let mut h = vec![(
                "content-type",
                "application/x-www-form-urlencoded".to_string(),
            )];
            if let Some(a) = auth {
                h.push(("authorization", a));
            }
            let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            call(
                &router,
                "POST",
                "/open311/v2/requests.json",
                &h,
                form.into_bytes(),
            )
            .await
            .0
        }
    };
    assert_eq!(post(None).await, 401);
    assert_eq!(post(screen.map(str::to_string)).await, 403);
    assert_eq!(post(leader.map(str::to_string)).await, 201);
    // The spec's api_key field works as the token.
    let key = leader.unwrap().trim_start_matches("Bearer ");
    let (s, _, _) = call(
        &f.router,
        "POST",
        "/open311/v2/requests.json",
        &[("content-type", "application/x-www-form-urlencoded")],
        format!("{form}&api_key={key}").into_bytes(),
    )
    .await;
    assert_eq!(s, 201);

    // Closed public aggregates: the anonymous public is turned away, the screen is not.
    f.state.auth().set_public_aggregates(false);
    for uri in [
        "/api/v1/stats",
        "/tiles/catalog",
        "/api/v1/events?limit=0",
        "/open311/v2/requests.json",
    ] {
        assert_eq!(send(&f, anon, "GET", uri, "").await.0, 401, "{uri}");
        assert_eq!(send(&f, screen, "GET", uri, "").await.0, 200, "{uri}");
    }
    f.state.auth().set_public_aggregates(true);

    // A refused read of a personal record and every sign-in are in the audit log.
    let households_b = format!("/api/v1/buildings/{}/households", f.b.1);
    assert_eq!(send(&f, gw, "GET", &households_b, "").await.0, 403);
    let admin = token(5);
    let audit = |q: String| {
        let f = &f;
        async move {
            let (s, body) = send(f, admin, "GET", &format!("/api/v1/audit?{q}"), "").await;
            assert_eq!(s, 200);
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            v["entries"].as_array().cloned().unwrap_or_default()
        }
    };
    let denied = audit(format!("action=denied_read_households&target={}", f.b.1)).await;
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0]["role"], "grid_worker");
    let bad =
        serde_json::json!({"username": "nobody-here", "password": "wrong-password"}).to_string();
    let (s, _) = send(&f, None, "POST", "/api/v1/auth/login", &bad).await;
    assert_eq!(s, 401);
    assert_eq!(
        audit("action=login_failed&target=nobody-here".into())
            .await
            .len(),
        1
    );
    assert!(
        audit("action=login".into()).await.len() >= 5,
        "the fixture's sign-ins"
    );
    let chain = minqing_domain::audit::verify(&f.state.store).await.unwrap();
    assert!(chain.first_broken.is_none(), "{chain:?}");
}

#[tokio::test]
async fn grid_workers_cannot_escape_their_grid() {
    let f = fixture().await;
    let gw = f.tokens[2].1.as_deref();
    let (res_b, building_b, _) = &f.b;
    let (s, _) = send(
        &f,
        gw,
        "GET",
        &format!("/api/v1/buildings/{building_b}/households"),
        "",
    )
    .await;
    assert_eq!(s, 403);
    // A resident of another grid answers exactly like one who does not exist (the
    // refusal is still audited): the answer must not confirm that the person exists.
    let (s, body) = send(&f, gw, "GET", &format!("/api/v1/residents/{res_b}"), "").await;
    let (s0, body0) = send(&f, gw, "GET", "/api/v1/residents/R00000000", "").await;
    assert_eq!((s, s0), (404, 404));
    let text = |b: &[u8], id: &str| String::from_utf8_lossy(b).replace(id, "ID");
    assert_eq!(text(&body, res_b), text(&body0, "R00000000"));
    let (s, _) = send(
        &f,
        gw,
        "POST",
        &format!("/api/v1/residents/{res_b}/unmask"),
        "{\"reason\":\"just curious\"}",
    )
    .await;
    assert_eq!(
        s, 403,
        "grid workers may not unmask at all (a role refusal)"
    );
    // An ID number from another grid answers exactly like an unknown one.
    let other = format!("{{\"id_number\":\"{}\"}}", f.plain[res_b].0);
    let (s1, body1) = send(&f, gw, "POST", "/api/v1/residents/lookup", &other).await;
    let unknown = "{\"id_number\":\"11010519491231002X\"}";
    let (s2, body2) = send(&f, gw, "POST", "/api/v1/residents/lookup", unknown).await;
    assert_eq!((s1, s2), (404, 404));
    assert_eq!(body1, body2);
    // The leader sees both grids.
    let leader = f.tokens[4].1.as_deref();
    let (s, _) = send(&f, leader, "POST", "/api/v1/residents/lookup", &other).await;
    assert_eq!(s, 200);

    // Grid B's event: by code, by its grid, by a box around it, by its tile.
    let (s, _) = send(&f, gw, "GET", &format!("/api/v1/events/{}", f.event_b), "").await;
    assert_eq!(s, 403, "event of another grid by code");
    let (s, _) = send(&f, gw, "GET", &format!("/api/v1/events?grid={}", f.b.2), "").await;
    assert_eq!(s, 403, "events of another grid by grid filter");
    let (lon, lat) = {
        let ix = f.state.index().unwrap();
        let b = ix.building(building_b).unwrap();
        (b.lon, b.lat)
    };
    let bbox = format!(
        "/api/v1/events?bbox={},{},{},{}&limit=1000",
        lon - 0.001,
        lat - 0.001,
        lon + 0.001,
        lat + 0.001
    );
    for (who, auth, sees) in [("grid worker of A", gw, false), ("leader", leader, true)] {
        let (s, body) = send(&f, auth, "GET", &bbox, "").await;
        assert_eq!(s, 200, "{who}: a box is a list, filtered by scope");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let listed = v["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == f.event_b.as_str());
        assert_eq!(listed, sees, "{who}: event of grid B in a box around it");
        let (z, x, y) = tile_of(lon, lat, 16);
        let (s, tile) = send(
            &f,
            auth,
            "GET",
            &format!("/tiles/events/{z}/{x}/{y}.mvt"),
            "",
        )
        .await;
        assert_eq!(s, 200);
        let drawn = tile
            .windows(f.event_b.len())
            .any(|w| w == f.event_b.as_bytes());
        assert_eq!(drawn, sees, "{who}: event point of grid B in its tile");
    }
    // Open311 by id: only the public form of another grid's request.
    let (s, body) = send(
        &f,
        gw,
        "GET",
        &format!("/open311/v2/requests/{}.json", f.event_b),
        "",
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        !String::from_utf8_lossy(&body).contains("夜间噪音"),
        "Open311 shows a grid worker only the public form of another grid's request"
    );
}

#[tokio::test]
async fn tokens_tampered_expired_and_revoked() {
    let f = fixture().await;
    let token = f.tokens[1].1.clone().unwrap();
    let (s, _) = send(&f, Some(&token), "GET", "/api/v1/auth/me", "").await;
    assert_eq!(s, 200);
    // One character changed.
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [
        tampered.as_str(),
        "Bearer ",
        "Bearer x",
        "Basic YWRtaW46YWRtaW4=",
        "bearer abc",
        &token[7..],
    ] {
        let (s, _) = send(&f, Some(bad), "GET", "/api/v1/auth/me", "").await;
        assert_eq!(s, 401, "{bad}");
    }
    // Logout revokes this token only.
    let (s, _) = send(&f, Some(&token), "POST", "/api/v1/auth/logout", "").await;
    assert_eq!(s, 204);
    let (s, _) = send(&f, Some(&token), "GET", "/api/v1/auth/me", "").await;
    assert_eq!(s, 401);
    let leader = f.tokens[4].1.clone().unwrap();
    let (s, _) = send(&f, Some(&leader), "GET", "/api/v1/auth/me", "").await;
    assert_eq!(s, 200);
    // Expiry: eight hours later the session is gone.
    f.state.auth().advance_clock(8 * 3600 + 1);
    let (s, body) = send(&f, Some(&leader), "GET", "/api/v1/auth/me", "").await;
    assert_eq!(s, 401, "{}", String::from_utf8_lossy(&body));
    // The store keeps only hashes of tokens.
    let Store::Sqlite(p) = &f.state.store else {
        unreachable!()
    };
    let hashes: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM sessions")
        .fetch_all(p)
        .await
        .unwrap();
    assert!(!hashes.is_empty());
    assert!(
        hashes
            .iter()
            .all(|h| h.len() == 64 && !leader.contains(h.as_str()))
    );
    let me = String::from_utf8(send(&f, None, "GET", "/api/v1/auth/me", "").await.1).unwrap();
    assert!(me.contains("unauthorized"));
}

#[tokio::test]
async fn brute_force_is_locked_out() {
    let (_tmp, state, router, _) = loaded_app(0.01).await;
    minqing_domain::auth::users::create(
        &state.store,
        "victim",
        "right-password",
        Role::Leader,
        None,
        &[],
    )
    .await
    .unwrap();
    let try_login = |pw: &'static str| {
        let router = router.clone();
        async move {
            let body = format!("{{\"username\":\"victim\",\"password\":\"{pw}\"}}");
            call(
                &router,
                "POST",
                "/api/v1/auth/login",
                &[("content-type", "application/json")],
                body.into_bytes(),
            )
            .await
        }
    };
    for _ in 0..4 {
        assert_eq!(try_login("wrong").await.0, 401);
    }
    let (s, headers, _) = try_login("wrong").await;
    assert_eq!(s, 429);
    assert_eq!(headers["retry-after"], "900");
    // Locked even with the right password.
    assert_eq!(try_login("right-password").await.0, 429);
    state.auth().advance_clock(901);
    assert_eq!(try_login("right-password").await.0, 200);
    // Unknown users fail the same way and lock the same way (no account enumeration).
    let body = b"{\"username\":\"nobody\",\"password\":\"x\"}".to_vec();
    let (s, _, unknown) = call(&router, "POST", "/api/v1/auth/login", &[], body).await;
    let (_, _, wrong) = try_login("wrong").await;
    assert_eq!(s, 401);
    assert_eq!(unknown, wrong);
}

fn has_digit_run(s: &str, n: usize) -> bool {
    let mut run = 0;
    for c in s.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run >= n {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn output_is_masked_unless_unmasked_with_a_reason() {
    let f = fixture().await;
    let gw = f.tokens[2].1.as_deref();
    let (res, building, _) = &f.a;
    let (s, body) = send(
        &f,
        gw,
        "GET",
        &format!("/api/v1/buildings/{building}/households"),
        "",
    )
    .await;
    assert_eq!(s, 200);
    let text = String::from_utf8(body).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let members: Vec<&serde_json::Value> = v["households"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["members"].as_array().unwrap())
        .collect();
    assert!(!members.is_empty());
    for m in &members {
        // The member's own full ID number and phone appear nowhere in the response.
        let (full_id, full_phone) = &f.plain[m["id"].as_str().unwrap()];
        assert!(
            !text.contains(full_id.as_str()),
            "a full ID number in {text}"
        );
        assert!(
            full_phone.is_empty() || !text.contains(full_phone.as_str()),
            "a full phone"
        );
        let idn = m["id_number"].as_str().unwrap();
        assert_eq!(idn.len(), 18);
        assert_eq!(&idn[6..14], "********", "{idn}");
        assert!(m["name"].as_str().unwrap().contains('*'));
        if let Some(p) = m["phone"].as_str() {
            assert_eq!(&p[3..7], "****");
        }
        assert_eq!(m["masked"], true);
    }
    // Unmasking needs a reason (422 without), then reveals the stored values.
    let leader = f.tokens[4].1.as_deref();
    let uri = format!("/api/v1/residents/{res}/unmask");
    assert_eq!(
        send(&f, leader, "POST", &uri, "{\"reason\":\"  \"}")
            .await
            .0,
        422
    );
    assert_eq!(send(&f, leader, "POST", &uri, "{}").await.0, 400);
    let (s, body) = send(
        &f,
        leader,
        "POST",
        &uri,
        "{\"reason\":\"welfare check 17\"}",
    )
    .await;
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["id_number"], f.plain[res].0.as_str());
    assert_eq!(v["masked"], false);
    // The reason is in the audit log.
    let admin = f.tokens[5].1.as_deref();
    let (_, body) = send(&f, admin, "GET", "/api/v1/audit?action=unmask_resident", "").await;
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let e = &v["entries"][0];
    assert_eq!(e["target"], res.as_str());
    assert_eq!(e["reason"], "welfare check 17");
    assert_eq!(e["role"], "leader");
}

async fn assert_ciphertext(store: &Store, plain: &HashMap<String, (String, String)>) {
    let rows: Vec<(String, String, Option<String>, Option<String>)> = match store {
        Store::Sqlite(p) => {
            sqlx::query_as("SELECT id, id_number, phone, id_number_bidx FROM residents")
                .fetch_all(p)
                .await
                .unwrap()
        }
        Store::Postgres(p) => {
            sqlx::query_as("SELECT id, id_number, phone, id_number_bidx FROM residents")
                .fetch_all(p)
                .await
                .unwrap()
        }
    };
    assert!(rows.len() > 50);
    for (id, idn, phone, bidx) in &rows {
        assert!(idn.starts_with("enc1:") && !has_digit_run(idn, 11), "{idn}");
        if let Some(p) = phone {
            assert!(p.starts_with("enc1:") && !has_digit_run(p, 11), "{p}");
        }
        assert_eq!(bidx.as_ref().unwrap().len(), 64);
        assert_ne!(idn, &plain[id].0);
    }
}

#[tokio::test]
async fn both_stores_hold_ciphertext_lookup_works_and_rotation_rewrites_everything() {
    let (tmp, dir, _) = crate::support::district(0.01);
    let plain = plaintext(&dir);
    let sqlite = sqlite_store(tmp.path()).await;
    let pg = postgis_store().await;
    for store in [&sqlite, &pg] {
        minqing_domain::import::import_dir(store, &dir, &|_| {})
            .await
            .unwrap();
        assert_ciphertext(store, &plain).await;
        // Lookup through the API on this backend.
        let state = App::new(store.clone());
        state.set_index(minqing_domain::load_index(store).await.unwrap());
        let router = minqing_server::http::app(state.clone());
        let auth = bearer(&state, &router, Role::Leader, &[], None).await;
        let (rid, (idn, _)) = plain.iter().next().unwrap();
        let body = format!("{{\"id_number\":\"{idn}\"}}");
        let (s, _, resp) = call(
            &router,
            "POST",
            "/api/v1/residents/lookup",
            &[("authorization", &auth)],
            body.into_bytes(),
        )
        .await;
        assert_eq!(
            s,
            200,
            "{} on {}",
            String::from_utf8_lossy(&resp),
            store.backend()
        );
        let v: serde_json::Value = serde_json::from_slice(&resp).unwrap();
        assert!(
            v.as_array()
                .unwrap()
                .iter()
                .any(|r| r["id"] == rid.as_str())
        );
        // Rotation: everything opens with the new key only, lookups use the new index.
        let old = minqing_domain::personal::keys();
        let new = minqing_domain::personal::DataKeys::from_hex(&"5a".repeat(32)).unwrap();
        let n = minqing_domain::personal::rotate_keys(store, &old, &new)
            .await
            .unwrap();
        assert_eq!(n as i64, store.count("residents").await.unwrap());
        assert_ciphertext(store, &plain).await;
        let rows: Vec<(String, String, Option<String>)> = match store {
            Store::Sqlite(p) => {
                sqlx::query_as("SELECT id, id_number, id_number_bidx FROM residents")
                    .fetch_all(p)
                    .await
                    .unwrap()
            }
            Store::Postgres(p) => {
                sqlx::query_as("SELECT id, id_number, id_number_bidx FROM residents")
                    .fetch_all(p)
                    .await
                    .unwrap()
            }
        };
        for (id, enc, bidx) in rows {
            assert_eq!(new.decrypt("id_number", &id, &enc).unwrap(), plain[&id].0);
            assert!(old.decrypt("id_number", &id, &enc).is_err());
            assert_eq!(bidx.unwrap(), new.blind_index(&plain[&id].0));
        }
        // Rotating with the wrong old key changes nothing.
        assert!(
            minqing_domain::personal::rotate_keys(store, &old, &new)
                .await
                .is_err()
        );
    }
    // No plain ID number anywhere in the SQLite files (main file and WAL).
    sqlite.close().await;
    let mut bytes = Vec::new();
    for f in std::fs::read_dir(tmp.path()).unwrap() {
        let p = f.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("test.db")
        {
            bytes.extend(std::fs::read(&p).unwrap());
        }
    }
    for (idn, phone) in plain.values().take(200) {
        assert!(
            !bytes.windows(idn.len()).any(|w| w == idn.as_bytes()),
            "{idn} in the SQLite file"
        );
        if !phone.is_empty() {
            assert!(!bytes.windows(phone.len()).any(|w| w == phone.as_bytes()));
        }
    }
}

#[tokio::test]
async fn audit_chain_records_reads_and_detects_tampering() {
    let f = fixture().await;
    // The fixture's sign-ins are in the log already.
    let base = minqing_domain::audit::verify(&f.state.store)
        .await
        .unwrap()
        .entries as i64;
    let gw = f.tokens[2].1.as_deref();
    let (res, building, _) = &f.a;
    send(
        &f,
        gw,
        "GET",
        &format!("/api/v1/buildings/{building}/households"),
        "",
    )
    .await;
    send(&f, gw, "GET", &format!("/api/v1/residents/{res}"), "").await;
    let leader = f.tokens[4].1.as_deref();
    send(
        &f,
        leader,
        "POST",
        &format!("/api/v1/residents/{res}/unmask"),
        "{\"reason\":\"fire evacuation\"}",
    )
    .await;
    let admin = f.tokens[5].1.as_deref();
    let (s, body) = send(
        &f,
        admin,
        "GET",
        &format!("/api/v1/audit?limit=2&after_seq={base}"),
        "",
    )
    .await;
    assert_eq!(s, 200);
    let page: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["action"], "read_households");
    assert_eq!(entries[0]["target"], building.as_str());
    assert_eq!(entries[0]["client"], "unknown");
    assert_eq!(entries[1]["action"], "read_resident");
    assert_eq!(entries[1]["prev_hash"], entries[0]["hash"]);
    assert_eq!(page["next_after_seq"], base + 2);
    let v = minqing_domain::audit::verify(&f.state.store).await.unwrap();
    assert_eq!(v.entries as i64, base + 3);
    assert_eq!(v.first_broken, None);
    // Changing one entry's content breaks the chain at that entry.
    let Store::Sqlite(p) = &f.state.store else {
        unreachable!()
    };
    sqlx::query("UPDATE audit_log SET reason = 'routine' WHERE seq = $1")
        .bind(base + 3)
        .execute(p)
        .await
        .unwrap();
    let v = minqing_domain::audit::verify(&f.state.store).await.unwrap();
    assert_eq!(v.first_broken.map(|b| b.0), Some(base + 3));
    sqlx::query("UPDATE audit_log SET reason = 'fire evacuation' WHERE seq = $1")
        .bind(base + 3)
        .execute(p)
        .await
        .unwrap();
    assert_eq!(
        minqing_domain::audit::verify(&f.state.store)
            .await
            .unwrap()
            .first_broken,
        None
    );
    // Removing an entry is detected too.
    sqlx::query("DELETE FROM audit_log WHERE seq = 2")
        .execute(p)
        .await
        .unwrap();
    let v = minqing_domain::audit::verify(&f.state.store).await.unwrap();
    assert_eq!(v.first_broken.map(|b| b.0), Some(3));
}

#[tokio::test]
async fn hostile_inputs_get_4xx_and_change_nothing() {
    let f = fixture().await;
    let leader = f.tokens[4].1.clone().unwrap();
    let Store::Sqlite(p) = &f.state.store else {
        unreachable!()
    };
    let counts = || async {
        let mut v = Vec::new();
        // The audit log is not here: refused attempts are recorded (checked below).
        for t in ["residents", "users", "buildings"] {
            v.push(f.state.store.count(t).await.unwrap());
        }
        let sum: Vec<String> =
            sqlx::query_scalar("SELECT id_number FROM residents ORDER BY id LIMIT 50")
                .fetch_all(p)
                .await
                .unwrap();
        (v, sum)
    };
    let before = counts().await;
    let audit_before = f.state.store.count("audit_log").await.unwrap();
    // As long as a URI may be (http::Uri refuses 64 KiB and more).
    let huge = "9".repeat(30_000);
    let hostile_segments = [
        "1'%20OR%20'1'='1",
        "x%3BDROP%20TABLE%20residents",
        "..%2F..%2Fetc%2Fpasswd",
        "%2E%2E",
        "%FF%FE",
        "%00",
        huge.as_str(),
    ];
    let mut failures = Vec::new();
    for seg in hostile_segments {
        for (method, uri, body) in [
            (
                "GET",
                format!("/api/v1/buildings/{seg}/households"),
                String::new(),
            ),
            ("GET", format!("/api/v1/residents/{seg}"), String::new()),
            (
                "POST",
                format!("/api/v1/residents/{seg}/unmask"),
                "{\"reason\":\"hostile test\"}".to_string(),
            ),
            ("GET", format!("/api/v1/audit?actor={seg}"), String::new()),
            ("GET", format!("/api/v1/areas?level={seg}"), String::new()),
        ] {
            let (s, _, _) = call(
                &f.router,
                method,
                &uri,
                &[("authorization", &leader)],
                body.into_bytes(),
            )
            .await;
            if !(400..500).contains(&s) {
                failures.push(format!("{method} {} → {s}", &uri[..uri.len().min(80)]));
            }
        }
    }
    let admin = f.tokens[5].1.clone().unwrap();
    let (s, _, _) = call(
        &f.router,
        "GET",
        "/api/v1/audit?limit=999999999999",
        &[("authorization", &admin)],
        vec![],
    )
    .await;
    assert_eq!(s, 400);
    let (s, _, _) = call(
        &f.router,
        "GET",
        &format!("/api/v1/audit?actor={huge}"),
        &[("authorization", &admin)],
        vec![],
    )
    .await;
    assert_eq!(s, 400);
    let bodies: Vec<Vec<u8>> = vec![
        b"{\"id_number\":\"1' OR '1'='1\"}".to_vec(),
        b"{\"id_number\":\"../../etc/passwd\"}".to_vec(),
        format!("{{\"id_number\":\"{huge}\"}}").into_bytes(),
        vec![b'{', 0xFF, 0xFE, b'}'],
        b"{\"id_number\":\"\xFF\xFE\"}".to_vec(),
        b"{\"id_number\":12}".to_vec(),
        b"{\"id_number\":\"110105194912310021\",\"extra\":1}".to_vec(),
        b"[]".to_vec(),
        Vec::new(),
    ];
    for body in &bodies {
        let (s, _, _) = call(
            &f.router,
            "POST",
            "/api/v1/residents/lookup",
            &[("authorization", &leader)],
            body.clone(),
        )
        .await;
        if !(400..500).contains(&s) {
            failures.push(format!(
                "lookup body {:?} → {s}",
                String::from_utf8_lossy(&body[..body.len().min(40)])
            ));
        }
        let (s, _, _) = call(&f.router, "POST", "/api/v1/auth/login", &[], body.clone()).await;
        if !(400..500).contains(&s) {
            failures.push(format!("login body → {s}"));
        }
        let uri = format!("/api/v1/residents/{}/unmask", f.a.0);
        let (s, _, _) = call(
            &f.router,
            "POST",
            &uri,
            &[("authorization", &leader)],
            body.clone(),
        )
        .await;
        if !(400..500).contains(&s) {
            failures.push(format!("unmask body → {s}"));
        }
    }
    for login in [
        "{\"username\":\"admin' --\",\"password\":\"x\"}".to_string(),
        format!("{{\"username\":\"{huge}\",\"password\":\"{huge}\"}}"),
        "{\"username\":\"../../x\",\"password\":\"' OR 1=1 --\"}".to_string(),
    ] {
        let (s, _, _) = call(
            &f.router,
            "POST",
            "/api/v1/auth/login",
            &[],
            login.into_bytes(),
        )
        .await;
        if !(400..500).contains(&s) {
            failures.push(format!("login → {s}"));
        }
    }
    let (s, _, _) = call(
        &f.router,
        "GET",
        "/api/v1/auth/me",
        &[("authorization", &format!("Bearer {huge}"))],
        vec![],
    )
    .await;
    assert_eq!(s, 401);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(counts().await, before, "hostile requests changed the store");
    // All they added to the audit log is the record of their refusal.
    let added: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log WHERE seq > $1")
        .bind(audit_before)
        .fetch_all(p)
        .await
        .unwrap();
    for a in &added {
        assert!(
            a.starts_with("login_") || a.starts_with("denied_"),
            "{added:?}"
        );
    }
}

#[test]
fn key_group_suppression_is_five_everywhere() {
    use minqing_domain::personal::{KEY_GROUP_MIN_COUNT, suppress_key_group_count};
    // The constant is the analysis crate's, so both say 5.
    assert_eq!(KEY_GROUP_MIN_COUNT, 5);
    assert_eq!(suppress_key_group_count(0), None);
    assert_eq!(suppress_key_group_count(4), None);
    assert_eq!(suppress_key_group_count(5), Some(5));
    assert_eq!(suppress_key_group_count(1000), Some(1000));
}

/// Exports: leaders and admins only, each written to the audit log with its query,
/// event records without descriptions and within the filters, area figures that add up
/// to the district and never show a key-group count below 5.
#[tokio::test]
async fn exports_are_audited_minimal_and_suppressed() {
    let f = fixture().await;
    let leader = f.tokens[4].1.as_deref();
    let grid_a = &f.a.2;
    let uri = format!("/api/v1/export/events.csv?grid={grid_a}");
    let (s, body) = send(&f, leader, "GET", &uri, "").await;
    assert_eq!(s, 200);
    let mut csv = csv::Reader::from_reader(body.as_slice());
    let header = csv.headers().unwrap().clone();
    assert!(header.iter().any(|h| h == "title"));
    assert!(!header.iter().any(|h| h == "description"), "{header:?}");
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (code, grid) = (col("code"), col("grid"));
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
    assert!(rows.iter().any(|r| &r[code] == f.event_a.as_str()));
    assert!(
        rows.iter().all(|r| &r[grid] == grid_a.as_str()),
        "grid filter"
    );
    assert!(!rows.iter().any(|r| &r[code] == f.event_b.as_str()));
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("邻里噪音纠纷") && !text.contains("夜间噪音"));

    let (s, body) = send(&f, leader, "GET", "/api/v1/export/areas.csv?level=grid", "").await;
    assert_eq!(s, 200);
    let mut csv = csv::Reader::from_reader(body.as_slice());
    let header = csv.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (residents, key_groups) = (col("residents"), col("key_group_persons"));
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
    let grids = f
        .state
        .index()
        .unwrap()
        .areas
        .iter()
        .filter(|a| a.area.level == minqing_domain::model::AreaLevel::Grid)
        .count();
    assert_eq!(rows.len(), grids);
    let sum: u64 = rows
        .iter()
        .map(|r| r[residents].parse::<u64>().unwrap())
        .sum();
    let (_, district) = send(&f, leader, "GET", "/api/v1/analysis/population", "").await;
    let district: serde_json::Value = serde_json::from_slice(&district).unwrap();
    assert_eq!(Some(sum), district["residents"].as_u64());
    let mut shown = 0;
    for r in &rows {
        if !r[key_groups].is_empty() {
            assert!(r[key_groups].parse::<u32>().unwrap() >= 5, "{r:?}");
            shown += 1;
        }
    }
    assert!(
        shown < rows.len(),
        "small grids must be suppressed at this scale"
    );
    let (s, _) = send(
        &f,
        leader,
        "GET",
        "/api/v1/export/areas.csv?level=building",
        "",
    )
    .await;
    assert_eq!(s, 400);

    let admin = f.tokens[5].1.as_deref();
    for (action, target) in [
        ("export_events", format!("grid={grid_a}")),
        ("export_areas", "level=grid".to_string()),
    ] {
        let q = format!("/api/v1/audit?action={action}");
        let (s, body) = send(&f, admin, "GET", &q, "").await;
        assert_eq!(s, 200);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let entries = v["entries"].as_array().unwrap();
        assert!(
            entries
                .iter()
                .any(|e| e["target"] == target.as_str() && e["role"] == "leader"),
            "{action}: {entries:?}"
        );
    }
}

/// The live feed ends when its session is revoked: a signed-out caller stops receiving
/// records at once, not at the next reconnect.
#[tokio::test]
async fn the_event_stream_closes_when_its_session_is_revoked() {
    use tower::ServiceExt;
    let (_tmp, state, router, _) = crate::support::loaded_app(0.01).await;
    let auth = crate::support::bearer(
        &state,
        &router,
        minqing_domain::auth::Role::Leader,
        &[],
        None,
    )
    .await;
    let req = axum::http::Request::builder()
        .uri("/api/v1/events/stream")
        .header("authorization", &auth)
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut body = resp.into_body();
    let (status, _, _) = crate::support::call(
        &router,
        "POST",
        "/api/v1/auth/logout",
        &[("authorization", &auth)],
        vec![],
    )
    .await;
    assert_eq!(status, 204);
    // Keep-alives are 15 s apart: within 5 s the only way the body can end is the close.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match http_body_util::BodyExt::frame(&mut body).await {
                None => return true,
                Some(Err(_)) => return true,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert_eq!(
        ended,
        Ok(true),
        "the stream of a revoked session must close"
    );
}

/// The wall's kiosk session (the `screen` role) outlives an ordinary session by far,
/// and an administrator ends it at once: every request is refused, its live feed closes,
/// the act is audited.
async fn kiosk_session_lives_long_and_is_revoked(state: App, router: axum::Router) {
    minqing_domain::auth::users::create(
        &state.store,
        "wall",
        "wall-password-1",
        Role::Screen,
        None,
        &[],
    )
    .await
    .unwrap();
    let body = serde_json::json!({"username": "wall", "password": "wall-password-1"});
    let (s, _, resp) = call(
        &router,
        "POST",
        "/api/v1/auth/login",
        &[("content-type", "application/json")],
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&resp));
    let v: serde_json::Value = serde_json::from_slice(&resp).unwrap();
    assert_eq!(v["kiosk"], true);
    let lifetime = v["expires_at"].as_i64().unwrap() - state.auth().now();
    assert!(
        lifetime >= 89 * 86_400,
        "a kiosk session lives {lifetime} s"
    );
    let wall = format!("Bearer {}", v["token"].as_str().unwrap());
    let leader = bearer(&state, &router, Role::Leader, &[], None).await;
    let me = |auth: String| {
        let router = router.clone();
        async move {
            call(
                &router,
                "GET",
                "/api/v1/auth/me",
                &[("authorization", &auth)],
                vec![],
            )
            .await
            .0
        }
    };
    // A shift later the leader's session has ended, the wall's has not; nor a month on.
    state.auth().advance_clock(8 * 3600 + 1);
    assert_eq!(me(leader.clone()).await, 401);
    assert_eq!(me(wall.clone()).await, 200);
    state.auth().advance_clock(30 * 86_400);
    assert_eq!(me(wall.clone()).await, 200);
    // The wall's live feed, then the administrator ends the wall's sessions.
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .uri("/api/v1/events/stream")
        .header("authorization", &wall)
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut stream = resp.into_body();
    let admin = bearer(&state, &router, Role::Admin, &[], None).await;
    let (s, _, resp) = call(
        &router,
        "POST",
        "/api/v1/users/wall/revoke-sessions",
        &[("authorization", &admin)],
        vec![],
    )
    .await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&resp));
    let v: serde_json::Value = serde_json::from_slice(&resp).unwrap();
    assert_eq!(v["revoked"], 1, "{v}");
    assert_eq!(
        me(wall.clone()).await,
        401,
        "a revoked kiosk session is refused"
    );
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match http_body_util::BodyExt::frame(&mut stream).await {
                None | Some(Err(_)) => return true,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert_eq!(ended, Ok(true), "the revoked kiosk's stream must close");
    // Audited: who ended whose sessions.
    let (s, _, resp) = call(
        &router,
        "GET",
        "/api/v1/audit?action=revoke_sessions",
        &[("authorization", &admin)],
        vec![],
    )
    .await;
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_slice(&resp).unwrap();
    assert!(
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["target"] == "wall" && e["role"] == "admin"),
        "{v}"
    );
}

#[tokio::test]
async fn kiosk_sessions_on_sqlite() {
    let (_tmp, state, router, _) = loaded_app(0.01).await;
    kiosk_session_lives_long_and_is_revoked(state, router).await;
}

#[tokio::test]
async fn kiosk_sessions_on_postgis() {
    let (_tmp, dir, _) = crate::support::district(0.01);
    let store = postgis_store().await;
    minqing_domain::import::import_dir(&store, &dir, &|_| {})
        .await
        .unwrap();
    let state = App::new(store.clone());
    state.set_index(minqing_domain::load_index(&store).await.unwrap());
    let router = minqing_server::http::app(state.clone());
    kiosk_session_lives_long_and_is_revoked(state, router).await;
}
