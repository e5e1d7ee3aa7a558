//! `thread_messages`: the row codec, the multi-row insert, and the two message reads (a thread's messages;
//! updates for an agent on live threads). `ord` (insertion order) breaks `created_at` ties as SQLite's rowid does.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::codec;
use crate::core::ids::{AgentId, OrgId, ThreadId};
use crate::core::ports::StoreResult;
use crate::core::threads::{Message, MessageType};
use crate::core::time::Timestamp;

macro_rules! m_cols {
    () => {
        "m.id, m.org_id, m.thread_id, m.agent_id, m.agent_name, m.type, m.content, m.context_snapshot, \
         m.in_reply_to, m.round, m.token_estimate, m.created_at"
    };
}

fn decode(row: &PgRow) -> StoreResult<Message> {
    Ok(Message {
        id: row.try_get(0)?,
        org_id: OrgId::new(row.try_get::<String, _>(1)?),
        thread_id: ThreadId::new(row.try_get::<String, _>(2)?),
        agent_id: AgentId::new(row.try_get::<String, _>(3)?),
        agent_name: row.try_get(4)?,
        kind: codec::text_enum(row, 5, MessageType::parse)?,
        content: row.try_get(6)?,
        context_snapshot: row.try_get(7)?,
        in_reply_to: row.try_get(8)?,
        round: row.try_get(9)?,
        token_estimate: row.try_get(10)?,
        created_at: codec::ts(row, 11)?,
    })
}

/// Inserts messages in order (one statement; `WITH ORDINALITY` keeps the given order in `ord`).
pub(super) async fn insert(c: &mut PgConnection, messages: &[Message]) -> StoreResult<()> {
    if messages.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO thread_messages (id, org_id, thread_id, agent_id, agent_name, type, content, context_snapshot, \
         in_reply_to, round, token_estimate, created_at) \
         SELECT id, org_id, thread_id, agent_id, agent_name, type, content, context_snapshot, in_reply_to, round, \
         token_estimate, created_at FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::timestamptz[]) \
         WITH ORDINALITY AS m(id, org_id, thread_id, agent_id, agent_name, type, content, context_snapshot, \
         in_reply_to, round, token_estimate, created_at, n) ORDER BY n",
    )
    .bind(codec::column(messages, |m| m.id.as_str()))
    .bind(codec::column(messages, |m| m.org_id.as_str()))
    .bind(codec::column(messages, |m| m.thread_id.as_str()))
    .bind(codec::column(messages, |m| m.agent_id.as_str()))
    .bind(codec::column(messages, |m| m.agent_name.as_deref()))
    .bind(codec::column(messages, |m| m.kind.as_str()))
    .bind(codec::column(messages, |m| m.content.as_str()))
    .bind(codec::column(messages, |m| m.context_snapshot.as_deref()))
    .bind(codec::column(messages, |m| m.in_reply_to.as_deref()))
    .bind(codec::column(messages, |m| m.round))
    .bind(codec::column(messages, |m| m.token_estimate))
    .bind(codec::column(messages, |m| codec::t1(m.created_at)))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Messages of one thread, by `created_at` then insertion.
pub(super) async fn of_thread(c: &mut PgConnection, org: &OrgId, thread: &ThreadId) -> StoreResult<Vec<Message>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        m_cols!(),
        " FROM thread_messages m WHERE m.thread_id = $1 AND m.org_id = $2 ORDER BY m.created_at, m.ord"
    ))
    .bind(thread.as_str())
    .bind(org.as_str())
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(decode).collect()
}

/// Distinct approvers of `round` (first approval first) and the thread's message count.
pub(super) async fn approvals(c: &mut PgConnection, thread: &ThreadId, round: i64) -> StoreResult<(Vec<AgentId>, i64)> {
    let approvers: Vec<String> = sqlx::query_scalar(
        "SELECT agent_id FROM thread_messages WHERE thread_id = $1 AND type = 'approve' AND round = $2 \
         GROUP BY agent_id ORDER BY MIN(created_at), MIN(ord)",
    )
    .bind(thread.as_str())
    .bind(round)
    .fetch_all(&mut *c)
    .await?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM thread_messages WHERE thread_id = $1")
        .bind(thread.as_str())
        .fetch_one(&mut *c)
        .await?;
    Ok((approvers.into_iter().map(AgentId::new).collect(), count))
}

/// Messages on open/resolving threads of `org` by agents other than `agent`, `created_at >= since`, ascending.
pub(super) async fn updates(
    c: &mut PgConnection,
    org: &OrgId,
    agent: &AgentId,
    since: Option<Timestamp>,
    limit: usize,
) -> StoreResult<Vec<Message>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        m_cols!(),
        " FROM thread_messages m JOIN threads t ON t.id = m.thread_id \
         WHERE m.org_id = $1 AND t.org_id = $1 AND t.status IN ('open', 'resolving') AND m.agent_id <> $2 \
         AND ($3::timestamptz IS NULL OR m.created_at >= $3) ORDER BY m.created_at, m.ord LIMIT $4"
    ))
    .bind(org.as_str())
    .bind(agent.as_str())
    .bind(codec::opt_t1(since))
    .bind(codec::limit(limit))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(decode).collect()
}
