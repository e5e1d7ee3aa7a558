//! Detecting a second server on one Postgres database. Without Redis (not in this version) events are fanned out
//! in-process only and every server runs the background jobs, so only one replica per database is supported
//! (docs/operations.md). Each server holds a session advisory lock on a dedicated connection for its lifetime;
//! a server that cannot take it knows another one is running and warns.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use crate::core::ports::{StoreError, StoreResult};

/// Key of the replica lock ("mcp_repl"); like the migration key, outside the 32-bit announcement keys.
const REPLICA_KEY: i64 = 0x6d63_705f_7265_706c;

/// This server's claim on the database, held while the value lives (closing the connection releases it).
pub struct ReplicaMarker {
    _conn: Option<PgConnection>,
    /// Whether another server held the lock when this one started.
    pub other_replica: bool,
}

impl std::fmt::Debug for ReplicaMarker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaMarker").field("other_replica", &self.other_replica).finish_non_exhaustive()
    }
}

/// Takes this server's replica lock on the database at `url` (one dedicated connection); `other_replica` tells
/// whether another server already holds it.
pub async fn claim_replica(url: &str) -> StoreResult<ReplicaMarker> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Other(format!("invalid Postgres URL: {e}")))?
        .application_name("mcp-coordinator replica lock");
    let mut conn = PgConnection::connect_with(&options).await?;
    let got: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(REPLICA_KEY).fetch_one(&mut conn).await?;
    if got {
        return Ok(ReplicaMarker { _conn: Some(conn), other_replica: false });
    }
    let _ = conn.close().await;
    Ok(ReplicaMarker { _conn: None, other_replica: true })
}
