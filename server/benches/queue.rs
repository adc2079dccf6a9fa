//! The workbench queue (`/work`): `GET /api/v1/events` as the workbench asks it (a page
//! of 50 with the counts) with each of its filters — status, category, source, overdue,
//! owner, my cases, grid (a township's grids), risk tier, a date range, and all of them
//! at once — signed in as a leader (who sees every event), through the router
//! in-process (`tower::ServiceExt::oneshot`: routing, the `Caller` extractor with its
//! cached session, the filter over the event index, the JSON; no socket). Prints, per
//! filter, the events matched and the latency p50 / p99 / max over `REQUESTS` requests
//! made one after another, and whether p99 is within the goal (50 ms).
//!
//! The district: generated at `MINQING_BENCH_SCALE` (default 1) or the imported store at
//! `MINQING_BENCH_STORE` (see `minqing_domain::bench_state`).
//!
//!     cargo bench -p minqing-server --bench queue

use minqing_domain::auth::Role;
use minqing_domain::config::Secret;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const REQUESTS: usize = 200;
const GOAL: Duration = Duration::from_millis(50);

async fn get(router: &axum::Router, uri: &str, auth: &str) -> (u16, Vec<u8>) {
    let req = axum::http::Request::builder()
        .uri(uri)
        .header("authorization", auth)
        .body(axum::body::Body::empty())
        .expect("request");
    let resp = router.clone().oneshot(req).await.expect("response");
    let status = resp.status().as_u16();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    (status, body.to_vec())
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let tmp = tempfile::tempdir().expect("temp dir");
    rt.block_on(async {
        let (state, how) = minqing_domain::bench_state(tmp.path())
            .await
            .expect("the district to measure");
        eprintln!("{how}; {} events", state.events().len());
        minqing_domain::auth::users::create(
            &state.store,
            "bench-leader",
            "bench-password-1",
            Role::Leader,
            None,
            &[],
        )
        .await
        .expect("account");
        let signed = minqing_domain::auth::sessions::login(
            &state,
            "bench-leader",
            &Secret::new("bench-password-1"),
            "bench",
        )
        .await
        .expect("sign in");
        let auth = format!("Bearer {}", signed.token);
        // Filter values from the district: its first township, the busiest owner.
        let (township, owner) = {
            let ix = state.index().expect("index");
            let township = ix
                .areas
                .iter()
                .find(|a| a.area.level == minqing_domain::model::AreaLevel::Township)
                .map(|a| a.area.code.clone())
                .expect("a township");
            let events = state.events();
            let mut owners: std::collections::HashMap<&str, usize> = Default::default();
            for e in &events.events {
                if let Some(o) = &e.owner {
                    *owners.entry(o.as_str()).or_default() += 1;
                }
            }
            let owner = owners
                .into_iter()
                .max_by_key(|(o, n)| (*n, *o))
                .map(|(o, _)| o.to_string())
                .unwrap_or_else(|| "leader".into());
            (township, owner)
        };
        let open = "status=accepted,mediating,resolved,diverted";
        let filters: Vec<(&str, String)> = vec![
            ("none", String::new()),
            ("status (open)", open.into()),
            ("category", "category=dispute".into()),
            ("source", "source=visitor".into()),
            ("overdue", "overdue=true".into()),
            ("owner", format!("owner={owner}")),
            ("my cases", "owner=me".into()),
            ("grid (a township)", format!("grid={township}")),
            ("risk tier", "risk_tier=large".into()),
            ("date range (a year)", "from=2025-01-01&to=2025-12-31".into()),
            (
                "all at once",
                format!(
                    "{open}&category=dispute&source=visitor,grid_worker&grid={township}&risk_tier=small,medium,large&from=2024-01-01&to=2026-12-31"
                ),
            ),
        ];
        println!(
            "{:<22} {:>8} {:>9} {:>9} {:>9}  goal p99 ≤ {} ms",
            "filter",
            "matched",
            "p50 ms",
            "p99 ms",
            "max ms",
            GOAL.as_millis()
        );
        for (name, q) in &filters {
            let uri = format!("/api/v1/events?limit=50&offset=0&{q}");
            let (status, body) = get(&router_of(&state), &uri, &auth).await;
            assert_eq!(status, 200, "{uri}: {}", String::from_utf8_lossy(&body));
            let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
            let matched = v["total"].as_u64().unwrap_or(0);
            let router = router_of(&state);
            for _ in 0..10 {
                get(&router, &uri, &auth).await;
            }
            let mut times = Vec::with_capacity(REQUESTS);
            for _ in 0..REQUESTS {
                let t = Instant::now();
                let (s, _) = get(&router, &uri, &auth).await;
                times.push(t.elapsed());
                assert_eq!(s, 200);
            }
            times.sort();
            let pct = |p: f64| times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1];
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            println!(
                "{name:<22} {matched:>8} {:>9.2} {:>9.2} {:>9.2}  {}",
                ms(pct(0.5)),
                ms(pct(0.99)),
                ms(*times.last().expect("times")),
                if pct(0.99) <= GOAL { "met" } else { "MISSED" }
            );
        }
    });
}

fn router_of(state: &minqing_domain::App) -> axum::Router {
    minqing_server::http::app(state.clone())
}
