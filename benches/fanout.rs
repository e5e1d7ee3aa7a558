//! Fan-out latency benchmark (not a test): from an in-process `announce_work` (Core call) to the receipt of
//! `coordinator/default/consultations/new` by K = 1, 100, 1000 subscribers over TCP and over WebSocket `/mqtt`, and
//! the same subscriber code against Mosquitto on 127.0.0.1:1883 (a client publish instead of the announcement);
//! plus SSE (`/api/events`) fan-out of `thread_opened` to 100 and 1000 clients. Rounds are sequential: the next
//! starts when every subscriber got the previous one (or after 5 s, counted as loss).
//!
//! Run: `cargo bench --bench fanout` (release). Prints a markdown table; `FANOUT_JSON=path` also writes JSON;
//! `FANOUT_QUICK=1` runs tiny sizes (a smoke test of the harness).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use mcp_coordinator::app::App;
use mcp_coordinator::config::{Flags, Settings};
use mcp_coordinator::core::Core;
use mcp_coordinator::core::announce::AnnounceInput;
use mcp_coordinator::core::ports::SystemClock;
use mcp_coordinator::core::principal::Principal;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, Transport};
use serde_json::Value;
use tokio::sync::mpsc;

const ROUND_TIMEOUT: Duration = Duration::from_secs(5);

type Receipts = mpsc::UnboundedSender<(String, Instant)>;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    Tcp,
    Ws,
    Mosquitto,
}

struct Row {
    transport: String,
    k: usize,
    rounds: usize,
    p50_us: u128,
    p99_us: u128,
    lost: usize,
}

fn thread_id(payload: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(payload).ok()?;
    v.get("thread_id").and_then(Value::as_str).map(str::to_owned)
}

/// Connects one subscriber and forwards `(thread_id, receipt time)` of each publish.
async fn subscriber(
    target: Target,
    n: usize,
    http: &str,
    mqtt_port: u16,
    filter: String,
    out: Receipts,
) -> AsyncClient {
    let id = format!("bench-sub-{n}-{}", uuid::Uuid::new_v4().simple());
    let mut opts = match target {
        Target::Tcp => MqttOptions::new(id, "127.0.0.1", mqtt_port),
        Target::Mosquitto => MqttOptions::new(id, "127.0.0.1", 1883),
        Target::Ws => {
            let mut o = MqttOptions::new(id, format!("ws://{http}/mqtt"), 0);
            o.set_transport(Transport::Ws);
            o
        }
    };
    opts.set_keep_alive(Duration::from_secs(60)).set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut el) = AsyncClient::new(opts, 100);
    client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let mut ready = Some(ready_tx);
    tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let at = Instant::now();
                    if let Some(t) = thread_id(&p.payload) {
                        let _ = out.send((t, at));
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
                Ok(_) => {}
                Err(_) => return, // disconnected at the end of its case
            }
        }
    });
    ready_rx.await.unwrap();
    client
}

/// Connects `k` subscribers, 50 at a time.
async fn subscribers(
    target: Target,
    k: usize,
    http: &str,
    mqtt_port: u16,
    filter: &str,
    out: &Receipts,
) -> Vec<AsyncClient> {
    let mut all = Vec::with_capacity(k);
    for chunk in (0..k).collect::<Vec<_>>().chunks(50) {
        let batch = chunk.iter().map(|n| subscriber(target, *n, http, mqtt_port, filter.to_owned(), out.clone()));
        all.extend(futures::future::join_all(batch).await);
    }
    all
}

fn percentile(sorted: &[u128], p: f64) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Waits for `k` receipts of `id` (receipts of other ids are kept for later rounds); returns latencies.
async fn collect(
    rx: &mut mpsc::UnboundedReceiver<(String, Instant)>,
    pending: &mut HashMap<String, Vec<Instant>>,
    id: &str,
    k: usize,
    start: Instant,
) -> Vec<u128> {
    let deadline = tokio::time::Instant::now() + ROUND_TIMEOUT;
    while pending.get(id).map_or(0, Vec::len) < k {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((t, at))) => pending.entry(t).or_default().push(at),
            _ => break,
        }
    }
    pending.remove(id).unwrap_or_default().iter().map(|at| at.duration_since(start).as_micros()).collect()
}

/// One announcement that opens a consultation (everyone's conflicting on shared.rs with the holder).
async fn announce(core: &Core, i: usize) -> String {
    let input = AnnounceInput {
        agent_id: agent(i),
        subject: format!("bench change {i}"),
        target_files: vec!["shared.rs".to_owned()],
        ..AnnounceInput::default()
    };
    let out = core.announce(&Principal::open_mode(), input).await.unwrap();
    assert_eq!(out.thread.status.as_str(), "open");
    out.thread.id.to_string()
}

fn agent(i: usize) -> String {
    format!("bench-{i}")
}

/// After a round (outside the measurement): the announcer departs, so announcements do not pile up conflicts.
async fn retire(core: &Core, i: usize) {
    core.depart_agent(&Principal::open_mode(), &agent(i), "session_stop").await.unwrap();
}

/// `announce`: the coordinator publishes after an in-process announcement; otherwise a client publishes (the only
/// way with Mosquitto, and the broker-only comparison for the embedded broker).
async fn mqtt_case(
    target: Target,
    announce_mode: bool,
    k: usize,
    rounds: usize,
    core: &Core,
    http: &str,
    mqtt_port: u16,
) -> Row {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let topic = match (target, announce_mode) {
        (_, true) => "coordinator/default/consultations/new".to_owned(),
        (Target::Mosquitto, false) => format!("bench/{}/consultations/new", uuid::Uuid::new_v4().simple()),
        (_, false) => format!("coordinator/default/bench/{}", uuid::Uuid::new_v4().simple()),
    };
    let subs = subscribers(target, k, http, mqtt_port, &topic, &tx).await;
    let publisher = if announce_mode {
        None
    } else {
        Some(subscriber(target, usize::MAX, http, mqtt_port, format!("{topic}/unused"), tx.clone()).await)
    };
    // Drop the retained slot every subscriber got at SUBACK.
    tokio::time::sleep(Duration::from_millis(200)).await;
    while rx.try_recv().is_ok() {}
    let mut pending = HashMap::new();
    let (mut lat, mut lost) = (Vec::new(), 0);
    for r in 0..rounds {
        let start = Instant::now();
        let id = match &publisher {
            Some(p) => {
                let id = format!("m-{r}-{}", uuid::Uuid::new_v4().simple());
                let payload =
                    serde_json::json!({"thread_id": id, "agent_id": "bench", "subject": "s", "target_modules": []});
                p.publish(&topic, QoS::AtLeastOnce, false, payload.to_string()).await.unwrap();
                id
            }
            None => announce(core, r + k * 10_000 + target as usize * 1_000_000).await,
        };
        let got = collect(&mut rx, &mut pending, &id, k, start).await;
        if publisher.is_none() {
            retire(core, r + k * 10_000 + target as usize * 1_000_000).await;
        }
        lost += k - got.len().min(k);
        lat.extend(got);
    }
    for s in subs {
        let _ = s.disconnect().await;
    }
    lat.sort_unstable();
    let name = match (target, announce_mode) {
        (Target::Tcp, true) => "MQTT TCP (embedded), announce_work",
        (Target::Ws, true) => "MQTT WebSocket /mqtt (embedded), announce_work",
        (Target::Tcp, false) => "MQTT TCP (embedded), client publish",
        (Target::Ws, false) => "MQTT WebSocket /mqtt (embedded), client publish",
        (Target::Mosquitto, _) => "MQTT TCP (Mosquitto), client publish",
    };
    Row { transport: name.into(), k, rounds, p50_us: percentile(&lat, 0.5), p99_us: percentile(&lat, 0.99), lost }
}

async fn sse_client(http: String, out: Receipts, ready: tokio::sync::oneshot::Sender<()>) {
    let res = reqwest::get(format!("http://{http}/api/events")).await.unwrap();
    assert!(res.status().is_success(), "SSE refused: {}", res.status());
    let _ = ready.send(());
    let mut stream = res.bytes_stream();
    let mut buf = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        let at = Instant::now();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            if frame.contains("event: thread_opened")
                && let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: "))
                && let Some(t) = thread_id(data.as_bytes())
            {
                let _ = out.send((t, at));
            }
        }
    }
}

async fn sse_case(k: usize, rounds: usize, core: &Core, http: &str) -> Row {
    let (tx, mut rx) = mpsc::unbounded_channel();
    for chunk in (0..k).collect::<Vec<_>>().chunks(50) {
        let mut waits = Vec::new();
        for _ in chunk {
            let (r_tx, r_rx) = tokio::sync::oneshot::channel();
            tokio::spawn(sse_client(http.to_owned(), tx.clone(), r_tx));
            waits.push(r_rx);
        }
        futures::future::join_all(waits).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    while rx.try_recv().is_ok() {}
    let mut pending = HashMap::new();
    let (mut lat, mut lost) = (Vec::new(), 0);
    for r in 0..rounds {
        let start = Instant::now();
        let id = announce(core, r + k * 10_000 + 9_000_000).await;
        let got = collect(&mut rx, &mut pending, &id, k, start).await;
        retire(core, r + k * 10_000 + 9_000_000).await;
        lost += k - got.len().min(k);
        lat.extend(got);
    }
    lat.sort_unstable();
    Row {
        transport: "SSE /api/events".into(),
        k,
        rounds,
        p50_us: percentile(&lat, 0.5),
        p99_us: percentile(&lat, 0.99),
        lost,
    }
}

fn ms(us: u128) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn print_table(rows: &[Row]) {
    println!("| transport | K | rounds | p50 ms | p99 ms | lost | p50 / Mosquitto | p99 / Mosquitto |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let peer = rows.iter().find(|m| m.k == r.k && m.transport.contains("Mosquitto"));
        let ratio = |a: u128, b: Option<u128>| {
            b.filter(|b| *b > 0).map_or("—".to_owned(), |b| format!("{:.2}×", a as f64 / b as f64))
        };
        let (p50r, p99r) = if r.transport.contains("embedded") {
            (ratio(r.p50_us, peer.map(|p| p.p50_us)), ratio(r.p99_us, peer.map(|p| p.p99_us)))
        } else {
            ("—".to_owned(), "—".to_owned())
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {p50r} | {p99r} |",
            r.transport,
            r.k,
            r.rounds,
            ms(r.p50_us),
            ms(r.p99_us),
            r.lost
        );
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let env: HashMap<String, String> = [
            ("HOME", dir.path().display().to_string()),
            ("PORT", "0".into()),
            ("COORDINATOR_MQTT_TCP_PORT", "0".into()),
            ("COORDINATOR_MAX_SSE_CLIENTS", "2000".into()),
            ("COORDINATOR_SWEEPER_ENABLED", "false".into()),
            ("LOG_LEVEL", "warn".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let flags = Flags { data_dir: Some(dir.path().join("data")), ..Flags::default() };
        let settings = Settings::resolve(&flags, &env).unwrap();
        let app = App::build_with_clock(settings, Arc::new(SystemClock)).await.unwrap();
        let http = app.addr().to_string();
        let mqtt_port = app.mqtt_tcp_port().unwrap();
        let core = app.core();
        let shutdown = app.shutdown();
        let server = tokio::spawn(app.run_until_stopped(std::future::pending()));
        let holder = AnnounceInput {
            agent_id: "holder".into(),
            subject: "holds shared.rs".into(),
            target_files: vec!["shared.rs".into()],
            ..AnnounceInput::default()
        };
        core.announce(&Principal::open_mode(), holder).await.unwrap();

        let quick = std::env::var("FANOUT_QUICK").is_ok(); // smoke run of the harness itself
        let mqtt_sizes: &[(usize, usize)] = if quick { &[(1, 5), (10, 5)] } else { &[(1, 200), (100, 100), (1000, 30)] };
        let sse_sizes: &[(usize, usize)] = if quick { &[(10, 3)] } else { &[(100, 50), (1000, 20)] };
        let mut rows = Vec::new();
        for &(k, rounds) in mqtt_sizes {
            let cases = [
                (Target::Mosquitto, false),
                (Target::Tcp, true),
                (Target::Ws, true),
                (Target::Tcp, false),
                (Target::Ws, false),
            ];
            for (target, announce_mode) in cases {
                let row = mqtt_case(target, announce_mode, k, rounds, &core, &http, mqtt_port).await;
                eprintln!("{} K={} p50={}ms p99={}ms lost={}", row.transport, k, ms(row.p50_us), ms(row.p99_us), row.lost);
                rows.push(row);
            }
        }
        for &(k, rounds) in sse_sizes {
            let row = sse_case(k, rounds, &core, &http).await;
            eprintln!("SSE K={} p50={}ms p99={}ms lost={}", k, ms(row.p50_us), ms(row.p99_us), row.lost);
            rows.push(row);
        }
        print_table(&rows);
        if let Ok(path) = std::env::var("FANOUT_JSON") {
            let json: Vec<Value> = rows
                .iter()
                .map(|r| serde_json::json!({"transport": r.transport, "k": r.k, "rounds": r.rounds, "p50_us": r.p50_us, "p99_us": r.p99_us, "lost": r.lost}))
                .collect();
            std::fs::write(path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
        }
        shutdown.trigger();
        let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    });
}
