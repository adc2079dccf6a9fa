//! Prometheus metrics: request counts and latencies per route, and the index's sizes.

use crate::index::Index;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
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

pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().to_string();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("minqing_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("minqing_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    resp
}

pub fn publish_index_gauges(ix: &Index, events: usize) {
    metrics::gauge!("minqing_building_addresses").set(ix.buildings.len() as f64);
    metrics::gauge!("minqing_unit_addresses").set(ix.unit_count as f64);
    metrics::gauge!("minqing_residents").set(ix.people.len() as f64);
    metrics::gauge!("minqing_enterprises").set(ix.enterprises.len() as f64);
    metrics::gauge!("minqing_events").set(events as f64);
}

pub async fn render(
    axum::extract::State(state): axum::extract::State<super::AppState>,
) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
        .into_response()
}
