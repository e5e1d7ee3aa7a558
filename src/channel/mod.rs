//! The Claude Code Channels sidecar (`mcp-coordinator channel`, events-mqtt.md §6): a stdio MCP server that
//! relays the coordinator's MQTT events into a Claude Code session as `notifications/claude/channel` and offers
//! one tool, `post_to_thread`, to answer a consultation through the coordinator's HTTP API.
//!
//! It is a client of a running coordinator and depends on nothing of the server side except the topic helpers
//! and the protocol-version list: no `Core`, no store. Files: `sanitise` (pure text cleaning), `event` (publish →
//! notification params, pure), `relay` (the MQTT client), `post` (the tool and its HTTP call), `server` (the rmcp
//! handler). stdout carries JSON-RPC only; every log and progress line goes to stderr.

mod event;
mod post;
mod relay;
mod sanitise;
mod server;

pub use event::{ChannelEvent, METHOD, from_publish};
pub use post::{DEFAULT_AGENT_ID, TOOL, input_schema, parse_args};
pub use relay::{READY_LINE, filters};
pub use sanitise::{FIELD_MAX_CHARS, MESSAGE_MAX_CHARS, TRUNCATED, sanitise, sanitise_to};
pub use server::{ChannelServer, INSTRUCTIONS, SERVER_NAME};

use std::time::Duration;

use rmcp::model::{CustomNotification, ServerNotification};
use rmcp::service::{Peer, ServerInitializeError};
use rmcp::{RoleServer, ServiceExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::ChannelSettings;
use crate::lifecycle::Shutdown;

/// Why the sidecar stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("the MQTT URL {0} has no host")]
    MqttUrl(String),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("MCP handshake failed: {0}")]
    Handshake(#[source] Box<ServerInitializeError>),
    #[error("MCP session failed: {0}")]
    Session(#[from] tokio::task::JoinError),
}

/// Events held while the client has not finished the handshake or reads slowly; beyond, new events are dropped.
const QUEUE: usize = 1024;
/// How long tasks get to finish after the session ends.
const GRACE: Duration = Duration::from_secs(2);

/// Runs the sidecar until stdin closes (the MCP client went away) or SIGINT/SIGTERM.
///
/// The MQTT client starts at once, so events that arrive during the handshake are queued, not lost.
pub async fn run(settings: &ChannelSettings) -> Result<(), ChannelError> {
    let poster = post::Poster::new(&settings.coordinator_url, settings.token.clone())?;
    let opts = relay::options(settings).ok_or_else(|| ChannelError::MqttUrl(settings.mqtt_url.to_string()))?;
    let shutdown = Shutdown::new();
    let (tx, rx) = mpsc::channel(QUEUE);
    shutdown.spawn(relay::run(opts, settings.org.clone(), tx, shutdown.token()));
    let stop = shutdown.clone();
    shutdown.spawn(async move {
        let done = stop.token();
        tokio::select! {
            () = crate::lifecycle::signal() => stop.trigger(),
            () = done.cancelled() => {}
        }
    });
    let served = serve(ChannelServer::new(poster), rx, &shutdown).await;
    shutdown.trigger();
    if !shutdown.wait(GRACE).await {
        tracing::warn!(component = "channel", "some tasks did not stop in time");
    }
    served
}

/// Serves MCP on stdin/stdout and forwards relayed events to the client until the session ends.
async fn serve(
    server: ChannelServer,
    rx: mpsc::Receiver<ChannelEvent>,
    shutdown: &Shutdown,
) -> Result<(), ChannelError> {
    let running = match server.serve_with_ct(rmcp::transport::stdio(), shutdown.token()).await {
        Ok(running) => running,
        Err(ServerInitializeError::Cancelled) => {
            eprintln!("[channel] stopped before the handshake; exiting");
            return Ok(());
        }
        Err(ServerInitializeError::ConnectionClosed(_)) => {
            eprintln!("[channel] the client left before the handshake; exiting");
            return Ok(());
        }
        Err(e) => return Err(ChannelError::Handshake(Box::new(e))),
    };
    shutdown.spawn(forward(running.peer().clone(), rx, shutdown.token()));
    let reason = running.waiting().await?;
    eprintln!("[channel] session ended ({reason:?}); exiting");
    Ok(())
}

/// Sends each event as `notifications/claude/channel` until cancelled or the client is gone.
async fn forward(peer: Peer<RoleServer>, mut rx: mpsc::Receiver<ChannelEvent>, cancel: CancellationToken) {
    loop {
        let ev = tokio::select! {
            ev = rx.recv() => ev,
            () = cancel.cancelled() => return,
        };
        let Some(ev) = ev else { return };
        let note = CustomNotification::new(METHOD, Some(ev.params()));
        if let Err(e) = peer.send_notification(ServerNotification::CustomNotification(note)).await {
            tracing::debug!(component = "channel", error = %e, "client gone; stopping the relay");
            return;
        }
    }
}
