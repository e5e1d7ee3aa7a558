//! Throw-away Postgres databases for the benchmarks: `bench_<uuid>` on the server of a URL, created through its
//! maintenance database `postgres` (nothing else is ever created there) and dropped `WITH (FORCE)` afterwards.

use anyhow::{Context, Result};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// A fresh benchmark database.
pub struct BenchDb {
    pub name: String,
    /// URL of the fresh database.
    pub url: String,
    admin_url: String,
}

/// `url` with its database replaced by `db`.
fn with_db(url: &str, db: &str) -> Result<String> {
    let mut u = url::Url::parse(url).with_context(|| format!("invalid Postgres URL {url:?}"))?;
    u.set_path(&format!("/{db}"));
    Ok(u.to_string())
}

impl BenchDb {
    /// Creates `bench_<uuid>` on the server of `server_url` (any database in the URL is ignored).
    pub async fn create(server_url: &str) -> Result<BenchDb> {
        let admin_url = with_db(server_url, "postgres")?;
        let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .with_context(|| format!("Postgres is not reachable at {admin_url} (start the local server)"))?;
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .with_context(|| format!("CREATE DATABASE {name}"))?;
        let _ = admin.close().await;
        Ok(BenchDb { url: with_db(server_url, &name)?, name, admin_url })
    }

    /// Drops the database (closing any session still connected to it).
    pub async fn drop_db(&self) -> Result<()> {
        let mut admin = PgConnection::connect(&self.admin_url).await.context("connecting to drop the database")?;
        sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)))
            .execute(&mut admin)
            .await
            .with_context(|| format!("DROP DATABASE {}", self.name))?;
        let _ = admin.close().await;
        Ok(())
    }
}
