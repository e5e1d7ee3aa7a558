//! Streamable HTTP transport: the axum [`Router`] serving MCP at `/mcp` (`mcp-tools.md` §9.1).
//!
//! rmcp's `StreamableHttpService` does the protocol work (Accept/Content-Type checks, Host
//! allow-list, `MCP-Protocol-Version` validation, sessions, SSE). This module only turns our
//! settings into its config and adjusts a few answers to the spec (see [`spec_answers`]); stateful
//! sessions are recorded in a [`SessionRegistry`] so any replica can serve them (see
//! [`super::session_manager`]). Auth is not done here: an axum layer in front of this router
//! inserts the caller's `Principal` into the request extensions (see [`super::principal_from`]).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use super::server::McpServer;
use super::session_manager::{SharedSessionManager, json_answer, not_found, session_gate, spawn_close_listener};
use super::sessions::SessionRegistry;

/// Hosts always accepted (any port): DNS-rebinding protection for a server on a laptop.
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Transport settings, already validated by the application's config.
#[derive(Debug, Clone)]
pub struct McpHttpConfig {
    /// `COORDINATOR_MCP_SESSION_MODE=stateful`: `initialize` opens a session, recorded in
    /// `session_store` (else in memory). Default stateless: every request self-contained, any replica.
    pub stateful: bool,
    /// Where stateful session records live: Redis (shared by the replicas, see
    /// [`SessionRegistry::redis`]); `None` = in this process.
    pub session_store: Option<Arc<SessionRegistry>>,
    /// Answer requests with `application/json` unless the call streams progress
    /// (`COORDINATOR_MCP_JSON_RESPONSE`, default true). Stateless mode only: rmcp always streams
    /// stateful replies as SSE.
    pub json_response: bool,
    /// Extra accepted `Host` values (`host` = any port, `host:port` = exactly that); loopback is
    /// always accepted; `"*"` accepts any host (behind an ingress that checks it).
    pub allowed_hosts: Vec<String>,
    /// Idle time after which a stateful session is dropped (`COORDINATOR_MCP_SESSION_TTL_MS`).
    pub session_ttl: Duration,
    /// Largest accepted POST body; larger ones get 413.
    pub max_body_bytes: usize,
    /// Server shutdown: ends sessions and streams, and cancels running tool calls.
    pub cancel: CancellationToken,
}

impl Default for McpHttpConfig {
    fn default() -> Self {
        Self {
            stateful: false,
            session_store: None,
            json_response: true,
            allowed_hosts: Vec::new(),
            session_ttl: Duration::from_millis(1_800_000),
            max_body_bytes: 1024 * 1024,
            cancel: CancellationToken::new(),
        }
    }
}

impl McpHttpConfig {
    fn rmcp_config(&self) -> StreamableHttpServerConfig {
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(self.stateful)
            .with_json_response(self.json_response)
            .with_max_request_body_bytes(self.max_body_bytes)
            .with_cancellation_token(self.cancel.child_token());
        if self.allowed_hosts.iter().any(|host| host.trim() == "*") {
            // rmcp treats an empty allow-list as "no Host check".
            return config.disable_allowed_hosts();
        }
        let extra = self.allowed_hosts.iter().map(|host| host.trim().to_owned());
        let hosts = LOOPBACK_HOSTS.iter().map(|host| (*host).to_owned()).chain(extra);
        config.with_allowed_hosts(hosts.filter(|host| !host.is_empty()))
    }
}

/// The `/mcp` routes. Each request runs on a clone of `server`, which is also told to cancel
/// running calls when `config.cancel` fires.
pub fn router(server: McpServer, config: McpHttpConfig) -> Router {
    let server = server.with_shutdown(config.cancel.clone());
    let factory = move || Ok(server.clone());
    let mut rmcp_config = config.rmcp_config();
    if config.stateful {
        let registry =
            config.session_store.clone().unwrap_or_else(|| SessionRegistry::memory(config.session_ttl, &config.cancel));
        // rmcp re-creates a session it does not hold from the record (another replica's session,
        // or a local worker that idled out while the record was kept alive elsewhere).
        rmcp_config.session_store = Some(registry.clone());
        let mut local = LocalSessionManager::default();
        local.session_config.keep_alive = Some(config.session_ttl);
        let sessions = Arc::new(SharedSessionManager::new(local, registry));
        spawn_close_listener(&sessions, config.cancel.clone());
        let service = StreamableHttpService::new(factory, sessions.clone(), rmcp_config);
        Router::new()
            .route_service("/mcp", service)
            .layer(middleware::from_fn(spec_answers))
            .layer(middleware::from_fn_with_state(sessions, session_gate))
    } else {
        let sessions = Arc::new(NeverSessionManager::default());
        let service = StreamableHttpService::new(factory, sessions, rmcp_config);
        Router::new().route_service("/mcp", service).layer(middleware::from_fn(spec_answers))
    }
}

/// Adjusts three rmcp answers to the spec:
/// * a session DELETE gets 204 (rmcp: 202, which py `mcp` logs as a failure);
/// * an unknown session gets the JSON 404 telling the client how to recover (rmcp: text);
/// * an unparsable body gets a JSON-RPC error with 400 (rmcp: text 415, also for batches,
///   which rmcp 3.11 does not support).
///
/// Unknown, expired and foreign sessions are normally refused before rmcp by [`session_gate`].
async fn spec_answers(request: Request, next: Next) -> Response {
    let is_delete = request.method() == Method::DELETE;
    let has_session = request.headers().contains_key("mcp-session-id");
    let response = next.run(request).await;
    match response.status() {
        StatusCode::ACCEPTED if is_delete => StatusCode::NO_CONTENT.into_response(),
        StatusCode::NOT_FOUND if has_session => not_found(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => parse_error_answer(response).await,
        _ => response,
    }
}

/// rmcp uses 415 both for a wrong Content-Type (kept) and for a body it cannot decode.
async fn parse_error_answer(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(text) = axum::body::to_bytes(body, 4096).await else {
        return StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response();
    };
    if !text.starts_with(b"fail to deserialize request body") {
        return Response::from_parts(parts, text.into());
    }
    let (code, message) = if text.ends_with(b"unrecognized JSON-RPC message") {
        (-32600, "Invalid Request: not a JSON-RPC message (batches are not supported)")
    } else {
        (-32700, "Parse error: the body is not valid JSON")
    };
    let error = serde_json::json!({
        "jsonrpc": "2.0", "id": null, "error": { "code": code, "message": message }
    });
    json_answer(StatusCode::BAD_REQUEST, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_always_allowed_and_extras_are_added() {
        let config =
            McpHttpConfig { allowed_hosts: vec!["coord.example.com".into(), " ".into()], ..McpHttpConfig::default() };
        assert_eq!(config.rmcp_config().allowed_hosts, ["localhost", "127.0.0.1", "::1", "coord.example.com"]);
    }

    #[test]
    fn a_star_disables_the_host_check() {
        let config = McpHttpConfig { allowed_hosts: vec!["*".into()], ..McpHttpConfig::default() };
        assert!(config.rmcp_config().allowed_hosts.is_empty());
    }
}
