//! Races: compare-and-set decisions and claims, gapless per-org sequences under concurrent writers.

use std::sync::Arc;

use mcp_coordinator::core::files::ActionSummary;
use mcp_coordinator::core::ids::{SessionId, new_uuid};
use mcp_coordinator::core::ports::Store;
use mcp_coordinator::core::threads::ThreadStatus;

use super::claims::claimed_event;
use super::fixtures::*;

pub async fn racing_approvals_resolve_once(s: Arc<dyn Store>) {
    let o = default_org();
    let t = thread(&o, "init", &["f.rs"], at(0)); // no expected respondents: the first approval resolves
    announce(&s, &t).await;
    make_resolving(&s, &t, at(1)).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (s, o, id) = (Arc::clone(&s), o.clone(), t.id.clone());
        tasks
            .push(tokio::spawn(async move { s.update_thread(&o, &id, at(2), approve(&format!("r{i}"), at(2))).await }));
    }
    let mut ok = 0;
    for task in tasks {
        if task.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 1, "only the first approval sees a resolving thread");
    let events = s.latest_events(&o, 1000).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "thread_resolved").count(), 1);
    assert_eq!(s.get_thread(&o, &t.id).await.unwrap().unwrap().status, ThreadStatus::Resolved);
}

pub async fn racing_claims_succeed_once(s: Arc<dyn Store>) {
    let o = default_org();
    let t = thread(&o, "orch", &["f.rs"], at(0));
    announce(&s, &t).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (s, o, id) = (Arc::clone(&s), o.clone(), t.id.clone());
        let w = format!("w{i}");
        tasks.push(tokio::spawn(
            async move { s.claim_task(&o, &id, &aid(&w), at(1), claimed_event(&id, &w, at(1))).await },
        ));
    }
    let mut winners = Vec::new();
    for task in tasks {
        if let Ok((t, _)) = task.await.unwrap().unwrap() {
            winners.push(t.claimed_by.unwrap());
        }
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(s.get_thread(&o, &t.id).await.unwrap().unwrap().claimed_by, Some(winners[0].clone()));
    assert_eq!(s.latest_events(&o, 100).await.unwrap().iter().filter(|e| e.kind == "task_claimed").count(), 1);
}

pub async fn gapless_sequences_under_concurrency(s: Arc<dyn Store>) {
    let orgs = [org("seq-a"), org("seq-b")];
    for o in &orgs {
        s.ensure_org(o).await.unwrap();
    }
    let mut tasks = Vec::new();
    for task in 0..8 {
        let (s, o) = (Arc::clone(&s), orgs[task % 2].clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                let sum = ActionSummary {
                    id: new_uuid(),
                    org_id: o.clone(),
                    session_id: SessionId::new(format!("t{task}")),
                    agent_id: aid(&format!("agent{task}")),
                    file_path: None,
                    summary: format!("{i}"),
                    created_at: at(i),
                };
                s.record_summary(&sum, online_event("x")).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for o in &orgs {
        let seqs: Vec<i64> = s.events_after(o, 0, 10_000).await.unwrap().into_iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=200).collect::<Vec<i64>>(), "org {o}");
    }
}

/// Claims of different threads sharing a target file, by different agents, at once: exactly one may win (no
/// write skew between the conflict check of one claim and the update of another).
pub async fn racing_claims_on_threads_sharing_a_file_succeed_once(s: Arc<dyn Store>) {
    let o = default_org();
    let threads: Vec<_> = (0..6).map(|i| thread(&o, "orch", &["shared.rs", &format!("own{i}.rs")], at(i))).collect();
    for t in &threads {
        announce(&s, t).await;
    }
    let mut tasks = Vec::new();
    for (i, t) in threads.iter().enumerate() {
        let (s, o, id) = (Arc::clone(&s), o.clone(), t.id.clone());
        let w = format!("w{i}");
        tasks.push(tokio::spawn(async move {
            s.claim_task(&o, &id, &aid(&w), at(10), claimed_event(&id, &w, at(10))).await
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Ok(_) => wins += 1,
            Err(refusal) => assert!(refusal.conflict.is_some(), "refused for the conflict: {refusal:?}"),
        }
    }
    assert_eq!(wins, 1);
    let all = mcp_coordinator::core::ports::ThreadFilter { limit: 0, ..Default::default() };
    let claimed = s.list_threads(&o, &all).await.unwrap();
    assert_eq!(claimed.iter().filter(|t| t.claimed_by.is_some()).count(), 1);
}
