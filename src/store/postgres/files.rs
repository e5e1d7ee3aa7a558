//! `FileStore` on Postgres: file activity (with the log-file side effects), hot files, working-file claims
//! (millisecond `timestamptz`, shown as ISO `Z`, threads.md §2.6) and action summaries.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::{PgStore, agents, codec, events, fences, in_tx};
use crate::core::agents::{Activity, ActivityStatus};
use crate::core::events::{DomainEvent, EventRecord};
use crate::core::files::{ActionSummary, FileActivity, HotFile, WorkingClaim};
use crate::core::ids::{AgentId, OrgId, SessionId};
use crate::core::paths::RepoPath;
use crate::core::ports::{Fence, FileStore, NewFileActivity, StoreResult};
use crate::core::time::Timestamp;

/// Every column of `file_activity`, in `decode_activity` order.
macro_rules! activity_cols {
    () => {
        "id, org_id, session_id, agent_id, agent_name, tool_name, file_path, module, created_at, symbols_touched, \
         content_hash"
    };
}
pub(super) use activity_cols;

pub(super) fn decode_activity(row: &PgRow) -> StoreResult<FileActivity> {
    Ok(FileActivity {
        id: row.try_get(0)?,
        org_id: OrgId::new(row.try_get::<String, _>(1)?),
        session_id: SessionId::new(row.try_get::<String, _>(2)?),
        agent_id: AgentId::new(row.try_get::<String, _>(3)?),
        agent_name: row.try_get(4)?,
        tool_name: row.try_get(5)?,
        file_path: RepoPath::from_stored(row.try_get::<String, _>(6)?),
        module: row.try_get(7)?,
        created_at: codec::ts(row, 8)?,
        symbols_touched: codec::opt_json(row, 9)?,
        content_hash: row.try_get(10)?,
    })
}

/// Every column of a working-file claim, in `decode_claim` order.
macro_rules! claim_cols {
    () => {
        "org_id, agent_id, file_path, started_at, claim_until"
    };
}
pub(super) use claim_cols;

pub(super) fn decode_claim(row: &PgRow) -> StoreResult<WorkingClaim> {
    Ok(WorkingClaim {
        org_id: OrgId::new(row.try_get::<String, _>(0)?),
        agent_id: AgentId::new(row.try_get::<String, _>(1)?),
        file_path: RepoPath::from_stored(row.try_get::<String, _>(2)?),
        started_at: codec::ts(row, 3)?,
        claim_until: codec::ts(row, 4)?,
    })
}

fn decode_summary(row: &PgRow) -> StoreResult<ActionSummary> {
    Ok(ActionSummary {
        id: row.try_get(0)?,
        org_id: OrgId::new(row.try_get::<String, _>(1)?),
        session_id: SessionId::new(row.try_get::<String, _>(2)?),
        agent_id: AgentId::new(row.try_get::<String, _>(3)?),
        file_path: row.try_get::<Option<String>, _>(4)?.map(RepoPath::from_stored),
        summary: row.try_get(5)?,
        created_at: codec::ts(row, 6)?,
    })
}

async fn record_activity(c: &mut PgConnection, act: NewFileActivity) -> StoreResult<(i64, Vec<EventRecord>)> {
    let r = &act.row;
    let org = &r.org_id;
    let now = r.created_at;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO file_activity (org_id, session_id, agent_id, agent_name, tool_name, file_path, module, \
         created_at, symbols_touched, content_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(org.as_str())
    .bind(r.session_id.as_str())
    .bind(r.agent_id.as_str())
    .bind(&r.agent_name)
    .bind(&r.tool_name)
    .bind(r.file_path.as_str())
    .bind(&r.module)
    .bind(codec::t1(now))
    .bind(codec::opt_json_text(&r.symbols_touched))
    .bind(&r.content_hash)
    .fetch_one(&mut *c)
    .await?;
    if act.mark_working {
        let working = Activity {
            agent_id: r.agent_id.clone(),
            activity_status: ActivityStatus::Working,
            current_file: Some(r.file_path.clone()),
            current_thread: None,
            last_activity_at: Some(now),
        };
        agents::put_activity(c, org, &working).await?;
    }
    agents::touch(c, org, &r.agent_id, now, Some(act.online_cutoff)).await?;
    let records = events::insert(c, org, &act.events, now).await?;
    Ok((id, records))
}

async fn agents_on_file(
    c: &mut PgConnection,
    org: &OrgId,
    path: &RepoPath,
    since: Timestamp,
    exclude: Option<&AgentId>,
) -> StoreResult<Vec<(AgentId, Option<String>, Timestamp)>> {
    let rows = sqlx::query(
        "SELECT agent_id, agent_name, created_at FROM file_activity \
         WHERE org_id = $1 AND file_path = $2 AND created_at >= $3 AND ($4::text IS NULL OR agent_id <> $4) \
         ORDER BY created_at DESC, id DESC",
    )
    .bind(org.as_str())
    .bind(path.as_str())
    .bind(codec::t1(since))
    .bind(exclude.map(AgentId::as_str))
    .fetch_all(&mut *c)
    .await?;
    let mut out: Vec<(AgentId, Option<String>, Timestamp)> = Vec::new();
    for r in &rows {
        let agent = AgentId::new(r.try_get::<String, _>(0)?);
        if !out.iter().any(|(a, _, _)| *a == agent) {
            out.push((agent, r.try_get(1)?, codec::ts(r, 2)?));
        }
    }
    Ok(out)
}

async fn hot_files(c: &mut PgConnection, org: &OrgId, since: Timestamp, limit: usize) -> StoreResult<Vec<HotFile>> {
    let rows: Vec<(String, i64, Vec<String>)> = sqlx::query_as(
        "SELECT file_path, count(DISTINCT agent_id) AS n, array_agg(DISTINCT agent_id) FROM file_activity \
         WHERE org_id = $1 AND created_at >= $2 GROUP BY file_path HAVING count(DISTINCT agent_id) > 1 \
         ORDER BY n DESC, file_path LIMIT $3",
    )
    .bind(org.as_str())
    .bind(codec::t1(since))
    .bind(codec::limit(limit))
    .fetch_all(&mut *c)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(file, n, agents)| {
            let mut agents: Vec<AgentId> = agents.into_iter().map(AgentId::new).collect();
            agents.sort();
            HotFile { file_path: RepoPath::from_stored(file), agent_count: n, agents }
        })
        .collect())
}

/// Upserts a claim in one statement; `xmax = 0` on the returned row means it was inserted, not updated, which
/// stays exact when two calls race on the same key.
async fn start_claim(c: &mut PgConnection, w: &WorkingClaim, now: Timestamp) -> StoreResult<bool> {
    let inserted: bool = sqlx::query_scalar(
        "INSERT INTO working_files (org_id, agent_id, file_path, started_at, last_activity_at, claim_until) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_id, agent_id, file_path) DO UPDATE SET \
         last_activity_at = excluded.last_activity_at, claim_until = excluded.claim_until \
         RETURNING (xmax = 0)",
    )
    .bind(w.org_id.as_str())
    .bind(w.agent_id.as_str())
    .bind(w.file_path.as_str())
    .bind(codec::ms(w.started_at))
    .bind(codec::ms(now))
    .bind(codec::ms(w.claim_until))
    .fetch_one(&mut *c)
    .await?;
    Ok(inserted)
}

async fn sweep_claims(c: &mut PgConnection, now: Timestamp) -> StoreResult<Vec<WorkingClaim>> {
    let rows = sqlx::query(concat!("DELETE FROM working_files WHERE claim_until <= $1 RETURNING ", claim_cols!()))
        .bind(codec::ms(now))
        .fetch_all(&mut *c)
        .await?;
    let mut out = rows.iter().map(decode_claim).collect::<StoreResult<Vec<_>>>()?;
    out.sort_by(|a, b| (&a.org_id, &a.agent_id, &a.file_path).cmp(&(&b.org_id, &b.agent_id, &b.file_path)));
    Ok(out)
}

async fn record_summary(c: &mut PgConnection, s: &ActionSummary, event: DomainEvent) -> StoreResult<Vec<EventRecord>> {
    sqlx::query(
        "INSERT INTO action_summaries (id, org_id, session_id, agent_id, file_path, summary, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&s.id)
    .bind(s.org_id.as_str())
    .bind(s.session_id.as_str())
    .bind(s.agent_id.as_str())
    .bind(s.file_path.as_ref().map(RepoPath::as_str))
    .bind(&s.summary)
    .bind(codec::t1(s.created_at))
    .execute(&mut *c)
    .await?;
    events::insert(c, &s.org_id, &[event], s.created_at).await
}

#[async_trait]
impl FileStore for PgStore {
    async fn record_file_activity(&self, act: NewFileActivity) -> StoreResult<(i64, Vec<EventRecord>)> {
        in_tx!(self, |c| record_activity(c, act).await)
    }

    async fn session_files(&self, org: &OrgId, session: &SessionId) -> StoreResult<Vec<FileActivity>> {
        let mut c = self.conn().await?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            activity_cols!(),
            " FROM file_activity WHERE org_id = $1 AND session_id = $2 ORDER BY id"
        ))
        .bind(org.as_str())
        .bind(session.as_str())
        .fetch_all(&mut *c)
        .await?;
        rows.iter().map(decode_activity).collect()
    }

    async fn agents_on_file(
        &self,
        org: &OrgId,
        path: &RepoPath,
        since: Timestamp,
        exclude: Option<&AgentId>,
    ) -> StoreResult<Vec<(AgentId, Option<String>, Timestamp)>> {
        let mut c = self.conn().await?;
        agents_on_file(&mut c, org, path, since, exclude).await
    }

    async fn hot_files(&self, org: &OrgId, since: Timestamp, limit: usize) -> StoreResult<Vec<HotFile>> {
        let mut c = self.conn().await?;
        hot_files(&mut c, org, since, limit).await
    }

    async fn start_claim(&self, claim: &WorkingClaim, now: Timestamp) -> StoreResult<bool> {
        let mut c = self.conn().await?;
        start_claim(&mut c, claim, now).await
    }

    async fn stop_claim(&self, org: &OrgId, agent: &AgentId, path: &RepoPath) -> StoreResult<bool> {
        let mut c = self.conn().await?;
        let n = sqlx::query("DELETE FROM working_files WHERE org_id = $1 AND agent_id = $2 AND file_path = $3")
            .bind(org.as_str())
            .bind(agent.as_str())
            .bind(path.as_str())
            .execute(&mut *c)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    async fn sweep_claims(&self, now: Timestamp, fence: Option<&Fence>) -> StoreResult<Vec<WorkingClaim>> {
        in_tx!(self, |c| {
            fences::check(c, fence).await?;
            sweep_claims(c, now).await
        })
    }

    async fn record_summary(&self, s: &ActionSummary, event: DomainEvent) -> StoreResult<Vec<EventRecord>> {
        in_tx!(self, |c| record_summary(c, s, event).await)
    }

    async fn latest_summaries(&self, org: &OrgId, agent: &AgentId, limit: usize) -> StoreResult<Vec<ActionSummary>> {
        let mut c = self.conn().await?;
        let rows = sqlx::query(
            "SELECT id, org_id, session_id, agent_id, file_path, summary, created_at FROM action_summaries \
             WHERE org_id = $1 AND agent_id = $2 ORDER BY created_at DESC, ord DESC LIMIT $3",
        )
        .bind(org.as_str())
        .bind(agent.as_str())
        .bind(codec::limit(limit))
        .fetch_all(&mut *c)
        .await?;
        rows.iter().map(decode_summary).collect()
    }
}
