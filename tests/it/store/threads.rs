//! ThreadStore checks: announcements, decisions and their transaction boundaries, listings, introspections.

use std::sync::Arc;

use mcp_coordinator::core::announce::{ConflictReport, ConflictType, Severity};
use mcp_coordinator::core::error::CoreError;
use mcp_coordinator::core::events::DomainEvent;
use mcp_coordinator::core::ids::{RunId, ThreadId};
use mcp_coordinator::core::ports::{NewAnnouncement, Store, StoreError, ThreadChange, ThreadFilter};
use mcp_coordinator::core::threads::{IntrospectionStatus, MessageType, Thread, ThreadStatus};

use super::fixtures::*;

pub async fn announcement_round_trip(s: Arc<dyn Store>) {
    let o = default_org();
    let mut t = thread(&o, "a1", &["src/a.rs", "src/b.rs"], at(0));
    t.expected_respondents = vec![aid("b1")];
    let i = introspection(&t, "g1", at(0));
    let ann = NewAnnouncement {
        thread: t.clone(),
        announcer_name: "Alice".into(),
        firings: vec![(aid("b1"), "L1".into(), 100), (aid("g1"), "L3".into(), 30)],
        introspections: vec![i.clone()],
        events: vec![opened_event(&t), opened_event(&t)],
        layer0_known: None,
        resolved_since: t.created_at,
    };
    let ev = s.record_announcement(ann, at(0)).await.unwrap();
    assert_eq!(ev.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(ev[0].kind, "thread_opened");
    assert_eq!(ev[0].payload["org_id"], "default");
    assert_eq!(ev[0].payload["thread_id"], t.id.as_str());
    assert_eq!(ev[0].created_at, at(0));
    assert_eq!(s.get_thread(&o, &t.id).await.unwrap(), Some(t.clone()));
    assert_eq!(s.get_thread(&org("other"), &t.id).await.unwrap(), None, "org-scoped");
    assert_eq!(s.pending_introspections(&o, &aid("g1"), 100).await.unwrap(), vec![i.clone()]);
    assert_eq!(s.get_introspection(&o, &i.id).await.unwrap(), Some(i));
    assert_eq!(s.events_after(&o, 0, 100).await.unwrap(), ev);
}

pub async fn announcer_is_registered_implicitly(s: Arc<dyn Store>) {
    let o = default_org();
    let t = thread(&o, "newbie", &["x.rs"], at(5));
    s.record_announcement(announcement(&t), at(5)).await.unwrap();
    let a = s.get_agent(&o, &aid("newbie")).await.unwrap().unwrap();
    assert_eq!((a.name.as_str(), a.modules.len()), ("newbie name", 0));
    assert_eq!((a.registered_at, a.last_seen_at), (at(5), at(5)));
    s.register_agent(&agent(&o, "known", "Known", at(0)), online_event("known")).await.unwrap();
    s.depart_agent(&o, &aid("known"), at(1), Box::new(|_| vec![]), offline_event("known")).await.unwrap();
    let t2 = thread(&o, "known", &["y.rs"], at(9));
    s.record_announcement(announcement(&t2), at(9)).await.unwrap();
    let k = s.get_agent(&o, &aid("known")).await.unwrap().unwrap();
    assert_eq!((k.name.as_str(), k.status.as_str(), k.last_seen_at), ("Known", "online", at(9)));
    assert_eq!(k.modules, vec!["src/auth".to_string()], "existing registration kept");
}

pub async fn json_and_times_round_trip_byte_identical(s: Arc<dyn Store>) {
    let o = default_org();
    let mut t = thread(&o, "a1", &["src/ünï cødé/\"q\".rs", "src/a\\b.rs"], at(7));
    t.target_modules = vec!["src/ü".into(), "emoji 🚀".into(), "".into()];
    t.depends_on_files = Some(paths(&["dep/x.rs"]));
    t.exports_affected = Some(vec![]);
    t.run_id = Some(RunId::new("run-1"));
    t.keep_open = true;
    t.assigned_to = Some(aid("worker"));
    let mut details = serde_json::Map::new();
    details.insert("thread_id".into(), serde_json::json!("t"));
    details.insert("files".into(), serde_json::json!(["a", "b"]));
    details.insert("nested".into(), serde_json::json!({"z": 1, "a": [true, null, 1.5]}));
    t.conflicts = Some(vec![ConflictReport {
        kind: ConflictType::FileOverlap,
        severity: Severity::Warning,
        agent_id: aid("b"),
        agent_name: "B \u{1F600}".into(),
        description: "line\nbreak \t tab".into(),
        details,
    }]);
    announce(&s, &t).await;
    let back = s.get_thread(&o, &t.id).await.unwrap().unwrap();
    assert_eq!(back, t);
    assert_eq!(serde_json::to_string(&back).unwrap(), serde_json::to_string(&t).unwrap(), "row shape identical");
    let v = serde_json::to_value(&back).unwrap();
    assert_eq!(v["created_at"], "2026-11-25 10:00:07");
    assert_eq!(v["target_modules"], r#"["src/ü","emoji 🚀",""]"#);
    assert_eq!(v["exports_affected"], "[]");
    assert_eq!(v["resolved_at"], serde_json::Value::Null);
}

pub async fn update_thread_applies_decision(s: Arc<dyn Store>) {
    let o = default_org();
    let mut t = thread(&o, "a1", &["f.rs"], at(0));
    t.expected_respondents = vec![aid("b"), aid("c")];
    let pending = introspection(&t, "g", at(0));
    let mut ann = announcement(&t);
    ann.introspections = vec![pending.clone()];
    s.record_announcement(ann, at(0)).await.unwrap();
    make_resolving(&s, &t, at(1)).await;
    // Round 1 approvals by b; then a contest starts round 2 (approvals of round 1 no longer count).
    s.update_thread(&o, &t.id, at(2), approve("b", at(2))).await.unwrap();
    let contest: mcp_coordinator::core::ports::ThreadDecision = Box::new(move |st| {
        assert_eq!(st.approvals, vec![aid("b")]);
        assert_eq!(st.message_count, 2);
        let mut th = st.thread.clone();
        th.status = ThreadStatus::Resolving;
        th.round += 1;
        let m = message(&th, "c", MessageType::Contest, st.thread.round, at(3));
        Ok(ThreadChange { thread: th, messages: vec![m], events: vec![], expire_introspections: false })
    });
    s.update_thread(&o, &t.id, at(3), contest).await.unwrap();
    let check: mcp_coordinator::core::ports::ThreadDecision = Box::new(|st| {
        assert!(st.approvals.is_empty(), "approvals are per current round");
        assert_eq!(st.message_count, 3);
        Err(CoreError::NotResolving("probe".into()))
    });
    assert!(s.update_thread(&o, &t.id, at(4), check).await.is_err());
    s.update_thread(&o, &t.id, at(5), approve("b", at(5))).await.unwrap();
    let up = s.update_thread(&o, &t.id, at(6), approve("c", at(6))).await.unwrap();
    assert_eq!(up.thread.status, ThreadStatus::Resolved);
    assert_eq!(up.events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["message_posted", "thread_resolved"]);
    assert_eq!(up.events[0].created_at, at(6));
    assert_eq!(s.get_thread(&o, &t.id).await.unwrap().unwrap(), up.thread);
    let msgs = s.thread_messages(&o, &t.id).await.unwrap();
    assert_eq!(msgs.len(), 5);
    assert_eq!(msgs.last(), up.messages.last());
    assert_eq!(s.get_introspection(&o, &pending.id).await.unwrap().unwrap().status, IntrospectionStatus::Expired);
}

pub async fn failing_decision_writes_nothing(s: Arc<dyn Store>) {
    let o = default_org();
    let t = thread(&o, "a1", &["f.rs"], at(0));
    announce(&s, &t).await;
    let before = s.latest_events(&o, 100).await.unwrap();
    let err = s.update_thread(&o, &t.id, at(1), approve("b", at(1))).await.unwrap_err();
    assert!(matches!(err, CoreError::NotResolving(ref st) if st == "open"), "{err:?}");
    assert_eq!(s.get_thread(&o, &t.id).await.unwrap().unwrap(), t);
    assert!(s.thread_messages(&o, &t.id).await.unwrap().is_empty());
    assert_eq!(s.latest_events(&o, 100).await.unwrap(), before);
}

pub async fn failing_write_rolls_back_everything(s: Arc<dyn Store>) {
    let o = default_org();
    let t = thread(&o, "a1", &["f.rs"], at(0));
    announce(&s, &t).await;
    let before = s.latest_events(&o, 100).await.unwrap();
    // The thread update succeeds, then the second message collides with the first: nothing may remain.
    let decide: mcp_coordinator::core::ports::ThreadDecision = Box::new(|st| {
        let mut th = st.thread.clone();
        th.status = ThreadStatus::Resolving;
        let m = message(&th, "a1", MessageType::Resolution, 1, at(1));
        let dup = m.clone();
        let ev = DomainEvent::ThreadCancelled { thread_id: th.id.to_string(), agent_id: "a1".into(), reason: None };
        Ok(ThreadChange { thread: th, messages: vec![m, dup], events: vec![ev], expire_introspections: true })
    });
    let err = s.update_thread(&o, &t.id, at(1), decide).await.unwrap_err();
    assert!(matches!(err, CoreError::Store(StoreError::Constraint(_))), "{err:?}");
    assert_eq!(s.get_thread(&o, &t.id).await.unwrap().unwrap(), t);
    assert!(s.thread_messages(&o, &t.id).await.unwrap().is_empty());
    assert_eq!(s.latest_events(&o, 100).await.unwrap(), before);
    // The sequence did not advance either: the next event follows the last committed one.
    let next = s.record_summary(&summary(&o, "a1", at(2)), online_event("a1")).await.unwrap();
    assert_eq!(next[0].seq, before.last().unwrap().seq + 1);
}

fn summary(
    o: &mcp_coordinator::core::ids::OrgId,
    agent: &str,
    now: mcp_coordinator::core::time::Timestamp,
) -> mcp_coordinator::core::files::ActionSummary {
    mcp_coordinator::core::files::ActionSummary {
        id: mcp_coordinator::core::ids::new_uuid(),
        org_id: o.clone(),
        session_id: mcp_coordinator::core::ids::SessionId::new("s1"),
        agent_id: aid(agent),
        file_path: None,
        summary: "did things".into(),
        created_at: now,
    }
}

pub async fn update_thread_is_org_scoped(s: Arc<dyn Store>) {
    let (a, b) = (org("org-a"), org("org-b"));
    s.ensure_org(&a).await.unwrap();
    s.ensure_org(&b).await.unwrap();
    let t = thread(&a, "x", &["f.rs"], at(0));
    announce(&s, &t).await;
    let err = s.update_thread(&b, &t.id, at(1), approve("y", at(1))).await.unwrap_err();
    assert!(matches!(err, CoreError::ThreadNotFound(ref id) if *id == t.id.to_string()), "{err:?}");
    let err = s.update_thread(&a, &ThreadId::new("missing"), at(1), approve("y", at(1))).await.unwrap_err();
    assert!(matches!(err, CoreError::ThreadNotFound(_)));
}

pub async fn list_threads_filters_and_order(s: Arc<dyn Store>) {
    let o = default_org();
    let mut t1 = thread(&o, "a", &["1.rs"], at(0));
    t1.target_modules = vec!["src/ab".into()];
    let mut t2 = thread(&o, "b", &["2.rs"], at(10));
    t2.target_modules = vec!["src/a".into(), "src/c".into()];
    t2.assigned_to = Some(aid("w1"));
    let mut t3 = thread(&o, "a", &["3.rs"], at(10));
    t3.status = ThreadStatus::Resolved;
    t3.assigned_to = Some(aid("w2"));
    for t in [&t1, &t2, &t3] {
        announce(&s, t).await;
    }
    let ids = |v: Vec<mcp_coordinator::core::threads::Thread>| v.into_iter().map(|t| t.id).collect::<Vec<_>>();
    let f = |f: ThreadFilter| f;
    let all = s.list_threads(&o, &f(ThreadFilter { limit: 200, ..Default::default() })).await.unwrap();
    assert_eq!(ids(all), [t3.id.clone(), t2.id.clone(), t1.id.clone()], "created_at desc, then insertion desc");
    let limited = s.list_threads(&o, &ThreadFilter { limit: 1, ..Default::default() }).await.unwrap();
    assert_eq!(ids(limited), [t3.id.clone()]);
    let open = ThreadFilter { status: Some(ThreadStatus::Open), limit: 200, ..Default::default() };
    assert_eq!(ids(s.list_threads(&o, &open).await.unwrap()), [t2.id.clone(), t1.id.clone()]);
    let by_a = ThreadFilter { initiator: Some(aid("a")), limit: 200, ..Default::default() };
    assert_eq!(ids(s.list_threads(&o, &by_a).await.unwrap()), [t3.id.clone(), t1.id.clone()]);
    let module = ThreadFilter { module: Some("src/a".into()), limit: 200, ..Default::default() };
    assert_eq!(ids(s.list_threads(&o, &module).await.unwrap()), [t2.id.clone()], "exact element, not prefix");
    let mine = ThreadFilter { assigned_to_me: Some(aid("w1")), limit: 200, ..Default::default() };
    assert_eq!(ids(s.list_threads(&o, &mine).await.unwrap()), [t2.id.clone(), t1.id.clone()]);
    assert!(
        s.list_threads(&org("elsewhere"), &ThreadFilter { limit: 9, ..Default::default() }).await.unwrap().is_empty()
    );
}

pub async fn thread_updates_rules(s: Arc<dyn Store>) {
    let o = default_org();
    let live = thread(&o, "a", &["1.rs"], at(0));
    let mut gone = thread(&o, "a", &["2.rs"], at(0));
    gone.status = ThreadStatus::Resolved;
    announce(&s, &live).await;
    announce(&s, &gone).await;
    make_resolving(&s, &live, at(5)).await; // resolution message by "a" at 5
    for (t, who, when) in [(&live, "b", 10), (&live, "c", 20), (&live, "me", 30), (&gone, "b", 40), (&live, "b", 50)] {
        let m = message(t, who, MessageType::Context, 1, at(when));
        let st: mcp_coordinator::core::ports::ThreadDecision = Box::new(move |st| {
            Ok(ThreadChange {
                thread: st.thread.clone(),
                messages: vec![m],
                events: vec![],
                expire_introspections: false,
            })
        });
        s.update_thread(&o, &t.id, at(when), st).await.unwrap();
    }
    let got = s.thread_updates(&o, &aid("me"), Some(at(10)), 1000).await.unwrap();
    let seen: Vec<(String, i64)> =
        got.iter().map(|m| (m.agent_id.to_string(), m.created_at.secs() - at(0).secs())).collect();
    assert_eq!(seen, [("b".into(), 10), ("c".into(), 20), ("b".into(), 50)], "since inclusive, live only, others");
    assert_eq!(s.thread_updates(&o, &aid("me"), None, 2).await.unwrap().len(), 2);
    assert_eq!(s.thread_updates(&o, &aid("me"), None, 1000).await.unwrap()[0].created_at, at(5));
}

pub async fn timed_out_threads_deadline(s: Arc<dyn Store>) {
    let (o, p) = (default_org(), org("p"));
    s.ensure_org(&p).await.unwrap();
    let mut round2 = thread(&o, "a", &["1.rs"], at(0));
    round2.timeout_seconds = 100;
    round2.round = 2; // deadline at(200)
    let mut never = thread(&o, "a", &["2.rs"], at(0));
    never.timeout_seconds = 0;
    let mut done = thread(&o, "a", &["3.rs"], at(0));
    done.timeout_seconds = 10;
    done.status = ThreadStatus::Resolved;
    let mut other_org = thread(&p, "a", &["4.rs"], at(0));
    other_org.timeout_seconds = 50;
    other_org.status = ThreadStatus::Resolving;
    for t in [&round2, &never, &done, &other_org] {
        announce(&s, t).await;
    }
    assert_eq!(s.timed_out_threads(at(50)).await.unwrap(), vec![], "deadline not strictly before now");
    assert_eq!(s.timed_out_threads(at(50).plus_millis(1)).await.unwrap(), vec![(p.clone(), other_org.id.clone())]);
    let mut late = s.timed_out_threads(at(201)).await.unwrap();
    late.sort();
    let mut want = vec![(o.clone(), round2.id.clone()), (p.clone(), other_org.id.clone())];
    want.sort();
    assert_eq!(late, want);
}

pub async fn introspection_lifecycle(s: Arc<dyn Store>) {
    let o = default_org();
    let mut t = thread(&o, "a", &["1.rs"], at(0));
    t.expected_respondents = vec![aid("b")];
    let (older, newer, calm) =
        (introspection(&t, "g", at(0)), introspection(&t, "g", at(0)), introspection(&t, "h", at(0)));
    let mut newer = newer;
    newer.created_at = at(1);
    let mut ann = announcement(&t);
    ann.introspections = vec![older.clone(), newer.clone(), calm.clone()];
    s.record_announcement(ann, at(1)).await.unwrap();
    let pend = s.pending_introspections(&o, &aid("g"), 100).await.unwrap();
    assert_eq!(pend.iter().map(|i| i.id.clone()).collect::<Vec<_>>(), [newer.id.clone(), older.id.clone()]);
    assert_eq!(s.pending_introspections(&o, &aid("g"), 1).await.unwrap().len(), 1);
    let (row, joined, ev) = s
        .respond_introspection(&o, &newer.id, true, "it touches my code", at(2), completed(&t, &newer.id, "g", true))
        .await
        .unwrap()
        .unwrap();
    assert!(joined);
    assert_eq!(ev[0].payload["joined"], true, "the store sets the real joined value");
    assert_eq!(
        (row.status, row.concerned, row.response.as_deref()),
        (IntrospectionStatus::Responded, Some(true), Some("it touches my code"))
    );
    assert_eq!(row.responded_at, Some(at(2)));
    assert_eq!(s.get_thread(&o, &t.id).await.unwrap().unwrap().expected_respondents, vec![aid("b"), aid("g")]);
    // Second response: no-op. Already a respondent: not joined again.
    assert!(
        s.respond_introspection(&o, &newer.id, true, "again", at(3), completed(&t, &newer.id, "g", true))
            .await
            .unwrap()
            .is_none()
    );
    let (_, joined, ev) = s
        .respond_introspection(&o, &older.id, true, "x", at(3), completed(&t, &older.id, "g", true))
        .await
        .unwrap()
        .unwrap();
    assert!(!joined);
    assert_eq!(ev[0].payload["joined"], false);
    let (row, joined, _) = s
        .respond_introspection(&o, &calm.id, false, "fine", at(3), completed(&t, &calm.id, "h", false))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((joined, row.concerned), (false, Some(false)));
    assert!(
        s.respond_introspection(&o, "missing", true, "x", at(3), completed(&t, "missing", "g", true))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.respond_introspection(&org("x"), &older.id, true, "x", at(3), completed(&t, &older.id, "g", true))
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn introspection_on_dead_thread_does_not_join(s: Arc<dyn Store>) {
    let o = default_org();
    let mut dead = thread(&o, "a", &["2.rs"], at(0));
    dead.status = ThreadStatus::Cancelled;
    let late = introspection(&dead, "z", at(0));
    let mut ann = announcement(&dead);
    ann.introspections = vec![late.clone()];
    s.record_announcement(ann, at(0)).await.unwrap();
    let (_, joined, _) = s
        .respond_introspection(&o, &late.id, true, "x", at(4), completed(&dead, &late.id, "z", true))
        .await
        .unwrap()
        .unwrap();
    assert!(!joined);
    assert!(s.get_thread(&o, &dead.id).await.unwrap().unwrap().expected_respondents.is_empty());
}

fn completed(t: &Thread, id: &str, agent: &str, concerned: bool) -> DomainEvent {
    DomainEvent::IntrospectionCompleted {
        introspection_id: id.into(),
        thread_id: t.id.to_string(),
        agent_id: agent.into(),
        concerned,
        reason: "r".into(),
        joined: false,
    }
}
