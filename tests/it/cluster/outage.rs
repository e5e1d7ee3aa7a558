//! Outages: Redis restarted mid-run (SSE clients lose nothing and see nothing twice), Postgres restarted (503
//! while it is down, served again without restarting the replicas).

use std::time::Duration;

use serde_json::json;

use super::services::{PrivatePostgres, PrivateRedis};
use super::{Replica, Sse, event_head, eventually, prefix};
use crate::support::pg::PgDatabase;

async fn register(r: &Replica, ids: std::ops::Range<usize>) {
    for i in ids {
        r.ok("/api/register", json!({"agent_id": format!("a{i}"), "name": "A"})).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_loses_nothing_and_duplicates_nothing() {
    let db = PgDatabase::create().await;
    let mut redis = tokio::task::spawn_blocking(PrivateRedis::start).await.unwrap();
    let url = redis.url();
    let env = [("COORDINATOR_DATABASE_URL", db.url.as_str()), ("COORDINATOR_REDIS_URL", url.as_str())];
    let (r1, r2) = (Replica::start(&env), Replica::start(&env));
    for r in [&r1, &r2] {
        eventually(Duration::from_secs(10), "replica subscribed to Redis", || r.redis_ok()).await;
    }
    let sse = Sse::open(&r2.base, None).await;
    register(&r1, 0..10).await;
    sse.wait_for(10, 10).await;

    let mut redis = tokio::task::spawn_blocking(move || {
        redis.down();
        redis
    })
    .await
    .unwrap();
    eventually(Duration::from_secs(10), "replica 2 noticed Redis is gone", || async { !r2.redis_ok().await }).await;
    let ready = r2.get("/readyz").await;
    assert_eq!(ready.0, 200, "a Redis outage does not fail readiness: {}", ready.1);
    // Written on replica 1 while Redis is down: alice's open thread and ten registrations.
    r1.ok("/api/register", json!({"agent_id": "alice", "name": "Alice"})).await;
    r1.ok(
        "/api/announce",
        json!({"agent_id": "alice", "subject": "A", "target_modules": [], "target_files": ["src/x.rs"],
               "keep_open": true}),
    )
    .await;
    register(&r1, 10..20).await;
    let during = event_head(&db.url).await;
    // A client that reconnects now is replayed what it missed from the store.
    let resumed = Sse::open(&r2.base, Some(10)).await;
    resumed.wait_for(during, 10).await;

    let mut redis = tokio::task::spawn_blocking(move || {
        redis.up();
        redis
    })
    .await
    .unwrap();
    eventually(Duration::from_secs(15), "replica 2 resubscribed to Redis", || r2.redis_ok()).await;
    register(&r1, 20..30).await;
    let head = event_head(&db.url).await;
    sse.wait_for(head, 10).await;
    resumed.wait_for(head, 10).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // a duplicate would arrive within this window
    assert_eq!(sse.seqs(), (1..=head).collect::<Vec<_>>(), "the live client: caught up, each seq once");
    assert_eq!(resumed.seqs(), (11..=head).collect::<Vec<_>>(), "the resumed client: each seq once");

    // Replica 2 rebuilt its indexes on reconnect: alice's thread (made during the outage) is scored there.
    r2.ok("/api/register", json!({"agent_id": "bob", "name": "Bob"})).await;
    let b = r2
        .ok(
            "/api/announce",
            json!({"agent_id": "bob", "subject": "B", "target_modules": [], "target_files": ["src/x.rs"]}),
        )
        .await;
    assert_eq!(b["impact"]["concerned"][0]["agent_id"], "alice", "{b}");
    redis.down();
    // A replica that dies takes nothing with it.
    let mut r1 = r1;
    r1.kill();
    assert_eq!(r2.get("/api/status").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_answers_503_then_recovers_without_restarting_replicas() {
    let pg = tokio::task::spawn_blocking(PrivatePostgres::start).await.unwrap();
    {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&pg.url("postgres")).await.unwrap();
        sqlx::query("CREATE DATABASE coord").execute(&mut admin).await.unwrap();
    }
    let db_url = pg.url("coord");
    let prefix = prefix();
    let env = [
        ("COORDINATOR_DATABASE_URL", db_url.as_str()),
        ("COORDINATOR_REDIS_URL", "redis://127.0.0.1:6379"),
        ("COORDINATOR_REDIS_PREFIX", prefix.as_str()),
    ];
    let (r1, r2) = (Replica::start(&env), Replica::start(&env));
    r1.ok("/api/register", json!({"agent_id": "a0", "name": "A"})).await;

    let pg = tokio::task::spawn_blocking(move || {
        pg.down();
        pg
    })
    .await
    .unwrap();
    let (status, body) = r1.post("/api/register", json!({"agent_id": "a1", "name": "A"})).await;
    assert_eq!(status, 503, "{body}");
    assert!(body["request_id"].is_string() && body["code"] == "STORE_UNAVAILABLE", "error envelope: {body}");
    assert_eq!(r2.get("/api/status").await.0, 503);
    assert_eq!(r2.get("/readyz").await.0, 503);

    let pg = tokio::task::spawn_blocking(move || {
        pg.up();
        pg
    })
    .await
    .unwrap();
    eventually(Duration::from_secs(30), "replica 1 serves again", || async {
        r1.post("/api/register", json!({"agent_id": "a1", "name": "A"})).await.0 == 200
    })
    .await;
    eventually(Duration::from_secs(30), "replica 2 serves again", || async { r2.get("/api/status").await.0 == 200 })
        .await;
    assert_eq!(r2.get("/readyz").await.0, 200);
    let status = r2.get("/api/status").await.1;
    assert_eq!(status["online"], 2, "{status}");
    drop(pg);
}
