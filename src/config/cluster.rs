//! Multi-replica settings (operations.md §3): the lease timings of singleton jobs and the agent-registration rate
//! limit. `config.rs` reads the variables; this file validates them together.

use super::{ConfigError, invalid};

/// Leases of the singleton jobs (used with `COORDINATOR_REDIS_URL` only).
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Lease lifetime (60 000 ms) and renewal period (20 000 ms) of singleton jobs.
    pub lease_ttl_ms: u64,
    pub lease_renew_ms: u64,
}

/// The raw values, as read by `config.rs`.
pub(super) struct ClusterInput {
    pub lease_ttl_ms: u64,
    pub lease_renew_ms: u64,
}

/// Validates the cluster settings.
pub(super) fn resolve(input: ClusterInput) -> Result<Cluster, ConfigError> {
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
    Ok(Cluster { lease_ttl_ms: input.lease_ttl_ms, lease_renew_ms: input.lease_renew_ms })
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

    fn input(ttl: u64, renew: u64) -> ClusterInput {
        ClusterInput { lease_ttl_ms: ttl, lease_renew_ms: renew }
    }

    fn problem(r: Result<Cluster, ConfigError>) -> String {
        match r {
            Err(e) => e.to_string(),
            Ok(c) => panic!("accepted {c:?}"),
        }
    }

    #[test]
    fn renew_must_leave_room_for_a_retry_before_expiry() {
        assert!(resolve(input(60_000, 20_000)).is_ok());
        assert!(resolve(input(1000, 500)).is_ok());
        let e = problem(resolve(input(1000, 501)));
        assert!(e.starts_with("COORDINATOR_LEASE_RENEW_MS: must be at most half"), "{e}");
        assert!(problem(resolve(input(99, 10))).starts_with("COORDINATOR_LEASE_TTL_MS"));
    }
}
