//! SystemStore checks: event replay, org isolation, retention purges, the index snapshot, schema version.

use std::sync::Arc;

use mcp_coordinator::core::deps::ModuleInfo;
use mcp_coordinator::core::files::WorkingClaim;
use mcp_coordinator::core::ids::{OrgId, SessionId};
use mcp_coordinator::core::ports::{NewAnnouncement, RetainedTable, Store, ThreadChange, ThreadFilter};
use mcp_coordinator::core::threads::{Introspection, Thread};
use mcp_coordinator::core::threads::{MessageType, ThreadStatus};

use super::files::{activity, log};
use super::fixtures::*;

pub async fn events_replay(s: Arc<dyn Store>) {
    let o = default_org();
    for i in 0..5 {
        let id = format!("a{i}");
        s.register_agent(&agent(&o, &id, &id, at(i)), online_event(&id)).await.unwrap();
    }
    let all = s.events_after(&o, 0, 100).await.unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    assert_eq!(all[2].payload["agent_id"], "a2");
    assert_eq!(all[2].payload["org_id"], "default");
    assert_eq!(all[2].created_at, at(2));
    assert_eq!(s.events_after(&o, 3, 100).await.unwrap(), all[3..].to_vec());
    assert_eq!(s.events_after(&o, 1, 2).await.unwrap(), all[1..3].to_vec());
    assert_eq!(s.latest_events(&o, 2).await.unwrap(), all[3..].to_vec(), "the last N, ascending");
    assert_eq!(s.latest_events(&o, 100).await.unwrap(), all);
}

/// Many large events in one write (a Postgres store splits them into several inserts) keep gapless numbers and
/// their order, and read back byte-identical.
pub async fn large_event_batches_keep_their_order(s: Arc<dyn Store>) {
    use mcp_coordinator::core::events::DomainEvent;
    let o = default_org();
    s.ensure_org(&o).await.unwrap();
    let events: Vec<DomainEvent> = (0..12)
        .map(|i| DomainEvent::AgentOnline {
            agent_id: format!("a{i}"),
            name: "n".repeat(1500 + 700 * i),
            modules: vec![],
        })
        .collect();
    let written = s.append_events(&o, events, at(1)).await.unwrap();
    assert_eq!(written.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=12).collect::<Vec<_>>());
    let read = s.events_after(&o, 0, 100).await.unwrap();
    assert_eq!(read, written);
    assert_eq!(read[11].payload["name"].as_str().map(str::len), Some(1500 + 700 * 11));
}

pub async fn org_isolation(s: Arc<dyn Store>) {
    let (a, b) = (org("org-a"), org("org-b"));
    s.ensure_org(&a).await.unwrap();
    s.ensure_org(&b).await.unwrap();
    let (t, i) = seed_org(&s, &a, &b).await;
    // Nothing of org A is visible through org B.
    assert_eq!(s.list_agents(&b).await.unwrap().len(), 1);
    assert!(s.get_thread(&b, &t.id).await.unwrap().is_none());
    assert!(s.thread_messages(&b, &t.id).await.unwrap().is_empty());
    assert!(s.list_threads(&b, &ThreadFilter { limit: 100, ..Default::default() }).await.unwrap().is_empty());
    assert!(s.thread_updates(&b, &aid("zz"), None, 100).await.unwrap().is_empty());
    assert!(s.pending_introspections(&b, &aid("y"), 100).await.unwrap().is_empty());
    assert!(s.get_introspection(&b, &i.id).await.unwrap().is_none());
    assert!(s.session_files(&b, &SessionId::new("s")).await.unwrap().is_empty());
    assert!(s.agents_on_file(&b, &path("f.rs"), at(-10), None).await.unwrap().is_empty());
    assert!(s.hot_files(&b, at(-10), 100).await.unwrap().is_empty());
    assert!(s.list_modules(&b).await.unwrap().is_empty());
    assert!(!s.stop_claim(&b, &aid("x"), &path("f.rs")).await.unwrap());
    assert!(s.list_activity(&b).await.unwrap().is_empty());
    assert_eq!(s.events_after(&b, 0, 100).await.unwrap().len(), 1, "only B's own registration");
    assert_eq!(s.events_after(&b, 0, 100).await.unwrap()[0].seq, 1, "sequences are per org");
    assert!(s.depart_agent(&b, &aid("y"), at(2), Box::new(|_| vec![]), offline_event("y")).await.unwrap().is_none());
    // B's departure of "x" does not see A's threads.
    let saw = s
        .depart_agent(
            &b,
            &aid("x"),
            at(3),
            Box::new(|st| {
                assert!(st.is_empty());
                vec![]
            }),
            offline_event("x"),
        )
        .await
        .unwrap();
    assert!(saw.is_some());
    assert_eq!(s.get_agent(&a, &aid("x")).await.unwrap().unwrap().status.as_str(), "online");
}

pub async fn purge_in_batches(s: Arc<dyn Store>) {
    let o = default_org();
    // 5 old + 2 new rows in every retained table.
    for i in 0..7 {
        let when = if i < 5 { at(-1000 + i) } else { at(i) };
        let t = thread(&o, "a", &["f.rs"], when);
        let ann = NewAnnouncement { firings: vec![(aid("b"), "L1".into(), 100)], ..announcement(&t) };
        s.record_announcement(ann, when).await.unwrap(); // 1 event, 1 layer firing
        let m = message(&t, "b", MessageType::Context, 1, when);
        let add: mcp_coordinator::core::ports::ThreadDecision = Box::new(move |st| {
            Ok(ThreadChange {
                thread: st.thread.clone(),
                messages: vec![m],
                events: vec![],
                expire_introspections: false,
            })
        });
        s.update_thread(&o, &t.id, when, add).await.unwrap();
        log(&s, activity(&o, "s", "a", "f.rs", when)).await;
        let sum = mcp_coordinator::core::files::ActionSummary {
            id: mcp_coordinator::core::ids::new_uuid(),
            org_id: o.clone(),
            session_id: SessionId::new("s"),
            agent_id: aid("a"),
            file_path: None,
            summary: "x".into(),
            created_at: when,
        };
        s.record_summary(&sum, online_event("a")).await.unwrap(); // 1 more event
    }
    for table in RetainedTable::ALL {
        let old = if table == RetainedTable::Events { 10 } else { 5 };
        let mut passes = Vec::new();
        loop {
            let n = s.purge(table, at(0), 3, None).await.unwrap();
            passes.push(n);
            if n < 3 {
                break;
            }
        }
        assert_eq!(passes.iter().sum::<usize>(), old, "{}: {passes:?}", table.name());
        assert!(passes.iter().all(|n| *n <= 3));
        assert_eq!(s.purge(table, at(0), 3, None).await.unwrap(), 0);
    }
    assert_eq!(s.events_after(&o, 0, 100).await.unwrap().len(), 4, "new events kept");
    assert_eq!(s.session_files(&o, &SessionId::new("s")).await.unwrap().len(), 2);
    assert_eq!(s.latest_summaries(&o, &aid("a"), 100).await.unwrap().len(), 2);
    let threads = s.list_threads(&o, &ThreadFilter { limit: 0, ..Default::default() }).await.unwrap();
    assert_eq!(threads.len(), 7, "threads are never swept");
}

pub async fn index_snapshot_selection(s: Arc<dyn Store>) {
    let (o, p) = (default_org(), org("p"));
    s.ensure_org(&p).await.unwrap();
    s.register_agent(&agent(&o, "a", "A", at(0)), online_event("a")).await.unwrap();
    s.register_agent(&agent(&p, "a", "A", at(0)), online_event("a")).await.unwrap();
    let open = thread(&o, "a", &["1.rs"], at(-5000));
    let mut resolving = thread(&p, "a", &["2.rs"], at(-5000));
    resolving.status = ThreadStatus::Resolving;
    let mut recent = thread(&o, "a", &["3.rs"], at(-5000));
    recent.status = ThreadStatus::Resolved;
    recent.resolved_at = Some(at(-100));
    let mut old = thread(&o, "a", &["4.rs"], at(-5000));
    old.status = ThreadStatus::Resolved;
    old.resolved_at = Some(at(-4000));
    let mut no_resolved_at = thread(&o, "a", &["5.rs"], at(-50));
    no_resolved_at.status = ThreadStatus::Resolved;
    let mut cancelled = thread(&o, "a", &["6.rs"], at(-10));
    cancelled.status = ThreadStatus::Cancelled;
    for t in [&open, &resolving, &recent, &old, &no_resolved_at, &cancelled] {
        announce(&s, t).await;
    }
    let old_act = log(&s, activity(&o, "s", "a", "x.rs", at(-4000))).await;
    let new_act = log(&s, activity(&p, "s", "a", "x.rs", at(-10))).await;
    let new_act2 = log(&s, activity(&o, "s", "a", "y.rs", at(-20))).await;
    let m = ModuleInfo { module_id: "m".into(), depends_on: vec!["n".into()], exports: vec![], owners: vec![] };
    s.upsert_modules(&p, std::slice::from_ref(&m)).await.unwrap();
    let snap = s.index_snapshot(at(0), at(-1800), at(-3600)).await.unwrap();
    assert_eq!(snap.agents.len(), 2, "all orgs");
    let mut ids: Vec<_> = snap.threads.iter().map(|t| t.id.clone()).collect();
    ids.sort();
    let mut want = vec![open.id.clone(), resolving.id.clone(), recent.id.clone(), no_resolved_at.id.clone()];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(snap.activity.iter().map(|a| a.id).collect::<Vec<_>>(), [new_act, new_act2], "by id");
    assert!(old_act < new_act);
    assert_eq!(snap.modules, vec![(p.clone(), m)]);
}

pub async fn schema_version_and_ping(s: Arc<dyn Store>) {
    let (applied, expected) = s.schema_version().await.unwrap();
    assert_eq!(applied, expected);
    assert!(expected >= 1);
    s.ping().await.unwrap();
}

/// Agent "x" in both orgs; in `a` a resolving thread with an introspection, activity, a module and a claim.
async fn seed_org(s: &Arc<dyn Store>, a: &OrgId, b: &OrgId) -> (Thread, Introspection) {
    // Same ids in both orgs are different rows.
    s.register_agent(&agent(a, "x", "in A", at(0)), online_event("x")).await.unwrap();
    s.register_agent(&agent(b, "x", "in B", at(0)), online_event("x")).await.unwrap();
    assert_eq!(s.get_agent(a, &aid("x")).await.unwrap().unwrap().name, "in A");
    let mut t = thread(a, "x", &["f.rs"], at(0));
    t.expected_respondents = vec![aid("y")];
    let i = introspection(&t, "y", at(0));
    let mut ann = NewAnnouncement { firings: vec![(aid("y"), "L1".into(), 100)], ..announcement(&t) };
    ann.introspections = vec![i.clone()];
    s.record_announcement(ann, at(0)).await.unwrap();
    make_resolving(s, &t, at(1)).await;
    log(s, activity(a, "s", "x", "f.rs", at(1))).await;
    log(s, activity(a, "s", "y", "f.rs", at(1))).await;
    s.upsert_modules(a, &[ModuleInfo { module_id: "m".into(), depends_on: vec![], exports: vec![], owners: vec![] }])
        .await
        .unwrap();
    let claim = WorkingClaim {
        org_id: a.clone(),
        agent_id: aid("x"),
        file_path: path("f.rs"),
        started_at: at(0),
        claim_until: at(999),
    };
    s.start_claim(&claim, at(0)).await.unwrap();
    (t, i)
}
