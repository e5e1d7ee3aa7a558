//! Every Phase-1 route with its happy path and body shape.

use serde_json::json;

use super::Api;
use crate::support::{spawn_app, spawn_app_with};

#[tokio::test]
async fn agent_and_file_routes() {
    let app = spawn_app().await;
    let api = Api::new(&app);
    let a = api.ok("/api/register", json!({"agent_id": "alice", "name": "Alice", "modules": ["src"]})).await;
    assert_eq!((a["id"].as_str(), a["modules"].as_str()), (Some("alice"), Some("[\"src\"]")));
    api.ok("/api/register", json!({"agent_id": "bob", "name": "Bob"})).await;
    assert_eq!(
        api.ok(
            "/api/log-file",
            json!({"session_id": "s1", "agent_id": "alice", "tool_name": "Edit", "file": "src/a.rs"})
        )
        .await,
        json!({"ok": true})
    );
    let c = api.get_ok("/api/check-conflict?file=src/a.rs&agent_id=bob").await;
    assert_eq!(
        c,
        json!({"conflict": true, "warnings": ["File src/a.rs was edited by Alice within the last 30 minutes"]})
    );
    let c = api.ok("/api/check-conflict", json!({"file": "src/a.rs", "agent_id": "alice"})).await;
    assert_eq!(c["conflict"], false);
    let fa = api.ok("/api/file-activity", json!({"session_id": "s2", "agent_id": "bob", "tool_name": "Write", "file_path": "src/a.rs", "content": "fn main() {}"})).await;
    assert_eq!(fa["content_hash"].as_str().unwrap().len(), 64);
    let hot = api.ok("/api/hot-files", json!({})).await;
    assert_eq!(hot[0]["file_path"], "src/a.rs");
    assert_eq!(hot[0]["agent_count"], 2);
    assert_eq!(api.get_ok("/api/hot-files?since_minutes=5").await[0]["agent_count"], 2);
    let w = api.ok("/api/working-files/start", json!({"agent_id": "bob", "file_path": "src/b.rs"})).await;
    assert!(w["claim_until"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        api.ok("/api/working-files/stop", json!({"agent_id": "bob", "file_path": "src/b.rs"})).await,
        json!({"ok": true})
    );
    let st = api.get_ok("/api/agent-status/alice").await;
    assert_eq!((st["registered"].as_bool(), st["status"].as_str()), (Some(true), Some("online")));
    assert_eq!(st["activity"]["activity_status"], "working");
    assert_eq!(api.get_ok("/api/agent-status/ghost").await, json!({"registered": false, "status": "unknown"}));
    let brief = api.get_ok("/api/session-start").await;
    assert!(brief["briefing"].as_str().unwrap().starts_with("Online agents: 2 (Alice, Bob)"), "{brief}");
    assert_eq!(
        api.ok("/api/token-usage", json!({"agent_id": "alice", "input_tokens": 10, "output_tokens": 5})).await,
        json!({"ok": true})
    );
    let status = api.get_ok("/api/status").await;
    assert_eq!(status["online"], 2);
    assert_eq!(api.ok("/api/session-stop", json!({"agent_id": "bob"})).await, json!({"ok": true}));
    assert_eq!(api.get_ok("/api/agent-status/bob").await["status"], "offline");
}

#[tokio::test]
async fn thread_routes() {
    let app = spawn_app().await;
    let api = Api::new(&app);
    api.ok("/api/register", json!({"agent_id": "alice", "name": "Alice", "modules": ["src/auth"]})).await;
    api.ok(
        "/api/announce",
        json!({"agent_id": "alice", "subject": "A", "target_modules": [], "target_files": ["x.rs"]}),
    )
    .await;
    let r = api.ok("/api/announce", json!({"agent_id": "bob", "agent_name": "Bob", "subject": "B", "target_modules": ["src/auth/jwt"], "target_files": ["x.rs"], "run_id": "r1"})).await;
    assert_eq!(r["status"], "open");
    let t = r["thread_id"].as_str().unwrap().to_owned();
    assert_eq!(r["impact"]["concerned"][0]["agent_id"], "alice");
    let interrupt = api.ok("/api/check-interrupt", json!({"agent_id": "alice"})).await;
    assert_eq!(
        (interrupt["interrupt"].as_bool(), interrupt["threads"][0]["thread_id"].as_str()),
        (Some(true), Some(t.as_str()))
    );
    assert_eq!(api.get_ok("/api/check-interrupt?agent_id=bob").await, json!({"interrupt": false}));
    let m = api
        .ok("/api/post-to-thread", json!({"thread_id": t, "agent_id": "alice", "type": "context", "content": "hello"}))
        .await;
    assert_eq!(m["content"], "hello");
    let active = api.get_ok("/api/threads-active?run_id=r1").await;
    assert_eq!(active.as_array().unwrap().len(), 1);
    assert_eq!(api.ok("/api/threads-active", json!({"run_id": "r2"})).await, json!([]));
    let sum = api.get_ok("/api/threads-summary?run_id=r1").await;
    assert_eq!(
        sum,
        json!({"run_id": "r1", "total": 1, "counts": {"open": 1, "resolving": 0, "resolved": 0, "cancelled": 0, "poisoned": 0}})
    );
    assert_eq!(api.ok("/api/claim-task", json!({"thread_id": t, "agent_id": "carol"})).await, json!({"success": true}));
    let refused = api.ok("/api/claim-task", json!({"thread_id": t, "agent_id": "dave"})).await;
    assert_eq!((refused["success"].as_bool(), refused["claimed_by"].as_str()), (Some(false), Some("carol")));
    assert_eq!(
        api.ok("/api/unclaim-task", json!({"thread_id": t, "agent_id": "dave"})).await,
        json!({"success": false, "poisoned": false})
    );
    assert_eq!(
        api.ok("/api/unclaim-task", json!({"thread_id": t, "agent_id": "carol"})).await,
        json!({"success": true, "poisoned": false})
    );
    let th = api.ok("/api/propose-resolution", json!({"thread_id": t, "agent_id": "bob", "summary": "ship it"})).await;
    assert_eq!(th["status"], "resolving");
    let cs = api.get_ok(&format!("/api/consultation/{t}/status")).await;
    assert_eq!((cs["status"].as_str(), cs["resolution_summary"].as_str()), (Some("resolving"), Some("ship it")));
    assert_eq!(cs["expected_respondents"], json!(["alice"]));
    let th = api.ok("/api/approve-resolution", json!({"thread_id": t, "agent_id": "alice"})).await;
    assert_eq!(th["resolution_type"], "consensus");
    let stats = api.get_ok("/api/scoring-stats?since=2h").await;
    let l0 = stats["layers"].as_array().unwrap().iter().find(|l| l["layer"] == "L0").unwrap();
    assert_eq!((l0["fire_count"].as_i64(), l0["outcomes"]["consensus"].as_i64()), (Some(1), Some(1)));
}

#[tokio::test]
async fn introspections_join_the_thread() {
    let app = spawn_app().await;
    let api = Api::new(&app);
    api.ok("/api/register", json!({"agent_id": "alice", "name": "Alice", "modules": []})).await;
    api.ok("/api/register", json!({"agent_id": "gray", "name": "Gray", "modules": ["lib"]})).await;
    api.ok(
        "/api/announce",
        json!({"agent_id": "alice", "subject": "A", "target_modules": [], "target_files": ["x.rs"]}),
    )
    .await;
    let r = api
        .ok(
            "/api/announce",
            json!({"agent_id": "bob", "subject": "B", "target_modules": ["lib"], "target_files": ["x.rs"]}),
        )
        .await;
    let pending = api.get_ok("/api/pending-introspections?agent_id=gray").await;
    let id = pending[0]["id"].as_str().unwrap().to_owned();
    let resp = api
        .ok("/api/introspection-response", json!({"introspection_id": id, "concerned": true, "reason": "I own lib"}))
        .await;
    assert_eq!((resp["status"].as_str(), resp["joined"].as_bool()), (Some("responded"), Some(true)));
    let again = api
        .post("/api/introspection-response", json!({"introspection_id": id, "concerned": true, "reason": "x"}))
        .await;
    assert_eq!(again.status(), 409);
    assert_eq!(again.json::<serde_json::Value>().await.unwrap()["code"], "ALREADY_RESPONDED");
    let cs = api.get_ok(&format!("/api/consultation/{}/status", r["thread_id"].as_str().unwrap())).await;
    assert_eq!(cs["expected_respondents"], json!(["alice", "gray"]));
}

#[tokio::test]
async fn reset_is_gated() {
    let app = spawn_app().await;
    let api = Api::new(&app);
    let r = api.post("/api/reset", json!({})).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], "RESET_DISABLED");
    let app = spawn_app_with(&[("COORDINATOR_ALLOW_RESET", "true")]).await;
    let api = Api::new(&app);
    api.ok("/api/register", json!({"agent_id": "alice", "name": "Alice"})).await;
    let r = api.ok("/api/reset", json!({})).await;
    assert_eq!(r["deleted"]["agents"], 1);
    assert_eq!(api.get_ok("/api/status").await["online"], 0);
}
