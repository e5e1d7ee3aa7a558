//! Bad input through MCP: a clear tool error naming the field or rule, and nothing written.

use serde_json::json;

use crate::support::{call, call_err, connect, spawn_app_with};

#[tokio::test]
async fn bad_arguments_name_the_field_and_write_nothing() {
    let root = tempfile::tempdir().unwrap();
    let root_s = root.path().display().to_string();
    let app = spawn_app_with(&[("COORDINATOR_REPO_ROOT", &root_s)]).await;
    let c = connect(&app.url).await;
    let base = json!({"agent_id": "bob", "subject": "S", "target_modules": [], "target_files": ["a.rs"]});

    let mut a = base.clone();
    a["target_files"] = json!("a.rs");
    let e = call_err(&c, "announce_work", a).await;
    assert!(e.starts_with("Invalid arguments: target_files: invalid type"), "{e}");

    let mut a = base.clone();
    a["target_symbols"] = json!((0..201).map(|i| format!("S{i}")).collect::<Vec<_>>());
    assert_eq!(call_err(&c, "announce_work", a).await, "Invalid arguments: target_symbols: at most 200 items");

    let mut a = base.clone();
    a["target_files"] = json!(["/etc/passwd"]);
    let e = call_err(&c, "announce_work", a).await;
    assert!(e.starts_with("invalid path /etc/passwd: path is outside the configured repository roots"), "{e}");

    let mut a = base.clone();
    a["target_files"] = json!([format!("{root_s}/src/ok.rs"), "../escape.rs"]);
    assert_eq!(call_err(&c, "announce_work", a).await, "invalid path ../escape.rs: path escapes the repository root");

    let e = call_err(&c, "announce_work", json!({"agent_id": "bob", "target_modules": [], "target_files": []})).await;
    assert_eq!(e, "Invalid arguments: subject: required field is missing");
    assert_eq!(call(&c, "list_threads", json!({})).await, json!([]), "nothing was written");
    assert_eq!(call(&c, "list_agents", json!({})).await, json!([]), "the announcer was not registered");

    let mut a = base.clone();
    a["target_files"] = json!([format!("{root_s}/src/ok.rs")]);
    let r = call(&c, "announce_work", a).await;
    assert_eq!(r["thread"]["target_files"], "[\"src/ok.rs\"]", "absolute paths under a root become repo-relative");

    let e = call_err(&c, "heartbeat", json!({"agent_id": "ghost"})).await;
    assert_eq!(e, "Agent not registered: ghost");
    let e =
        call_err(&c, "post_to_thread", json!({"thread_id": "t", "agent_id": "a", "type": "approve", "content": "x"}))
            .await;
    assert!(e.starts_with("Invalid arguments: type:"), "{e}");
    let e = call_err(&c, "list_threads", json!({"limit": 1001})).await;
    assert!(e.starts_with("Invalid arguments: limit:"), "{e}");
    let e = call_err(&c, "set_dependency_map", json!({"modules": "{not json"})).await;
    assert!(e.starts_with("Invalid arguments: modules:"), "{e}");
    let e = call_err(&c, "get_thread_updates", json!({"agent_id": "a", "since": "yesterday"})).await;
    assert!(e.starts_with("Invalid arguments: since:"), "{e}");
    let e = call_err(&c, "wait_for_message", json!({"agent_id": " ", "timeout_seconds": 1})).await;
    assert!(e.contains("agent_id"), "{e}");
}
