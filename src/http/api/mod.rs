//! The Phase-1 REST API for editor hooks and orchestrators (http-api.md §3). Each handler converts its input,
//! calls the same `Core` operation as its MCP twin, and shapes the reply; no coordination logic lives here.
//!
//! The routes are declared once, in `api_routes!`, which builds both the router and `route_table()`: the test
//! that keeps `openapi.json` in step with the router reads the table.

mod agents;
mod files;
mod openapi;
mod status;
mod threads;

use axum::Router;
use axum::routing::{get, post};

use super::AppState;
use super::events;

macro_rules! api_routes {
    ($($path:literal => $m0:ident($h0:expr) $(, $m:ident($h:expr))*;)+) => {
        const ROUTE_TABLE: &[(&str, &[&str])] = &[$(($path, &[stringify!($m0) $(, stringify!($m))*])),+];

        /// Every `/api/*` route of Phase 1, SSE included.
        pub fn routes() -> Router<AppState> {
            Router::new()$(.route($path, $m0($h0)$(.$m($h))*))+
        }
    };
}

api_routes! {
    "/api/openapi.json" => get(openapi::document);
    "/api/events" => get(events::events);
    "/api/register" => post(agents::register);
    "/api/agents" => get(agents::list);
    "/api/session-start" => get(agents::session_start), post(agents::session_start);
    "/api/session-stop" => post(agents::session_stop);
    "/api/agent-status/{id}" => get(agents::agent_status);
    "/api/check-interrupt" => get(agents::check_interrupt), post(agents::check_interrupt);
    "/api/token-usage" => post(agents::token_usage);
    "/api/check-conflict" => get(files::check_conflict), post(files::check_conflict);
    "/api/log-file" => post(files::log_file);
    "/api/file-activity" => post(files::file_activity);
    "/api/hot-files" => get(files::hot_files), post(files::hot_files);
    "/api/working-files/start" => post(files::working_start);
    "/api/working-files/stop" => post(files::working_stop);
    "/api/announce" => post(threads::announce);
    "/api/post-to-thread" => post(threads::post);
    "/api/claim-task" => post(threads::claim);
    "/api/unclaim-task" => post(threads::unclaim);
    "/api/propose-resolution" => post(threads::propose);
    "/api/approve-resolution" => post(threads::approve);
    "/api/threads-active" => get(threads::active), post(threads::active);
    "/api/threads-summary" => get(threads::summary), post(threads::summary);
    "/api/consultation/{id}/status" => get(threads::consultation_status);
    "/api/introspection-response" => post(threads::introspection_response);
    "/api/pending-introspections" => get(threads::pending_introspections);
    "/api/status" => get(status::status);
    "/api/scoring-stats" => get(status::scoring_stats);
    "/api/reset" => post(status::reset);
}

/// `(path, lowercase methods)` of every `/api/*` route, in registration order (HEAD is implied by GET).
pub fn route_table() -> &'static [(&'static str, &'static [&'static str])] {
    ROUTE_TABLE
}
