//! The HTTP interface: one `Clone` state, one `app(state)` router used by `main` and by
//! the tests, one error type that picks the status and never leaks internals.

mod areas;
mod error;
mod health;
mod metrics_layer;

pub use error::{ApiError, ErrorBody};

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
    auth: Arc<crate::auth::AuthState>,
}

impl AppState {
    /// A state whose index is still loading (`/healthz` answers 503 until [`Self::set_index`]).
    pub fn new(store: Store) -> Self {
        Self {
            store,
            index: Arc::new(RwLock::new(None)),
            events: Arc::new(RwLock::new(EventIndex::default())),
            changes: tokio::sync::broadcast::channel(4096).0,
            metrics: metrics_layer::handle(),
            auth: Arc::new(crate::auth::AuthState::default()),
        }
    }

    pub fn set_index(&self, (index, events): (Index, EventIndex)) {
        metrics_layer::publish_index_gauges(&index, events.len());
        *self.events.write().unwrap_or_else(|e| e.into_inner()) = events;
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(index));
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
        crate::auth::sessions::login,
        crate::auth::sessions::logout,
        crate::auth::sessions::me,
        crate::auth::users_api::list_users,
        crate::audit::query,
        crate::personal::building_households,
        crate::personal::resident,
        crate::personal::unmask,
        crate::personal::lookup
    ),
    components(schemas(health::Health, health::Stats, error::ErrorBody, error::ErrorDetail)),
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
        .route("/", get(health::home))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(metrics_layer::track))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            16 * 1024 * 1024,
        ))
        .with_state(state)
}

async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}
