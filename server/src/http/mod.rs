//! The HTTP interface: one `Clone` state, one `app(state)` router used by `main` and by
//! the tests, one error type that picks the status and never leaks internals.

mod address;
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
use axum::routing::{get, post};
use minqing_domain::App;
use utoipa::OpenApi;

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

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Minqing 民情",
        description = "The people's-conditions map server: address register, tiles, analysis, events."
    ),
    paths(
        health::healthz,
        health::stats,
        areas::areas,
        analysis::population,
        analysis::population_polygon,
        analysis::housing,
        analysis::hotspots,
        analysis::emerging,
        analysis::risk,
        analysis::efficiency,
        address_api::search,
        address_api::geocode,
        address_api::reverse,
        review::list,
        review::resolve,
        events::create,
        events::list,
        events::detail,
        events::transition,
        events::upload_photo,
        events::get_photo,
        events::get_thumb,
        events::stream,
        work::tasks,
        work::assignees,
        work::alerts,
        feed::latest,
        work::alerts_read,
        work::workload,
        work::funnel,
        export::events_csv,
        export::areas_csv,
        open311::discovery,
        open311::services,
        open311::service_definition,
        open311::requests,
        open311::request,
        open311::post_request,
        auth::login,
        auth::logout,
        auth::me,
        users::list_users,
        users::revoke_sessions,
        audit::query,
        personal::building_households,
        personal::resident,
        personal::unmask,
        personal::lookup,
        forces::patrols,
        forces::log_patrol,
        forces::patrol_teams,
        forces::grid_forces,
        forces::grid_tasks,
        forces::dispatch_task,
        forces::work_items,
        forces::full_time_rates,
        forces::patrol_coverage,
    ),
    components(schemas(
        health::Health,
        health::Stats,
        error::ErrorBody,
        error::ErrorDetail,
        minqing_domain::events::service::IntakeRequest,
        minqing_domain::events::service::TransitionRequest,
        minqing_domain::events::service::Participants,
        work::ReadRequest
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

/// The whole application over `state`.
pub fn app(state: App) -> Router {
    // The exporter first, then the register's gauges (set at load, maybe before it).
    metrics_layer::handle();
    state.publish_gauges();
    let state = AppState(state);
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(metrics_layer::render))
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/stats", get(health::stats))
        .route("/api/v1/areas", get(areas::areas))
        .route(
            "/api/v1/analysis/population",
            get(analysis::population).post(analysis::population_polygon),
        )
        .route("/api/v1/analysis/housing", get(analysis::housing))
        .route("/api/v1/analysis/hotspots", get(analysis::hotspots))
        .route(
            "/api/v1/analysis/hotspots/emerging",
            get(analysis::emerging),
        )
        .route("/api/v1/analysis/risk", get(analysis::risk))
        .route("/api/v1/analysis/efficiency", get(analysis::efficiency))
        .route("/api/v1/search", get(address_api::search))
        .route("/api/v1/geocode", post(address_api::geocode))
        .route("/api/v1/reverse", get(address_api::reverse))
        .route("/api/v1/review", get(review::list))
        .route("/api/v1/review/{kind}/{id}", post(review::resolve))
        .merge(tiles::routes())
        .merge(events_routes())
        .merge(forces::routes())
        .route("/", get(web::index))
        .route("/screen", get(web::screen))
        .route("/grid", get(web::grid))
        .route("/review", get(web::review))
        .route("/work", get(web::work))
        .route(
            "/assets/{*path}",
            get(web::asset).layer(tower_http::compression::CompressionLayer::new()),
        )
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/auth/me", get(auth::me))
        .route("/api/v1/users", get(users::list_users))
        .route(
            "/api/v1/users/{username}/revoke-sessions",
            post(users::revoke_sessions),
        )
        .route("/api/v1/audit", get(audit::query))
        .route(
            "/api/v1/buildings/{code}/households",
            get(personal::building_households),
        )
        .route("/api/v1/residents/lookup", post(personal::lookup))
        .route("/api/v1/residents/{id}", get(personal::resident))
        .route("/api/v1/residents/{id}/unmask", post(personal::unmask))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(metrics_layer::track))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            16 * 1024 * 1024,
        ))
        .with_state(state)
}

/// The closed loop's routes, each with its own body limit (the API's 413 format).
fn events_routes() -> Router<AppState> {
    use axum::extract::DefaultBodyLimit;
    use axum::routing::post;
    let json_limit = DefaultBodyLimit::max(events::JSON_BODY_LIMIT);
    Router::new()
        .route(
            "/api/v1/events",
            get(events::list).post(events::create).layer(json_limit),
        )
        .route("/api/v1/events/stream", get(events::stream))
        .route("/api/v1/events/latest", get(feed::latest))
        .route("/api/v1/tasks", get(work::tasks))
        .route("/api/v1/assignees", get(work::assignees))
        .route("/api/v1/alerts", get(work::alerts))
        .route(
            "/api/v1/alerts/read",
            post(work::alerts_read).layer(json_limit),
        )
        .route("/api/v1/analysis/workload", get(work::workload))
        .route("/api/v1/analysis/funnel", get(work::funnel))
        .route("/api/v1/export/events.csv", get(export::events_csv))
        .route("/api/v1/export/areas.csv", get(export::areas_csv))
        .route("/api/v1/events/{code}", get(events::detail))
        .route(
            "/api/v1/events/{code}/transitions",
            post(events::transition).layer(json_limit),
        )
        .route(
            "/api/v1/events/{code}/photos",
            post(events::upload_photo).layer(DefaultBodyLimit::max(events::PHOTO_LIMIT)),
        )
        .route("/api/v1/events/{code}/photos/{id}", get(events::get_photo))
        .route(
            "/api/v1/events/{code}/photos/{id}/thumb",
            get(events::get_thumb),
        )
        .merge(open311::routes())
}

async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}
