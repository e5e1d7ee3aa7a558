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
