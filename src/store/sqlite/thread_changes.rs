//! Thread writes that carry domain decisions or conditions: loading a `ThreadState`, applying a `ThreadChange`
//! (compare-and-set on the old status and round, then messages, introspection expiry and events), the
//! announcement unit of work, and the work-pool claim (threads.md §2.5) as one conditional update.

use rusqlite::{Connection, params};

use super::{events, introspections, messages, thread_rows};
use crate::core::error::CoreError;
use crate::core::events::{DomainEvent, EventRecord};
use crate::core::ids::{AgentId, OrgId, ThreadId};
use crate::core::paths::RepoPath;
use crate::core::ports::{
    ClaimRefusal, NewAnnouncement, StoreError, StoreResult, ThreadChange, ThreadState, ThreadUpdate,
};
use crate::core::threads::{Thread, ThreadStatus};
use crate::core::time::Timestamp;

/// The thread with its current-round approvers and message count.
pub(super) fn state_of(conn: &Connection, thread: Thread) -> StoreResult<ThreadState> {
    let (approvals, message_count) = messages::approvals(conn, &thread.id, thread.round)?;
    Ok(ThreadState { thread, approvals, message_count })
}

/// Writes one decided change of `old` (compare-and-set), its messages and events.
pub(super) fn apply(
    conn: &Connection,
    old: &Thread,
    change: ThreadChange,
    now: Timestamp,
) -> StoreResult<ThreadUpdate> {
    let ThreadChange { thread, messages: msgs, events: evs, expire_introspections } = change;
    if thread.id != old.id || thread.org_id != old.org_id {
        return Err(StoreError::Constraint("a thread change must keep the thread's id and org".into()));
    }
    if !thread_rows::update_cas(conn, &thread, old.status, old.round)? {
        return Err(StoreError::Constraint("concurrent update".into()));
    }
    messages::insert(conn, &msgs)?;
    if expire_introspections {
        introspections::expire_pending(conn, &thread.org_id, &thread.id)?;
    }
    let records = events::insert(conn, &thread.org_id, &evs, now)?;
    Ok(ThreadUpdate { thread, messages: msgs, events: records })
}

/// `update_thread`'s transaction body.
pub(super) fn update(
    conn: &Connection,
    org: &OrgId,
    id: &ThreadId,
    now: Timestamp,
    decide: crate::core::ports::ThreadDecision,
) -> Result<ThreadUpdate, CoreError> {
    let thread = thread_rows::get(conn, org, id)?.ok_or_else(|| CoreError::ThreadNotFound(id.to_string()))?;
    let state = state_of(conn, thread)?;
    let change = decide(&state)?;
    Ok(apply(conn, &state.thread, change, now)?)
}

/// Live threads of `org` in which `agent` is an expected respondent or the claimant, oldest first.
pub(super) fn involving(conn: &Connection, org: &OrgId, agent: &AgentId) -> StoreResult<Vec<Thread>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM threads WHERE org_id = ?1 AND status IN ('open', 'resolving') ORDER BY created_at, rowid",
        thread_rows::COLS
    ))?;
    let rows = stmt.query_map(params![org.as_str()], thread_rows::decode)?;
    let mut out = Vec::new();
    for t in rows {
        let t = t?;
        if t.expected_respondents.contains(agent) || t.claimed_by.as_ref() == Some(agent) {
            out.push(t);
        }
    }
    Ok(out)
}

/// The announcement: announcer upserted online, thread + files, layer firings, introspections, events.
pub(super) fn announce(conn: &Connection, ann: NewAnnouncement, now: Timestamp) -> StoreResult<Vec<EventRecord>> {
    let t = &ann.thread;
    let org = &t.org_id;
    let at = now.t1();
    conn.prepare_cached(
        "INSERT INTO agents (org_id, id, name, modules, status, registered_at, last_seen_at) \
         VALUES (?1, ?2, ?3, '[]', 'online', ?4, ?4) \
         ON CONFLICT (org_id, id) DO UPDATE SET status = 'online', last_seen_at = excluded.last_seen_at",
    )?
    .execute(params![org.as_str(), t.initiator_id.as_str(), ann.announcer_name, at])?;
    thread_rows::insert(conn, t)?;
    let mut firing = conn.prepare_cached(
        "INSERT INTO layer_firings (org_id, thread_id, agent_id, layer, score, fired_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (agent, layer, score) in &ann.firings {
        firing.execute(params![org.as_str(), t.id.as_str(), agent.as_str(), layer, score, at])?;
    }
    introspections::insert(conn, &ann.introspections)?;
    events::insert(conn, org, &ann.events, now)
}

const CONFLICTS: &str = "FROM thread_files mine \
    JOIN thread_files other ON other.org_id = mine.org_id AND other.file_path = mine.file_path \
        AND other.kind = 'target' AND other.thread_id <> mine.thread_id \
    JOIN threads o ON o.id = other.thread_id AND o.org_id = mine.org_id \
    WHERE mine.thread_id = ?1 AND mine.org_id = ?2 AND mine.kind = 'target' \
        AND o.status = 'open' AND o.claimed_by IS NOT NULL AND o.claimed_by <> ?3";

/// The claim: one conditional update; on refusal, the reason as seen in the same transaction.
pub(super) fn claim(
    conn: &Connection,
    org: &OrgId,
    id: &ThreadId,
    agent: &AgentId,
    now: Timestamp,
    event: DomainEvent,
) -> StoreResult<Result<(Thread, Vec<EventRecord>), ClaimRefusal>> {
    let sql = format!(
        "UPDATE threads SET claimed_by = ?3, claimed_at = ?4 \
         WHERE id = ?1 AND org_id = ?2 AND status = 'open' AND claimed_by IS NULL \
         AND (assigned_to IS NULL OR assigned_to = ?3) AND NOT EXISTS (SELECT 1 {CONFLICTS}) RETURNING {}",
        thread_rows::COLS
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let claimed =
        stmt.query_map(params![id.as_str(), org.as_str(), agent.as_str(), now.t1()], thread_rows::decode)?.next();
    if let Some(thread) = claimed.transpose()? {
        let records = events::insert(conn, org, &[event], now)?;
        return Ok(Ok((thread, records)));
    }
    Ok(Err(refusal(conn, org, id, agent)?))
}

fn refusal(conn: &Connection, org: &OrgId, id: &ThreadId, agent: &AgentId) -> StoreResult<ClaimRefusal> {
    let Some(t) = thread_rows::get(conn, org, id)? else {
        return Ok(ClaimRefusal { claimed_by: None, assigned_to: None, status: None, conflict: None });
    };
    let eligible =
        t.status == ThreadStatus::Open && t.claimed_by.is_none() && t.assigned_to.as_ref().is_none_or(|a| a == agent);
    let conflict = if eligible { first_conflict(conn, org, id, agent)? } else { None };
    Ok(ClaimRefusal { claimed_by: t.claimed_by, assigned_to: t.assigned_to, status: Some(t.status), conflict })
}

/// The oldest open thread claimed by another agent sharing a target file, with the shared files (sorted).
fn first_conflict(
    conn: &Connection,
    org: &OrgId,
    id: &ThreadId,
    agent: &AgentId,
) -> StoreResult<Option<(ThreadId, Vec<RepoPath>)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT o.id, mine.file_path {CONFLICTS} ORDER BY o.created_at, o.id, mine.file_path"
    ))?;
    let rows = stmt.query_map(params![id.as_str(), org.as_str(), agent.as_str()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out: Option<(ThreadId, Vec<RepoPath>)> = None;
    for row in rows {
        let (thread, path) = row?;
        match &mut out {
            None => out = Some((ThreadId::new(thread), vec![RepoPath::from_stored(path)])),
            Some((first, files)) if first.as_str() == thread => files.push(RepoPath::from_stored(path)),
            Some(_) => break,
        }
    }
    Ok(out)
}
