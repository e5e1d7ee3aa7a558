//! Several replica processes (the real binary) on one Postgres database and one Redis: cross-replica scoring,
//! exactly-once delivery to SSE and MQTT clients of another replica, a Redis restart and a Postgres restart
//! mid-run. Each test gets a fresh database and its own Redis key prefix (or a private Redis / Postgres server
//! when it restarts one). Every process is killed when its guard drops, even when the test fails.

mod leader;
mod outage;
mod replicas;
mod sequencer;
pub mod services;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use parking_lot::Mutex;
use serde_json::Value;

pub use crate::support::{eventually, redis_prefix as prefix};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-coordinator");

/// One replica process.
pub struct Replica {
    child: Child,
    pub base: String,
    pub mqtt_port: u16,
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
    /// Starts `server start` with `env` (plus an OS-assigned HTTP and MQTT port) and waits until it listens.
    pub fn start(env: &[(&str, &str)]) -> Replica {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(["server", "start"])
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PORT", "0")
            .env("COORDINATOR_MQTT_TCP_PORT", "0")
            .env("COORDINATOR_DB_POOL_SIZE", "4")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut l = sink.lock();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = log.lock().clone();
            let http = text.lines().find_map(|l| json_addr(l, "listening"));
            let mqtt = text.lines().find_map(|l| json_addr(l, "MQTT TCP listener ready"));
            if let (Some(http), Some(mqtt)) = (http, mqtt) {
                let mqtt_port = mqtt.rsplit(':').next().unwrap().parse().unwrap();
                return Replica { child, base: format!("http://{http}"), mqtt_port, log, _home: home };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("replica exited during boot ({status}):\n{text}");
            }
            assert!(Instant::now() < deadline, "replica did not start within 60 s:\n{text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process without any shutdown (SIGKILL): it releases nothing.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// What the replica logged so far.
    pub fn log(&self) -> String {
        self.log.lock().clone()
    }

    /// POST a REST route; returns (status, body).
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = reqwest::Client::new().post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// POST that must succeed; returns the body.
    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let (status, v) = self.post(path, body).await;
        assert!(status < 300, "{path}: {status} {v}");
        v
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = reqwest::get(format!("{}{path}", self.base)).await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// `/readyz` `checks.redis.ok`.
    pub async fn redis_ok(&self) -> bool {
        self.get("/readyz").await.1["checks"]["redis"]["ok"] == true
    }
}

/// An SSE client collecting `(seq, event type)` frames in the background.
pub struct Sse {
    pub frames: Arc<Mutex<Vec<(i64, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sse {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sse {
    /// Connects to `base/api/events` (resuming after `last` when given).
    pub async fn open(base: &str, last: Option<i64>) -> Sse {
        let mut req = reqwest::Client::new().get(format!("{base}/api/events"));
        if let Some(l) = last {
            req = req.header("last-event-id", l.to_string());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let frames: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
        let sink = frames.clone();
        let task = tokio::spawn(async move {
            let mut body = resp.bytes_stream();
            let mut buf = String::new();
            while let Some(Ok(chunk)) = body.next().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let block: String = buf.drain(..end + 2).collect();
                    let id = block.lines().find_map(|l| l.strip_prefix("id: ")).and_then(|v| v.parse().ok());
                    let ev = block.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or("").to_owned();
                    if let Some(id) = id {
                        sink.lock().push((id, ev));
                    }
                }
            }
        });
        Sse { frames, task }
    }

    pub fn seqs(&self) -> Vec<i64> {
        self.frames.lock().iter().map(|f| f.0).collect()
    }

    /// Waits until frame `seq` arrived.
    pub async fn wait_for(&self, seq: i64, secs: u64) {
        eventually(Duration::from_secs(secs), &format!("SSE frame {seq}"), || async { self.seqs().contains(&seq) })
            .await;
    }
}

/// The current event head of org `default` on the database behind `url`.
pub async fn event_head(db_url: &str) -> i64 {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(db_url).await.unwrap();
    let head: Option<i64> = sqlx::query_scalar("SELECT event_seq FROM org_sequences WHERE org_id = 'default'")
        .fetch_optional(&mut c)
        .await
        .unwrap();
    head.unwrap_or(0)
}
