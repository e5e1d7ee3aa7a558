//! File-level maintenance for the CLI (`server backup`, `server restore`, `migrate --check`, `doctor`): a
//! consistent snapshot of a live database (`VACUUM INTO` reads one transaction, so writers keep going), the
//! schema version recorded in a file (`PRAGMA user_version`, mirrored by every migration) and the connection
//! settings the store relies on. Never creates a database that does not exist.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::core::ports::{StoreError, StoreResult};

/// What `doctor` checks on a database file, read through a connection configured like the store's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreReport {
    pub journal_mode: String,
    pub foreign_keys: bool,
    pub busy_timeout_ms: i64,
    pub schema_version: i64,
}

fn missing(path: &Path) -> StoreError {
    StoreError::Unavailable(format!("no database at {}", path.display()))
}

fn open_existing(path: &Path, flags: OpenFlags) -> StoreResult<Connection> {
    if !path.is_file() {
        return Err(missing(path));
    }
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(super::BUSY_TIMEOUT)?;
    // Fails with "file is not a database" on anything that is not SQLite.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0))?;
    Ok(conn)
}

/// Writes a consistent copy of the database at `db` to `dest` (which must not exist) and returns the copy's
/// schema version. Safe while a server writes to `db`.
pub fn snapshot(db: &Path, dest: &Path) -> StoreResult<i64> {
    let conn = open_existing(db, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    let target = dest
        .to_str()
        .ok_or_else(|| StoreError::Other(format!("backup path is not valid UTF-8: {}", dest.display())))?;
    conn.execute("VACUUM INTO ?1", [target])?;
    drop(conn);
    schema_version_of(dest)
}

/// The schema version recorded in the database file at `path` (0 for an empty database).
pub fn schema_version_of(path: &Path) -> StoreResult<i64> {
    let conn = open_existing(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Opens the existing database at `path` exactly as the store does and reports its settings.
pub fn inspect(path: &Path) -> StoreResult<StoreReport> {
    if !path.is_file() {
        return Err(missing(path));
    }
    let conn = super::connect(path)?;
    Ok(StoreReport {
        journal_mode: conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?,
        foreign_keys: conn.pragma_query_value(None, "foreign_keys", |r| r.get::<_, i64>(0))? == 1,
        busy_timeout_ms: conn.pragma_query_value(None, "busy_timeout", |r| r.get(0))?,
        schema_version: conn.pragma_query_value(None, "user_version", |r| r.get(0))?,
    })
}
