//! Rate limits (auth.md §11): token buckets in memory and shared through Redis (a unique key prefix per test),
//! the fallback to memory while Redis is down, and the 429 of a limited route (`Retry-After` + the error envelope),
//! shared by two replicas through Redis.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse;
use mcp_coordinator::cluster::ratelimit::{MemoryRateLimiter, RedisRateLimiter};
use mcp_coordinator::config::RateLimit;
use mcp_coordinator::core::ports::RateLimiter;
use mcp_coordinator::http::Limits;
use mcp_coordinator::http::error::Envelope;
use mcp_coordinator::http::limit;
use serde_json::{Value, json};

use crate::lease::{REDIS_URL, conn};
use crate::support::spawn_app_with;
use crate::support::{eventually, redis_prefix as prefix};

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

fn limits(limiter: Arc<dyn RateLimiter>) -> Limits {
    Limits { limiter, register: RateLimit { per: 3, window_secs: 60 } }
}

#[tokio::test]
async fn a_limited_route_answers_429_with_retry_after_and_the_error_envelope() {
    let limits = limits(Arc::new(MemoryRateLimiter::new()));
    let ip: IpAddr = "10.1.2.3".parse().unwrap();
    for _ in 0..3 {
        limit::check(&limits, "register", ip, limits.register).await.unwrap();
    }
    let refused = limit::check(&limits, "register", ip, limits.register).await.unwrap_err();
    let r = refused.into_response();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "ceil(1 / (3 per 60 s)) = 20 at most: {retry}");
    assert!(r.extensions().get::<Envelope>().is_some(), "the request-id middleware completes the envelope");
    let body = axum::body::to_bytes(r.into_body(), 10_000).await.unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["code"], "RATE_LIMITED", "{v}");
    assert!(v["message"].is_string(), "{v}");
    let other: IpAddr = "10.1.2.4".parse().unwrap();
    limit::check(&limits, "register", other, limits.register).await.unwrap();
}

#[tokio::test]
async fn limited_routes_of_two_replicas_share_the_budget_through_redis() {
    let p = prefix();
    let a = limits(Arc::new(RedisRateLimiter::new(conn(REDIS_URL, &p), MemoryRateLimiter::new())));
    let b = limits(Arc::new(RedisRateLimiter::new(conn(REDIS_URL, &p), MemoryRateLimiter::new())));
    let ip: IpAddr = "10.1.2.3".parse().unwrap();
    limit::check(&a, "register", ip, a.register).await.unwrap();
    limit::check(&b, "register", ip, b.register).await.unwrap();
    limit::check(&a, "register", ip, a.register).await.unwrap();
    assert_eq!(limit::check(&b, "register", ip, b.register).await.unwrap_err().status, 429);
}

#[tokio::test]
async fn rest_registration_is_not_rate_limited() {
    // The spec limits `POST /api/auth/register` (token issuance), not `POST /api/register`: an orchestrator
    // registers its whole fleet at once.
    let app = spawn_app_with(&[("COORDINATOR_REGISTER_RATE_LIMIT_PER", "2")]).await;
    let http = reqwest::Client::new();
    for n in 0..5 {
        let body = json!({"agent_id": format!("agent-{n}"), "name": format!("agent {n}")});
        let r = http.post(format!("{}/api/register", app.base)).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
}

#[tokio::test]
async fn an_app_with_redis_reports_it_in_readiness() {
    let p = prefix();
    let app = spawn_app_with(&[("COORDINATOR_REDIS_URL", REDIS_URL), ("COORDINATOR_REDIS_PREFIX", p.as_str())]).await;
    let url = format!("{}/readyz", app.base);
    let redis_ok = || async {
        let r = reqwest::get(&url).await.unwrap();
        assert_eq!(r.status(), 200);
        let ready: Value = r.json().await.unwrap();
        ready["checks"]["redis"]["ok"] == json!(true)
    };
    eventually(Duration::from_secs(5), "readiness reports Redis up", redis_ok).await;
}
