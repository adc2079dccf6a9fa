//! The embedded browser views: pages and hashed assets with their content types and
//! cache rules, and no reference to another origin in what is served.

use crate::support::{call, loaded_app};

#[tokio::test]
async fn views_and_assets_are_served_with_types_and_cache_rules() {
    let (_tmp, _state, app, _m) = loaded_app(0.01).await;
    let mut assets = Vec::new();
    for (path, marker) in [
        ("/", "一张图"),
        ("/screen", "大屏"),
        ("/grid", "网格员"),
        ("/review", "地址复核"),
        ("/work", "工作台"),
    ] {
        let (status, headers, body) = call(&app, "GET", path, &[], Vec::new()).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            headers["content-type"], "text/html; charset=utf-8",
            "{path}"
        );
        assert_eq!(headers["cache-control"], "no-cache", "{path}");
        let html = String::from_utf8(body).unwrap();
        assert!(html.contains(marker), "{path} is its own page");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{path} names no other origin"
        );
        for piece in html.split("\"/assets/").skip(1) {
            assets.push(format!("/assets/{}", piece.split('"').next().unwrap()));
        }
    }
    assert!(
        assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css"))
    );
    for asset in &assets {
        let (status, headers, body) = call(
            &app,
            "GET",
            asset,
            &[("accept-encoding", "gzip")],
            Vec::new(),
        )
        .await;
        assert_eq!(status, 200, "{asset}");
        assert!(!body.is_empty());
        let expected = if asset.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(headers["content-type"], expected, "{asset}");
        assert_eq!(
            headers["cache-control"], "public, max-age=31536000, immutable",
            "{asset}"
        );
    }
    let (status, _, _) = call(&app, "GET", "/assets/nope.js", &[], Vec::new()).await;
    assert_eq!(status, 404);
    let (status, _, _) = call(&app, "GET", "/assets/../Cargo.toml", &[], Vec::new()).await;
    assert_eq!(status, 404);
}
