//! The full thread lifecycle through MCP, racing approvals, the timeout sweeper, departures and org isolation.

use std::sync::Arc;

use mcp_coordinator::core::ids::OrgId;
use mcp_coordinator::core::principal::Principal;
use mcp_coordinator::jobs::TimeoutSweeper;
use serde_json::{Value, json};

use crate::support::{Client, TestApp, call, call_err, connect, spawn_app};

async fn open_thread(c: &Client, respondents: &[&str]) -> String {
    for r in respondents {
        call(c, "register_agent", json!({"agent_id": r, "name": r, "modules": []})).await;
        call(
            c,
            "announce_work",
            json!({"agent_id": r, "subject": "mine", "target_modules": [], "target_files": ["shared.rs"]}),
        )
        .await;
    }
    let r = call(
        c,
        "announce_work",
        json!({"agent_id": "bob", "subject": "Change shared", "target_modules": [], "target_files": ["shared.rs"]}),
    )
    .await;
    assert_eq!(r["thread"]["status"], "open", "{r}");
    r["thread"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn full_lifecycle_with_contest_and_consensus() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    let t = open_thread(&c, &["alice"]).await;
    let m = call(
        &c,
        "post_to_thread",
        json!({"thread_id": t, "agent_id": "alice", "type": "warning", "content": "I am editing shared.rs"}),
    )
    .await;
    assert_eq!(
        (m["type"].as_str(), m["round"].as_i64(), m["token_estimate"].as_i64()),
        (Some("warning"), Some(1), Some(6))
    );
    let err = call_err(&c, "approve_resolution", json!({"thread_id": t, "agent_id": "alice"})).await;
    assert_eq!(err, "Thread is open, not resolving");
    let err = call_err(&c, "propose_resolution", json!({"thread_id": t, "agent_id": "alice", "summary": "x"})).await;
    assert_eq!(err, "Only the initiator or the claimant can propose a resolution");
    let th =
        call(&c, "propose_resolution", json!({"thread_id": t, "agent_id": "bob", "summary": "bob goes first"})).await;
    assert_eq!(th["status"], "resolving");
    let th = call(&c, "contest_resolution", json!({"thread_id": t, "agent_id": "alice", "reason": "not yet"})).await;
    assert_eq!((th["status"].as_str(), th["round"].as_i64()), (Some("open"), Some(2)));
    assert_eq!(th["resolution_summary"], Value::Null);
    call(&c, "propose_resolution", json!({"thread_id": t, "agent_id": "bob", "summary": "after alice"})).await;
    let th = call(&c, "approve_resolution", json!({"thread_id": t, "agent_id": "alice"})).await;
    assert_eq!((th["status"].as_str(), th["resolution_type"].as_str()), (Some("resolved"), Some("consensus")));
    assert_eq!(th["resolution_summary"], "after alice");
    let got = call(&c, "get_thread", json!({"thread_id": t})).await;
    let kinds: Vec<&str> = got["messages"].as_array().unwrap().iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["warning", "resolution", "contest", "resolution", "approve"]);
    let updates = call(&c, "get_thread_updates", json!({"agent_id": "bob"})).await;
    assert!(updates.as_array().unwrap().is_empty(), "thread is resolved: no updates on open/resolving threads");
    let err = call_err(&c, "close_thread", json!({"thread_id": t, "agent_id": "bob", "summary": "s"})).await;
    assert_eq!(err, format!("Cannot close thread {t} in status resolved"));
}

#[tokio::test]
async fn max_rounds_close_and_cancel() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    let t = open_thread(&c, &["alice"]).await;
    for round in 1..=4 {
        call(&c, "propose_resolution", json!({"thread_id": t, "agent_id": "bob", "summary": format!("p{round}")}))
            .await;
        let th = call(&c, "contest_resolution", json!({"thread_id": t, "agent_id": "alice", "reason": "no"})).await;
        if round < 4 {
            assert_eq!(th["round"], round + 1);
        } else {
            assert_eq!(th["resolution_type"], "max_rounds");
            assert_eq!(th["resolution_summary"], "Resolved after reaching the maximum of 4 rounds");
        }
    }
    let t2 = open_thread(&c, &[]).await;
    let err = call_err(&c, "close_thread", json!({"thread_id": t2, "agent_id": "alice", "summary": "s"})).await;
    assert_eq!(err, "Only the initiator can close this thread");
    assert_eq!(
        call(&c, "close_thread", json!({"thread_id": t2, "agent_id": "bob", "summary": "done"})).await,
        "closed"
    );
    let t3 = open_thread(&c, &[]).await;
    assert_eq!(
        call_err(&c, "cancel_thread", json!({"thread_id": t3, "agent_id": "alice"})).await,
        "Only the initiator can cancel this thread"
    );
    assert_eq!(
        call(&c, "cancel_thread", json!({"thread_id": t3, "agent_id": "bob", "reason": "obsolete"})).await,
        "cancelled"
    );
    let err = call_err(
        &c,
        "post_to_thread",
        json!({"thread_id": t3, "agent_id": "alice", "type": "context", "content": "x"}),
    )
    .await;
    assert_eq!(err, format!("Thread {t3} is cancelled"));
    let err = call_err(&c, "get_thread", json!({"thread_id": "00000000-0000-4000-8000-000000000000"})).await;
    assert_eq!(err, "Thread not found: 00000000-0000-4000-8000-000000000000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_approvals_resolve_exactly_once() {
    concurrent_approvals(spawn_app().await).await;
}

/// Two approvals completing one consensus at once, on any backend (also run on Postgres by `app::postgres`).
pub async fn concurrent_approvals(app: TestApp) {
    let c = Arc::new(connect(&app.url).await);
    let t = open_thread(&c, &["alice", "carol"]).await;
    call(&c, "propose_resolution", json!({"thread_id": t, "agent_id": "bob", "summary": "s"})).await;
    let (a, b) = tokio::join!(
        call(&c, "approve_resolution", json!({"thread_id": t, "agent_id": "alice"})),
        call(&c, "approve_resolution", json!({"thread_id": t, "agent_id": "carol"}))
    );
    let resolved = [a, b].iter().filter(|th| th["status"] == "resolved").count();
    assert_eq!(resolved, 1, "exactly one approval completes the consensus");
    let events = app.core.store().latest_events(&OrgId::default_org(), 1000).await.unwrap();
    let resolutions: Vec<_> =
        events.iter().filter(|e| e.kind == "thread_resolved" && e.payload["thread_id"] == t.as_str()).collect();
    assert_eq!(resolutions.len(), 1);
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "gapless event sequence {seqs:?}");
}

#[tokio::test]
async fn timeout_sweeper_resolves_once_after_the_deadline() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    let t = open_thread(&c, &["alice"]).await;
    let sweeper = TimeoutSweeper { core: app.core.clone() };
    app.clock.advance_secs(600);
    assert_eq!(sweeper.run_once().await.unwrap(), 0, "deadline is created_at + 600 s, exclusive");
    app.clock.advance_secs(1);
    assert_eq!(sweeper.run_once().await.unwrap(), 1);
    assert_eq!(sweeper.run_once().await.unwrap(), 0);
    let th = call(&c, "get_thread", json!({"thread_id": t})).await;
    assert_eq!(th["thread"]["resolution_type"], "timeout");
    assert_eq!(th["thread"]["resolution_summary"], "Resolved by timeout: no response before the deadline");
}

#[tokio::test]
async fn departure_of_the_last_respondent_resolves_the_thread() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    let t = open_thread(&c, &["alice"]).await;
    assert!(app.core.depart_agent(&Principal::open_mode(), "alice", "session_stop").await.unwrap());
    let th = call(&c, "get_thread", json!({"thread_id": t})).await;
    assert_eq!(th["thread"]["resolution_type"], "agent_departure");
    assert_eq!(th["thread"]["expected_respondents"], "[]");
    let agents = call(&c, "list_agents", json!({"online_only": true})).await;
    assert!(agents.as_array().unwrap().iter().all(|a| a["id"] != "alice"));
}

#[tokio::test]
async fn orgs_never_see_each_other() {
    let app = spawn_app().await;
    let a = Principal::member_of(OrgId::new("org-a"), "u1");
    let b = Principal::member_of(OrgId::new("org-b"), "u2");
    let core = &app.core;
    core.register_agent(&a, "alice", "Alice", &["src".into()]).await.unwrap();
    core.register_agent(&b, "bob", "Bob", &["src".into()]).await.unwrap();
    let input = |agent: &str| mcp_coordinator::core::announce::AnnounceInput {
        agent_id: agent.into(),
        subject: "s".into(),
        target_modules: vec!["src".into()],
        target_files: vec!["src/a.rs".into()],
        ..Default::default()
    };
    let ra = core.announce(&a, input("alice")).await.unwrap();
    let rb = core.announce(&b, input("bob")).await.unwrap();
    assert_eq!(
        rb.impact.pass_count + rb.impact.concerned.len() + rb.impact.gray_zone.len(),
        0,
        "alice is in another org"
    );
    assert!(rb.conflicts.is_empty());
    assert_eq!(core.list_agents(&b, false).await.unwrap().len(), 1);
    assert!(core.get_thread(&b, ra.thread.id.as_str()).await.is_err(), "org A's thread is not found from org B");
    assert_eq!(core.list_threads(&b, Default::default()).await.unwrap().len(), 1);
    core.record_edit(
        &a,
        mcp_coordinator::core::files::FileEdit {
            session_id: "s".into(),
            agent_id: "alice".into(),
            tool_name: "Edit".into(),
            file_path: "src/a.rs".into(),
            ..Default::default()
        },
        true,
    )
    .await
    .unwrap();
    assert!(core.session_files(&b, "s").await.unwrap().is_empty());
    assert!(!core.check_file_conflict(&b, "src/a.rs", "bob", None).await.unwrap().conflict);
    assert!(core.check_file_conflict(&a, "src/a.rs", "zed", None).await.unwrap().conflict);
}
