//! The HTTP listener: health probes, the MCP mount at `/mcp`, and the legacy 404 shape. REST routes, SSE and
//! the dashboard plug in here without touching the core.

mod health;

use std::time::Instant;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, response::IntoResponse};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::core::Core;
use crate::jobs::RetentionSweeper;

/// Facts about the listener reported by `/health`.
#[derive(Debug, Clone)]
pub struct ListenerInfo {
    pub http_port: u16,
    pub bind_all: bool,
    /// `sqlite` or `postgres`, as reported by `/health`.
    pub storage_backend: &'static str,
}

/// Shared state of HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub started: Instant,
    pub shutdown: CancellationToken,
    pub info: ListenerInfo,
    pub retention: Option<RetentionSweeper>,
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, Json(json!({"error": "not found"})))
}

/// The whole HTTP surface; `mcp` is the already-configured MCP router.
pub fn router(state: AppState, mcp: Router, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/livez", get(health::livez))
        .route("/healthz", get(health::healthz))
        .route("/health", get(health::health))
        .route("/readyz", get(health::readyz))
        .with_state(state)
        .merge(mcp)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body_bytes))
}
