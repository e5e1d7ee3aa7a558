//! FileStore and DepStore checks.

use std::sync::Arc;

use mcp_coordinator::core::agents::ActivityStatus;
use mcp_coordinator::core::deps::ModuleInfo;
use mcp_coordinator::core::events::DomainEvent;
use mcp_coordinator::core::files::{ActionSummary, FileActivity, HotFile, WorkingClaim};
use mcp_coordinator::core::ids::{OrgId, SessionId, new_uuid};
use mcp_coordinator::core::ports::{NewFileActivity, Store};
use mcp_coordinator::core::time::Timestamp;

use super::fixtures::*;

pub fn activity(o: &OrgId, session: &str, agent: &str, file: &str, now: Timestamp) -> FileActivity {
    let p = path(file);
    FileActivity {
        id: 0,
        org_id: o.clone(),
        session_id: SessionId::new(session),
        agent_id: aid(agent),
        agent_name: Some(format!("{agent} name")),
        tool_name: "Edit".into(),
        module: p.module(),
        file_path: p,
        created_at: now,
        symbols_touched: Some(vec!["fn main".into()]),
        content_hash: Some("ab".repeat(32)),
    }
}

fn edited(agent: &str, file: &str) -> DomainEvent {
    DomainEvent::FileEdited { agent_id: agent.into(), agent_name: None, file: file.into(), tool_name: "Edit".into() }
}

/// Records one activity row (no side effects) and returns its id.
pub async fn log(s: &Arc<dyn Store>, row: FileActivity) -> i64 {
    let act = NewFileActivity { row, mark_working: false, events: vec![], online_cutoff: at(-100_000) };
    s.record_file_activity(act).await.unwrap().0
}

pub async fn file_activity_and_session_files(s: Arc<dyn Store>) {
    let o = default_org();
    s.register_agent(&agent(&o, "a1", "A", at(0)), online_event("a1")).await.unwrap();
    let row = activity(&o, "s1", "a1", "src/x/y.rs", at(10));
    let act = NewFileActivity {
        row: row.clone(),
        mark_working: true,
        events: vec![edited("a1", "src/x/y.rs")],
        online_cutoff: at(-890),
    };
    let (id1, ev) = s.record_file_activity(act).await.unwrap();
    assert_eq!(ev[0].kind, "file_edited");
    let act = s.list_activity(&o).await.unwrap();
    assert_eq!(
        (act[0].activity_status, act[0].current_file.clone()),
        (ActivityStatus::Working, Some(path("src/x/y.rs")))
    );
    assert_eq!(act[0].last_activity_at, Some(at(10)));
    assert_eq!(s.get_agent(&o, &aid("a1")).await.unwrap().unwrap().last_seen_at, at(10), "online agent refreshed");
    // An agent not online since the cutoff is not refreshed; unknown agents are not created.
    let stale = NewFileActivity {
        row: activity(&o, "s1", "a1", "b.rs", at(2000)),
        mark_working: false,
        events: vec![],
        online_cutoff: at(1500),
    };
    let (id2, _) = s.record_file_activity(stale).await.unwrap();
    assert_eq!(s.get_agent(&o, &aid("a1")).await.unwrap().unwrap().last_seen_at, at(10));
    let id3 = log(&s, activity(&o, "s1", "ghost", "c.rs", at(5))).await;
    assert!(s.get_agent(&o, &aid("ghost")).await.unwrap().is_none());
    log(&s, activity(&o, "s2", "a1", "d.rs", at(6))).await;
    assert!(id1 < id2 && id2 < id3);
    let files = s.session_files(&o, &SessionId::new("s1")).await.unwrap();
    assert_eq!(files.iter().map(|f| f.id).collect::<Vec<_>>(), [id1, id2, id3], "chronological by id");
    assert_eq!(files[0], FileActivity { id: id1, ..row });
    assert!(s.session_files(&org("other"), &SessionId::new("s1")).await.unwrap().is_empty());
}

pub async fn agents_on_file_grouping(s: Arc<dyn Store>) {
    let o = default_org();
    let mut renamed = activity(&o, "s", "a", "f.rs", at(30));
    renamed.agent_name = Some("A renamed".into());
    for row in [
        activity(&o, "s", "a", "f.rs", at(10)),
        activity(&o, "s", "b", "f.rs", at(20)),
        renamed,
        activity(&o, "s", "c", "f.rs", at(-100)),
        activity(&o, "s", "me", "f.rs", at(40)),
        activity(&o, "s", "d", "g.rs", at(40)),
    ] {
        log(&s, row).await;
    }
    let got = s.agents_on_file(&o, &path("f.rs"), at(0), Some(&aid("me"))).await.unwrap();
    assert_eq!(
        got,
        vec![(aid("a"), Some("A renamed".into()), at(30)), (aid("b"), Some("b name".into()), at(20))],
        "grouped per agent, latest first, latest name, window inclusive, excluded agent left out"
    );
    let with_me = s.agents_on_file(&o, &path("f.rs"), at(10), None).await.unwrap();
    assert_eq!(with_me.iter().map(|r| r.0.to_string()).collect::<Vec<_>>(), ["me", "a", "b"]);
}

pub async fn hot_files_rules(s: Arc<dyn Store>) {
    let o = default_org();
    for (agent, file, t) in [
        ("b", "z.rs", 1),
        ("a", "z.rs", 2),
        ("a", "z.rs", 3),
        ("c", "m.rs", 1),
        ("a", "m.rs", 1),
        ("b", "m.rs", 1),
        ("a", "a.rs", 1),
        ("b", "a.rs", 1),
        ("a", "solo.rs", 1),
        ("a", "solo.rs", 2),
        ("x", "old.rs", -500),
        ("y", "old.rs", 5),
    ] {
        log(&s, activity(&o, "s", agent, file, at(t))).await;
    }
    let hot = s.hot_files(&o, at(0), 100).await.unwrap();
    let want = vec![
        HotFile { file_path: path("m.rs"), agent_count: 3, agents: vec![aid("a"), aid("b"), aid("c")] },
        HotFile { file_path: path("a.rs"), agent_count: 2, agents: vec![aid("a"), aid("b")] },
        HotFile { file_path: path("z.rs"), agent_count: 2, agents: vec![aid("a"), aid("b")] },
    ];
    assert_eq!(hot, want);
    assert_eq!(s.hot_files(&o, at(0), 2).await.unwrap(), want[..2].to_vec());
    assert!(s.hot_files(&org("other"), at(-1000), 100).await.unwrap().is_empty());
}

pub async fn working_file_claims(s: Arc<dyn Store>) {
    let o = default_org();
    let claim = |agent: &str, file: &str, start: i64, until: i64| WorkingClaim {
        org_id: o.clone(),
        agent_id: aid(agent),
        file_path: path(file),
        started_at: at(start).plus_millis(123),
        claim_until: at(until).plus_millis(456),
    };
    assert!(s.start_claim(&claim("a", "f.rs", 0, 1800), at(0)).await.unwrap(), "inserted");
    assert!(!s.start_claim(&claim("a", "f.rs", 100, 1900), at(100)).await.unwrap(), "updated");
    assert!(s.start_claim(&claim("b", "f.rs", 0, 50), at(0)).await.unwrap());
    let snap = s.index_snapshot(at(60), at(0), at(0)).await.unwrap();
    assert_eq!(snap.claims, vec![claim("a", "f.rs", 0, 1900)], "started_at kept, claim_until extended, ms kept");
    let swept = s.sweep_claims(at(60), None).await.unwrap();
    assert_eq!(swept, vec![claim("b", "f.rs", 0, 50)]);
    assert!(s.sweep_claims(at(60), None).await.unwrap().is_empty());
    assert!(s.stop_claim(&o, &aid("a"), &path("f.rs")).await.unwrap());
    assert!(!s.stop_claim(&o, &aid("a"), &path("f.rs")).await.unwrap(), "no-op when absent");
}

pub async fn action_summaries(s: Arc<dyn Store>) {
    let o = default_org();
    let mk = |agent: &str, t: i64, file: Option<&str>| ActionSummary {
        id: new_uuid(),
        org_id: o.clone(),
        session_id: SessionId::new("s"),
        agent_id: aid(agent),
        file_path: file.map(path),
        summary: format!("summary at {t}"),
        created_at: at(t),
    };
    let rows = [mk("a", 1, Some("x.rs")), mk("a", 3, None), mk("a", 2, None), mk("b", 4, None)];
    for r in &rows {
        let ev = DomainEvent::ActionSummary {
            id: r.id.clone(),
            session_id: "s".into(),
            agent_id: r.agent_id.to_string(),
            file_path: None,
            summary: r.summary.clone(),
            created_at: r.created_at.t1(),
        };
        let recs = s.record_summary(r, ev).await.unwrap();
        assert_eq!((recs[0].kind.as_str(), recs[0].created_at), ("action_summary", r.created_at));
    }
    let latest = s.latest_summaries(&o, &aid("a"), 10).await.unwrap();
    assert_eq!(latest, vec![rows[1].clone(), rows[2].clone(), rows[0].clone()]);
    assert_eq!(s.latest_summaries(&o, &aid("a"), 1).await.unwrap(), vec![rows[1].clone()]);
}

pub async fn dependency_map(s: Arc<dyn Store>) {
    let o = default_org();
    let m = |id: &str, deps: &[&str]| ModuleInfo {
        module_id: id.into(),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        exports: vec!["fn login".into()],
        owners: vec!["team-a".into()],
    };
    s.upsert_modules(&o, &[m("src/b", &["src/a"]), m("src/a", &[])]).await.unwrap();
    s.upsert_modules(&o, &[m("src/b", &["src/c"])]).await.unwrap();
    assert_eq!(s.get_module(&o, "src/b").await.unwrap(), Some(m("src/b", &["src/c"])));
    assert_eq!(s.get_module(&o, "nope").await.unwrap(), None);
    assert_eq!(s.list_modules(&o).await.unwrap(), vec![m("src/a", &[]), m("src/b", &["src/c"])]);
    assert!(s.list_modules(&org("other")).await.unwrap().is_empty());
}
