//! The HTTP surface that does not depend on data: errors, OpenAPI, metrics.

use crate::support::{call, district, get, sqlite_store};
use minqing_domain::App;
use minqing_server::http::app;

#[tokio::test]
async fn errors_openapi_and_metrics() {
    let (tmp, dir, _) = district(0.01);
    let store = sqlite_store(tmp.path()).await;
    minqing_domain::import::import_dir(&store, &dir, &|_| {})
        .await
        .unwrap();
    let state = App::new(store.clone());
    let router = app(state.clone());
    // Stats are a public aggregate: no token needed, but 503 until the index is loaded.
    let (status, _) = get(&router, "/api/v1/stats").await;
    assert_eq!(status, 503);
    let auth = crate::support::bearer(
        &state,
        &router,
        minqing_domain::auth::Role::Screen,
        &[],
        None,
    )
    .await;
    let (status, _, body) = call(
        &router,
        "GET",
        "/api/v1/stats",
        &[("authorization", &auth)],
        vec![],
    )
    .await;
    let body = String::from_utf8(body).unwrap();
    assert_eq!(status, 503);
    assert!(body.contains("\"code\":\"loading\""), "{body}");
    state.set_index(minqing_domain::load_index(&store).await.unwrap());

    let (status, body) = get(&router, "/no/such/path").await;
    assert_eq!(status, 404);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "not_found");
    let (status, _, body) = call(
        &router,
        "GET",
        "/api/v1/areas?level=planet",
        &[("authorization", &auth)],
        vec![],
    )
    .await;
    let body = String::from_utf8(body).unwrap();
    assert_eq!(status, 400);
    assert!(body.contains("level must be"), "{body}");

    let (status, body) = get(&router, "/api/openapi.json").await;
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/healthz", "/api/v1/stats", "/api/v1/areas"] {
        assert!(doc["paths"][path].is_object(), "OpenAPI lists {path}");
    }

    // Per route, method and status: counts go up with requests (other tests share the
    // process's recorder, so by at least as many as sent here).
    let healthz_count = |body: &str, series: &str| -> u64 {
        body.lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next())
            .map_or(0, |v| v.parse::<f64>().unwrap() as u64)
    };
    let requests = r#"minqing_http_requests_total{method="GET",route="/healthz",status="200"}"#;
    let durations = r#"minqing_http_request_duration_seconds_count{method="GET",route="/healthz"}"#;
    let (_, before) = get(&router, "/metrics").await;
    for _ in 0..3 {
        assert_eq!(get(&router, "/healthz").await.0, 200);
    }
    let (status, body) = get(&router, "/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("minqing_http_requests_total"), "{body}");
    assert!(
        healthz_count(&body, requests) >= healthz_count(&before, requests) + 3,
        "{body}"
    );
    assert!(
        healthz_count(&body, durations) >= healthz_count(&before, durations) + 3,
        "{body}"
    );
    assert!(body.contains("minqing_building_addresses"), "{body}");
}

#[tokio::test]
async fn wrong_method_is_405_and_stats_match_after_load() {
    let (_tmp, state, router, m) = crate::support::loaded_app(0.01).await;
    let auth = crate::support::bearer(
        &state,
        &router,
        minqing_domain::auth::Role::Leader,
        &[],
        None,
    )
    .await;
    let (status, _, _) = crate::support::call(&router, "POST", "/healthz", &[], Vec::new()).await;
    assert_eq!(status, 405);
    let (status, _, body) = crate::support::call(
        &router,
        "GET",
        "/api/v1/stats",
        &[("authorization", &auth)],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
    let s: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(s["events"], m.events);
}

/// Every view is served with a Content-Security-Policy that allows this origin only
/// (scripts from nowhere else, no inline script, no framing).
#[tokio::test]
async fn views_carry_a_strict_content_security_policy() {
    let (_tmp, _state, router, _) = crate::support::loaded_app(0.01).await;
    for view in ["/", "/screen", "/grid", "/review", "/work"] {
        let (status, headers, _) = crate::support::call(&router, "GET", view, &[], vec![]).await;
        assert_eq!(status, 200, "{view}");
        let csp = headers
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{view} has no Content-Security-Policy"))
            .to_str()
            .unwrap();
        assert!(csp.contains("script-src 'self';"), "{view}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{view}: {csp}");
        assert!(
            !csp.contains("unsafe-eval") && !csp.contains("http"),
            "{view}: {csp}"
        );
        assert!(
            !csp.split(';')
                .any(|d| d.trim().starts_with("script-src") && d.contains("unsafe-inline")),
            "{view}: {csp}"
        );
    }
}

/// A configured outside basemap (off by default): the style and the tile catalog carry
/// its tiles under our layers, and every view's policy allows exactly its origins.
#[tokio::test]
async fn an_outside_basemap_is_in_the_style_and_only_its_origin_in_the_policy() {
    let (_tmp, state, plain, _) = crate::support::loaded_app(0.01).await;
    let (_, _, body) = crate::support::call(&plain, "GET", "/tiles/catalog", &[], vec![]).await;
    let catalog: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        catalog["outside_basemap"].is_null(),
        "none unless configured"
    );
    let basemap = minqing_domain::config::OutsideBasemap {
        tiles: vec![
            "https://t1.example.cn/vec_w/{z}/{x}/{y}?tk=key".into(),
            "https://t1.example.cn/cva_w/{z}/{x}/{y}?tk=key".into(),
            "http://127.0.0.1:9/{z}/{x}/{y}.png".into(),
        ],
        tile_size: None,
        attribution: Some("天地图".into()),
    };
    let router = minqing_server::http::app(state.with_outside_basemap(Some(basemap)).unwrap());
    for view in ["/", "/screen", "/grid", "/review", "/work"] {
        let (status, headers, _) = crate::support::call(&router, "GET", view, &[], vec![]).await;
        assert_eq!(status, 200, "{view}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        for directive in ["img-src", "connect-src"] {
            let d = csp
                .split(';')
                .find(|d| d.trim().starts_with(directive))
                .unwrap();
            assert!(
                d.contains(" https://t1.example.cn") && d.contains(" http://127.0.0.1:9"),
                "{view} {directive}: {d}"
            );
        }
        let origins: Vec<&str> = csp
            .split([' ', ';'])
            .filter(|w| w.starts_with("http"))
            .collect();
        assert_eq!(
            origins.len(),
            4,
            "two origins in two directives only: {csp}"
        );
        assert!(
            !csp.split(';')
                .any(|d| d.trim().starts_with("script-src") && d.contains("http")),
            "scripts stay same-origin: {csp}"
        );
    }
    let (status, _, body) = crate::support::call(&router, "GET", "/style.json", &[], vec![]).await;
    assert_eq!(status, 200);
    let style: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let ids: Vec<&str> = style["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        &ids[..4],
        ["background", "outside-0", "outside-1", "outside-2"]
    );
    assert_eq!(
        style["sources"]["outside-1"]["tiles"][0],
        "https://t1.example.cn/cva_w/{z}/{x}/{y}?tk=key"
    );
    let (_, _, body) = crate::support::call(&router, "GET", "/tiles/catalog", &[], vec![]).await;
    let catalog: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        catalog["outside_basemap"]["tiles"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(catalog["outside_basemap"]["attribution"], "天地图");
}
