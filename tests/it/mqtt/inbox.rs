//! The durable inbox fed by the broker: `wait_for_message` returns broadcasts from `mqtt_publish` and from MQTT
//! clients, acknowledged batches are redelivered until acked, queued and retained messages survive a restart, and
//! an agent's own offline status (or its will) departs it.

use std::time::Duration;

use mcp_coordinator::core::ids::OrgId;
use serde_json::{Value, json};

use super::client::{Client, Opts, Proto, Via};
use crate::support::{TestApp, call, connect, spawn_app};

#[tokio::test]
async fn wait_for_message_returns_tool_and_client_broadcasts() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    assert_eq!(call(&c, "get_queued_messages", json!({"agent_id": "w"})).await, json!([]));
    let payload = json!({"agent_id": "x", "message": "hello"}).to_string();
    call(&c, "mqtt_publish", json!({"topic": "coordinator/default/broadcast", "payload": payload})).await;
    let got = call(&c, "wait_for_message", json!({"agent_id": "w", "timeout_seconds": 10})).await;
    assert_eq!(got["topic"], "coordinator/default/broadcast");
    assert_eq!(got["payload"], json!({"agent_id": "x", "message": "hello"}));

    for (via, proto) in [(Via::Tcp, Proto::V311), (Via::Ws, Proto::V5)] {
        let client = Client::connect(&app, via, proto, "pub", Opts::default()).await.unwrap();
        let waiting = {
            let c = connect(&app.url).await;
            tokio::spawn(
                async move { call(&c, "wait_for_message", json!({"agent_id": "w", "timeout_seconds": 10})).await },
            )
        };
        client.publish("coordinator/default/broadcast", br#"{"agent_id":"mqtt","message":"hi"}"#, true, false).await;
        let got = waiting.await.unwrap();
        assert_eq!(got["payload"], json!({"agent_id": "mqtt", "message": "hi"}), "{via:?} {proto:?}: {got}");
    }
}

async fn publish_n(app: &TestApp, n: usize) {
    let c = connect(&app.url).await;
    for i in 0..n {
        let payload = json!({"agent_id": "x", "message": i}).to_string();
        call(&c, "mqtt_publish", json!({"topic": "coordinator/default/broadcast", "payload": payload})).await;
    }
}

#[tokio::test]
async fn acknowledged_batches_are_redelivered_until_acked_and_survive_a_restart() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    call(&c, "get_queued_messages", json!({"agent_id": "r", "require_ack": true})).await;
    publish_n(&app, 2).await;
    let first = call(&c, "get_queued_messages", json!({"agent_id": "r", "require_ack": true})).await;
    assert_eq!(first["messages"].as_array().unwrap().len(), 2, "{first}");
    let again = call(&c, "get_queued_messages", json!({"agent_id": "r"})).await;
    assert_eq!(again["batch_id"], first["batch_id"], "redelivered until acked");
    assert_eq!(again["messages"], first["messages"]);

    let app = app.restart().await;
    let c = connect(&app.url).await;
    let after = call(&c, "get_queued_messages", json!({"agent_id": "r"})).await;
    assert_eq!(after["batch_id"], first["batch_id"], "the open batch survives a restart");
    let acked = call(&c, "get_queued_messages", json!({"agent_id": "r", "ack": first["batch_id"]})).await;
    assert_eq!(acked["messages"], json!([]), "{acked}");
}

#[tokio::test]
async fn queued_and_retained_messages_survive_a_restart() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    call(&c, "get_queued_messages", json!({"agent_id": "q"})).await;
    publish_n(&app, 3).await;
    let client = Client::connect(&app, Via::Tcp, Proto::V311, "keeper", Opts::default()).await.unwrap();
    client.publish("coordinator/default/notes/build", br#"{"state":"green"}"#, true, true).await;
    // The retained write is persisted by the writer before shutdown completes; observe it arriving live first.
    let mut probe = Client::connect(&app, Via::Tcp, Proto::V5, "probe", Opts::default()).await.unwrap();
    assert_eq!(probe.subscribe("coordinator/default/notes/#").await, 1);
    assert!(probe.expect("coordinator/default/notes/build").await.retain);

    let app = app.restart().await;
    let c = connect(&app.url).await;
    let queued = call(&c, "get_queued_messages", json!({"agent_id": "q"})).await;
    let messages: Vec<&Value> = queued.as_array().unwrap().iter().map(|m| &m["payload"]["message"]).collect();
    assert_eq!(messages, [&json!(0), &json!(1), &json!(2)]);
    for (via, proto) in [(Via::Tcp, Proto::V311), (Via::Ws, Proto::V5)] {
        let mut s = Client::connect(&app, via, proto, "after", Opts::default()).await.unwrap();
        assert_eq!(s.subscribe("coordinator/default/notes/#").await, 1);
        let m = s.expect("coordinator/default/notes/build").await;
        assert!(m.retain);
        assert_eq!(m.json(), json!({"state": "green"}));
    }
}

async fn offline_reason(app: &TestApp, agent: &str) -> Option<String> {
    let events = app.core.store().latest_events(&OrgId::default_org(), 50).await.unwrap();
    events
        .iter()
        .find(|e| e.kind == "agent_offline" && e.payload["agent_id"] == agent)
        .map(|e| e.payload["reason"].as_str().unwrap_or("").to_owned())
}

async fn wait_offline(app: &TestApp, agent: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(r) = offline_reason(app, agent).await {
            return r;
        }
        assert!(tokio::time::Instant::now() < deadline, "{agent} never departed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn own_offline_status_and_wills_depart_the_agent() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    for a in ["alice", "bob"] {
        call(&c, "register_agent", json!({"agent_id": a, "name": a, "modules": []})).await;
    }
    let alice = Client::connect(&app, Via::Ws, Proto::V5, "alice", Opts { username: Some("alice"), ..Opts::default() })
        .await
        .unwrap();
    alice.publish("coordinator/default/agents/alice/status", b"offline", false, true).await;
    assert_eq!(wait_offline(&app, "alice").await, "mqtt_offline");

    let will = br#"{"status":"offline","reason":"lwt_unexpected"}"#;
    let o = Opts {
        username: Some("bob"),
        will: Some(("coordinator/default/agents/bob/status", will, true, false)),
        ..Opts::default()
    };
    let bob = Client::connect(&app, Via::Tcp, Proto::V311, "bob", o).await.unwrap();
    bob.abort();
    assert_eq!(wait_offline(&app, "bob").await, "lwt");
}
