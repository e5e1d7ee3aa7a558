//! Schema migrations on Postgres (storage.md §5): embedded `migrations/postgres/NNNN_<name>.sql` (same numbers and
//! names as SQLite), forward-only, each applied in its own transaction together with its ledger row
//! (`schema_migrations`: version, name, SHA-256 hex of the file, applied_at). Postgres DDL is transactional, so a
//! failed migration leaves nothing behind. Concurrent migrators are serialised by a session advisory lock held on
//! a dedicated connection: the second one re-reads the ledger and finds nothing left to do. Refuses newer
//! databases, edited migrations and foreign schemas without a ledger, with the same texts as SQLite.

use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, Row};

use crate::core::ports::{StoreError, StoreResult};

/// One embedded migration.
struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] =
    &[Migration { version: 1, name: "init", sql: include_str!("../../../migrations/postgres/0001_init.sql") }];

/// The highest embedded migration: the schema version this binary expects.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// Key of the migration advisory lock ("mcp_migr"): outside the 32-bit range of the per-org announcement keys
/// (`hashtext`), so the two never collide.
const LOCK_KEY: i64 = 0x6d63_705f_6d69_6772;

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Schema version before.
    pub from: i64,
    /// Schema version after (= `SCHEMA_VERSION`).
    pub to: i64,
    /// `(version, name)` of each migration applied, in order.
    pub applied: Vec<(i64, String)>,
}

/// Applies pending migrations on a dedicated connection holding the migration advisory lock.
pub(super) async fn apply(options: &PgConnectOptions) -> StoreResult<MigrationReport> {
    let mut conn = PgConnection::connect_with(options).await?;
    let result = async {
        sqlx::query("SELECT pg_advisory_lock($1)").bind(LOCK_KEY).execute(&mut conn).await?;
        apply_locked(&mut conn).await
    }
    .await;
    // Closing the session releases the lock whatever happened; unlocking first just makes it prompt.
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)").bind(LOCK_KEY).execute(&mut conn).await;
    let _ = conn.close().await;
    result
}

async fn apply_locked(conn: &mut PgConnection) -> StoreResult<MigrationReport> {
    let mut report = MigrationReport { from: -1, to: 0, applied: Vec::new() };
    loop {
        let current = check(conn).await?;
        if report.from < 0 {
            report.from = current;
        }
        let Some(next) = MIGRATIONS.iter().find(|m| m.version > current) else {
            report.to = current;
            return Ok(report);
        };
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(next.sql).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) \
             VALUES ($1, $2, $3, date_trunc('second', now()))",
        )
        .bind(next.version)
        .bind(next.name)
        .bind(checksum(next.sql))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        report.applied.push((next.version, next.name.to_owned()));
    }
}

/// The migrations not applied yet, after validating the ledger.
pub(super) async fn pending(conn: &mut PgConnection) -> StoreResult<Vec<(i64, String)>> {
    let current = check(conn).await?;
    Ok(MIGRATIONS.iter().filter(|m| m.version > current).map(|m| (m.version, m.name.to_owned())).collect())
}

/// Validates the schema and refuses anything but exactly `SCHEMA_VERSION`.
pub(super) async fn require_current(conn: &mut PgConnection) -> StoreResult<()> {
    let current = check(conn).await?;
    if current < SCHEMA_VERSION {
        return Err(StoreError::Other(format!(
            "Database schema {current} is older than this binary expects ({SCHEMA_VERSION}); run `mcp-coordinator migrate`"
        )));
    }
    Ok(())
}

/// The applied schema version after validating the ledger against the embedded migrations.
async fn check(conn: &mut PgConnection) -> StoreResult<i64> {
    let has_ledger: bool =
        sqlx::query_scalar("SELECT to_regclass('schema_migrations') IS NOT NULL").fetch_one(&mut *conn).await?;
    if !has_ledger {
        let (tables, db): (i64, String) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'), current_database()::text",
        )
        .fetch_one(&mut *conn)
        .await?;
        if tables > 0 {
            return Err(StoreError::Other(format!(
                "Database {db} has tables but no migration ledger (created elsewhere); use an empty database"
            )));
        }
        return Ok(0);
    }
    let rows = sqlx::query("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        .fetch_all(&mut *conn)
        .await?;
    let mut current = 0;
    for row in rows {
        let (version, name, sum): (i64, String, String) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        if version > SCHEMA_VERSION {
            return Err(newer(version));
        }
        let known = MIGRATIONS.iter().find(|m| m.version == version);
        if known.is_none_or(|m| checksum(m.sql) != sum) {
            return Err(StoreError::Other(format!(
                "Migration {version} ({name}) was modified after it was applied (checksum mismatch)"
            )));
        }
        current = current.max(version);
    }
    Ok(current)
}

fn newer(version: i64) -> StoreError {
    StoreError::Other(format!(
        "Database schema {version} is newer than this binary supports ({SCHEMA_VERSION}); downgrade is not supported"
    ))
}

/// SHA-256 of the migration text, lowercase hex.
fn checksum(sql: &str) -> String {
    Sha256::digest(sql.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}
