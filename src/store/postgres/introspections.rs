//! `introspections` (threads.md §2.7): the row codec, inserts, reads, expiry with the thread's resolution, and
//! the response (compare-and-set on `pending`, optionally joining the thread's respondents under its row lock).

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::{codec, events, thread_rows};
use crate::core::events::{DomainEvent, EventRecord};
use crate::core::ids::{AgentId, OrgId, ThreadId};
use crate::core::ports::StoreResult;
use crate::core::rows::to_json_text;
use crate::core::threads::{Introspection, IntrospectionStatus, Thread};
use crate::core::time::Timestamp;

macro_rules! cols {
    () => {
        "id, org_id, thread_id, agent_id, score, reasons, status, response, concerned, created_at, responded_at"
    };
}

fn decode(row: &PgRow) -> StoreResult<Introspection> {
    Ok(Introspection {
        id: row.try_get(0)?,
        org_id: OrgId::new(row.try_get::<String, _>(1)?),
        thread_id: ThreadId::new(row.try_get::<String, _>(2)?),
        agent_id: AgentId::new(row.try_get::<String, _>(3)?),
        score: row.try_get(4)?,
        reasons: codec::json(row, 5)?,
        status: codec::text_enum(row, 6, IntrospectionStatus::parse)?,
        response: row.try_get(7)?,
        concerned: row.try_get(8)?,
        created_at: codec::ts(row, 9)?,
        responded_at: codec::opt_ts(row, 10)?,
    })
}

/// Inserts introspection rows in order (one statement).
pub(super) async fn insert(c: &mut PgConnection, rows: &[Introspection]) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(concat!(
        "INSERT INTO introspections (",
        cols!(),
        ") SELECT ",
        cols!(),
        " FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], \
         $8::text[], $9::boolean[], $10::timestamptz[], $11::timestamptz[]) WITH ORDINALITY AS i(",
        cols!(),
        ", n) ORDER BY n"
    ))
    .bind(codec::column(rows, |i| i.id.as_str()))
    .bind(codec::column(rows, |i| i.org_id.as_str()))
    .bind(codec::column(rows, |i| i.thread_id.as_str()))
    .bind(codec::column(rows, |i| i.agent_id.as_str()))
    .bind(codec::column(rows, |i| i.score))
    .bind(codec::column(rows, |i| to_json_text(&i.reasons)))
    .bind(codec::column(rows, |i| i.status.as_str()))
    .bind(codec::column(rows, |i| i.response.as_deref()))
    .bind(codec::column(rows, |i| i.concerned))
    .bind(codec::column(rows, |i| codec::t1(i.created_at)))
    .bind(codec::column(rows, |i| codec::opt_t1(i.responded_at)))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Pending introspections of `thread` become `expired`.
pub(super) async fn expire_pending(c: &mut PgConnection, org: &OrgId, thread: &ThreadId) -> StoreResult<()> {
    sqlx::query(
        "UPDATE introspections SET status = 'expired' WHERE thread_id = $1 AND org_id = $2 AND status = 'pending'",
    )
    .bind(thread.as_str())
    .bind(org.as_str())
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// One introspection of `org`.
pub(super) async fn get(c: &mut PgConnection, org: &OrgId, id: &str) -> StoreResult<Option<Introspection>> {
    let row = sqlx::query(concat!("SELECT ", cols!(), " FROM introspections WHERE id = $1 AND org_id = $2"))
        .bind(id)
        .bind(org.as_str())
        .fetch_optional(&mut *c)
        .await?;
    row.as_ref().map(decode).transpose()
}

/// Pending introspections of an agent, newest first.
pub(super) async fn pending(
    c: &mut PgConnection,
    org: &OrgId,
    agent: &AgentId,
    limit: usize,
) -> StoreResult<Vec<Introspection>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        cols!(),
        " FROM introspections WHERE org_id = $1 AND agent_id = $2 AND status = 'pending' \
         ORDER BY created_at DESC, ord DESC LIMIT $3"
    ))
    .bind(org.as_str())
    .bind(agent.as_str())
    .bind(codec::limit(limit))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(decode).collect()
}

/// The response: `None` unless the row was pending. A concerned agent joins the respondents of a live thread.
/// The thread row is locked before the introspection row: the order `update_thread` takes them in (it expires
/// introspections), so the two never deadlock.
pub(super) async fn respond(
    c: &mut PgConnection,
    org: &OrgId,
    id: &str,
    (concerned, reason): (bool, &str),
    now: Timestamp,
    event: DomainEvent,
) -> StoreResult<Option<(Introspection, bool, Vec<EventRecord>)>> {
    let thread: Option<String> =
        sqlx::query_scalar("SELECT thread_id FROM introspections WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(org.as_str())
            .fetch_optional(&mut *c)
            .await?;
    let Some(thread) = thread else {
        return Ok(None);
    };
    let locked = thread_rows::get_for_update(c, org, &ThreadId::new(thread)).await?;
    let row = sqlx::query(concat!(
        "UPDATE introspections SET status = 'responded', response = $3, concerned = $4, responded_at = $5 \
         WHERE id = $1 AND org_id = $2 AND status = 'pending' RETURNING ",
        cols!()
    ))
    .bind(id)
    .bind(org.as_str())
    .bind(reason)
    .bind(concerned)
    .bind(codec::t1(now))
    .fetch_optional(&mut *c)
    .await?;
    let Some(row) = row.as_ref().map(decode).transpose()? else {
        return Ok(None);
    };
    let joined = match locked {
        Some(t) if concerned => join_thread(c, t, &row.agent_id).await?,
        _ => false,
    };
    let event = match event {
        DomainEvent::IntrospectionCompleted { introspection_id, thread_id, agent_id, concerned, reason, .. } => {
            DomainEvent::IntrospectionCompleted { introspection_id, thread_id, agent_id, concerned, reason, joined }
        }
        other => other,
    };
    let records = events::insert(c, org, &[event], now).await?;
    Ok(Some((row, joined, records)))
}

/// Appends `agent` to the respondents of the (locked) thread if it is live; returns whether it joined.
async fn join_thread(c: &mut PgConnection, mut t: Thread, agent: &AgentId) -> StoreResult<bool> {
    if !t.status.is_live() || t.expected_respondents.contains(agent) {
        return Ok(false);
    }
    let (status, round) = (t.status, t.round);
    t.expected_respondents.push(agent.clone());
    thread_rows::update_cas(c, &t, status, round).await
}
