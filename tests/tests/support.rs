//! Shared helpers: generated districts, fresh stores, in-process HTTP calls.

use minqing_domain::generate::Manifest;
use minqing_domain::store::Store;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const SEED: u64 = 7;

/// The generator's present in the tests (a fixed date, so every run gives the same
/// district): events run from 2023 up to 00:00 CST of this day.
pub fn until() -> minqing_domain::time::Date {
    minqing_domain::time::parse_date(UNTIL).expect("a date")
}
pub const UNTIL: &str = "2026-12-01";

/// Generate a district at `scale` into a fresh temporary directory.
pub fn district(scale: f64) -> (tempfile::TempDir, PathBuf, Manifest) {
    district_until(scale, until())
}

/// Generate a district at `scale` with its events up to `until`.
pub fn district_until(
    scale: f64,
    until: minqing_domain::time::Date,
) -> (tempfile::TempDir, PathBuf, Manifest) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("district");
    let m = minqing_domain::generate::generate_until(&out, scale, SEED, until, &|_| {})
        .expect("generate");
    (dir, out, m)
}

/// A fresh, migrated embedded store in `dir`.
pub async fn sqlite_store(dir: &Path) -> Store {
    let url = format!("sqlite://{}", dir.join("test.db").display());
    let store = Store::connect(&url).await.expect("open SQLite");
    store.migrate().await.expect("migrate SQLite");
    store
}

/// The PostgreSQL server the tests use; CI starts it (see .ci/run).
pub fn pg_admin_url() -> String {
    std::env::var("MINQING_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh, migrated PostGIS database. Fails loudly when PostgreSQL or PostGIS is
/// missing: these tests never skip.
pub async fn postgis_store() -> Store {
    static N: AtomicUsize = AtomicUsize::new(0);
    let admin = pg_admin_url();
    let name = format!(
        "minqing_t{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let pool = sqlx::PgPool::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL must be running at {admin} for these tests: {e}"));
    drop_databases_of_finished_runs(&pool).await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&pool)
        .await
        .expect("drop db");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .expect("create db");
    pool.close().await;
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .expect("URL has a database");
    let store = Store::connect(&format!("{base}/{name}"))
        .await
        .expect("connect to the test database");
    store.migrate().await.unwrap_or_else(|e| {
        panic!("migrating PostGIS failed (is postgresql-15-postgis-3 installed?): {e:#}")
    });
    store
}

/// Test databases are named `minqing_t<pid>_<n>` and outlive their run (a test may be
/// killed before it could clean up); the first database a run creates drops those of
/// runs whose process is gone, so they never pile up.
async fn drop_databases_of_finished_runs(pool: &sqlx::PgPool) {
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| async {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT datname FROM pg_database WHERE datname LIKE 'minqing\\_t%\\_%'",
        )
        .fetch_all(pool)
        .await
        .expect("list test databases");
        for name in names {
            let pid = name
                .strip_prefix("minqing_t")
                .and_then(|rest| rest.split('_').next())
                .and_then(|pid| pid.parse::<u32>().ok());
            let finished =
                pid.is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists());
            if finished {
                // Best effort: a database still in use by someone else stays.
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(pool)
                    .await;
            }
        }
    })
    .await;
}

/// Call the app in-process.
pub async fn get(app: &axum::Router, uri: &str) -> (u16, String) {
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .uri(uri)
        .body(axum::body::Body::empty())
        .expect("request");
    let resp = app.clone().oneshot(req).await.expect("response");
    let status = resp.status().as_u16();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Call the app in-process with any method, headers and body; returns status, headers
/// and body bytes.
pub async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, axum::http::HeaderMap, Vec<u8>) {
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .clone()
        .oneshot(req.body(axum::body::Body::from(body)).expect("request"))
        .await
        .expect("response");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    (status, headers, body.to_vec())
}

/// A loaded app over a freshly generated and imported embedded store.
pub async fn loaded_app(
    scale: f64,
) -> (
    tempfile::TempDir,
    minqing_domain::App,
    axum::Router,
    Manifest,
) {
    let (tmp, dir, m) = district(scale);
    let store = sqlite_store(tmp.path()).await;
    minqing_domain::import::import_dir(&store, &dir, &|_| {})
        .await
        .expect("import");
    let state = minqing_domain::App::new(store.clone());
    state.set_index(minqing_domain::load_index(&store).await.expect("load"));
    let router = minqing_server::http::app(state.clone());
    (tmp, state, router, m)
}

/// `router` acting for the holder of `authorization` (a `Bearer …` value from
/// [`bearer`]) on every request that carries no `Authorization` of its own. The token
/// still goes through the real sign-in check; tests of the workflow use it so that each
/// request need not repeat the header, tests of access control send their own.
pub fn acting_as(router: axum::Router, authorization: String) -> axum::Router {
    use axum::http::header::AUTHORIZATION;
    let value: axum::http::HeaderValue = authorization.parse().expect("header value");
    router.layer(axum::middleware::from_fn(
        move |mut req: axum::extract::Request, next: axum::middleware::Next| {
            let value = value.clone();
            async move {
                req.headers_mut().entry(AUTHORIZATION).or_insert(value);
                next.run(req).await
            }
        },
    ))
}

/// A leader's view of `router` (see [`acting_as`]): leaders take intake and every step.
pub async fn as_leader(state: &minqing_domain::App, router: axum::Router) -> axum::Router {
    let auth = bearer(
        state,
        &router,
        minqing_domain::auth::Role::Leader,
        &[],
        None,
    )
    .await;
    acting_as(router, auth)
}

/// Create an account with `role` (and `grids` in scope) in the app's store, sign it in
/// through the API and return the `Authorization` header value (`Bearer …`).
pub async fn bearer(
    state: &minqing_domain::App,
    router: &axum::Router,
    role: minqing_domain::auth::Role,
    grids: &[String],
    mediation_org: Option<&str>,
) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let username = format!("t-{}-{}", role.as_str(), N.fetch_add(1, Ordering::SeqCst));
    let password = "test-password-1";
    minqing_domain::auth::users::create(
        &state.store,
        &username,
        password,
        role,
        mediation_org,
        grids,
    )
    .await
    .expect("create account");
    let body = serde_json::json!({"username": username, "password": password}).to_string();
    let (status, _, resp) = call(
        router,
        "POST",
        "/api/v1/auth/login",
        &[("content-type", "application/json")],
        body.into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "login: {}", String::from_utf8_lossy(&resp));
    let v: serde_json::Value = serde_json::from_slice(&resp).expect("login JSON");
    format!("Bearer {}", v["token"].as_str().expect("token"))
}

/// Put `event` into the in-memory state and announce it, as a committed intake does
/// (`events::apply`), without the store.
pub fn add_event(state: &minqing_domain::App, event: &minqing_domain::model::Event) {
    state.events_mut().upsert(event.clone());
    state.publish(minqing_domain::Change::Event {
        code: event.code.clone(),
        lon: event.lon,
        lat: event.lat,
        before: None,
    });
}
