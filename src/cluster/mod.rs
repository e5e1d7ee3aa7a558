//! Several replicas on one Postgres: the Redis fan-out (`RedisBus`: events, index changes, inbox wake-ups,
//! waiter supersession, client MQTT publishes) and the per-org sequencer that delivers every event exactly once
//! and in order; the leases with fencing tokens of the singleton jobs (`RedisLeader`) and the rate limiter shared
//! through Redis (`RedisRateLimiter`, in memory without Redis). Nothing here is used on a single process
//! (`LocalBus`, `AlwaysLeader`, `MemoryRateLimiter`). The core never imports this module.

pub mod lease;
pub mod ratelimit;
pub mod redis_bus;
pub mod redis_conn;
pub mod sequencer;
pub mod wire;

/// This process's instance id, `<hostname>-<pid>-<8 hex>` (operations.md §3).
pub fn instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned());
    let rand = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &rand[..8])
}

#[cfg(test)]
mod tests {
    #[test]
    fn redaction() {
        let p = crate::config::redact_password;
        assert_eq!(p("redis://:secret@h:6379/0"), "redis://:***@h:6379/0");
        assert_eq!(p("redis://u:p@h"), "redis://u:***@h");
        assert_eq!(p("redis://h:6379"), "redis://h:6379");
        let id = super::instance_id();
        assert!(id.contains(&std::process::id().to_string()), "{id}");
    }
}
