//! Benchmark: cross-replica event latency (scoring.md §9 "lag target p99 ≤ 5 ms", events-mqtt.md §4).
//!
//! Starts two replica processes of the release binary (`target/release/mcp-coordinator server start`) on one fresh
//! Postgres database (`bench_<uuid>`, dropped afterwards) and the local Redis with a unique key prefix
//! (`bench-<uuid>:`). This process opens an SSE client (`GET /api/events`) on replica 2 and one on replica 1, and
//! an MQTT subscriber (`coordinator/default/#`) on replica 2's embedded broker; then it makes K sequential writes on
//! replica 1 (`POST /api/register` with distinct agent ids: one commit, one `agent_online` event each) and records,
//! per event, when it arrived on every stream (matched by `agent_id`; SSE frames also by `seq`).
//!
//! Lag is measured on this process's monotonic clock, from two points of the write:
//! * **from response**: the moment replica 1's HTTP response arrived. The commit happened before it, so this is a
//!   lower bound of commit → delivery (it can even be negative on replica 1 itself, which publishes locally before
//!   the response is written);
//! * **from request**: the moment the request was sent, an upper bound (it includes the write itself).
//!
//! SSE on replica 1 is the single-replica baseline of the same run; SSE and MQTT on replica 2 are the cross-replica
//! path (replica 1 → Redis `coordinator:events` → replica 2's sequencer → its SSE stream / broker). Loss and
//! duplicates must be 0.
//!
//! Needs `cargo build --release` first (the bench fails with a message when the binary is missing), Postgres on
//! `--pg-url` and Redis on `--redis-url`. Run:
//! `cargo bench --bench replica_lag [-- --writes K] [--warmup W] [--gap-ms G] [--no-mqtt] [--json PATH]
//! [--pg-url URL] [--redis-url URL] [--bin PATH]`. See docs/benchmarks-replicas.md.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use futures::StreamExt;
use parking_lot::Mutex;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};

#[path = "common/pgdb.rs"]
mod pgdb;
use pgdb::BenchDb;

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432";
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// Spec target: cross-replica lag p99 (scoring.md §9).
const TARGET_P99_MS: f64 = 5.0;
/// How long to wait for stragglers after the last write before counting an event as lost.
const DRAIN: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Config {
    writes: usize,
    warmup: usize,
    gap: Duration,
    mqtt: bool,
    json: Option<String>,
    pg_url: String,
    redis_url: String,
    bin: Option<PathBuf>,
}

fn num(flag: &str, v: Option<String>) -> Result<usize> {
    let v = v.ok_or_else(|| anyhow!("{flag} needs a value"))?;
    v.replace('_', "").parse().with_context(|| format!("{flag}: bad number {v:?}"))
}

impl Config {
    fn from_args() -> Result<Config> {
        let mut c = Config {
            writes: 1000,
            warmup: 100,
            gap: Duration::ZERO,
            mqtt: true,
            json: None,
            pg_url: DEFAULT_PG_URL.to_owned(),
            redis_url: DEFAULT_REDIS_URL.to_owned(),
            bin: None,
        };
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            match a.as_str() {
                // `cargo bench` passes `--bench` to harness-less benches.
                "--bench" => {}
                "--writes" => c.writes = num("--writes", it.next())?.max(1),
                "--warmup" => c.warmup = num("--warmup", it.next())?,
                "--gap-ms" => c.gap = Duration::from_millis(num("--gap-ms", it.next())? as u64),
                "--no-mqtt" => c.mqtt = false,
                "--json" => c.json = Some(it.next().ok_or_else(|| anyhow!("--json needs a path"))?),
                "--pg-url" => c.pg_url = it.next().ok_or_else(|| anyhow!("--pg-url needs a URL"))?,
                "--redis-url" => c.redis_url = it.next().ok_or_else(|| anyhow!("--redis-url needs a URL"))?,
                "--bin" => c.bin = Some(PathBuf::from(it.next().ok_or_else(|| anyhow!("--bin needs a path"))?)),
                "-h" | "--help" => {
                    println!(
                        "cargo bench --bench replica_lag -- [--writes K] [--warmup W] [--gap-ms G] [--no-mqtt] \
                         [--json PATH] [--pg-url URL] [--redis-url URL] [--bin PATH]"
                    );
                    std::process::exit(0);
                }
                other => eprintln!("replica_lag bench: ignoring argument {other:?}"),
            }
        }
        Ok(c)
    }
}

/// The release binary: `--bin`, else `release/mcp-coordinator` next to this bench's `release/deps/` directory
/// (so it follows `CARGO_TARGET_DIR`).
fn binary(cfg: &Config) -> Result<PathBuf> {
    let path = match &cfg.bin {
        Some(p) => p.clone(),
        None => {
            let exe = std::env::current_exe().context("locating the bench executable")?;
            let profile_dir = exe
                .parent()
                .and_then(|deps| deps.parent())
                .ok_or_else(|| anyhow!("unexpected bench location {}", exe.display()))?;
            // `cargo bench` puts benches in target/release/deps; the binary we want is always the release one.
            let target = profile_dir.parent().ok_or_else(|| anyhow!("unexpected bench location {}", exe.display()))?;
            target.join("release").join("mcp-coordinator")
        }
    };
    if !path.is_file() {
        bail!(
            "the release binary {} is missing: build it first with `cargo build --release` (same CARGO_TARGET_DIR), \
             or pass --bin PATH",
            path.display()
        );
    }
    Ok(path)
}

// ---------------------------------------------------------------------------------------------------------------
// Replica processes
// ---------------------------------------------------------------------------------------------------------------

/// One replica process; killed when dropped (also when the bench fails).
struct Replica {
    name: &'static str,
    child: Child,
    base: String,
    mqtt_port: u16,
    log: Arc<Mutex<String>>,
    _home: tempfile::TempDir,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json_addr(line: &str, message: &str) -> Option<String> {
    let v: Value = serde_json::from_str(line).ok()?;
    (v["message"] == message).then(|| v["addr"].as_str().map(str::to_owned)).flatten()
}

impl Replica {
    /// Starts `server start` with an OS-assigned HTTP and MQTT port and waits until both listen.
    fn start(name: &'static str, bin: &PathBuf, env: &[(&str, &str)]) -> Result<Replica> {
        let home = tempfile::tempdir().context("temp HOME")?;
        let mut child = Command::new(bin)
            .args(["server", "start"])
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PORT", "0")
            .env("COORDINATOR_MQTT_TCP_PORT", "0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().ok_or_else(|| anyhow!("no stderr pipe"))?;
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut l = sink.lock();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let mut r = Replica { name, child, base: String::new(), mqtt_port: 0, log, _home: home };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = r.log.lock().clone();
            let http = text.lines().find_map(|l| json_addr(l, "listening"));
            let mqtt = text.lines().find_map(|l| json_addr(l, "MQTT TCP listener ready"));
            if let (Some(http), Some(mqtt)) = (http, mqtt) {
                r.mqtt_port = mqtt.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0);
                r.base = format!("http://{http}");
                return Ok(r);
            }
            if let Ok(Some(status)) = r.child.try_wait() {
                bail!("{name} exited during boot ({status}):\n{text}");
            }
            if Instant::now() > deadline {
                bail!("{name} did not start within 60 s:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Log lines at WARN or ERROR (shown after the run: a replica that resynchronised or lost Redis says so).
    fn warnings(&self) -> Vec<String> {
        self.log
            .lock()
            .lines()
            .filter(|l| l.contains("\"level\":\"WARN\"") || l.contains("\"level\":\"ERROR\""))
            .map(str::to_owned)
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Receivers
// ---------------------------------------------------------------------------------------------------------------

/// Arrivals on one stream: agent id → (seq, arrival) for every `agent_online` received.
#[derive(Default)]
struct Arrivals {
    by_agent: HashMap<String, Vec<(i64, Instant)>>,
    seqs: HashMap<i64, usize>,
}

type Shared = Arc<Mutex<Arrivals>>;

/// Opens `GET base/api/events` and records every `agent_online` frame in the background.
async fn sse(base: &str, out: Shared) -> Result<tokio::task::JoinHandle<()>> {
    let resp = reqwest::Client::new().get(format!("{base}/api/events")).send().await?;
    if !resp.status().is_success() {
        bail!("SSE on {base} refused: {}", resp.status());
    }
    Ok(tokio::spawn(async move {
        let mut body = resp.bytes_stream();
        let mut buf = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            let at = Instant::now();
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                if !block.lines().any(|l| l == "event: agent_online") {
                    continue;
                }
                let seq = block.lines().find_map(|l| l.strip_prefix("id: ")).and_then(|v| v.parse().ok());
                let agent = block
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .and_then(|d| serde_json::from_str::<Value>(d).ok())
                    .and_then(|v| v["agent_id"].as_str().map(str::to_owned));
                if let (Some(seq), Some(agent)) = (seq, agent) {
                    let mut a = out.lock();
                    a.by_agent.entry(agent).or_default().push((seq, at));
                    *a.seqs.entry(seq).or_default() += 1;
                }
            }
        }
    }))
}

/// An MQTT subscriber on `coordinator/default/#` recording `agents/<id>/status` publishes (no seq: seq 0).
async fn mqtt(port: u16, out: Shared) -> Result<(AsyncClient, tokio::task::JoinHandle<()>)> {
    let mut opts = MqttOptions::new(format!("bench-lag-{}", uuid::Uuid::new_v4().simple()), "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(60)).set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut el) = AsyncClient::new(opts, 1000);
    client.subscribe("coordinator/default/#", QoS::AtLeastOnce).await?;
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let mut ready = Some(ready_tx);
    let task = tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let at = Instant::now();
                    // Retained messages replayed at subscribe time are not live deliveries.
                    if p.retain {
                        continue;
                    }
                    let mut parts = p.topic.split('/');
                    if let Some(agent) = parts.by_ref().skip_while(|s| *s != "agents").nth(1)
                        && p.topic.ends_with("/status")
                    {
                        out.lock().by_agent.entry(agent.to_owned()).or_default().push((0, at));
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    eprintln!("replica_lag bench: MQTT subscriber stopped: {e}");
                    return;
                }
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), ready_rx)
        .await
        .map_err(|_| anyhow!("no SUBACK from replica 2's broker within 10 s"))?
        .map_err(|_| anyhow!("MQTT subscriber ended before SUBACK"))?;
    Ok((client, task))
}

// ---------------------------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
struct Dist {
    n: usize,
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
    min: f64,
    mean: f64,
}

/// Nearest-rank percentiles of signed millisecond values.
fn dist(v: &[f64]) -> Dist {
    if v.is_empty() {
        return Dist::default();
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Dist {
        n: v.len(),
        p50: at(0.50),
        p95: at(0.95),
        p99: at(0.99),
        max: v[v.len() - 1],
        min: v[0],
        mean: v.iter().sum::<f64>() / v.len() as f64,
    }
}

impl Dist {
    fn json(&self) -> Value {
        json!({"n": self.n, "p50_ms": self.p50, "p95_ms": self.p95, "p99_ms": self.p99, "max_ms": self.max,
               "min_ms": self.min, "mean_ms": self.mean})
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One write on replica 1.
struct Write {
    agent: String,
    sent: Instant,
    answered: Instant,
}

/// The result of one stream.
struct PathResult {
    path: &'static str,
    from_response: Dist,
    from_request: Dist,
    lost: usize,
    duplicates: usize,
    out_of_order: usize,
}

fn evaluate(path: &'static str, writes: &[Write], arr: &Arrivals, by_seq: bool) -> PathResult {
    let (mut from_resp, mut from_req) = (Vec::new(), Vec::new());
    let (mut lost, mut dups) = (0, 0);
    let mut seqs = Vec::new();
    for w in writes {
        match arr.by_agent.get(&w.agent).map(Vec::as_slice) {
            None | Some([]) => lost += 1,
            Some(list) => {
                dups += list.len() - 1;
                let (seq, at) = list[0];
                seqs.push(seq);
                let signed = |from: Instant| {
                    if at >= from { ms(at - from) } else { -ms(from - at) }
                };
                from_resp.push(signed(w.answered));
                from_req.push(signed(w.sent));
            }
        }
    }
    if by_seq {
        // The same seq delivered twice (under different agent ids would be a bug too).
        dups = dups.max(arr.seqs.values().filter(|&&c| c > 1).map(|c| c - 1).sum());
    }
    let out_of_order = if by_seq { seqs.windows(2).filter(|w| w[1] <= w[0]).count() } else { 0 };
    PathResult {
        path,
        from_response: dist(&from_resp),
        from_request: dist(&from_req),
        lost,
        duplicates: dups,
        out_of_order,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Run
// ---------------------------------------------------------------------------------------------------------------

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

async fn register(http: &reqwest::Client, base: &str, agent: &str) -> Result<()> {
    let r = http
        .post(format!("{base}/api/register"))
        .json(&json!({"agent_id": agent, "name": format!("Lag {agent}")}))
        .send()
        .await
        .with_context(|| format!("POST {base}/api/register"))?;
    let status = r.status();
    // Read the whole body: the response has "arrived" once it is complete.
    let body = r.bytes().await?;
    if !status.is_success() {
        bail!("POST /api/register {agent}: {status} {}", String::from_utf8_lossy(&body));
    }
    Ok(())
}

/// Waits until every stream saw `agent` (or `secs` pass).
async fn wait_seen(streams: &[&Shared], agent: &str, secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if streams.iter().all(|s| s.lock().by_agent.contains_key(agent)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

struct Outcome {
    results: Vec<PathResult>,
    write_lat: Dist,
    wall_s: f64,
    warnings: Vec<String>,
}

async fn measure(cfg: &Config, bin: &PathBuf, db: &BenchDb) -> Result<Outcome> {
    let prefix = format!("bench-{}:", uuid::Uuid::new_v4().simple());
    let env = [
        ("COORDINATOR_DATABASE_URL", db.url.as_str()),
        ("COORDINATOR_REDIS_URL", cfg.redis_url.as_str()),
        ("COORDINATOR_REDIS_PREFIX", prefix.as_str()),
    ];
    // One after the other: the first migrates the fresh database.
    let r1 = Replica::start("replica 1", bin, &env)?;
    let r2 = Replica::start("replica 2", bin, &env)?;
    eprintln!(
        "replica_lag bench: replica 1 {} (MQTT {}), replica 2 {} (MQTT {})",
        r1.base, r1.mqtt_port, r2.base, r2.mqtt_port
    );
    let http = reqwest::Client::new();
    for r in [&r1, &r2] {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = match http.get(format!("{}/readyz", r.base)).send().await {
                Ok(resp) => resp.json::<Value>().await.map(|v| v["checks"]["redis"]["ok"] == true).unwrap_or(false),
                Err(_) => false,
            };
            if ready {
                break;
            }
            if Instant::now() > deadline {
                bail!("{} never reported Redis ok on /readyz:\n{}", r.name, r.log.lock());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    let (local, remote, remote_mqtt): (Shared, Shared, Shared) = Default::default();
    let t_local = sse(&r1.base, local.clone()).await?;
    let t_remote = sse(&r2.base, remote.clone()).await?;
    let mqtt_sub = if cfg.mqtt { Some(mqtt(r2.mqtt_port, remote_mqtt.clone()).await?) } else { None };
    let mut streams = vec![&local, &remote];
    if cfg.mqtt {
        streams.push(&remote_mqtt);
    }

    // Probe: the whole path is live before anything counts.
    register(&http, &r1.base, "lag-probe").await?;
    if !wait_seen(&streams, "lag-probe", 10).await {
        bail!("the probe event did not reach every stream within 10 s");
    }

    let started = Instant::now();
    let mut writes = Vec::with_capacity(cfg.writes);
    for k in 0..cfg.warmup + cfg.writes {
        let agent = if k < cfg.warmup { format!("lag-warm-{k:05}") } else { format!("lag-{:05}", k - cfg.warmup) };
        let sent = Instant::now();
        register(&http, &r1.base, &agent).await?;
        let answered = Instant::now();
        if k >= cfg.warmup {
            writes.push(Write { agent, sent, answered });
        }
        if !cfg.gap.is_zero() {
            tokio::time::sleep(cfg.gap).await;
        }
    }
    // Stragglers.
    let deadline = Instant::now() + DRAIN;
    while Instant::now() < deadline {
        let all = writes.iter().all(|w| streams.iter().all(|s| s.lock().by_agent.contains_key(&w.agent)));
        if all {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A moment more, so duplicates have a chance to show up.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let wall_s = started.elapsed().as_secs_f64();

    let mut results = vec![
        evaluate("SSE on replica 1 (same replica, baseline)", &writes, &local.lock(), true),
        evaluate("SSE on replica 2 (cross-replica)", &writes, &remote.lock(), true),
    ];
    if cfg.mqtt {
        results.push(evaluate("MQTT on replica 2 (cross-replica)", &writes, &remote_mqtt.lock(), false));
    }
    let write_lat = dist(&writes.iter().map(|w| ms(w.answered - w.sent)).collect::<Vec<_>>());
    t_local.abort();
    t_remote.abort();
    if let Some((client, task)) = mqtt_sub {
        let _ = client.disconnect().await;
        task.abort();
    }
    let mut warnings = r1.warnings();
    warnings.extend(r2.warnings());
    drop(r1);
    drop(r2);
    // The Redis keys this run's prefix left behind (the sequencer's counters, sessions), best effort.
    let _ = cleanup_redis(&cfg.redis_url, &prefix).await;
    Ok(Outcome { results, write_lat, wall_s, warnings })
}

/// Deletes every key under the run's prefix.
async fn cleanup_redis(url: &str, prefix: &str) -> Result<()> {
    let client = redis::Client::open(url)?;
    let mut c = client.get_multiplexed_async_connection().await?;
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut c)
            .await?;
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL").arg(keys).query_async(&mut c).await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

fn report(cfg: &Config, o: &Outcome, load_start: &str) -> Result<()> {
    let load_end = loadavg();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!("\n## Cross-replica event latency (2 replicas, Postgres + Redis)\n");
    println!(
        "machine: {} ({cores} cores), bench build: {}; load average {load_start} at start, {load_end} at end; {} \
         timed writes (`POST /api/register` on replica 1, sequential, gap {} ms) after {} warm-up writes; wall time \
         {:.1} s\n",
        cpu_model(),
        if cfg!(debug_assertions) { "debug" } else { "release" },
        cfg.writes,
        cfg.gap.as_millis(),
        cfg.warmup,
        o.wall_s
    );
    println!(
        "write latency on replica 1 (request → response): p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms, max {:.3} ms\n",
        o.write_lat.p50, o.write_lat.p95, o.write_lat.p99, o.write_lat.max
    );
    println!(
        "| path | from response p50 ms | p95 ms | p99 ms | max ms | min ms | from request p50 ms | p99 ms | max ms | \
         received | lost | duplicates | out of order |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &o.results {
        let (a, b) = (&r.from_response, &r.from_request);
        println!(
            "| {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} | {} | {} |",
            r.path, a.p50, a.p95, a.p99, a.max, a.min, b.p50, b.p99, b.max, a.n, r.lost, r.duplicates, r.out_of_order
        );
    }
    let cross = &o.results[1];
    let met = cross.from_response.p99 <= TARGET_P99_MS && cross.lost == 0 && cross.duplicates == 0;
    println!(
        "\n- cross-replica SSE lag p99 (from response) {:.3} ms, target ≤ {TARGET_P99_MS} ms, loss {} and \
         duplicates {} (must be 0): **{}**",
        cross.from_response.p99,
        cross.lost,
        cross.duplicates,
        if met { "MET" } else { "MISSED" }
    );
    let base = &o.results[0];
    println!(
        "- Redis hop (cross-replica minus same-replica SSE, p50 / p99): {:.3} / {:.3} ms",
        cross.from_response.p50 - base.from_response.p50,
        cross.from_response.p99 - base.from_response.p99
    );
    if !o.warnings.is_empty() {
        println!("\nreplica warnings ({}):", o.warnings.len());
        for w in o.warnings.iter().take(10) {
            println!("    {w}");
        }
    }
    if let Some(path) = &cfg.json {
        let doc = json!({
            "benchmark": "replica_lag",
            "machine": {"cpu": cpu_model(), "cores": cores,
                        "profile": if cfg!(debug_assertions) { "debug" } else { "release" }},
            "config": {"writes": cfg.writes, "warmup": cfg.warmup, "gap_ms": cfg.gap.as_millis() as u64,
                       "mqtt": cfg.mqtt, "load_start": load_start, "load_end": load_end},
            "write_latency": o.write_lat.json(),
            "paths": o.results.iter().map(|r| json!({
                "path": r.path, "from_response": r.from_response.json(), "from_request": r.from_request.json(),
                "lost": r.lost, "duplicates": r.duplicates, "out_of_order": r.out_of_order,
            })).collect::<Vec<_>>(),
            "target": {"p99_ms": TARGET_P99_MS, "value_ms": cross.from_response.p99, "met": met},
            "replica_warnings": o.warnings.len(),
            "wall_s": o.wall_s,
        });
        if let Some(parent) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(&doc)?).with_context(|| format!("writing {path}"))?;
        println!("\nJSON written to {path}");
    }
    Ok(())
}

fn main() -> Result<()> {
    let cfg = Config::from_args()?;
    let bin = binary(&cfg)?;
    if cfg!(debug_assertions) {
        eprintln!("replica_lag bench: WARNING: the bench itself is a debug build (use `cargo bench`)");
    }
    let load_start = loadavg();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let db = BenchDb::create(&cfg.pg_url).await?;
        eprintln!("replica_lag bench: database {}, binary {}", db.name, bin.display());
        let out = measure(&cfg, &bin, &db).await;
        let dropped = db.drop_db().await;
        let out = out?;
        dropped?;
        report(&cfg, &out, &load_start)
    })
}
