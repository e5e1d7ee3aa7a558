//! Storage adapters: ALL SQL of the product lives here. `sqlite` implements every `core::ports` store trait on one
//! SQLite file (rusqlite; one writer connection, a small reader pool, each call on a blocking thread); `postgres`
//! implements the same traits on a Postgres server (sqlx pool, row locks and advisory locks instead of a single
//! writer). `error` maps driver errors to `StoreError` in one place. Nothing outside this module may name a
//! database driver, and nothing in here decides domain rules: decisions arrive as closures from the core and run
//! inside our transactions.

mod error;
pub mod postgres;
pub mod sqlite;
