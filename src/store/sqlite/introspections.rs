//! `introspections` (threads.md §2.7): the row codec, inserts, reads, expiry with the thread's resolution, and
//! the response (compare-and-set on `pending`, optionally joining the thread's respondents).

use rusqlite::{Connection, Row, params};

use super::{codec, events, thread_rows};
use crate::core::events::{DomainEvent, EventRecord};
use crate::core::ids::{AgentId, OrgId, ThreadId};
use crate::core::ports::StoreResult;
use crate::core::rows::to_json_text;
use crate::core::threads::{Introspection, IntrospectionStatus};
use crate::core::time::Timestamp;

const COLS: &str =
    "id, org_id, thread_id, agent_id, score, reasons, status, response, concerned, created_at, responded_at";

fn decode(row: &Row<'_>) -> rusqlite::Result<Introspection> {
    Ok(Introspection {
        id: row.get(0)?,
        org_id: OrgId::new(row.get::<_, String>(1)?),
        thread_id: ThreadId::new(row.get::<_, String>(2)?),
        agent_id: AgentId::new(row.get::<_, String>(3)?),
        score: row.get(4)?,
        reasons: codec::json(row, 5)?,
        status: codec::text_enum(row, 6, IntrospectionStatus::parse)?,
        response: row.get(7)?,
        concerned: row.get(8)?,
        created_at: codec::ts(row, 9)?,
        responded_at: codec::opt_ts(row, 10)?,
    })
}

/// Inserts introspection rows.
pub(super) fn insert(conn: &Connection, rows: &[Introspection]) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO introspections ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?;
    for i in rows {
        stmt.execute(params![
            i.id,
            i.org_id.as_str(),
            i.thread_id.as_str(),
            i.agent_id.as_str(),
            i.score,
            to_json_text(&i.reasons),
            i.status.as_str(),
            i.response,
            i.concerned,
            i.created_at.t1(),
            codec::opt_t1(i.responded_at),
        ])?;
    }
    Ok(())
}

/// Pending introspections of `thread` become `expired`.
pub(super) fn expire_pending(conn: &Connection, org: &OrgId, thread: &ThreadId) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE introspections SET status = 'expired' WHERE thread_id = ?1 AND org_id = ?2 AND status = 'pending'",
    )?
    .execute(params![thread.as_str(), org.as_str()])?;
    Ok(())
}

/// One introspection of `org`.
pub(super) fn get(conn: &Connection, org: &OrgId, id: &str) -> StoreResult<Option<Introspection>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLS} FROM introspections WHERE id = ?1 AND org_id = ?2"))?;
    let mut rows = stmt.query_map(params![id, org.as_str()], decode)?;
    Ok(rows.next().transpose()?)
}

/// Pending introspections of an agent, newest first.
pub(super) fn pending(
    conn: &Connection,
    org: &OrgId,
    agent: &AgentId,
    limit: usize,
) -> StoreResult<Vec<Introspection>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM introspections WHERE org_id = ?1 AND agent_id = ?2 AND status = 'pending' \
         ORDER BY created_at DESC, rowid DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![org.as_str(), agent.as_str(), codec::limit(limit)], decode)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The response: `None` unless the row was pending. A concerned agent joins the respondents of a live thread.
pub(super) fn respond(
    conn: &Connection,
    org: &OrgId,
    id: &str,
    (concerned, reason): (bool, &str),
    now: Timestamp,
    event: DomainEvent,
) -> StoreResult<Option<(Introspection, bool, Vec<EventRecord>)>> {
    let n = conn
        .prepare_cached(
            "UPDATE introspections SET status = 'responded', response = ?3, concerned = ?4, responded_at = ?5 \
             WHERE id = ?1 AND org_id = ?2 AND status = 'pending'",
        )?
        .execute(params![id, org.as_str(), reason, concerned, now.t1()])?;
    let Some(row) = (if n == 1 { get(conn, org, id)? } else { None }) else {
        return Ok(None);
    };
    let joined = concerned && join_thread(conn, org, &row.thread_id, &row.agent_id)?;
    let event = match event {
        DomainEvent::IntrospectionCompleted { introspection_id, thread_id, agent_id, concerned, reason, .. } => {
            DomainEvent::IntrospectionCompleted { introspection_id, thread_id, agent_id, concerned, reason, joined }
        }
        other => other,
    };
    let records = events::insert(conn, org, &[event], now)?;
    Ok(Some((row, joined, records)))
}

/// Appends `agent` to the respondents of a live thread; returns whether it joined.
fn join_thread(conn: &Connection, org: &OrgId, thread: &ThreadId, agent: &AgentId) -> StoreResult<bool> {
    let Some(mut t) = thread_rows::get(conn, org, thread)? else {
        return Ok(false);
    };
    if !t.status.is_live() || t.expected_respondents.contains(agent) {
        return Ok(false);
    }
    let (status, round) = (t.status, t.round);
    t.expected_respondents.push(agent.clone());
    thread_rows::update_cas(conn, &t, status, round)
}
