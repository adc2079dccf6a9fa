//! The router and the OpenAPI document cannot drift apart: every documented operation
//! answers (neither "no route" nor 405), every other method on a documented path is a
//! 405, and no `/api/` path is registered as a plain axum route (those have no OpenAPI
//! operation; areas register theirs with `utoipa_axum::routes!`).

use crate::support::{get, loaded_app};
use std::collections::BTreeSet;
use std::path::Path;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// `/a/{code}/b/{id}.json` → `/a/x1/b/x1.json`: any value reaches the handler.
fn fill(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').expect("closing brace") + open;
        out.push_str("x1");
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The status of `method uri` with an empty body, and whether a 404 came from the
/// router's fallback (no route at all) rather than from a handler. Streams are never
/// read: only a 404's body is.
async fn probe(router: &axum::Router, method: &str, uri: &str) -> (u16, bool) {
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .method(method.to_uppercase().as_str())
        .uri(uri)
        .body(axum::body::Body::empty())
        .expect("request");
    let resp = router.clone().oneshot(req).await.expect("response");
    let status = resp.status().as_u16();
    if status != 404 {
        return (status, false);
    }
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    let body = String::from_utf8_lossy(&body);
    (status, body.contains("no route for"))
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_no_api_route_is_undocumented() {
    let (_tmp, _state, router, _) = loaded_app(0.01).await;
    let (status, body) = get(&router, "/api/openapi.json").await;
    assert_eq!(status, 200, "{body}");
    let doc: serde_json::Value = serde_json::from_str(&body).expect("OpenAPI JSON");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() > 40, "the document lists the API: {paths:?}");
    let mut failures = Vec::new();
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        let uri = fill(path);
        for method in METHODS {
            let (status, no_route) = probe(&router, method, &uri).await;
            if item.get(method).is_some() {
                documented.insert(path.clone());
                if status == 405 || no_route {
                    failures.push(format!(
                        "{method} {path} is documented but not routed ({status})"
                    ));
                }
            } else if status != 405 {
                failures.push(format!(
                    "{method} {path} answers {status} but has no OpenAPI operation"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Plain axum routes are registered with `.route("…"`: none of them may be under
    // `/api/` except the document itself.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/src");
    let mut plain = Vec::new();
    for file in rust_files(&dir) {
        let text = std::fs::read_to_string(&file).expect("read source");
        for (i, _) in text.match_indices(".route(") {
            let after = text[i + ".route(".len()..].trim_start();
            let Some(literal) = after.strip_prefix('"') else {
                continue;
            };
            let path = &literal[..literal.find('"').expect("closing quote")];
            if path.starts_with("/api/") && path != "/api/openapi.json" {
                plain.push(format!("{}: {path}", file.display()));
            }
        }
    }
    assert!(
        plain.is_empty(),
        "API paths registered without an OpenAPI operation (use routes!):\n{}",
        plain.join("\n")
    );
    // The scan is not looking at the wrong place.
    assert!(
        rust_files(&dir).iter().any(|f| f.ends_with("http/mod.rs")
            && std::fs::read_to_string(f)
                .unwrap()
                .contains(".route(\"/metrics\"")),
        "server/src/http/mod.rs registers /metrics as a plain route"
    );
    assert!(documented.contains("/api/v1/events/{code}"));
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}
