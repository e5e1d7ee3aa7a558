//! The durable inbox behind the MQTT tools, through MCP, with a recording bus standing in for the broker (the
//! MQTT tests exercise the real broker): wait_for_message, drain, acknowledged batches, restart durability.

use std::sync::Arc;

use mcp_coordinator::core::ids::OrgId;
use mcp_coordinator::core::ports::{MqttBus, Qos};
use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::support::{call, call_err, connect, spawn_app};

#[derive(Default)]
struct Recorder(Mutex<Vec<(String, String)>>);

impl MqttBus for Recorder {
    fn publish(&self, org: &OrgId, suffix: &str, payload: Vec<u8>, _qos: Qos, _retain: bool) {
        self.0.lock().push((format!("coordinator/{org}/{suffix}"), String::from_utf8_lossy(&payload).into_owned()));
    }
    fn connected(&self) -> bool {
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_message_receives_a_broadcast_and_ack_mode_redelivers() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    let e = call_err(&c, "wait_for_message", json!({"agent_id": "bob", "timeout_seconds": 1})).await;
    assert!(e.starts_with("No MQTT broker"), "{e}");
    let bus = Arc::new(Recorder::default());
    app.core.attach_mqtt(bus.clone());
    let none = call(&c, "wait_for_message", json!({"agent_id": "bob", "timeout_seconds": 1})).await;
    assert_eq!(none, json!({"timeout": true}));
    let c2 = connect(&app.url).await;
    let waiting =
        tokio::spawn(
            async move { call(&c2, "wait_for_message", json!({"agent_id": "bob", "timeout_seconds": 10})).await },
        );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let payload = json!({"agent_id": "alice", "message": "hi"}).to_string();
    assert_eq!(call(&c, "mqtt_publish", json!({"topic": "broadcast", "payload": payload})).await, "published");
    let got = waiting.await.unwrap();
    assert_eq!(got["topic"], "coordinator/default/broadcast");
    assert_eq!(got["payload"]["message"], "hi");
    assert_eq!(got["queued_remaining"], 0);
    assert_eq!(bus.0.lock()[0].0, "coordinator/default/broadcast");
    let e =
        call_err(&c, "mqtt_publish", json!({"topic": "coordinator/other/consultations/new", "payload": "{}"})).await;
    assert_eq!(e, "Topic coordinator/other/consultations/new is reserved for the coordinator");

    for i in 0..3 {
        call(
            &c,
            "mqtt_publish",
            json!({"topic": "coordinator/evil/broadcast", "payload": json!({"n": i}).to_string()}),
        )
        .await;
    }
    assert_eq!(bus.0.lock().last().unwrap().0, "coordinator/default/broadcast", "never cross-tenant");
    let b1 = call(&c, "get_queued_messages", json!({"agent_id": "bob", "require_ack": true})).await;
    assert_eq!(b1["messages"].as_array().unwrap().len(), 3);
    let id = b1["batch_id"].as_str().unwrap().to_owned();
    let again = call(&c, "get_queued_messages", json!({"agent_id": "bob"})).await;
    assert_eq!(again["batch_id"], id.as_str(), "the open batch is redelivered until acked");
    assert_eq!(again["messages"], b1["messages"]);
    let after = call(&c, "get_queued_messages", json!({"agent_id": "bob", "ack": id})).await;
    assert_eq!(after, json!({"messages": [], "batch_id": null, "dropped": 0}));
}

#[tokio::test]
async fn drain_mode_and_messages_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let settings = crate::support::settings(dir.path(), &[]);
    {
        let app = mcp_coordinator::app::App::build(settings.clone()).await.unwrap();
        let core = app.core();
        core.attach_mqtt(Arc::new(Recorder::default()));
        let p = mcp_coordinator::core::principal::Principal::open_mode();
        assert_eq!(core.get_queued_messages(&p, "carol", None, None).await.unwrap(), json!([]));
        core.mqtt_publish(&p, "consultations/t1/messages", r#"{"agent_id":"a","type":"context","content":"x"}"#)
            .await
            .unwrap();
        core.mqtt_publish(&p, "broadcast", "not json").await.unwrap();
        app.shutdown().trigger();
        app.run_until_stopped(std::future::ready(())).await.unwrap();
    }
    let app = mcp_coordinator::app::App::build(settings).await.unwrap();
    let core = app.core();
    core.attach_mqtt(Arc::new(Recorder::default()));
    let p = mcp_coordinator::core::principal::Principal::open_mode();
    let msgs = core.get_queued_messages(&p, "carol", None, None).await.unwrap();
    let msgs: &Vec<Value> = msgs.as_array().unwrap();
    assert_eq!(msgs.len(), 1, "non-JSON payloads are not queued; the JSON one survived the restart");
    assert_eq!(msgs[0]["payload"]["content"], "x");
    assert_eq!(core.get_queued_messages(&p, "carol", None, None).await.unwrap(), json!([]), "drained");
}
