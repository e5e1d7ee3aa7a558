//! Stateful MCP sessions shared through Redis (`mcp-tools.md` §9.1 "Sessions", decision 0004): a session
//! initialised on one replica works on another; DELETE, expiry and a foreign principal give the spec's 404
//! everywhere. Real Redis on 127.0.0.1:6379, one key prefix per test.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::{self, Next};
use mcp_coordinator::core::ids::OrgId;
use mcp_coordinator::core::principal::Principal;
use mcp_coordinator::mcp::{CoreBackend, McpHttpConfig, McpServer, SESSION_NOT_FOUND, SessionRegistry};
use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::{TestApp, call, connect, redis_prefix as prefix, spawn_app, spawn_app_with};

const REDIS: &str = "redis://127.0.0.1:6379";
const VERSION: &str = "2025-06-18";

/// Two replicas (own SQLite stores) sharing `prefix` on the test Redis.
async fn replicas(prefix: &str, ttl_ms: &str) -> (TestApp, TestApp) {
    let env = [
        ("COORDINATOR_MCP_SESSION_MODE", "stateful"),
        ("COORDINATOR_REDIS_URL", REDIS),
        ("COORDINATOR_REDIS_PREFIX", prefix),
        ("COORDINATOR_MCP_SESSION_TTL_MS", ttl_ms),
    ];
    (spawn_app_with(&env).await, spawn_app_with(&env).await)
}

/// The JSON-RPC messages of an SSE or JSON body.
fn messages(body: &str) -> Vec<Value> {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        return vec![v];
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .collect()
}

fn post(url: &str, session: Option<&str>, body: Value) -> reqwest::RequestBuilder {
    let mut r = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .json(&body);
    if let Some(id) = session {
        r = r.header("mcp-session-id", id).header("mcp-protocol-version", VERSION);
    }
    r
}

/// `initialize` + `notifications/initialized` on `url`; returns the session id.
async fn initialize(url: &str) -> String {
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "sessions-test", "version": "1"}}});
    let r = post(url, None, init).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let id = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "a random UUID: {id}");
    let reply = messages(&r.text().await.unwrap());
    assert_eq!(reply[0]["result"]["protocolVersion"], VERSION);
    let done = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(post(url, Some(&id), done).send().await.unwrap().status(), 202);
    id
}

/// A request in the session; returns the status and the JSON-RPC reply (Null when none).
async fn request(url: &str, id: &str, n: u64, method: &str, params: Value) -> (StatusCode, Value) {
    let body = json!({"jsonrpc": "2.0", "id": n, "method": method, "params": params});
    let r = post(url, Some(id), body).send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    if status == StatusCode::NOT_FOUND {
        return (status, serde_json::from_str(&text).unwrap());
    }
    let reply = messages(&text).into_iter().find(|m| m["id"] == json!(n)).unwrap_or(Value::Null);
    (status, reply)
}

async fn assert_gone(url: &str, id: &str) {
    let (status, body) = request(url, id, 99, "tools/list", json!({})).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({"error": SESSION_NOT_FOUND})));
}

fn delete(url: &str, id: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new().delete(url).header("mcp-session-id", id).header("mcp-protocol-version", VERSION)
}

#[tokio::test]
async fn a_session_from_one_replica_works_on_another_until_deleted() {
    let prefix = prefix();
    let (a, b) = replicas(&prefix, "1800000").await;
    let id = initialize(&a.url).await;
    let mut redis = redis::Client::open(REDIS).unwrap().get_multiplexed_async_connection().await.unwrap();
    let stored: String = redis.get(format!("{prefix}mcp:session:{id}")).await.unwrap();
    let record: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!((record["sub"].as_str(), record["org"].as_str()), (Some("legacy"), Some("default")));
    assert_eq!(record["initialize"]["clientInfo"]["name"], "sessions-test");

    let (status, tools) = request(&b.url, &id, 2, "tools/list", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(tools["result"]["tools"].as_array().map(Vec::len), Some(26), "{tools}");
    let args = json!({"name": "register_agent", "arguments": {"agent_id": "a1", "name": "A", "modules": []}});
    let (status, reg) = request(&b.url, &id, 3, "tools/call", args).await;
    assert_eq!(status, 200);
    assert_ne!(reg["result"]["isError"], true, "{reg}");
    let registered: Value = serde_json::from_str(reg["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(registered["status"], "online");
    let (_, st) = request(&b.url, &id, 4, "tools/call", json!({"name": "coordinator_status", "arguments": {}})).await;
    assert!(st["result"]["content"][0]["text"].as_str().unwrap().contains("agents_online"), "{st}");
    // Still usable on A, and B serves the server-to-client stream.
    let (status, _) = request(&a.url, &id, 5, "tools/list", json!({})).await;
    assert_eq!(status, 200);
    let open_stream = |url: String| {
        let id = id.clone();
        async move {
            let r = reqwest::Client::new()
                .get(url)
                .header("accept", "text/event-stream")
                .header("mcp-session-id", id)
                .header("mcp-protocol-version", VERSION)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
            r
        }
    };
    let stream_a = open_stream(a.url.clone()).await;
    let stream_b = open_stream(b.url.clone()).await;

    // Both replicas listen for deletions, so A closes its copy (and its GET stream) when B deletes.
    let channel = format!("{prefix}mcp:session-closed");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, listeners): (String, usize) =
            redis::cmd("PUBSUB").arg("NUMSUB").arg(&channel).query_async(&mut redis).await.unwrap();
        if listeners >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the replicas never subscribed to {channel}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(delete(&b.url, &id).send().await.unwrap().status(), 204);
    for (name, stream) in [("A", stream_a), ("B", stream_b)] {
        let ended = tokio::time::timeout(Duration::from_secs(10), stream.bytes()).await;
        assert!(ended.is_ok(), "the GET stream on {name} ends with the session");
    }
    let exists: bool = redis.exists(format!("{prefix}mcp:session:{id}")).await.unwrap();
    assert!(!exists, "DELETE removes the shared record");
    assert_gone(&a.url, &id).await;
    assert_gone(&b.url, &id).await;
    assert_eq!(delete(&a.url, &id).send().await.unwrap().status(), 404);
    assert_gone(&a.url, "00000000-0000-4000-8000-000000000000").await;
}

#[tokio::test]
async fn an_idle_session_expires_on_every_replica() {
    let prefix = prefix();
    let (a, b) = replicas(&prefix, "1000").await;
    let id = initialize(&a.url).await;
    let (status, _) = request(&b.url, &id, 2, "tools/list", json!({})).await;
    assert_eq!(status, 200, "fresh session");
    // Wait for Redis to expire the record (EXISTS does not refresh the TTL, requests would).
    let key = format!("{prefix}mcp:session:{id}");
    let mut redis = redis::Client::open(REDIS).unwrap().get_multiplexed_async_connection().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while redis.exists::<_, bool>(&key).await.unwrap() {
        assert!(Instant::now() < deadline, "the session record never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_gone(&a.url, &id).await;
    assert_gone(&b.url, &id).await;
}

/// `/mcp` alone, with the principal taken from an `x-test-sub` header (what the auth layer will do).
async fn serve_with_principals(app: &TestApp, store: Option<Arc<SessionRegistry>>) -> String {
    let server = McpServer::new(Arc::new(CoreBackend::new(app.core.clone())));
    let cancel = CancellationToken::new();
    let cfg =
        McpHttpConfig { stateful: true, session_store: store, cancel: cancel.clone(), ..McpHttpConfig::default() };
    let router = mcp_coordinator::mcp::router(server, cfg).layer(middleware::from_fn(
        |mut request: Request, next: Next| async move {
            let sub = request.headers().get("x-test-sub").and_then(|v| v.to_str().ok()).unwrap_or("alice").to_owned();
            request.extensions_mut().insert(Principal::member_of(OrgId::default_org(), sub));
            next.run(request).await
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).with_graceful_shutdown(cancel.cancelled_owned()).await });
    url
}

#[tokio::test]
async fn another_principal_gets_404_in_memory_and_with_redis() {
    let app = spawn_app().await;
    let ttl = Duration::from_secs(60);
    let shared = SessionRegistry::redis(REDIS, &prefix(), ttl).await.unwrap();
    for store in [None, Some(shared)] {
        let url = serve_with_principals(&app, store).await;
        let id = initialize(&url).await;
        let (status, _) = request(&url, &id, 2, "tools/list", json!({})).await;
        assert_eq!(status, 200, "the creator (alice) may use it");
        let (status, body) = async {
            let body = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {}});
            let r = post(&url, Some(&id), body).header("x-test-sub", "mallory").send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
        .await;
        assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({"error": SESSION_NOT_FOUND})));
        let r = delete(&url, &id).header("x-test-sub", "mallory").send().await.unwrap();
        assert_eq!(r.status(), 404, "nor may it delete it");
        assert_eq!(delete(&url, &id).send().await.unwrap().status(), 204);
        assert_gone(&url, &id).await;
    }
}

#[tokio::test]
async fn without_redis_a_stateful_session_lives_in_memory() {
    let app = spawn_app_with(&[("COORDINATOR_MCP_SESSION_MODE", "stateful")]).await;
    let id = initialize(&app.url).await;
    let (status, tools) = request(&app.url, &id, 2, "tools/list", json!({})).await;
    assert_eq!((status, tools["result"]["tools"].as_array().map(Vec::len)), (StatusCode::OK, Some(26)));
    assert_eq!(delete(&app.url, &id).send().await.unwrap().status(), 204);
    assert_gone(&app.url, &id).await;
}

/// A load balancer without affinity in front of two replicas: request n goes to replica n mod 2.
/// Returns its `/mcp` URL and the number of requests each replica got.
async fn round_robin(upstreams: [String; 2]) -> (String, Arc<[AtomicUsize; 2]>) {
    let counts = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let (next, seen, http) = (Arc::new(AtomicUsize::new(0)), counts.clone(), reqwest::Client::new());
    let forward = move |request: Request| {
        let (upstreams, next, seen, http) = (upstreams.clone(), next.clone(), seen.clone(), http.clone());
        async move {
            let i = next.fetch_add(1, Ordering::SeqCst) % 2;
            seen[i].fetch_add(1, Ordering::SeqCst);
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            let mut out = http.request(parts.method, &upstreams[i]).body(body);
            for (k, v) in parts.headers.iter().filter(|(k, _)| *k != "host") {
                out = out.header(k, v);
            }
            let answer = out.send().await.unwrap();
            let mut back = axum::http::Response::builder().status(answer.status());
            for (k, v) in answer.headers().iter().filter(|(k, _)| *k != "transfer-encoding" && *k != "connection") {
                back = back.header(k, v);
            }
            back.body(axum::body::Body::from_stream(answer.bytes_stream())).unwrap()
        }
    };
    let router = axum::Router::new().route("/mcp", axum::routing::any(forward));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, counts)
}

#[tokio::test]
async fn the_rmcp_client_works_when_every_request_goes_to_the_other_replica() {
    let prefix = prefix();
    let (a, b) = replicas(&prefix, "1800000").await;
    let (url, counts) = round_robin([a.url.clone(), b.url.clone()]).await;
    let c = connect(&url).await;
    assert_eq!(c.list_all_tools().await.unwrap().len(), 26);
    for n in 0..3 {
        let agent = format!("agent-{n}");
        let r = call(&c, "register_agent", json!({"agent_id": agent, "name": "A", "modules": []})).await;
        assert_eq!(r["status"], "online");
        let st = call(&c, "coordinator_status", json!({})).await;
        assert!(st["agents_online"].as_i64().is_some(), "{st}");
    }
    let served = counts.iter().map(|c| c.load(Ordering::SeqCst)).collect::<Vec<_>>();
    assert!(served.iter().all(|n| *n >= 3), "both replicas served the session: {served:?}");
    let mut redis = redis::Client::open(REDIS).unwrap().get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis.keys(format!("{prefix}mcp:session:*")).await.unwrap();
    assert_eq!(keys.len(), 1, "one session throughout, never a re-initialisation: {keys:?}");
    c.cancel().await.unwrap();
    let _: usize = redis.del(keys).await.unwrap();
}
