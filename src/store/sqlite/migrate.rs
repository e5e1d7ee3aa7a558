//! Schema migrations (storage.md §5): embedded `migrations/sqlite/NNNN_<name>.sql`, forward-only, each applied in
//! its own exclusive transaction together with its ledger row (`schema_migrations`: version, name, SHA-256 hex of
//! the file, applied_at) and `PRAGMA user_version`, which mirrors the version for backup/restore checks. The
//! exclusive transaction also serialises concurrent migrators: the second one re-reads the ledger and finds
//! nothing left to do. Refuses newer databases, edited migrations and foreign databases without a ledger.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};
use sha2::{Digest, Sha256};

use crate::core::ports::{StoreError, StoreResult};
use crate::core::time::Timestamp;

/// One embedded migration.
struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] =
    &[Migration { version: 1, name: "init", sql: include_str!("../../../migrations/sqlite/0001_init.sql") }];

/// The highest embedded migration: the schema version this binary expects.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

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

/// Applies every pending migration to the database at `path` (created if missing), e.g. for `mcp-coordinator
/// migrate`.
pub fn migrate(path: &Path) -> StoreResult<MigrationReport> {
    super::prepare_location(path)?;
    let conn = super::connect(path)?;
    apply(&conn, path)
}

/// The migrations `migrate` would apply, as `(version, name)`; also validates the ledger (newer schema,
/// checksum mismatch, foreign tables are errors). A missing file has every migration pending and is not created.
pub fn pending(path: &Path) -> StoreResult<Vec<(i64, String)>> {
    if !path.exists() {
        return Ok(MIGRATIONS.iter().map(|m| (m.version, m.name.to_owned())).collect());
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(super::BUSY_TIMEOUT)?;
    let current = check(&conn, path)?;
    Ok(MIGRATIONS.iter().filter(|m| m.version > current).map(|m| (m.version, m.name.to_owned())).collect())
}

/// Applies pending migrations on `conn`, one exclusive transaction each.
pub(super) fn apply(conn: &Connection, path: &Path) -> StoreResult<MigrationReport> {
    let mut report = MigrationReport { from: -1, to: 0, applied: Vec::new() };
    loop {
        let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Exclusive)?;
        let current = check(&tx, path)?;
        if report.from < 0 {
            report.from = current;
        }
        let Some(next) = MIGRATIONS.iter().find(|m| m.version > current) else {
            tx.commit()?;
            report.to = current;
            return Ok(report);
        };
        tx.execute_batch(next.sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
            params![next.version, next.name, checksum(next.sql), now_t1()],
        )?;
        tx.pragma_update(None, "user_version", next.version)?;
        tx.commit()?;
        report.applied.push((next.version, next.name.to_owned()));
    }
}

/// Validates the schema and refuses anything but exactly `SCHEMA_VERSION`.
pub(super) fn require_current(conn: &Connection, path: &Path) -> StoreResult<()> {
    let current = check(conn, path)?;
    if current < SCHEMA_VERSION {
        return Err(StoreError::Other(format!(
            "Database schema {current} is older than this binary expects ({SCHEMA_VERSION}); run `mcp-coordinator migrate`"
        )));
    }
    Ok(())
}

/// The applied schema version after validating the ledger against the embedded migrations.
fn check(conn: &Connection, path: &Path) -> StoreResult<i64> {
    let user_version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if user_version > SCHEMA_VERSION {
        return Err(newer(user_version));
    }
    let has_ledger: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
        [],
        |r| r.get(0),
    )?;
    if !has_ledger {
        let tables: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            [],
            |r| r.get(0),
        )?;
        if tables > 0 {
            return Err(StoreError::Other(format!(
                "Database {} has tables but no migration ledger (created elsewhere); move it aside",
                path.display()
            )));
        }
        return Ok(0);
    }
    let mut stmt = conn.prepare("SELECT version, name, checksum FROM schema_migrations ORDER BY version")?;
    let applied = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut current = 0;
    for (version, name, sum) in applied {
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

fn now_t1() -> String {
    Timestamp::from_millis(chrono::Utc::now().timestamp_millis()).t1()
}
