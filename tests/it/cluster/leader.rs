//! Leadership of the singleton jobs across replica processes: kill (SIGKILL) the replica holding the
//! `timeouts` lease; another takes it over within the lease TTL, and a short-timeout thread then times out exactly
//! once, written under the new holder's fencing token.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{Replica, eventually, prefix};
use crate::support::pg::PgDatabase;

const TTL_MS: u64 = 1500;

async fn lease_holder(redis: &mut redis::aio::MultiplexedConnection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query_async::<Option<String>>(redis).await.unwrap()
}

/// Polls the lease key until it names a holder other than `not` (10 s at most).
async fn poll_holder(redis: &mut redis::aio::MultiplexedConnection, key: &str, not: Option<&str>) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(h) = lease_holder(redis, key).await.filter(|h| Some(h.as_str()) != not) {
            return h;
        }
        assert!(Instant::now() < deadline, "no (new) holder of {key} within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_lease_holder_moves_the_sweepers_and_a_thread_times_out_once() {
    let db = PgDatabase::create().await;
    let prefix = prefix();
    let ttl = TTL_MS.to_string();
    let env = [
        ("COORDINATOR_DATABASE_URL", db.url.as_str()),
        ("COORDINATOR_REDIS_URL", "redis://127.0.0.1:6379"),
        ("COORDINATOR_REDIS_PREFIX", prefix.as_str()),
        ("COORDINATOR_LEASE_TTL_MS", ttl.as_str()),
        ("COORDINATOR_LEASE_RENEW_MS", "300"),
        ("COORDINATOR_TIMEOUT_SWEEP_INTERVAL_MS", "100"),
    ];
    let mut replicas = vec![Replica::start(&env), Replica::start(&env), Replica::start(&env)];
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{prefix}lease:{{timeouts}}");
    let old = poll_holder(&mut redis, &key, None).await;
    let idx = replicas.iter().position(|r| r.log().contains(&old)).expect("the holder is one of the replicas");
    replicas[idx].kill();
    let killed = Instant::now();
    let survivors: Vec<Replica> = replicas.into_iter().enumerate().filter(|(i, _)| *i != idx).map(|(_, r)| r).collect();

    let new = poll_holder(&mut redis, &key, Some(&old)).await;
    let moved = killed.elapsed();
    // The dead holder's key expires after at most the TTL; a standby retries every renew period.
    assert!(moved < Duration::from_millis(TTL_MS + 300 + 700), "leadership moved after {moved:?}");
    assert!(survivors.iter().any(|r| r.log().contains(&new)), "the new holder is a surviving replica");

    // bob's announcement waits for alice; its timeout is shortened to 1 s in the database.
    let r = &survivors[0];
    r.ok("/api/register", json!({"agent_id": "alice", "name": "Alice"})).await;
    r.ok("/api/announce", json!({"agent_id": "alice", "subject": "A", "target_modules": [], "target_files": ["t.rs"]}))
        .await;
    r.ok("/api/register", json!({"agent_id": "bob", "name": "Bob"})).await;
    let b = r
        .ok("/api/announce", json!({"agent_id": "bob", "subject": "B", "target_modules": [], "target_files": ["t.rs"]}))
        .await;
    assert_eq!(b["status"], "open", "{b}");
    let tid = b["thread_id"].as_str().unwrap().to_owned();
    let mut pg = {
        use sqlx::Connection;
        sqlx::PgConnection::connect(&db.url).await.unwrap()
    };
    sqlx::query("UPDATE threads SET timeout_seconds = 1 WHERE id = $1").bind(&tid).execute(&mut pg).await.unwrap();
    let status = format!("/api/consultation/{tid}/status");
    eventually(Duration::from_secs(10), "the thread times out", || async {
        r.get(&status).await.1["status"] == "resolved"
    })
    .await;
    // Several more sweeps on every survivor (100 ms apart) must not resolve it again.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE type = 'thread_resolved' AND payload::jsonb ->> 'thread_id' = $1 \
         AND payload::jsonb ->> 'resolution_type' = 'timeout'",
    )
    .bind(&tid)
    .fetch_one(&mut pg)
    .await
    .unwrap();
    assert_eq!(count, 1, "exactly one timeout resolution");
    let resolution = r.get(&status).await.1;
    assert!(resolution["resolution_summary"].as_str().unwrap().starts_with("Resolved by timeout"), "{resolution}");
    let fence_holder: String =
        sqlx::query_scalar("SELECT holder FROM job_fences WHERE job = 'timeouts'").fetch_one(&mut pg).await.unwrap();
    assert_eq!(fence_holder, new, "the write carried the new holder's fencing token");
}
