//! The ONE mapping from driver errors (rusqlite for SQLite, sqlx for Postgres) to `core::ports::StoreError`, by
//! error kind: callers above the store only ever see the four classes (unavailable, constraint, corrupt, other).

use rusqlite::ErrorCode;

use crate::core::ports::StoreError;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        classify(&e)
    }
}

/// Classifies a driver error.
pub(crate) fn classify(e: &rusqlite::Error) -> StoreError {
    use rusqlite::Error as E;
    let text = e.to_string();
    match e {
        E::SqliteFailure(f, _) => match f.code {
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::OutOfMemory
            | ErrorCode::ReadOnly
            | ErrorCode::PermissionDenied
            | ErrorCode::FileLockingProtocolFailed => StoreError::Unavailable(text),
            ErrorCode::ConstraintViolation => StoreError::Constraint(text),
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => StoreError::Corrupt(text),
            _ => StoreError::Other(text),
        },
        E::FromSqlConversionFailure(..) | E::InvalidColumnType(..) | E::IntegralValueOutOfRange(..) => {
            StoreError::Corrupt(text)
        }
        E::Utf8Error(..) => StoreError::Corrupt(text),
        _ => StoreError::Other(text),
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        classify_sqlx(&e)
    }
}

/// Classifies a Postgres driver error: lost or refused connections, an exhausted or closed pool, timeouts,
/// shutdowns and aborted transactions are `Unavailable` (retryable, 503); integrity violations (SQLSTATE class 23)
/// are `Constraint`; values that do not decode are `Corrupt`.
pub(crate) fn classify_sqlx(e: &sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    let text = e.to_string();
    match e {
        E::Database(db) => classify_sqlstate(db.code().as_deref().unwrap_or(""), text),
        E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed | E::BeginFailed => {
            StoreError::Unavailable(text)
        }
        E::Decode(_)
        | E::ColumnDecode { .. }
        | E::ColumnNotFound(_)
        | E::ColumnIndexOutOfBounds { .. }
        | E::TypeNotFound { .. } => StoreError::Corrupt(text),
        _ => StoreError::Other(text),
    }
}

/// Classifies a Postgres SQLSTATE (https://www.postgresql.org/docs/current/errcodes-appendix.html).
fn classify_sqlstate(code: &str, text: String) -> StoreError {
    match code {
        // integrity_constraint_violation: not null, foreign key, unique, check, exclusion
        c if c.starts_with("23") => StoreError::Constraint(text),
        // connection exception; insufficient resources; operator intervention (admin shutdown, crash shutdown,
        // cannot connect now, statement timeout / query cancelled); serialization failure and deadlock
        c if c.starts_with("08") || c.starts_with("53") || c.starts_with("57") || c.starts_with("40") => {
            StoreError::Unavailable(text)
        }
        // data_corrupted, index_corrupted
        "XX001" | "XX002" => StoreError::Corrupt(text),
        _ => StoreError::Other(text),
    }
}

/// A failure of the blocking task that ran a store call (a panic or runtime shutdown).
pub(crate) fn join_error(e: tokio::task::JoinError) -> StoreError {
    StoreError::Other(format!("store task failed: {e}"))
}

/// A filesystem failure while preparing the database location.
pub(crate) fn io_error(what: &str, e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    fn err(conn: &Connection, sql: &str) -> StoreError {
        StoreError::from(conn.execute_batch(sql).unwrap_err())
    }

    #[test]
    fn classifies_by_kind() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)").unwrap();
        assert!(matches!(err(&c, "INSERT INTO t (v) VALUES (NULL)"), StoreError::Constraint(_)));
        assert!(matches!(err(&c, "SELEC 1"), StoreError::Other(_)));
        let conv = c.query_row("SELECT 'x'", [], |r| r.get::<_, i64>(0)).unwrap_err();
        assert!(matches!(StoreError::from(conv), StoreError::Corrupt(_)));
        let dir = tempfile::tempdir().unwrap();
        let missing =
            Connection::open_with_flags(dir.path().join("no/such/dir.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
                .unwrap_err();
        assert!(StoreError::from(missing).is_unavailable());
    }

    #[test]
    fn classifies_postgres_errors_by_kind() {
        assert!(StoreError::from(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(StoreError::from(sqlx::Error::PoolClosed).is_unavailable());
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(StoreError::from(sqlx::Error::Io(refused)).is_unavailable());
        assert!(matches!(StoreError::from(sqlx::Error::Decode("bad".into())), StoreError::Corrupt(_)));
        assert!(matches!(StoreError::from(sqlx::Error::RowNotFound), StoreError::Other(_)));
        for (code, want) in [("23505", "constraint"), ("23503", "constraint"), ("23514", "constraint")] {
            assert!(matches!(classify_sqlstate(code, want.into()), StoreError::Constraint(_)), "{code}");
        }
        for code in ["08006", "57P01", "57014", "53300", "40001", "40P01"] {
            assert!(classify_sqlstate(code, String::new()).is_unavailable(), "{code}");
        }
        assert!(matches!(classify_sqlstate("XX001", String::new()), StoreError::Corrupt(_)));
        assert!(matches!(classify_sqlstate("42601", String::new()), StoreError::Other(_)));
    }

    #[test]
    fn busy_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.db");
        let a = Connection::open(&path).unwrap();
        let b = Connection::open(&path).unwrap();
        b.busy_timeout(std::time::Duration::from_millis(10)).unwrap();
        a.execute_batch("CREATE TABLE t (x); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);").unwrap();
        let e = StoreError::from(b.execute_batch("BEGIN IMMEDIATE").unwrap_err());
        assert!(e.is_unavailable(), "{e:?}");
    }
}
