//! `SqliteStore`: the SQLite implementation of every store port (storage.md §3). One writer connection behind a
//! mutex (each write is one `BEGIN IMMEDIATE` transaction, committed at the end, rolled back on any error) and a
//! small lazily-filled pool of reader connections. rusqlite rather than sqlx because an announcement must commit in
//! well under a millisecond (docs/decisions/0001); its calls block, so every call runs on `spawn_blocking`.
//! Statements are prepared once per connection (`prepare_cached`). Must not contain domain rules: decisions arrive
//! from the core as closures and run inside our transactions.

mod agents;
mod checkpoint;
mod codec;
mod deps;
mod events;
mod fences;
mod files;
mod inbox;
mod introspections;
mod maintenance;
mod messages;
mod migrate;
mod reports;
mod system;
mod thread_changes;
mod thread_rows;
mod threads;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::error::{io_error, join_error};
use crate::core::ports::{StoreError, StoreResult};

pub use maintenance::{StoreReport, inspect, schema_version_of, snapshot};
pub use migrate::{MigrationReport, SCHEMA_VERSION, migrate, pending};

/// Reader connections kept open between calls (more are opened on demand and closed after use).
const READER_POOL: usize = 4;
/// Prepared statements cached per connection.
const STATEMENT_CACHE: usize = 96;
/// `busy_timeout` of every connection.
const BUSY_TIMEOUT: Duration = Duration::from_millis(5000);

/// What `open_with` does about pending migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrateMode {
    /// Apply pending migrations (migrate-on-boot).
    Apply,
    /// Refuse to open unless the schema is exactly current (migrations run elsewhere).
    RequireCurrent,
}

/// The SQLite store: a cheap-clone handle.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    checkpointer: Arc<checkpoint::Checkpointer>,
    checkpoint_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.checkpointer.stop();
        if let Some(h) = lock(&self.checkpoint_thread).take() {
            let _ = h.join();
        }
    }
}

impl SqliteStore {
    /// Opens (creating it 0600 in a 0700 directory if missing) and migrates the database at `path`.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        Self::open_with(path, MigrateMode::Apply)
    }

    /// Opens the database; `mode` chooses between migrating and requiring an up-to-date schema.
    pub fn open_with(path: &Path, mode: MigrateMode) -> StoreResult<SqliteStore> {
        prepare_location(path)?;
        let writer = connect(path)?;
        match mode {
            MigrateMode::Apply => {
                migrate::apply(&writer, path)?;
            }
            MigrateMode::RequireCurrent => migrate::require_current(&writer, path)?,
        }
        // Commits never checkpoint: the background thread does (checkpoint.rs).
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        let (checkpointer, thread) = checkpoint::Checkpointer::spawn(path.to_owned());
        let inner = Inner {
            path: path.to_owned(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            checkpointer,
            checkpoint_thread: Mutex::new(thread),
        };
        Ok(SqliteStore { inner: Arc::new(inner) })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the writer connection: committed when `f` returns `Ok`,
    /// rolled back on `Err` (or a panic).
    pub(crate) async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut conn = lock(&inner.writer);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::from)?;
            let out = f(&tx)?;
            tx.commit().map_err(StoreError::from)?;
            inner.checkpointer.committed();
            Ok(out)
        })
        .await
        .map_err(|e| E::from(join_error(e)))?
    }

    /// Runs `f` in one read transaction (a consistent snapshot) on a pooled reader connection.
    pub(crate) async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.checkout()?;
            let out = (|| -> StoreResult<T> {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
                let out = f(&tx)?;
                tx.commit()?;
                Ok(out)
            })();
            inner.checkin(conn);
            out
        })
        .await
        .map_err(join_error)?
    }
}

impl Inner {
    fn checkout(&self) -> StoreResult<Connection> {
        if let Some(conn) = lock(&self.readers).pop() {
            return Ok(conn);
        }
        connect(&self.path)
    }

    fn checkin(&self, conn: Connection) {
        let mut pool = lock(&self.readers);
        if pool.len() < READER_POOL {
            pool.push(conn);
        }
    }
}

/// A poisoned mutex only means a store call panicked; its transaction was rolled back on unwind, so the
/// connection is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Opens one connection with the PRAGMAs every connection needs.
fn connect(path: &Path) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    configure(&conn)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Switching a new file to WAL needs an exclusive lock and can answer SQLITE_BUSY at once (no busy handler) while
    // another process opens the same new file: retry briefly.
    let mut attempts = 0;
    let mode: String = loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && attempts < 100 =>
            {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            other => break other?,
        }
    };
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!("cannot enable WAL journal mode (got {mode})")));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// Creates the parent directory (0700) and the database file (0600) when missing.
fn prepare_location(path: &Path) -> StoreResult<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|e| io_error(&format!("cannot create {}", dir.display()), e))?;
    }
    if !path.exists() {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        match opts.open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error(&format!("cannot create {}", path.display()), e)),
        }
    }
    Ok(())
}
