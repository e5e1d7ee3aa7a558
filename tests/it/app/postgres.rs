//! The app on Postgres (`COORDINATOR_DATABASE_URL=postgres://…`, a fresh database per test): scenario S1 and the
//! racing approvals through MCP, and the health probes naming the backend.

use std::sync::Arc;

use serde_json::Value;

use super::{lifecycle, scoring};
use crate::support::spawn_app_pg;

#[tokio::test]
async fn s1_same_file_is_concerned_and_opens_the_thread_on_postgres() {
    scoring::s1_same_file(spawn_app_pg().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_approvals_resolve_exactly_once_on_postgres() {
    lifecycle::concurrent_approvals(spawn_app_pg().await).await;
}

#[tokio::test]
async fn health_reports_postgres_and_its_schema() {
    let app = spawn_app_pg().await;
    let http = reqwest::Client::new();
    let ready = http.get(format!("{}/readyz", app.base)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["schema"]["ok"], true, "{body}");
    let health: Value = http.get(format!("{}/health", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["storage"], serde_json::json!({"ok": true, "backend": "postgres"}));
    let store = Arc::clone(app.core.store());
    assert_eq!(store.schema_version().await.unwrap().0, mcp_coordinator::store::postgres::SCHEMA_VERSION);
}
