//! The thread state machine (threads.md §2.2–2.4) as pure functions from a `ThreadState` to a `ThreadChange`.
//! The store runs them inside the transaction that holds the thread, so racing callers serialise and only the
//! winner of a transition writes its messages and events: exactly one resolution per thread.

use super::model::{Message, MessageType, ResolutionType, Thread, ThreadStatus, token_estimate};
use crate::core::error::CoreError;
use crate::core::events::DomainEvent;
use crate::core::ids::{AgentId, new_uuid};
use crate::core::ports::{ThreadChange, ThreadState};
use crate::core::time::Timestamp;

pub const TIMEOUT_SUMMARY: &str = "Resolved by timeout: no response before the deadline";
pub const AUTO_SUMMARY: &str = "Auto-resolved: no other agent is concerned";
pub const NO_RESPONDENT_SUMMARY: &str = "Resolved: no respondent remains";

/// Who acts and under which display name.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: AgentId,
    pub name: Option<String>,
}

/// Builds a message at the thread's current round.
pub fn message(t: &Thread, actor: &Actor, kind: MessageType, content: &str, now: Timestamp) -> Message {
    Message {
        id: new_uuid(),
        org_id: t.org_id.clone(),
        thread_id: t.id.clone(),
        agent_id: actor.id.clone(),
        agent_name: actor.name.clone(),
        kind,
        content: content.to_owned(),
        context_snapshot: None,
        in_reply_to: None,
        round: t.round,
        token_estimate: token_estimate(content),
        created_at: now.trunc_secs(),
    }
}

/// The `message_posted` event of a message.
pub fn posted_event(m: &Message) -> DomainEvent {
    DomainEvent::MessagePosted {
        thread_id: m.thread_id.to_string(),
        message_id: m.id.clone(),
        agent_id: m.agent_id.to_string(),
        agent_name: m.agent_name.clone(),
        kind: m.kind.as_str().to_owned(),
        content: m.content.clone(),
        round: m.round,
        token_estimate: m.token_estimate,
    }
}

/// The central resolution hook: row fields and the `thread_resolved` event.
pub fn resolve(
    t: &mut Thread,
    kind: ResolutionType,
    summary: Option<String>,
    approved_by: Option<&Actor>,
    had_messages: bool,
    now: Timestamp,
) -> DomainEvent {
    let now = now.trunc_secs();
    t.status = ThreadStatus::Resolved;
    t.resolution_type = Some(kind);
    t.resolution_summary = summary;
    t.resolved_at = Some(now);
    DomainEvent::ThreadResolved {
        thread_id: t.id.to_string(),
        resolution_type: kind.as_str().to_owned(),
        resolution: t.resolution_summary.clone(),
        approved_by: approved_by.map(|a| a.id.to_string()),
        approved_by_name: approved_by.and_then(|a| a.name.clone()),
        created_at: t.created_at.t1(),
        resolved_at: now.t1(),
        had_messages,
    }
}

fn change(thread: Thread, messages: Vec<Message>, events: Vec<DomainEvent>, expire: bool) -> ThreadChange {
    ThreadChange { thread, messages, events, expire_introspections: expire }
}

/// An agent posts context, a suggestion or a warning. Allowed unless cancelled.
pub fn post(s: &ThreadState, msg: Message) -> Result<ThreadChange, CoreError> {
    if s.thread.status == ThreadStatus::Cancelled {
        return Err(CoreError::ThreadCancelled(s.thread.id.to_string()));
    }
    let mut msg = msg;
    msg.round = s.thread.round;
    let ev = posted_event(&msg);
    Ok(change(s.thread.clone(), vec![msg], vec![ev], false))
}

/// The initiator or claimant proposes a resolution.
pub fn propose(s: &ThreadState, actor: &Actor, summary: &str, now: Timestamp) -> Result<ThreadChange, CoreError> {
    let t = &s.thread;
    if t.initiator_id != actor.id && t.claimed_by.as_ref() != Some(&actor.id) {
        return Err(CoreError::NotInitiatorOrClaimant);
    }
    let msg = message(t, actor, MessageType::Resolution, summary, now);
    match t.status {
        ThreadStatus::Cancelled | ThreadStatus::Poisoned => Err(CoreError::CannotPropose(t.status.to_string())),
        ThreadStatus::Resolved => {
            let ev = posted_event(&msg);
            Ok(change(t.clone(), vec![msg], vec![ev], false))
        }
        ThreadStatus::Open | ThreadStatus::Resolving => {
            let mut next = t.clone();
            next.status = ThreadStatus::Resolving;
            next.resolution_summary = Some(summary.to_owned());
            let events = vec![
                posted_event(&msg),
                DomainEvent::ResolutionProposed {
                    thread_id: t.id.to_string(),
                    agent_id: actor.id.to_string(),
                    agent_name: actor.name.clone(),
                    summary: summary.to_owned(),
                },
            ];
            Ok(change(next, vec![msg], events, false))
        }
    }
}

/// Consensus: every expected respondent approved in the current round (empty list: any approval).
pub fn has_consensus(expected: &[AgentId], approvals: &[AgentId]) -> bool {
    expected.iter().all(|e| approvals.contains(e))
}

/// An agent approves the proposal.
pub fn approve(s: &ThreadState, actor: &Actor, now: Timestamp) -> Result<ThreadChange, CoreError> {
    let t = &s.thread;
    if t.status != ThreadStatus::Resolving {
        return Err(CoreError::NotResolving(t.status.to_string()));
    }
    let msg = message(t, actor, MessageType::Approve, "approved", now);
    let mut events = vec![posted_event(&msg)];
    let mut approvals = s.approvals.clone();
    if !approvals.contains(&actor.id) {
        approvals.push(actor.id.clone());
    }
    let mut next = t.clone();
    let consensus = has_consensus(&t.expected_respondents, &approvals);
    if consensus {
        let summary = t.resolution_summary.clone();
        events.push(resolve(&mut next, ResolutionType::Consensus, summary, Some(actor), true, now));
    }
    Ok(change(next, vec![msg], events, consensus))
}

/// An agent contests the proposal: next round, or `max_rounds` resolution.
pub fn contest(s: &ThreadState, actor: &Actor, reason: &str, now: Timestamp) -> Result<ThreadChange, CoreError> {
    let t = &s.thread;
    if t.status != ThreadStatus::Resolving {
        return Err(CoreError::NotResolving(t.status.to_string()));
    }
    let msg = message(t, actor, MessageType::Contest, reason, now);
    let mut events = vec![posted_event(&msg)];
    let mut next = t.clone();
    let resolved = t.round + 1 > t.max_rounds;
    if resolved {
        let summary = format!("Resolved after reaching the maximum of {} rounds", t.max_rounds);
        events.push(resolve(&mut next, ResolutionType::MaxRounds, Some(summary), None, true, now));
    } else {
        next.status = ThreadStatus::Open;
        next.round += 1;
        next.resolution_summary = None;
    }
    Ok(change(next, vec![msg], events, resolved))
}

/// The initiator closes an open or resolving thread.
pub fn close(s: &ThreadState, actor: &Actor, summary: &str, now: Timestamp) -> Result<ThreadChange, CoreError> {
    let t = &s.thread;
    if t.initiator_id != actor.id {
        return Err(CoreError::NotInitiatorClose);
    }
    if !t.status.is_live() {
        return Err(CoreError::CannotClose { id: t.id.to_string(), status: t.status.to_string() });
    }
    let mut next = t.clone();
    let ev = resolve(&mut next, ResolutionType::Closed, Some(summary.to_owned()), None, s.message_count > 0, now);
    Ok(change(next, Vec::new(), vec![ev], true))
}

/// The initiator cancels the thread, from any state.
pub fn cancel(s: &ThreadState, actor: &Actor, reason: Option<&str>, now: Timestamp) -> Result<ThreadChange, CoreError> {
    let t = &s.thread;
    if t.initiator_id != actor.id {
        return Err(CoreError::NotInitiatorCancel);
    }
    let mut next = t.clone();
    next.status = ThreadStatus::Cancelled;
    next.resolved_at = Some(now.trunc_secs());
    let mut messages = Vec::new();
    let mut events = Vec::new();
    if let Some(r) = reason.filter(|r| !r.trim().is_empty()) {
        let msg = message(t, actor, MessageType::Context, &format!("Cancelled: {r}"), now);
        events.push(posted_event(&msg));
        messages.push(msg);
    }
    events.push(DomainEvent::ThreadCancelled {
        thread_id: t.id.to_string(),
        agent_id: actor.id.to_string(),
        reason: reason.map(str::to_owned),
    });
    Ok(change(next, messages, events, true))
}

/// The timeout sweeper's transition; `None` when the thread is no longer due (someone else won).
pub fn timeout(s: &ThreadState, now: Timestamp) -> Option<ThreadChange> {
    let t = &s.thread;
    let due = t.status.is_live() && t.deadline().is_some_and(|d| d < now.trunc_secs());
    due.then(|| {
        let mut next = t.clone();
        let ev = resolve(
            &mut next,
            ResolutionType::Timeout,
            Some(TIMEOUT_SUMMARY.to_owned()),
            None,
            s.message_count > 0,
            now,
        );
        change(next, Vec::new(), vec![ev], true)
    })
}

/// The claimant releases a claimed open thread; the second release poisons it.
pub fn unclaim(s: &ThreadState, agent: &AgentId) -> Option<ThreadChange> {
    let t = &s.thread;
    if t.status != ThreadStatus::Open || t.claimed_by.as_ref() != Some(agent) {
        return None;
    }
    let mut next = t.clone();
    next.claimed_by = None;
    next.claimed_at = None;
    next.unclaim_count += 1;
    if next.unclaim_count >= super::model::POISON_UNCLAIMS {
        next.status = ThreadStatus::Poisoned;
    }
    Some(change(next, Vec::new(), Vec::new(), false))
}

/// Departure of `agent` (threads.md §1.4 step 2–3) for one live thread involving it.
pub fn depart(s: &ThreadState, agent: &AgentId, now: Timestamp) -> Option<ThreadChange> {
    let t = &s.thread;
    if !t.status.is_live() {
        return None;
    }
    let mut next = t.clone();
    next.expected_respondents.retain(|a| a != agent);
    if next.claimed_by.as_ref() == Some(agent) && next.status == ThreadStatus::Open {
        next.claimed_by = None;
        next.claimed_at = None;
    }
    let remaining_approved = has_consensus(&next.expected_respondents, &s.approvals);
    let resolve_it = match t.status {
        ThreadStatus::Resolving => remaining_approved,
        _ => next.expected_respondents.is_empty() && !next.keep_open && next.assigned_to.is_none(),
    };
    let mut events = Vec::new();
    if resolve_it {
        let summary = t.resolution_summary.clone().or_else(|| Some(NO_RESPONDENT_SUMMARY.to_owned()));
        events.push(resolve(&mut next, ResolutionType::AgentDeparture, summary, None, s.message_count > 0, now));
    }
    (next != *t).then(|| change(next, Vec::new(), events, resolve_it))
}
