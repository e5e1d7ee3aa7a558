//! Backend factories: each makes a fresh, empty, migrated store (a new database per test).

use std::any::Any;
use std::sync::Arc;

use mcp_coordinator::core::ports::Store;
use mcp_coordinator::store::postgres::PgStore;
use mcp_coordinator::store::sqlite::SqliteStore;

use crate::support::pg::PgDatabase;

/// A fresh store and whatever keeps its database alive.
pub struct Backend {
    pub store: Arc<dyn Store>,
    _guard: Box<dyn Any + Send + Sync>,
}

/// SQLite in a fresh temporary directory (the file sits in a subdirectory the store creates).
pub async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("data").join("coordinator.db")).unwrap();
    Backend { store: Arc::new(store), _guard: Box::new(dir) }
}

/// Postgres: a fresh `t_<uuid>` database on the local server, migrated; dropped with the backend.
pub async fn postgres() -> Backend {
    let db = PgDatabase::create().await;
    let store = PgStore::connect(&db.url, 4).await.unwrap();
    store.migrate().await.unwrap();
    Backend { store: Arc::new(store), _guard: Box::new(db) }
}
