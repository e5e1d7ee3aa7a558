//! Subscribers on every transport and protocol version receive the topic map of events-mqtt.md §3.4 after MCP
//! calls: agent status on register, `consultations/new` after an announcement that opens a thread, messages,
//! status changes, and the retained slot cleared when that thread ends.

use serde_json::{Value, json};

use super::client::{ALL, Client, Ev, Opts, Via};
use crate::support::{Client as Mcp, TestApp, call, connect, spawn_app};

async fn subscribers(app: &TestApp, filter: &str) -> Vec<Client> {
    let mut subs = Vec::new();
    for (i, (via, proto)) in ALL.iter().enumerate() {
        let mut s = Client::connect(app, *via, *proto, &format!("sub-{i}"), Opts::default()).await.unwrap();
        assert_eq!(s.subscribe(filter).await, 1, "{via:?} {proto:?}");
        subs.push(s);
    }
    subs
}

/// alice holds shared.rs, bob announces it: an open consultation.
async fn open_thread(c: &Mcp) -> String {
    for a in ["alice", "bob"] {
        call(c, "register_agent", json!({"agent_id": a, "name": a.to_uppercase(), "modules": []})).await;
    }
    call(
        c,
        "announce_work",
        json!({"agent_id": "alice", "subject": "mine", "target_modules": [], "target_files": ["shared.rs"]}),
    )
    .await;
    let r = call(
        c,
        "announce_work",
        json!({"agent_id": "bob", "subject": "Change shared", "target_modules": ["core"], "target_files": ["shared.rs"]}),
    )
    .await;
    assert_eq!(r["thread"]["status"], "open", "{r}");
    r["thread"]["id"].as_str().unwrap().to_owned()
}

async fn expect_json(subs: &mut [Client], topic: &str, expected: Value) {
    for s in subs.iter_mut() {
        assert_eq!(s.expect(topic).await.json(), expected, "{topic}");
    }
}

/// A fresh subscriber to `filter` gets no retained message there: the marker published after its SUBACK arrives
/// first.
async fn assert_no_retained(app: &TestApp, filter: &str) {
    let mut s = Client::connect(app, Via::Tcp, super::client::Proto::V5, "fresh", Opts::default()).await.unwrap();
    assert_eq!(s.subscribe(filter).await, 1);
    assert_eq!(s.subscribe("coordinator/default/broadcast").await, 1);
    s.publish("coordinator/default/broadcast", br#"{"marker":1}"#, false, false).await;
    match s.next().await {
        Some(Ev::Publish(m)) => assert_eq!(m.topic, "coordinator/default/broadcast", "unexpected retained {m:?}"),
        other => panic!("expected the marker, got {other:?}"),
    }
}

#[tokio::test]
async fn topic_map_reaches_tcp_and_websocket_subscribers_on_both_versions() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    let mut subs = subscribers(&app, "coordinator/default/#").await;

    let t = open_thread(&c).await;
    expect_json(&mut subs, "coordinator/default/agents/alice/status", json!({"status": "online", "name": "ALICE"}))
        .await;
    let new = json!({"thread_id": t, "agent_id": "bob", "subject": "Change shared", "target_modules": ["core"]});
    expect_json(&mut subs, "coordinator/default/consultations/new", new.clone()).await;

    let m = call(
        &c,
        "post_to_thread",
        json!({"thread_id": t, "agent_id": "alice", "type": "warning", "content": "careful"}),
    )
    .await;
    let messages = format!("coordinator/default/consultations/{t}/messages");
    let body = json!({"agent_id": "alice", "type": "warning", "content": "careful", "message_id": m["id"], "round": 1});
    expect_json(&mut subs, &messages, body).await;

    let status = format!("coordinator/default/consultations/{t}/status");
    call(&c, "propose_resolution", json!({"thread_id": t, "agent_id": "bob", "summary": "bob first"})).await;
    expect_json(&mut subs, &status, json!({"status": "resolving", "summary": "bob first"})).await;
    call(&c, "approve_resolution", json!({"thread_id": t, "agent_id": "alice"})).await;
    expect_json(&mut subs, &status, json!({"status": "resolved", "summary": "bob first"})).await;
    for s in subs.iter_mut() {
        let cleared = s.expect("coordinator/default/consultations/new").await;
        assert!(cleared.payload.is_empty(), "the slot is cleared with an empty retained payload");
    }
    assert_no_retained(&app, "coordinator/default/consultations/new").await;

    // The status stays retained for late subscribers.
    let mut late = Client::connect(&app, Via::Ws, super::client::Proto::V311, "late", Opts::default()).await.unwrap();
    assert_eq!(late.subscribe(&status).await, 1);
    let got = late.expect(&status).await;
    assert!(got.retain);
    assert_eq!(got.json(), json!({"status": "resolved", "summary": "bob first"}));
}

#[tokio::test]
async fn cancel_clears_the_slot_and_new_subscribers_get_the_open_consultation() {
    let app = spawn_app().await;
    let c = connect(&app.url).await;
    let t = open_thread(&c).await;
    // Retained: a subscriber arriving after the announcement still gets it.
    let mut subs = subscribers(&app, "coordinator/default/consultations/#").await;
    for s in subs.iter_mut() {
        let m = s.expect("coordinator/default/consultations/new").await;
        assert!(m.retain);
        assert_eq!(m.json()["thread_id"], t.as_str());
    }
    call(&c, "cancel_thread", json!({"thread_id": t, "agent_id": "bob", "reason": "obsolete"})).await;
    let status = format!("coordinator/default/consultations/{t}/status");
    expect_json(&mut subs, &status, json!({"status": "cancelled", "summary": "obsolete"})).await;
    for s in subs.iter_mut() {
        assert!(s.expect("coordinator/default/consultations/new").await.payload.is_empty());
    }
    assert_no_retained(&app, "coordinator/default/consultations/new").await;
}
