//! Three replicas on one Postgres + Redis: an announcement on replica 1 is scored against an agent registered on
//! replica 2, and an SSE client and an MQTT subscriber on replica 3 see every event exactly once.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use super::{Replica, Sse, event_head, eventually, prefix};
use crate::mqtt::client::{Client, Ev, Opts, Proto, Via};
use crate::support::pg::PgDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_score_across_and_deliver_exactly_once() {
    let db = PgDatabase::create().await;
    let prefix = prefix();
    let env = [
        ("COORDINATOR_DATABASE_URL", db.url.as_str()),
        ("COORDINATOR_REDIS_URL", "redis://127.0.0.1:6379"),
        ("COORDINATOR_REDIS_PREFIX", prefix.as_str()),
    ];
    let (r1, r2, r3) = (Replica::start(&env), Replica::start(&env), Replica::start(&env));
    for r in [&r1, &r2, &r3] {
        eventually(10, "replica subscribed to Redis", || r.redis_ok()).await;
        let health = r.get("/health").await.1;
        assert_eq!(health["redis"], json!({"ok": true}), "{health}");
        assert!(health["warnings"].as_array().unwrap().is_empty(), "{health}");
    }

    let sse = Sse::open(&r3.base, None).await;
    let mut mqtt =
        Client::connect_to("127.0.0.1", r3.mqtt_port, Via::Tcp, Proto::V5, "watcher", Opts::default()).await.unwrap();
    assert_eq!(mqtt.subscribe("coordinator/default/#").await, 1);

    // alice works on replica 2 and keeps her thread open; replica 1 must learn of both through Redis.
    r2.ok("/api/register", json!({"agent_id": "alice", "name": "Alice", "modules": ["src/auth"]})).await;
    let a = r2
        .ok(
            "/api/announce",
            json!({"agent_id": "alice", "subject": "JWT", "target_modules": ["src/auth"],
                   "target_files": ["src/auth/jwt.ts"], "keep_open": true}),
        )
        .await;
    let alice_thread = a["thread_id"].as_str().unwrap().to_owned();
    eventually(5, "replica 1 indexed alice's open thread", || async {
        r1.get("/api/status").await.1["open_threads"] == 1
    })
    .await;

    r1.ok("/api/register", json!({"agent_id": "bob", "name": "Bob", "modules": ["src/ui"]})).await;
    let b = r1
        .ok(
            "/api/announce",
            json!({"agent_id": "bob", "subject": "Login", "target_modules": ["src/ui"],
                   "target_files": ["src/auth/jwt.ts"]}),
        )
        .await;
    let concerned = b["impact"]["concerned"].as_array().unwrap();
    assert_eq!(concerned.len(), 1, "{b}");
    assert_eq!((concerned[0]["agent_id"].as_str(), concerned[0]["layer"].as_str()), (Some("alice"), Some("L0")));
    assert!(concerned[0]["reason"].as_str().unwrap().contains(&alice_thread[..8]), "{b}");
    assert_eq!(b["status"], "open");
    let bob_thread = b["thread_id"].as_str().unwrap().to_owned();

    // Every event of the three replicas reaches replica 3's SSE client once, in order.
    let head = event_head(&db.url).await;
    assert!(head >= 5, "head {head}");
    sse.wait_for(head, 10).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // a duplicate would arrive within this window
    assert_eq!(sse.seqs(), (1..=head).collect::<Vec<_>>(), "SSE on replica 3: each seq once, in order");

    // MQTT on replica 3: both consultations and both agents' status, once each.
    let mut seen: HashMap<String, Vec<serde_json::Value>> = HashMap::new();
    while let Some(ev) = mqtt.next_within(Duration::from_millis(700)).await {
        if let Ev::Publish(m) = ev {
            let body = if m.payload.is_empty() { serde_json::Value::Null } else { m.json() };
            seen.entry(m.topic).or_default().push(body);
        }
    }
    let new = &seen["coordinator/default/consultations/new"];
    let ids: Vec<&str> = new.iter().map(|v| v["thread_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [alice_thread.as_str(), bob_thread.as_str()], "{seen:?}");
    assert_eq!(seen["coordinator/default/agents/alice/status"], [json!({"status": "online", "name": "Alice"})]);
    assert_eq!(seen["coordinator/default/agents/bob/status"], [json!({"status": "online", "name": "Bob"})]);
}
