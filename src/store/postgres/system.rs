//! `SystemStore` on Postgres: schema version, liveness probe, the boot snapshot of the scorer indexes (all orgs,
//! one REPEATABLE READ snapshot), retention purges in bounded batches, and event replay.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection, Row};

use super::agents::{self, agent_cols};
use super::files::{self, activity_cols, claim_cols};
use super::thread_rows::{self, thread_cols};
use super::{PgStore, SCHEMA_VERSION, codec, deps, events, fences, in_tx};
use crate::core::events::EventRecord;
use crate::core::ids::OrgId;
use crate::core::ports::{Fence, IndexSnapshot, RetainedTable, StoreResult, SystemStore};
use crate::core::time::Timestamp;

async fn snapshot(
    c: &mut PgConnection,
    now: Timestamp,
    resolved_since: Timestamp,
    activity_since: Timestamp,
) -> StoreResult<IndexSnapshot> {
    let rows =
        sqlx::query(concat!("SELECT ", agent_cols!(), " FROM agents ORDER BY org_id, id")).fetch_all(&mut *c).await?;
    let agents = rows.iter().map(agents::decode).collect::<StoreResult<_>>()?;
    let rows = sqlx::query(concat!(
        "SELECT ",
        thread_cols!(),
        " FROM threads WHERE status IN ('open', 'resolving') \
         OR (status = 'resolved' AND COALESCE(resolved_at, created_at) >= $1) ORDER BY created_at, ord"
    ))
    .bind(codec::t1(resolved_since))
    .fetch_all(&mut *c)
    .await?;
    let threads = rows.iter().map(thread_rows::decode).collect::<StoreResult<_>>()?;
    let rows =
        sqlx::query(concat!("SELECT ", activity_cols!(), " FROM file_activity WHERE created_at >= $1 ORDER BY id"))
            .bind(codec::t1(activity_since))
            .fetch_all(&mut *c)
            .await?;
    let activity = rows.iter().map(files::decode_activity).collect::<StoreResult<_>>()?;
    let rows = sqlx::query(concat!(
        "SELECT ",
        claim_cols!(),
        " FROM working_files WHERE claim_until > $1 ORDER BY org_id, agent_id, file_path"
    ))
    .bind(codec::ms(now))
    .fetch_all(&mut *c)
    .await?;
    let claims = rows.iter().map(files::decode_claim).collect::<StoreResult<_>>()?;
    let rows = sqlx::query(
        "SELECT org_id, module_id, depends_on, exports, owners FROM dependency_map ORDER BY org_id, module_id",
    )
    .fetch_all(&mut *c)
    .await?;
    let modules = rows
        .iter()
        .map(|r| Ok((OrgId::new(r.try_get::<String, _>(0)?), deps::decode_at(r, 1)?)))
        .collect::<StoreResult<_>>()?;
    Ok(IndexSnapshot { agents, threads, activity, claims, modules })
}

/// Deletes at most `batch` rows of `table` older than `cutoff`. The table and column names come from the closed
/// `RetainedTable` enum, never from input, which is what makes the formatted statement safe.
async fn purge(c: &mut PgConnection, table: RetainedTable, cutoff: Timestamp, batch: usize) -> StoreResult<usize> {
    let (name, col) = match table {
        RetainedTable::LayerFirings => (table.name(), "fired_at"),
        _ => (table.name(), "created_at"),
    };
    let sql = format!("DELETE FROM {name} WHERE ctid = ANY (ARRAY(SELECT ctid FROM {name} WHERE {col} < $1 LIMIT $2))");
    let n = sqlx::query(AssertSqlSafe(sql))
        .bind(codec::t1(cutoff))
        .bind(codec::limit(batch))
        .execute(&mut *c)
        .await?
        .rows_affected();
    Ok(codec::count(n))
}

#[async_trait]
impl SystemStore for PgStore {
    async fn schema_version(&self) -> StoreResult<(i64, i64)> {
        let mut c = self.conn().await?;
        let v: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0)::bigint FROM schema_migrations")
            .fetch_one(&mut *c)
            .await?;
        Ok((v, SCHEMA_VERSION))
    }

    async fn ping(&self) -> StoreResult<()> {
        let mut c = self.conn().await?;
        sqlx::query("SELECT 1").execute(&mut *c).await?;
        Ok(())
    }

    async fn index_snapshot(
        &self,
        now: Timestamp,
        resolved_since: Timestamp,
        activity_since: Timestamp,
    ) -> StoreResult<IndexSnapshot> {
        let mut tx = self.snapshot().await?;
        let out = snapshot(&mut tx, now, resolved_since, activity_since).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn purge(
        &self,
        table: RetainedTable,
        cutoff: Timestamp,
        batch: usize,
        fence: Option<&Fence>,
    ) -> StoreResult<usize> {
        in_tx!(self, |c| {
            fences::check(c, fence).await?;
            purge(c, table, cutoff, batch).await
        })
    }

    async fn events_after(&self, org: &OrgId, after_seq: i64, limit: usize) -> StoreResult<Vec<EventRecord>> {
        let mut c = self.conn().await?;
        events::after(&mut c, org, after_seq, limit).await
    }

    async fn latest_events(&self, org: &OrgId, limit: usize) -> StoreResult<Vec<EventRecord>> {
        let mut c = self.conn().await?;
        events::latest(&mut c, org, limit).await
    }

    async fn event_heads(&self) -> StoreResult<Vec<(OrgId, i64)>> {
        let mut c = self.conn().await?;
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT org_id, event_seq FROM org_sequences").fetch_all(&mut *c).await?;
        Ok(rows.into_iter().map(|(o, s)| (OrgId::new(o), s)).collect())
    }
}
