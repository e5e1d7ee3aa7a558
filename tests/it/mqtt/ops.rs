//! Listener settings: the OS-assigned port is reported by `/readyz` and `/health`, a busy TCP port degrades
//! (WebSocket MQTT keeps working) unless `COORDINATOR_MQTT_REQUIRED=true`, and the WebSocket upgrade applies the
//! Origin rule.

use std::sync::Arc;

use mcp_coordinator::app::App;
use mcp_coordinator::core::ports::SystemClock;
use serde_json::{Value, json};

use super::client::{Client, Opts, Proto, Via};
use crate::support::{call, connect, settings, spawn_app, spawn_app_with};

async fn get_json(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn the_real_port_is_reported() {
    let app = spawn_app().await;
    assert_ne!(app.mqtt_port, 0);
    let ready = get_json(&format!("{}/readyz", app.base)).await;
    assert_eq!(
        ready["checks"]["mqtt"],
        json!({"ok": true, "embedded": true, "tcp": {"ok": true, "port": app.mqtt_port}})
    );
    let health = get_json(&format!("{}/health", app.base)).await;
    assert_eq!(health["mqtt_tcp_port"], app.mqtt_port);
}

#[tokio::test]
async fn a_busy_port_degrades_unless_required() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    let app = spawn_app_with(&[("COORDINATOR_MQTT_TCP_PORT", &port)]).await;
    let ready = get_json(&format!("{}/readyz", app.base)).await;
    assert_eq!(ready["status"], "ready");
    let mqtt = &ready["checks"]["mqtt"];
    assert_eq!((mqtt["ok"].as_bool(), mqtt["tcp"]["ok"].as_bool()), (Some(true), Some(false)), "{ready}");
    assert!(mqtt["tcp"]["error"].as_str().unwrap().contains(&port));
    let health = get_json(&format!("{}/health", app.base)).await;
    assert_eq!(health["mqtt_tcp_port"], Value::Null);
    assert!(health["warnings"].to_string().contains("MQTT TCP listener unavailable"));

    // WebSocket MQTT and the MQTT tools keep working.
    let mut s = Client::connect(&app, Via::Ws, Proto::V5, "ws", Opts::default()).await.unwrap();
    assert_eq!(s.subscribe("coordinator/default/broadcast").await, 1);
    let c = connect(&app.url).await;
    call(&c, "mqtt_publish", json!({"topic": "coordinator/default/broadcast", "payload": "{\"m\":1}"})).await;
    assert_eq!(s.expect("coordinator/default/broadcast").await.json(), json!({"m": 1}));

    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path(), &[("COORDINATOR_MQTT_TCP_PORT", &port), ("COORDINATOR_MQTT_REQUIRED", "true")]);
    let err = App::build_with_clock(s, Arc::new(SystemClock)).await.err().unwrap().to_string();
    assert!(err.contains(&port) && err.contains("COORDINATOR_MQTT_TCP_PORT"), "{err}");
}

#[tokio::test]
async fn websocket_upgrade_applies_the_origin_rule() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let upgrade = |origin: &'static str| {
        http.get(format!("{}/mqtt", app.base))
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-protocol", "mqtt")
            .header("origin", origin)
            .send()
    };
    assert_eq!(upgrade("https://evil.example").await.unwrap().status(), 403);
    let ok = upgrade("http://localhost:5173").await.unwrap();
    assert_eq!(ok.status(), 101);
    assert_eq!(ok.headers()["sec-websocket-protocol"], "mqtt");
}
