//! Rate limits (auth.md §11): token buckets in memory and shared through Redis (a unique key prefix per test),
//! the fallback to memory while Redis is down, and the per-IP registration limit over REST (429 + `Retry-After`
//! + the error envelope), shared by two apps through Redis.

use std::time::Duration;

use mcp_coordinator::cluster::ratelimit::{MemoryRateLimiter, RedisRateLimiter};
use mcp_coordinator::core::ports::RateLimiter;
use serde_json::{Value, json};

use crate::lease::{REDIS_URL, conn, eventually, prefix};
use crate::support::spawn_app_with;

const MINUTE: Duration = Duration::from_secs(60);

async fn exhaust(l: &dyn RateLimiter, id: &str, limit: u32) {
    for i in 0..limit {
        assert!(l.check("register", id, limit, MINUTE).await.allowed, "call {} of {limit}", i + 1);
    }
    let d = l.check("register", id, limit, MINUTE).await;
    assert!(!d.allowed, "call {} refused", limit + 1);
    assert!(d.retry_after_secs >= 1, "{d:?}");
}

#[tokio::test]
async fn memory_limiter_refuses_the_call_past_the_limit() {
    let l = MemoryRateLimiter::new();
    exhaust(&l, "10.0.0.1", 5).await;
    let d = l.check("register", "10.0.0.1", 5, MINUTE).await;
    assert_eq!(d.retry_after_secs, 12, "(1 − 0 tokens) / (5 per 60 s)");
    assert!(l.check("register", "10.0.0.2", 5, MINUTE).await.allowed, "another address has its own bucket");
    assert!(l.check("other-endpoint", "10.0.0.1", 5, MINUTE).await.allowed, "another endpoint too");
}

#[tokio::test]
async fn redis_limiter_refuses_past_the_limit_and_instances_share_the_budget() {
    let p = prefix();
    let a = RedisRateLimiter::new(conn(REDIS_URL, &p), MemoryRateLimiter::new());
    let b = RedisRateLimiter::new(conn(REDIS_URL, &p), MemoryRateLimiter::new());
    exhaust(&a, "10.0.0.1", 4).await;
    let d = b.check("register", "10.0.0.1", 4, MINUTE).await;
    assert!(!d.allowed && d.retry_after_secs >= 1, "the other instance sees the spent budget: {d:?}");
    assert!(d.retry_after_secs <= 15, "(1 − tokens) / (4 per 60 s) ≤ 15 s: {d:?}");
    for _ in 0..2 {
        assert!(a.check("register", "10.0.0.2", 3, MINUTE).await.allowed);
    }
    assert!(b.check("register", "10.0.0.2", 3, MINUTE).await.allowed);
    assert!(!a.check("register", "10.0.0.2", 3, MINUTE).await.allowed, "2 + 1 calls spent a budget of 3");
    let mut r = conn(REDIS_URL, &p).manager();
    let ttl: i64 = redis::cmd("PTTL").arg(format!("{p}rl:{{register}}:10.0.0.2")).query_async(&mut r).await.unwrap();
    assert!(ttl > 0 && ttl <= 60_000, "the bucket expires after one window: {ttl}");
}

#[tokio::test]
async fn buckets_refill_over_the_window() {
    let p = prefix();
    let redis = RedisRateLimiter::new(conn(REDIS_URL, &p), MemoryRateLimiter::new());
    let memory = MemoryRateLimiter::new();
    let window = Duration::from_millis(1000);
    for l in [&redis as &dyn RateLimiter, &memory] {
        assert!(l.check("e", "id", 2, window).await.allowed);
        assert!(l.check("e", "id", 2, window).await.allowed);
        let d = l.check("e", "id", 2, window).await;
        assert!(!d.allowed);
        assert_eq!(d.retry_after_secs, 1, "at least one second");
        // 2 tokens per second: one is back within ~0.5 s.
        eventually(Duration::from_secs(2), "refill", || async { l.check("e", "id", 2, window).await.allowed }).await;
    }
}

#[tokio::test]
async fn redis_down_falls_back_to_memory() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let l = RedisRateLimiter::new(conn(&format!("redis://127.0.0.1:{port}"), "c:"), MemoryRateLimiter::new());
    exhaust(&l, "10.0.0.1", 3).await;
}

async fn register(http: &reqwest::Client, base: &str, n: usize) -> reqwest::Response {
    let body = json!({"agent_id": format!("agent-{n}"), "name": format!("agent {n}")});
    http.post(format!("{base}/api/register")).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn rest_registration_gets_429_with_retry_after_past_the_limit() {
    let app = spawn_app_with(&[("COORDINATOR_REGISTER_RATE_LIMIT_PER", "3")]).await;
    let http = reqwest::Client::new();
    for n in 0..3 {
        assert_eq!(register(&http, &app.base, n).await.status(), 200);
    }
    let r = register(&http, &app.base, 3).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "ceil(1 / (3 per 60 s)) = 20 at most: {retry}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "RATE_LIMITED", "{v}");
    assert!(v["message"].is_string() && v["request_id"].is_string(), "the error envelope: {v}");
    // The limit is checked first: even a malformed registration is refused with 429.
    let r = http.post(format!("{}/api/register", app.base)).body("{").send().await.unwrap();
    assert_eq!(r.status(), 429);
}

#[tokio::test]
async fn two_apps_sharing_redis_share_the_registration_budget() {
    let p = prefix();
    let env = [
        ("COORDINATOR_REDIS_URL", REDIS_URL),
        ("COORDINATOR_REDIS_PREFIX", p.as_str()),
        ("COORDINATOR_REGISTER_RATE_LIMIT_PER", "4"),
    ];
    let (a, b) = (spawn_app_with(&env).await, spawn_app_with(&env).await);
    let http = reqwest::Client::new();
    for n in 0..2 {
        assert_eq!(register(&http, &a.base, n).await.status(), 200);
        assert_eq!(register(&http, &b.base, n).await.status(), 200);
    }
    assert_eq!(register(&http, &b.base, 9).await.status(), 429, "4 registrations spent the shared budget");
    assert_eq!(register(&http, &a.base, 9).await.status(), 429);
    let ready: Value = http.get(format!("{}/readyz", a.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["checks"]["redis"], json!({"ok": true}), "{ready}");
}
