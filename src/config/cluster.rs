//! Multi-replica settings (operations.md §3): the Redis URL (shown only with its password masked), the key
//! prefix, the lease timings of singleton jobs and the agent-registration rate limit. `config.rs` reads the
//! variables; this file validates them together.

use super::{ConfigError, invalid, redact_password};

/// A Redis server URL (`redis://[user:password@]host[:port][/db]`). May carry a password: `Debug` and
/// `redacted()` mask it.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// The full URL, password included: only for opening the connection.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A description safe for logs and errors.
    pub fn redacted(&self) -> String {
        redact_password(&self.0)
    }
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Redis and leases.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// `COORDINATOR_REDIS_URL` / `--redis-url`; `None`: single replica (leases always held, limits in memory).
    pub redis_url: Option<RedisUrl>,
    /// Prefix of every Redis key (`coordinator:`), so several deployments or tests can share one Redis.
    pub prefix: String,
    /// Lease lifetime (60 000 ms) and renewal period (20 000 ms) of singleton jobs.
    pub lease_ttl_ms: u64,
    pub lease_renew_ms: u64,
}

/// The raw values, as read by `config.rs`.
pub(super) struct ClusterInput {
    pub redis_url: Option<String>,
    pub prefix: Option<String>,
    pub lease_ttl_ms: u64,
    pub lease_renew_ms: u64,
}

/// Validates the cluster settings.
pub(super) fn resolve(input: ClusterInput) -> Result<Cluster, ConfigError> {
    let redis_url = input.redis_url.map(|u| redis_url(u.trim())).transpose()?;
    let prefix = input.prefix.unwrap_or_else(|| "coordinator:".to_owned());
    if prefix.chars().any(char::is_whitespace) {
        return Err(invalid("COORDINATOR_REDIS_PREFIX", "must not contain whitespace"));
    }
    if input.lease_ttl_ms < 100 {
        return Err(invalid("COORDINATOR_LEASE_TTL_MS", "must be at least 100 ms"));
    }
    if input.lease_renew_ms.saturating_mul(2) > input.lease_ttl_ms {
        return Err(invalid(
            "COORDINATOR_LEASE_RENEW_MS",
            format!(
                "must be at most half of COORDINATOR_LEASE_TTL_MS ({} ms), so a failed renewal is retried before the \
                 lease expires; got {} ms",
                input.lease_ttl_ms, input.lease_renew_ms
            ),
        ));
    }
    Ok(Cluster { redis_url, prefix, lease_ttl_ms: input.lease_ttl_ms, lease_renew_ms: input.lease_renew_ms })
}

fn redis_url(url: &str) -> Result<RedisUrl, ConfigError> {
    let name = "COORDINATOR_REDIS_URL";
    let shown = redact_password(url);
    let parsed = url::Url::parse(url).map_err(|e| invalid(name, format!("not a URL ({shown}): {e}")))?;
    match parsed.scheme() {
        "redis" if parsed.host_str().is_some_and(|h| !h.is_empty()) => Ok(RedisUrl(url.to_owned())),
        "redis" => Err(invalid(name, format!("no host in {shown}"))),
        "rediss" => Err(invalid(name, "TLS to Redis (rediss://) is not supported by this build; use redis://")),
        other => Err(invalid(name, format!("expected a redis:// URL, got scheme {other:?}"))),
    }
}

/// A token-bucket limit: `per` requests per `window_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per: u32,
    pub window_secs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(url: Option<&str>, ttl: u64, renew: u64) -> ClusterInput {
        ClusterInput { redis_url: url.map(str::to_owned), prefix: None, lease_ttl_ms: ttl, lease_renew_ms: renew }
    }

    fn problem(r: Result<Cluster, ConfigError>) -> String {
        match r {
            Err(e) => e.to_string(),
            Ok(c) => panic!("accepted {c:?}"),
        }
    }

    #[test]
    fn defaults_and_redacted_url() {
        let c = resolve(input(Some("redis://:s3cret@redis:6379/0"), 60_000, 20_000)).unwrap();
        assert_eq!(c.prefix, "coordinator:");
        let url = c.redis_url.unwrap();
        assert_eq!(url.redacted(), "redis://:***@redis:6379/0");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(url.expose(), "redis://:s3cret@redis:6379/0");
    }

    #[test]
    fn renew_must_leave_room_for_a_retry_before_expiry() {
        assert!(resolve(input(None, 1000, 500)).is_ok());
        let e = problem(resolve(input(None, 1000, 501)));
        assert!(e.starts_with("COORDINATOR_LEASE_RENEW_MS: must be at most half"), "{e}");
        assert!(problem(resolve(input(None, 99, 10))).starts_with("COORDINATOR_LEASE_TTL_MS"));
    }

    #[test]
    fn only_plain_redis_urls_with_a_host() {
        let e = problem(resolve(input(Some("rediss://:pw@h:6380"), 60_000, 20_000)));
        assert!(e.contains("rediss://") && !e.contains("pw"), "{e}");
        let e = problem(resolve(input(Some("http://u:pw@h"), 60_000, 20_000)));
        assert!(e.contains("\"http\"") && !e.contains("pw"), "{e}");
        assert!(problem(resolve(input(Some("not a url"), 60_000, 20_000))).starts_with("COORDINATOR_REDIS_URL"));
    }
}
