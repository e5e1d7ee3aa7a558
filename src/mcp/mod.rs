//! The MCP adapter: serves the 26 coordinator tools over Streamable HTTP (`/mcp`) and stdio.
//!
//! Flow of a `tools/call`: [`args::parse_call`] turns name + arguments into a typed
//! [`ToolCall`] (bad arguments become an `isError` result, an unknown tool a JSON-RPC error);
//! the caller's [`Principal`] is read from the HTTP request (or is the open-mode principal);
//! its scope is checked against [`required_scope`]; then the [`ToolBackend`] runs the call and
//! its [`ToolReply`] becomes the tool result (one text item).
//!
//! This module owns the wire contract (names, schemas, annotations, instructions, errors,
//! transport settings) and nothing else: it never touches storage or domain rules, and the
//! backend never sees rmcp types. It must not be depended on by `core`.
//!
//! Files: `args` (argument structs and parsing), `catalog` (tool list, scopes), `instructions`,
//! `server` (the rmcp `ServerHandler`), `progress`, `http` (axum router), `sessions` (stateful session
//! records, in Redis or memory), `session_manager` (sessions usable on any replica), `stdio`.

pub mod args;
mod backend;
mod catalog;
mod http;
mod instructions;
mod progress;
mod server;
mod session_manager;
mod sessions;
mod stdio;

pub use args::{ParseError, TOOL_NAMES, ToolCall, parse_call};
pub use backend::CoreBackend;
pub use catalog::{READ_TOOLS, required_scope, title, tool, tools};
pub use http::{McpHttpConfig, router};
pub use instructions::{INSTRUCTIONS, MAX_INSTRUCTIONS_BYTES};
pub use progress::{PROGRESS_INTERVAL, ProgressSender, with_heartbeat};
pub use server::{McpServer, SUPPORTED_PROTOCOL_VERSIONS, principal_from};
pub use session_manager::SESSION_NOT_FOUND;
pub use sessions::{SessionRecord, SessionRegistry, SessionStoreFailure};
pub use stdio::serve_stdio;

use tokio_util::sync::CancellationToken;

use crate::core::principal::Principal;

/// What the adapter needs from the application: run one parsed tool call for a principal.
///
/// Implementations map each [`ToolCall`] variant to one `Core` method and its result to a
/// [`ToolReply`]; domain errors an agent can act on become [`ToolReply::Error`] with the
/// message of `mcp-tools.md` §1, internal failures `Internal error (request <id>)`.
#[async_trait::async_trait]
pub trait ToolBackend: Send + Sync + 'static {
    async fn call(&self, principal: Principal, call: ToolCall, ctx: CallCtx) -> ToolReply;
}

/// The outcome of a tool call, before it is put on the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolReply {
    /// Sent as compact JSON text (and as `structuredContent` when it is an object).
    Json(serde_json::Value),
    /// One of the bare-word results: `ok`, `closed`, `cancelled`, `published`.
    Word(&'static str),
    /// A result with `isError: true` and this English message.
    Error(String),
}

/// Per-call context handed to the backend.
#[derive(Debug, Clone)]
pub struct CallCtx {
    /// Fires when the client cancels the request, the connection or session goes away, or the
    /// server shuts down. Blocking tools must return promptly when it fires.
    pub cancel: CancellationToken,
    /// Present when the client asked for progress (`_meta.progressToken`). The server already
    /// sends a heartbeat every [`PROGRESS_INTERVAL`] while a call runs; use this only for
    /// meaningful messages.
    pub progress: Option<ProgressSender>,
}
