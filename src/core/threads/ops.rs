//! Thread operations on `Core`. Each transition runs a pure `machine` function inside the store's transaction;
//! the index and the bus follow the commit.

use crate::core::announce::sync::IndexChange;
use serde::Serialize;

use super::machine::{self, Actor};
use super::model::{Introspection, Message, MessageType, Thread, ThreadStatus};
use crate::core::error::{CoreError, CoreResult};
use crate::core::events::DomainEvent;
use crate::core::facade::Core;
use crate::core::ids::{AgentId, ThreadId};
use crate::core::ports::{ClaimRefusal, Fence, ThreadDecision, ThreadFilter, ThreadUpdate};
use crate::core::principal::Principal;
use crate::core::time::Timestamp;

/// Caps of list reads.
pub const MAX_UPDATES: usize = 1000;
pub const DEFAULT_LIST_LIMIT: usize = 200;
pub const MAX_LIST_LIMIT: usize = 1000;
pub const MAX_PENDING_INTROSPECTIONS: usize = 100;

/// `{thread, messages}` of `get_thread`.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadWithMessages {
    pub thread: Thread,
    pub messages: Vec<Message>,
}

/// A post by an agent.
#[derive(Debug, Clone, Default)]
pub struct PostInput {
    pub thread_id: String,
    pub agent_id: String,
    pub agent_name: Option<String>,
    pub kind: String,
    pub content: String,
    pub context_snapshot: Option<String>,
    pub in_reply_to: Option<String>,
}

/// Outcome of a work-pool claim.
#[derive(Debug, Clone)]
pub enum ClaimOutcome {
    Claimed(Box<Thread>),
    Refused(ClaimRefusal),
}

fn non_empty(field: &str, v: &str) -> CoreResult<()> {
    if v.trim().is_empty() { Err(CoreError::invalid(field, "must not be empty")) } else { Ok(()) }
}

impl Core {
    /// Runs a decision on one thread and applies the commit to index and bus.
    async fn transition(&self, p: &Principal, id: &ThreadId, decide: ThreadDecision) -> CoreResult<ThreadUpdate> {
        self.transition_fenced(p, id, decide, None).await
    }

    /// `transition` for a singleton job: the store refuses it when `fence` is stale.
    async fn transition_fenced(
        &self,
        p: &Principal,
        id: &ThreadId,
        decide: ThreadDecision,
        fence: Option<&Fence>,
    ) -> CoreResult<ThreadUpdate> {
        let slot = self.slot(&p.org);
        let _w = slot.write.lock().await;
        let now = self.now();
        let update = self.inner.store.update_thread_fenced(&p.org, id, now, decide, fence).await?;
        self.change_index(&p.org, &slot, vec![IndexChange::thread(&update.thread)]);
        drop(_w);
        self.publish(&update.events);
        Ok(update)
    }

    async fn actor(&self, p: &Principal, id: &AgentId, name: Option<String>) -> CoreResult<Actor> {
        let name = match name.filter(|n| !n.trim().is_empty()) {
            Some(n) => Some(n),
            None => self.inner.store.get_agent(&p.org, id).await?.map(|a| a.name),
        };
        Ok(Actor { id: id.clone(), name })
    }

    /// `post_to_thread`.
    pub async fn post_to_thread(&self, p: &Principal, input: PostInput) -> CoreResult<Message> {
        let tid = ThreadId::parse("thread_id", &input.thread_id)?;
        let agent = AgentId::parse("agent_id", &input.agent_id)?;
        let kind = match MessageType::parse(&input.kind) {
            Some(k @ (MessageType::Context | MessageType::Suggestion | MessageType::Warning)) => k,
            _ => return Err(CoreError::invalid("type", "must be one of context, suggestion, warning")),
        };
        non_empty("content", &input.content)?;
        self.touch(p, &agent, true).await?;
        let actor = self.actor(p, &agent, input.agent_name).await?;
        let (snapshot, reply) = (input.context_snapshot, input.in_reply_to);
        let content = input.content;
        let now = self.now();
        let decide: ThreadDecision = Box::new(move |s| {
            let mut m = machine::message(&s.thread, &actor, kind, &content, now);
            m.context_snapshot = snapshot;
            m.in_reply_to = reply;
            machine::post(s, m)
        });
        let mut update = self.transition(p, &tid, decide).await?;
        update.messages.pop().ok_or_else(|| CoreError::ThreadNotFound(tid.to_string()))
    }

    /// `propose_resolution`.
    pub async fn propose_resolution(
        &self,
        p: &Principal,
        thread_id: &str,
        agent_id: &str,
        summary: &str,
    ) -> CoreResult<Thread> {
        let tid = ThreadId::parse("thread_id", thread_id)?;
        let actor = self.actor(p, &AgentId::parse("agent_id", agent_id)?, None).await?;
        non_empty("summary", summary)?;
        let summary = summary.to_owned();
        let now = self.now();
        Ok(self.transition(p, &tid, Box::new(move |s| machine::propose(s, &actor, &summary, now))).await?.thread)
    }

    /// `approve_resolution`.
    pub async fn approve_resolution(&self, p: &Principal, thread_id: &str, agent_id: &str) -> CoreResult<Thread> {
        let tid = ThreadId::parse("thread_id", thread_id)?;
        let actor = self.actor(p, &AgentId::parse("agent_id", agent_id)?, None).await?;
        let now = self.now();
        Ok(self.transition(p, &tid, Box::new(move |s| machine::approve(s, &actor, now))).await?.thread)
    }

    /// `contest_resolution`.
    pub async fn contest_resolution(
        &self,
        p: &Principal,
        thread_id: &str,
        agent_id: &str,
        reason: &str,
    ) -> CoreResult<Thread> {
        let tid = ThreadId::parse("thread_id", thread_id)?;
        let actor = self.actor(p, &AgentId::parse("agent_id", agent_id)?, None).await?;
        non_empty("reason", reason)?;
        let reason = reason.to_owned();
        let now = self.now();
        Ok(self.transition(p, &tid, Box::new(move |s| machine::contest(s, &actor, &reason, now))).await?.thread)
    }

    /// `close_thread`.
    pub async fn close_thread(
        &self,
        p: &Principal,
        thread_id: &str,
        agent_id: &str,
        summary: &str,
    ) -> CoreResult<Thread> {
        let tid = ThreadId::parse("thread_id", thread_id)?;
        let actor = self.actor(p, &AgentId::parse("agent_id", agent_id)?, None).await?;
        non_empty("summary", summary)?;
        let summary = summary.to_owned();
        let now = self.now();
        Ok(self.transition(p, &tid, Box::new(move |s| machine::close(s, &actor, &summary, now))).await?.thread)
    }

    /// `cancel_thread`.
    pub async fn cancel_thread(
        &self,
        p: &Principal,
        thread_id: &str,
        agent_id: &str,
        reason: Option<&str>,
    ) -> CoreResult<Thread> {
        let tid = ThreadId::parse("thread_id", thread_id)?;
        let actor = self.actor(p, &AgentId::parse("agent_id", agent_id)?, None).await?;
        let reason = reason.map(str::to_owned);
        let now = self.now();
        Ok(self
            .transition(p, &tid, Box::new(move |s| machine::cancel(s, &actor, reason.as_deref(), now)))
            .await?
            .thread)
    }

    /// `get_thread`.
    pub async fn get_thread(&self, p: &Principal, thread_id: &str) -> CoreResult<ThreadWithMessages> {
        let tid = ThreadId::parse("thread_id", thread_id)?;
        let thread = self
            .inner
            .store
            .get_thread(&p.org, &tid)
            .await?
            .ok_or_else(|| CoreError::ThreadNotFound(tid.to_string()))?;
        let messages = self.inner.store.thread_messages(&p.org, &tid).await?;
        Ok(ThreadWithMessages { thread, messages })
    }

    /// `get_thread_updates`.
    pub async fn get_thread_updates(
        &self,
        p: &Principal,
        agent_id: &str,
        since: Option<&str>,
    ) -> CoreResult<Vec<Message>> {
        let agent = AgentId::parse("agent_id", agent_id)?;
        let since = match since.filter(|s| !s.trim().is_empty()) {
            Some(s) => Some(Timestamp::parse(s).ok_or_else(|| {
                CoreError::invalid("since", "expected 'YYYY-MM-DD HH:MM:SS' (UTC) or ISO-8601 with an offset")
            })?),
            None => None,
        };
        Ok(self.inner.store.thread_updates(&p.org, &agent, since, MAX_UPDATES).await?)
    }

    /// `list_threads`.
    pub async fn list_threads(&self, p: &Principal, mut filter: ThreadFilter) -> CoreResult<Vec<Thread>> {
        if filter.limit == 0 {
            filter.limit = DEFAULT_LIST_LIMIT;
        }
        if filter.limit > MAX_LIST_LIMIT {
            return Err(CoreError::invalid("limit", format!("must be between 1 and {MAX_LIST_LIMIT}")));
        }
        Ok(self.inner.store.list_threads(&p.org, &filter).await?)
    }

    /// `POST /api/claim-task`.
    pub async fn claim_task(&self, p: &Principal, thread_id: &str, agent_id: &str) -> CoreResult<ClaimOutcome> {
        let tid = ThreadId::parse("thread_id", thread_id)?;
        let agent = AgentId::parse("agent_id", agent_id)?;
        let slot = self.slot(&p.org);
        let _w = slot.write.lock().await;
        let now = self.now().trunc_secs();
        let ev =
            DomainEvent::TaskClaimed { thread_id: tid.to_string(), agent_id: agent.to_string(), claimed_at: now.t1() };
        match self.inner.store.claim_task(&p.org, &tid, &agent, now, ev).await? {
            Ok((thread, events)) => {
                self.change_index(&p.org, &slot, vec![IndexChange::thread(&thread)]);
                drop(_w);
                self.publish(&events);
                Ok(ClaimOutcome::Claimed(Box::new(thread)))
            }
            Err(refusal) => Ok(ClaimOutcome::Refused(refusal)),
        }
    }

    /// `POST /api/unclaim-task`: `(success, poisoned)`.
    pub async fn unclaim_task(&self, p: &Principal, thread_id: &str, agent_id: &str) -> CoreResult<(bool, bool)> {
        let tid = ThreadId::parse("thread_id", thread_id)?;
        let agent = AgentId::parse("agent_id", agent_id)?;
        let refused = CoreError::invalid("agent_id", "not the claimant of an open thread");
        let decide: ThreadDecision = Box::new(move |s| machine::unclaim(s, &agent).ok_or(refused));
        match self.transition(p, &tid, decide).await {
            Ok(u) => Ok((true, u.thread.status == ThreadStatus::Poisoned)),
            Err(CoreError::InvalidArgument { .. }) => Ok((false, false)),
            Err(e) => Err(e),
        }
    }

    /// Pending introspections of an agent, newest first.
    pub async fn pending_introspections(&self, p: &Principal, agent_id: &str) -> CoreResult<Vec<Introspection>> {
        let agent = AgentId::parse("agent_id", agent_id)?;
        Ok(self.inner.store.pending_introspections(&p.org, &agent, MAX_PENDING_INTROSPECTIONS).await?)
    }

    /// `POST /api/introspection-response`: the row and whether the agent joined the respondents.
    pub async fn respond_introspection(
        &self,
        p: &Principal,
        id: &str,
        concerned: bool,
        reason: &str,
    ) -> CoreResult<(Introspection, bool)> {
        non_empty("introspection_id", id)?;
        let slot = self.slot(&p.org);
        let _w = slot.write.lock().await;
        let Some(existing) = self.inner.store.get_introspection(&p.org, id).await? else {
            return Err(CoreError::IntrospectionNotFound(id.to_owned()));
        };
        match existing.status {
            super::IntrospectionStatus::Responded => return Err(CoreError::AlreadyResponded(id.to_owned())),
            super::IntrospectionStatus::Expired => return Err(CoreError::IntrospectionExpired(id.to_owned())),
            super::IntrospectionStatus::Pending => {}
        }
        let ev = DomainEvent::IntrospectionCompleted {
            introspection_id: id.to_owned(),
            thread_id: existing.thread_id.to_string(),
            agent_id: existing.agent_id.to_string(),
            concerned,
            reason: reason.to_owned(),
            joined: false,
        };
        let now = self.now();
        let Some((row, joined, events)) =
            self.inner.store.respond_introspection(&p.org, id, concerned, reason, now, ev).await?
        else {
            return Err(CoreError::AlreadyResponded(id.to_owned()));
        };
        drop(_w);
        self.publish(&events);
        Ok((row, joined))
    }

    /// One pass of the timeout sweeper over every org; returns the threads it resolved. Each resolution carries
    /// `fence` (the `timeouts` lease); a stale fence stops the pass with `StoreError::Fenced`.
    pub async fn sweep_timeouts(&self, fence: Option<&Fence>) -> CoreResult<usize> {
        let now = self.now();
        let due = self.inner.store.timed_out_threads(now).await?;
        let mut resolved = 0;
        for (org, tid) in due {
            let p = Principal::member_of(org, "timeout-sweeper");
            let decide: ThreadDecision = Box::new(move |s| {
                machine::timeout(s, now).ok_or_else(|| CoreError::invalid("thread", "no longer due"))
            });
            match self.transition_fenced(&p, &tid, decide, fence).await {
                Ok(_) => resolved += 1,
                Err(CoreError::InvalidArgument { .. } | CoreError::ThreadNotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(resolved)
    }
}
