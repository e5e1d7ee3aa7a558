//! Three replicas on one Postgres + Redis: an announcement on replica 1 is scored against an agent registered on
//! replica 2, and an SSE client and an MQTT subscriber on replica 3 see every event exactly once.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use super::{Replica, Sse, event_head, eventually, prefix};
use crate::mqtt::client::{Client, Ev, Opts, Proto, Via};
use crate::support::pg::PgDatabase;
use crate::support::{call, connect};

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
        eventually(Duration::from_secs(10), "replica subscribed to Redis", || r.redis_ok()).await;
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
    eventually(Duration::from_secs(5), "replica 1 indexed alice's open thread", || async {
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
    for r in [&r1, &r2, &r3] {
        let log = r.log();
        assert!(!log.contains("\"level\":\"ERROR\"") && !log.contains("panicked"), "{log}");
    }
}

/// `wait_for_message` on replica 2 is woken by a broadcast published on replica 1 (tool and MQTT client); a
/// client publish on replica 1's broker reaches a subscriber of replica 2 once; the newest waiter of an agent wins
/// across replicas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_waiters_and_client_publishes_cross_replicas() {
    let db = PgDatabase::create().await;
    let prefix = prefix();
    let env = [
        ("COORDINATOR_DATABASE_URL", db.url.as_str()),
        ("COORDINATOR_REDIS_URL", "redis://127.0.0.1:6379"),
        ("COORDINATOR_REDIS_PREFIX", prefix.as_str()),
    ];
    let (r1, r2) = (Replica::start(&env), Replica::start(&env));
    for r in [&r1, &r2] {
        eventually(Duration::from_secs(10), "replica subscribed to Redis", || r.redis_ok()).await;
    }
    let (c1, c2) = (connect(&format!("{}/mcp", r1.base)).await, connect(&format!("{}/mcp", r2.base)).await);
    assert_eq!(call(&c2, "get_queued_messages", json!({"agent_id": "w"})).await, json!([]));

    // A waiter on replica 2, a tool broadcast on replica 1.
    let waiting = {
        let c = connect(&format!("{}/mcp", r2.base)).await;
        tokio::spawn(async move { call(&c, "wait_for_message", json!({"agent_id": "w", "timeout_seconds": 20})).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await; // let the waiter register before the publish
    let started = std::time::Instant::now();
    let payload = json!({"agent_id": "x", "message": "hello"}).to_string();
    call(&c1, "mqtt_publish", json!({"topic": "coordinator/default/broadcast", "payload": payload})).await;
    let got = waiting.await.unwrap();
    assert_eq!(got["payload"], json!({"agent_id": "x", "message": "hello"}), "{got}");
    assert!(started.elapsed() < Duration::from_secs(5), "woken through Redis, not by a timeout");

    // An MQTT client of replica 1 publishes; a subscriber of replica 2 gets it once, and the inbox gets it once.
    let mut sub =
        Client::connect_to("127.0.0.1", r2.mqtt_port, Via::Tcp, Proto::V311, "sub2", Opts::default()).await.unwrap();
    assert_eq!(sub.subscribe("coordinator/default/broadcast").await, 1);
    let publisher =
        Client::connect_to("127.0.0.1", r1.mqtt_port, Via::Tcp, Proto::V5, "pub1", Opts::default()).await.unwrap();
    publisher.publish("coordinator/default/broadcast", br#"{"agent_id":"mqtt","message":"hi"}"#, true, false).await;
    let m = sub.expect("coordinator/default/broadcast").await;
    assert_eq!(m.json(), json!({"agent_id": "mqtt", "message": "hi"}));
    let mut more = 0;
    while let Some(ev) = sub.next_within(Duration::from_millis(500)).await {
        more += usize::from(matches!(ev, Ev::Publish(_)));
    }
    assert_eq!(more, 0, "delivered once");
    let queued = call(&c2, "get_queued_messages", json!({"agent_id": "w"})).await;
    assert_eq!(queued.as_array().map(Vec::len), Some(1), "appended once cluster-wide: {queued}");

    // Newest waiter wins across replicas: a second waiter of `w` on replica 1 ends the one on replica 2.
    let old = {
        let c = connect(&format!("{}/mcp", r2.base)).await;
        tokio::spawn(async move { call(&c, "wait_for_message", json!({"agent_id": "w", "timeout_seconds": 20})).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let newer = {
        let c = connect(&format!("{}/mcp", r1.base)).await;
        tokio::spawn(async move { call(&c, "wait_for_message", json!({"agent_id": "w", "timeout_seconds": 3})).await })
    };
    let started = std::time::Instant::now();
    assert_eq!(old.await.unwrap(), json!({"timeout": true}), "superseded");
    assert!(started.elapsed() < Duration::from_secs(2), "superseded at once, not at its own timeout");
    assert_eq!(newer.await.unwrap(), json!({"timeout": true}));
}
