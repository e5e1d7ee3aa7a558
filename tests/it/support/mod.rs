//! Test harness: `spawn_app()` runs the real App on an OS-assigned port with a temporary data dir and a manual
//! clock (`spawn_app_pg()`: the same on a fresh Postgres database), plus rmcp client helpers for streamable HTTP.

pub mod pg;

use std::collections::HashMap;
use std::sync::Arc;

use mcp_coordinator::app::App;
use mcp_coordinator::config::{Flags, Settings};
use mcp_coordinator::core::Core;
use mcp_coordinator::core::ports::ManualClock;
use mcp_coordinator::core::time::Timestamp;
use mcp_coordinator::lifecycle::Shutdown;
use mcp_coordinator::mqtt::{MqttAuthenticator, OpenAuthenticator};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;

/// A running app.
pub struct TestApp {
    pub url: String,
    pub base: String,
    pub core: Core,
    pub clock: ManualClock,
    /// The real MQTT TCP port (the tests always ask for an OS-assigned one).
    pub mqtt_port: u16,
    /// `ws://…/mqtt` on the HTTP port.
    pub ws_url: String,
    dir: Option<tempfile::TempDir>,
    extra: Vec<(String, String)>,
    shutdown: Shutdown,
    /// The Postgres database of `spawn_app_pg` (dropped after the app, on drop).
    _db: Option<pg::PgDatabase>,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

impl TestApp {
    /// Stops the server and waits until it released its data directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        self.shutdown.trigger();
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
        self.dir.take().unwrap()
    }

    /// Stops the server and starts a new one on the same data directory and settings.
    pub async fn restart(self) -> TestApp {
        let extra = self.extra.clone();
        let dir = self.stop().await;
        let pairs: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        spawn_in(dir, &pairs, Arc::new(OpenAuthenticator)).await
    }
}

/// 2026-11-25 10:00:00 UTC.
pub const T0: Timestamp = Timestamp::from_secs(1_795_600_800);

pub fn settings(dir: &std::path::Path, extra: &[(&str, &str)]) -> Settings {
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("HOME".into(), dir.display().to_string());
    env.insert("PORT".into(), "0".into());
    env.insert("COORDINATOR_MQTT_TCP_PORT".into(), "0".into()); // never 1883: Mosquitto holds it
    for (k, v) in extra {
        env.insert((*k).into(), (*v).into());
    }
    let flags = Flags { data_dir: Some(dir.join("data")), ..Flags::default() };
    Settings::resolve(&flags, &env).unwrap()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// The app on a fresh Postgres database (`COORDINATOR_DATABASE_URL=postgres://…`).
pub async fn spawn_app_pg() -> TestApp {
    let db = pg::PgDatabase::create().await;
    let mut app = spawn_app_with(&[("COORDINATOR_DATABASE_URL", &db.url), ("COORDINATOR_DB_POOL_SIZE", "4")]).await;
    app._db = Some(db);
    app
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    spawn_in(tempfile::tempdir().unwrap(), extra, Arc::new(OpenAuthenticator)).await
}

/// `spawn_app_with` and a custom MQTT authenticator.
pub async fn spawn_app_with_auth(extra: &[(&str, &str)], auth: Arc<dyn MqttAuthenticator>) -> TestApp {
    spawn_in(tempfile::tempdir().unwrap(), extra, auth).await
}

async fn spawn_in(dir: tempfile::TempDir, extra: &[(&str, &str)], auth: Arc<dyn MqttAuthenticator>) -> TestApp {
    let clock = ManualClock::new(T0);
    let app = App::build_with(settings(dir.path(), extra), Arc::new(clock.clone()), auth).await.unwrap();
    let addr = app.addr();
    let core = app.core();
    let shutdown = app.shutdown();
    let mqtt_port = app.mqtt_tcp_port().unwrap_or(0);
    let handle = tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestApp {
        url: format!("http://{addr}/mcp"),
        base: format!("http://{addr}"),
        core,
        clock,
        mqtt_port,
        ws_url: format!("ws://{addr}/mqtt"),
        dir: Some(dir),
        extra: extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        shutdown,
        handle: Some(handle),
        _db: None,
    }
}

pub type Client = RunningService<RoleClient, ()>;

pub async fn connect(url: &str) -> Client {
    let transport = StreamableHttpClientTransport::from_uri(url.to_owned());
    ().serve(transport).await.unwrap()
}

pub fn params(name: &'static str, args: Value) -> CallToolRequestParams {
    let Value::Object(args) = args else { panic!("arguments must be an object") };
    CallToolRequestParams::new(name).with_arguments(args)
}

pub fn text(result: &CallToolResult) -> String {
    assert_eq!(result.content.len(), 1, "exactly one content item");
    result.content[0].as_text().map(|t| t.text.clone()).unwrap()
}

/// Calls a tool and parses the JSON result; panics on a tool error.
pub async fn call(c: &Client, name: &'static str, args: Value) -> Value {
    let r = c.call_tool(params(name, args)).await.unwrap();
    let t = text(&r);
    assert_ne!(r.is_error, Some(true), "{name} failed: {t}");
    serde_json::from_str(&t).unwrap_or(Value::String(t))
}

/// Calls a tool expecting a tool error; returns its message.
pub async fn call_err(c: &Client, name: &'static str, args: Value) -> String {
    let r = c.call_tool(params(name, args)).await.unwrap();
    assert_eq!(r.is_error, Some(true), "{name} should fail, got {}", text(&r));
    text(&r)
}

/// Polls `cond` every 20 ms until it holds; panics with `what` after `within` (tests never sleep a fixed time
/// waiting for something observable).
pub async fn eventually<F, Fut>(within: std::time::Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + within;
    while !cond().await {
        assert!(std::time::Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A Redis key prefix no other test uses (the machine's Redis is shared).
pub fn redis_prefix() -> String {
    format!("test-{}:", uuid::Uuid::new_v4().simple())
}
