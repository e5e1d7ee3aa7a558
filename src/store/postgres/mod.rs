//! `PgStore`: the Postgres implementation of every store port (storage.md §3), on a sqlx pool
//! (`COORDINATOR_DB_POOL_SIZE` connections, `statement_timeout` 30 s each). Writes run in one READ COMMITTED
//! transaction per call: rows a decision depends on are locked first (`SELECT … FOR UPDATE`), then written with
//! the same compare-and-set conditions as SQLite; per-org event numbers come from locking the org's
//! `org_sequences` row inside the writing transaction (gapless, in commit order); announcements of one org are
//! serialised by a transaction-scoped advisory lock. Multi-statement reads use one REPEATABLE READ snapshot.
//! Semantics (ordering, CAS, time precision, JSON text) mirror `store::sqlite` exactly; the conformance suite
//! checks both. Nothing here decides domain rules: decisions arrive as closures from the core.

mod agents;
mod codec;
mod deps;
mod events;
mod fences;
mod files;
mod inbox;
mod introspections;
mod messages;
mod migrate;
mod replica;
mod reports;
mod system;
mod thread_changes;
mod thread_rows;
mod threads;

use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection, Postgres, Transaction};

use crate::core::ports::{StoreError, StoreResult};

pub use migrate::{MigrationReport, SCHEMA_VERSION};
pub use replica::{ReplicaMarker, claim_replica};

/// `statement_timeout` of every connection (storage.md §3).
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a call waits for a free pooled connection before failing as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The Postgres store: a cheap-clone handle over a connection pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    options: PgConnectOptions,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("host", &self.options.get_host())
            .field("database", &self.options.get_database())
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// A pool of at most `pool_size` connections to `url` (`postgres://` or `postgresql://`; TLS per `sslmode`).
    /// Connects once first, so an unreachable server or bad credentials are reported now and precisely (the pool
    /// itself retries until its acquire timeout and then only says it timed out).
    pub async fn connect(url: &str, pool_size: u32) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(format!("invalid Postgres URL: {e}")))?
            .options([("statement_timeout", format!("{}ms", STATEMENT_TIMEOUT.as_millis()))])
            .application_name("mcp-coordinator");
        let probe = PgConnection::connect_with(&options).await?;
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options.clone());
        let _ = probe.close().await;
        Ok(PgStore { pool, options })
    }

    /// Applies every pending embedded migration under a session advisory lock, so concurrent migrators (several
    /// replicas, the Helm hook) apply each migration exactly once.
    pub async fn migrate(&self) -> StoreResult<MigrationReport> {
        migrate::apply(&self.options).await
    }

    /// The migrations `migrate` would apply, as `(version, name)`; validates the ledger like `migrate` (a newer
    /// schema, a modified migration, foreign tables are errors).
    pub async fn pending(&self) -> StoreResult<Vec<(i64, String)>> {
        let mut c = self.conn().await?;
        migrate::pending(&mut c).await
    }

    /// Validates the ledger and refuses anything but exactly `SCHEMA_VERSION` (migrations run elsewhere).
    pub async fn require_current(&self) -> StoreResult<()> {
        let mut c = self.conn().await?;
        migrate::require_current(&mut c).await
    }

    /// The value of a server setting as one pooled connection sees it (e.g. `statement_timeout`), for diagnostics.
    pub async fn current_setting(&self, name: &str) -> StoreResult<String> {
        let mut c = self.conn().await?;
        Ok(sqlx::query_scalar("SELECT current_setting($1)").bind(name).fetch_one(&mut *c).await?)
    }

    /// Closes every pooled connection (waits for checked-out ones to come back).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// One READ COMMITTED transaction: commit with `tx.commit()`; dropping it rolls back.
    pub(crate) async fn begin(&self) -> StoreResult<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// One REPEATABLE READ, READ ONLY transaction: a consistent snapshot for multi-statement reads.
    pub(crate) async fn snapshot(&self) -> StoreResult<Transaction<'static, Postgres>> {
        Ok(self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await?)
    }

    /// A pooled connection for single-statement reads.
    pub(crate) async fn conn(&self) -> StoreResult<PoolConnection<Postgres>> {
        Ok(self.pool.acquire().await?)
    }
}

/// Runs `$body` (an expression using `$c: &mut PgConnection`) in one transaction of `$store`, committing when it
/// yields `Ok`; on `Err` (or a panic, or the caller's future being dropped) the transaction rolls back.
macro_rules! in_tx {
    ($store:expr, |$c:ident| $body:expr) => {{
        let mut tx = $store.begin().await?;
        let out = {
            let $c: &mut sqlx::PgConnection = &mut tx;
            $body
        }?;
        tx.commit().await.map_err(crate::core::ports::StoreError::from)?;
        Ok(out)
    }};
}
pub(crate) use in_tx;
