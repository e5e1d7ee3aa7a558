//! Reports and administration for the REST API on Postgres: free-standing events, thread counts per run,
//! per-layer scoring statistics and the org reset.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection};

use super::{PgStore, codec, events, in_tx};
use crate::core::events::{DomainEvent, EventRecord};
use crate::core::ids::{OrgId, RunId};
use crate::core::ports::{LayerStatRow, ReportStore, StoreResult};
use crate::core::threads::ThreadStatus;
use crate::core::time::Timestamp;

/// Tables emptied by a reset, children before parents (then `events`; `org_sequences` is kept).
const RESET_TABLES: [&str; 17] = [
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
    "events",
];

/// Deletes the org's rows table by table; the names come from the constant list above, never from input.
async fn reset(c: &mut PgConnection, org: &OrgId) -> StoreResult<Vec<(String, usize)>> {
    let mut out = Vec::with_capacity(RESET_TABLES.len());
    for table in RESET_TABLES {
        let sql = format!("DELETE FROM {table} WHERE org_id = $1");
        let n = sqlx::query(AssertSqlSafe(sql)).bind(org.as_str()).execute(&mut *c).await?.rows_affected();
        out.push((table.to_owned(), codec::count(n)));
    }
    Ok(out)
}

#[async_trait]
impl ReportStore for PgStore {
    async fn append_events(&self, org: &OrgId, evs: Vec<DomainEvent>, now: Timestamp) -> StoreResult<Vec<EventRecord>> {
        in_tx!(self, |c| events::insert(c, org, &evs, now).await)
    }

    async fn thread_counts(&self, org: &OrgId, run_id: Option<&RunId>) -> StoreResult<Vec<(ThreadStatus, i64)>> {
        let mut c = self.conn().await?;
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, count(*) FROM threads WHERE org_id = $1 AND run_id IS NOT DISTINCT FROM $2 \
             GROUP BY status ORDER BY status",
        )
        .bind(org.as_str())
        .bind(run_id.map(RunId::as_str))
        .fetch_all(&mut *c)
        .await?;
        Ok(rows.into_iter().filter_map(|(s, n)| ThreadStatus::parse(&s).map(|s| (s, n))).collect())
    }

    async fn layer_stats(&self, org: &OrgId, since: Timestamp) -> StoreResult<Vec<LayerStatRow>> {
        let mut c = self.conn().await?;
        let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT lf.layer, \
                    CASE WHEN t.status = 'cancelled' THEN 'cancelled' \
                         WHEN t.status = 'resolved' AND t.resolution_type IS NOT NULL THEN t.resolution_type \
                         ELSE 'unresolved' END AS outcome, \
                    count(*), COALESCE(SUM(lf.score), 0)::bigint \
               FROM layer_firings lf LEFT JOIN threads t ON t.id = lf.thread_id \
              WHERE lf.org_id = $1 AND lf.fired_at >= $2 \
              GROUP BY lf.layer, outcome ORDER BY lf.layer, outcome",
        )
        .bind(org.as_str())
        .bind(codec::t1(since))
        .fetch_all(&mut *c)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(layer, outcome, fire_count, score_sum)| LayerStatRow { layer, outcome, fire_count, score_sum })
            .collect())
    }

    async fn reset_org(&self, org: &OrgId) -> StoreResult<Vec<(String, usize)>> {
        in_tx!(self, |c| reset(c, org).await)
    }
}
