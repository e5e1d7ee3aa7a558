//! Redis leases of the singleton jobs (operations.md §3) against the real Redis on 127.0.0.1:6379 (a unique key
//! prefix per test) or a private `redis-server` the test kills and restarts: one holder at a time, takeover after
//! the holder dies, strictly increasing fencing tokens, stale holders refused by the store, jobs paused while
//! Redis is down, and two full apps on one Postgres database sweeping a timed-out thread exactly once.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use mcp_coordinator::cluster::lease::{LeaseConfig, RedisLeader};
use mcp_coordinator::cluster::redis_conn::RedisConn;
use mcp_coordinator::core::ids::OrgId;
use mcp_coordinator::core::ports::{Fence, Leader, Store, StoreError};
use mcp_coordinator::lifecycle::Shutdown;
use serde_json::json;
use tokio::sync::watch;

use crate::store::fixtures::{at, propose, thread};
use crate::support::{call, connect, eventually, redis_prefix as prefix, spawn_app_with};

pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

pub fn conn(url: &str, prefix: &str) -> RedisConn {
    RedisConn::open(url, prefix, Duration::from_millis(150)).unwrap()
}

fn cfg(instance: &str, ttl_ms: u64, renew_ms: u64) -> LeaseConfig {
    LeaseConfig {
        instance: instance.into(),
        ttl: Duration::from_millis(ttl_ms),
        renew: Duration::from_millis(renew_ms),
    }
}

fn leads(w: &watch::Receiver<bool>) -> bool {
    *w.borrow()
}

/// A `redis-server` of this test only, on a free port, without persistence.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut me = Self { port, child: None };
        me.restart();
        me
    }
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn one_holder_then_takeover_when_it_dies_with_increasing_tokens() {
    let p = prefix();
    let (sa, sb) = (Shutdown::new(), Shutdown::new());
    // Neither releases on stop: stopping the holder is its death (the lease stays until its TTL).
    let a = RedisLeader::without_release(conn(REDIS_URL, &p), cfg("inst-a", 1000, 300), &sa);
    let b = RedisLeader::without_release(conn(REDIS_URL, &p), cfg("inst-b", 1000, 300), &sb);
    let (wa, wb) = (a.watch("timeouts"), b.watch("timeouts"));
    eventually(Duration::from_secs(5), "one leader", || async { leads(&wa) || leads(&wb) }).await;
    assert!(!(leads(&wa) && leads(&wb)), "two holders");
    let (holder, other, w_holder, w_other) = if leads(&wa) { (&a, &b, &wa, &wb) } else { (&b, &a, &wb, &wa) };
    let first = holder.fence("timeouts").unwrap().unwrap();
    assert_eq!(first.holder, holder.instance());
    assert!(other.fence("timeouts").is_err(), "the standby has no fence");
    // Three renewals later (the key's TTL seen falling, then reset) the same instance still holds the same token,
    // alone.
    let key = format!("{p}lease:{{timeouts}}");
    let redis = conn(REDIS_URL, &p).manager();
    let pttl = || {
        let (mut r, key) = (redis.clone(), key.clone());
        async move { redis::cmd("PTTL").arg(key).query_async::<i64>(&mut r).await.unwrap() }
    };
    for _ in 0..3 {
        eventually(Duration::from_secs(2), "the lease ages", || async { pttl().await < 750 }).await;
        eventually(Duration::from_secs(2), "the lease is renewed", || async { pttl().await >= 750 }).await;
        assert!(leads(w_holder) && !leads(w_other));
    }
    let mut redis = redis.clone();
    let value: String = redis::cmd("GET").arg(&key).query_async(&mut redis).await.unwrap();
    assert_eq!(value, holder.instance());
    assert_eq!(holder.fence("timeouts").unwrap().unwrap(), first);

    holder.stop();
    let died = Instant::now();
    eventually(Duration::from_secs(3), "the holder's watch drops", || async { !leads(w_holder) }).await;
    assert!(holder.fence("timeouts").is_err());
    eventually(Duration::from_secs(5), "takeover", || async { leads(w_other) }).await;
    assert!(died.elapsed() < Duration::from_millis(1000 + 2 * 300 + 1000), "takeover within TTL + renew period");
    let second = other.fence("timeouts").unwrap().unwrap();
    assert!(second.token > first.token, "tokens strictly increase: {} then {}", first.token, second.token);
    assert_eq!(second.holder, other.instance());

    // The dead holder's fence is refused once the new leader wrote, on both backends.
    for backend in [crate::store::backends::sqlite().await, crate::store::backends::postgres().await] {
        stale_fence_is_refused(&backend.store, &first, &second).await;
    }
    other.stop();
}

async fn stale_fence_is_refused(s: &Arc<dyn Store>, stale: &Fence, current: &Fence) {
    let o = OrgId::default_org();
    let (t1, t2) = (thread(&o, "a", &["x.rs"], at(0)), thread(&o, "a", &["y.rs"], at(0)));
    for t in [&t1, &t2] {
        crate::store::fixtures::announce(s, t).await;
    }
    s.update_thread_fenced(&o, &t1.id, at(1), propose("a", "new", at(1)), Some(current)).await.unwrap();
    let err = s.update_thread_fenced(&o, &t2.id, at(2), propose("a", "old", at(2)), Some(stale)).await.unwrap_err();
    assert!(matches!(err, mcp_coordinator::core::error::CoreError::Store(StoreError::Fenced { .. })), "{err:?}");
    let t2_now = s.get_thread(&o, &t2.id).await.unwrap().unwrap();
    assert_eq!(t2_now.status, t2.status, "the stale write changed nothing");
}

#[tokio::test]
async fn a_stopped_leader_releases_its_lease_at_once() {
    let p = prefix();
    let (sa, sb) = (Shutdown::new(), Shutdown::new());
    // A long TTL: only the release can explain a quick takeover.
    let a = RedisLeader::new(conn(REDIS_URL, &p), cfg("inst-a", 30_000, 200), &sa);
    let wa = a.watch("retention");
    eventually(Duration::from_secs(5), "a leads", || async { leads(&wa) }).await;
    let b = RedisLeader::new(conn(REDIS_URL, &p), cfg("inst-b", 30_000, 200), &sb);
    let wb = b.watch("retention");
    sa.trigger();
    assert!(sa.wait(Duration::from_secs(3)).await, "the lease task ends on shutdown");
    eventually(Duration::from_secs(3), "b takes the released lease", || async { leads(&wb) }).await;
    assert!(!leads(&wa));
    b.stop();
}

#[tokio::test]
async fn jobs_pause_while_redis_is_down_and_resume_when_it_returns() {
    let mut server = PrivateRedis::start();
    let s = Shutdown::new();
    let l = RedisLeader::new(conn(&server.url(), "c:"), cfg("inst", 1000, 250), &s);
    let w = l.watch("working-files");
    eventually(Duration::from_secs(5), "leads", || async { leads(&w) }).await;
    let before = l.fence("working-files").unwrap().unwrap().token;
    server.kill();
    let killed = Instant::now();
    eventually(Duration::from_secs(3), "paused", || async { !leads(&w) }).await;
    assert!(killed.elapsed() < Duration::from_millis(1000), "paused before the lease could expire");
    assert!(l.fence("working-files").is_err(), "no fence while Redis is down");
    server.restart();
    eventually(Duration::from_secs(10), "resumed", || async { leads(&w) }).await;
    let after = l.fence("working-files").unwrap().unwrap().token;
    assert!(after > before, "a Redis that lost its data still issues higher tokens ({before} then {after})");
    s.trigger();
    assert!(s.wait(Duration::from_secs(3)).await);
}

#[tokio::test]
async fn unreachable_redis_never_grants_leadership() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let s = Shutdown::new();
    let l = RedisLeader::new(conn(&format!("redis://127.0.0.1:{port}"), "c:"), cfg("inst", 1000, 100), &s);
    let mut w = l.watch("timeouts");
    let changed = tokio::time::timeout(Duration::from_millis(800), w.changed()).await;
    assert!(changed.is_err(), "the watch never turned true");
    assert!(!leads(&w) && l.fence("timeouts").is_err());
    s.trigger();
    assert!(s.wait(Duration::from_secs(3)).await);
}

/// `respondent` works on `file`; bob then announces on it: an open thread waiting for `respondent`.
async fn contested_thread(c: &crate::support::Client, respondent: &str, file: &str) -> String {
    call(c, "register_agent", json!({"agent_id": respondent, "name": respondent, "modules": []})).await;
    let files = json!([file]);
    let mine = json!({"agent_id": respondent, "subject": "mine", "target_modules": [], "target_files": files});
    call(c, "announce_work", mine).await;
    let theirs = json!({"agent_id": "bob", "subject": "Change it", "target_modules": [], "target_files": files});
    let r = call(c, "announce_work", theirs).await;
    assert_eq!(r["thread"]["status"], "open", "{r}");
    r["thread"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn two_apps_on_one_database_time_a_thread_out_exactly_once() {
    let db = crate::support::pg::PgDatabase::create().await;
    let p = prefix();
    let env = [
        ("COORDINATOR_DATABASE_URL", db.url.as_str()),
        ("COORDINATOR_DB_POOL_SIZE", "4"),
        ("COORDINATOR_REDIS_URL", REDIS_URL),
        ("COORDINATOR_REDIS_PREFIX", p.as_str()),
        ("COORDINATOR_LEASE_TTL_MS", "1000"),
        ("COORDINATOR_LEASE_RENEW_MS", "200"),
        ("COORDINATOR_TIMEOUT_SWEEP_INTERVAL_MS", "50"),
    ];
    let (a, b) = (spawn_app_with(&env).await, spawn_app_with(&env).await);
    let c = connect(&a.url).await;
    let tid = contested_thread(&c, "alice", "shared.rs").await;
    // Both replicas' clocks pass the deadline; both run a sweeper loop, only the lease holder's passes.
    a.clock.advance_secs(601);
    b.clock.advance_secs(601);
    let store = a.core.store().clone();
    let o = OrgId::default_org();
    let resolutions = |tid: String| {
        let (store, o) = (store.clone(), o.clone());
        async move {
            let events = store.latest_events(&o, 1000).await.unwrap();
            events.iter().filter(|e| e.kind == "thread_resolved" && e.payload["thread_id"] == tid.as_str()).count()
        }
    };
    eventually(Duration::from_secs(10), "the thread times out", || resolutions(tid.clone()).map(|n| n == 1)).await;
    // Later sweeps ran (a second thread timed out after the first) and did not resolve the first one again.
    let later = contested_thread(&c, "carol", "other.rs").await;
    a.clock.advance_secs(601);
    b.clock.advance_secs(601);
    eventually(Duration::from_secs(10), "a later sweep", || resolutions(later.clone()).map(|n| n == 1)).await;
    assert_eq!(resolutions(tid.clone()).await, 1, "exactly one timeout resolution");
    let th = store.get_thread(&o, &mcp_coordinator::core::ids::ThreadId::new(tid.as_str())).await.unwrap().unwrap();
    assert_eq!(th.resolution_type.map(|r| r.as_str()), Some("timeout"));
    // The write carried the lease holder's fence.
    let mut redis = conn(REDIS_URL, &p).manager();
    let holder: String = redis::cmd("GET").arg(format!("{p}lease:{{timeouts}}")).query_async(&mut redis).await.unwrap();
    let mut pg = db.connect().await;
    let (fenced_by, token): (String, i64) =
        sqlx::query_as("SELECT holder, fence FROM job_fences WHERE job = 'timeouts'").fetch_one(&mut pg).await.unwrap();
    assert_eq!(fenced_by, holder, "the sweep ran on the lease holder");
    let counter: i64 =
        redis::cmd("GET").arg(format!("{p}lease:{{timeouts}}:fence")).query_async(&mut redis).await.unwrap();
    assert_eq!(token, counter);
    drop(c);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn an_app_whose_redis_is_down_serves_and_reports_it_without_failing_readiness() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}");
    let app = spawn_app_with(&[("COORDINATOR_REDIS_URL", url.as_str())]).await;
    let http = reqwest::Client::new();
    let r = http.get(format!("{}/readyz", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ready: serde_json::Value = r.json().await.unwrap();
    assert_eq!(ready["checks"]["redis"], json!({"ok": false}), "{ready}");
    let health: serde_json::Value =
        http.get(format!("{}/health", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["redis"], json!({"ok": false}));
    assert!(health["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("Redis")), "{health}");
    assert!(!health.to_string().contains("hunter2"));
    let c = connect(&app.url).await;
    call(&c, "register_agent", json!({"agent_id": "a", "name": "a", "modules": []})).await;
}
