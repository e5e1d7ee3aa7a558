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

/// A Redis URL with its password replaced, for logs and errors.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s + 3 => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redaction() {
        assert_eq!(super::redact_url("redis://:secret@h:6379/0"), "redis://:***@h:6379/0");
        assert_eq!(super::redact_url("redis://u:p@h"), "redis://u:***@h");
        assert_eq!(super::redact_url("redis://h:6379"), "redis://h:6379");
        let id = super::instance_id();
        assert!(id.contains(&std::process::id().to_string()), "{id}");
    }
}
