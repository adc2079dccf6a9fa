//! The browser views, embedded at build time by `build.rs` (see `web/`): `/` the
//! one-map view, `/screen` the large screen, `/grid` the grid worker's view, `/review`
//! the address-link review queue, `/work` the staff workbench, and their
//! `/assets/*`. Asset names carry a content hash, so they are cached for a year as
//! immutable; the HTML pages are `no-cache` so a new build is picked up at once.

use super::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

fn file(name: &str) -> Option<&'static [u8]> {
    embedded::FILES
        .iter()
        .find(|(path, _)| *path == name)
        .map(|(_, bytes)| *bytes)
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "woff2" => "font/woff2",
        "pbf" => "application/x-protobuf",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

fn serve(name: &str, cache: &'static str) -> Response {
    match file(name) {
        Some(bytes) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(content_type(name)),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            bytes,
        )
            .into_response(),
        None => super::error::ApiError::NotFound(format!("no file {name}")).into_response(),
    }
}

const PAGE_CACHE: &str = "no-cache";

/// The views' Content-Security-Policy: everything from this origin only — scripts,
/// styles, images, fonts, data (`fetch`, the live feed) — plus what MapLibre needs
/// (its worker starts from a `blob:` URL; canvases read `data:`/`blob:` images) and
/// inline style attributes of the pages. No other origin, no inline script, no
/// framing: a token in `sessionStorage` cannot be sent anywhere else by injected
/// markup. A configured outside basemap adds exactly its tile servers' origins to the
/// sources of images and fetches (MapLibre fetches raster tiles), nothing else.
pub fn content_security_policy(tile_origins: &[String]) -> String {
    let extra: String = tile_origins.iter().map(|o| format!(" {o}")).collect();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob:{extra}; font-src 'self'; connect-src 'self'{extra}; \
         worker-src 'self' blob:; child-src 'self' blob:; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// A view's HTML page, with the Content-Security-Policy.
fn page(state: &AppState, name: &str) -> Response {
    let mut response = serve(name, PAGE_CACHE);
    let origins = state
        .outside_basemap
        .as_ref()
        .map(|b| b.1.as_slice())
        .unwrap_or_default();
    // The origins were checked at start (plain ASCII, no separators); should one still
    // not fit a header, the page keeps the strict policy rather than none.
    let policy = HeaderValue::from_str(&content_security_policy(origins)).unwrap_or_else(|_| {
        HeaderValue::from_str(&content_security_policy(&[])).expect("the strict policy is ASCII")
    });
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, policy);
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
const ASSET_CACHE: &str = "public, max-age=31536000, immutable";

/// `/` — the one-map view.
pub async fn index(State(state): State<AppState>) -> Response {
    page(&state, "index.html")
}

/// `/screen` — the command centre's large screen.
pub async fn screen(State(state): State<AppState>) -> Response {
    page(&state, "screen.html")
}

/// `/grid` — the grid worker's phone view.
pub async fn grid(State(state): State<AppState>) -> Response {
    page(&state, "grid.html")
}

/// `/review` — the address-link review queue (leaders and admins sign in there).
pub async fn review(State(state): State<AppState>) -> Response {
    page(&state, "review.html")
}

/// `/work` — the staff workbench: the queue, an event's detail and its actions.
pub async fn work(State(state): State<AppState>) -> Response {
    page(&state, "work.html")
}

/// `/assets/{*path}` — hashed scripts and styles.
pub async fn asset(Path(path): Path<String>) -> Response {
    if path.contains("..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    serve(&format!("assets/{path}"), ASSET_CACHE)
}
