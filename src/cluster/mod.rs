//! What replicas share through Redis (operations.md §3): leases with fencing tokens for the singleton jobs, the
//! rate limiter's buckets, and the connection they use. The core never sees Redis: it gets the `Leader` and
//! `RateLimiter` ports. Without Redis the process leads every job and limits in memory.

pub mod lease;
pub mod ratelimit;
pub mod redis_conn;

/// This process's identity in Redis: `<hostname>-<pid>-<8 hex>` (the random part tells apart two processes that
/// reuse a hostname and pid, e.g. restarted containers).
pub fn instance_id() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &random[..8])
}
