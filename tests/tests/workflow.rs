//! The closed loop worked by every role (issue 20), on both stores: ownership at intake,
//! every role × every new action (allowed / 403 / 409 stale / 422 bad fields), history
//! completeness, duplicates, alerts for the owner only (the list, read marks and the live
//! feed), each role's tasks, the list's counts against a brute-force count and model 5
//! per owner against a brute-force computation.

use crate::support::{call, district, loaded_app, postgis_store};
use minqing_domain::App;
use minqing_domain::auth::Role;
use minqing_domain::events::{self, MEDIATION_ORGS};
use minqing_domain::model::{Event, is_closed_status};
use minqing_server::http::app;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

/// One signed-in account of the test.
#[derive(Clone)]
struct Account {
    username: String,
    auth: String,
    role: Role,
}

/// Create an account with a known username and sign it in.
async fn account(
    state: &App,
    router: &axum::Router,
    role: Role,
    grids: &[String],
    org: Option<&str>,
) -> Account {
    static N: AtomicUsize = AtomicUsize::new(0);
    let username = format!("w-{}-{}", role.as_str(), N.fetch_add(1, Ordering::SeqCst));
    let password = "test-password-1";
    minqing_domain::auth::users::create(&state.store, &username, password, role, org, grids)
        .await
        .expect("create account");
    let body = json!({"username": username, "password": password}).to_string();
    let (s, _, b) = call(
        router,
        "POST",
        "/api/v1/auth/login",
        &[("content-type", "application/json")],
        body.into_bytes(),
    )
    .await;
    assert_eq!(s, 200, "login: {}", String::from_utf8_lossy(&b));
    let v: Value = serde_json::from_slice(&b).unwrap();
    Account {
        username,
        auth: format!("Bearer {}", v["token"].as_str().unwrap()),
        role,
    }
}

async fn send(
    router: &axum::Router,
    who: &Account,
    method: &str,
    uri: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut headers = vec![("authorization", who.auth.as_str())];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let (s, _, b) = call(router, method, uri, &headers, bytes).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

async fn get(router: &axum::Router, who: &Account, uri: &str) -> Value {
    let (s, v) = send(router, who, "GET", uri, None).await;
    assert_eq!(s, 200, "GET {uri} as {}: {v}", who.username);
    v
}

async fn step(router: &axum::Router, who: &Account, code: &str, body: Value) -> (u16, Value) {
    send(
        router,
        who,
        "POST",
        &format!("/api/v1/events/{code}/transitions"),
        Some(&body),
    )
    .await
}

/// Take a step that must succeed; returns the event after it.
async fn ok_step(router: &axum::Router, who: &Account, code: &str, mut body: Value) -> Value {
    let d = get(router, who, &format!("/api/v1/events/{code}")).await;
    body["version"] = d["version"].clone();
    let (s, v) = step(router, who, code, body.clone()).await;
    assert_eq!(s, 200, "{body} as {}: {v}", who.username);
    v
}

/// The whole cast: one account per role, grid workers of two grids.
struct Cast {
    screen: Account,
    grid_a: Account,
    grid_b: Account,
    mediator: Account,
    leader: Account,
    admin: Account,
    reception: Account,
    risk: Account,
    /// The grids of the two grid workers and a building in each.
    a: (String, String),
    b: (String, String),
}

impl Cast {
    /// Every role once, in the order of `Role::ALL`.
    fn all(&self) -> Vec<&Account> {
        vec![
            &self.screen,
            &self.grid_a,
            &self.mediator,
            &self.leader,
            &self.admin,
            &self.reception,
            &self.risk,
        ]
    }
}

async fn cast(state: &App, router: &axum::Router) -> Cast {
    let (a, b) = {
        let ix = state.index().unwrap();
        let grid_of = |b: &minqing_domain::index::BuildingEntry| {
            ix.grid_at(b.lon, b.lat).map(|g| g.area.code.clone())
        };
        let first = ix
            .buildings
            .iter()
            .find(|b| grid_of(b).is_some())
            .expect("a building");
        let ga = grid_of(first).unwrap();
        let other = ix
            .buildings
            .iter()
            .find(|b| grid_of(b).is_some_and(|g| g != ga))
            .expect("two grids");
        (
            (ga, first.code.clone()),
            (grid_of(other).unwrap(), other.code.clone()),
        )
    };
    let org = MEDIATION_ORGS[0];
    Cast {
        screen: account(state, router, Role::Screen, &[], None).await,
        grid_a: account(
            state,
            router,
            Role::GridWorker,
            std::slice::from_ref(&a.0),
            None,
        )
        .await,
        grid_b: account(
            state,
            router,
            Role::GridWorker,
            std::slice::from_ref(&b.0),
            None,
        )
        .await,
        mediator: account(state, router, Role::Mediator, &[], Some(org)).await,
        leader: account(state, router, Role::Leader, &[], None).await,
        admin: account(state, router, Role::Admin, &[], None).await,
        reception: account(state, router, Role::Reception, &[], None).await,
        risk: account(state, router, Role::RiskCentre, &[], None).await,
        a,
        b,
    }
}

/// Take in an event at `building` as `who`.
async fn intake(
    router: &axum::Router,
    who: &Account,
    building: &str,
    category: &str,
    source: &str,
    tier: &str,
    title: &str,
) -> Value {
    let body = json!({"category": category, "source": source, "title": title,
        "description": "当事人张某某，电话 139…", "address_code": building, "risk_tier": tier});
    let (s, v) = send(router, who, "POST", "/api/v1/events", Some(&body)).await;
    assert_eq!(s, 201, "intake as {}: {v}", who.username);
    v
}

/// History is complete: one step per version, each step naming its actor, action and
/// change, the statuses chained.
fn assert_history_complete(d: &Value) {
    let h = d["history"].as_array().unwrap();
    assert_eq!(h.len() as i64, d["version"].as_i64().unwrap(), "{d}");
    let mut status: Option<String> = None;
    for (i, s) in h.iter().enumerate() {
        assert_eq!(s["seq"], i as i64 + 1);
        assert_eq!(s["from"].as_str().map(str::to_string), status, "{s}");
        assert!(!s["actor"].as_str().unwrap().is_empty(), "{s}");
        assert!(
            !s["note"].as_str().unwrap().is_empty(),
            "a step names its change: {s}"
        );
        status = Some(s["to"].as_str().unwrap().to_string());
    }
    assert_eq!(status.as_deref(), d["status"].as_str());
}

fn code_of(v: &Value) -> String {
    v["code"].as_str().unwrap().to_string()
}

/// A fresh event in grid A brought (by the leader) to where `action` can be taken.
async fn prepared(router: &axum::Router, c: &Cast, action: &str, n: usize) -> String {
    let (category, tier) = match action {
        "set_case_leader" => ("dispute", "large"),
        "joint_review" => ("dispute", "medium"),
        "resolve" => ("consultation", "small"),
        _ => ("dispute", "small"),
    };
    let ev = intake(
        router,
        &c.leader,
        &c.a.1,
        category,
        "visitor",
        tier,
        &format!("{action} 事项 {n}"),
    )
    .await;
    let code = code_of(&ev);
    match action {
        // Through the mediator's organisation, so the mediator may visit it too.
        "follow_up" => {
            ok_step(
                router,
                &c.leader,
                &code,
                json!({"action": "assign_mediation", "org": MEDIATION_ORGS[0]}),
            )
            .await;
            ok_step(router, &c.leader, &code, json!({"action": "resolve"})).await;
            ok_step(router, &c.leader, &code, json!({"action": "close"})).await;
        }
        "close" => {
            ok_step(router, &c.leader, &code, json!({"action": "resolve"})).await;
        }
        _ => {}
    }
    code
}

/// A valid body of each new or extended action.
fn body_of(action: &str, c: &Cast, other: &str) -> Value {
    let tomorrow = minqing_domain::time::format_date(minqing_domain::time::system_now() + 86_400);
    match action {
        "assign" => json!({"action": "assign", "owner": c.grid_a.username}),
        "assign_mediation" => json!({"action": "assign_mediation", "org": MEDIATION_ORGS[1]}),
        "set_case_leader" => json!({"action": "set_case_leader", "leader": "区委副书记"}),
        "joint_review" => {
            json!({"action": "joint_review", "participants": ["区综治中心", "区司法局", "街道办"],
            "conclusion": "由街道牵头化解，司法所跟进"})
        }
        "supervise" => json!({"action": "supervise", "note": "请尽快办结", "deadline": tomorrow}),
        "follow_up" => {
            json!({"action": "follow_up", "visit_kind": "counselling", "outcome": "情绪稳定",
            "next_visit": tomorrow})
        }
        "close" => json!({"action": "close", "satisfaction": "basically_satisfied"}),
        "mark_duplicate" => json!({"action": "mark_duplicate", "duplicate_of": other}),
        "resolve" => json!({"action": "resolve", "note": "窗口当场答复"}),
        _ => unreachable!(),
    }
}

/// Every role × every new action: allowed (one step naming actor and change), 403 for
/// the others, 409 for a stale version.
async fn role_by_action(router: &axum::Router, c: &Cast) {
    // Roles in the order of `Cast::all`: screen, grid_worker, mediator, leader, admin,
    // reception, risk_centre.
    let table: [(&str, [u16; 7]); 9] = [
        ("assign", [403, 403, 403, 200, 403, 200, 200]),
        ("assign_mediation", [403, 403, 403, 200, 403, 200, 200]),
        ("set_case_leader", [403, 403, 403, 200, 403, 403, 200]),
        ("joint_review", [403, 403, 403, 403, 403, 403, 200]),
        ("supervise", [403, 403, 403, 200, 403, 403, 403]),
        ("follow_up", [403, 200, 200, 200, 403, 403, 403]),
        ("close", [403, 403, 403, 200, 403, 403, 403]),
        ("mark_duplicate", [403, 403, 403, 200, 403, 200, 403]),
        // The reception answers consultations (a dispute: 403, below).
        ("resolve", [403, 200, 403, 200, 403, 200, 403]),
    ];
    let other = code_of(
        &intake(
            router,
            &c.leader,
            &c.a.1,
            "dispute",
            "visitor",
            "small",
            "原事项",
        )
        .await,
    );
    let mut failures = Vec::new();
    let mut n = 0;
    for (action, expected) in table {
        for (who, want) in c.all().into_iter().zip(expected) {
            n += 1;
            let code = prepared(router, c, action, n).await;
            let before = get(router, &c.leader, &format!("/api/v1/events/{code}")).await;
            let version = before["version"].as_i64().unwrap();
            let mut body = body_of(action, c, &other);
            body["version"] = json!(version);
            let (s, v) = step(router, who, &code, body.clone()).await;
            if s != want {
                failures.push(format!(
                    "{action} as {}: want {want}, got {s} {v}",
                    who.role.as_str()
                ));
                continue;
            }
            let after = get(router, &c.leader, &format!("/api/v1/events/{code}")).await;
            if s != 200 {
                assert_eq!(
                    after["version"], before["version"],
                    "a refused step changes nothing"
                );
                continue;
            }
            // Exactly one step, naming the actor, the action and the change.
            assert_eq!(after["version"].as_i64().unwrap(), version + 1);
            assert_history_complete(&after);
            let last = after["history"].as_array().unwrap().last().unwrap().clone();
            assert_eq!(last["actor"], who.username.as_str(), "{last}");
            assert_eq!(last["action"], action, "{last}");
            assert_eq!(v["step"], last);
            // The same request again is stale.
            let (s, v) = step(router, who, &code, body).await;
            assert_eq!(s, 409, "{action} stale as {}: {v}", who.role.as_str());
            assert_eq!(v["error"]["details"]["current_version"], version + 1);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The reception answers a consultation, not a dispute.
    let dispute = code_of(
        &intake(
            router, &c.leader, &c.a.1, "dispute", "visitor", "small", "纠纷",
        )
        .await,
    );
    let (s, v) = step(
        router,
        &c.reception,
        &dispute,
        json!({"action": "resolve", "version": 1}),
    )
    .await;
    assert_eq!(s, 403, "{v}");
    // A case-package leader only for large risks, joint reviews not for small ones: 409
    // (nobody may), with the allowed actions.
    let (s, v) = step(
        router,
        &c.risk,
        &dispute,
        json!({"action": "set_case_leader", "leader": "X", "version": 1}),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    let (s, v) = step(
        router,
        &c.risk,
        &dispute,
        json!({"action": "joint_review", "participants": "甲,乙", "conclusion": "c", "version": 1}),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    assert!(
        v["error"]["details"]["allowed"]
            .as_array()
            .unwrap()
            .contains(&json!("assign")),
        "{v}"
    );
}

/// 422 for bad fields, and nothing changes.
async fn bad_fields(router: &axum::Router, c: &Cast) {
    let ev = intake(
        router,
        &c.leader,
        &c.a.1,
        "dispute",
        "visitor",
        "large",
        "字段检查",
    )
    .await;
    let code = code_of(&ev);
    let v0 = ev["version"].as_i64().unwrap();
    let yesterday = minqing_domain::time::format_date(minqing_domain::time::system_now() - 86_400);
    let cases = [
        (&c.leader, json!({"action": "assign"})),
        (
            &c.leader,
            json!({"action": "assign", "owner": "nobody-here"}),
        ),
        (
            &c.leader,
            json!({"action": "assign", "owner": c.screen.username}),
        ),
        (
            &c.leader,
            json!({"action": "assign", "owner": c.admin.username}),
        ),
        // A grid worker of another grid could not see the case.
        (
            &c.leader,
            json!({"action": "assign", "owner": c.grid_b.username}),
        ),
        (
            &c.leader,
            json!({"action": "assign", "unit_kind": "planet"}),
        ),
        (
            &c.leader,
            json!({"action": "assign", "unit_kind": "mediation_org", "unit": "某协会"}),
        ),
        (
            &c.leader,
            json!({"action": "assign", "unit_kind": "grid", "unit": "510603000000000000"}),
        ),
        (
            &c.reception,
            json!({"action": "assign_mediation", "org": "某协会"}),
        ),
        (&c.risk, json!({"action": "set_case_leader"})),
        (
            &c.risk,
            json!({"action": "set_case_leader", "leader": "  "}),
        ),
        (
            &c.risk,
            json!({"action": "joint_review", "conclusion": "c"}),
        ),
        (
            &c.risk,
            json!({"action": "joint_review", "participants": [], "conclusion": "c"}),
        ),
        (
            &c.risk,
            json!({"action": "joint_review", "participants": ["甲"]}),
        ),
        (
            &c.risk,
            json!({"action": "joint_review", "participants": ["甲"], "conclusion": "c", "at": "2999-01-01"}),
        ),
        (
            &c.risk,
            json!({"action": "joint_review", "participants": ["甲"], "conclusion": "c", "at": "soon"}),
        ),
        (
            &c.leader,
            json!({"action": "supervise", "deadline": "2030-01-01"}),
        ),
        (
            &c.leader,
            json!({"action": "supervise", "note": "快", "deadline": "2030-13-01"}),
        ),
        (
            &c.leader,
            json!({"action": "supervise", "note": "快", "deadline": yesterday}),
        ),
        (&c.leader, json!({"action": "supervise", "note": "快"})),
        (&c.leader, json!({"action": "mark_duplicate"})),
        (
            &c.leader,
            json!({"action": "mark_duplicate", "duplicate_of": code}),
        ),
        (
            &c.leader,
            json!({"action": "mark_duplicate", "duplicate_of": "5106031999000001"}),
        ),
        (
            &c.leader,
            json!({"action": "mark_duplicate", "duplicate_of": "abc"}),
        ),
        (
            &c.leader,
            json!({"action": "assign", "owner": c.leader.username, "colour": "red"}),
        ),
        // NUL never reaches the store (PostgreSQL refuses it in text).
        (&c.leader, json!({"action": "assign", "owner": "a\u{0}b"})),
        (
            &c.leader,
            json!({"action": "assign", "owner": c.leader.username, "note": "a\u{0}b"}),
        ),
        (
            &c.risk,
            json!({"action": "set_case_leader", "leader": "a\u{0}b"}),
        ),
        (
            &c.risk,
            json!({"action": "joint_review", "participants": ["a\u{0}b"], "conclusion": "c"}),
        ),
        (
            &c.leader,
            json!({"action": "assign", "unit_kind": "department", "unit": "a\u{0}b"}),
        ),
    ];
    for (who, mut body) in cases {
        body["version"] = json!(v0);
        let (s, v) = step(router, who, &code, body.clone()).await;
        assert_eq!(s, 422, "{body}: {v}");
    }
    // Closing and visiting with bad values.
    let closing = code_of(
        &intake(
            router,
            &c.leader,
            &c.a.1,
            "dispute",
            "visitor",
            "small",
            "办结检查",
        )
        .await,
    );
    ok_step(router, &c.leader, &closing, json!({"action": "resolve"})).await;
    let (s, v) = step(
        router,
        &c.leader,
        &closing,
        json!({"action": "close", "satisfaction": "thrilled", "version": 2}),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    ok_step(router, &c.leader, &closing, json!({"action": "close"})).await;
    for body in [
        json!({"action": "follow_up", "visit_kind": "party", "version": 3}),
        json!({"action": "follow_up", "next_visit": yesterday, "version": 3}),
        json!({"action": "follow_up", "next_visit": "next week", "version": 3}),
    ] {
        let (s, v) = step(router, &c.leader, &closing, body.clone()).await;
        assert_eq!(s, 422, "{body}: {v}");
    }
    let d = get(router, &c.leader, &format!("/api/v1/events/{code}")).await;
    assert_eq!(d["version"].as_i64().unwrap(), v0, "422s change nothing");
    assert_history_complete(&d);
}

/// Ownership at intake and through the steps, duplicates, supervision, visits, reviews.
async fn ownership(state: &App, router: &axum::Router, c: &Cast) {
    // Each caller owns what they take in, with their role's unit.
    for (who, source, kind, unit) in [
        (
            &c.reception,
            "visitor",
            "reception",
            events::RECEPTION_UNIT.to_string(),
        ),
        (
            &c.leader,
            "higher_level",
            "department",
            events::LEADER_DEPARTMENT.to_string(),
        ),
        (&c.grid_a, "grid_worker", "grid", c.a.0.clone()),
    ] {
        let ev = intake(router, who, &c.a.1, "dispute", source, "small", "来访登记").await;
        assert_eq!(ev["owner"]["username"], who.username.as_str(), "{ev}");
        assert_eq!(ev["owner_unit"]["kind"], kind, "{ev}");
        let name = if kind == "grid" {
            &ev["owner_unit"]["code"]
        } else {
            &ev["owner_unit"]["name"]
        };
        assert_eq!(name, unit.as_str(), "{ev}");
        let d = get(router, who, &format!("/api/v1/events/{}", code_of(&ev))).await;
        let accept = &d["history"][0];
        assert!(
            accept["note"].as_str().unwrap().contains(&who.username),
            "the intake step names the owner: {accept}"
        );
        assert_eq!(
            state.events().get(&code_of(&ev)).unwrap().owner.as_deref(),
            Some(who.username.as_str())
        );
    }
    // Every role may take in with every source: the reception with all five.
    for source in minqing_domain::model::SOURCES {
        intake(
            router,
            &c.reception,
            &c.b.1,
            "consultation",
            source,
            "small",
            "电话咨询",
        )
        .await;
    }

    // Walk-in at reception → the mediator's organisation (its only mediator owns it).
    let ev = intake(
        router,
        &c.reception,
        &c.a.1,
        "dispute",
        "visitor",
        "small",
        "邻里纠纷",
    )
    .await;
    let code = code_of(&ev);
    let v = ok_step(
        router,
        &c.reception,
        &code,
        json!({"action": "assign_mediation", "org": MEDIATION_ORGS[0]}),
    )
    .await;
    assert_eq!(v["status"], "mediating");
    assert_eq!(v["owner"]["username"], c.mediator.username.as_str(), "{v}");
    assert_eq!(
        v["owner_unit"],
        json!({"kind": "mediation_org", "name": MEDIATION_ORGS[0]})
    );
    // The mediator sees it, records a failed mediation and diverts it.
    let v = ok_step(
        router,
        &c.mediator,
        &code,
        json!({"action": "divert", "kind": "litigation", "note": "调解未果"}),
    )
    .await;
    assert_eq!(v["status"], "diverted");
    // An organisation without a mediator account: no owner, the organisation owns it.
    let ev2 = intake(
        router,
        &c.reception,
        &c.a.1,
        "dispute",
        "visitor",
        "small",
        "消费纠纷",
    )
    .await;
    let v = ok_step(
        router,
        &c.reception,
        &code_of(&ev2),
        json!({"action": "assign_mediation", "org": MEDIATION_ORGS[5]}),
    )
    .await;
    assert_eq!(v["owner"], Value::Null, "{v}");
    assert_eq!(v["owner_unit"]["name"], MEDIATION_ORGS[5]);
    // Assigned by unit to the mediator's organisation: the mediator sees it although no
    // mediation started.
    let ev3 = intake(
        router,
        &c.reception,
        &c.b.1,
        "dispute",
        "visitor",
        "small",
        "物业纠纷",
    )
    .await;
    let code3 = code_of(&ev3);
    let (s, _) = send(
        router,
        &c.mediator,
        "GET",
        &format!("/api/v1/events/{code3}"),
        None,
    )
    .await;
    assert_eq!(s, 403);
    let v = ok_step(
        router,
        &c.leader,
        &code3,
        json!({"action": "assign", "unit_kind": "mediation_org", "unit": MEDIATION_ORGS[0]}),
    )
    .await;
    assert_eq!(v["status"], "accepted");
    assert_eq!(v["owner"]["username"], c.mediator.username.as_str());
    let (s, _) = send(
        router,
        &c.mediator,
        "GET",
        &format!("/api/v1/events/{code3}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    // Assigned to a grid worker: their grid becomes the unit.
    let v = ok_step(
        router,
        &c.risk,
        &code3,
        json!({"action": "assign", "owner": c.grid_b.username}),
    )
    .await;
    assert_eq!(v["owner"]["username"], c.grid_b.username.as_str());
    assert_eq!(v["owner_unit"]["kind"], "grid");
    assert_eq!(v["owner_unit"]["code"], c.b.0.as_str());
    let d = get(router, &c.leader, &format!("/api/v1/events/{code3}")).await;
    assert_history_complete(&d);
    let notes: Vec<&str> = d["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["note"].as_str().unwrap())
        .collect();
    assert!(
        notes[1].contains(MEDIATION_ORGS[0]) && notes[2].contains(&c.grid_b.username),
        "{notes:?}"
    );

    // Escalated → the risk centre sets it large with a case-package leader and records a
    // joint review → a leader supervises → closure with satisfaction → a follow-up visit.
    let ev = intake(
        router,
        &c.grid_a,
        &c.a.1,
        "dispute",
        "grid_worker",
        "small",
        "土地纠纷",
    )
    .await;
    let code = code_of(&ev);
    ok_step(router, &c.grid_a, &code, json!({"action": "escalate"})).await;
    let v = ok_step(
        router,
        &c.risk,
        &code,
        json!({"action": "set_risk_tier", "risk_tier": "large"}),
    )
    .await;
    assert!(v["large_since"].is_string(), "{v}");
    let v = ok_step(
        router,
        &c.risk,
        &code,
        json!({"action": "set_case_leader", "leader": "区委政法委书记"}),
    )
    .await;
    assert_eq!(v["case_leader"], "区委政法委书记");
    ok_step(
        router,
        &c.risk,
        &code,
        json!({"action": "joint_review", "participants": "区综治中心，区司法局、街道",
        "conclusion": "街道牵头，三日内答复", "at": "2024-12-30"}),
    )
    .await;
    let deadline =
        minqing_domain::time::format_date(minqing_domain::time::system_now() + 3 * 86_400);
    let v = ok_step(
        router,
        &c.leader,
        &code,
        json!({"action": "supervise", "note": "限期办结", "deadline": deadline}),
    )
    .await;
    assert_eq!(v["supervision"]["deadline"], deadline.as_str());
    assert_eq!(v["supervision"]["by"], c.leader.username.as_str());
    assert_eq!(v["supervision"]["note"], "限期办结");
    // The end of that day in China Standard Time: 23:59:59+08:00 = 15:59:59Z.
    assert_eq!(v["deadline"], format!("{deadline}T15:59:59Z").as_str());
    ok_step(router, &c.grid_a, &code, json!({"action": "resolve"})).await;
    let v = ok_step(
        router,
        &c.leader,
        &code,
        json!({"action": "close", "satisfaction": "satisfied"}),
    )
    .await;
    assert_eq!(v["satisfaction"], "satisfied");
    let today = minqing_domain::time::today(state.clock.now());
    let v = ok_step(
        router,
        &c.grid_a,
        &code,
        json!({"action": "follow_up", "visit_kind": "assistance",
        "outcome": "已落实救助", "next_visit": today}),
    )
    .await;
    assert_eq!(v["next_visit"], today.as_str());
    let d = get(router, &c.leader, &format!("/api/v1/events/{code}")).await;
    assert_history_complete(&d);
    assert_eq!(d["joint_reviews"].as_array().unwrap().len(), 1, "{d}");
    assert_eq!(
        d["joint_reviews"][0]["participants"],
        json!(["区综治中心", "区司法局", "街道"])
    );
    assert_eq!(d["joint_reviews"][0]["by"], c.risk.username.as_str());
    assert_eq!(d["joint_reviews"][0]["at"], "2024-12-29T16:00:00Z");
    assert_eq!(d["visits"][0]["kind"], "assistance");
    assert_eq!(d["visits"][0]["outcome"], "已落实救助");
    assert_eq!(d["visits"][0]["next_visit"], today.as_str());
    // The due visit is the grid worker's task.
    let t = get(router, &c.grid_a, "/api/v1/tasks").await;
    let task = t["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["code"] == code.as_str())
        .expect("visit task");
    assert_eq!(task["task_kind"], "follow_up_visit");

    // A duplicate closes and points to the other.
    let first = intake(
        router,
        &c.reception,
        &c.a.1,
        "dispute",
        "visitor",
        "small",
        "噪音扰民",
    )
    .await;
    let again = intake(
        router,
        &c.reception,
        &c.a.1,
        "dispute",
        "visitor",
        "small",
        "噪音扰民",
    )
    .await;
    let dup_code = code_of(&again);
    assert!(
        again["possible_duplicates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["code"] == first["code"]),
        "{again}"
    );
    let v = ok_step(
        router,
        &c.reception,
        &dup_code,
        json!({"action": "mark_duplicate", "duplicate_of": first["code"]}),
    )
    .await;
    assert_eq!(v["status"], "closed");
    assert_eq!(v["duplicate_of"], first["code"]);
    assert!(v["closed_at"].is_string());
    let d = get(router, &c.reception, &format!("/api/v1/events/{dup_code}")).await;
    assert_history_complete(&d);
    assert!(
        d["history"].as_array().unwrap().last().unwrap()["note"]
            .as_str()
            .unwrap()
            .contains(first["code"].as_str().unwrap())
    );

    // The store holds what the index holds (the outbox carries the new fields).
    for code in [&code, &dup_code, &code3] {
        let stored = events::write::event_by_code(&state.store, code)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&stored, state.events().get(code).unwrap());
    }
    let (_, payload) = events::write::changes_after(&state.store, 0, 1_000_000)
        .await
        .unwrap()
        .into_iter()
        .rfind(|(_, p)| p.contains(&dup_code))
        .unwrap();
    let record = events::service::ChangeRecord::parse(&payload).unwrap();
    assert_eq!(
        record.event.duplicate_of,
        first["code"].as_str().map(str::to_string)
    );
}

/// The caller's alert codes and kinds.
fn alert_set(v: &Value) -> HashSet<(String, String)> {
    v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["code"].as_str().unwrap().to_string(),
                a["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Read SSE messages until one of kind `event` whose data satisfies `pred`.
async fn read_sse(
    body: &mut axum::body::Body,
    buf: &mut String,
    event: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    use http_body_util::BodyExt;
    loop {
        while let Some(end) = buf.find("\n\n") {
            let msg: String = buf.drain(..end + 2).collect();
            let kind = msg
                .lines()
                .find_map(|l| l.strip_prefix("event:"))
                .map(str::trim);
            let data = msg
                .lines()
                .find_map(|l| l.strip_prefix("data:"))
                .map(str::trim);
            if let (Some(k), Some(d)) = (kind, data)
                && k == event
            {
                let v: Value = serde_json::from_str(d).unwrap();
                if pred(&v) {
                    return v;
                }
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

async fn open_stream(router: &axum::Router, who: &Account) -> axum::body::Body {
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .uri("/api/v1/events/stream")
        .header("authorization", who.auth.as_str())
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.into_body()
}

/// Alerts reach the owner only: the list, the unread count, read marks and the feed.
async fn alerts(state: &App, router: &axum::Router, c: &Cast) {
    let ev = intake(
        router,
        &c.reception,
        &c.a.1,
        "dispute",
        "visitor",
        "small",
        "督办事项",
    )
    .await;
    let code = code_of(&ev);
    ok_step(
        router,
        &c.reception,
        &code,
        json!({"action": "assign", "owner": c.grid_a.username}),
    )
    .await;
    let mut feed_a = open_stream(router, &c.grid_a).await;
    let mut feed_b = open_stream(router, &c.grid_b).await;
    let mut wall = open_stream(router, &c.screen).await;
    let deadline = minqing_domain::time::format_date(state.clock.now() + 2 * 86_400);
    ok_step(
        router,
        &c.leader,
        &code,
        json!({"action": "supervise", "note": "本周内办结", "deadline": deadline}),
    )
    .await;
    // The owner's feed gets the alert; the wall gets it without personal data.
    let mut buf = String::new();
    let a = read_sse(&mut feed_a, &mut buf, "alert", |v| {
        v["code"] == code.as_str()
    })
    .await;
    assert_eq!(a["kind"], "supervised");
    assert_eq!(a["title"], "督办事项");
    assert_eq!(a["change"], "supervise");
    let mut wbuf = String::new();
    let w = read_sse(&mut wall, &mut wbuf, "alert", |v| {
        v["code"] == code.as_str()
    })
    .await;
    assert_eq!(w["kind"], "supervised");
    assert_eq!(w["title"], "督办事项");
    for private in ["description", "owner", "address_code", "supervision"] {
        assert!(w.get(private).is_none(), "{private} on the wall: {w}");
    }
    // The wall's feed carries the event's title, not its description.
    let mut wbuf2 = String::new();
    let mut wall2 = open_stream(router, &c.screen).await;
    ok_step(
        router,
        &c.leader,
        &code,
        json!({"action": "set_risk_tier", "risk_tier": "medium"}),
    )
    .await;
    let e = read_sse(&mut wall2, &mut wbuf2, "event", |v| {
        v["event"]["code"] == code.as_str()
    })
    .await;
    assert_eq!(e["event"]["title"], "督办事项");
    assert!(e["event"].get("description").is_none(), "{e}");
    drop(wall2);
    // Another grid's worker gets nothing of it: the next thing they hear is about their
    // own case.
    let own = intake(
        router,
        &c.reception,
        &c.b.1,
        "dispute",
        "visitor",
        "small",
        "乙网格督办",
    )
    .await;
    ok_step(
        router,
        &c.reception,
        &code_of(&own),
        json!({"action": "assign", "owner": c.grid_b.username}),
    )
    .await;
    ok_step(
        router,
        &c.leader,
        &code_of(&own),
        json!({"action": "supervise", "note": "跟进", "deadline": deadline}),
    )
    .await;
    let mut bbuf = String::new();
    let b = read_sse(&mut feed_b, &mut bbuf, "alert", |_| true).await;
    assert_eq!(b["code"], own["code"], "grid B hears only of its own: {b}");
    drop((feed_a, feed_b, wall));

    // The list: the owner's alerts only.
    let mine = get(router, &c.grid_a, "/api/v1/alerts").await;
    assert!(
        alert_set(&mine).contains(&(code.clone(), "supervised".into())),
        "{mine}"
    );
    for other in [&c.grid_b, &c.reception, &c.mediator, &c.risk] {
        let theirs = get(router, other, "/api/v1/alerts").await;
        assert!(
            !alert_set(&theirs).iter().any(|(x, _)| x == &code),
            "{} sees {code}: {theirs}",
            other.username
        );
    }
    // Brute force: the grid worker's alerts are those of the events they own or their
    // grid owns.
    let now = state.clock.now();
    let expected: HashSet<(String, String)> = state
        .events()
        .events
        .iter()
        .filter(|e| !is_closed_status(&e.status))
        .filter(|e| {
            e.owner.as_deref() == Some(c.grid_a.username.as_str())
                || (e.owner_unit_kind.as_deref() == Some("grid")
                    && e.owner_unit.as_deref() == Some(c.a.0.as_str()))
        })
        .flat_map(|e| {
            let mut v = Vec::new();
            if now > e.deadline {
                v.push((e.code.clone(), "overdue".to_string()));
            } else if e.deadline <= now + 86_400 {
                v.push((e.code.clone(), "due_soon".to_string()));
            }
            if e.risk_tier == "large" && e.large_since.is_some_and(|s| now - s <= 7 * 86_400) {
                v.push((e.code.clone(), "large_risk".to_string()));
            }
            if e.supervision.is_some() {
                v.push((e.code.clone(), "supervised".to_string()));
            }
            v
        })
        .collect();
    let all_mine = get(router, &c.grid_a, "/api/v1/alerts?limit=1000").await;
    assert_eq!(alert_set(&all_mine), expected);
    assert_eq!(all_mine["total"].as_u64().unwrap() as usize, expected.len());
    // Read marks: read one event's alerts, then all; a new supervision is unread again.
    let unread = all_mine["unread"].as_u64().unwrap();
    assert!(unread >= 1);
    let (s, r) = send(
        router,
        &c.grid_a,
        "POST",
        "/api/v1/alerts/read",
        Some(&json!({"codes": [code]})),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["unread"].as_u64().unwrap(), unread - 1, "{r}");
    let (s, r) = send(
        router,
        &c.grid_a,
        "POST",
        "/api/v1/alerts/read",
        Some(&json!({})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(r["unread"], 0);
    let later = minqing_domain::time::format_date(state.clock.now() + 5 * 86_400);
    // (A new supervision is a new alert: one second later at least.)
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    ok_step(
        router,
        &c.leader,
        &code,
        json!({"action": "supervise", "note": "再次督办", "deadline": later}),
    )
    .await;
    let mine = get(router, &c.grid_a, "/api/v1/alerts").await;
    assert_eq!(mine["unread"], 1, "{mine}");
    assert_eq!(mine["alerts"][0]["code"], code.as_str());
    assert_eq!(mine["alerts"][0]["read"], false);
    // The district's alerts: counts and titles, no descriptions or owners.
    let all = get(router, &c.screen, "/api/v1/alerts").await;
    assert_eq!(all["scope"], "all");
    let total: u64 = all["counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, all["total"].as_u64().unwrap());
    let district: usize = state
        .events()
        .events
        .iter()
        .map(|e| minqing_domain::events::work::alerts_of(e, state.clock.now()).len())
        .sum();
    assert_eq!(all["total"].as_u64().unwrap() as usize, district);
    let text = all.to_string();
    assert!(
        !text.contains("当事人张某某"),
        "no descriptions on the wall"
    );
    assert!(!text.contains(&c.grid_a.username), "no owners on the wall");
    let (s, _) = send(router, &c.grid_a, "GET", "/api/v1/alerts?scope=all", None).await;
    assert_eq!(s, 403);
}

/// Each role's tasks, against an independent reading of the rules.
async fn tasks(state: &App, router: &axum::Router, c: &Cast) {
    // Something to do for each.
    let gw = intake(
        router,
        &c.grid_a,
        &c.a.1,
        "dispute",
        "grid_worker",
        "small",
        "网格任务",
    )
    .await;
    let rec = intake(
        router,
        &c.reception,
        &c.b.1,
        "petition",
        "visitor",
        "small",
        "窗口任务",
    )
    .await;
    let med = intake(
        router,
        &c.reception,
        &c.b.1,
        "dispute",
        "visitor",
        "small",
        "调解任务",
    )
    .await;
    ok_step(
        router,
        &c.reception,
        &code_of(&med),
        json!({"action": "assign_mediation", "org": MEDIATION_ORGS[0]}),
    )
    .await;
    let now = state.clock.now();
    let today = minqing_domain::time::today(now);
    let open = |e: &Event| !is_closed_status(&e.status);
    let expected = |who: &Account,
                    pred: &dyn Fn(&Event) -> Option<&'static str>|
     -> BTreeMap<String, String> {
        let _ = who;
        state
            .events()
            .events
            .iter()
            .filter_map(|e| pred(e).map(|k| (e.code.clone(), k.to_string())))
            .collect()
    };
    let got = |v: &Value| -> BTreeMap<String, String> {
        v["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["code"].as_str().unwrap().to_string(),
                    t["task_kind"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let supervised = |e: &Event| open(e) && e.supervision.is_some();
    // Grid worker of grid A.
    let want = expected(&c.grid_a, &|e: &Event| {
        let mine = e.grid_code == c.a.0 || e.owner.as_deref() == Some(c.grid_a.username.as_str());
        if !mine || (e.grid_code != c.a.0) {
            return None;
        }
        if supervised(e) {
            Some("supervision")
        } else if is_closed_status(&e.status)
            && e.next_visit.as_deref().is_some_and(|d| d <= today.as_str())
        {
            Some("follow_up_visit")
        } else if e.status == "accepted" {
            Some("case")
        } else {
            None
        }
    });
    let t = get(router, &c.grid_a, "/api/v1/tasks?limit=1000").await;
    assert_eq!(got(&t), want);
    assert_eq!(want.get(&code_of(&gw)).map(String::as_str), Some("case"));
    assert!(
        !want
            .keys()
            .any(|k| state.events().get(k).unwrap().grid_code == c.b.0)
    );
    // Supervision first.
    let kinds: Vec<&str> = t["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["task_kind"].as_str().unwrap())
        .collect();
    let first_other = kinds
        .iter()
        .position(|k| *k != "supervision")
        .unwrap_or(kinds.len());
    assert!(
        kinds[first_other..].iter().all(|k| *k != "supervision"),
        "{kinds:?}"
    );
    // Mediator: the organisation's accepted and mediating events.
    let org = Some(MEDIATION_ORGS[0]);
    let want = expected(&c.mediator, &|e: &Event| {
        let theirs = e.mediation_org.as_deref() == org
            || (e.owner_unit_kind.as_deref() == Some("mediation_org")
                && e.owner_unit.as_deref() == org)
            || e.owner.as_deref() == Some(c.mediator.username.as_str());
        if !theirs {
            return None;
        }
        if supervised(e) {
            Some("supervision")
        } else if matches!(e.status.as_str(), "accepted" | "mediating") {
            Some("case")
        } else {
            None
        }
    });
    let t = get(router, &c.mediator, "/api/v1/tasks?limit=1000").await;
    assert_eq!(got(&t), want);
    assert!(want.contains_key(&code_of(&med)));
    // Reception: the accepted events it owns; leader, risk centre: the open ones.
    for who in [&c.reception, &c.leader, &c.risk] {
        let want = expected(who, &|e: &Event| {
            let pending = if who.role == Role::Reception {
                e.status == "accepted"
            } else {
                open(e)
            };
            if e.owner.as_deref() != Some(who.username.as_str()) {
                None
            } else if supervised(e) {
                Some("supervision")
            } else if pending {
                Some("case")
            } else {
                None
            }
        });
        let t = get(router, who, "/api/v1/tasks?limit=1000").await;
        assert_eq!(got(&t), want, "{}", who.username);
    }
    assert!(
        got(&get(router, &c.reception, "/api/v1/tasks?limit=1000").await)
            .contains_key(&code_of(&rec))
    );
    // Done: after 化解 the grid worker's case moves to the done list.
    ok_step(
        router,
        &c.grid_a,
        &code_of(&gw),
        json!({"action": "resolve", "note": "当场化解"}),
    )
    .await;
    let t = get(router, &c.grid_a, "/api/v1/tasks?limit=1000").await;
    assert!(!got(&t).contains_key(&code_of(&gw)));
    let done = get(router, &c.grid_a, "/api/v1/tasks?done=true").await;
    let d = done["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["code"] == gw["code"])
        .expect("in the done list");
    assert_eq!(d["status"], "resolved");
    assert_eq!(d["done"], true);
    let (s, _) = send(router, &c.screen, "GET", "/api/v1/tasks", None).await;
    assert_eq!(s, 403);
    let (s, _) = send(router, &c.admin, "GET", "/api/v1/tasks", None).await;
    assert_eq!(s, 403);
}

/// The list's counts over the whole filtered set, against a brute-force count.
async fn counts(state: &App, router: &axum::Router, c: &Cast) {
    let now = state.clock.now();
    type Pred<'a> = Box<dyn Fn(&Event) -> bool + 'a>;
    let filters: Vec<(&Account, String, Pred)> = vec![
        (&c.leader, String::new(), Box::new(|_| true)),
        (
            &c.leader,
            "source=visitor".into(),
            Box::new(|e| e.source == "visitor"),
        ),
        (
            &c.leader,
            "source=visitor,township".into(),
            Box::new(|e| e.source == "visitor" || e.source == "township"),
        ),
        (
            &c.leader,
            "risk_tier=large".into(),
            Box::new(|e| e.risk_tier == "large"),
        ),
        (
            &c.leader,
            "escalated=true".into(),
            Box::new(|e| e.escalated),
        ),
        (
            &c.leader,
            "escalated=false&category=dispute".into(),
            Box::new(|e| !e.escalated && e.category == "dispute"),
        ),
        (
            &c.leader,
            "supervised=true".into(),
            Box::new(|e| e.supervision.is_some()),
        ),
        (
            &c.leader,
            "supervised=false&status=accepted,mediating".into(),
            Box::new(|e| {
                e.supervision.is_none() && matches!(e.status.as_str(), "accepted" | "mediating")
            }),
        ),
        (
            &c.leader,
            format!("owner={}", c.grid_a.username),
            Box::new(|e| e.owner.as_deref() == Some(c.grid_a.username.as_str())),
        ),
        (
            &c.reception,
            "owner=me".into(),
            Box::new(|e| e.owner.as_deref() == Some(c.reception.username.as_str())),
        ),
        (
            &c.leader,
            "owner=leader".into(),
            Box::new(|e| e.owner.as_deref() == Some("leader")),
        ),
        (
            &c.leader,
            "owner=riskcentre&risk_tier=large".into(),
            Box::new(|e| e.owner.as_deref() == Some("riskcentre") && e.risk_tier == "large"),
        ),
        (
            &c.leader,
            format!("unit={}", MEDIATION_ORGS[0]),
            Box::new(|e| e.owner_unit.as_deref() == Some(MEDIATION_ORGS[0])),
        ),
        (
            &c.leader,
            "overdue=true".into(),
            Box::new(move |e| events::is_overdue(e, now)),
        ),
        (&c.grid_a, String::new(), Box::new(|e| e.grid_code == c.a.0)),
        (
            &c.mediator,
            "status=mediating".into(),
            Box::new(|e| {
                e.status == "mediating"
                    && (e.mediation_org.as_deref() == Some(MEDIATION_ORGS[0])
                        || e.owner_unit.as_deref() == Some(MEDIATION_ORGS[0]))
            }),
        ),
    ];
    for (who, query, pred) in &filters {
        let v = get(router, who, &format!("/api/v1/events?limit=3&{query}")).await;
        let hits: Vec<Event> = state
            .events()
            .events
            .iter()
            .filter(|e| pred(e))
            .cloned()
            .collect();
        let mut by_status: BTreeMap<String, u64> = minqing_domain::model::STATUSES
            .iter()
            .map(|s| (s.to_string(), 0))
            .collect();
        let (mut overdue, mut due) = (0u64, 0u64);
        for e in &hits {
            *by_status.get_mut(&e.status).unwrap() += 1;
            let open = !is_closed_status(&e.status);
            if open && now > e.deadline {
                overdue += 1;
            } else if open && e.deadline >= now && e.deadline - now <= 86_400 {
                due += 1;
            }
        }
        assert_eq!(v["total"].as_u64().unwrap() as usize, hits.len(), "{query}");
        let got: BTreeMap<String, u64> =
            serde_json::from_value(v["counts"]["by_status"].clone()).unwrap();
        assert_eq!(got, by_status, "{query}");
        assert_eq!(v["counts"]["overdue"], overdue, "{query}");
        assert_eq!(v["counts"]["due_24h"], due, "{query}");
        assert!(v["events"].as_array().unwrap().len() <= 3);
    }
    let (s, v) = send(
        router,
        &c.leader,
        "GET",
        "/api/v1/events?escalated=maybe",
        None,
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = send(router, &c.leader, "GET", "/api/v1/events?source=fax", None).await;
    assert_eq!(s, 400, "{v}");
    // The generator's cases have owners consistent with their status.
    for e in state
        .events()
        .events
        .iter()
        .filter(|e| e.reported_at < 1_735_660_800)
    {
        assert!(e.owner_unit_kind.is_some(), "{} has an owning unit", e.code);
        if e.mediation_org.is_some() {
            assert_eq!(
                e.owner_unit_kind.as_deref(),
                Some("mediation_org"),
                "{}",
                e.code
            );
            assert_eq!(e.owner_unit, e.mediation_org, "{}", e.code);
        }
    }
}

/// Model 5 per owner, organisation and unit against a brute-force computation.
async fn workload(state: &App, router: &axum::Router, c: &Cast) {
    let (from, to) = ("2023-01-01", "2035-12-31");
    let v = get(
        router,
        &c.leader,
        &format!("/api/v1/analysis/workload?from={from}&to={to}"),
    )
    .await;
    let now = state.clock.now();
    let w = minqing_domain::time::parse_window(Some(from), Some(to))
        .unwrap()
        .unwrap();
    #[derive(Default, Debug, PartialEq)]
    struct L {
        events: u64,
        open: u64,
        closed: u64,
        overdue: u64,
        days: Vec<f64>,
        sat: BTreeMap<String, u64>,
    }
    let mut by_owner: BTreeMap<String, L> = BTreeMap::new();
    let mut by_org: BTreeMap<String, L> = BTreeMap::new();
    let add = |l: &mut L, e: &Event| {
        l.events += 1;
        let closed = is_closed_status(&e.status) && e.closed_at.is_some_and(|c| c <= now);
        if closed {
            l.closed += 1;
            let c = e.closed_at.unwrap();
            if c > e.deadline {
                l.overdue += 1;
            }
            l.days.push((c - e.reported_at) as f64 / 86_400.0);
            *l.sat
                .entry(e.satisfaction.clone().unwrap_or_else(|| "unknown".into()))
                .or_default() += 1;
        } else {
            l.open += 1;
            if e.deadline < now {
                l.overdue += 1;
            }
        }
    };
    for e in state
        .events()
        .events
        .iter()
        .filter(|e| e.reported_at >= w.from && e.reported_at < w.to)
    {
        if let Some(o) = &e.owner {
            add(by_owner.entry(o.clone()).or_default(), e);
        }
        if let Some(o) = &e.mediation_org {
            add(by_org.entry(o.clone()).or_default(), e);
        }
    }
    let check = |got: &Value, want: &L, what: &str| {
        assert_eq!(got["events"], want.events, "{what}");
        assert_eq!(got["open"], want.open, "{what}");
        assert_eq!(got["closed"], want.closed, "{what}");
        assert_eq!(got["overdue"], want.overdue, "{what}");
        let mean =
            (!want.days.is_empty()).then(|| want.days.iter().sum::<f64>() / want.days.len() as f64);
        match mean {
            None => assert!(got["mean_closure_days"].is_null(), "{what}"),
            Some(m) => assert!(
                (got["mean_closure_days"].as_f64().unwrap() - m).abs() <= 0.006,
                "{what}: {m} vs {got}"
            ),
        }
        for k in [
            "satisfied",
            "basically_satisfied",
            "dissatisfied",
            "unknown",
        ] {
            assert_eq!(
                got["satisfaction"][k].as_u64().unwrap(),
                want.sat.get(k).copied().unwrap_or(0),
                "{what} {k}"
            );
        }
    };
    let owners = v["by_owner"].as_array().unwrap();
    assert_eq!(owners.len(), by_owner.len());
    for o in owners {
        let u = o["username"].as_str().unwrap();
        check(o, &by_owner[u], u);
    }
    // The generator's demo owners are among them, with closures and satisfaction.
    assert!(
        by_owner.contains_key("leader") && by_owner.contains_key("reception"),
        "{:?}",
        by_owner.keys().take(5).collect::<Vec<_>>()
    );
    let orgs = v["by_org"].as_array().unwrap();
    assert_eq!(orgs.len(), by_org.len());
    for o in orgs {
        let name = o["org"].as_str().unwrap();
        check(o, &by_org[name], name);
    }
    let units: BTreeMap<(String, String), u64> = state
        .events()
        .events
        .iter()
        .filter(|e| e.reported_at >= w.from && e.reported_at < w.to)
        .filter_map(|e| Some(((e.owner_unit_kind.clone()?, e.owner_unit.clone()?), 1)))
        .fold(BTreeMap::new(), |mut m, (k, n)| {
            *m.entry(k).or_default() += n;
            m
        });
    let got_units: BTreeMap<(String, String), u64> = v["by_unit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let unit = &u["unit"];
            let name = if unit["kind"] == "grid" {
                &unit["code"]
            } else {
                &unit["name"]
            };
            (
                (
                    unit["kind"].as_str().unwrap().to_string(),
                    name.as_str().unwrap().to_string(),
                ),
                u["events"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got_units, units);
    let total: u64 = owners
        .iter()
        .map(|o| o["events"].as_u64().unwrap())
        .sum::<u64>()
        + v["without_owner"].as_u64().unwrap();
    assert_eq!(total, v["total"]["events"].as_u64().unwrap());
    // Leaders and admins only.
    for who in [&c.grid_a, &c.mediator, &c.reception, &c.risk, &c.screen] {
        let (s, _) = send(router, who, "GET", "/api/v1/analysis/workload", None).await;
        assert_eq!(s, 403, "{}", who.username);
    }
    let (s, v) = send(router, &c.admin, "GET", "/api/v1/analysis/workload", None).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["window"]["from"].is_string(), "a default window: {v}");
}

/// The assignee list: who works events, with units; no personal data.
async fn assignees(router: &axum::Router, c: &Cast) {
    let v = get(router, &c.reception, "/api/v1/assignees").await;
    let list = v["assignees"].as_array().unwrap();
    let find = |u: &str| list.iter().find(|a| a["username"] == u).cloned();
    let m = find(&c.mediator.username).expect("the mediator");
    assert_eq!(m["role"], "mediator");
    assert_eq!(
        m["unit"],
        json!({"kind": "mediation_org", "name": MEDIATION_ORGS[0]})
    );
    let g = find(&c.grid_a.username).expect("the grid worker");
    assert_eq!(g["unit"]["kind"], "grid");
    assert_eq!(g["unit"]["code"], c.a.0.as_str());
    assert!(find(&c.screen.username).is_none() && find(&c.admin.username).is_none());
    let v = get(
        router,
        &c.leader,
        &format!("/api/v1/assignees?role=grid_worker&grid={}", c.b.0),
    )
    .await;
    let names: Vec<&str> = v["assignees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&c.grid_b.username.as_str()) && !names.contains(&c.grid_a.username.as_str()),
        "{names:?}"
    );
    for who in [&c.grid_a, &c.mediator, &c.screen, &c.admin] {
        let (s, _) = send(router, who, "GET", "/api/v1/assignees", None).await;
        assert_eq!(s, 403);
    }
}

async fn run(state: &App, router: &axum::Router) {
    let c = cast(state, router).await;
    ownership(state, router, &c).await;
    role_by_action(router, &c).await;
    bad_fields(router, &c).await;
    alerts(state, router, &c).await;
    tasks(state, router, &c).await;
    counts(state, router, &c).await;
    workload(state, router, &c).await;
    assignees(router, &c).await;
}

#[tokio::test]
async fn the_closed_loop_by_every_role_on_sqlite() {
    let (_tmp, state, router, _) = loaded_app(0.01).await;
    run(&state, &router).await;
}

#[tokio::test]
async fn the_closed_loop_by_every_role_on_postgis() {
    let (_tmp, dir, _) = district(0.01);
    let store = postgis_store().await;
    minqing_domain::import::import_dir(&store, &dir, &|_| {})
        .await
        .unwrap();
    let state = App::new(store.clone());
    state.set_index(minqing_domain::load_index(&store).await.unwrap());
    let router = app(state.clone());
    run(&state, &router).await;
    // Restart: the store alone gives back the same events, owners and all.
    let reloaded = minqing_domain::load_index(&store).await.unwrap().1;
    assert_eq!(reloaded.len(), state.events().len());
    for e in &state.events().events {
        assert_eq!(reloaded.get(&e.code), Some(e));
    }
}

/// An import file written before migration 0007 (without the new columns) still loads.
#[tokio::test]
async fn old_event_files_still_import() {
    let (tmp, dir, m) = district(0.01);
    let path = dir.join("events.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    let keep: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| !minqing_domain::store::tables::EVENT_OPTIONAL_COLUMNS.contains(h))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(keep.len(), 20);
    let mut w = csv::Writer::from_path(&path).unwrap();
    w.write_record(keep.iter().map(|&i| &headers[i])).unwrap();
    for r in rdr.records() {
        let r = r.unwrap();
        w.write_record(keep.iter().map(|&i| &r[i])).unwrap();
    }
    w.flush().unwrap();
    let store = crate::support::sqlite_store(tmp.path()).await;
    let reports = minqing_domain::import::import_dir(&store, &dir, &|_| {})
        .await
        .unwrap();
    let events = reports.iter().find(|r| r.file == "events.csv").unwrap();
    assert_eq!(
        events.rows_loaded as usize,
        m.events,
        "{:?}",
        events.errors.first()
    );
    let (_, ix) = minqing_domain::load_index(&store).await.unwrap();
    assert!(
        ix.events
            .iter()
            .all(|e| e.owner.is_none() && e.owner_unit.is_none())
    );
}
