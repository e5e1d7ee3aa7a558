//! `COORDINATOR_MQTT_EMBEDDED=false`: the coordinator as a client of an external broker — a private Mosquitto
//! started on a free port for this test (never the shared one on 1883). Topic map, inbox ingestion without echoes,
//! MQTT departures, `/mqtt` absent, and an unreachable broker (fatal only when required).

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use mcp_coordinator::app::App;
use mcp_coordinator::core::ports::SystemClock;
use serde_json::json;

use super::client::{Client, Opts, Proto, Via};
use crate::support::{call, call_err, connect, settings, spawn_app_with};

struct Mosquitto {
    port: u16,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn mosquitto() -> Mosquitto {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = dir.path().join("m.conf");
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")).unwrap();
    let child = tokio::process::Command::new("/usr/sbin/mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("mosquitto is needed for this test: apt-get install mosquitto");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "mosquitto did not start on {port}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Mosquitto { port, _child: child, _dir: dir }
}

#[tokio::test]
async fn the_coordinator_uses_an_external_broker() {
    let m = mosquitto().await;
    let url = format!("mqtt://127.0.0.1:{}", m.port);
    let env = [
        ("COORDINATOR_MQTT_EMBEDDED", "false"),
        ("COORDINATOR_MQTT_URL", url.as_str()),
        ("COORDINATOR_MQTT_REQUIRED", "true"),
    ];
    let app = spawn_app_with(&env).await;
    let ready: serde_json::Value = reqwest::get(format!("{}/readyz", app.base)).await.unwrap().json().await.unwrap();
    assert_eq!(ready["checks"]["mqtt"], json!({"ok": true, "embedded": false, "tcp": null}));
    assert_eq!(reqwest::get(format!("{}/mqtt", app.base)).await.unwrap().status(), 404);

    let mut sub =
        Client::connect_to("127.0.0.1", m.port, Via::Tcp, Proto::V5, "ext-sub", Opts::default()).await.unwrap();
    assert_eq!(sub.subscribe("coordinator/default/#").await, 1);
    let c = connect(&app.url).await;
    call(&c, "register_agent", json!({"agent_id": "alice", "name": "Alice", "modules": []})).await;
    let online = sub.expect("coordinator/default/agents/alice/status").await;
    assert_eq!(online.json(), json!({"status": "online", "name": "Alice"}));

    // The coordinator's own publish is queued once (No Local), a client's publish is ingested.
    call(&c, "get_queued_messages", json!({"agent_id": "w"})).await;
    call(&c, "mqtt_publish", json!({"topic": "coordinator/default/broadcast", "payload": "{\"n\":1}"})).await;
    sub.publish("coordinator/default/broadcast", br#"{"n":2}"#, true, false).await;
    let first = call(&c, "wait_for_message", json!({"agent_id": "w", "timeout_seconds": 10})).await;
    let second = call(&c, "wait_for_message", json!({"agent_id": "w", "timeout_seconds": 10})).await;
    assert_eq!((first["payload"]["n"].as_i64(), second["payload"]["n"].as_i64()), (Some(1), Some(2)));
    assert_eq!(call(&c, "get_queued_messages", json!({"agent_id": "w"})).await, json!([]), "no echo");

    sub.publish("coordinator/default/agents/alice/status", br#"{"status":"offline"}"#, true, false).await;
    let offline = sub.expect("coordinator/default/agents/alice/status").await;
    assert!(offline.json()["status"] == "offline");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let agents = call(&c, "list_agents", json!({})).await.to_string();
        if agents.contains("offline") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "alice never departed: {agents}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_unreachable_external_broker_is_fatal_only_when_required() {
    let url = format!("mqtt://127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("COORDINATOR_MQTT_EMBEDDED", "false"),
        ("COORDINATOR_MQTT_URL", url.as_str()),
        ("COORDINATOR_MQTT_REQUIRED", "true"),
    ];
    let err = App::build_with_clock(settings(dir.path(), &env), Arc::new(SystemClock)).await.err().unwrap().to_string();
    assert!(err.contains(&url) && err.contains("COORDINATOR_MQTT_URL"), "{err}");

    let app = spawn_app_with(&env[..2]).await;
    let c = connect(&app.url).await;
    let e = call_err(&c, "mqtt_publish", json!({"topic": "coordinator/default/broadcast", "payload": "{}"})).await;
    assert!(e.starts_with("No MQTT broker"), "{e}");
}
