//! `SystemStore` on SQLite: schema version, liveness probe, the boot snapshot of the scorer indexes (all orgs,
//! one read transaction), retention purges in bounded batches, and event replay.

use async_trait::async_trait;
use rusqlite::{Connection, params};

use super::{SCHEMA_VERSION, SqliteStore, agents, codec, deps, events, fences, files, thread_rows};
use crate::core::events::EventRecord;
use crate::core::ids::OrgId;
use crate::core::ports::{Fence, IndexSnapshot, RetainedTable, StoreResult, SystemStore};
use crate::core::time::Timestamp;

fn snapshot(
    conn: &Connection,
    now: Timestamp,
    resolved_since: Timestamp,
    activity_since: Timestamp,
) -> StoreResult<IndexSnapshot> {
    let agents = conn
        .prepare_cached(&format!("SELECT {} FROM agents ORDER BY org_id, id", agents::COLS))?
        .query_map([], agents::decode)?
        .collect::<Result<_, _>>()?;
    let threads = conn
        .prepare_cached(&format!(
            "SELECT {} FROM threads WHERE status IN ('open', 'resolving') \
             OR (status = 'resolved' AND COALESCE(resolved_at, created_at) >= ?1) ORDER BY created_at, rowid",
            thread_rows::COLS
        ))?
        .query_map(params![resolved_since.t1()], thread_rows::decode)?
        .collect::<Result<_, _>>()?;
    let activity = conn
        .prepare_cached(&format!(
            "SELECT {} FROM file_activity WHERE created_at >= ?1 ORDER BY id",
            files::ACTIVITY_COLS
        ))?
        .query_map(params![activity_since.t1()], files::decode_activity)?
        .collect::<Result<_, _>>()?;
    let claims = conn
        .prepare_cached(&format!(
            "SELECT {} FROM working_files WHERE claim_until > ?1 ORDER BY org_id, agent_id, file_path",
            files::CLAIM_COLS
        ))?
        .query_map(params![now.iso()], files::decode_claim)?
        .collect::<Result<_, _>>()?;
    let modules = conn
        .prepare_cached(
            "SELECT org_id, module_id, depends_on, exports, owners FROM dependency_map ORDER BY org_id, module_id",
        )?
        .query_map([], |r| Ok((OrgId::new(r.get::<_, String>(0)?), deps::decode_at(r, 1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(IndexSnapshot { agents, threads, activity, claims, modules })
}

fn purge(conn: &Connection, table: RetainedTable, cutoff: Timestamp, batch: usize) -> StoreResult<usize> {
    let (name, col) = match table {
        RetainedTable::LayerFirings => (table.name(), "fired_at"),
        _ => (table.name(), "created_at"),
    };
    let sql = format!("DELETE FROM {name} WHERE rowid IN (SELECT rowid FROM {name} WHERE {col} < ?1 LIMIT ?2)");
    Ok(conn.prepare_cached(&sql)?.execute(params![cutoff.t1(), codec::limit(batch)])?)
}

#[async_trait]
impl SystemStore for SqliteStore {
    async fn schema_version(&self) -> StoreResult<(i64, i64)> {
        self.read(|c| {
            let v: i64 = c
                .prepare_cached("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")?
                .query_row([], |r| r.get(0))?;
            Ok((v, SCHEMA_VERSION))
        })
        .await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| Ok(c.prepare_cached("SELECT 1")?.query_row([], |r| r.get::<_, i64>(0)).map(|_| ())?)).await
    }

    async fn index_snapshot(
        &self,
        now: Timestamp,
        resolved_since: Timestamp,
        activity_since: Timestamp,
    ) -> StoreResult<IndexSnapshot> {
        self.read(move |c| snapshot(c, now, resolved_since, activity_since)).await
    }

    async fn purge(
        &self,
        table: RetainedTable,
        cutoff: Timestamp,
        batch: usize,
        fence: Option<&Fence>,
    ) -> StoreResult<usize> {
        let fence = fence.cloned();
        self.write(move |c| {
            fences::check(c, fence.as_ref())?;
            purge(c, table, cutoff, batch)
        })
        .await
    }

    async fn events_after(&self, org: &OrgId, after_seq: i64, limit: usize) -> StoreResult<Vec<EventRecord>> {
        let org = org.clone();
        self.read(move |c| events::after(c, &org, after_seq, limit)).await
    }

    async fn latest_events(&self, org: &OrgId, limit: usize) -> StoreResult<Vec<EventRecord>> {
        let org = org.clone();
        self.read(move |c| events::latest(c, &org, limit)).await
    }

    async fn event_heads(&self) -> StoreResult<Vec<(OrgId, i64)>> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT org_id, event_seq FROM org_sequences")?;
            let rows = st.query_map([], |r| Ok((OrgId::new(r.get::<_, String>(0)?), r.get::<_, i64>(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}
