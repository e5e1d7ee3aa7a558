//! The app on Postgres (`COORDINATOR_DATABASE_URL=postgres://…`, a fresh database per test): scenario S1 and the
//! racing approvals through MCP, the health probes naming the backend, and the warning of a second server on one
//! database.

use std::sync::Arc;

use serde_json::Value;

use super::{lifecycle, scoring};
use crate::support::pg::PgDatabase;
use crate::support::{spawn_app_pg, spawn_app_with};

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

async fn warnings(base: &str) -> Vec<String> {
    let health: Value = reqwest::get(format!("{base}/health")).await.unwrap().json().await.unwrap();
    health["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_second_server_on_one_database_warns_about_replicas_without_redis() {
    let db = PgDatabase::create().await;
    let env = [("COORDINATOR_DATABASE_URL", db.url.as_str()), ("COORDINATOR_DB_POOL_SIZE", "2")];
    let first = spawn_app_with(&env).await;
    let second = spawn_app_with(&env).await;
    let replica_warning = |w: &[String]| w.iter().any(|w| w.starts_with("another server uses this Postgres database"));
    assert!(!replica_warning(&warnings(&first.base).await));
    assert!(replica_warning(&warnings(&second.base).await), "{:?}", warnings(&second.base).await);
}

/// Two servers on one database and no Redis (so no index changes travel): an announcement on the second still
/// sees the first one's open thread on the same file, because the store re-reads the Layer-0 candidates under the
/// org's announcement lock and the core re-scores with what it learned.
#[tokio::test]
async fn announcements_of_one_file_on_two_servers_never_miss_each_other() {
    let db = PgDatabase::create().await;
    let env = [("COORDINATOR_DATABASE_URL", db.url.as_str()), ("COORDINATOR_DB_POOL_SIZE", "2")];
    let (first, second) = (spawn_app_with(&env).await, spawn_app_with(&env).await);
    let http = reqwest::Client::new();
    let post = |base: &str, path: &str, body: Value| {
        let req = http.post(format!("{base}{path}")).json(&body);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    post(&first.base, "/api/register", serde_json::json!({"agent_id": "alice", "name": "Alice"})).await;
    let a = post(
        &first.base,
        "/api/announce",
        serde_json::json!({"agent_id": "alice", "subject": "A", "target_modules": [], "target_files": ["src/x.rs"],
                           "keep_open": true}),
    )
    .await;
    post(&second.base, "/api/register", serde_json::json!({"agent_id": "bob", "name": "Bob"})).await;
    let b = post(
        &second.base,
        "/api/announce",
        serde_json::json!({"agent_id": "bob", "subject": "B", "target_modules": [], "target_files": ["src/x.rs"]}),
    )
    .await;
    let concerned = &b["impact"]["concerned"][0];
    assert_eq!((concerned["agent_id"].as_str(), concerned["layer"].as_str()), (Some("alice"), Some("L0")), "{b}");
    let short = &a["thread_id"].as_str().unwrap()[..8];
    assert!(concerned["reason"].as_str().unwrap().contains(short), "{b}");
    assert_eq!(b["status"], "open");
}
