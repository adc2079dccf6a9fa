//! The HTTP interface: one `Clone` state, one `app(state)` router used by `main` and by
//! the tests, one error type that picks the status and never leaks internals.

mod address;
mod aliases;
mod analysis;
pub mod analysis_json;
mod areas;
mod audit;
pub mod auth;
pub(crate) mod error;
pub mod events;
mod export;
mod feed;
mod forces;
mod health;
mod key_groups;
mod metrics_layer;
pub mod open311;
mod personal;
mod review;
mod style;
mod tiles;
mod users;
mod web;
pub mod work;

pub use error::{ApiError, ErrorBody};

use address as address_api;
use axum::Router;
use axum::routing::get;
use minqing_domain::App;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// The state every handler receives: the domain's [`App`], wrapped so that this crate
/// can implement axum's extractor traits for the domain's types (`Caller`, `Access`).
#[derive(Clone)]
pub struct AppState(pub App);

impl std::ops::Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}

impl From<App> for AppState {
    fn from(app: App) -> Self {
        AppState(app)
    }
}

/// The document's header, the schemas no operation names, and the security scheme; the
/// operations themselves come from the areas' routers (see [`api`]).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Minqing 民情",
        description = "The people's-conditions map server: address register, tiles, analysis, events."
    ),
    components(schemas(
        health::Health,
        health::Stats,
        error::ErrorBody,
        error::ErrorDetail,
        minqing_domain::events::service::IntakeRequest,
        minqing_domain::events::service::TransitionRequest,
        minqing_domain::events::service::Participants,
        work::ReadRequest,
        minqing_domain::personal::key_groups::VisitRequest
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the protected endpoints reference.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The documented API: every area's router, each route registered together with its
/// OpenAPI operation (`utoipa_axum::routes!`), so the routes and the document come from
/// one list and cannot drift apart. An area adds a route in its own `router()`.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(tagged("health", health::router()))
        .merge(tagged("areas", areas::router()))
        .merge(tagged("analysis", analysis::router()))
        .merge(tagged("address_api", address_api::router()))
        .merge(tagged("review", review::router()))
        .merge(tagged("review", aliases::router()))
        .merge(events::router())
        .merge(feed::router())
        .merge(work::router())
        .merge(tagged("export", export::router()))
        .merge(open311::router())
        .merge(auth::router())
        .merge(users::router())
        .merge(audit::router())
        .merge(personal::router())
        .merge(forces::router())
        .merge(key_groups::router())
}

/// Gives the operations of an area that name no tag the area's tag (what the derived
/// document did by module name, so the document stays as it was).
fn tagged(tag: &str, mut router: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    for item in router.get_openapi_mut().paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in operations.into_iter().flatten() {
            op.tags.get_or_insert_with(|| vec![tag.to_string()]);
        }
    }
    router
}

/// The OpenAPI document of [`api`], as served at `/api/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

/// The whole application over `state`.
pub fn app(state: App) -> Router {
    // The exporter first, then the register's gauges (set at load, maybe before it).
    metrics_layer::handle();
    state.publish_gauges();
    let state = AppState(state);
    let (api, doc) = api().split_for_parts();
    let doc =
        bytes::Bytes::from(serde_json::to_vec(&doc).expect("the OpenAPI document serialises"));
    // Plain axum routes, deliberately without OpenAPI operations: the HTML views and
    // their assets, the Prometheus text at /metrics, the document itself, and the map's
    // tiles, TileJSON, style and glyphs (binary or spec-defined formats that MapLibre
    // reads, listed by /tiles/catalog). Nothing under /api/v1 may be here (a test reads
    // the sources to check).
    Router::new()
        .merge(api)
        .route("/metrics", get(metrics_layer::render))
        .route(
            "/api/openapi.json",
            get(move || async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    doc,
                )
            }),
        )
        .merge(tiles::routes())
        .route("/", get(web::index))
        .route("/screen", get(web::screen))
        .route("/grid", get(web::grid))
        .route("/review", get(web::review))
        .route("/work", get(web::work))
        .route(
            "/assets/{*path}",
            get(web::asset).layer(tower_http::compression::CompressionLayer::new()),
        )
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(metrics_layer::track))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            16 * 1024 * 1024,
        ))
        .with_state(state)
}
