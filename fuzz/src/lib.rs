//! Shared pieces of the fuzz targets: a small synthetic address register, and a loaded
//! server (a `--scale 0.01` district in a temporary SQLite store, a leader's token) that
//! the HTTP targets call in-process. Any 5xx answer counts as a crash: hostile input
//! must get a 4xx, never an internal error.

use axum::Router;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

#[path = "../../address/tests/common/mod.rs"]
#[allow(dead_code, unused_imports)]
mod common;

/// The small synthetic register of the address crate's tests (a few thousand buildings).
pub fn register() -> &'static minqing_address::Register {
    static R: OnceLock<minqing_address::Register> = OnceLock::new();
    R.get_or_init(|| common::build(common::Spec::small(), 7).register())
}

/// The same register behind an `Arc`, for the importer's context.
pub fn register_arc() -> Arc<minqing_address::Register> {
    static R: OnceLock<Arc<minqing_address::Register>> = OnceLock::new();
    R.get_or_init(|| Arc::new(common::build(common::Spec::small(), 7).register()))
        .clone()
}

pub struct Server {
    rt: tokio::runtime::Runtime,
    router: Router,
    /// `Bearer …` of a leader (intake and every step).
    pub leader: String,
    /// An event of the district and its version at start.
    pub event: (String, i64),
    _dir: tempfile::TempDir,
}

/// The loaded server, built on first use.
pub fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(build)
}

fn build() -> Server {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = tempfile::Builder::new()
        .prefix("minqing-fuzz")
        .tempdir_in(base)
        .expect("temp dir");
    let out = dir.path().join("district");
    minqing_domain::generate::generate(&out, 0.01, 7, &|_| {}).expect("generate");
    let url = format!("sqlite://{}", dir.path().join("fuzz.db").display());
    let (router, leader, event) = rt.block_on(async {
        let store = minqing_domain::store::Store::connect(&url)
            .await
            .expect("open");
        store.migrate().await.expect("migrate");
        minqing_domain::import::import_dir(&store, &out, &|_| {})
            .await
            .expect("import");
        let state = minqing_domain::App::new(store.clone());
        state.set_index(minqing_domain::load_index(&store).await.expect("load"));
        let event = {
            let events = state.events();
            let e = events
                .events
                .iter()
                .find(|e| e.status == "accepted")
                .or(events.events.first())
                .expect("an event");
            (e.code.clone(), e.version)
        };
        let router = minqing_server::http::app(state.clone());
        minqing_domain::auth::users::create(
            &store,
            "fuzz-leader",
            "fuzz-password-1",
            minqing_domain::auth::Role::Leader,
            None,
            &[],
        )
        .await
        .expect("account");
        let (status, body) = call(
            &router,
            "POST",
            "/api/v1/auth/login",
            None,
            br#"{"username":"fuzz-leader","password":"fuzz-password-1"}"#.to_vec(),
        )
        .await
        .expect("login request");
        assert_eq!(status, 200, "login");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("login JSON");
        let token = format!("Bearer {}", v["token"].as_str().expect("token"));
        (router, token, event)
    });
    Server {
        rt,
        router,
        leader,
        event,
        _dir: dir,
    }
}

async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: Vec<u8>,
) -> Option<(u16, Vec<u8>)> {
    let mut req = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    // An input that is not a valid URI never reaches the server.
    let req = req.body(axum::body::Body::from(body)).ok()?;
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    Some((status, bytes))
}

impl Server {
    /// Call the server; panics (a fuzz crash) on any 5xx. `None` when `uri` is not a URI.
    pub fn request(
        &self,
        method: &str,
        uri: &str,
        auth: Option<&str>,
        body: Vec<u8>,
    ) -> Option<(u16, Vec<u8>)> {
        let r = self
            .rt
            .block_on(call(&self.router, method, uri, auth, body));
        if let Some((status, body)) = &r {
            assert!(
                *status < 500,
                "{method} {uri}: {status} {}",
                String::from_utf8_lossy(body)
            );
        }
        r
    }
}
