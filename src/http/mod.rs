//! The HTTP listener: health probes, the embedded dashboard, the REST API for hooks and orchestrators, SSE, the
//! MCP mount at `/mcp`, and the legacy 404 shape, behind the request-id, Host and Origin/CORS rules of
//! http-api.md §1 (the dashboard's static GETs sit outside the Host/Origin guard, inside the request-id layer).

mod api;
mod dashboard;
pub mod error;
mod events;
pub mod extract;
pub mod guard;
mod health;
pub mod limit;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub use api::route_table;
pub use events::SseConfig;
pub use guard::Policy;

use crate::config::RateLimit;
use crate::core::Core;
use crate::core::ports::RateLimiter;
use crate::jobs::RetentionSweeper;

/// Facts about the listener reported by `/health`.
#[derive(Debug, Clone)]
pub struct ListenerInfo {
    pub http_port: u16,
    pub bind_all: bool,
    /// `sqlite` or `postgres`, as reported by `/health`.
    pub storage_backend: &'static str,
    /// Another server was using the same Postgres database at start (unsupported without Redis).
    pub other_replica: bool,
    /// The embedded broker runs (false: an external broker is used).
    pub mqtt_embedded: bool,
    /// The real MQTT TCP port, when listening.
    pub mqtt_tcp_port: Option<u16>,
    /// Why the MQTT TCP listener is not listening.
    pub mqtt_tcp_error: Option<String>,
    /// With `COORDINATOR_REDIS_URL`: whether the fan-out subscription is up.
    pub redis_connected: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl ListenerInfo {
    /// `null` without Redis, else `{ok}` (`/health`, `/readyz`; never gates readiness: replicas keep serving
    /// from the store and catch up when Redis returns).
    pub fn redis_check(&self) -> serde_json::Value {
        match &self.redis_connected {
            None => serde_json::Value::Null,
            Some(c) => serde_json::json!({"ok": c.load(std::sync::atomic::Ordering::Relaxed)}),
        }
    }
}

/// Shared state of HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub started: Instant,
    pub shutdown: CancellationToken,
    pub info: ListenerInfo,
    pub retention: Option<RetentionSweeper>,
    pub allow_reset: bool,
    pub sse: SseConfig,
    /// Rate limits of public routes (auth.md §11).
    pub limits: Limits,
}

/// The rate limiter and the limits it applies.
#[derive(Clone)]
pub struct Limits {
    pub limiter: Arc<dyn RateLimiter>,
    /// Per-IP bucket of agent registration: `POST /api/auth/register` (auth.md §11; that Phase-1 token route is
    /// not in this version yet — `POST /api/register` is not limited by the spec).
    pub register: RateLimit,
}

impl SseConfig {
    pub fn new(heartbeat: Duration, max_clients: usize) -> Self {
        Self { heartbeat, clients: Arc::new(Semaphore::new(max_clients)) }
    }
}

async fn not_found() -> error::ApiError {
    error::ApiError::not_found()
}

/// The whole HTTP surface; `mcp` is the already-configured MCP router, `mqtt_ws` the MQTT-over-WebSocket route
/// (it applies the Origin rule itself: a disallowed Origin gets 403 on the upgrade).
pub fn router(state: AppState, mcp: Router, mqtt_ws: Router, policy: Policy, max_body_bytes: usize) -> Router {
    let probes = Router::new()
        .route("/livez", get(health::livez))
        .route("/healthz", get(health::healthz))
        .route("/health", get(health::health))
        .route("/readyz", get(health::readyz));
    let policy = Arc::new(policy);
    let mcp = mcp.layer(middleware::from_fn_with_state(policy.clone(), guard::origin_and_host));
    let mqtt_ws = mqtt_ws.layer(middleware::from_fn_with_state(policy.clone(), guard::origin_and_host));
    let guarded = Router::new()
        .merge(api::routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(policy, guard::origin_and_host));
    probes
        .with_state(state.clone())
        .merge(dashboard::routes())
        .merge(mcp)
        .merge(mqtt_ws)
        .merge(guarded.with_state(state))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn(guard::request_id))
}
