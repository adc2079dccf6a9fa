//! `GET /api/v1/events/latest`, the start of a live feed: the most recently changed
//! events, newest change first, each in the form the stream sends to the caller (the
//! public view for anonymous callers, plus the title for the signed-in screen, the full
//! record for a leader), checked against a brute-force sort of the event index.

use crate::support::{bearer, call, loaded_app};
use minqing_domain::auth::Role;
use serde_json::Value;

async fn latest(router: &axum::Router, auth: Option<&str>, query: &str) -> (u16, Value) {
    let headers: Vec<(&str, &str)> = auth.map(|a| vec![("authorization", a)]).unwrap_or_default();
    let (status, _, body) = call(
        router,
        "GET",
        &format!("/api/v1/events/latest{query}"),
        &headers,
        Vec::new(),
    )
    .await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn latest_events_newest_first_as_the_feed_shows_them() {
    let (_tmp, state, router, _m) = loaded_app(0.01).await;
    // The expected order: by the time of the last change, then the code, newest first.
    let mut expected: Vec<(i64, String)> = state
        .events()
        .events
        .iter()
        .map(|e| (e.updated_at, e.code.clone()))
        .collect();
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<String> = expected.into_iter().take(12).map(|(_, c)| c).collect();
    assert_eq!(expected.len(), 12, "the demo has events");

    let (status, anonymous) = latest(&router, None, "?limit=12").await;
    assert_eq!(status, 200);
    let codes: Vec<&str> = anonymous["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, expected, "newest change first");
    for e in anonymous["events"].as_array().unwrap() {
        assert!(
            e.get("title").is_none() && e.get("description").is_none(),
            "anonymous: public view only ({e})"
        );
        assert!(e["community"]["name"].is_string(), "the place by name");
    }

    let screen = bearer(&state, &router, Role::Screen, &[], None).await;
    let (_, wall) = latest(&router, Some(&screen), "?limit=12").await;
    for e in wall["events"].as_array().unwrap() {
        assert!(
            e["title"].is_string(),
            "the signed-in screen sees what happened"
        );
        assert!(
            e.get("description").is_none() && e.get("address_code").is_none(),
            "but no personal detail ({e})"
        );
    }

    let leader = bearer(&state, &router, Role::Leader, &[], None).await;
    let (_, full) = latest(&router, Some(&leader), "").await;
    assert_eq!(
        full["events"].as_array().unwrap().len(),
        20,
        "20 by default"
    );
    assert!(
        full["events"][0]["description"].is_string(),
        "a leader gets the record"
    );

    for bad in ["?limit=0", "?limit=51", "?limit=x"] {
        assert_eq!(latest(&router, None, bad).await.0, 400, "{bad}");
    }
}
