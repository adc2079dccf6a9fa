//! The HTTP interface: one `Clone` state, one `app(state)` router used by `main` and by
//! the tests, one error type that picks the status and never leaks internals.

mod analysis;
mod areas;
pub(crate) mod error;
pub mod events;
mod export;
mod health;
mod metrics_layer;
pub mod open311;
pub mod replica;
mod web;

pub use error::{ApiError, ErrorBody};

use crate::address_service::{api as address_api, review};
use crate::index::{EventIndex, Index};
use crate::store::Store;
use axum::Router;
use axum::routing::{get, post};
use std::sync::{Arc, RwLock};
use utoipa::OpenApi;

/// A change to derived state, published after the store committed it. Tile caches,
/// model caches and the live feed subscribe to these.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// An event was created or changed; `before` is its point before the change, if it
    /// existed.
    Event {
        code: String,
        lon: f64,
        lat: f64,
        before: Option<(f64, f64)>,
    },
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    index: Arc<RwLock<Option<Arc<Index>>>>,
    events: Arc<RwLock<EventIndex>>,
    changes: tokio::sync::broadcast::Sender<Change>,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Vector and heat-map tiles with their cache (subscribed to `changes`).
    pub tiles: Arc<crate::tiles_service::TileService>,
    /// The analysis models' caches (see `crate::analysis`).
    pub analysis: Arc<crate::analysis::Analysis>,
    /// Handling deadlines per category and risk tier (configuration; defaults = generator's).
    pub deadlines: Arc<crate::events::Deadlines>,
    auth: Arc<crate::auth::AuthState>,
    /// Serialises review relinks (each copies the current index and swaps it in).
    relink: Arc<std::sync::Mutex<()>>,
}

impl AppState {
    /// A state whose index is still loading (`/healthz` answers 503 until [`Self::set_index`]).
    pub fn new(store: Store) -> Self {
        let changes = tokio::sync::broadcast::channel(4096).0;
        Self {
            store,
            index: Arc::new(RwLock::new(None)),
            events: Arc::new(RwLock::new(EventIndex::default())),
            tiles: Arc::new(crate::tiles_service::TileService::new(changes.subscribe())),
            analysis: Arc::new(crate::analysis::Analysis::new(changes.subscribe())),
            changes,
            metrics: metrics_layer::handle(),
            deadlines: Arc::new(crate::events::Deadlines::default()),
            auth: Arc::new(crate::auth::AuthState::default()),
            relink: Arc::new(std::sync::Mutex::new(())),
        }
    }

    /// Use configured deadlines instead of the defaults.
    pub fn with_deadlines(mut self, deadlines: crate::events::Deadlines) -> Self {
        self.deadlines = Arc::new(deadlines);
        self
    }

    /// Use configured risk weights, references and tier thresholds (see
    /// [`crate::analysis::RiskSettings::resolve`]) instead of the defaults.
    pub fn with_risk(
        mut self,
        grid: minqing_analysis::risk::RiskConfig,
        building: minqing_analysis::risk::RiskConfig,
    ) -> Self {
        self.analysis = Arc::new(
            crate::analysis::Analysis::new(self.changes.subscribe()).with_risk(grid, building),
        );
        self
    }

    pub fn set_index(&self, (index, events): (Index, EventIndex)) {
        metrics_layer::publish_index_gauges(&index, events.len());
        let index = Arc::new(index);
        self.tiles.load(index.clone(), &events);
        *self.events.write().unwrap_or_else(|e| e.into_inner()) = events;
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = Some(index);
    }

    /// Apply a committed change of one record's link to the in-memory state at once: a
    /// copy of the index with the counts moved, the tiles' counting structures, and the
    /// analysis caches. Blocking work (copies the index): call from a blocking thread.
    pub fn relink(&self, change: &crate::index::Relink) {
        let _serial = self.relink.lock().unwrap_or_else(|e| e.into_inner());
        let Ok(current) = self.index() else {
            // Still loading: the load reads the store, which has the change.
            return;
        };
        let next = Arc::new(current.relinked(change));
        {
            let events = self.events();
            metrics_layer::publish_index_gauges(&next, events.len());
            self.tiles.relink(next.clone(), &events);
        }
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = Some(next);
        self.analysis.invalidate();
    }

    /// The loaded register index, or 503 while loading.
    pub fn index(&self) -> Result<Arc<Index>, ApiError> {
        self.index
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(ApiError::Loading)
    }

    /// Read the events (a short lock: never hold it across an await).
    pub fn events(&self) -> std::sync::RwLockReadGuard<'_, EventIndex> {
        self.events.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The event lock itself, for services that take their own short read locks.
    pub fn events_lock(&self) -> &RwLock<EventIndex> {
        &self.events
    }

    /// Write the events, after the store committed the change.
    pub fn events_mut(&self) -> std::sync::RwLockWriteGuard<'_, EventIndex> {
        self.events.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Publish a committed change to every subscriber.
    pub fn publish(&self, change: Change) {
        // No subscriber is fine: nothing derived needs refreshing.
        let _ = self.changes.send(change);
    }

    /// Sessions, the failed-login limiter and the clock of this state.
    pub fn auth(&self) -> &crate::auth::AuthState {
        &self.auth
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Change> {
        self.changes.subscribe()
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
        export::events_csv,
        export::areas_csv,
        open311::discovery,
        open311::services,
        open311::service_definition,
        open311::requests,
        open311::request,
        open311::post_request,
        crate::auth::sessions::login,
        crate::auth::sessions::logout,
        crate::auth::sessions::me,
        crate::auth::users_api::list_users,
        crate::audit::query,
        crate::personal::building_households,
        crate::personal::resident,
        crate::personal::unmask,
        crate::personal::lookup,
    ),
    components(schemas(
        health::Health,
        health::Stats,
        error::ErrorBody,
        error::ErrorDetail,
        events::IntakeRequest,
        events::TransitionRequest
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

/// The whole application.
pub fn app(state: AppState) -> Router {
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
        .merge(crate::tiles_service::http::routes())
        .merge(events_routes())
        .route("/", get(web::index))
        .route("/screen", get(web::screen))
        .route("/grid", get(web::grid))
        .route("/review", get(web::review))
        .route(
            "/assets/{*path}",
            get(web::asset).layer(tower_http::compression::CompressionLayer::new()),
        )
        .route("/api/v1/auth/login", post(crate::auth::sessions::login))
        .route("/api/v1/auth/logout", post(crate::auth::sessions::logout))
        .route("/api/v1/auth/me", get(crate::auth::sessions::me))
        .route("/api/v1/users", get(crate::auth::users_api::list_users))
        .route("/api/v1/audit", get(crate::audit::query))
        .route(
            "/api/v1/buildings/{code}/households",
            get(crate::personal::building_households),
        )
        .route("/api/v1/residents/lookup", post(crate::personal::lookup))
        .route("/api/v1/residents/{id}", get(crate::personal::resident))
        .route(
            "/api/v1/residents/{id}/unmask",
            post(crate::personal::unmask),
        )
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
