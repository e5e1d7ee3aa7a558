//! Error statuses and shapes: 400 with field paths, bad JSON, 404, 405 + Allow, 409, 410, 413, request ids,
//! Host and Origin rules, CORS preflight.

use serde_json::{Value, json};

use super::Api;
use crate::support::spawn_app;

#[tokio::test]
async fn validation_and_envelope() {
    let app = spawn_app().await;
    let api = Api::new(&app);
    let r = api.post("/api/register", json!({"agent_id": "a"})).await;
    assert_eq!(r.status(), 400);
    let rid = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "INVALID_REQUEST");
    assert_eq!(v["message"], "Request body failed validation");
    assert_eq!(v["details"]["issues"][0]["path"], "name");
    assert_eq!(v["request_id"], rid);
    let r = api
        .post("/api/announce", json!({"agent_id": "a", "subject": "s", "target_modules": [], "target_files": "x"}))
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["details"]["issues"][0]["path"], "target_files");
    let r = api
        .http
        .post(format!("{}/api/register", api.base))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "INVALID_JSON");
    let r = api
        .post(
            "/api/log-file",
            json!({"session_id": "s", "agent_id": "a", "tool_name": "Edit", "file": "../../etc/passwd"}),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "INVALID_PATH");
    let r = api.http.get(format!("{}/api/status", api.base)).header("x-request-id", "trace-123").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-123");
    let r = api.http.get(format!("{}/api/status", api.base)).header("x-request-id", "bad id!").send().await.unwrap();
    assert_ne!(r.headers()["x-request-id"], "bad id!");
}

#[tokio::test]
async fn status_codes() {
    let app = spawn_app().await;
    let api = Api::new(&app);
    let r = api.get("/api/register").await;
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"error": "method not allowed"}));
    let r = api.get("/api/nope").await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"error": "not found"}));
    let missing = "00000000-0000-4000-8000-000000000000";
    let r = api
        .post("/api/post-to-thread", json!({"thread_id": missing, "agent_id": "a", "type": "context", "content": "x"}))
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"error": "thread_not_found", "thread_id": missing}));
    assert_eq!(api.get(&format!("/api/consultation/{missing}/status")).await.status(), 404);
    api.ok("/api/register", json!({"agent_id": "alice", "name": "Alice"})).await;
    api.ok(
        "/api/announce",
        json!({"agent_id": "alice", "subject": "A", "target_modules": [], "target_files": ["x.rs"]}),
    )
    .await;
    let t = api
        .ok("/api/announce", json!({"agent_id": "bob", "subject": "B", "target_modules": [], "target_files": ["x.rs"]}))
        .await["thread_id"]
        .clone();
    let r = api.post("/api/approve-resolution", json!({"thread_id": t, "agent_id": "alice"})).await;
    assert_eq!(r.status(), 409);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "INVALID_STATE");
    let r = api.post("/api/propose-resolution", json!({"thread_id": t, "agent_id": "alice", "summary": "s"})).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "NOT_INITIATOR_OR_CLAIMANT");
    app.core
        .cancel_thread(&mcp_coordinator::core::principal::Principal::open_mode(), t.as_str().unwrap(), "bob", None)
        .await
        .unwrap();
    let r = api
        .post("/api/post-to-thread", json!({"thread_id": t, "agent_id": "a", "type": "context", "content": "x"}))
        .await;
    assert_eq!(r.status(), 410);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"error": "thread_cancelled"}));
    let big = "x".repeat(1_100_000);
    let r = api.post("/api/register", json!({"agent_id": "a", "name": big})).await;
    assert_eq!(r.status(), 413);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "PAYLOAD_TOO_LARGE");
    let r = api.get("/api/scoring-stats?since=90d").await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn host_origin_and_cors() {
    let app = spawn_app().await;
    let api = Api::new(&app);
    let url = format!("{}/api/status", api.base);
    let r = api.http.get(&url).header("host", "evil.example").send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"error": "Host not allowed"}));
    let reg = format!("{}/api/register", api.base);
    let r = api
        .http
        .post(&reg)
        .header("origin", "https://evil.example")
        .json(&json!({"agent_id": "a", "name": "A"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"error": "Origin not allowed"}));
    let r = api
        .http
        .post(&reg)
        .header("origin", "http://localhost:5173")
        .json(&json!({"agent_id": "a", "name": "A"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "http://localhost:5173");
    let r = api
        .http
        .request(reqwest::Method::OPTIONS, &reg)
        .header("origin", "http://127.0.0.1:8080")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["access-control-max-age"], "600");
    assert!(r.headers()["access-control-allow-headers"].to_str().unwrap().contains("mcp-session-id"));
    let r =
        api.http.request(reqwest::Method::OPTIONS, &reg).header("origin", "https://evil.example").send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = api
        .http
        .post(format!("{}/mcp", api.base))
        .header("origin", "https://evil.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = api.http.get(format!("{}/livez", api.base)).header("host", "10.0.0.7:3100").send().await.unwrap();
    assert_eq!(r.status(), 200, "probes skip the Host check");
}
