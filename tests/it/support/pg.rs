//! Throw-away Postgres databases for the conformance suite and the full-app tests: each test gets a fresh
//! `t_<uuid>` database on the local server (trust auth), dropped when the guard goes out of scope — also when the
//! test panics. The database uses an ICU `en-US` default collation when the server supports it, so a query that
//! relied on the server's locale instead of the schema's byte-order collation would fail here.
//!
//! An unreachable server FAILS the test (it never skips) with a message naming the service and how to start it.

use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// The maintenance database of the local test server.
pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh database; dropped (best effort, `WITH (FORCE)`) on drop.
pub struct PgDatabase {
    pub name: String,
    pub url: String,
}

/// A connection to the maintenance database, or a panic that says how to start the server.
pub async fn admin() -> PgConnection {
    match PgConnection::connect(PG_ADMIN_URL).await {
        Ok(c) => c,
        Err(e) => panic!(
            "PostgreSQL is not reachable at 127.0.0.1:5432 ({e}). The Postgres store conformance and full-app tests \
             need the local PostgreSQL service (user postgres, trust auth). Start it with:\n    \
             pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        ),
    }
}

impl PgDatabase {
    /// Creates `t_<uuid>`.
    pub async fn create() -> PgDatabase {
        let name = format!("t_{}", mcp_coordinator::core::ids::new_uuid().replace('-', ""));
        let mut admin = admin().await;
        let icu = format!(
            "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8' \
             LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
        );
        if sqlx::query(AssertSqlSafe(icu)).execute(&mut admin).await.is_err() {
            sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
        }
        let _ = admin.close().await;
        PgDatabase { url: format!("postgres://postgres@127.0.0.1:5432/{name}"), name }
    }

    /// A direct connection to this database (raw checks).
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.unwrap()
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime (maybe while unwinding): do the async work on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async move {
                let mut admin = PgConnection::connect(PG_ADMIN_URL).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(AssertSqlSafe(sql)).execute(&mut admin).await.ok()?;
                admin.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}
