//! The storage backend selected by `COORDINATOR_DATABASE_URL` (storage.md §1), and the one way to show it: with
//! a Postgres URL's password masked, so it never reaches a log line, an error message or `Debug` output.

use std::path::PathBuf;

/// Where the coordination data lives (`COORDINATOR_DATABASE_URL`, storage.md §1).
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file (the default: `<data dir>/coordinator.db`).
    Sqlite(PathBuf),
    /// A Postgres server URL (`postgres://` or `postgresql://`; TLS per `sslmode`). May carry a password: shown
    /// only through `redacted()`.
    Postgres(String),
}

impl Database {
    /// A description safe for logs: the Postgres password is replaced by `***`.
    pub fn redacted(&self) -> String {
        match self {
            Database::Sqlite(path) => format!("sqlite://{}", path.display()),
            Database::Postgres(url) => redact_password(url),
        }
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// `scheme://user:password@host/…` → `scheme://user:***@host/…`: the one way to show a URL that may carry a
/// password (database, Redis) in logs, errors and `Debug` output.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.to_owned(),
    }
}
