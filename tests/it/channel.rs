//! The Channels sidecar end to end: the real `mcp-coordinator channel` binary as a child process, driven by an
//! rmcp client over its stdio, against a real app (HTTP + embedded MQTT broker on OS-assigned ports). Checks the
//! identity and the one tool, relays of the three event kinds as `notifications/claude/channel`, a reply through
//! `post_to_thread` coming back as a message event, tool errors, a clean exit when stdin closes, the token as MQTT
//! password and as the source of the org, and that MCP works while the broker is unreachable.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use mcp_coordinator::core::ids::OrgId;
use mcp_coordinator::core::ports::Qos;
use mcp_coordinator::mqtt::{AuthRefusal, MqttAuthenticator, MqttCredentials, MqttIdentity};
use rmcp::model::{CallToolResult, CustomNotification};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

use crate::support::{TestApp, call, connect, params, spawn_app, spawn_app_with_auth, text};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-coordinator");
const READY: &str = "[channel] subscriptions active";

/// An rmcp client that hands every custom notification to the test.
struct Collector(mpsc::UnboundedSender<CustomNotification>);

impl ClientHandler for Collector {
    async fn on_custom_notification(&self, n: CustomNotification, _context: NotificationContext<RoleClient>) {
        let _ = self.0.send(n);
    }
}

/// A running sidecar: the MCP client over its stdio, what it notified, what it wrote on stderr.
struct Sidecar {
    client: RunningService<RoleClient, Collector>,
    events: mpsc::UnboundedReceiver<CustomNotification>,
    stderr: Arc<Mutex<String>>,
    _home: tempfile::TempDir,
}

impl Sidecar {
    async fn start(mqtt_url: &str, http_url: &str) -> Sidecar {
        Self::start_with(mqtt_url, http_url, &[]).await
    }

    async fn start_with(mqtt_url: &str, http_url: &str, extra: &[&str]) -> Sidecar {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.args(["channel", "--mqtt-url", mqtt_url, "--url", http_url])
            .args(extra)
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("COORDINATOR_MQTT_TCP_PORT", "0");
        let (transport, stderr) = TokioChildProcess::builder(cmd).stderr(Stdio::piped()).spawn().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let mut lines = tokio::io::BufReader::new(stderr.unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
            sink.lock().unwrap().push_str("<EOF>\n");
        });
        let (tx, events) = mpsc::unbounded_channel();
        let client = Collector(tx).serve(transport).await.unwrap();
        Sidecar { client, events, stderr: log, _home: home }
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Polls stderr until it contains `needle`, at most 20 s.
    async fn wait_stderr(&self, needle: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !self.log().contains(needle) {
            assert!(tokio::time::Instant::now() < deadline, "no {needle:?} on stderr:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The next channel notification whose params satisfy `wanted` (others are skipped), at most 10 s.
    async fn expect(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let n = match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(n)) => n,
                _ => panic!("no {what} notification; stderr:\n{}", self.log()),
            };
            assert_eq!(n.method, "notifications/claude/channel");
            let p = n.params.unwrap();
            if wanted(&p) {
                return p;
            }
        }
    }

    async fn post(&self, args: Value) -> CallToolResult {
        self.client.call_tool(params("post_to_thread", args)).await.unwrap()
    }
}

fn meta(p: &Value, key: &str) -> String {
    p["meta"][key].as_str().unwrap_or_default().to_owned()
}

/// alice holds shared.rs, bob announces it: an open consultation.
async fn open_thread(app: &TestApp) -> String {
    let c = connect(&app.url).await;
    call(&c, "register_agent", json!({"agent_id": "bob", "name": "BOB", "modules": []})).await;
    call(
        &c,
        "announce_work",
        json!({"agent_id": "alice", "subject": "mine", "target_modules": [], "target_files": ["shared.rs"]}),
    )
    .await;
    let r = call(
        &c,
        "announce_work",
        json!({"agent_id": "bob", "subject": "Change shared", "target_modules": ["core"], "target_files": ["shared.rs"]}),
    )
    .await;
    assert_eq!(r["thread"]["status"], "open", "{r}");
    r["thread"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn identity_and_the_one_tool() {
    let app = spawn_app().await;
    let side = Sidecar::start(&format!("mqtt://127.0.0.1:{}", app.mqtt_port), &app.base).await;
    let info = serde_json::to_value(side.client.peer_info().unwrap()).unwrap();
    assert_eq!(info["serverInfo"]["name"], "mcp-coordinator-channel", "{info}");
    assert_eq!(info["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info["capabilities"]["experimental"], json!({"claude/channel": {}}), "{info}");
    assert!(info["capabilities"]["tools"].is_object(), "{info}");
    assert!(info["instructions"].as_str().unwrap().contains("post_to_thread"));

    let tools = side.client.list_all_tools().await.unwrap();
    assert_eq!(tools.iter().map(|t| t.name.as_ref()).collect::<Vec<_>>(), ["post_to_thread"]);
    let schema = Value::Object((*tools[0].input_schema).clone());
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["required"], json!(["thread_id", "content"]));
    assert_eq!(schema["additionalProperties"], json!(false));
    assert_eq!(schema["properties"]["thread_id"]["minLength"], 1);
    assert_eq!(schema["properties"]["content"]["minLength"], 1);
    assert_eq!(schema["properties"]["agent_id"]["default"], "channel");
    let names: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    assert_eq!(names.len(), 3, "{schema}");

    for (bad, expected) in [
        (json!({"thread_id": "t"}), "missing field `content`"),
        (json!({"thread_id": "t", "content": ""}), "content must not be empty"),
        (json!({"thread_id": "t", "content": "c", "extra": 1}), "unknown field `extra`"),
        (json!({"thread_id": 7, "content": "c"}), "invalid type"),
    ] {
        let r = side.post(bad.clone()).await;
        assert_eq!(r.is_error, Some(true), "{bad}");
        assert!(text(&r).contains(expected), "{bad}: {}", text(&r));
    }
    let unknown = side.client.call_tool(params("announce_work", json!({}))).await;
    assert!(unknown.is_err(), "only post_to_thread exists");
}

#[tokio::test]
async fn relays_the_three_event_kinds_and_posts_replies() {
    let app = spawn_app().await;
    let mut side = Sidecar::start(&format!("mqtt://127.0.0.1:{}", app.mqtt_port), &app.base).await;
    side.wait_stderr(READY).await;

    let c = connect(&app.url).await;
    call(&c, "register_agent", json!({"agent_id": "alice", "name": "ALICE", "modules": []})).await;
    let online = side.expect("agent_status", |p| meta(p, "agent_id") == "alice").await;
    assert_eq!(
        online,
        json!({"content": "Agent alice (ALICE) is online",
            "meta": {"event_type": "agent_status", "org": "default", "agent_id": "alice", "status": "online"}})
    );

    let thread = open_thread(&app).await;
    let new = side.expect("consultation_new", |p| meta(p, "event_type") == "consultation_new").await;
    assert_eq!(
        new,
        json!({"content": format!("New consultation from bob (thread {thread}): Change shared"),
            "meta": {"event_type": "consultation_new", "org": "default", "thread_id": thread, "agent_id": "bob"}})
    );

    let r = side.post(json!({"thread_id": thread, "content": "Not touching\nshared.rs <ok>"})).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    assert_eq!(text(&r), "posted");
    let msg = side.expect("consultation_message", |p| meta(p, "event_type") == "consultation_message").await;
    assert_eq!(
        msg,
        json!({"content": format!("Message on thread {thread} from channel [context]: Not touching shared.rs (ok)"),
            "meta": {"event_type": "consultation_message", "org": "default", "thread_id": thread,
                "agent_id": "channel", "message_type": "context"}})
    );
    let r = side.post(json!({"thread_id": thread, "content": "As alice", "agent_id": "alice"})).await;
    assert_eq!(text(&r), "posted");
    let msg = side.expect("alice's message", |p| meta(p, "event_type") == "consultation_message").await;
    assert_eq!(meta(&msg, "agent_id"), "alice");

    let r = side.post(json!({"thread_id": "no-such-thread", "content": "hello"})).await;
    assert_eq!(r.is_error, Some(true));
    assert_eq!(text(&r), "post_to_thread failed: HTTP 404: thread_not_found");

    // Closing stdin ends the sidecar cleanly.
    side.client.cancel().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !side.stderr.lock().unwrap().contains("<EOF>") {
        assert!(tokio::time::Instant::now() < deadline, "sidecar still running:\n{}", side.stderr.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = side.stderr.lock().unwrap().clone();
    assert!(log.contains("[channel] session ended (Closed)"), "ended by stdin closing, not a signal: {log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[tokio::test]
async fn relays_over_mqtt_websocket_too() {
    let app = spawn_app().await;
    let mut side = Sidecar::start(&app.ws_url, &app.base).await;
    side.wait_stderr(READY).await;
    let c = connect(&app.url).await;
    call(&c, "register_agent", json!({"agent_id": "carol", "name": "Carol", "modules": []})).await;
    let p = side.expect("agent_status over WebSocket", |p| meta(p, "agent_id") == "carol").await;
    assert_eq!(p["content"], "Agent carol (Carol) is online");
}

/// Accepts only the token [`acme_token`] as password, in org `acme`.
struct AcmeAuth;

#[async_trait]
impl MqttAuthenticator for AcmeAuth {
    async fn authenticate(&self, c: &MqttCredentials<'_>) -> Result<MqttIdentity, AuthRefusal> {
        match c.password {
            Some(p) if p == acme_token().as_bytes() => Ok(MqttIdentity { org: OrgId::new("acme"), agent: None }),
            _ => Err(AuthRefusal::BadCredentials),
        }
    }
}

/// An (unsigned) agent JWT of org `acme`: the sidecar only decodes it, the authenticator compares it.
fn acme_token() -> String {
    use base64::Engine;
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"sub":"claude","org":"acme"}"#);
    format!("eyJhbGciOiJIUzI1NiJ9.{claims}.c2lnbmF0dXJl")
}

#[tokio::test]
async fn the_token_is_the_mqtt_password_and_names_the_org() {
    let app = spawn_app_with_auth(&[], Arc::new(AcmeAuth)).await;
    let url = format!("mqtt://127.0.0.1:{}", app.mqtt_port);
    let mut side = Sidecar::start_with(&url, &app.base, &["--token", &acme_token()]).await;
    side.wait_stderr(READY).await;
    let acme = OrgId::new("acme");
    let body = br#"{"thread_id":"t7","agent_id":"zed","subject":"Acme work","target_modules":[]}"#;
    app.core.publish_mqtt(&acme, "consultations/new", body.to_vec(), Qos::AtLeastOnce, false).await.unwrap();
    let new = side.expect("acme consultation", |p| meta(p, "thread_id") == "t7").await;
    assert_eq!(meta(&new, "org"), "acme");
    assert_eq!(new["content"], "New consultation from zed (thread t7): Acme work");

    // Another org's filters are refused by the ACL, and said so.
    let other = Sidecar::start_with(&url, &app.base, &["--token", &acme_token(), "--org", "default"]).await;
    other.wait_stderr("[channel] subscriptions refused by the broker").await;
    assert!(!other.log().contains(READY), "{}", other.log());
    // A token the broker refuses: reported, retried, MCP still served.
    let bad = Sidecar::start_with(&url, &app.base, &["--token", "bad"]).await;
    bad.wait_stderr("[channel] MQTT connection failed (refused by the broker").await;
    assert_eq!(bad.client.list_all_tools().await.unwrap().len(), 1);
}

#[tokio::test]
async fn serves_mcp_while_the_broker_is_unreachable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let side = Sidecar::start(&format!("mqtt://127.0.0.1:{port}"), "http://127.0.0.1:9").await;
    assert_eq!(side.client.list_all_tools().await.unwrap().len(), 1);
    side.wait_stderr("[channel] MQTT connection failed").await;
    let r = side.post(json!({"thread_id": "t", "content": "c"})).await;
    assert_eq!(r.is_error, Some(true));
    assert!(
        text(&r).starts_with("Cannot reach the coordinator at http://127.0.0.1:9/api/post-to-thread"),
        "{}",
        text(&r)
    );
    assert!(!side.log().contains(READY));
}

#[test]
fn bad_options_exit_64_naming_the_option() {
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(BIN)
            .arg("channel")
            .args(args)
            .env_clear()
            .env("HOME", home.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let o = run(&["--mqtt-url", "mqtts://broker:8883"]);
    assert_eq!(o.status.code(), Some(64));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--mqtt-url: scheme mqtts:// is not supported"), "{err}");
    assert!(o.stdout.is_empty(), "stdout belongs to MCP");
    let o = run(&["--mqtt-url", "mqtt://127.0.0.1:1", "--org", "a/b"]);
    assert_eq!(o.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--org:"));
}
