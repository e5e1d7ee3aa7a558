//! Work-pool claim checks (threads.md §2.5).

use std::sync::Arc;

use mcp_coordinator::core::events::DomainEvent;
use mcp_coordinator::core::ids::ThreadId;
use mcp_coordinator::core::ports::{ClaimRefusal, Store};
use mcp_coordinator::core::threads::ThreadStatus;
use mcp_coordinator::core::time::Timestamp;

use super::fixtures::*;

pub fn claimed_event(t: &ThreadId, agent: &str, now: Timestamp) -> DomainEvent {
    DomainEvent::TaskClaimed { thread_id: t.to_string(), agent_id: agent.into(), claimed_at: now.t1() }
}

pub async fn claim_success_and_refusals(s: Arc<dyn Store>) {
    let o = default_org();
    let free = thread(&o, "orch", &["a.rs"], at(0));
    let mut assigned = thread(&o, "orch", &["b.rs"], at(0));
    assigned.assigned_to = Some(aid("w2"));
    let mut resolved = thread(&o, "orch", &["c.rs"], at(0));
    resolved.status = ThreadStatus::Resolved;
    for t in [&free, &assigned, &resolved] {
        announce(&s, t).await;
    }
    let (t, ev) =
        s.claim_task(&o, &free.id, &aid("w1"), at(5), claimed_event(&free.id, "w1", at(5))).await.unwrap().unwrap();
    assert_eq!((t.claimed_by.clone(), t.claimed_at), (Some(aid("w1")), Some(at(5))));
    assert_eq!(ev[0].kind, "task_claimed");
    assert_eq!(s.get_thread(&o, &free.id).await.unwrap().unwrap(), t);
    let again = s.claim_task(&o, &free.id, &aid("w2"), at(6), claimed_event(&free.id, "w2", at(6))).await.unwrap();
    assert_eq!(
        again.unwrap_err(),
        ClaimRefusal {
            claimed_by: Some(aid("w1")),
            assigned_to: None,
            status: Some(ThreadStatus::Open),
            conflict: None
        }
    );
    let wrong =
        s.claim_task(&o, &assigned.id, &aid("w1"), at(6), claimed_event(&assigned.id, "w1", at(6))).await.unwrap();
    assert_eq!(wrong.unwrap_err().assigned_to, Some(aid("w2")));
    s.claim_task(&o, &assigned.id, &aid("w2"), at(7), claimed_event(&assigned.id, "w2", at(7))).await.unwrap().unwrap();
    let closed =
        s.claim_task(&o, &resolved.id, &aid("w1"), at(7), claimed_event(&resolved.id, "w1", at(7))).await.unwrap();
    assert_eq!(closed.unwrap_err().status, Some(ThreadStatus::Resolved));
    let missing = s
        .claim_task(&o, &ThreadId::new("nope"), &aid("w1"), at(7), claimed_event(&free.id, "w1", at(7)))
        .await
        .unwrap();
    assert_eq!(
        missing.unwrap_err(),
        ClaimRefusal { claimed_by: None, assigned_to: None, status: None, conflict: None }
    );
    let other_org =
        s.claim_task(&org("zzz"), &free.id, &aid("w1"), at(7), claimed_event(&free.id, "w1", at(7))).await.unwrap();
    assert_eq!(other_org.unwrap_err().status, None);
    // Only successful claims wrote events.
    assert_eq!(s.latest_events(&o, 100).await.unwrap().iter().filter(|e| e.kind == "task_claimed").count(), 2);
}

pub async fn claim_conflict_on_shared_target_file(s: Arc<dyn Store>) {
    let o = default_org();
    let first = thread(&o, "orch", &["shared.rs", "x.rs", "only-first.rs"], at(0));
    let second = thread(&o, "orch", &["x.rs", "shared.rs", "only-second.rs"], at(1));
    let mut depends_only = thread(&o, "orch", &["z.rs"], at(2));
    depends_only.depends_on_files = Some(paths(&["shared.rs"]));
    for t in [&first, &second, &depends_only] {
        announce(&s, t).await;
    }
    s.claim_task(&o, &first.id, &aid("w1"), at(5), claimed_event(&first.id, "w1", at(5))).await.unwrap().unwrap();
    let refused =
        s.claim_task(&o, &second.id, &aid("w2"), at(6), claimed_event(&second.id, "w2", at(6))).await.unwrap();
    assert_eq!(
        refused.unwrap_err(),
        ClaimRefusal {
            claimed_by: None,
            assigned_to: None,
            status: Some(ThreadStatus::Open),
            conflict: Some((first.id.clone(), paths(&["shared.rs", "x.rs"]))),
        }
    );
    // A depends-on file is not a target: no conflict.
    s.claim_task(&o, &depends_only.id, &aid("w2"), at(6), claimed_event(&depends_only.id, "w2", at(6)))
        .await
        .unwrap()
        .unwrap();
    // The same agent may hold both.
    s.claim_task(&o, &second.id, &aid("w1"), at(7), claimed_event(&second.id, "w1", at(7))).await.unwrap().unwrap();
}
