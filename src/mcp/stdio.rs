//! stdio transport (`mcp-coordinator stdio`, `mcp-tools.md` §9.2): one client, newline-delimited
//! JSON-RPC on stdin/stdout, open-mode claims.
//!
//! stdout belongs to the protocol: the caller must send every log line to stderr before calling
//! [`serve_stdio`]. No principal is ever found in a stdio request, so every call runs as
//! `Principal::open_mode()`.

use std::sync::Arc;

use rmcp::ServiceExt;
use rmcp::service::ServerInitializeError;
use tokio_util::sync::CancellationToken;

use super::ToolBackend;
use super::server::McpServer;

/// Serves the tools on stdin/stdout until stdin closes or `cancel` fires.
///
/// A client that disconnects before or during the handshake is a normal end, not an error.
/// Note: tokio reads stdin on a blocking thread that cancellation cannot interrupt, so after a
/// cancel the process should exit (or shut the runtime down with a timeout) rather than wait for
/// the runtime to drop.
pub async fn serve_stdio(backend: Arc<dyn ToolBackend>, cancel: CancellationToken) -> std::io::Result<()> {
    let server = McpServer::new(backend).with_shutdown(cancel.clone());
    let running = match server.serve_with_ct(rmcp::transport::stdio(), cancel).await {
        Ok(running) => running,
        Err(ServerInitializeError::Cancelled | ServerInitializeError::ConnectionClosed(_)) => {
            return Ok(());
        }
        Err(error) => return Err(std::io::Error::other(error)),
    };
    let reason = running.waiting().await.map_err(std::io::Error::other)?;
    tracing::info!(?reason, "stdio session ended");
    Ok(())
}
