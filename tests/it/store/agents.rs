//! AgentStore checks: registration, liveness, activity, listings, departure.

use std::sync::{Arc, Mutex};

use mcp_coordinator::core::agents::{Activity, ActivityStatus, AgentStatus};
use mcp_coordinator::core::files::WorkingClaim;
use mcp_coordinator::core::ids::ThreadId;
use mcp_coordinator::core::ports::{DepartureDecision, Store, ThreadChange, ThreadState};
use mcp_coordinator::core::threads::{ResolutionType, ThreadStatus};

use super::fixtures::*;

pub async fn register_upserts_keeping_registered_at(s: Arc<dyn Store>) {
    let o = default_org();
    let (a, ev) = s.register_agent(&agent(&o, "a1", "Alice", at(0)), online_event("a1")).await.unwrap();
    assert_eq!(a.registered_at, at(0));
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].seq, 1);
    assert_eq!(ev[0].kind, "agent_online");
    let mut again = agent(&o, "a1", "Alice 2", at(60));
    again.modules = vec!["src/db".into(), "src/api".into()];
    again.registered_at = at(60);
    again.status = AgentStatus::Offline;
    let (b, ev) = s.register_agent(&again, online_event("a1")).await.unwrap();
    assert_eq!(ev[0].seq, 2);
    assert_eq!(b.name, "Alice 2");
    assert_eq!(b.modules, vec!["src/db".to_string(), "src/api".to_string()]);
    assert_eq!(b.registered_at, at(0), "registered_at is kept");
    assert_eq!(b.last_seen_at, at(60));
    assert_eq!(b.status, AgentStatus::Online);
    assert_eq!(s.get_agent(&o, &aid("a1")).await.unwrap(), Some(b));
    assert_eq!(s.get_agent(&o, &aid("nobody")).await.unwrap(), None);
}

pub async fn touch_refreshes_liveness(s: Arc<dyn Store>) {
    let o = default_org();
    assert_eq!(s.touch_agent(&o, &aid("ghost"), at(0), None).await.unwrap(), None);
    s.register_agent(&agent(&o, "a1", "A", at(0)), online_event("a1")).await.unwrap();
    // Hook traffic refreshes agents online since the cutoff only.
    let t = s.touch_agent(&o, &aid("a1"), at(100), Some(at(-900))).await.unwrap().unwrap();
    assert_eq!(t.last_seen_at, at(100));
    assert_eq!(s.touch_agent(&o, &aid("a1"), at(2000), Some(at(1000))).await.unwrap(), None, "stale");
    assert_eq!(s.get_agent(&o, &aid("a1")).await.unwrap().unwrap().last_seen_at, at(100));
    // An offline agent is never resurrected by hook traffic, but is by a plain touch.
    s.depart_agent(&o, &aid("a1"), at(200), Box::new(|_| vec![]), offline_event("a1")).await.unwrap();
    assert_eq!(s.touch_agent(&o, &aid("a1"), at(300), Some(at(0))).await.unwrap(), None);
    let t = s.touch_agent(&o, &aid("a1"), at(300), None).await.unwrap().unwrap();
    assert_eq!((t.status, t.last_seen_at), (AgentStatus::Online, at(300)));
}

pub async fn heartbeat_replaces_activity(s: Arc<dyn Store>) {
    let o = default_org();
    let working = Activity {
        agent_id: aid("a1"),
        activity_status: ActivityStatus::Working,
        current_file: Some(path("src/a.rs")),
        current_thread: Some(ThreadId::new("t-1")),
        last_activity_at: Some(at(10)),
    };
    assert!(s.heartbeat(&o, &working, at(10), online_event("a1")).await.unwrap().is_none());
    assert!(s.latest_events(&o, 10).await.unwrap().is_empty(), "unknown agent: nothing written");
    s.register_agent(&agent(&o, "a1", "A", at(0)), online_event("a1")).await.unwrap();
    s.depart_agent(&o, &aid("a1"), at(5), Box::new(|_| vec![]), offline_event("a1")).await.unwrap();
    let (a, ev) = s.heartbeat(&o, &working, at(10), online_event("a1")).await.unwrap().unwrap();
    assert_eq!((a.status, a.last_seen_at), (AgentStatus::Online, at(10)));
    assert_eq!(ev[0].seq, 3);
    assert_eq!(s.list_activity(&o).await.unwrap(), vec![working]);
    let idle = Activity {
        agent_id: aid("a1"),
        activity_status: ActivityStatus::Idle,
        current_file: None,
        current_thread: None,
        last_activity_at: Some(at(20)),
    };
    s.heartbeat(&o, &idle, at(20), online_event("a1")).await.unwrap().unwrap();
    assert_eq!(s.list_activity(&o).await.unwrap(), vec![idle]);
}

pub async fn listing_order_and_online_filter(s: Arc<dyn Store>) {
    let o = default_org();
    for (id, name, seen) in [("a1", "zed", 10), ("a2", "amy", 30), ("a3", "bob", 20), ("a4", "cat", -2000)] {
        s.register_agent(&agent(&o, id, name, at(seen)), online_event(id)).await.unwrap();
    }
    s.depart_agent(&o, &aid("a3"), at(40), Box::new(|_| vec![]), offline_event("a3")).await.unwrap();
    let all: Vec<String> = s.list_agents(&o).await.unwrap().into_iter().map(|a| a.id.to_string()).collect();
    assert_eq!(all, ["a2", "a3", "a1", "a4"], "last_seen_at descending");
    let online: Vec<String> = s.list_online(&o, at(10)).await.unwrap().into_iter().map(|a| a.name).collect();
    assert_eq!(online, ["amy", "zed"], "status online, last_seen >= cutoff (inclusive), by name");
}

pub async fn ensure_org_is_idempotent(s: Arc<dyn Store>) {
    let o = org("acme");
    s.ensure_org(&o).await.unwrap();
    s.ensure_org(&o).await.unwrap();
    s.ensure_org(&default_org()).await.unwrap();
    let (a, _) = s.register_agent(&agent(&o, "a1", "A", at(0)), online_event("a1")).await.unwrap();
    assert_eq!(a.org_id, o);
}

pub async fn departure_unknown_agent(s: Arc<dyn Store>) {
    let o = default_org();
    let out = s.depart_agent(&o, &aid("ghost"), at(0), Box::new(|_| vec![]), offline_event("ghost")).await.unwrap();
    assert!(out.is_none());
    assert!(s.latest_events(&o, 10).await.unwrap().is_empty());
}

pub async fn departure_applies_decisions_in_one_transaction(s: Arc<dyn Store>) {
    let o = default_org();
    for id in ["init", "leaver", "other"] {
        s.register_agent(&agent(&o, id, id, at(0)), online_event(id)).await.unwrap();
    }
    let mut respondent = thread(&o, "init", &["src/a.rs"], at(1));
    respondent.expected_respondents = vec![aid("leaver")];
    let mut claimed = thread(&o, "init", &["src/b.rs"], at(2));
    claimed.claimed_by = Some(aid("leaver"));
    claimed.claimed_at = Some(at(2));
    let mut unrelated = thread(&o, "init", &["src/c.rs"], at(3));
    unrelated.expected_respondents = vec![aid("other")];
    let mut done = thread(&o, "init", &["src/d.rs"], at(4));
    done.expected_respondents = vec![aid("leaver")];
    done.status = ThreadStatus::Resolved;
    for t in [&respondent, &claimed, &unrelated, &done] {
        announce(&s, t).await;
    }
    let claim = WorkingClaim {
        org_id: o.clone(),
        agent_id: aid("leaver"),
        file_path: path("src/a.rs"),
        started_at: at(5),
        claim_until: at(5000),
    };
    s.start_claim(&claim, at(5)).await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let decide = leaver_decision(respondent.id.clone(), claimed.id.clone(), Arc::clone(&seen));
    let (updates, records) =
        s.depart_agent(&o, &aid("leaver"), at(10), decide, offline_event("leaver")).await.unwrap().unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![respondent.id.clone(), claimed.id.clone()],
        "only live threads involving it"
    );
    assert_eq!(updates.len(), 2);
    let resolution_seq = updates[0].events[0].seq;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].kind, "agent_offline");
    assert!(records[0].seq > resolution_seq, "agent_offline is inserted last");
    let r = s.get_thread(&o, &respondent.id).await.unwrap().unwrap();
    assert_eq!((r.status, r.resolution_type), (ThreadStatus::Resolved, Some(ResolutionType::AgentDeparture)));
    assert!(r.expected_respondents.is_empty());
    let c = s.get_thread(&o, &claimed.id).await.unwrap().unwrap();
    assert_eq!((c.status, c.claimed_by), (ThreadStatus::Open, None));
    assert_eq!(s.get_thread(&o, &unrelated.id).await.unwrap().unwrap(), unrelated);
    let a = s.get_agent(&o, &aid("leaver")).await.unwrap().unwrap();
    assert_eq!(a.status, AgentStatus::Offline);
    let act = s.list_activity(&o).await.unwrap();
    assert_eq!(act.len(), 1);
    assert_eq!((act[0].activity_status, act[0].current_file.clone()), (ActivityStatus::Offline, None));
    let snap = s.index_snapshot(at(10), at(0), at(0)).await.unwrap();
    assert!(snap.claims.is_empty(), "working-file claims deleted");
}

/// Resolves `resolve` by departure, clears the claim on `unclaim`, records which threads it was shown.
fn leaver_decision(resolve: ThreadId, unclaim: ThreadId, seen: Arc<Mutex<Vec<ThreadId>>>) -> DepartureDecision {
    Box::new(move |states: Vec<ThreadState>| {
        let mut changes = Vec::new();
        for st in states {
            seen.lock().unwrap().push(st.thread.id.clone());
            let mut t = st.thread.clone();
            t.expected_respondents.retain(|a| a.as_str() != "leaver");
            let mut events = vec![];
            if t.id == resolve {
                t.status = ThreadStatus::Resolved;
                t.resolution_type = Some(ResolutionType::AgentDeparture);
                t.resolution_summary = Some("Resolved: no respondent remains".into());
                t.resolved_at = Some(at(10));
                events.push(resolved_event(&t, ResolutionType::AgentDeparture));
            } else if t.id == unclaim {
                t.claimed_by = None;
                t.claimed_at = None;
            }
            changes.push(ThreadChange { thread: t, messages: vec![], events, expire_introspections: false });
        }
        changes
    })
}

pub async fn writes_require_an_existing_org(s: Arc<dyn Store>) {
    let ghost = org("never-created");
    let err = s.register_agent(&agent(&ghost, "a", "A", at(0)), online_event("a")).await.unwrap_err();
    assert!(matches!(err, mcp_coordinator::core::ports::StoreError::Constraint(_)), "{err:?}");
    assert!(s.list_agents(&ghost).await.unwrap().is_empty());
    assert!(s.events_after(&ghost, 0, 10).await.unwrap().is_empty());
}
