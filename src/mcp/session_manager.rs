//! Stateful sessions usable on any replica (`docs/decisions/0004-shared-mcp-sessions.md`).
//!
//! [`SharedSessionManager`] is rmcp's in-memory session manager plus the shared
//! [`SessionRegistry`]: it writes the session record when `initialize` succeeds and lets rmcp
//! re-create a session it does not hold (rmcp replays the stored `initialize` into a fresh local
//! worker with the same id, see `StreamableHttpServerConfig::session_store`). Closing a local
//! worker (idle timeout, shutdown) never touches the record; only a client DELETE removes it.
//!
//! [`session_gate`] runs before rmcp on every request naming a session: the record must exist
//! (this also refreshes its idle TTL) and belong to the caller, else the spec's 404. A session
//! deleted or expired elsewhere is thereby gone here too; a local copy of it is closed. With Redis,
//! [`spawn_close_listener`] also closes local copies (and their open GET streams) as soon as
//! another replica deletes the session.

use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use rmcp::model::{ClientJsonRpcMessage, ClientRequest, GetExtensions, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::{LocalSessionManager, LocalSessionManagerError};
use rmcp::transport::streamable_http_server::session::{
    RestoreOutcome, ServerSseMessage, SessionId, SessionManager, SessionRestoreMarker,
};
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use super::sessions::{SessionRecord, SessionRegistry, SessionStoreFailure};
use crate::core::principal::Principal;

/// Body of the 404 for an unknown, expired or foreign session (`mcp-tools.md` §9.1).
pub const SESSION_NOT_FOUND: &str = "Session not found. Send a request without mcp-session-id to start a new session.";

/// The revision that is always stateless: rmcp ignores `Mcp-Session-Id` on its requests.
const STATELESS_REVISION: &str = "2026-07-28";

/// A failure of the local session worker or of the session store.
#[derive(Debug, Error)]
pub enum SharedSessionError {
    #[error(transparent)]
    Local(#[from] LocalSessionManagerError),
    #[error(transparent)]
    Store(#[from] SessionStoreFailure),
}

/// rmcp's [`LocalSessionManager`] whose sessions are recorded in a [`SessionRegistry`].
#[derive(Debug)]
pub struct SharedSessionManager {
    local: LocalSessionManager,
    registry: Arc<SessionRegistry>,
}

impl SharedSessionManager {
    pub fn new(local: LocalSessionManager, registry: Arc<SessionRegistry>) -> Self {
        Self { local, registry }
    }

    /// Closes this process's copy of a session whose record is gone (deleted on another replica,
    /// or expired); a no-op when it holds none.
    async fn forget_local(&self, id: &str) {
        let id: SessionId = Arc::from(id);
        if self.local.has_session(&id).await.unwrap_or(false)
            && let Err(e) = self.local.close_session(&id).await
        {
            tracing::debug!(component = "mcp", error = %e, "closing a stale local session failed");
        }
    }
}

/// The `initialize` parameters and the caller of a genuine (not replayed) `initialize`.
fn new_session_details(message: &ClientJsonRpcMessage) -> Option<(rmcp::model::InitializeRequestParams, Principal)> {
    let ClientJsonRpcMessage::Request(request) = message else { return None };
    let ClientRequest::InitializeRequest(init) = &request.request else { return None };
    let extensions = init.extensions();
    if extensions.get::<SessionRestoreMarker>().is_some() {
        return None;
    }
    let principal = extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Principal>())
        .cloned()
        .unwrap_or_else(Principal::open_mode);
    Some((init.params.clone(), principal))
}

impl SessionManager for SharedSessionManager {
    type Error = SharedSessionError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        Ok(self.local.create_session().await?)
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        let details = new_session_details(&message);
        let response = self.local.initialize_session(id, message).await?;
        if let (Some((params, principal)), ServerJsonRpcMessage::Response(_)) = (details, &response) {
            let record = SessionRecord::new(id, params, &principal);
            if let Err(e) = self.registry.put(&record).await {
                // Without its record the session would be unusable: fail the initialize.
                let _ = self.local.close_session(id).await;
                return Err(e.into());
            }
        }
        Ok(response)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        Ok(self.local.has_session(id).await?)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        Ok(self.local.close_session(id).await?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.local.create_stream(id, message).await?)
    }

    async fn accept_message(&self, id: &SessionId, message: ClientJsonRpcMessage) -> Result<(), Self::Error> {
        Ok(self.local.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.local.create_standalone_stream(id).await?)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.local.resume(id, last_event_id).await?)
    }

    async fn restore_session(&self, id: SessionId) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        Ok(self.local.restore_session(id).await?)
    }
}

/// With Redis: a task closing this process's copy of every session deleted on another replica
/// (`<prefix>mcp:session-closed`). It re-subscribes after a lost connection and stops with
/// `cancel` or when the manager is dropped.
pub fn spawn_close_listener(manager: &Arc<SharedSessionManager>, cancel: CancellationToken) {
    let Some((client, channel)) = manager.registry.closed_feed() else { return };
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(listen_for_closed(Arc::downgrade(manager), client, channel, cancel));
    }
}

async fn listen_for_closed(
    manager: Weak<SharedSessionManager>,
    client: redis::Client,
    channel: String,
    cancel: CancellationToken,
) {
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    let mut messages = pubsub.on_message();
                    loop {
                        let message = tokio::select! {
                            _ = cancel.cancelled() => return,
                            message = messages.next() => message,
                        };
                        let Some(message) = message else { break };
                        let Ok(id) = message.get_payload::<String>() else { continue };
                        let Some(manager) = manager.upgrade() else { return };
                        manager.forget_local(&id).await;
                    }
                    tracing::warn!(component = "mcp", "lost the Redis session-closed subscription; resubscribing");
                }
                Err(e) => tracing::warn!(component = "mcp", error = %e, "cannot subscribe to session-closed"),
            },
            Err(e) => tracing::warn!(component = "mcp", error = %e, "cannot subscribe to session-closed"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        if manager.strong_count() == 0 {
            return;
        }
    }
}

/// Admits a request naming a session only when the session's record exists (refreshing its idle
/// TTL) and was created by the caller; anything else gets the spec's 404. Requests without
/// `Mcp-Session-Id` (`initialize`) and 2026-07-28 requests (always stateless) pass untouched.
pub async fn session_gate(State(sessions): State<Arc<SharedSessionManager>>, request: Request, next: Next) -> Response {
    let Some(value) = request.headers().get("mcp-session-id") else {
        return next.run(request).await;
    };
    let stateless_revision = request
        .headers()
        .get("mcp-protocol-version")
        .is_some_and(|v| v.to_str().is_ok_and(|v| v.trim() == STATELESS_REVISION));
    if stateless_revision {
        return next.run(request).await;
    }
    let Ok(id) = value.to_str().map(str::to_owned) else {
        return not_found();
    };
    let principal = request.extensions().get::<Principal>().cloned().unwrap_or_else(Principal::open_mode);
    match sessions.registry.touch(&id).await {
        Ok(Some(record)) if record.belongs_to(&principal) => next.run(request).await,
        Ok(Some(_)) => {
            tracing::info!(component = "mcp", org = principal.org.as_str(), "session used by another principal");
            not_found()
        }
        Ok(None) => {
            sessions.forget_local(&id).await;
            not_found()
        }
        Err(e) => {
            tracing::error!(component = "mcp", error = %e, "session store unavailable");
            json_answer(StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({ "error": "session store unavailable" }))
        }
    }
}

pub fn not_found() -> Response {
    json_answer(StatusCode::NOT_FOUND, serde_json::json!({ "error": SESSION_NOT_FOUND }))
}

pub fn json_answer(status: StatusCode, body: serde_json::Value) -> Response {
    let content_type = [(axum::http::header::CONTENT_TYPE, "application/json")];
    (status, content_type, body.to_string()).into_response()
}
