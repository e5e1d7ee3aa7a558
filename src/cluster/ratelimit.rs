//! Rate limiters (auth.md §11): token buckets per (endpoint, identifier), capacity = limit, refilled at
//! limit / window per second; a refused call waits `ceil((1 − tokens) / rate)` seconds (at least 1).
//!
//! `MemoryRateLimiter` keeps the buckets of this process (idle ones evicted every 60 s). `RedisRateLimiter` runs
//! one Lua script per call on `<prefix>rl:{<endpoint>}:<id>` (refill + take, atomically, with Redis's clock;
//! the key expires after one window of inactivity) so all replicas share one budget; when Redis fails it falls
//! back to its in-memory limiter (per-replica limits, operations.md §3) for 5 s before trying Redis again, and
//! says so once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use redis::Script;
use tokio::time::Instant;

use super::redis_conn::RedisConn;
use crate::core::ports::{Decision, RateLimiter};
use crate::lifecycle::Shutdown;

/// Period of the in-memory bucket eviction.
pub const EVICT_EVERY: Duration = Duration::from_secs(60);

fn retry_secs(missing: f64, rate_per_sec: f64) -> u64 {
    let secs = (missing / rate_per_sec).ceil();
    if secs.is_finite() && secs >= 1.0 { secs as u64 } else { 1 }
}

fn allowed() -> Decision {
    Decision { allowed: true, retry_after_secs: 0 }
}

struct Bucket {
    tokens: f64,
    at: Instant,
    window: Duration,
}

/// Buckets in this process's memory.
#[derive(Clone, Default)]
pub struct MemoryRateLimiter {
    buckets: Arc<Mutex<HashMap<(String, String), Bucket>>>,
}

impl MemoryRateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts the eviction task (every 60 s, until shutdown).
    pub fn spawn_eviction(&self, shutdown: &Shutdown) {
        let me = self.clone();
        let cancel = shutdown.token();
        shutdown.spawn(async move {
            let mut tick = tokio::time::interval(EVICT_EVERY);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tick.tick() => me.evict(),
                }
            }
        });
    }

    /// Drops buckets idle for a whole window (they would be full again).
    pub fn evict(&self) {
        self.evict_at(Instant::now());
    }

    fn evict_at(&self, now: Instant) {
        self.buckets.lock().retain(|_, b| now.duration_since(b.at) < b.window);
    }

    /// Number of buckets held (observability and tests).
    pub fn len(&self) -> usize {
        self.buckets.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn take(&self, endpoint: &str, id: &str, limit: u32, window: Duration) -> Decision {
        self.take_at(endpoint, id, limit, window, Instant::now())
    }

    fn take_at(&self, endpoint: &str, id: &str, limit: u32, window: Duration, now: Instant) -> Decision {
        let cap = f64::from(limit.max(1));
        let rate = cap / window.as_secs_f64().max(0.001);
        let mut buckets = self.buckets.lock();
        let b = buckets.entry((endpoint.to_owned(), id.to_owned())).or_insert(Bucket { tokens: cap, at: now, window });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(cap);
        b.at = now;
        b.window = window;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            allowed()
        } else {
            Decision { allowed: false, retry_after_secs: retry_secs(1.0 - b.tokens, rate) }
        }
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn check(&self, endpoint: &str, id: &str, limit: u32, window: Duration) -> Decision {
        self.take(endpoint, id, limit, window)
    }
}

/// Refill + take on one bucket: returns {allowed 0/1, ms until one token}. Times come from Redis (`TIME`), so
/// replicas with skewed clocks share one bucket consistently.
const TAKE: &str = r"
local cap = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local rate = cap / window
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then
  tokens = cap
  ts = now
end
tokens = math.min(cap, tokens + math.max(0, now - ts) * rate)
local ok = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  ok = 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], window)
return {ok, wait}
";

/// After a Redis failure, calls use the memory buckets this long before Redis is tried again (so a blackholed
/// Redis does not add its timeout to every request).
pub const RETRY_REDIS_AFTER: Duration = Duration::from_secs(5);

/// Buckets shared by every replica through Redis.
pub struct RedisRateLimiter {
    redis: RedisConn,
    script: Script,
    fallback: MemoryRateLimiter,
    degraded: AtomicBool,
    /// While set and in the future, skip Redis.
    skip_until: Mutex<Option<Instant>>,
}

impl RedisRateLimiter {
    /// A limiter on `redis`, falling back to `fallback` while Redis fails.
    pub fn new(redis: RedisConn, fallback: MemoryRateLimiter) -> Self {
        Self {
            redis,
            script: Script::new(TAKE),
            fallback,
            degraded: AtomicBool::new(false),
            skip_until: Mutex::new(None),
        }
    }

    async fn shared(&self, endpoint: &str, id: &str, limit: u32, window: Duration) -> Result<Decision, String> {
        let key = self.redis.key(&format!("rl:{{{endpoint}}}:{id}"));
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut conn = self.redis.manager();
        let mut inv = self.script.key(key);
        inv.arg(limit.max(1)).arg(window_ms);
        let (ok, wait_ms): (i64, i64) =
            self.redis.bounded(inv.invoke_async(&mut conn)).await.map_err(|e| e.to_string())?;
        if ok == 1 {
            return Ok(allowed());
        }
        let secs = u64::try_from(wait_ms).unwrap_or(0).div_ceil(1000).max(1);
        Ok(Decision { allowed: false, retry_after_secs: secs })
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, endpoint: &str, id: &str, limit: u32, window: Duration) -> Decision {
        if self.skip_until.lock().is_some_and(|t| Instant::now() < t) {
            return self.fallback.take(endpoint, id, limit, window);
        }
        match self.shared(endpoint, id, limit, window).await {
            Ok(d) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!(component = "redis", "rate limits are shared through Redis again");
                }
                d
            }
            Err(e) => {
                *self.skip_until.lock() = Some(Instant::now() + RETRY_REDIS_AFTER);
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    tracing::warn!(component = "redis", error = %e,
                        "Redis unavailable: rate limits fall back to this replica's memory");
                }
                self.fallback.take(endpoint, id, limit, window)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refuses_the_extra_call_then_refills() {
        let l = MemoryRateLimiter::new();
        let w = Duration::from_secs(60);
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(l.take_at("register", "1.2.3.4", 10, w, t0).allowed);
        }
        let d = l.take_at("register", "1.2.3.4", 10, w, t0);
        assert_eq!(d, Decision { allowed: false, retry_after_secs: 6 });
        assert!(l.take_at("register", "5.6.7.8", 10, w, t0).allowed, "buckets are per identifier");
        let t6 = t0 + Duration::from_secs(6);
        assert!(l.take_at("register", "1.2.3.4", 10, w, t6).allowed);
        assert!(!l.take_at("register", "1.2.3.4", 10, w, t6).allowed);
        l.evict_at(t6 + Duration::from_secs(59));
        assert_eq!(l.len(), 1, "a bucket used within the window stays");
        l.evict_at(t6 + w);
        assert!(l.is_empty(), "idle buckets are evicted");
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        assert_eq!(retry_secs(0.01, 10.0), 1);
        assert_eq!(retry_secs(1.0, 1.0 / 6.0), 6);
    }
}
