//! Reports and administration for the REST API: free-standing events, thread counts per run, per-layer scoring
//! statistics and the org reset.

use async_trait::async_trait;
use rusqlite::{Connection, params};

use super::{SqliteStore, events};
use crate::core::events::{DomainEvent, EventRecord};
use crate::core::ids::{OrgId, RunId};
use crate::core::ports::{LayerStatRow, ReportStore, StoreResult};
use crate::core::threads::ThreadStatus;
use crate::core::time::Timestamp;

/// Tables emptied by a reset, children before parents.
const RESET_TABLES: [&str; 16] = [
    "thread_files",
    "thread_messages",
    "introspections",
    "layer_firings",
    "threads",
    "action_summaries",
    "file_activity",
    "working_files",
    "agent_inbox",
    "agent_inbox_state",
    "mqtt_retained",
    "dependency_map",
    "git_cochange",
    "git_cochange_meta",
    "agent_activity_status",
    "agents",
];

fn reset(conn: &Connection, org: &OrgId) -> StoreResult<Vec<(String, usize)>> {
    let mut out = Vec::with_capacity(RESET_TABLES.len() + 1);
    for table in RESET_TABLES.iter().chain(["events"].iter()) {
        let sql = format!("DELETE FROM {table} WHERE org_id = ?1");
        let n = conn.prepare_cached(&sql)?.execute(params![org.as_str()])?;
        out.push(((*table).to_owned(), n));
    }
    Ok(out)
}

fn layer_stats(conn: &Connection, org: &OrgId, since: Timestamp) -> StoreResult<Vec<LayerStatRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT lf.layer,
                CASE WHEN t.status = 'cancelled' THEN 'cancelled'
                     WHEN t.status = 'resolved' AND t.resolution_type IS NOT NULL THEN t.resolution_type
                     ELSE 'unresolved' END AS outcome,
                COUNT(*), COALESCE(SUM(lf.score), 0)
           FROM layer_firings lf LEFT JOIN threads t ON t.id = lf.thread_id
          WHERE lf.org_id = ?1 AND lf.fired_at >= ?2
          GROUP BY lf.layer, outcome ORDER BY lf.layer, outcome",
    )?;
    let rows = stmt.query_map(params![org.as_str(), since.t1()], |r| {
        Ok(LayerStatRow { layer: r.get(0)?, outcome: r.get(1)?, fire_count: r.get(2)?, score_sum: r.get(3)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn counts(conn: &Connection, org: &OrgId, run: Option<&str>) -> StoreResult<Vec<(ThreadStatus, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT status, COUNT(*) FROM threads WHERE org_id = ?1 AND run_id IS ?2 GROUP BY status ORDER BY status",
    )?;
    let rows = stmt.query_map(params![org.as_str(), run], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (status, n) = row?;
        if let Some(s) = ThreadStatus::parse(&status) {
            out.push((s, n));
        }
    }
    Ok(out)
}

#[async_trait]
impl ReportStore for SqliteStore {
    async fn append_events(&self, org: &OrgId, evs: Vec<DomainEvent>, now: Timestamp) -> StoreResult<Vec<EventRecord>> {
        let org = org.clone();
        self.write(move |c| events::insert(c, &org, &evs, now)).await
    }

    async fn thread_counts(&self, org: &OrgId, run_id: Option<&RunId>) -> StoreResult<Vec<(ThreadStatus, i64)>> {
        let org = org.clone();
        let run = run_id.map(|r| r.as_str().to_owned());
        self.read(move |c| counts(c, &org, run.as_deref())).await
    }

    async fn layer_stats(&self, org: &OrgId, since: Timestamp) -> StoreResult<Vec<LayerStatRow>> {
        let org = org.clone();
        self.read(move |c| layer_stats(c, &org, since)).await
    }

    async fn reset_org(&self, org: &OrgId) -> StoreResult<Vec<(String, usize)>> {
        let org = org.clone();
        self.write(move |c| reset(c, &org)).await
    }
}
