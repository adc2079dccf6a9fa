//! Prometheus metrics: request counts and latencies per route, and the index's sizes.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// The process-wide recorder (installed once, shared by every app in the process).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may exist in tests; then ours just stays unused.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// One route and method's metric handles, registered once: building the labelled keys
/// and finding them in the registry on every request cost a cached tile about a tenth
/// of its user-space instructions (callgrind).
struct RouteMetrics {
    /// The labels, kept for the counters of statuses not seen yet.
    method: String,
    route: String,
    duration: Histogram,
    /// One counter per status seen (a handful per route).
    requests: RwLock<Vec<(u16, Counter)>>,
}

/// Route → the metrics of each method it answered.
type Routes = HashMap<Box<str>, Vec<(axum::http::Method, Arc<RouteMetrics>)>>;

fn route_metrics(method: &axum::http::Method, route: &str) -> Arc<RouteMetrics> {
    static ROUTES: OnceLock<RwLock<Routes>> = OnceLock::new();
    let routes = ROUTES.get_or_init(Default::default);
    let known = routes
        .read()
        .get(route)
        .and_then(|methods| methods.iter().find(|(m, _)| m == method))
        .map(|(_, v)| v.clone());
    if let Some(m) = known {
        return m;
    }
    let mut routes = routes.write();
    let methods = routes.entry(route.into()).or_default();
    if let Some((_, m)) = methods.iter().find(|(m, _)| m == method) {
        return m.clone();
    }
    let (method_label, route_label) = (method.to_string(), route.to_string());
    let m = Arc::new(RouteMetrics {
        duration: metrics::histogram!("minqing_http_request_duration_seconds",
            "method" => method_label.clone(), "route" => route_label.clone()),
        method: method_label,
        route: route_label,
        requests: RwLock::default(),
    });
    methods.push((method.clone(), m.clone()));
    m
}

impl RouteMetrics {
    fn count(&self, status: u16) {
        let known = self
            .requests
            .read()
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, c)| c.clone());
        let counter = known.unwrap_or_else(|| {
            let counter = metrics::counter!("minqing_http_requests_total",
                "method" => self.method.clone(), "route" => self.route.clone(), "status" => status.to_string());
            let mut requests = self.requests.write();
            if !requests.iter().any(|(s, _)| *s == status) {
                requests.push((status, counter.clone()));
            }
            counter
        });
        counter.increment(1);
    }
}

pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let handles = route_metrics(
        req.method(),
        req.extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str),
    );
    let resp = next.run(req).await;
    handles.count(resp.status().as_u16());
    handles.duration.record(started.elapsed().as_secs_f64());
    resp
}

pub async fn render(
    axum::extract::State(_state): axum::extract::State<super::AppState>,
) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        handle().render(),
    )
        .into_response()
}
