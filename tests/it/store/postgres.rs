//! Postgres-only checks: migrations and their refusals (storage.md §5) under concurrent migrators, connection
//! settings, error classes, the raw column types and formats behind the port (timestamptz, compact JSON text,
//! BOOLEAN), and the per-org advisory lock that serialises announcements.

use std::sync::Arc;
use std::time::Duration;

use mcp_coordinator::core::files::WorkingClaim;
use mcp_coordinator::core::ports::{Store, StoreError};
use mcp_coordinator::core::rows::to_json_text;
use mcp_coordinator::store::postgres::{PgStore, SCHEMA_VERSION};
use sqlx::{Connection, PgConnection, Row};

use super::fixtures::*;
use crate::support::eventually;
use crate::support::pg::PgDatabase;

async fn unmigrated() -> (PgDatabase, PgStore) {
    let db = PgDatabase::create().await;
    let store = PgStore::connect(&db.url, 2).await.unwrap();
    (db, store)
}

async fn migrated() -> (PgDatabase, PgStore) {
    let (db, store) = unmigrated().await;
    store.migrate().await.unwrap();
    (db, store)
}

fn refusal<T: std::fmt::Debug>(r: Result<T, StoreError>) -> String {
    match r {
        Err(StoreError::Other(msg)) => msg,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn exec(c: &mut PgConnection, sql: &'static str) {
    sqlx::query(sql).execute(c).await.unwrap();
}

#[tokio::test]
async fn fresh_database_is_migrated_and_migrating_again_is_a_no_op() {
    let (db, store) = unmigrated().await;
    let report = store.migrate().await.unwrap();
    assert_eq!((report.from, report.to), (0, SCHEMA_VERSION));
    assert_eq!(report.applied, vec![(1, "init".to_string())]);
    let mut c = db.connect().await;
    let row = sqlx::query(
        "SELECT version, name, checksum, applied_at = date_trunc('second', applied_at) FROM schema_migrations",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    let (v, name, sum, whole): (i64, String, String, bool) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!((v, name.as_str(), whole), (1, "init", true));
    assert!(sum.len() == 64 && sum.chars().all(|ch| ch.is_ascii_hexdigit() && !ch.is_ascii_uppercase()));
    let org: String = sqlx::query_scalar("SELECT name FROM orgs WHERE id = 'default'").fetch_one(&mut c).await.unwrap();
    assert_eq!(org, "Default Organization");
    let again = store.migrate().await.unwrap();
    assert_eq!((again.from, again.to, again.applied.len()), (SCHEMA_VERSION, SCHEMA_VERSION, 0));
    store.require_current().await.unwrap();
    let s: Arc<dyn Store> = Arc::new(store);
    assert_eq!(s.schema_version().await.unwrap(), (SCHEMA_VERSION, SCHEMA_VERSION));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrators_apply_each_migration_once() {
    let db = PgDatabase::create().await;
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move {
                let store = PgStore::connect(&url, 1).await.unwrap();
                let report = store.migrate().await.unwrap();
                store.close().await;
                report
            })
        })
        .collect();
    let mut reports = Vec::new();
    for r in runs {
        reports.push(r.await.unwrap());
    }
    assert_eq!(reports.iter().map(|r| r.applied.len()).sum::<usize>(), 1, "{reports:?}");
    assert!(reports.iter().all(|r| r.to == SCHEMA_VERSION));
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM schema_migrations").fetch_one(&mut db.connect().await).await.unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn require_current_refuses_an_unmigrated_database() {
    let (_db, store) = unmigrated().await;
    let msg = refusal(store.require_current().await);
    assert!(msg.starts_with("Database schema 0 is older"), "{msg}");
    store.migrate().await.unwrap();
    store.require_current().await.unwrap();
}

#[tokio::test]
async fn refuses_a_newer_schema() {
    let (db, store) = migrated().await;
    let newer = SCHEMA_VERSION + 1;
    sqlx::query(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, 'future', 'x', now())",
    )
    .bind(newer)
    .execute(&mut db.connect().await)
    .await
    .unwrap();
    let want = format!(
        "Database schema {newer} is newer than this binary supports ({SCHEMA_VERSION}); downgrade is not supported"
    );
    assert_eq!(refusal(store.migrate().await), want);
    assert_eq!(refusal(store.require_current().await), want);
}

#[tokio::test]
async fn refuses_a_modified_migration() {
    let (db, store) = migrated().await;
    exec(&mut db.connect().await, "UPDATE schema_migrations SET checksum = 'deadbeef' WHERE version = 1").await;
    let want = "Migration 1 (init) was modified after it was applied (checksum mismatch)";
    assert_eq!(refusal(store.migrate().await), want);
    assert_eq!(refusal(store.require_current().await), want);
}

#[tokio::test]
async fn refuses_foreign_tables_without_a_ledger() {
    let (db, store) = unmigrated().await;
    let mut c = db.connect().await;
    exec(&mut c, "CREATE TABLE agents (id TEXT PRIMARY KEY)").await;
    let want =
        format!("Database {} has tables but no migration ledger (created elsewhere); use an empty database", db.name);
    assert_eq!(refusal(store.migrate().await), want);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 1, "nothing was created");
}

#[tokio::test]
async fn every_connection_has_the_statement_timeout() {
    let (_db, store) = migrated().await;
    let (a, b) = tokio::join!(store.current_setting("statement_timeout"), store.current_setting("statement_timeout"));
    assert_eq!((a.unwrap().as_str(), b.unwrap().as_str()), ("30s", "30s"));
    assert_eq!(store.current_setting("application_name").await.unwrap(), "mcp-coordinator");
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let err = PgStore::connect("postgres://postgres@127.0.0.1:1/nothing", 1).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let err = PgStore::connect("postgres://[::1", 1).await.unwrap_err();
    assert!(matches!(err, StoreError::Other(ref m) if m.starts_with("invalid Postgres URL")), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_column_types_and_formats() {
    let (db, store) = migrated().await;
    let s: Arc<dyn Store> = Arc::new(store);
    let o = default_org();
    let mut t = thread(&o, "a", &["src/ü.rs", "b \"q\".rs"], at(0).plus_millis(999));
    t.keep_open = true;
    t.target_modules = vec!["src/ü".into(), "x/y".into()];
    announce(&s, &t).await;
    let claim = WorkingClaim {
        org_id: o.clone(),
        agent_id: aid("a"),
        file_path: path("f.rs"),
        started_at: at(0).plus_millis(5),
        claim_until: at(1800),
    };
    s.start_claim(&claim, at(1)).await.unwrap();
    let mut c = db.connect().await;
    let types: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns WHERE table_name = 'threads' \
         AND column_name IN ('created_at', 'keep_open', 'target_modules', 'round') ORDER BY column_name",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    let want = [
        ("created_at", "timestamp with time zone"),
        ("keep_open", "boolean"),
        ("round", "bigint"),
        ("target_modules", "text"),
    ];
    assert_eq!(types, want.map(|(a, b)| (a.to_owned(), b.to_owned())));
    let row = sqlx::query(
        "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS'), target_modules, target_files, \
         keep_open, expected_respondents FROM threads",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    let (created, modules, files, keep, respondents): (String, String, String, bool, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    assert_eq!(created, "2026-11-25 10:00:00.000", "T1 columns hold whole seconds");
    assert_eq!(modules, to_json_text(&t.target_modules));
    assert_eq!(modules, r#"["src/ü","x/y"]"#);
    assert_eq!(files, r#"["src/ü.rs","b \"q\".rs"]"#);
    assert_eq!((keep, respondents.as_str()), (true, "[]"));
    let row = sqlx::query(
        "SELECT to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
         to_char(last_activity_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM working_files",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    let (started, last): (String, String) = (row.get(0), row.get(1));
    assert_eq!((started.as_str(), last.as_str()), ("2026-11-25T10:00:00.005Z", "2026-11-25T10:00:01.000Z"));
    let payload: String =
        sqlx::query_scalar("SELECT payload FROM events WHERE seq = 1").fetch_one(&mut c).await.unwrap();
    assert!(payload.starts_with('{') && !payload.contains(": ") && payload.contains(r#""org_id":"default""#));
    let seq: i64 = sqlx::query_scalar("SELECT event_seq FROM org_sequences WHERE org_id = 'default'")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(seq, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announcements_of_one_org_are_serialised_by_an_advisory_lock() {
    let (db, store) = migrated().await;
    let s: Arc<dyn Store> = Arc::new(store);
    let o = default_org();
    let other = org("other");
    s.ensure_org(&other).await.unwrap();
    // Another session holds the org's announcement lock.
    let mut holder = db.connect().await;
    let mut tx = holder.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('default'))").execute(&mut *tx).await.unwrap();
    let t = thread(&o, "a", &["f.rs"], at(0));
    let task = {
        let (s, t) = (Arc::clone(&s), t.clone());
        tokio::spawn(async move { s.record_announcement(announcement(&t), at(0)).await })
    };
    let url = db.url.clone();
    eventually(Duration::from_secs(10), "the announcement to wait for the advisory lock", || {
        let url = url.clone();
        async move {
            let mut c = PgConnection::connect(&url).await.unwrap();
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
                     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            .fetch_one(&mut c)
            .await
            .unwrap();
            waiting == 1
        }
    })
    .await;
    assert!(!task.is_finished());
    assert!(s.get_thread(&o, &t.id).await.unwrap().is_none(), "nothing committed while it waits");
    // Another org is not blocked.
    let elsewhere = thread(&other, "b", &["f.rs"], at(0));
    tokio::time::timeout(Duration::from_secs(10), s.record_announcement(announcement(&elsewhere), at(0)))
        .await
        .expect("another org's announcement does not wait")
        .unwrap();
    tx.commit().await.unwrap();
    let events = task.await.unwrap().unwrap();
    assert_eq!(events[0].seq, 1);
    assert!(s.get_thread(&o, &t.id).await.unwrap().is_some());
}
