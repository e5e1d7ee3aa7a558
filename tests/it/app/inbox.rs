//! The durable inbox behind the MQTT tools, through MCP, with an MQTT subscriber watching the embedded broker:
//! wait_for_message, drain, acknowledged batches, restart durability.

use serde_json::{Value, json};

use crate::mqtt::client::{Client, Opts, Proto, Via};
use crate::support::{call, call_err, connect, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_message_receives_a_broadcast_and_ack_mode_redelivers() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    let mut bus = Client::connect(&app, Via::Tcp, Proto::V5, "watch", Opts::default()).await.unwrap();
    assert_eq!(bus.subscribe("coordinator/default/broadcast").await, 1);
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
    assert_eq!(bus.expect("coordinator/default/broadcast").await.json()["message"], "hi");
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
    for i in 0..3 {
        let m = bus.expect("coordinator/default/broadcast").await;
        assert_eq!(m.json(), json!({"n": i}), "published in the caller's org, never cross-tenant");
    }
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
    let p = mcp_coordinator::core::principal::Principal::open_mode();
    let msgs = core.get_queued_messages(&p, "carol", None, None).await.unwrap();
    let msgs: &Vec<Value> = msgs.as_array().unwrap();
    assert_eq!(msgs.len(), 1, "non-JSON payloads are not queued; the JSON one survived the restart");
    assert_eq!(msgs[0]["payload"]["content"], "x");
    assert_eq!(core.get_queued_messages(&p, "carol", None, None).await.unwrap(), json!([]), "drained");
}
