//! Transports: tools/list over streamable HTTP (stateless and stateful) and over stdio with the real binary;
//! health probes; the remaining read tools.

use std::process::Stdio;

use rmcp::ServiceExt;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::support::{call, connect, params, spawn_app, spawn_app_with, text};

const TOOLS: [&str; 26] = [
    "register_agent",
    "list_agents",
    "heartbeat",
    "agent_activity",
    "announce_work",
    "post_to_thread",
    "propose_resolution",
    "approve_resolution",
    "contest_resolution",
    "close_thread",
    "cancel_thread",
    "get_thread",
    "get_thread_updates",
    "list_threads",
    "log_action_summary",
    "hot_files",
    "get_session_files",
    "check_file_conflict",
    "set_dependency_map",
    "get_blast_radius",
    "get_module_info",
    "wait_for_message",
    "get_queued_messages",
    "mqtt_publish",
    "coordinator_status",
    "wait_for_peers",
];

fn assert_tools(tools: &[rmcp::model::Tool]) {
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    let mut want = TOOLS.to_vec();
    want.sort_unstable();
    assert_eq!(names, want);
    for t in tools {
        assert_eq!(t.input_schema.get("type"), Some(&json!("object")), "{} schema", t.name);
    }
    let announce = tools.iter().find(|t| t.name == "announce_work").unwrap();
    let props = announce.input_schema.get("properties").unwrap();
    for arg in [
        "agent_id",
        "subject",
        "plan",
        "target_modules",
        "target_files",
        "depends_on_files",
        "target_symbols",
        "run_id",
    ] {
        assert!(props.get(arg).is_some(), "announce_work has {arg}");
    }
}

#[tokio::test]
async fn http_stateless_and_stateful_list_the_26_tools() {
    for extra in [vec![], vec![("COORDINATOR_MCP_SESSION_MODE", "stateful")]] {
        let app = spawn_app_with(&extra).await;
        let c = connect(&app.url).await;
        let info = c.peer_info().unwrap();
        assert_eq!(info.server_info.as_ref().map(|i| i.name.as_str()), Some("mcp-coordinator"));
        assert_tools(&c.list_all_tools().await.unwrap());
        let r = call(&c, "register_agent", json!({"agent_id": "a1", "name": "A", "modules": ["src"]})).await;
        assert_eq!(r["modules"], "[\"src\"]");
        assert_eq!(r["status"], "online");
    }
}

#[tokio::test]
async fn stdio_serves_the_same_tools_on_the_real_binary() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcp-coordinator"));
    cmd.arg("stdio").arg("--data-dir").arg(dir.path().join("data")).env("HOME", dir.path());
    let (transport, _stderr) = TokioChildProcess::builder(cmd).stderr(Stdio::piped()).spawn().unwrap();
    let c = ().serve(transport).await.unwrap();
    assert_tools(&c.list_all_tools().await.unwrap());
    c.call_tool(params("register_agent", json!({"agent_id": "alice", "name": "Alice", "modules": []}))).await.unwrap();
    c.call_tool(params(
        "announce_work",
        json!({"agent_id": "alice", "subject": "A", "target_modules": [], "target_files": ["x.rs"]}),
    ))
    .await
    .unwrap();
    let r = c
        .call_tool(params(
            "announce_work",
            json!({"agent_id": "bob", "subject": "B", "target_modules": [], "target_files": ["x.rs"]}),
        ))
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&text(&r)).unwrap();
    assert_eq!(v["impact"]["concerned"][0]["agent_id"], "alice");
    let r = c.call_tool(params("mqtt_publish", json!({"topic": "broadcast", "payload": "{}"}))).await.unwrap();
    assert_eq!(r.is_error, Some(true));
    c.cancel().await.unwrap();
}

#[tokio::test]
async fn health_probes_answer() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let live: Value = http.get(format!("{}/livez", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(live["status"], "alive");
    let ready = http.get(format!("{}/readyz", app.base)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["schema"]["ok"], true);
    let missing = http.get(format!("{}/nope", app.base)).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.json::<Value>().await.unwrap(), json!({"error": "not found"}));
}

#[tokio::test]
async fn dependency_status_and_peer_tools() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    let map = json!({"api": {"depends_on": ["core"]}, "core": {"depends_on": ["db"], "exports": ["Core"]}, "db": {}});
    assert_eq!(call(&c, "set_dependency_map", json!({"modules": map.to_string()})).await, "ok");
    let info = call(&c, "get_module_info", json!({"module_id": "core"})).await;
    assert_eq!(info, json!({"module_id": "core", "depends_on": ["db"], "exports": ["Core"], "owners": []}));
    assert_eq!(call(&c, "get_module_info", json!({"module_id": "zzz"})).await, Value::Null);
    call(&c, "register_agent", json!({"agent_id": "alice", "name": "Alice", "modules": []})).await;
    call(&c, "announce_work", json!({"agent_id": "alice", "subject": "API work", "target_modules": ["api"], "target_files": ["api/a.rs"], "keep_open": true})).await;
    let br = call(&c, "get_blast_radius", json!({"module_id": "db"})).await;
    assert_eq!(br["direct_dependents"], json!(["core"]));
    assert_eq!(br["indirect_dependents"], json!(["api"]));
    assert_eq!(br["active_threads_in_radius"][0]["subject"], "API work");
    let r = call(
        &c,
        "announce_work",
        json!({"agent_id": "bob", "subject": "DB", "target_modules": ["db"], "target_files": ["db/x.rs"]}),
    )
    .await;
    assert_eq!(r["conflicts"][0]["type"], "dependency_chain");
    assert!(r["conflicts"][0]["description"].as_str().unwrap().starts_with("api depends on db (thread "));
    let st = call(&c, "coordinator_status", json!({})).await;
    assert_eq!(
        (st["agents_online"].as_i64(), st["open_threads"].as_i64(), st["mqtt_connected"].as_bool()),
        (Some(2), Some(1), Some(true)),
        "the embedded broker is connected"
    );
    let peers = call(&c, "wait_for_peers", json!({"agent_id": "alice", "min_peers": 1, "timeout_seconds": 1})).await;
    assert_eq!(peers["ready"], true);
    assert_eq!(peers["online_peers"][0]["id"], "bob");
    let none = call(&c, "wait_for_peers", json!({"agent_id": "alice", "min_peers": 5, "timeout_seconds": 1})).await;
    assert_eq!((none["ready"].as_bool(), none["timeout"].as_bool()), (Some(false), Some(true)));
    let s = call(
        &c,
        "log_action_summary",
        json!({"session_id": "s1", "agent_id": "alice", "file_path": "api/a.rs", "summary": "did a thing"}),
    )
    .await;
    assert_eq!(s["file_path"], "api/a.rs");
    let act = call(&c, "agent_activity", json!({})).await;
    assert_eq!(act.as_array().unwrap().len(), 2);
    let hb = call(&c, "heartbeat", json!({"agent_id": "alice", "current_file": "api/a.rs"})).await;
    assert_eq!(hb["activity_status"], "working");
    assert_eq!(call(&c, "hot_files", json!({})).await, json!([]));
}

#[tokio::test]
async fn stateful_delete_of_an_unknown_session_is_404() {
    let app = spawn_app_with(&[("COORDINATOR_MCP_SESSION_MODE", "stateful")]).await;
    let r = reqwest::Client::new()
        .delete(&app.url)
        .header("mcp-session-id", "00000000-0000-4000-8000-000000000000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().starts_with("Session not found"));
    let stateless = spawn_app().await;
    let r = reqwest::Client::new().delete(&stateless.url).send().await.unwrap();
    assert_eq!(r.status(), 405, "stateless: DELETE is not allowed");
}
