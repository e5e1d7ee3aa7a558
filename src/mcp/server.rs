//! The rmcp `ServerHandler`: identity, protocol versions, `tools/list` and `tools/call`.
//!
//! Implemented by hand (no `#[tool_router]`): the catalog and the argument parser are our own,
//! so the handler only glues them to the backend. It holds no per-session state — every call
//! reads its principal from the request — so any replica can answer any request, and the same
//! value serves HTTP (one clone per request) and stdio.

use std::borrow::Cow;
use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use tokio_util::sync::CancellationToken;

use super::catalog::{self, READ_TOOLS, required_scope};
use super::instructions::INSTRUCTIONS;
use super::progress::{PROGRESS_INTERVAL, ProgressSender, with_heartbeat};
use super::{CallCtx, ParseError, ToolBackend, ToolCall, ToolReply, parse_call};
use crate::core::principal::Principal;

/// The protocol revisions we serve (`mcp-tools.md` §9.1), oldest first. Pinned rather than
/// rmcp's `KNOWN_VERSIONS` so an rmcp upgrade cannot widen the contract silently.
pub const SUPPORTED_PROTOCOL_VERSIONS: &[ProtocolVersion] = &[
    ProtocolVersion::V_2024_11_05,
    ProtocolVersion::V_2025_03_26,
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_11_25,
    ProtocolVersion::V_2026_07_28,
];

static SERVER_CONFIG: LazyLock<ServerConfig> = LazyLock::new(|| {
    let identity = Implementation::new("mcp-coordinator", env!("CARGO_PKG_VERSION")).with_title("MCP Coordinator");
    ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
        .with_server_info(identity)
        .with_instructions(INSTRUCTIONS)
        // The answer to an `initialize` asking for a version we do not serve over the
        // handshake (unknown, or 2026-07-28 which has no handshake).
        .with_protocol_version(ProtocolVersion::V_2025_11_25)
});

/// The MCP server: a cheap-clone handle over the tool backend.
#[derive(Clone)]
pub struct McpServer {
    backend: Arc<dyn ToolBackend>,
    shutdown: CancellationToken,
    progress_every: Duration,
}

impl McpServer {
    /// A server running every call on `backend`.
    pub fn new(backend: Arc<dyn ToolBackend>) -> Self {
        Self { backend, shutdown: CancellationToken::new(), progress_every: PROGRESS_INTERVAL }
    }

    /// Cancels every running call (their [`CallCtx::cancel`]) when `shutdown` fires.
    pub fn with_shutdown(mut self, shutdown: CancellationToken) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Interval of the automatic progress heartbeat (default [`PROGRESS_INTERVAL`]).
    pub fn with_progress_interval(mut self, every: Duration) -> Self {
        self.progress_every = every;
        self
    }

    async fn run(&self, principal: Principal, call: ToolCall, ctx: CallCtx) -> ToolReply {
        let cancel = ctx.cancel.clone();
        let progress = ctx.progress.clone();
        let work = with_heartbeat(progress, self.progress_every, self.backend.call(principal, call, ctx));
        // Server shutdown cancels the call, which then returns through its own path.
        run_until_done(work, cancel, self.shutdown.clone()).await
    }
}

/// Drives `work` to completion, cancelling `cancel` if `shutdown` fires first. No spawned
/// task, so rmcp's task-local association of notifications with the request is kept.
async fn run_until_done<F: Future>(work: F, cancel: CancellationToken, shutdown: CancellationToken) -> F::Output {
    tokio::pin!(work);
    tokio::select! {
        biased;
        output = &mut work => return output,
        () = shutdown.cancelled() => cancel.cancel(),
    }
    work.await
}

/// The caller's claims: a [`Principal`] that the auth layer put in the HTTP request's
/// extensions, else the open-mode principal (stdio, or HTTP with auth off).
///
/// rmcp hands each request's `http::request::Parts` to the handler in
/// `RequestContext::extensions`, in stateless and stateful mode alike, so an axum middleware in
/// front of `/mcp` only has to `request.extensions_mut().insert(principal)`.
pub fn principal_from(context: &RequestContext<RoleServer>) -> Principal {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Principal>())
        .cloned()
        .unwrap_or_else(Principal::open_mode)
}

fn check_scope(principal: &Principal, tool: &str) -> Result<(), String> {
    let need = required_scope(tool);
    match principal.scope {
        Some(held) if held < need => Err(format!(
            "Insufficient scope: {tool} requires '{need}' scope but this token has '{held}'. \
             Read-only tools: {}",
            READ_TOOLS.join(", ")
        )),
        _ => Ok(()),
    }
}

fn into_result(reply: ToolReply) -> CallToolResult {
    match reply {
        ToolReply::Json(value) => {
            let mut result = CallToolResult::success(vec![ContentBlock::text(value.to_string())]);
            // Only objects: rmcp strips non-object structuredContent for pre-2026 peers anyway.
            if value.is_object() {
                result.structured_content = Some(value);
            }
            result
        }
        ToolReply::Word(word) => CallToolResult::success(vec![ContentBlock::text(word)]),
        ToolReply::Error(message) => CallToolResult::error(vec![ContentBlock::text(message)]),
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        SERVER_CONFIG.clone()
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(SUPPORTED_PROTOCOL_VERSIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(catalog::tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        catalog::tool(name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let call = match parse_call(&request.name, request.arguments) {
            Ok(call) => call,
            Err(ParseError::UnknownTool(name)) => {
                return Err(McpError::invalid_params(format!("Unknown tool: {name}"), None));
            }
            Err(ParseError::Invalid(message)) => {
                return Ok(into_result(ToolReply::Error(message)).into());
            }
        };
        let principal = principal_from(&context);
        if let Err(message) = check_scope(&principal, call.name()) {
            return Ok(into_result(ToolReply::Error(message)).into());
        }
        let ctx = CallCtx { cancel: context.ct.child_token(), progress: ProgressSender::from_context(&context) };
        let tool = call.name();
        tracing::debug!(tool, org = principal.org.as_str(), "tool call");
        let reply = self.run(principal, call, ctx).await;
        if let ToolReply::Error(message) = &reply {
            tracing::debug!(tool, message, "tool call failed");
        }
        Ok(into_result(reply).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::principal::Scope;

    fn with_scope(scope: Option<Scope>) -> Principal {
        Principal { scope, ..Principal::open_mode() }
    }

    #[test]
    fn scope_message_matches_the_spec() {
        let Err(message) = check_scope(&with_scope(Some(Scope::Read)), "announce_work") else {
            panic!("read scope must not announce");
        };
        assert_eq!(
            message,
            "Insufficient scope: announce_work requires 'write' scope but this token has \
             'read'. Read-only tools: list_agents, agent_activity, get_thread, \
             get_thread_updates, list_threads, get_blast_radius, get_module_info, hot_files, \
             get_session_files, check_file_conflict, coordinator_status, wait_for_peers"
        );
    }

    #[test]
    fn scopes_at_or_above_the_need_and_unscoped_claims_pass() {
        assert!(check_scope(&with_scope(Some(Scope::Read)), "get_thread").is_ok());
        assert!(check_scope(&with_scope(Some(Scope::Write)), "announce_work").is_ok());
        assert!(check_scope(&with_scope(Some(Scope::Admin)), "mqtt_publish").is_ok());
        assert!(check_scope(&with_scope(None), "cancel_thread").is_ok());
    }

    #[test]
    fn replies_map_to_one_text_item() {
        let json = into_result(ToolReply::Json(serde_json::json!({"a": 1})));
        assert_eq!(json.content.len(), 1);
        assert_eq!(json.structured_content, Some(serde_json::json!({"a": 1})));
        let array = into_result(ToolReply::Json(serde_json::json!([1, 2])));
        assert_eq!(array.structured_content, None);
        let word = into_result(ToolReply::Word("closed"));
        assert_eq!(word.content[0].as_text().map(|t| t.text.as_str()), Some("closed"));
        let error = into_result(ToolReply::Error("Thread not found: t1".into()));
        assert_eq!(error.is_error, Some(true));
    }
}
