//! The forces on the ground: generator figures (exact at scale 1 for the forces), both
//! stores, the patrol and team lists, the stats, grid forces (scope, masking, audit),
//! work-list admission, logging a patrol, and patrol coverage against brute force.

use crate::support::{bearer, call, district, get, loaded_app, postgis_store, sqlite_store, until};
use minqing_domain::auth::Role;
use minqing_domain::forces::{self, staffing_standard};
use minqing_domain::generate::{forces as gen_forces, geography};
use serde_json::{Value, json};

/// Patrols per CST month of the event years in a generated `patrols.geojson`.
fn patrols_per_month(dir: &std::path::Path) -> std::collections::BTreeMap<String, usize> {
    let text = std::fs::read_to_string(dir.join("patrols.geojson")).unwrap();
    let fc: geojson::FeatureCollection = text.parse().unwrap();
    let mut out = std::collections::BTreeMap::new();
    for f in fc.features {
        let at = f.property("started_at").unwrap().as_i64().unwrap();
        let month = minqing_domain::time::format_date(at)[..7].to_string();
        *out.entry(month).or_insert(0) += 1;
    }
    out
}

/// The CST months from 2023-01 up to the one before `until` (`until` is a month's first
/// day in the tests), as `YYYY-MM`.
fn event_months(until: &str) -> Vec<String> {
    let (y1, m1): (i32, i32) = (until[..4].parse().unwrap(), until[5..7].parse().unwrap());
    let mut out = Vec::new();
    let (mut y, mut m) = (2023, 1);
    while (y, m) < (y1, m1) {
        out.push(format!("{y:04}-{m:02}"));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    out
}

/// At scale 1 the forces are the source's figures, exactly: 163 teams, at least 3,000
/// members, at least 300 patrols in every month of the event years (2023 up to the
/// generator's present), every team's core within the staffing standard of its home
/// area. (The forces depend on the geography and the events only for where patrols go,
/// so this runs without the register.)
#[test]
fn forces_figures_exact_at_scale_1() {
    let tmp = tempfile::tempdir().unwrap();
    let (geo, fig) = gen_forces::generate_alone(tmp.path(), 1.0, 7, until()).unwrap();
    assert_eq!(fig.patrol_teams, 163);
    assert!(fig.patrol_members >= 3_000, "{}", fig.patrol_members);
    assert!(fig.patrols_min_per_month >= 300);
    let months = patrols_per_month(tmp.path());
    let want = event_months(crate::support::UNTIL);
    assert_eq!(want.len(), 47);
    assert_eq!(
        months.keys().cloned().collect::<Vec<_>>(),
        want,
        "every month from 2023-01 to the present, none after"
    );
    assert!(months.values().all(|&n| n >= 300), "{months:?}");
    assert_eq!(months.values().sum::<usize>(), fig.patrols);
    // The staffing standard, team by team, from the files.
    let kinds: std::collections::HashMap<String, &str> = geo
        .townships
        .iter()
        .map(|t| {
            let k = if t.kind == geography::TownshipKind::Street {
                "street"
            } else {
                "town"
            };
            (t.code.clone(), k)
        })
        .chain(geo.communities.iter().map(|c| {
            (
                c.code.clone(),
                if c.village { "village" } else { "community" },
            )
        }))
        .collect();
    let mut teams = csv::Reader::from_path(tmp.path().join("patrol_teams.csv")).unwrap();
    let area_of: std::collections::HashMap<String, String> = teams
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[3].to_string())
        })
        .collect();
    assert_eq!(area_of.len(), 163);
    let mut core: std::collections::HashMap<String, u32> = Default::default();
    let mut members = 0;
    let mut m = csv::Reader::from_path(tmp.path().join("patrol_members.csv")).unwrap();
    for r in m.records() {
        let r = r.unwrap();
        members += 1;
        if &r[4] == "core" {
            *core.entry(r[1].to_string()).or_default() += 1;
        }
    }
    assert_eq!(members, fig.patrol_members);
    for (team, area) in &area_of {
        let n = core.get(team).copied().unwrap_or(0);
        let std = staffing_standard(kinds[area]);
        assert!(
            std.contains(&n),
            "team {team} in a {} has {n} core members",
            kinds[area]
        );
    }
    // Every township kind's standard is used.
    let used: std::collections::BTreeSet<&str> = area_of.values().map(|a| kinds[a]).collect();
    assert!(used.contains("street") && used.contains("town") && used.contains("community"));
    // A full-time grid worker in every urban community grid.
    let mut f = csv::Reader::from_path(tmp.path().join("grid_forces.csv")).unwrap();
    let mut full: std::collections::HashSet<String> = Default::default();
    for r in f.records() {
        let r = r.unwrap();
        if &r[2] == "grid_worker" && &r[5] == "1" {
            full.insert(r[1].to_string());
        }
    }
    let urban: Vec<&geography::Grid> = geo
        .grids
        .iter()
        .filter(|g| !geo.communities[g.community].village)
        .collect();
    assert_eq!(urban.len(), 331);
    assert!(urban.iter().all(|g| full.contains(&g.code)));
}

/// At the test scales: the scaled figures in the manifest and the files, and the loaded
/// index holds what was generated.
#[tokio::test]
async fn small_scale_figures_and_load() {
    let (_tmp, state, router, m) = loaded_app(0.01).await;
    let ix = state.index().unwrap();
    {
        let f = ix.forces.read();
        let townships = m.townships;
        assert_eq!(m.patrol_teams, townships + 2);
        assert_eq!(f.teams.len(), m.patrol_teams);
        assert!(m.patrol_members >= 31);
        assert_eq!(f.members, m.patrol_members);
        // At least 4 a month at the smallest scales, every month up to the present.
        assert_eq!(m.patrols, event_months(crate::support::UNTIL).len() * 4);
        assert_eq!(m.patrols_min_per_month, 4);
        assert_eq!(f.patrols.len(), m.patrols);
        assert!(
            f.teams.iter().all(|t| t.meets_standard()),
            "staffing standard"
        );
        assert_eq!(f.work_items.len(), 12);
        assert!(
            f.patrols
                .iter()
                .all(|p| p.track.len() >= 100 && !p.cells.is_empty())
        );
    }
    let (s, body) = get(&router, "/api/v1/stats").await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["patrol_teams"], m.patrol_teams);
    assert_eq!(v["patrol_members"], m.patrol_members);
    // The patrols run up to the present: on the present day (12:00 CST of the
    // generator's `until`) and on a day of the seed years (2024-12-20 12:00 CST), the
    // patrols of the 30 days before, and some.
    let present = minqing_domain::time::day_start(until()).unwrap();
    for target in [present + 4 * 3600, 1_734_667_200] {
        state.clock.advance(target - state.clock.now());
        let (_, body) = get(&router, "/api/v1/stats").await;
        let v: Value = serde_json::from_str(&body).unwrap();
        let want = ix
            .forces
            .read()
            .patrols
            .iter()
            .filter(|p| p.started_at >= target - 30 * 86_400 && p.started_at < target)
            .count();
        assert!(want >= 3, "{want} patrols in the 30 days before {target}");
        assert_eq!(v["patrols_last_30_days"], want);
    }
    // No patrol runs past the present.
    assert!(
        ix.forces
            .read()
            .patrols
            .iter()
            .all(|p| p.ended_at <= present)
    );
}

/// Both stores hold and load the same forces.
#[tokio::test]
async fn both_stores_load_the_same_forces() {
    let (tmp, dir, _) = district(0.01);
    let mut loaded = Vec::new();
    for store in [sqlite_store(tmp.path()).await, postgis_store().await] {
        let reports = minqing_domain::import::import_dir(&store, &dir, &|_| {})
            .await
            .unwrap();
        for r in reports
            .iter()
            .filter(|r| forces::import::FILES.contains(&r.file.as_str()))
        {
            assert!(
                r.errors.is_empty(),
                "{}: {:?}",
                r.file,
                &r.errors[..r.errors.len().min(3)]
            );
            assert!(r.rows_loaded > 0, "{}", r.file);
        }
        assert_eq!(
            reports
                .iter()
                .filter(|r| forces::import::FILES.contains(&r.file.as_str()))
                .count(),
            5
        );
        // A second import changes nothing.
        let again = minqing_domain::import::import_dir(&store, &dir, &|_| {})
            .await
            .unwrap();
        for r in again
            .iter()
            .filter(|r| forces::import::FILES.contains(&r.file.as_str()))
        {
            assert_eq!(r.rows_loaded, 0, "{}", r.file);
        }
        loaded.push(store.load_forces().await.unwrap());
    }
    let (a, b) = (&loaded[0], &loaded[1]);
    assert_eq!(a.teams.len(), b.teams.len());
    assert_eq!(a.members.len(), b.members.len());
    assert_eq!(a.patrols.len(), b.patrols.len());
    assert_eq!(a.forces.len(), b.forces.len());
    assert_eq!(a.work_items.len(), b.work_items.len());
    for (p, q) in a.patrols.iter().zip(&b.patrols) {
        assert_eq!(
            (&p.code, p.started_at, &p.track),
            (&q.code, q.started_at, &q.track)
        );
    }
    for (p, q) in a.forces.iter().zip(&b.forces) {
        assert_eq!((&p.id, &p.phone_masked), (&q.id, &q.phone_masked));
        let masked = p.phone_masked.as_deref().unwrap();
        assert!(masked.contains('*'), "{masked}");
    }
}

/// A bad row of a forces file is a numbered error and the good rows still load.
#[tokio::test]
async fn forces_rows_are_checked_with_line_numbers() {
    let (tmp, dir, _) = district(0.01);
    let text = std::fs::read_to_string(dir.join("patrol_members.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[2] = lines[2].replacen("PT0001", "PT9999", 1);
    lines[3] = lines[3]
        .replace(",core", ",captain")
        .replace(",volunteer", ",captain");
    std::fs::write(dir.join("patrol_members.csv"), lines.join("\n") + "\n").unwrap();
    let store = sqlite_store(tmp.path()).await;
    let reports = minqing_domain::import::import_dir(&store, &dir, &|_| {})
        .await
        .unwrap();
    let r = reports
        .iter()
        .find(|r| r.file == "patrol_members.csv")
        .unwrap();
    let lines_err: Vec<u64> = r.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines_err, vec![3, 4], "{:?}", r.errors);
    assert!(r.errors[0].message.contains("unknown patrol team PT9999"));
    assert!(r.errors[1].message.contains("duty"));
    assert_eq!(r.rows_loaded, r.rows_total - 2);
}

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

/// Lists and filters; grid forces scoped, masked and audited; dispatch admitted by the
/// work list only; logging a patrol from the grid view.
#[tokio::test]
async fn api_lists_scope_admission_and_logging() {
    let (_tmp, state, router, m) = loaded_app(0.01).await;
    let ix = state.index().unwrap();
    let grids: Vec<String> = ix
        .areas
        .iter()
        .filter(|a| a.area.level == minqing_domain::model::AreaLevel::Grid)
        .map(|a| a.area.code.clone())
        .collect();
    let (ga, gb) = (&grids[0], &grids[1]);
    let worker_a = bearer(
        &state,
        &router,
        Role::GridWorker,
        std::slice::from_ref(ga),
        None,
    )
    .await;
    let leader = bearer(&state, &router, Role::Leader, &[], None).await;
    let screen = bearer(&state, &router, Role::Screen, &[], None).await;

    // Patrols: all, by team, by window, by area.
    let (s, all) = json_of(&router, None, "GET", "/api/v1/patrols?limit=5000", "").await;
    assert_eq!(s, 200);
    assert_eq!(all["total"], m.patrols);
    let team = all["patrols"][0]["team"].as_str().unwrap().to_string();
    let (_, by_team) = json_of(
        &router,
        None,
        "GET",
        &format!("/api/v1/patrols?team={team}&limit=5000"),
        "",
    )
    .await;
    let want = all["patrols"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["team"] == team.as_str())
        .count();
    assert_eq!(by_team["total"], want);
    let (_, jan) = json_of(
        &router,
        None,
        "GET",
        "/api/v1/patrols?from=2024-01-01&to=2024-01-31",
        "",
    )
    .await;
    assert_eq!(jan["total"], 4);
    assert!(jan["patrols"][0]["track"].as_array().unwrap().len() >= 100);
    let (s, _) = json_of(&router, None, "GET", "/api/v1/patrols?team=PT9999", "").await;
    assert_eq!(s, 404);
    let (s, _) = json_of(&router, None, "GET", "/api/v1/patrols?from=2024-13-01", "").await;
    assert_eq!(s, 400);
    let (_, teams) = json_of(&router, None, "GET", "/api/v1/patrol-teams", "").await;
    assert!(
        teams["teams"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["meets_standard"] == true)
    );
    assert!(
        !teams.to_string().contains("PM0"),
        "no member records in the team list"
    );

    // Grid forces: the grid's own worker and leaders; not another grid's worker, not the
    // screen, not anonymous. Phones masked; reads audited.
    let uri_a = format!("/api/v1/grids/{ga}/forces");
    let uri_b = format!("/api/v1/grids/{gb}/forces");
    let (s, fa) = json_of(&router, Some(&worker_a), "GET", &uri_a, "").await;
    assert_eq!(s, 200, "{fa}");
    let roles: Vec<&str> = fa["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    for r in [
        "grid_leader",
        "grid_worker",
        "political_legal",
        "police",
        "urban_management",
    ] {
        assert!(roles.contains(&r), "{r} in {roles:?}");
    }
    for m in fa["members"].as_array().unwrap() {
        let p = m["phone"].as_str().unwrap();
        assert!(p.contains("****") && p.len() == 11, "{p}");
    }
    assert_eq!(
        json_of(&router, Some(&worker_a), "GET", &uri_b, "").await.0,
        403
    );
    assert_eq!(
        json_of(&router, Some(&screen), "GET", &uri_a, "").await.0,
        403
    );
    assert_eq!(json_of(&router, None, "GET", &uri_a, "").await.0, 401);
    assert_eq!(
        json_of(&router, Some(&leader), "GET", &uri_b, "").await.0,
        200
    );
    assert_eq!(
        json_of(
            &router,
            Some(&leader),
            "GET",
            "/api/v1/grids/510603999/forces",
            ""
        )
        .await
        .0,
        404
    );
    let audited: i64 = match &state.store {
        minqing_domain::store::Store::Sqlite(p) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'read_grid_forces'")
                .fetch_one(p)
                .await
                .unwrap()
        }
        minqing_domain::store::Store::Postgres(_) => unreachable!(),
    };
    assert_eq!(audited, 2);

    // The work list and admission.
    let (_, items) = json_of(&router, None, "GET", "/api/v1/work-items", "").await;
    assert_eq!(items["items"].as_array().unwrap().len(), 12);
    let tasks_a = format!("/api/v1/grids/{ga}/tasks");
    let assignee = fa["members"][1]["id"].as_str().unwrap();
    let body = json!({"item_code": "WL004", "note": "检查楼道消防通道", "assignee_id": assignee})
        .to_string();
    let (s, t) = json_of(&router, Some(&leader), "POST", &tasks_a, &body).await;
    assert_eq!(s, 201, "{t}");
    let (s, e) = json_of(
        &router,
        Some(&leader),
        "POST",
        &tasks_a,
        &json!({"item_code": "XX999"}).to_string(),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(e["error"]["details"]["rule"], "grid_work_list_admission");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("网格事项准入")
    );
    let (s, _) = json_of(
        &router,
        Some(&leader),
        "POST",
        &tasks_a,
        &json!({"item_code": "WL004", "assignee_id": "GF0"}).to_string(),
    )
    .await;
    assert_eq!(s, 422, "an assignee outside the grid's forces");
    assert_eq!(
        json_of(&router, Some(&worker_a), "POST", &tasks_a, &body)
            .await
            .0,
        403
    );
    assert_eq!(
        json_of(
            &router,
            Some(&leader),
            "POST",
            "/api/v1/grids/510603999/tasks",
            &body
        )
        .await
        .0,
        404
    );
    assert_eq!(
        json_of(&router, Some(&leader), "POST", &tasks_a, "{")
            .await
            .0,
        400
    );
    let (s, list) = json_of(&router, Some(&worker_a), "GET", &tasks_a, "").await;
    assert_eq!(s, 200);
    assert_eq!(list["open_tasks"], 1);
    assert_eq!(list["open_minutes"], 60);
    assert_eq!(list["tasks"][0]["code"], t["code"]);
    assert_eq!(list["tasks"][0]["item_name"], "消防安全隐患巡查");
    assert_eq!(
        json_of(
            &router,
            Some(&worker_a),
            "GET",
            &format!("/api/v1/grids/{gb}/tasks"),
            ""
        )
        .await
        .0,
        403
    );
    let steps: i64 = match &state.store {
        minqing_domain::store::Store::Sqlite(p) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM grid_task_steps WHERE action = 'dispatch'")
                .fetch_one(p)
                .await
                .unwrap()
        }
        minqing_domain::store::Store::Postgres(_) => unreachable!(),
    };
    assert_eq!(steps, 1, "the dispatch and its history step");

    // Logging a patrol: a track starting in the worker's grid.
    let b = ix
        .buildings
        .iter()
        .find(|b| {
            b.grid
                .is_some_and(|g| ix.areas[g as usize].area.code == *ga)
        })
        .unwrap();
    let (_, v) = json_of(&router, None, "GET", "/api/v1/stats", "").await;
    let recent = v["patrols_last_30_days"].as_u64().unwrap();
    let now = state.clock.now();
    let track: Vec<[f64; 2]> = (0..10)
        .map(|i| [b.lon + i as f64 * 0.0002, b.lat])
        .collect();
    let body = json!({"started_at": now - 3600, "ended_at": now - 60, "track": track, "findings": "发现消防通道堵塞"}).to_string();
    let (s, p) = json_of(&router, Some(&worker_a), "POST", "/api/v1/patrols", &body).await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(p["findings"], "发现消防通道堵塞");
    let (_, v) = json_of(&router, None, "GET", "/api/v1/stats", "").await;
    assert_eq!(v["patrols_last_30_days"], recent + 1);
    let (_, all2) = json_of(&router, None, "GET", "/api/v1/patrols?limit=5000", "").await;
    assert_eq!(all2["total"], m.patrols + 1);
    // Stored: a fresh load has it.
    let snap = state.store.load_forces().await.unwrap();
    assert!(
        snap.patrols
            .iter()
            .any(|q| q.code == p["code"].as_str().unwrap() && q.track.len() == 10)
    );
    // Not in another grid; not by the screen; a bad track is refused.
    let other = ix
        .buildings
        .iter()
        .find(|b| {
            b.grid
                .is_some_and(|g| ix.areas[g as usize].area.code != *ga)
        })
        .unwrap();
    let body_b = json!({"started_at": now - 3600, "ended_at": now, "track": [[other.lon, other.lat], [other.lon, other.lat]]}).to_string();
    assert_eq!(
        json_of(&router, Some(&worker_a), "POST", "/api/v1/patrols", &body_b)
            .await
            .0,
        403
    );
    assert_eq!(
        json_of(&router, Some(&screen), "POST", "/api/v1/patrols", &body)
            .await
            .0,
        403
    );
    let bad = json!({"started_at": now, "ended_at": now - 10, "track": track}).to_string();
    assert_eq!(
        json_of(&router, Some(&worker_a), "POST", "/api/v1/patrols", &bad)
            .await
            .0,
        400
    );
    let one =
        json!({"started_at": now - 60, "ended_at": now, "track": [[b.lon, b.lat]]}).to_string();
    assert_eq!(
        json_of(&router, Some(&worker_a), "POST", "/api/v1/patrols", &one)
            .await
            .0,
        400
    );
}

/// Coverage equals a brute-force count: for each hot cell, the patrols of each window
/// with a fix in the cell (cells from each fix directly, windows by a plain filter).
#[tokio::test]
async fn coverage_matches_brute_force() {
    let (_tmp, state, router, _) = loaded_app(0.03).await;
    let ix = state.index().unwrap();
    let res = h3o::Resolution::try_from(9).unwrap();
    let to = 1_733_500_000i64; // 2024-12-06
    let brute = |cell: u64, days: i64| -> u32 {
        let f = ix.forces.read();
        f.patrols
            .iter()
            .filter(|p| p.started_at >= to - days * 86_400 && p.started_at < to)
            .filter(|p| {
                p.track
                    .iter()
                    .any(|&(x, y)| u64::from(h3o::LatLng::new(y, x).unwrap().to_cell(res)) == cell)
            })
            .count() as u32
    };
    // Every cell any patrol of the record visited, plus cells none did: the pure count.
    let mut cells: Vec<u64> = {
        let f = ix.forces.read();
        f.patrols
            .iter()
            .flat_map(|p| p.cells.iter().copied())
            .collect()
    };
    cells.sort_unstable();
    cells.dedup();
    cells.truncate(400);
    let empty = u64::from(h3o::LatLng::new(0.0, 0.0).unwrap().to_cell(res));
    cells.push(empty);
    let v = {
        let f = ix.forces.read();
        forces::coverage::visits(&cells, &f.patrols, to)
    };
    let mut nonzero = 0;
    for (c, (v7, v30)) in cells.iter().zip(&v) {
        assert_eq!((*v7, *v30), (brute(*c, 7), brute(*c, 30)), "cell {c:x}");
        nonzero += usize::from(*v30 > 0);
    }
    assert!(nonzero > 0, "the check must see visits");
    assert_eq!(v.last(), Some(&(0, 0)));
    // The report over model 3's hot cells, through the API.
    let (s, body) = get(&router, "/api/v1/analysis/patrol-coverage?to=2024-12-05").await;
    assert_eq!(s, 200, "{body}");
    let r: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(r["to"], 1_733_414_400, "the end of 2024-12-05 CST");
    let hot = minqing_domain::analysis::hotspots(&state, Default::default()).unwrap();
    let significant: Vec<u64> = hot
        .report
        .cells
        .iter()
        .filter(|c| forces::coverage::is_significant_hot(c.class))
        .map(|c| c.cell)
        .collect();
    assert!(!significant.is_empty());
    assert_eq!(r["hot_cells"], significant.len());
    let to_r = r["to"].as_i64().unwrap();
    let brute_to = |cell: u64, days: i64| -> u32 {
        let f = ix.forces.read();
        f.patrols
            .iter()
            .filter(|p| p.started_at >= to_r - days * 86_400 && p.started_at < to_r)
            .filter(|p| {
                p.track
                    .iter()
                    .any(|&(x, y)| u64::from(h3o::LatLng::new(y, x).unwrap().to_cell(res)) == cell)
            })
            .count() as u32
    };
    for c in r["cells"].as_array().unwrap() {
        let cell = u64::from_str_radix(c["cell"].as_str().unwrap(), 16).unwrap();
        assert_eq!(c["visits_7d"], brute_to(cell, 7));
        assert_eq!(c["visits_30d"], brute_to(cell, 30));
        assert_eq!(c["uncovered"], brute_to(cell, 30) == 0);
    }
    let covered = r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["uncovered"] == false)
        .count();
    assert_eq!(r["covered_30d"], covered);
    // Every cell is named by the community and township whose polygons hold its centre.
    for c in r["cells"].as_array().unwrap() {
        use geo::Contains;
        let pt = geo_types::Point::new(c["lon"].as_f64().unwrap(), c["lat"].as_f64().unwrap());
        let holder = |level: minqing_domain::model::AreaLevel| {
            ix.areas
                .iter()
                .find(|a| a.area.level == level && a.area.geometry.contains(&pt))
                .map(|a| a.area.name.clone())
        };
        let (t, m) = (
            holder(minqing_domain::model::AreaLevel::Township),
            holder(minqing_domain::model::AreaLevel::Community),
        );
        // …and the named road nearest to it, brute force over every road point
        // and segment (within 300 m).
        let (lon, lat) = (pt.x(), pt.y());
        let kx = 111_320.0 * lat.to_radians().cos();
        let dist = |a: (f64, f64), b: (f64, f64)| -> f64 {
            let (ax, ay, bx, by) = (
                (a.0 - lon) * kx,
                (a.1 - lat) * 110_540.0,
                (b.0 - lon) * kx,
                (b.1 - lat) * 110_540.0,
            );
            // The segment sampled every metre or so: slow, and obviously right.
            let n = ((bx - ax).hypot(by - ay).ceil() as usize).max(1);
            (0..=n)
                .map(|i| {
                    let t = i as f64 / n as f64;
                    (ax + t * (bx - ax)).hypot(ay + t * (by - ay))
                })
                .fold(f64::INFINITY, f64::min)
        };
        let nearest = ix
            .roads
            .iter()
            // A compound's own lane is no landmark.
            .filter(|r| r.class != "service")
            .map(|r| {
                let d = r
                    .geometry
                    .0
                    .windows(2)
                    .map(|w| dist((w[0].x, w[0].y), (w[1].x, w[1].y)))
                    .fold(f64::INFINITY, f64::min);
                (d, r.name.clone())
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .filter(|(d, _)| *d <= 300.0);
        if let (Some(t), Some(m)) = (t, m) {
            let want = match &nearest {
                Some((_, road)) => format!("{t} · {m} · {road}附近"),
                None => format!("{t} · {m}"),
            };
            assert_eq!(c["place"], want, "{c}");
            assert_eq!(c["community_name"], m.as_str());
            assert_eq!(c["road"].as_str(), nearest.as_ref().map(|n| n.1.as_str()));
        }
        assert!(!c["place"].as_str().unwrap().is_empty());
    }
    // The road tells apart cells that share a community: more distinct places than
    // communities named.
    let cells = r["cells"].as_array().unwrap();
    let places: std::collections::BTreeSet<&str> =
        cells.iter().map(|c| c["place"].as_str().unwrap()).collect();
    let communities: std::collections::BTreeSet<&str> = cells
        .iter()
        .filter_map(|c| c["community_name"].as_str())
        .collect();
    assert!(
        cells.iter().filter(|c| c["road"].is_string()).count() * 2 > cells.len(),
        "most hot cells lie near a named road"
    );
    if cells.len() > communities.len() {
        assert!(
            places.len() > communities.len(),
            "{} places for {} cells in {} communities",
            places.len(),
            cells.len(),
            communities.len()
        );
    }
    let named = r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["community_name"].is_string())
        .count();
    assert!(named > 0, "cells named by community");
    let per_township: u64 = r["townships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["hot_cells"].as_u64().unwrap())
        .sum();
    assert_eq!(per_township, significant.len() as u64);
}

/// The `patrols` layer: at z15 the tile over a patrol of the last 30 days of the record
/// holds its track as a line (code, team, day; nothing else), at z10 coverage cells with
/// visits; a logged patrol shows at once (the cache keys on the forces' generation).
#[tokio::test]
async fn patrols_tile_layer() {
    use mvt_reader::Reader;
    let (_tmp, state, router, _) = loaded_app(0.01).await;
    let ix = state.index().unwrap();
    let layer_of = |bytes: &[u8]| -> Vec<mvt_reader::feature::Feature<f32>> {
        if bytes.is_empty() {
            return Vec::new();
        }
        let r = Reader::new(bytes.to_vec()).unwrap();
        let names = r.get_layer_names().unwrap();
        let i = names.iter().position(|n| n == "patrols").unwrap();
        r.get_features(i).unwrap()
    };
    let (code, lon, lat) = {
        let f = ix.forces.read();
        let p = f.patrols.last().unwrap();
        (p.code.clone(), p.track[0].0, p.track[0].1)
    };
    let t = minqing_tiles::TileId::from_lonlat(lon, lat, 15).unwrap();
    let (s, _, body) = call(
        &router,
        "GET",
        &format!("/tiles/patrols/15/{}/{}.mvt", t.x(), t.y()),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(s, 200);
    let features = layer_of(&body);
    let codes: Vec<String> = features
        .iter()
        .filter_map(|f| f.properties.as_ref()?.get("code").map(|v| format!("{v:?}")))
        .collect();
    assert!(codes.iter().any(|c| c.contains(&code)), "{codes:?}");
    for f in &features {
        assert!(matches!(
            f.geometry,
            geo_types::Geometry::LineString(_) | geo_types::Geometry::MultiLineString(_)
        ));
        let keys: std::collections::BTreeSet<&str> = f
            .properties
            .as_ref()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert!(
            keys.iter().all(|k| ["code", "team", "day"].contains(k)),
            "{keys:?}"
        );
    }
    let t10 = minqing_tiles::TileId::from_lonlat(lon, lat, 10).unwrap();
    let (_, _, body) = call(
        &router,
        "GET",
        &format!("/tiles/patrols/10/{}/{}.mvt", t10.x(), t10.y()),
        &[],
        Vec::new(),
    )
    .await;
    let cells = layer_of(&body);
    assert!(!cells.is_empty());
    assert!(
        cells
            .iter()
            .all(|f| f.properties.as_ref().unwrap().contains_key("visits"))
    );
    // A patrol logged now moves the window: the z15 tile over it shows it at once.
    // (Two months after the generator's present, so the record's last weeks are out.)
    let present = minqing_domain::time::day_start(until()).unwrap();
    state
        .clock
        .advance(present + 60 * 86_400 - state.clock.now());
    let worker = {
        let g = ix.grid_at(lon, lat).unwrap().area.code.clone();
        bearer(&state, &router, Role::GridWorker, &[g], None).await
    };
    let now = state.clock.now();
    let track: Vec<[f64; 2]> = (0..5).map(|i| [lon + i as f64 * 0.0001, lat]).collect();
    let body = json!({"started_at": now - 600, "ended_at": now, "track": track}).to_string();
    let (s, p) = json_of(&router, Some(&worker), "POST", "/api/v1/patrols", &body).await;
    assert_eq!(s, 201, "{p}");
    let (_, _, bytes) = call(
        &router,
        "GET",
        &format!("/tiles/patrols/15/{}/{}.mvt", t.x(), t.y()),
        &[],
        Vec::new(),
    )
    .await;
    let after: Vec<String> = layer_of(&bytes)
        .iter()
        .filter_map(|f| f.properties.as_ref()?.get("code").map(|v| format!("{v:?}")))
        .collect();
    assert_eq!(
        after.len(),
        1,
        "only the new patrol is in the last 30 days: {after:?}"
    );
    assert!(after[0].contains(p["code"].as_str().unwrap()));
}

/// A dispatched task is finished from the grid with a note: the grid's own worker only
/// (another grid's gets 403), once (again is a 409), with a history step.
#[tokio::test]
async fn dispatched_task_is_finished_with_a_note() {
    let (_tmp, state, router, _) = loaded_app(0.01).await;
    let grids: Vec<String> = {
        let ix = state.index().unwrap();
        ix.areas
            .iter()
            .filter(|a| a.area.level == minqing_domain::model::AreaLevel::Grid)
            .map(|a| a.area.code.clone())
            .collect()
    };
    let (ga, gb) = (&grids[0], &grids[1]);
    let leader = bearer(&state, &router, Role::Leader, &[], None).await;
    let worker_a = bearer(
        &state,
        &router,
        Role::GridWorker,
        std::slice::from_ref(ga),
        None,
    )
    .await;
    let worker_b = bearer(
        &state,
        &router,
        Role::GridWorker,
        std::slice::from_ref(gb),
        None,
    )
    .await;
    let (s, task) = json_of(
        &router,
        Some(&leader),
        "POST",
        &format!("/api/v1/grids/{ga}/tasks"),
        r#"{"item_code":"WL001","note":"本周走访"}"#,
    )
    .await;
    assert_eq!(s, 201, "{task}");
    let code = task["code"].as_str().unwrap();
    let done = format!("/api/v1/grids/{ga}/tasks/{code}/done");
    let body = r#"{"note":"已完成走访，无异常","version":1}"#;
    let (s, _) = json_of(&router, Some(&worker_b), "POST", &done, body).await;
    assert_eq!(s, 403);
    let (s, _) = json_of(&router, Some(&worker_a), "POST", &done, r#"{"note":"  "}"#).await;
    assert_eq!(s, 422);
    let (s, t) = json_of(&router, Some(&worker_a), "POST", &done, body).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["status"], "done");
    assert_eq!(t["version"], 2);
    let (s, _) = json_of(&router, Some(&worker_a), "POST", &done, body).await;
    assert_eq!(s, 409);
    let (s, _) = json_of(
        &router,
        Some(&worker_a),
        "POST",
        &format!("/api/v1/grids/{ga}/tasks/GT0/done"),
        body,
    )
    .await;
    assert_eq!(s, 404);
    let (_, list) = json_of(
        &router,
        Some(&worker_a),
        "GET",
        &format!("/api/v1/grids/{ga}/tasks"),
        "",
    )
    .await;
    assert_eq!(list["open_tasks"], 0);
    let steps: Vec<(String, String)> = match &state.store {
        minqing_domain::store::Store::Sqlite(p) => sqlx::query_as(
            "SELECT action, note FROM grid_task_steps WHERE task_code = $1 ORDER BY seq",
        )
        .bind(code)
        .fetch_all(p)
        .await
        .unwrap(),
        minqing_domain::store::Store::Postgres(_) => unreachable!(),
    };
    assert_eq!(
        steps,
        vec![
            ("dispatch".to_string(), "本周走访".to_string()),
            ("done".to_string(), "已完成走访，无异常".to_string())
        ]
    );
}
