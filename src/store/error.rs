//! The ONE mapping from rusqlite errors to `core::ports::StoreError`, by error kind: callers above the store only
//! ever see the four classes (unavailable, constraint, corrupt, other).

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

/// A failure of the blocking task that ran a store call (a panic or runtime shutdown).
pub(crate) fn join_error(e: tokio::task::JoinError) -> StoreError {
    StoreError::Other(format!("store task failed: {e}"))
}

/// A filesystem failure while preparing the database location.
pub(crate) fn io_error(what: &str, e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("{what}: {e}"))
}
