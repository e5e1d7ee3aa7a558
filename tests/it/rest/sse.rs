//! `/api/events`: replay, resume without gap or duplicate, live frames, client cap.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use super::Api;
use crate::support::{T0, spawn_app, spawn_app_with};

/// Reads SSE frames until `n` events arrived (or the deadline passes).
async fn read_events(resp: reqwest::Response, n: usize) -> Vec<(i64, String, Value)> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut body = resp.bytes_stream();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while out.len() < n {
        let chunk = tokio::time::timeout_at(deadline, body.next()).await.expect("timed out waiting for events");
        buf.push_str(std::str::from_utf8(&chunk.unwrap().unwrap()).unwrap());
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let (mut id, mut ev, mut data) = (None, String::new(), Value::Null);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = v.parse().ok();
                } else if let Some(v) = line.strip_prefix("event: ") {
                    ev = v.to_owned();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(v).unwrap();
                }
            }
            if let Some(id) = id {
                out.push((id, ev, data));
            }
        }
    }
    out
}

#[tokio::test]
async fn replay_live_and_resume_without_gap_or_duplicate() {
    let app = spawn_app().await;
    let api = Api::new(&app);
    for i in 0..3 {
        api.ok("/api/register", json!({"agent_id": format!("a{i}"), "name": "A"})).await;
    }
    let resp = api.get("/api/events").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    let first = read_events(resp, 3).await;
    assert_eq!(first.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(first[0].1, "agent_online");
    assert_eq!(first[0].2["org_id"], "default");
    assert!(first[0].2["_ts"].as_str().is_some());

    let live = api.get("/api/events").await;
    api.ok("/api/register", json!({"agent_id": "a3", "name": "A"})).await;
    let got = read_events(live, 4).await;
    assert_eq!(got.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2, 3, 4]);

    for i in 4..7 {
        api.ok("/api/register", json!({"agent_id": format!("a{i}"), "name": "A"})).await;
    }
    let resumed = api.http.get(format!("{}/api/events", api.base)).header("last-event-id", "4").send().await.unwrap();
    let got = read_events(resumed, 3).await;
    assert_eq!(got.iter().map(|e| e.0).collect::<Vec<_>>(), [5, 6, 7], "resume: no gap, no duplicate");
    let resumed = api.get("/api/events?last_event_id=6").await;
    assert_eq!(read_events(resumed, 1).await[0].0, 7);
}

#[tokio::test]
async fn client_cap_answers_503() {
    let app = spawn_app_with(&[("COORDINATOR_MAX_SSE_CLIENTS", "1")]).await;
    let api = Api::new(&app);
    let _held = api.get("/api/events").await;
    let r = api.get("/api/events").await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "TOO_MANY_SSE_CLIENTS");
    let _ = spawn_app;
}

#[tokio::test]
async fn live_events_published_out_of_order_arrive_in_seq_order_without_loss() {
    use mcp_coordinator::core::events::DomainEvent;
    use mcp_coordinator::core::ids::OrgId;

    let app = spawn_app().await;
    let api = Api::new(&app);
    api.ok("/api/register", json!({"agent_id": "a0", "name": "A"})).await;
    let live = api.get("/api/events").await;
    let usage = |n: i64| DomainEvent::TokenUsage {
        agent_id: "a0".into(),
        session_id: None,
        run_id: None,
        model: None,
        turn: Some(n),
        input_tokens: n,
        output_tokens: 0,
        cache_read: None,
        cache_creation: None,
        thinking: None,
    };
    let recs = app.core.store().append_events(&OrgId::default_org(), vec![usage(1), usage(2), usage(3)], T0).await;
    let recs = recs.unwrap();
    assert_eq!(recs.iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 3, 4]);
    // Racing writers publish after commit, so the newest can reach the bus first.
    app.core.bus().publish(&recs[2..]);
    app.core.bus().publish(&recs[..2]);
    api.ok("/api/register", json!({"agent_id": "a1", "name": "B"})).await;
    let got = read_events(live, 5).await;
    assert_eq!(got.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2, 3, 4, 5], "in order, no gap, no duplicate");
    assert_eq!(got[1].2["turn"], 1);
}
