//! `FileStore` on SQLite: file activity (with the log-file side effects), hot files, working-file claims (ISO
//! `Z` times, threads.md §2.6) and action summaries.

use async_trait::async_trait;
use rusqlite::{Connection, Row, params};

use super::{SqliteStore, agents, codec, events, fences};
use crate::core::agents::{Activity, ActivityStatus};
use crate::core::events::{DomainEvent, EventRecord};
use crate::core::files::{ActionSummary, FileActivity, HotFile, WorkingClaim};
use crate::core::ids::{AgentId, OrgId, SessionId};
use crate::core::paths::RepoPath;
use crate::core::ports::{Fence, FileStore, NewFileActivity, StoreResult};
use crate::core::time::Timestamp;

pub(super) const ACTIVITY_COLS: &str = "id, org_id, session_id, agent_id, agent_name, tool_name, file_path, module, \
    created_at, symbols_touched, content_hash";

pub(super) fn decode_activity(row: &Row<'_>) -> rusqlite::Result<FileActivity> {
    Ok(FileActivity {
        id: row.get(0)?,
        org_id: OrgId::new(row.get::<_, String>(1)?),
        session_id: SessionId::new(row.get::<_, String>(2)?),
        agent_id: AgentId::new(row.get::<_, String>(3)?),
        agent_name: row.get(4)?,
        tool_name: row.get(5)?,
        file_path: RepoPath::from_stored(row.get::<_, String>(6)?),
        module: row.get(7)?,
        created_at: codec::ts(row, 8)?,
        symbols_touched: codec::opt_json(row, 9)?,
        content_hash: row.get(10)?,
    })
}

pub(super) const CLAIM_COLS: &str = "org_id, agent_id, file_path, started_at, claim_until";

pub(super) fn decode_claim(row: &Row<'_>) -> rusqlite::Result<WorkingClaim> {
    Ok(WorkingClaim {
        org_id: OrgId::new(row.get::<_, String>(0)?),
        agent_id: AgentId::new(row.get::<_, String>(1)?),
        file_path: RepoPath::from_stored(row.get::<_, String>(2)?),
        started_at: codec::ts(row, 3)?,
        claim_until: codec::ts(row, 4)?,
    })
}

fn decode_summary(row: &Row<'_>) -> rusqlite::Result<ActionSummary> {
    Ok(ActionSummary {
        id: row.get(0)?,
        org_id: OrgId::new(row.get::<_, String>(1)?),
        session_id: SessionId::new(row.get::<_, String>(2)?),
        agent_id: AgentId::new(row.get::<_, String>(3)?),
        file_path: row.get::<_, Option<String>>(4)?.map(RepoPath::from_stored),
        summary: row.get(5)?,
        created_at: codec::ts(row, 6)?,
    })
}

fn record_activity(conn: &Connection, act: NewFileActivity) -> StoreResult<(i64, Vec<EventRecord>)> {
    let r = &act.row;
    let org = &r.org_id;
    let now = r.created_at;
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO file_activity (org_id, session_id, agent_id, agent_name, tool_name, file_path, module, \
             created_at, symbols_touched, content_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
        )?
        .query_row(
            params![
                org.as_str(),
                r.session_id.as_str(),
                r.agent_id.as_str(),
                r.agent_name,
                r.tool_name,
                r.file_path.as_str(),
                r.module,
                now.t1(),
                codec::opt_json_text(&r.symbols_touched),
                r.content_hash,
            ],
            |row| row.get(0),
        )?;
    if act.mark_working {
        let working = Activity {
            agent_id: r.agent_id.clone(),
            activity_status: ActivityStatus::Working,
            current_file: Some(r.file_path.clone()),
            current_thread: None,
            last_activity_at: Some(now),
        };
        agents::put_activity(conn, org, &working)?;
    }
    agents::touch(conn, org, &r.agent_id, now, Some(act.online_cutoff))?;
    let records = events::insert(conn, org, &act.events, now)?;
    Ok((id, records))
}

fn agents_on_file(
    conn: &Connection,
    org: &OrgId,
    path: &RepoPath,
    since: Timestamp,
    exclude: Option<&AgentId>,
) -> StoreResult<Vec<(AgentId, Option<String>, Timestamp)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT agent_id, agent_name, created_at FROM file_activity \
         WHERE org_id = ?1 AND file_path = ?2 AND created_at >= ?3 AND (?4 IS NULL OR agent_id <> ?4) \
         ORDER BY created_at DESC, id DESC",
    )?;
    let rows = stmt.query_map(params![org.as_str(), path.as_str(), since.t1(), exclude.map(AgentId::as_str)], |r| {
        Ok((AgentId::new(r.get::<_, String>(0)?), r.get::<_, Option<String>>(1)?, codec::ts(r, 2)?))
    })?;
    let mut out: Vec<(AgentId, Option<String>, Timestamp)> = Vec::new();
    for row in rows {
        let row = row?;
        if !out.iter().any(|(a, _, _)| *a == row.0) {
            out.push(row);
        }
    }
    Ok(out)
}

fn hot_files(conn: &Connection, org: &OrgId, since: Timestamp, limit: usize) -> StoreResult<Vec<HotFile>> {
    let mut stmt = conn.prepare_cached(
        "SELECT file_path, count(DISTINCT agent_id) AS n, json_group_array(DISTINCT agent_id) FROM file_activity \
         WHERE org_id = ?1 AND created_at >= ?2 GROUP BY file_path HAVING n > 1 ORDER BY n DESC, file_path LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![org.as_str(), since.t1(), codec::limit(limit)], |r| {
        let mut agents: Vec<AgentId> = codec::json(r, 2)?;
        agents.sort();
        Ok(HotFile { file_path: RepoPath::from_stored(r.get::<_, String>(0)?), agent_count: r.get(1)?, agents })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn start_claim(conn: &Connection, c: &WorkingClaim, now: Timestamp) -> StoreResult<bool> {
    let key = params![c.org_id.as_str(), c.agent_id.as_str(), c.file_path.as_str()];
    let existed: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM working_files WHERE org_id = ?1 AND agent_id = ?2 AND file_path = ?3)",
        )?
        .query_row(key, |r| r.get(0))?;
    conn.prepare_cached(
        "INSERT INTO working_files (org_id, agent_id, file_path, started_at, last_activity_at, claim_until) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (org_id, agent_id, file_path) DO UPDATE SET \
         last_activity_at = excluded.last_activity_at, claim_until = excluded.claim_until",
    )?
    .execute(params![
        c.org_id.as_str(),
        c.agent_id.as_str(),
        c.file_path.as_str(),
        c.started_at.iso(),
        now.iso(),
        c.claim_until.iso()
    ])?;
    Ok(!existed)
}

fn sweep_claims(conn: &Connection, now: Timestamp) -> StoreResult<Vec<WorkingClaim>> {
    let mut stmt =
        conn.prepare_cached(&format!("DELETE FROM working_files WHERE claim_until <= ?1 RETURNING {CLAIM_COLS}"))?;
    let mut out = stmt.query_map(params![now.iso()], decode_claim)?.collect::<Result<Vec<_>, _>>()?;
    out.sort_by(|a, b| (&a.org_id, &a.agent_id, &a.file_path).cmp(&(&b.org_id, &b.agent_id, &b.file_path)));
    Ok(out)
}

fn record_summary(conn: &Connection, s: &ActionSummary, event: DomainEvent) -> StoreResult<Vec<EventRecord>> {
    conn.prepare_cached(
        "INSERT INTO action_summaries (id, org_id, session_id, agent_id, file_path, summary, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        s.id,
        s.org_id.as_str(),
        s.session_id.as_str(),
        s.agent_id.as_str(),
        s.file_path.as_ref().map(RepoPath::as_str),
        s.summary,
        s.created_at.t1(),
    ])?;
    events::insert(conn, &s.org_id, &[event], s.created_at)
}

#[async_trait]
impl FileStore for SqliteStore {
    async fn record_file_activity(&self, act: NewFileActivity) -> StoreResult<(i64, Vec<EventRecord>)> {
        self.write(move |c| record_activity(c, act)).await
    }

    async fn session_files(&self, org: &OrgId, session: &SessionId) -> StoreResult<Vec<FileActivity>> {
        let (org, session) = (org.clone(), session.clone());
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ACTIVITY_COLS} FROM file_activity WHERE org_id = ?1 AND session_id = ?2 ORDER BY id"
            ))?;
            let rows = stmt.query_map(params![org.as_str(), session.as_str()], decode_activity)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn agents_on_file(
        &self,
        org: &OrgId,
        path: &RepoPath,
        since: Timestamp,
        exclude: Option<&AgentId>,
    ) -> StoreResult<Vec<(AgentId, Option<String>, Timestamp)>> {
        let (org, path, exclude) = (org.clone(), path.clone(), exclude.cloned());
        self.read(move |c| agents_on_file(c, &org, &path, since, exclude.as_ref())).await
    }

    async fn hot_files(&self, org: &OrgId, since: Timestamp, limit: usize) -> StoreResult<Vec<HotFile>> {
        let org = org.clone();
        self.read(move |c| hot_files(c, &org, since, limit)).await
    }

    async fn start_claim(&self, claim: &WorkingClaim, now: Timestamp) -> StoreResult<bool> {
        let claim = claim.clone();
        self.write(move |c| start_claim(c, &claim, now)).await
    }

    async fn stop_claim(&self, org: &OrgId, agent: &AgentId, path: &RepoPath) -> StoreResult<bool> {
        let (org, agent, path) = (org.clone(), agent.clone(), path.clone());
        self.write(move |c| {
            let n = c
                .prepare_cached("DELETE FROM working_files WHERE org_id = ?1 AND agent_id = ?2 AND file_path = ?3")?
                .execute(params![org.as_str(), agent.as_str(), path.as_str()])?;
            Ok(n > 0)
        })
        .await
    }

    async fn sweep_claims(&self, now: Timestamp, fence: Option<&Fence>) -> StoreResult<Vec<WorkingClaim>> {
        let fence = fence.cloned();
        self.write(move |c| {
            fences::check(c, fence.as_ref())?;
            sweep_claims(c, now)
        })
        .await
    }

    async fn record_summary(&self, s: &ActionSummary, event: DomainEvent) -> StoreResult<Vec<EventRecord>> {
        let s = s.clone();
        self.write(move |c| record_summary(c, &s, event)).await
    }

    async fn latest_summaries(&self, org: &OrgId, agent: &AgentId, limit: usize) -> StoreResult<Vec<ActionSummary>> {
        let (org, agent) = (org.clone(), agent.clone());
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, org_id, session_id, agent_id, file_path, summary, created_at FROM action_summaries \
                 WHERE org_id = ?1 AND agent_id = ?2 ORDER BY created_at DESC, rowid DESC LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![org.as_str(), agent.as_str(), codec::limit(limit)], decode_summary)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}
