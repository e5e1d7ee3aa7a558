//! Builders for rows, events and decisions used by the conformance checks.

use std::sync::Arc;

use mcp_coordinator::core::agents::{Agent, AgentStatus};
use mcp_coordinator::core::error::CoreError;
use mcp_coordinator::core::events::DomainEvent;
use mcp_coordinator::core::ids::{AgentId, OrgId, ThreadId, new_uuid};
use mcp_coordinator::core::paths::RepoPath;
use mcp_coordinator::core::ports::{NewAnnouncement, Store, ThreadChange, ThreadDecision, ThreadState};
use mcp_coordinator::core::threads::{
    Introspection, IntrospectionStatus, Message, MessageType, ResolutionType, Thread, ThreadStatus, token_estimate,
};
use mcp_coordinator::core::time::Timestamp;

/// 2026-11-25 10:00:00 UTC plus `secs`.
pub fn at(secs: i64) -> Timestamp {
    Timestamp::parse("2026-11-25 10:00:00").unwrap().plus_secs(secs)
}

pub fn org(s: &str) -> OrgId {
    OrgId::new(s)
}

pub fn aid(s: &str) -> AgentId {
    AgentId::new(s)
}

pub fn path(s: &str) -> RepoPath {
    RepoPath::from_stored(s)
}

pub fn paths(v: &[&str]) -> Vec<RepoPath> {
    v.iter().map(|s| path(s)).collect()
}

pub fn default_org() -> OrgId {
    OrgId::default_org()
}

/// An agent row seen at `now`.
pub fn agent(org: &OrgId, id: &str, name: &str, now: Timestamp) -> Agent {
    Agent {
        id: aid(id),
        org_id: org.clone(),
        name: name.into(),
        modules: vec!["src/auth".into()],
        status: AgentStatus::Online,
        registered_at: now,
        last_seen_at: now,
    }
}

pub fn online_event(id: &str) -> DomainEvent {
    DomainEvent::AgentOnline { agent_id: id.into(), name: id.into(), modules: vec![] }
}

pub fn offline_event(id: &str) -> DomainEvent {
    DomainEvent::AgentOffline { agent_id: id.into(), name: id.into(), reason: "session_stop".into() }
}

/// An open thread by `initiator` on `files` created at `now`.
pub fn thread(org: &OrgId, initiator: &str, files: &[&str], now: Timestamp) -> Thread {
    Thread {
        id: ThreadId::generate(),
        org_id: org.clone(),
        initiator_id: aid(initiator),
        subject: format!("work on {}", files.join(", ")),
        plan: Some("edit the files".into()),
        target_modules: vec!["src/auth".into()],
        target_files: paths(files),
        depends_on_files: None,
        exports_affected: None,
        status: ThreadStatus::Open,
        resolution_summary: None,
        resolution_type: None,
        conflicts: None,
        round: 1,
        max_rounds: 4,
        timeout_seconds: 600,
        keep_open: false,
        created_at: now,
        resolved_at: None,
        expected_respondents: vec![],
        claimed_by: None,
        claimed_at: None,
        unclaim_count: 0,
        assigned_to: None,
        run_id: None,
    }
}

pub fn opened_event(t: &Thread) -> DomainEvent {
    DomainEvent::ThreadOpened {
        thread_id: t.id.to_string(),
        initiator: t.initiator_id.to_string(),
        agent_id: t.initiator_id.to_string(),
        agent_name: t.initiator_id.to_string(),
        subject: t.subject.clone(),
        status: t.status.as_str().into(),
        target_modules: t.target_modules.clone(),
        target_files: t.target_files.iter().map(|p| p.to_string()).collect(),
        conflicts: serde_json::json!([]),
        expected_respondents: t.expected_respondents.iter().map(|a| a.to_string()).collect(),
        mode: "with_plan".into(),
        plan: t.plan.clone(),
        plan_quality: serde_json::json!({"score": 3}),
        run_id: None,
        created_at: t.created_at.t1(),
    }
}

/// The announcement of `t` with no firings or introspections.
pub fn announcement(t: &Thread) -> NewAnnouncement {
    NewAnnouncement {
        thread: t.clone(),
        announcer_name: format!("{} name", t.initiator_id),
        firings: vec![],
        introspections: vec![],
        events: vec![opened_event(t)],
        layer0_known: None,
        resolved_since: t.created_at,
    }
}

/// Records `t` as announced at its creation time.
pub async fn announce(store: &Arc<dyn Store>, t: &Thread) {
    store.record_announcement(announcement(t), t.created_at).await.unwrap();
}

pub fn message(t: &Thread, agent: &str, kind: MessageType, round: i64, now: Timestamp) -> Message {
    let content = format!("{} by {agent}", kind.as_str());
    Message {
        id: new_uuid(),
        org_id: t.org_id.clone(),
        thread_id: t.id.clone(),
        agent_id: aid(agent),
        agent_name: Some(format!("{agent} name")),
        kind,
        token_estimate: token_estimate(&content),
        content,
        context_snapshot: None,
        in_reply_to: None,
        round,
        created_at: now,
    }
}

pub fn posted_event(m: &Message) -> DomainEvent {
    DomainEvent::MessagePosted {
        thread_id: m.thread_id.to_string(),
        message_id: m.id.clone(),
        agent_id: m.agent_id.to_string(),
        agent_name: m.agent_name.clone(),
        kind: m.kind.as_str().into(),
        content: m.content.clone(),
        round: m.round,
        token_estimate: m.token_estimate,
    }
}

pub fn resolved_event(t: &Thread, kind: ResolutionType) -> DomainEvent {
    DomainEvent::ThreadResolved {
        thread_id: t.id.to_string(),
        resolution_type: kind.as_str().into(),
        resolution: t.resolution_summary.clone(),
        approved_by: None,
        approved_by_name: None,
        created_at: t.created_at.t1(),
        resolved_at: t.resolved_at.unwrap_or_default().t1(),
        had_messages: true,
    }
}

pub fn introspection(t: &Thread, agent: &str, now: Timestamp) -> Introspection {
    Introspection {
        id: new_uuid(),
        org_id: t.org_id.clone(),
        thread_id: t.id.clone(),
        agent_id: aid(agent),
        score: 30,
        reasons: vec!["Module overlap: src/auth".into()],
        status: IntrospectionStatus::Pending,
        response: None,
        concerned: None,
        created_at: now,
        responded_at: None,
    }
}

/// A simplified approve decision (threads.md §2.3): requires resolving; consensus when every expected respondent
/// approved in the current round (empty list: first approval).
pub fn approve(agent: &str, now: Timestamp) -> ThreadDecision {
    let agent = aid(agent);
    Box::new(move |s: &ThreadState| {
        if s.thread.status != ThreadStatus::Resolving {
            return Err(CoreError::NotResolving(s.thread.status.to_string()));
        }
        let msg = message(&s.thread, agent.as_str(), MessageType::Approve, s.thread.round, now);
        let mut approvals = s.approvals.clone();
        approvals.push(agent.clone());
        let mut thread = s.thread.clone();
        let mut events = vec![posted_event(&msg)];
        let consensus = thread.expected_respondents.iter().all(|r| approvals.contains(r));
        if consensus {
            thread.status = ThreadStatus::Resolved;
            thread.resolution_type = Some(ResolutionType::Consensus);
            thread.resolved_at = Some(now);
            events.push(resolved_event(&thread, ResolutionType::Consensus));
        }
        Ok(ThreadChange { thread, messages: vec![msg], events, expire_introspections: consensus })
    })
}

/// A decision that moves an open thread to resolving with `summary`.
pub fn propose(agent: &str, summary: &str, now: Timestamp) -> ThreadDecision {
    let (agent, summary) = (aid(agent), summary.to_owned());
    Box::new(move |s: &ThreadState| {
        let mut thread = s.thread.clone();
        thread.status = ThreadStatus::Resolving;
        thread.resolution_summary = Some(summary.clone());
        let msg = message(&thread, agent.as_str(), MessageType::Resolution, thread.round, now);
        let event = DomainEvent::ResolutionProposed {
            thread_id: thread.id.to_string(),
            agent_id: agent.to_string(),
            agent_name: None,
            summary,
        };
        Ok(ThreadChange { thread, messages: vec![msg], events: vec![event], expire_introspections: false })
    })
}

/// Moves `t` (already announced) to resolving.
pub async fn make_resolving(store: &Arc<dyn Store>, t: &Thread, now: Timestamp) {
    store.update_thread(&t.org_id, &t.id, now, propose(t.initiator_id.as_str(), "done", now)).await.unwrap();
}
