//! One calendar: the event list, the efficiency model, the tiles' event counts and the
//! CSV export count the same events for the same `from`/`to`, on both stores — whole
//! days in China Standard Time, both ends inclusive — including windows whose edges
//! fall between midnight UTC and midnight CST and across a month's end.

use crate::support::{as_leader, call, district, postgis_store, sqlite_store};
use minqing_domain::model::Event;
use minqing_domain::store::Store;
use minqing_tiles::{TileId, TileRange};
use mvt_reader::Reader;
use mvt_reader::feature::Value;

/// 2024-03-01T00:00:00+08:00, computed by hand: 2024-02-29T16:00:00Z.
const MARCH_1_CST: i64 = 1_709_222_400;
const DAY: i64 = 86_400;

/// Events planted one second either side of the CST midnights that bound March 2024
/// and its last day (the UTC dates differ from the CST dates at each of them).
fn planted(template: &Event) -> Vec<Event> {
    let april_1 = MARCH_1_CST + 31 * DAY;
    let instants = [
        MARCH_1_CST - 1,            // Feb 29 23:59:59 CST: February
        MARCH_1_CST,                // Mar 1 00:00:00 CST (Feb 29 16:00 UTC): March
        MARCH_1_CST + 8 * 3600 - 1, // Mar 1 07:59:59 CST (Feb 29 23:59:59 UTC): March
        april_1 - DAY,              // Mar 31 00:00 CST: March, and Mar 31
        april_1 - 1,                // Mar 31 23:59:59 CST (Mar 31 15:59:59 UTC): March
        april_1,                    // Apr 1 00:00 CST (Mar 31 16:00 UTC): April
        april_1 + 8 * 3600,         // Apr 1 08:00 CST (Apr 1 00:00 UTC): April
    ];
    instants
        .iter()
        .enumerate()
        .map(|(i, &t)| Event {
            code: format!("5106032024{:06}", 900_000 + i),
            reported_at: t,
            deadline: t + 30 * DAY,
            updated_at: t,
            closed_at: None,
            status: "accepted".into(),
            version: 1,
            ..template.clone()
        })
        .collect()
}

/// Count by hand, with the fixed +08:00 offset (independent of the server's calendar).
fn expected(events: &[Event], from_day: i64, to_day: i64) -> usize {
    let start = MARCH_1_CST + from_day * DAY;
    let end = MARCH_1_CST + (to_day + 1) * DAY;
    events
        .iter()
        .filter(|e| e.reported_at >= start && e.reported_at < end)
        .count()
}

fn num(v: Option<&Value>) -> f64 {
    match v {
        Some(Value::UInt(u)) => *u as f64,
        Some(Value::Int(i)) | Some(Value::SInt(i)) => *i as f64,
        Some(Value::Double(d)) => *d,
        Some(Value::Float(f)) => f64::from(*f),
        _ => 0.0,
    }
}

async fn check(store: Store, district_dir: &std::path::Path) {
    minqing_domain::import::import_dir(&store, district_dir, &|_| {})
        .await
        .expect("import");
    // Plant the boundary events through the store, then load as a server does.
    let snapshot = store.load().await.expect("load");
    let template = snapshot
        .events
        .first()
        .expect("the district has events")
        .clone();
    let mut tx = minqing_domain::events::write::begin(&store).await.unwrap();
    for e in planted(&template) {
        minqing_domain::events::write::insert_event(&mut tx, &e)
            .await
            .unwrap();
    }
    minqing_domain::events::write::commit(tx).await.unwrap();
    let state = minqing_domain::App::new(store.clone());
    state.set_index(minqing_domain::load_index(&store).await.expect("load"));
    let app = as_leader(&state, minqing_server::http::app(state.clone())).await;
    let all: Vec<Event> = state.events().events.to_vec();
    let index = state.index().unwrap();

    // The one tile the whole district fits in.
    let (mut w, mut s, mut e, mut n) = (180.0f64, 90.0f64, -180.0f64, -90.0f64);
    for ev in &all {
        w = w.min(ev.lon);
        e = e.max(ev.lon);
        s = s.min(ev.lat);
        n = n.max(ev.lat);
    }
    let bounds = minqing_tiles::projection::LonLatBounds {
        west: w,
        south: s,
        east: e,
        north: n,
    };
    let z = (0..=13u8)
        .rev()
        .find(|&z| TileRange::covering(&bounds, z).unwrap().len() == 1)
        .unwrap();
    let tile = TileId::from_lonlat(w, n, z).unwrap();
    let district = index
        .areas
        .iter()
        .find(|a| a.area.level == minqing_domain::model::AreaLevel::District)
        .unwrap()
        .area
        .code
        .clone();

    // (first day, last day) as offsets from 2024-03-01.
    let windows = [(0, 30), (30, 30), (31, 31), (-1, 0), (0, 0), (-1, -1)];
    for (from_day, to_day) in windows {
        let date = |d: i64| minqing_domain::time::format_date(MARCH_1_CST + d * DAY);
        let (from, to) = (date(from_day), date(to_day));
        let want = expected(&all, from_day, to_day);
        assert!(
            want > 0,
            "{from}..{to}: the planted events cover every window"
        );

        let (status, _, body) = call(
            &app,
            "GET",
            &format!("/api/v1/events?limit=0&from={from}&to={to}"),
            &[],
            vec![],
        )
        .await;
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v["total"].as_u64().unwrap() as usize,
            want,
            "list {from}..{to}"
        );

        let (status, _, body) = call(
            &app,
            "GET",
            &format!("/api/v1/analysis/efficiency?area={district}&from={from}&to={to}"),
            &[],
            vec![],
        )
        .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v["events"].as_u64().unwrap() as usize,
            want,
            "efficiency {from}..{to}"
        );

        let (status, _, body) = call(
            &app,
            "GET",
            &format!(
                "/tiles/events/{z}/{}/{}.mvt?from={from}&to={to}",
                tile.x(),
                tile.y()
            ),
            &[],
            vec![],
        )
        .await;
        assert_eq!(status, 200, "tile {from}..{to}");
        let r = Reader::new(body).unwrap();
        let count: f64 = r
            .get_features(0)
            .unwrap()
            .iter()
            .map(|f| num(f.properties.as_ref().and_then(|p| p.get("count"))))
            .sum();
        assert_eq!(count as usize, want, "tile counts {from}..{to}");

        let (status, _, body) = call(
            &app,
            "GET",
            &format!("/api/v1/export/events.csv?from={from}&to={to}"),
            &[],
            vec![],
        )
        .await;
        assert_eq!(status, 200);
        let rows = csv::Reader::from_reader(body.as_slice()).records().count();
        assert_eq!(rows, want, "export {from}..{to}");
    }
}

#[tokio::test]
async fn every_window_means_the_same_days_on_sqlite() {
    let (tmp, dir, _) = district(0.01);
    check(sqlite_store(tmp.path()).await, &dir).await;
}

#[tokio::test]
async fn every_window_means_the_same_days_on_postgis() {
    let (_tmp, dir, _) = district(0.01);
    check(postgis_store().await, &dir).await;
}
