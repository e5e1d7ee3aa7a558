//! Scoring scenarios S1–S4 and each layer in isolation, driven through MCP `announce_work`, with the manual
//! clock for the 60-minute activity window and the 30-minute resolved-thread window.

use mcp_coordinator::core::files::FileEdit;
use mcp_coordinator::core::principal::Principal;
use serde_json::{Value, json};

use crate::support::{Client, TestApp, call, connect, spawn_app};

async fn register(c: &Client, id: &str, modules: &[&str]) {
    call(c, "register_agent", json!({"agent_id": id, "name": format!("Agent {id}"), "modules": modules})).await;
}

async fn announce(c: &Client, args: Value) -> Value {
    call(c, "announce_work", args).await
}

fn impact_of<'a>(r: &'a Value, agent: &str) -> (&'a str, &'a Value) {
    for cat in ["concerned", "gray_zone", "pass"] {
        if let Some(s) = r["impact"][cat].as_array().unwrap().iter().find(|s| s["agent_id"] == agent) {
            return (cat, s);
        }
    }
    panic!("{agent} not in impact: {}", r["impact"]);
}

async fn edit(app: &TestApp, agent: &str, file: &str, symbols: Option<Vec<&str>>) {
    let edit = FileEdit {
        session_id: format!("s-{agent}"),
        agent_id: agent.into(),
        tool_name: "Edit".into(),
        file_path: file.into(),
        symbols: symbols.map(|s| s.into_iter().map(String::from).collect()),
        ..FileEdit::default()
    };
    app.core.record_edit(&Principal::open_mode(), edit, true).await.unwrap();
}

#[tokio::test]
async fn s1_same_file_is_concerned_and_opens_the_thread() {
    s1_same_file(spawn_app().await).await;
}

/// S1 on any backend (also run on Postgres by `app::postgres`).
pub async fn s1_same_file(app: TestApp) {
    let c = connect(&app.url).await;
    register(&c, "alice", &["src/auth"]).await;
    register(&c, "bob", &["src/ui"]).await;
    announce(&c, json!({"agent_id": "alice", "subject": "JWT", "target_modules": ["src/auth"], "target_files": ["src/auth/jwt.ts"]})).await;
    let r = announce(&c, json!({"agent_id": "bob", "subject": "Login", "target_modules": ["src/ui"], "target_files": ["./src/auth/jwt.ts"]})).await;
    let (cat, s) = impact_of(&r, "alice");
    assert_eq!((cat, s["score"].as_i64(), s["layer"].as_str()), ("concerned", Some(100), Some("L0")));
    assert!(s["reason"].as_str().unwrap().starts_with("announced same file: src/auth/jwt.ts (thread "));
    assert_eq!(r["thread"]["status"], "open");
    assert_eq!(r["thread"]["expected_respondents"], "[\"alice\"]");
    assert_eq!(r["conflicts"][0]["type"], "file_overlap");
    assert_eq!(r["conflicts"][0]["severity"], "warning");
    assert_eq!(r["thread"]["timeout_seconds"], 600);
}

#[tokio::test]
async fn s2_same_module_is_gray_and_auto_resolves_with_an_event() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    register(&c, "alice", &["src/auth"]).await;
    register(&c, "bob", &[]).await;
    let mut events = app.core.bus().subscribe();
    let r = announce(&c, json!({"agent_id": "bob", "subject": "Tokens", "target_modules": ["src/auth/jwt"], "target_files": ["src/auth/jwt/new.ts"]})).await;
    let (cat, s) = impact_of(&r, "alice");
    assert_eq!((cat, s["score"].as_i64(), s["layer"].as_str()), ("gray_zone", Some(30), Some("L3")));
    assert_eq!(s["reason"], "module overlap: src/auth");
    assert_eq!(r["thread"]["status"], "resolved");
    assert_eq!(r["thread"]["resolution_type"], "auto_resolved");
    assert_eq!(r["thread"]["resolution_summary"], "Auto-resolved: no other agent is concerned");
    let mut kinds = Vec::new();
    while let Ok(e) = events.try_recv() {
        kinds.push(e.kind);
    }
    assert_eq!(kinds.iter().filter(|k| *k == "thread_resolved").count(), 1, "{kinds:?}");
    assert_eq!(kinds.first().map(String::as_str), Some("thread_opened"));
    assert!(!kinds.contains(&"introspection_requested".to_owned()), "no introspection on auto-resolved threads");
}

#[tokio::test]
async fn s3_depends_on_an_announced_file_is_gray_80() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    register(&c, "alice", &[]).await;
    register(&c, "bob", &[]).await;
    announce(&c, json!({"agent_id": "alice", "subject": "DB", "target_modules": [], "target_files": ["lib/db.rs"]}))
        .await;
    let r = announce(&c, json!({"agent_id": "bob", "subject": "API", "target_modules": [], "target_files": ["api/x.rs"], "depends_on_files": ["lib/db.rs"]})).await;
    let (cat, s) = impact_of(&r, "alice");
    assert_eq!((cat, s["score"].as_i64(), s["layer"].as_str()), ("gray_zone", Some(80), Some("L0")));
    assert!(s["reason"].as_str().unwrap().starts_with("modifies my dependency: lib/db.rs"));
}

#[tokio::test]
async fn s4_nothing_in_common_passes() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    register(&c, "alice", &["docs"]).await;
    let r = announce(
        &c,
        json!({"agent_id": "bob", "subject": "X", "target_modules": ["src"], "target_files": ["src/x.rs"]}),
    )
    .await;
    let (cat, s) = impact_of(&r, "alice");
    assert_eq!((cat, s["score"].as_i64(), s["reason"].as_str()), ("pass", Some(0), Some("no link detected")));
    assert_eq!(r["impact"]["pass_count"], 1);
    assert_eq!(r["thread"]["status"], "resolved");
}

#[tokio::test]
async fn layer0c_they_depend_on_my_target() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    register(&c, "alice", &[]).await;
    announce(&c, json!({"agent_id": "alice", "subject": "A", "target_modules": [], "target_files": ["a.rs"], "depends_on_files": ["core.rs"]})).await;
    let r = announce(&c, json!({"agent_id": "bob", "subject": "B", "target_modules": [], "target_files": ["core.rs"]}))
        .await;
    let (cat, s) = impact_of(&r, "alice");
    assert_eq!((cat, s["score"].as_i64()), ("gray_zone", Some(80)));
    assert!(s["reason"].as_str().unwrap().starts_with("they depend on my target: core.rs"));
}

#[tokio::test]
async fn layer1_recent_activity_window_is_60_minutes_inclusive() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    register(&c, "alice", &[]).await;
    edit(&app, "alice", "src/hot.rs", None).await;
    app.clock.advance_secs(60 * 60);
    call(&c, "heartbeat", json!({"agent_id": "alice"})).await;
    let r =
        announce(&c, json!({"agent_id": "bob", "subject": "B", "target_modules": [], "target_files": ["src/hot.rs"]}))
            .await;
    let (cat, s) = impact_of(&r, "alice");
    assert_eq!(
        (cat, s["reason"].as_str(), s["layer"].as_str()),
        ("concerned", Some("same file (recent): src/hot.rs"), Some("L1"))
    );
    app.clock.advance_secs(1);
    let r = announce(
        &c,
        json!({"agent_id": "carol", "subject": "C", "target_modules": [], "target_files": ["src/hot.rs"]}),
    )
    .await;
    assert_eq!(impact_of(&r, "alice").0, "pass");
}

#[tokio::test]
async fn layer1_symbol_annotation_and_layer2_dependency() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    register(&c, "alice", &[]).await;
    edit(&app, "alice", "src/m.rs", Some(vec!["Parser.parse"])).await;
    edit(&app, "alice", "src/dep.rs", None).await;
    let r = announce(&c, json!({"agent_id": "bob", "subject": "B", "target_modules": [], "target_files": ["src/m.rs"], "target_symbols": ["Lexer.next"]})).await;
    let (_, s) = impact_of(&r, "alice");
    assert_eq!(s["layer"], "L0.5");
    assert_eq!(s["score"], 100);
    assert_eq!(
        s["reason"],
        "same file: src/m.rs; disjoint symbols: you=[Lexer.next], them=[Parser.parse] — verify shared module state"
    );
    let r = announce(&c, json!({"agent_id": "carol", "subject": "C", "target_modules": [], "target_files": ["x.rs"], "depends_on_files": ["src/dep.rs"]})).await;
    let (cat, s) = impact_of(&r, "alice");
    assert_eq!(
        (cat, s["score"].as_i64(), s["reason"].as_str()),
        ("gray_zone", Some(80), Some("depends on: src/dep.rs"))
    );
}

#[tokio::test]
async fn layer1_in_flight_claim() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    register(&c, "alice", &[]).await;
    app.core.start_working_file(&Principal::open_mode(), "alice", "src/live.rs").await.unwrap();
    let r =
        announce(&c, json!({"agent_id": "bob", "subject": "B", "target_modules": [], "target_files": ["src/live.rs"]}))
            .await;
    let (cat, s) = impact_of(&r, "alice");
    assert_eq!((cat, s["reason"].as_str()), ("concerned", Some("same file (in flight): src/live.rs")));
    assert_eq!(r["conflicts"][0]["description"], "Hot file: src/live.rs is being edited by Agent alice");
    app.clock.advance_secs(30 * 60);
    call(&c, "heartbeat", json!({"agent_id": "alice"})).await;
    let r = announce(
        &c,
        json!({"agent_id": "carol", "subject": "C", "target_modules": [], "target_files": ["src/live.rs"]}),
    )
    .await;
    assert_eq!(impact_of(&r, "alice").0, "pass", "claim expired after 30 minutes");
}

#[tokio::test]
async fn resolved_threads_count_for_30_minutes() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    register(&c, "alice", &[]).await;
    register(&c, "zed", &[]).await;
    let r = announce(&c, json!({"agent_id": "alice", "subject": "A", "target_modules": [], "target_files": ["f.rs"]}))
        .await;
    assert_eq!(r["thread"]["status"], "resolved", "nobody concerned: auto-resolved at creation");
    app.clock.advance_secs(30 * 60);
    call(&c, "heartbeat", json!({"agent_id": "alice"})).await;
    let r =
        announce(&c, json!({"agent_id": "bob", "subject": "B", "target_modules": [], "target_files": ["f.rs"]})).await;
    assert_eq!(impact_of(&r, "alice").0, "concerned", "exactly 30 minutes after resolution");
    app.clock.advance_secs(1);
    call(&c, "heartbeat", json!({"agent_id": "alice"})).await;
    call(&c, "cancel_thread", json!({"thread_id": r["thread"]["id"], "agent_id": "bob"})).await;
    let r = announce(&c, json!({"agent_id": "carol", "subject": "C", "target_modules": [], "target_files": ["f.rs"]}))
        .await;
    assert_eq!(impact_of(&r, "alice").0, "pass", "31 minutes after resolution; bob's thread cancelled");
}

#[tokio::test]
async fn agents_past_the_online_ttl_are_not_candidates() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    register(&c, "alice", &["src"]).await;
    app.clock.advance_secs(901);
    let r =
        announce(&c, json!({"agent_id": "bob", "subject": "B", "target_modules": ["src"], "target_files": []})).await;
    assert_eq!(r["impact"]["pass_count"], 0);
    assert!(r["impact"]["gray_zone"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn run_ids_scope_visibility() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    register(&c, "alice", &[]).await;
    announce(
        &c,
        json!({"agent_id": "alice", "subject": "A", "target_modules": [], "target_files": ["r.rs"], "run_id": "r1"}),
    )
    .await;
    let r = announce(
        &c,
        json!({"agent_id": "bob", "subject": "B", "target_modules": [], "target_files": ["r.rs"], "run_id": "r2"}),
    )
    .await;
    assert_eq!(impact_of(&r, "alice").0, "pass");
    let r = announce(
        &c,
        json!({"agent_id": "carol", "subject": "C", "target_modules": [], "target_files": ["r.rs"], "run_id": "r1"}),
    )
    .await;
    assert_eq!(impact_of(&r, "alice").0, "concerned");
}
