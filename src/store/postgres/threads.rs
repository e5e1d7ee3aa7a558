//! `ThreadStore` on Postgres: each write is one transaction, each read one statement (or one snapshot); the
//! bodies live in `thread_changes`, `thread_rows`, `messages` and `introspections`.

use async_trait::async_trait;
use sqlx::PgConnection;

use super::thread_rows::{self, thread_cols};
use super::{PgStore, codec, fences, in_tx, introspections, messages, thread_changes};
use crate::core::error::CoreError;
use crate::core::events::{DomainEvent, EventRecord};
use crate::core::ids::{AgentId, OrgId, ThreadId};
use crate::core::ports::{
    ClaimRefusal, Fence, NewAnnouncement, StoreError, StoreResult, ThreadDecision, ThreadFilter, ThreadStore,
    ThreadUpdate,
};
use crate::core::threads::{Introspection, Message, Thread};
use crate::core::time::Timestamp;

/// `list_threads`: filters in SQL (an absent filter is a NULL parameter), newest first; a `limit` of 0 means no
/// limit. The module filter matches an element of the `target_modules` JSON list exactly.
async fn list(c: &mut PgConnection, org: &OrgId, f: &ThreadFilter) -> StoreResult<Vec<Thread>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        thread_cols!(),
        " FROM threads WHERE org_id = $1 AND ($2::text IS NULL OR status = $2) \
         AND ($3::text IS NULL OR initiator_id = $3) \
         AND ($4::text IS NULL OR EXISTS \
             (SELECT 1 FROM jsonb_array_elements_text(threads.target_modules::jsonb) AS m(v) WHERE m.v = $4)) \
         AND ($5::text IS NULL OR assigned_to IS NULL OR assigned_to = $5) \
         ORDER BY created_at DESC, ord DESC LIMIT $6"
    ))
    .bind(org.as_str())
    .bind(f.status.map(|s| s.as_str()))
    .bind(f.initiator.as_ref().map(AgentId::as_str))
    .bind(f.module.as_deref())
    .bind(f.assigned_to_me.as_ref().map(AgentId::as_str))
    .bind((f.limit != 0).then(|| codec::limit(f.limit)))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(thread_rows::decode).collect()
}

/// Live threads of every org whose deadline (`created_at + timeout_seconds × round`) is before `now`.
async fn timed_out(c: &mut PgConnection, now: Timestamp) -> StoreResult<Vec<(OrgId, ThreadId)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT org_id, id FROM threads WHERE status IN ('open', 'resolving') AND timeout_seconds > 0 \
         AND created_at + make_interval(secs => timeout_seconds * round) < $1 ORDER BY created_at, ord",
    )
    .bind(codec::ms(now))
    .fetch_all(&mut *c)
    .await?;
    Ok(rows.into_iter().map(|(o, t)| (OrgId::new(o), ThreadId::new(t))).collect())
}

#[async_trait]
impl ThreadStore for PgStore {
    async fn record_announcement(&self, ann: NewAnnouncement, now: Timestamp) -> StoreResult<Vec<EventRecord>> {
        in_tx!(self, |c| thread_changes::announce(c, ann, now).await)
    }

    async fn get_thread(&self, org: &OrgId, id: &ThreadId) -> StoreResult<Option<Thread>> {
        let mut c = self.conn().await?;
        thread_rows::get(&mut c, org, id).await
    }

    async fn thread_messages(&self, org: &OrgId, id: &ThreadId) -> StoreResult<Vec<Message>> {
        let mut c = self.conn().await?;
        messages::of_thread(&mut c, org, id).await
    }

    async fn update_thread_fenced(
        &self,
        org: &OrgId,
        id: &ThreadId,
        now: Timestamp,
        decide: ThreadDecision,
        fence: Option<&Fence>,
    ) -> Result<ThreadUpdate, CoreError> {
        let mut tx = self.begin().await?;
        fences::check(&mut tx, fence).await?;
        let out = thread_changes::update(&mut tx, org, id, now, decide).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(out)
    }

    async fn list_threads(&self, org: &OrgId, filter: &ThreadFilter) -> StoreResult<Vec<Thread>> {
        let mut c = self.conn().await?;
        list(&mut c, org, filter).await
    }

    async fn thread_updates(
        &self,
        org: &OrgId,
        agent: &AgentId,
        since: Option<Timestamp>,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        let mut c = self.conn().await?;
        messages::updates(&mut c, org, agent, since, limit).await
    }

    async fn timed_out_threads(&self, now: Timestamp) -> StoreResult<Vec<(OrgId, ThreadId)>> {
        let mut c = self.conn().await?;
        timed_out(&mut c, now).await
    }

    async fn claim_task(
        &self,
        org: &OrgId,
        id: &ThreadId,
        agent: &AgentId,
        now: Timestamp,
        event: DomainEvent,
    ) -> StoreResult<Result<(Thread, Vec<EventRecord>), ClaimRefusal>> {
        in_tx!(self, |c| thread_changes::claim(c, org, id, agent, now, event).await)
    }

    async fn pending_introspections(
        &self,
        org: &OrgId,
        agent: &AgentId,
        limit: usize,
    ) -> StoreResult<Vec<Introspection>> {
        let mut c = self.conn().await?;
        introspections::pending(&mut c, org, agent, limit).await
    }

    async fn get_introspection(&self, org: &OrgId, id: &str) -> StoreResult<Option<Introspection>> {
        let mut c = self.conn().await?;
        introspections::get(&mut c, org, id).await
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
        in_tx!(self, |c| introspections::respond(c, org, id, (concerned, reason), now, event).await)
    }
}
