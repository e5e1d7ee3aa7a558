//! `thread_messages`: the row codec, inserts, and the two message reads (a thread's messages; updates for an
//! agent on live threads).

use rusqlite::{Connection, Row, params};

use super::codec;
use crate::core::ids::{AgentId, OrgId, ThreadId};
use crate::core::ports::StoreResult;
use crate::core::threads::{Message, MessageType};
use crate::core::time::Timestamp;

const M_COLS: &str = "m.id, m.org_id, m.thread_id, m.agent_id, m.agent_name, m.type, m.content, \
    m.context_snapshot, m.in_reply_to, m.round, m.token_estimate, m.created_at";

fn decode(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: row.get(0)?,
        org_id: OrgId::new(row.get::<_, String>(1)?),
        thread_id: ThreadId::new(row.get::<_, String>(2)?),
        agent_id: AgentId::new(row.get::<_, String>(3)?),
        agent_name: row.get(4)?,
        kind: codec::text_enum(row, 5, MessageType::parse)?,
        content: row.get(6)?,
        context_snapshot: row.get(7)?,
        in_reply_to: row.get(8)?,
        round: row.get(9)?,
        token_estimate: row.get(10)?,
        created_at: codec::ts(row, 11)?,
    })
}

/// Inserts messages.
pub(super) fn insert(conn: &Connection, messages: &[Message]) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO thread_messages (id, org_id, thread_id, agent_id, agent_name, type, content, context_snapshot, \
         in_reply_to, round, token_estimate, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    for m in messages {
        stmt.execute(params![
            m.id,
            m.org_id.as_str(),
            m.thread_id.as_str(),
            m.agent_id.as_str(),
            m.agent_name,
            m.kind.as_str(),
            m.content,
            m.context_snapshot,
            m.in_reply_to,
            m.round,
            m.token_estimate,
            m.created_at.t1(),
        ])?;
    }
    Ok(())
}

/// Messages of one thread, by `created_at` then id.
pub(super) fn of_thread(conn: &Connection, org: &OrgId, thread: &ThreadId) -> StoreResult<Vec<Message>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {M_COLS} FROM thread_messages m WHERE m.thread_id = ?1 AND m.org_id = ?2 ORDER BY m.created_at, m.rowid"
    ))?;
    let rows = stmt.query_map(params![thread.as_str(), org.as_str()], decode)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Distinct approvers of `round` (first approval first) and the thread's message count.
pub(super) fn approvals(conn: &Connection, thread: &ThreadId, round: i64) -> StoreResult<(Vec<AgentId>, i64)> {
    let mut stmt = conn.prepare_cached(
        "SELECT agent_id FROM thread_messages WHERE thread_id = ?1 AND type = 'approve' AND round = ?2 \
         GROUP BY agent_id ORDER BY MIN(created_at), MIN(rowid)",
    )?;
    let approvers = stmt
        .query_map(params![thread.as_str(), round], |r| r.get::<_, String>(0).map(AgentId::new))?
        .collect::<Result<_, _>>()?;
    let count: i64 = conn
        .prepare_cached("SELECT count(*) FROM thread_messages WHERE thread_id = ?1")?
        .query_row(params![thread.as_str()], |r| r.get(0))?;
    Ok((approvers, count))
}

/// Messages on open/resolving threads of `org` by agents other than `agent`, `created_at >= since`, ascending.
pub(super) fn updates(
    conn: &Connection,
    org: &OrgId,
    agent: &AgentId,
    since: Option<Timestamp>,
    limit: usize,
) -> StoreResult<Vec<Message>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {M_COLS} FROM thread_messages m JOIN threads t ON t.id = m.thread_id \
         WHERE m.org_id = ?1 AND t.org_id = ?1 AND t.status IN ('open', 'resolving') AND m.agent_id <> ?2 \
         AND (?3 IS NULL OR m.created_at >= ?3) ORDER BY m.created_at, m.rowid LIMIT ?4"
    ))?;
    let since = since.map(Timestamp::t1);
    let rows = stmt.query_map(params![org.as_str(), agent.as_str(), since, codec::limit(limit)], decode)?;
    Ok(rows.collect::<Result<_, _>>()?)
}
