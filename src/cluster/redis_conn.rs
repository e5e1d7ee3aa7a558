//! The Redis connection shared by the cluster adapters: one auto-reconnecting multiplexed connection, opened
//! lazily so a server whose Redis is down still starts (its singleton jobs wait), with short timeouts so a
//! dead Redis is noticed before a lease can expire. Keys all start with the configured prefix.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use thiserror::Error;

/// Failures of the cluster adapters.
#[derive(Debug, Error)]
pub enum ClusterError {
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(String),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
}

/// A handle on Redis (cheap to clone).
#[derive(Clone)]
pub struct RedisConn {
    manager: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

impl RedisConn {
    /// Prepares the connection without connecting (`url` may carry a password; it is never logged from here).
    /// `timeout` bounds every command and connection attempt.
    pub fn open(url: &str, prefix: &str, timeout: Duration) -> Result<Self, ClusterError> {
        let client = redis::Client::open(url).map_err(|e| ClusterError::InvalidUrl(e.category().to_owned()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_max_delay(timeout);
        let manager = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self { manager, prefix: prefix.to_owned(), timeout })
    }

    /// `<prefix><suffix>`.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    /// The connection for one command (clones share the socket).
    pub fn manager(&self) -> ConnectionManager {
        self.manager.clone()
    }

    /// The bound of one command.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs a Redis future within the command timeout.
    pub async fn bounded<T>(
        &self,
        fut: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, ClusterError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(ClusterError::Timeout(self.timeout)),
        }
    }

    /// Whether Redis answers `PING` within the command timeout.
    pub async fn ping(&self) -> bool {
        self.ping_within(self.timeout).await
    }

    /// Whether Redis answers `PING` within `limit` (probes use a short one: a dead Redis must not make a
    /// readiness probe time out).
    pub async fn ping_within(&self, limit: Duration) -> bool {
        let mut c = self.manager();
        let cmd = redis::cmd("PING");
        let ping = cmd.query_async::<String>(&mut c);
        matches!(tokio::time::timeout(limit.min(self.timeout), ping).await, Ok(Ok(_)))
    }
}
