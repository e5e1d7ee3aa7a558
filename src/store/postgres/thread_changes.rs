//! Thread writes that carry domain decisions or conditions: loading a `ThreadState` under the thread's row lock,
//! applying a `ThreadChange` (compare-and-set on the old status and round, then messages, introspection expiry and
//! events), the announcement unit of work (serialised per org by an advisory lock), and the work-pool claim
//! (threads.md §2.5): the candidate and the open threads sharing a target file are row-locked, then claimed with
//! the same conditional update as SQLite. Several thread rows are always locked in `id` order (no deadlocks).

use sqlx::PgConnection;

use super::thread_rows::{self, thread_cols};
use super::{codec, events, introspections, messages};
use crate::core::error::CoreError;
use crate::core::events::{DomainEvent, EventRecord};
use crate::core::ids::{AgentId, OrgId, ThreadId};
use crate::core::paths::RepoPath;
use crate::core::ports::{
    ClaimRefusal, NewAnnouncement, StoreError, StoreResult, ThreadChange, ThreadDecision, ThreadState, ThreadUpdate,
};
use crate::core::threads::{Thread, ThreadStatus};
use crate::core::time::Timestamp;

/// The thread with its current-round approvers and message count (read after the thread row was locked, so
/// they include every message committed before the lock was granted).
pub(super) async fn state_of(c: &mut PgConnection, thread: Thread) -> StoreResult<ThreadState> {
    let (approvals, message_count) = messages::approvals(c, &thread.id, thread.round).await?;
    Ok(ThreadState { thread, approvals, message_count })
}

/// Writes one decided change of `old` (compare-and-set), its messages and events.
pub(super) async fn apply(
    c: &mut PgConnection,
    old: &Thread,
    change: ThreadChange,
    now: Timestamp,
) -> StoreResult<ThreadUpdate> {
    let ThreadChange { thread, messages: msgs, events: evs, expire_introspections } = change;
    if thread.id != old.id || thread.org_id != old.org_id {
        return Err(StoreError::Constraint("a thread change must keep the thread's id and org".into()));
    }
    if !thread_rows::update_cas(c, &thread, old.status, old.round).await? {
        return Err(StoreError::Constraint("concurrent update".into()));
    }
    messages::insert(c, &msgs).await?;
    if expire_introspections {
        introspections::expire_pending(c, &thread.org_id, &thread.id).await?;
    }
    let records = events::insert(c, &thread.org_id, &evs, now).await?;
    Ok(ThreadUpdate { thread, messages: msgs, events: records })
}

/// `update_thread`'s transaction body: lock, load, decide, write.
pub(super) async fn update(
    c: &mut PgConnection,
    org: &OrgId,
    id: &ThreadId,
    now: Timestamp,
    decide: ThreadDecision,
) -> Result<ThreadUpdate, CoreError> {
    let thread =
        thread_rows::get_for_update(c, org, id).await?.ok_or_else(|| CoreError::ThreadNotFound(id.to_string()))?;
    let state = state_of(c, thread).await?;
    let change = decide(&state)?;
    Ok(apply(c, &state.thread, change, now).await?)
}

/// Live threads of `org` in which `agent` is an expected respondent or the claimant, oldest first, row-locked
/// (in `id` order) until the transaction ends.
pub(super) async fn involving(c: &mut PgConnection, org: &OrgId, agent: &AgentId) -> StoreResult<Vec<Thread>> {
    let locked: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM threads WHERE org_id = $1 AND status IN ('open', 'resolving') \
         AND (expected_respondents::jsonb @> jsonb_build_array($2::text) OR claimed_by = $2) ORDER BY id FOR UPDATE",
    )
    .bind(org.as_str())
    .bind(agent.as_str())
    .fetch_all(&mut *c)
    .await?;
    if locked.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(concat!(
        "SELECT ",
        thread_cols!(),
        " FROM threads WHERE org_id = $1 AND id = ANY($2) AND status IN ('open', 'resolving') ORDER BY created_at, ord"
    ))
    .bind(org.as_str())
    .bind(locked)
    .fetch_all(&mut *c)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let t = thread_rows::decode(row)?;
        if t.expected_respondents.contains(agent) || t.claimed_by.as_ref() == Some(agent) {
            out.push(t);
        }
    }
    Ok(out)
}

/// The announcement: announcer upserted online, thread + files, layer firings, introspections, events; one
/// commit, serialised with the org's other announcements by a transaction-scoped advisory lock.
pub(super) async fn announce(
    c: &mut PgConnection,
    ann: NewAnnouncement,
    now: Timestamp,
) -> StoreResult<Vec<EventRecord>> {
    let t = &ann.thread;
    let org = &t.org_id;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(org.as_str()).execute(&mut *c).await?;
    check_layer0(c, &ann).await?;
    sqlx::query(
        "INSERT INTO agents (org_id, id, name, modules, status, registered_at, last_seen_at) \
         VALUES ($1, $2, $3, '[]', 'online', $4, $4) \
         ON CONFLICT (org_id, id) DO UPDATE SET status = 'online', last_seen_at = excluded.last_seen_at",
    )
    .bind(org.as_str())
    .bind(t.initiator_id.as_str())
    .bind(&ann.announcer_name)
    .bind(codec::t1(now))
    .execute(&mut *c)
    .await?;
    thread_rows::insert(c, t).await?;
    if !ann.firings.is_empty() {
        sqlx::query(
            "INSERT INTO layer_firings (org_id, thread_id, agent_id, layer, score, fired_at) \
             SELECT $1, $2, f.agent, f.layer, f.score, $6 \
             FROM UNNEST($3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY AS f(agent, layer, score, n) ORDER BY n",
        )
        .bind(org.as_str())
        .bind(t.id.as_str())
        .bind(codec::column(&ann.firings, |(a, _, _)| a.as_str()))
        .bind(codec::column(&ann.firings, |(_, l, _)| l.as_str()))
        .bind(codec::column(&ann.firings, |(_, _, s)| *s))
        .bind(codec::t1(now))
        .execute(&mut *c)
        .await?;
    }
    introspections::insert(c, &ann.introspections).await?;
    events::insert(c, org, &ann.events, now).await
}

/// Under the org's announcement lock, the active threads on the announced files (Layer-0 candidates: a target of
/// theirs among our targets and dependencies, or a dependency of theirs among our targets) that the scorer did not
/// see — committed by another replica whose index change has not arrived yet. Any → `Stale`, the core re-scores.
async fn check_layer0(c: &mut PgConnection, ann: &NewAnnouncement) -> StoreResult<()> {
    let Some(known) = &ann.layer0_known else { return Ok(()) };
    let t = &ann.thread;
    let targets: Vec<&str> = t.target_files.iter().map(|f| f.as_str()).collect();
    let mut both = targets.clone();
    both.extend(t.depends_on_files.iter().flatten().map(|f| f.as_str()));
    let known: Vec<&str> = known.iter().map(|id| id.as_str()).collect();
    let unknown: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT f.thread_id FROM thread_files f JOIN threads t ON t.id = f.thread_id          WHERE f.org_id = $1 AND ((f.kind = 'target' AND f.file_path = ANY($2))                                   OR (f.kind = 'depends' AND f.file_path = ANY($3)))            AND f.thread_id <> ALL($4)            AND (t.status IN ('open', 'resolving')                 OR (t.status = 'resolved' AND COALESCE(t.resolved_at, t.created_at) >= $5))",
    )
    .bind(t.org_id.as_str())
    .bind(&both)
    .bind(&targets)
    .bind(&known)
    .bind(codec::t1(ann.resolved_since))
    .fetch_all(&mut *c)
    .await?;
    if unknown.is_empty() {
        return Ok(());
    }
    Err(StoreError::Stale(unknown.into_iter().map(crate::core::ids::ThreadId::new).collect()))
}

/// Other threads of the org with a target file in common with thread `$1`'s targets.
macro_rules! sharing {
    () => {
        "FROM thread_files mine \
         JOIN thread_files other ON other.org_id = mine.org_id AND other.file_path = mine.file_path \
             AND other.kind = 'target' AND other.thread_id <> mine.thread_id \
         JOIN threads o ON o.id = other.thread_id AND o.org_id = mine.org_id \
         WHERE mine.thread_id = $1 AND mine.org_id = $2 AND mine.kind = 'target'"
    };
}

/// The claim conflict: an open thread claimed by another agent sharing a target file.
macro_rules! conflicts {
    () => {
        concat!(sharing!(), " AND o.status = 'open' AND o.claimed_by IS NOT NULL AND o.claimed_by <> $3")
    };
}

/// The claim: lock the candidate and the open threads sharing a target file (a concurrent claim of any of them
/// locks the candidate too, so the two are serialised), then one conditional update; on refusal, the reason as
/// seen in the same transaction.
pub(super) async fn claim(
    c: &mut PgConnection,
    org: &OrgId,
    id: &ThreadId,
    agent: &AgentId,
    now: Timestamp,
    event: DomainEvent,
) -> StoreResult<Result<(Thread, Vec<EventRecord>), ClaimRefusal>> {
    sqlx::query(concat!(
        "SELECT t.id FROM threads t WHERE t.org_id = $2 AND (t.id = $1 OR (t.status = 'open' AND t.id IN \
         (SELECT o.id ",
        sharing!(),
        "))) ORDER BY t.id FOR UPDATE"
    ))
    .bind(id.as_str())
    .bind(org.as_str())
    .execute(&mut *c)
    .await?;
    let claimed = sqlx::query(concat!(
        "UPDATE threads SET claimed_by = $3, claimed_at = $4 \
         WHERE id = $1 AND org_id = $2 AND status = 'open' AND claimed_by IS NULL \
         AND (assigned_to IS NULL OR assigned_to = $3) AND NOT EXISTS (SELECT 1 ",
        conflicts!(),
        ") RETURNING ",
        thread_cols!()
    ))
    .bind(id.as_str())
    .bind(org.as_str())
    .bind(agent.as_str())
    .bind(codec::t1(now))
    .fetch_optional(&mut *c)
    .await?;
    if let Some(row) = claimed {
        let thread = thread_rows::decode(&row)?;
        let records = events::insert(c, org, &[event], now).await?;
        return Ok(Ok((thread, records)));
    }
    Ok(Err(refusal(c, org, id, agent).await?))
}

async fn refusal(c: &mut PgConnection, org: &OrgId, id: &ThreadId, agent: &AgentId) -> StoreResult<ClaimRefusal> {
    let Some(t) = thread_rows::get(c, org, id).await? else {
        return Ok(ClaimRefusal { claimed_by: None, assigned_to: None, status: None, conflict: None });
    };
    let eligible =
        t.status == ThreadStatus::Open && t.claimed_by.is_none() && t.assigned_to.as_ref().is_none_or(|a| a == agent);
    let conflict = if eligible { first_conflict(c, org, id, agent).await? } else { None };
    Ok(ClaimRefusal { claimed_by: t.claimed_by, assigned_to: t.assigned_to, status: Some(t.status), conflict })
}

/// The oldest open thread claimed by another agent sharing a target file, with the shared files (sorted).
async fn first_conflict(
    c: &mut PgConnection,
    org: &OrgId,
    id: &ThreadId,
    agent: &AgentId,
) -> StoreResult<Option<(ThreadId, Vec<RepoPath>)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(concat!(
        "SELECT o.id, mine.file_path ",
        conflicts!(),
        " ORDER BY o.created_at, o.id, mine.file_path"
    ))
    .bind(id.as_str())
    .bind(org.as_str())
    .bind(agent.as_str())
    .fetch_all(&mut *c)
    .await?;
    let mut out: Option<(ThreadId, Vec<RepoPath>)> = None;
    for (thread, path) in rows {
        match &mut out {
            None => out = Some((ThreadId::new(thread), vec![RepoPath::from_stored(path)])),
            Some((first, files)) if first.as_str() == thread => files.push(RepoPath::from_stored(path)),
            Some(_) => break,
        }
    }
    Ok(out)
}
