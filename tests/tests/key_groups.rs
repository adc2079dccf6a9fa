//! Key groups on the six lists: generated from the residents the register flags, held
//! alike by both stores; scope (a grid worker of another grid gets nothing, not even a
//! count below 5), masking, unmasking with a reason, audit entries, recording a visit,
//! due follow-ups as the grid worker's tasks, and the protected counts.

use crate::support::{bearer, call, district, loaded_app, postgis_store, sqlite_store};
use minqing_domain::auth::Role;
use minqing_domain::forces::import::KEY_GROUP_FILES;
use minqing_domain::personal::key_groups::{LISTS, list_for_flag};
use minqing_domain::store::Store;
use serde_json::Value;
use std::collections::BTreeMap;

async fn json_of(
    router: &axum::Router,
    auth: Option<&str>,
    method: &str,
    uri: &str,
    body: &str,
) -> (u16, Value) {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    let (s, _, b) = call(router, method, uri, &headers, body.as_bytes().to_vec()).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

async fn rows(store: &Store, sql: &str) -> Vec<(String, String)> {
    match store {
        Store::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
    }
}

async fn count(store: &Store, sql: &str) -> i64 {
    match store {
        Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

/// The follow-up record runs up to the generator's present, so on that day the list
/// looks like a working one: most entries visited within their plan, about one in eight
/// overdue by days or weeks (a lapse shortly before the present), none by years, and
/// visits in every year of the record.
#[test]
fn follow_ups_run_up_to_the_present() {
    let (_tmp, dir, _) = district(0.02);
    let present = minqing_domain::time::day_start(crate::support::until()).unwrap();
    let day = minqing_domain::time::DAY;
    let mut people = csv::Reader::from_path(dir.join("key_groups.csv")).unwrap();
    let (mut n, mut overdue, mut worst) = (0, 0, 0);
    for r in people.records() {
        let r = r.unwrap();
        let every: i64 = r[6].parse().unwrap();
        let last: i64 = r[9].parse().expect("every entry has been visited");
        assert!(last < present, "a visit after the present");
        n += 1;
        let late = (present - (last + every * day)) / day;
        if late > 2 {
            overdue += 1;
        }
        worst = worst.max(late);
    }
    assert!(n >= 20, "{n} entries");
    let share = f64::from(overdue) / f64::from(n);
    assert!(
        (0.03..=0.35).contains(&share),
        "{overdue} of {n} entries overdue"
    );
    // A lapse stops visits at most plan + 40 days before the present; the longest plan
    // is 30 days, the visits keep it within ±2 days.
    assert!(worst <= 30 + 40 + 2, "one entry {worst} days overdue");
    let mut years = std::collections::BTreeSet::new();
    let mut visits = csv::Reader::from_path(dir.join("key_group_visits.csv")).unwrap();
    for r in visits.records() {
        let at: i64 = r.unwrap()[2].parse().unwrap();
        years.insert(minqing_domain::time::format_date(at)[..4].to_string());
    }
    let want: std::collections::BTreeSet<String> =
        ["2023", "2024", "2025", "2026"].map(String::from).into();
    assert_eq!(years, want);
}

/// Both stores take the generated lists: one entry per flag of every flagged resident,
/// on the list the flag maps to; the visits with them; a second import changes nothing.
#[tokio::test]
async fn key_groups_in_both_stores_follow_the_register_flags() {
    let (tmp, dir, manifest) = district(0.01);
    assert!(manifest.key_group_entries > 10, "{manifest:?}");
    let mut seen = Vec::new();
    for store in [sqlite_store(tmp.path()).await, postgis_store().await] {
        let reports = minqing_domain::import::import_dir(&store, &dir, &|_| {})
            .await
            .unwrap();
        for f in KEY_GROUP_FILES {
            let r = reports.iter().find(|r| r.file == f).expect(f);
            assert!(
                r.errors.is_empty(),
                "{f}: {:?}",
                &r.errors[..r.errors.len().min(3)]
            );
            assert!(r.rows_loaded > 0, "{f}");
        }
        let again = minqing_domain::import::import_dir(&store, &dir, &|_| {})
            .await
            .unwrap();
        for r in again
            .iter()
            .filter(|r| KEY_GROUP_FILES.contains(&r.file.as_str()))
        {
            assert_eq!(r.rows_loaded, 0, "{}", r.file);
        }
        // Every flag of every flagged resident is one entry on its list.
        let flagged = rows(
            &store,
            "SELECT id, key_groups FROM residents WHERE key_groups <> '' ORDER BY id",
        )
        .await;
        let entries = rows(
            &store,
            "SELECT resident_id, list FROM key_group_people ORDER BY resident_id, list",
        )
        .await;
        assert_eq!(entries.len(), manifest.key_group_entries);
        let flags: usize = flagged.iter().map(|(_, g)| g.split(';').count()).sum();
        assert_eq!(entries.len(), flags);
        let by_resident: BTreeMap<&str, &str> = flagged
            .iter()
            .map(|(i, g)| (i.as_str(), g.as_str()))
            .collect();
        for (rid, list) in &entries {
            let groups = by_resident.get(rid.as_str()).expect("a flagged resident");
            assert!(
                groups.split(';').any(|g| [18, 60]
                    .iter()
                    .any(|&age| list_for_flag(g, age) == Some(list))),
                "{rid} on {list} but flagged {groups}"
            );
            assert!(LISTS.iter().any(|(c, _)| c == list));
        }
        let visits = count(&store, "SELECT COUNT(*) FROM key_group_visits").await;
        assert!(visits > entries.len() as i64, "{visits} visits");
        seen.push((entries, visits));
    }
    assert_eq!(seen[0], seen[1], "both stores hold the same lists");
}

/// Scope, masking, audit, visits, tasks and counts over the API.
#[tokio::test]
async fn key_group_scope_masking_audit_and_visits() {
    let (_tmp, state, router, _) = loaded_app(0.02).await;
    let per_grid = rows(
        &state.store,
        "SELECT grid_code, id FROM key_group_people ORDER BY grid_code, id",
    )
    .await;
    let mut by_grid: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (g, id) in per_grid {
        by_grid.entry(g).or_default().push(id);
    }
    let (ga, a_ids) = by_grid
        .iter()
        .max_by_key(|(g, v)| (v.len(), std::cmp::Reverse((*g).clone())))
        .map(|(g, v)| (g.clone(), v.clone()))
        .unwrap();
    assert!(a_ids.len() >= 5, "grid {ga} has {} entries", a_ids.len());
    // Grid B holds fewer than 5: its count must never reach a caller not entitled to it.
    let (gb, b_ids) = by_grid
        .iter()
        .find(|(g, v)| **g != ga && (1..5).contains(&v.len()))
        .map(|(g, v)| (g.clone(), v.clone()))
        .expect("a grid with 1–4 people on the lists");
    let worker_a = bearer(
        &state,
        &router,
        Role::GridWorker,
        std::slice::from_ref(&ga),
        None,
    )
    .await;
    let leader = bearer(&state, &router, Role::Leader, &[], None).await;
    let admin = bearer(&state, &router, Role::Admin, &[], None).await;
    let screen = bearer(&state, &router, Role::Screen, &[], None).await;
    let risk = bearer(&state, &router, Role::RiskCentre, &[], None).await;
    let mediator = bearer(&state, &router, Role::Mediator, &[], Some("org")).await;

    // Grid worker A: exactly grid A's people, masked; nothing of grid B.
    let (s, list) = json_of(&router, Some(&worker_a), "GET", "/api/v1/key-groups", "").await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["total"], a_ids.len());
    let people = list["people"].as_array().unwrap();
    assert!(people.iter().all(|p| p["grid_code"] == ga.as_str()));
    let due_before: Vec<String> = people
        .iter()
        .filter(|p| p["due"] == true)
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        people
            .iter()
            .all(|p| p["name"].as_str().unwrap().contains('*')),
        "masked"
    );
    assert!(
        people
            .iter()
            .all(|p| p["worker"]["role_name"] == "专职网格员")
    );
    assert!(
        people
            .iter()
            .all(|p| p["police"]["role_name"] == "社区民警")
    );
    let text = list.to_string();
    for id in &b_ids {
        assert!(!text.contains(id.as_str()));
    }
    let (s, _) = json_of(
        &router,
        Some(&worker_a),
        "GET",
        &format!("/api/v1/key-groups?grid={gb}"),
        "",
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = json_of(
        &router,
        Some(&worker_a),
        "GET",
        &format!("/api/v1/key-groups/{}", b_ids[0]),
        "",
    )
    .await;
    assert_eq!(s, 404, "outside the grid answers like an unknown id");
    let (s, _) = json_of(
        &router,
        Some(&worker_a),
        "GET",
        "/api/v1/key-groups/KG999999",
        "",
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = json_of(
        &router,
        Some(&worker_a),
        "GET",
        &format!("/api/v1/key-groups/summary?area={gb}"),
        "",
    )
    .await;
    assert_eq!(s, 403, "not even a count below 5");
    let (s, sum) = json_of(
        &router,
        Some(&worker_a),
        "GET",
        "/api/v1/key-groups/summary",
        "",
    )
    .await;
    assert_eq!(s, 200);
    let grids = sum["grids"].as_array().unwrap();
    assert_eq!(grids.len(), 1, "{sum}");
    assert_eq!(grids[0]["grid_code"], ga.as_str());
    assert_eq!(grids[0]["exact"], true);
    assert_eq!(grids[0]["total"], a_ids.len());
    assert!(!sum.to_string().contains(gb.as_str()));
    let visit = format!("/api/v1/key-groups/{}/visits", b_ids[0]);
    let (s, _) = json_of(
        &router,
        Some(&worker_a),
        "POST",
        &visit,
        r#"{"kind":"visit","note":"入户走访"}"#,
    )
    .await;
    assert_eq!(s, 404);

    // Detail: masked resident behind the entry.
    let one = &a_ids[0];
    let (s, d) = json_of(
        &router,
        Some(&worker_a),
        "GET",
        &format!("/api/v1/key-groups/{one}"),
        "",
    )
    .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["masked"], true);
    assert!(d["resident"]["id_number"].as_str().unwrap().contains('*'));
    assert!(d["name"].as_str().unwrap().contains('*'));
    let before = d["visits"].as_array().unwrap().len();
    let version = d["version"].as_i64().unwrap();

    // Recording a visit: the status and the plan change; a stale version is a 409.
    let body = format!(
        r#"{{"kind":"counselling","note":"谈心疏导，情绪波动较大","status":"alert","version":{version}}}"#
    );
    let (s, v) = json_of(
        &router,
        Some(&worker_a),
        "POST",
        &format!("/api/v1/key-groups/{one}/visits"),
        &body,
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["status"], "alert");
    assert_eq!(v["visit_every_days"], 7);
    assert_eq!(v["due"], false);
    assert_eq!(v["version"], version + 1);
    assert_eq!(v["visits"].as_array().unwrap().len(), before + 1);
    assert_eq!(v["visits"][0]["kind_name"], "心理疏导");
    let (s, _) = json_of(
        &router,
        Some(&worker_a),
        "POST",
        &format!("/api/v1/key-groups/{one}/visits"),
        &body,
    )
    .await;
    assert_eq!(s, 409);
    let (s, _) = json_of(
        &router,
        Some(&worker_a),
        "POST",
        &format!("/api/v1/key-groups/{one}/visits"),
        r#"{"kind":"party","note":"走访"}"#,
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = json_of(
        &router,
        Some(&leader),
        "POST",
        &format!("/api/v1/key-groups/{one}/visits"),
        r#"{"kind":"visit","note":"走访"}"#,
    )
    .await;
    assert_eq!(
        s, 403,
        "leaders read, the grid and the risk centre follow up"
    );
    let (s, _) = json_of(
        &router,
        Some(&risk),
        "POST",
        &format!("/api/v1/key-groups/{}/visits", b_ids[0]),
        r#"{"kind":"help","note":"协助申请临时救助"}"#,
    )
    .await;
    assert_eq!(s, 201);

    // Due follow-ups are the grid worker's tasks: the entries the list showed due,
    // but the one just visited.
    let (s, tasks) = json_of(&router, Some(&worker_a), "GET", "/api/v1/tasks", "").await;
    assert_eq!(s, 200);
    let due = tasks["key_group_follow_ups"].as_array().unwrap();
    let mut want: Vec<&str> = due_before
        .iter()
        .map(String::as_str)
        .filter(|id| *id != one.as_str())
        .collect();
    let mut got: Vec<&str> = due.iter().map(|t| t["id"].as_str().unwrap()).collect();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want, "{tasks}");
    assert!(due.iter().all(|t| t["grid_code"] == ga.as_str()));
    let (_, tasks) = json_of(&router, Some(&leader), "GET", "/api/v1/tasks", "").await;
    assert_eq!(tasks["key_group_follow_ups"].as_array().unwrap().len(), 0);

    // Leaders: every grid, exact counts; unmasking needs a reason and is audited.
    let (s, all) = json_of(
        &router,
        Some(&leader),
        "GET",
        "/api/v1/key-groups?limit=5000",
        "",
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(all["total"], by_grid.values().map(Vec::len).sum::<usize>());
    let (_, sum) = json_of(
        &router,
        Some(&leader),
        "GET",
        "/api/v1/key-groups/summary",
        "",
    )
    .await;
    let b = sum["grids"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["grid_code"] == gb.as_str())
        .unwrap()
        .clone();
    assert_eq!(b["total"], b_ids.len());
    assert_eq!(sum["total"], all["total"]);
    let unmask = format!("/api/v1/key-groups/{one}/unmask");
    let (s, _) = json_of(&router, Some(&leader), "POST", &unmask, "{}").await;
    assert_eq!(s, 400);
    let (s, full) = json_of(
        &router,
        Some(&leader),
        "POST",
        &unmask,
        r#"{"reason":"案件协查 2024-17"}"#,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(full["masked"], false);
    assert!(!full["name"].as_str().unwrap().contains('*'));
    assert!(
        !full["resident"]["id_number"]
            .as_str()
            .unwrap()
            .contains('*')
    );
    let (s, _) = json_of(
        &router,
        Some(&worker_a),
        "POST",
        &unmask,
        r#"{"reason":"想看看全名"}"#,
    )
    .await;
    assert_eq!(s, 403);

    // Admins: no people; only totals of 5 or more. Screens and mediators: nothing.
    let (s, _) = json_of(&router, Some(&admin), "GET", "/api/v1/key-groups", "").await;
    assert_eq!(s, 403);
    let (s, sum) = json_of(
        &router,
        Some(&admin),
        "GET",
        "/api/v1/key-groups/summary",
        "",
    )
    .await;
    assert_eq!(s, 200);
    for g in sum["grids"].as_array().unwrap() {
        assert_eq!(g["exact"], false);
        assert!(g["by_list"].is_null() && g["by_status"].is_null() && g["due"].is_null());
        assert!(
            g["total"].is_null() || g["total"].as_u64().unwrap() >= 5,
            "{g}"
        );
    }
    let b = sum["grids"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["grid_code"] == gb.as_str())
        .unwrap()
        .clone();
    assert!(
        b["total"].is_null(),
        "grid B's {} suppressed: {b}",
        b_ids.len()
    );
    assert!(sum["total"].is_null());
    for t in [&screen, &mediator] {
        for uri in ["/api/v1/key-groups", "/api/v1/key-groups/summary"] {
            let (s, _) = json_of(&router, Some(t), "GET", uri, "").await;
            assert_eq!(s, 403, "{uri}");
        }
    }
    let (s, _) = json_of(&router, None, "GET", "/api/v1/key-groups/summary", "").await;
    assert_eq!(s, 401);

    // The audit log has every read, the refusals and the writes.
    let log = rows(
        &state.store,
        "SELECT action, target FROM audit_log ORDER BY seq",
    )
    .await;
    let has =
        |action: &str, target: &str| log.iter().any(|(a, t)| a == action && t.contains(target));
    assert!(has("read_key_groups", "-;list="), "{log:?}");
    assert!(has("denied_read_key_groups", &gb));
    assert!(has("denied_read_key_group", &b_ids[0]));
    assert!(has("denied_read_key_group_counts", &gb));
    assert!(has("read_key_group", one));
    assert!(has("record_key_group_visit", &format!("{one}-")));
    assert!(has("denied_record_key_group_visit", &b_ids[0]));
    assert!(has("read_key_group_tasks", "due="));
    assert!(has("read_key_group_counts", "-"));
    assert!(has("denied_unmask_key_group", one));
    let reasons = count(
        &state.store,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'unmask_key_group' AND reason = '案件协查 2024-17'",
    )
    .await;
    assert_eq!(reasons, 1);
}

/// The write paths on PostGIS: recording a visit (status, plan, version, the visit row
/// and the audit entry in one transaction) and finishing a dispatched task.
#[tokio::test]
async fn visits_and_finished_tasks_on_postgis() {
    let (_tmp, dir, _) = district(0.01);
    let store = postgis_store().await;
    minqing_domain::import::import_dir(&store, &dir, &|_| {})
        .await
        .unwrap();
    let state = minqing_domain::App::new(store.clone());
    state.set_index(minqing_domain::load_index(&store).await.unwrap());
    let router = minqing_server::http::app(state.clone());
    let (grid, id) = rows(
        &store,
        "SELECT grid_code, id FROM key_group_people ORDER BY id LIMIT 1",
    )
    .await
    .remove(0);
    let worker = bearer(
        &state,
        &router,
        Role::GridWorker,
        std::slice::from_ref(&grid),
        None,
    )
    .await;
    let leader = bearer(&state, &router, Role::Leader, &[], None).await;
    let (s, v) = json_of(
        &router,
        Some(&worker),
        "POST",
        &format!("/api/v1/key-groups/{id}/visits"),
        r#"{"kind":"visit","note":"入户走访，情况稳定","status":"stable"}"#,
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["visits"][0]["note"], "入户走访，情况稳定");
    assert_eq!(v["due"], false);
    let visits = count(
        &store,
        &format!("SELECT COUNT(*) FROM key_group_visits WHERE person_id = '{id}' AND actor LIKE 't-grid_worker-%'"),
    )
    .await;
    assert_eq!(visits, 1);
    let audited = count(
        &store,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'record_key_group_visit'",
    )
    .await;
    assert_eq!(audited, 1);
    let (s, task) = json_of(
        &router,
        Some(&leader),
        "POST",
        &format!("/api/v1/grids/{grid}/tasks"),
        r#"{"item_code":"WL006","note":"重点人员走访"}"#,
    )
    .await;
    assert_eq!(s, 201, "{task}");
    let (s, t) = json_of(
        &router,
        Some(&worker),
        "POST",
        &format!(
            "/api/v1/grids/{grid}/tasks/{}/done",
            task["code"].as_str().unwrap()
        ),
        r#"{"note":"已走访"}"#,
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM grid_task_steps WHERE action = 'done'"
        )
        .await,
        1
    );
}
