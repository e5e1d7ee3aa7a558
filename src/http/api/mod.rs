//! The Phase-1 REST API for editor hooks and orchestrators (http-api.md §3). Each handler converts its input,
//! calls the same `Core` operation as its MCP twin, and shapes the reply; no coordination logic lives here.

mod agents;
mod files;
mod status;
mod threads;

use axum::Router;
use axum::routing::{get, post};

use super::AppState;

/// Every `/api/*` route of Phase 1 (SSE is mounted separately).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/register", post(agents::register))
        .route("/api/agents", get(agents::list))
        .route("/api/session-start", get(agents::session_start).post(agents::session_start))
        .route("/api/session-stop", post(agents::session_stop))
        .route("/api/agent-status/{id}", get(agents::agent_status))
        .route("/api/check-interrupt", get(agents::check_interrupt).post(agents::check_interrupt))
        .route("/api/token-usage", post(agents::token_usage))
        .route("/api/check-conflict", get(files::check_conflict).post(files::check_conflict))
        .route("/api/log-file", post(files::log_file))
        .route("/api/file-activity", post(files::file_activity))
        .route("/api/hot-files", get(files::hot_files).post(files::hot_files))
        .route("/api/working-files/start", post(files::working_start))
        .route("/api/working-files/stop", post(files::working_stop))
        .route("/api/announce", post(threads::announce))
        .route("/api/post-to-thread", post(threads::post))
        .route("/api/claim-task", post(threads::claim))
        .route("/api/unclaim-task", post(threads::unclaim))
        .route("/api/propose-resolution", post(threads::propose))
        .route("/api/approve-resolution", post(threads::approve))
        .route("/api/threads-active", get(threads::active).post(threads::active))
        .route("/api/threads-summary", get(threads::summary).post(threads::summary))
        .route("/api/consultation/{id}/status", get(threads::consultation_status))
        .route("/api/introspection-response", post(threads::introspection_response))
        .route("/api/pending-introspections", get(threads::pending_introspections))
        .route("/api/status", get(status::status))
        .route("/api/scoring-stats", get(status::scoring_stats))
        .route("/api/reset", post(status::reset))
}
