//! `ThreadStore` on SQLite: each method is one transaction on the writer (writes) or one read snapshot (reads);
//! the bodies live in `thread_changes`, `thread_rows`, `messages` and `introspections`.

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};

use super::{SqliteStore, codec, fences, introspections, messages, thread_changes, thread_rows};
use crate::core::error::CoreError;
use crate::core::events::{DomainEvent, EventRecord};
use crate::core::ids::{AgentId, OrgId, ThreadId};
use crate::core::ports::{
    ClaimRefusal, Fence, NewAnnouncement, StoreResult, ThreadDecision, ThreadFilter, ThreadStore, ThreadUpdate,
};
use crate::core::threads::{Introspection, Message, Thread};
use crate::core::time::Timestamp;

/// `list_threads`: filters in SQL, newest first; a `limit` of 0 means no limit.
fn list(conn: &Connection, org: &OrgId, f: &ThreadFilter) -> StoreResult<Vec<Thread>> {
    let mut sql = format!("SELECT {} FROM threads WHERE org_id = ?", thread_rows::COLS);
    let mut args: Vec<Value> = vec![Value::Text(org.as_str().to_owned())];
    if let Some(status) = f.status {
        sql.push_str(" AND status = ?");
        args.push(Value::Text(status.as_str().to_owned()));
    }
    if let Some(initiator) = &f.initiator {
        sql.push_str(" AND initiator_id = ?");
        args.push(Value::Text(initiator.as_str().to_owned()));
    }
    if let Some(module) = &f.module {
        sql.push_str(" AND EXISTS (SELECT 1 FROM json_each(threads.target_modules) WHERE value = ?)");
        args.push(Value::Text(module.clone()));
    }
    if let Some(me) = &f.assigned_to_me {
        sql.push_str(" AND (assigned_to IS NULL OR assigned_to = ?)");
        args.push(Value::Text(me.as_str().to_owned()));
    }
    sql.push_str(" ORDER BY created_at DESC, rowid DESC LIMIT ?");
    args.push(Value::Integer(if f.limit == 0 { -1 } else { codec::limit(f.limit) }));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), thread_rows::decode)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Live threads of every org whose deadline (`created_at + timeout_seconds × round`) is before `now`.
fn timed_out(conn: &Connection, now: Timestamp) -> StoreResult<Vec<(OrgId, ThreadId)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT org_id, id FROM threads WHERE status IN ('open', 'resolving') AND timeout_seconds > 0 \
         AND (CAST(strftime('%s', created_at) AS INTEGER) + timeout_seconds * round) * 1000 < ?1 \
         ORDER BY created_at, rowid",
    )?;
    let rows = stmt.query_map(params![now.millis()], |r| {
        Ok((OrgId::new(r.get::<_, String>(0)?), ThreadId::new(r.get::<_, String>(1)?)))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[async_trait]
impl ThreadStore for SqliteStore {
    async fn record_announcement(&self, ann: NewAnnouncement, now: Timestamp) -> StoreResult<Vec<EventRecord>> {
        self.write(move |c| thread_changes::announce(c, ann, now)).await
    }

    async fn get_thread(&self, org: &OrgId, id: &ThreadId) -> StoreResult<Option<Thread>> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |c| thread_rows::get(c, &org, &id)).await
    }

    async fn thread_messages(&self, org: &OrgId, id: &ThreadId) -> StoreResult<Vec<Message>> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |c| messages::of_thread(c, &org, &id)).await
    }

    async fn update_thread_fenced(
        &self,
        org: &OrgId,
        id: &ThreadId,
        now: Timestamp,
        decide: ThreadDecision,
        fence: Option<&Fence>,
    ) -> Result<ThreadUpdate, CoreError> {
        let (org, id, fence) = (org.clone(), id.clone(), fence.cloned());
        self.write(move |c| {
            fences::check(c, fence.as_ref())?;
            thread_changes::update(c, &org, &id, now, decide)
        })
        .await
    }

    async fn list_threads(&self, org: &OrgId, filter: &ThreadFilter) -> StoreResult<Vec<Thread>> {
        let (org, filter) = (org.clone(), filter.clone());
        self.read(move |c| list(c, &org, &filter)).await
    }

    async fn thread_updates(
        &self,
        org: &OrgId,
        agent: &AgentId,
        since: Option<Timestamp>,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        let (org, agent) = (org.clone(), agent.clone());
        self.read(move |c| messages::updates(c, &org, &agent, since, limit)).await
    }

    async fn timed_out_threads(&self, now: Timestamp) -> StoreResult<Vec<(OrgId, ThreadId)>> {
        self.read(move |c| timed_out(c, now)).await
    }

    async fn claim_task(
        &self,
        org: &OrgId,
        id: &ThreadId,
        agent: &AgentId,
        now: Timestamp,
        event: DomainEvent,
    ) -> StoreResult<Result<(Thread, Vec<EventRecord>), ClaimRefusal>> {
        let (org, id, agent) = (org.clone(), id.clone(), agent.clone());
        self.write(move |c| thread_changes::claim(c, &org, &id, &agent, now, event)).await
    }

    async fn pending_introspections(
        &self,
        org: &OrgId,
        agent: &AgentId,
        limit: usize,
    ) -> StoreResult<Vec<Introspection>> {
        let (org, agent) = (org.clone(), agent.clone());
        self.read(move |c| introspections::pending(c, &org, &agent, limit)).await
    }

    async fn get_introspection(&self, org: &OrgId, id: &str) -> StoreResult<Option<Introspection>> {
        let (org, id) = (org.clone(), id.to_owned());
        self.read(move |c| introspections::get(c, &org, &id)).await
    }

    async fn respond_introspection(
        &self,
        org: &OrgId,
        id: &str,
        concerned: bool,
        reason: &str,
        now: Timestamp,
        event: DomainEvent,
    ) -> StoreResult<Option<(Introspection, bool, Vec<EventRecord>)>> {
        let (org, id, reason) = (org.clone(), id.to_owned(), reason.to_owned());
        self.write(move |c| introspections::respond(c, &org, &id, (concerned, &reason), now, event)).await
    }
}
