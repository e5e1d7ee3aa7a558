//! Fan-out latency benchmark (not a test): from an in-process `announce_work` (Core call) to the receipt of
//! `coordinator/default/consultations/new` by K = 1, 100, 1000 subscribers over TCP and over WebSocket `/mqtt`, and
//! the same subscriber code against Mosquitto on 127.0.0.1:1883 (a client publish instead of the announcement; the
//! embedded broker is measured that way too, for a broker-only comparison); plus SSE (`/api/events`) fan-out of
//! `thread_opened` to 100 and 1000 clients. The subscribers run in a child process (this binary, `FANOUT_CHILD`),
//! so neither broker shares a process with them; times are wall-clock nanoseconds on the same machine. Rounds are
//! sequential: the next starts when every subscriber got the previous one (or after 5 s, counted as loss).
//!
//! Run: `cargo bench --bench fanout` (release). Prints a markdown table; `FANOUT_JSON=path` also writes JSON;
//! `FANOUT_QUICK=1` runs tiny sizes (a smoke test of the harness).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use mcp_coordinator::app::App;
use mcp_coordinator::config::{Flags, Settings};
use mcp_coordinator::core::Core;
use mcp_coordinator::core::announce::AnnounceInput;
use mcp_coordinator::core::ports::SystemClock;
use mcp_coordinator::core::principal::Principal;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, Transport};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

const ROUND_TIMEOUT: Duration = Duration::from_secs(5);

type Receipts = mpsc::UnboundedSender<(String, u128)>;

fn now_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
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

/// Connects one MQTT client (`target` = tcp | ws | mosquitto), subscribed to `filter`, forwarding receipts.
async fn mqtt_client(target: &str, http: &str, port: u16, filter: String, out: Receipts) -> AsyncClient {
    let id = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let mut opts = match target {
        "tcp" => MqttOptions::new(id, "127.0.0.1", port),
        "mosquitto" => MqttOptions::new(id, "127.0.0.1", 1883),
        _ => {
            let mut o = MqttOptions::new(id, format!("ws://{http}/mqtt"), 0);
            o.set_transport(Transport::Ws);
            o
        }
    };
    opts.set_keep_alive(Duration::from_secs(60)).set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut el) = AsyncClient::new(opts, 100);
    client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
    let (ready_tx, ready_rx) = oneshot::channel();
    let mut ready = Some(ready_tx);
    tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let at = now_ns();
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
                Err(_) => return,
            }
        }
    });
    ready_rx.await.unwrap();
    client
}

/// One SSE client; `ready` fires once the stream is open.
async fn sse_client(http: String, out: Receipts, ready: oneshot::Sender<()>) {
    let res = reqwest::get(format!("http://{http}/api/events")).await.unwrap();
    assert!(res.status().is_success(), "SSE refused: {}", res.status());
    let _ = ready.send(());
    let mut stream = res.bytes_stream();
    let mut buf = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        let at = now_ns();
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

/// Child process: connects K subscribers (50 at a time), prints `READY`, then `<id> <ns>` per receipt; exits when
/// stdin closes.
async fn child() {
    let (kind, target, http) = (env("FANOUT_CHILD"), env("FANOUT_TARGET"), env("FANOUT_HTTP"));
    let k: usize = env("FANOUT_K").parse().unwrap();
    let port: u16 = env("FANOUT_MQTT_PORT").parse().unwrap_or(0);
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, u128)>();
    let mut keep = Vec::new();
    for chunk in (0..k).collect::<Vec<_>>().chunks(50) {
        if kind == "sse" {
            let mut waits = Vec::new();
            for _ in chunk {
                let (r_tx, r_rx) = oneshot::channel();
                tokio::spawn(sse_client(http.clone(), tx.clone(), r_tx));
                waits.push(r_rx);
            }
            futures::future::join_all(waits).await;
        } else {
            let batch = chunk.iter().map(|_| mqtt_client(&target, &http, port, env("FANOUT_TOPIC"), tx.clone()));
            keep.extend(futures::future::join_all(batch).await);
        }
    }
    let mut out = tokio::io::BufWriter::new(tokio::io::stdout());
    out.write_all(b"READY\n").await.unwrap();
    out.flush().await.unwrap();
    tokio::spawn(async {
        let mut sink = Vec::new();
        let _ = tokio::io::stdin().read_to_end(&mut sink).await;
        std::process::exit(0);
    });
    while let Some((id, at)) = rx.recv().await {
        out.write_all(format!("{id} {at}\n").as_bytes()).await.unwrap();
        while let Ok((id, at)) = rx.try_recv() {
            out.write_all(format!("{id} {at}\n").as_bytes()).await.unwrap();
        }
        out.flush().await.unwrap();
    }
}

/// The subscriber child process and its receipts.
struct Subscribers {
    _child: tokio::process::Child,
    rx: mpsc::UnboundedReceiver<(String, u128)>,
}

async fn spawn_subscribers(kind: &str, target: &str, k: usize, http: &str, port: u16, topic: &str) -> Subscribers {
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .envs([("FANOUT_CHILD", kind), ("FANOUT_TARGET", target), ("FANOUT_HTTP", http), ("FANOUT_TOPIC", topic)])
        .env("FANOUT_K", k.to_string())
        .env("FANOUT_MQTT_PORT", port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (tx, rx) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        while let Ok(Some(line)) = lines.next_line().await {
            if line == "READY" {
                if let Some(r) = ready.take() {
                    let _ = r.send(());
                }
            } else if let Some((id, at)) = line.split_once(' ') {
                let _ = tx.send((id.to_owned(), at.parse::<u128>().unwrap_or(0)));
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(300), ready_rx).await.unwrap().unwrap();
    Subscribers { _child: child, rx }
}

fn percentile(sorted: &[u128], p: f64) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Waits for `k` receipts of `id` (others are kept for later); returns latencies in µs.
async fn collect(
    subs: &mut Subscribers,
    pending: &mut HashMap<String, Vec<u128>>,
    id: &str,
    k: usize,
    start: u128,
) -> Vec<u128> {
    let deadline = tokio::time::Instant::now() + ROUND_TIMEOUT;
    while pending.get(id).map_or(0, Vec::len) < k {
        match tokio::time::timeout_at(deadline, subs.rx.recv()).await {
            Ok(Some((t, at))) => pending.entry(t).or_default().push(at),
            _ => break,
        }
    }
    pending.remove(id).unwrap_or_default().iter().map(|at| at.saturating_sub(start) / 1000).collect()
}

/// One announcement that opens a consultation (conflicting on shared.rs with the holder); returns the thread id.
async fn announce(core: &Core, agent: &str) -> String {
    let input = AnnounceInput {
        agent_id: agent.to_owned(),
        subject: format!("bench change by {agent}"),
        target_files: vec!["shared.rs".to_owned()],
        ..AnnounceInput::default()
    };
    let out = core.announce(&Principal::open_mode(), input).await.unwrap();
    assert_eq!(out.thread.status.as_str(), "open");
    out.thread.id.to_string()
}

/// Drains what arrived at subscription (the retained slot), then runs the rounds.
async fn rounds(
    subs: &mut Subscribers,
    k: usize,
    n: usize,
    mut fire: impl AsyncFnMut(usize) -> String,
) -> (Vec<u128>, usize) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    while subs.rx.try_recv().is_ok() {}
    let mut pending = HashMap::new();
    let (mut lat, mut lost) = (Vec::new(), 0);
    for r in 0..n {
        let start = now_ns();
        let id = fire(r).await;
        let got = collect(subs, &mut pending, &id, k, start).await;
        lost += k - got.len().min(k);
        lat.extend(got);
    }
    lat.sort_unstable();
    (lat, lost)
}

/// `announce_mode`: the coordinator publishes after an in-process announcement; otherwise a client publishes.
async fn mqtt_case(target: &str, announce_mode: bool, k: usize, n: usize, core: &Core, http: &str, port: u16) -> Row {
    let topic = match (target, announce_mode) {
        (_, true) => "coordinator/default/consultations/new".to_owned(),
        ("mosquitto", false) => format!("bench/{}/consultations/new", uuid::Uuid::new_v4().simple()),
        (_, false) => format!("coordinator/default/bench/{}", uuid::Uuid::new_v4().simple()),
    };
    let mut subs = spawn_subscribers("mqtt", target, k, http, port, &topic).await;
    let (lat, lost) = if announce_mode {
        let tag = format!("{target}-{k}");
        rounds(&mut subs, k, n, async |r| {
            let agent = format!("bench-{tag}-{r}");
            let id = announce(core, &agent).await;
            core.depart_agent(&Principal::open_mode(), &agent, "session_stop").await.unwrap();
            id
        })
        .await
    } else {
        let (tx, _rx) = mpsc::unbounded_channel();
        let publisher = mqtt_client(target, http, port, format!("{topic}/unused"), tx).await;
        rounds(&mut subs, k, n, async |r| {
            let id = format!("m-{r}-{}", uuid::Uuid::new_v4().simple());
            let body = serde_json::json!({"thread_id": id, "agent_id": "bench", "subject": "s", "target_modules": []});
            publisher.publish(&topic, QoS::AtLeastOnce, false, body.to_string()).await.unwrap();
            id
        })
        .await
    };
    let via = if target == "ws" { "MQTT WebSocket /mqtt" } else { "MQTT TCP" };
    let who = match (target, announce_mode) {
        ("mosquitto", _) => "(Mosquitto), client publish",
        (_, true) => "(embedded), announce_work",
        (_, false) => "(embedded), client publish",
    };
    Row {
        transport: format!("{via} {who}"),
        k,
        rounds: n,
        p50_us: percentile(&lat, 0.5),
        p99_us: percentile(&lat, 0.99),
        lost,
    }
}

async fn sse_case(k: usize, n: usize, core: &Core, http: &str) -> Row {
    let mut subs = spawn_subscribers("sse", "", k, http, 0, "").await;
    let (lat, lost) = rounds(&mut subs, k, n, async |r| {
        let agent = format!("bench-sse-{k}-{r}");
        let id = announce(core, &agent).await;
        core.depart_agent(&Principal::open_mode(), &agent, "session_stop").await.unwrap();
        id
    })
    .await;
    Row {
        transport: "SSE /api/events".into(),
        k,
        rounds: n,
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

async fn parent() {
    let dir = tempfile::tempdir().unwrap();
    let vars: HashMap<String, String> = [
        ("HOME", dir.path().display().to_string()),
        ("PORT", "0".into()),
        ("COORDINATOR_MQTT_TCP_PORT", "0".into()),
        ("COORDINATOR_MAX_SSE_CLIENTS", "2000".into()),
        ("COORDINATOR_SWEEPER_ENABLED", "false".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let flags = Flags { data_dir: Some(dir.path().join("data")), ..Flags::default() };
    let app = App::build_with_clock(Settings::resolve(&flags, &vars).unwrap(), Arc::new(SystemClock)).await.unwrap();
    let (http, port, core, shutdown) =
        (app.addr().to_string(), app.mqtt_tcp_port().unwrap(), app.core(), app.shutdown());
    let server = tokio::spawn(app.run_until_stopped(std::future::pending()));
    let holder = AnnounceInput {
        agent_id: "holder".into(),
        subject: "holds shared.rs".into(),
        target_files: vec!["shared.rs".into()],
        ..AnnounceInput::default()
    };
    core.announce(&Principal::open_mode(), holder).await.unwrap();

    let quick = std::env::var("FANOUT_QUICK").is_ok();
    let mqtt_sizes: &[(usize, usize)] = if quick { &[(1, 5), (10, 5)] } else { &[(1, 200), (100, 100), (1000, 30)] };
    let sse_sizes: &[(usize, usize)] = if quick { &[(10, 3)] } else { &[(100, 50), (1000, 20)] };
    let mut rows = Vec::new();
    for &(k, n) in mqtt_sizes {
        for (target, announce_mode) in
            [("mosquitto", false), ("tcp", true), ("ws", true), ("tcp", false), ("ws", false)]
        {
            let row = mqtt_case(target, announce_mode, k, n, &core, &http, port).await;
            eprintln!("{} K={k} p50={}ms p99={}ms lost={}", row.transport, ms(row.p50_us), ms(row.p99_us), row.lost);
            rows.push(row);
        }
    }
    for &(k, n) in sse_sizes {
        let row = sse_case(k, n, &core, &http).await;
        eprintln!("SSE K={k} p50={}ms p99={}ms lost={}", ms(row.p50_us), ms(row.p99_us), row.lost);
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
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    if std::env::var("FANOUT_CHILD").is_ok() {
        rt.block_on(child());
    } else {
        rt.block_on(parent());
    }
}
