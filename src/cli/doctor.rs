//! `doctor`: checks the installation and a running server, one line per check,
//! `[ok|warn|fail] <check> — <detail> (<hint>)`, and exits 1 on any failure. Checks: config dir permissions,
//! config.json, the PID file and its process ("died" with the log tail, or "never started"), `/livez`
//! (1 500 ms), `/health` warnings, `/readyz`, an MCP `initialize` on `/mcp` (2 500 ms, reply has
//! `protocolVersion`) and the store (WAL, foreign keys, busy_timeout ≥ 5000, schema version).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde::Serialize;
use serde_json::Value;

use super::pidfile::{self, PidRecord};
use super::probe::Probe;
use super::{Failure, Outcome, layout, settings};
use crate::config::{DEFAULT_PORT, Flags, ProcessEnv, Settings};
use crate::store::sqlite::{SCHEMA_VERSION, StoreReport, inspect};

const HTTP_TIMEOUT: Duration = Duration::from_millis(1500);
const MCP_TIMEOUT: Duration = Duration::from_millis(2500);
const TAIL_LINES: usize = 12;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Host the server answers on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port of the server (default: PORT, config.json, 3100).
    #[arg(long)]
    pub port: Option<u16>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Check {
    status: &'static str,
    check: &'static str,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    log_tail: Vec<String>,
}

#[derive(Default)]
struct Report(Vec<Check>);

impl Report {
    fn add(&mut self, status: &'static str, check: &'static str, detail: impl Into<String>, hint: Option<&str>) {
        let hint = hint.map(str::to_owned);
        self.0.push(Check { status, check, detail: detail.into(), hint, log_tail: Vec::new() });
    }
    fn ok(&mut self, check: &'static str, detail: impl Into<String>) {
        self.add("ok", check, detail, None);
    }
    fn warn(&mut self, check: &'static str, detail: impl Into<String>, hint: &str) {
        self.add("warn", check, detail, Some(hint));
    }
    fn fail(&mut self, check: &'static str, detail: impl Into<String>, hint: &str) {
        self.add("fail", check, detail, Some(hint));
    }
}

/// `doctor`.
pub async fn doctor(a: &DoctorArgs) -> Outcome {
    let mut r = Report::default();
    let config_dir = crate::config::config_dir(&ProcessEnv);
    check_config(&mut r, &config_dir);
    let s = match settings(&Flags { port: a.port, ..Flags::default() }) {
        Ok(s) => Some(s),
        Err(e) => {
            if !r.0.iter().any(|c| c.check == "config.json" && c.status == "fail") {
                r.fail("settings", e.message, "fix or unset the setting named above");
            }
            None
        }
    };
    let port = s.as_ref().map_or(a.port.unwrap_or(DEFAULT_PORT), |s| s.port);
    let probe = Probe::new(&a.host, port).map_err(|e| Failure::new(1, e))?;
    let live = probe.get("/livez", HTTP_TIMEOUT).await;
    check_pid(&mut r, &config_dir, port, live.is_ok());
    match live {
        Ok(reply) if reply.status == 200 => {
            let up = reply.body.get("uptime_seconds").and_then(Value::as_u64).unwrap_or(0);
            let version = reply.body.get("version").and_then(Value::as_str).unwrap_or("?");
            r.ok("livez", format!("http://{}:{port}/livez answered (version {version}, up {up} s)", a.host));
            check_server(&mut r, &probe).await;
        }
        Ok(reply) => r.fail("livez", format!("HTTP {}", reply.status), "something else answers on this port"),
        Err(e) => r.fail(
            "livez",
            format!("no answer from http://{}:{port}/livez within 1500 ms ({e})", a.host),
            "start the server with `mcp-coordinator server start --daemon`, or check --host/--port",
        ),
    }
    if let Some(s) = &s {
        check_store(&mut r, s).await;
        if let Some(url) = &s.redis_url {
            check_redis(&mut r, url).await;
        }
    }
    let failed = r.0.iter().any(|c| c.status == "fail");
    if a.json {
        println!("{}", serde_json::json!({"ok": !failed, "checks": r.0}));
    } else {
        for c in &r.0 {
            let hint = c.hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default();
            println!("[{}] {} — {}{hint}", c.status, c.check, c.detail);
            for line in &c.log_tail {
                println!("    {}", super::logs::pretty(line));
            }
        }
        let count = |s: &str| r.0.iter().filter(|c| c.status == s).count();
        println!("{} ok, {} warnings, {} failures", count("ok"), count("warn"), count("fail"));
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn check_config(r: &mut Report, dir: &Path) {
    match std::fs::metadata(dir) {
        Ok(m) if m.permissions().mode() & 0o077 != 0 => r.warn(
            "config dir",
            format!(
                "{} has mode {:o} (0700 advised: it holds the database)",
                dir.display(),
                m.permissions().mode() & 0o777
            ),
            &format!("chmod 700 {}", dir.display()),
        ),
        Ok(_) => r.ok("config dir", format!("{} (mode 0700)", dir.display())),
        Err(_) => r.warn("config dir", format!("{} does not exist", dir.display()), "run `mcp-coordinator init`"),
    }
    match crate::config::check_config_file(dir) {
        Ok(true) => r.ok("config.json", "valid"),
        Ok(false) => r.warn("config.json", "missing (defaults apply)", "run `mcp-coordinator init` to write one"),
        Err(e) => r.fail(
            "config.json",
            e.to_string(),
            "`mcp-coordinator init` keeps it as config.json.bak and writes the defaults",
        ),
    }
}

fn check_pid(r: &mut Report, config_dir: &Path, port: u16, answers: bool) {
    match pidfile::find(config_dir, port) {
        Err(e) => r.fail("pid", e.to_string(), "delete the file"),
        Ok(Some((_, rec))) if rec.alive() => r.ok("pid", format!("PID {} is running (port {})", rec.pid, rec.port)),
        Ok(Some((path, rec))) => {
            let log = layout::log_file(config_dir);
            let phase = if reached_listening(&log, &rec) { "after it started" } else { "during boot" };
            r.fail(
                "pid",
                format!("PID {} from {} is not running: the server died {phase}", rec.pid, path.display()),
                "read the log lines below or `mcp-coordinator server logs`; `server start` replaces the stale PID file",
            );
            if let Some(c) = r.0.last_mut() {
                c.log_tail = layout::tail_lines(&log, 0, TAIL_LINES);
            }
        }
        Ok(None) if answers => r.warn(
            "pid",
            format!("no PID file for port {port}, but a server answers (started by another tool or user?)"),
            "`server stop` cannot stop it; stop it where it was started",
        ),
        Ok(None) => r.fail(
            "pid",
            format!("the server was never started on port {port} (no PID file in {})", config_dir.display()),
            "start it with `mcp-coordinator server start --daemon`",
        ),
    }
}

/// Whether the log shows the server listening since this PID file was written.
fn reached_listening(log: &Path, rec: &PidRecord) -> bool {
    let Ok(text) = std::fs::read_to_string(log) else { return false };
    let since = chrono::DateTime::parse_from_rfc3339(&rec.started_at).ok();
    text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).any(|j| {
        let listening = j.get("message").and_then(Value::as_str) == Some("listening");
        let time =
            j.get("timestamp").and_then(Value::as_str).and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        listening && since.is_none_or(|s| time.is_some_and(|t| t >= s))
    })
}

async fn check_server(r: &mut Report, probe: &Probe) {
    match probe.get("/health", HTTP_TIMEOUT).await {
        Ok(h) if h.status == 200 => {
            let warnings: Vec<&str> = h
                .body
                .get("warnings")
                .and_then(Value::as_array)
                .map(|w| w.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if h.body.pointer("/storage/ok") == Some(&Value::Bool(false)) {
                r.fail("health", "storage does not answer", "check the disk and the data directory");
            } else if warnings.is_empty() {
                r.ok("health", "no warnings");
            }
            for w in warnings {
                r.warn("health", w, "see docs/operations.md");
            }
            check_mqtt_tcp(r, probe, h.body.get("mqtt_tcp_port").and_then(Value::as_u64)).await;
        }
        Ok(h) => r.fail("health", format!("HTTP {}", h.status), "check `mcp-coordinator server logs`"),
        Err(e) => r.fail("health", e, "check `mcp-coordinator server logs`"),
    }
    match probe.get("/readyz", HTTP_TIMEOUT).await {
        Ok(h) if h.status == 200 => r.ok("readyz", "ready"),
        Ok(h) => r.fail(
            "readyz",
            format!("not ready (HTTP {}): {}", h.status, h.body.get("checks").unwrap_or(&Value::Null)),
            "a schema mismatch needs `mcp-coordinator migrate`; a draining server is shutting down",
        ),
        Err(e) => r.fail("readyz", e, "check `mcp-coordinator server logs`"),
    }
    match probe.initialize(MCP_TIMEOUT).await {
        Ok((result, _)) => match result.get("protocolVersion").and_then(Value::as_str) {
            Some(v) => r.ok("mcp", format!("initialize answered (protocol {v})")),
            None => r.fail("mcp", "initialize reply has no protocolVersion", "is this an MCP server?"),
        },
        Err(e) => r.fail(
            "mcp",
            format!("initialize on /mcp failed within 2500 ms: {e}"),
            "a 403 means the Host is not allowed: add it to COORDINATOR_ALLOWED_HOSTS",
        ),
    }
}

/// The MQTT TCP listener the server reports: does it accept a connection?
async fn check_mqtt_tcp(r: &mut Report, probe: &Probe, port: Option<u64>) {
    let Some(port) = port.and_then(|p| u16::try_from(p).ok()) else {
        return r.warn(
            "mqtt",
            "the MQTT TCP listener is not listening (MQTT over WebSocket at /mqtt still works)",
            "free the port or set COORDINATOR_MQTT_TCP_PORT; see the health warning for the reason",
        );
    };
    let addr = format!("{}:{port}", probe.host());
    match tokio::time::timeout(HTTP_TIMEOUT, tokio::net::TcpStream::connect(&addr)).await {
        Ok(Ok(_)) => r.ok("mqtt", format!("MQTT TCP listener at {addr} accepts connections")),
        Ok(Err(e)) => r.fail("mqtt", format!("{addr}: {e}"), "check `mcp-coordinator server logs`"),
        Err(_) => r.fail("mqtt", format!("{addr}: no answer within 1500 ms"), "a firewall may drop the port"),
    }
}

/// `COORDINATOR_REDIS_URL`: reachable, answers PING.
async fn check_redis(r: &mut Report, url: &str) {
    let shown = crate::config::redact_password(url);
    let ping = async {
        let client = redis::Client::open(url)?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    match tokio::time::timeout(HTTP_TIMEOUT, ping).await {
        Ok(Ok(_)) => r.ok("redis", format!("{shown} answers PING")),
        Ok(Err(e)) => {
            r.fail("redis", format!("{shown}: {e}"), "is Redis running and reachable (COORDINATOR_REDIS_URL)?")
        }
        Err(_) => r.fail("redis", format!("{shown}: no answer within 1500 ms"), "is Redis running and reachable?"),
    }
}

async fn check_store(r: &mut Report, s: &Settings) {
    if let crate::config::Database::Postgres(url) = &s.database {
        return check_postgres(r, url, &s.database.redacted()).await;
    }
    let db = s.database_file();
    if !db.exists() {
        r.warn("store", format!("no database yet at {}", db.display()), "it is created when the server first starts");
        return;
    }
    let path = db.clone();
    match tokio::task::spawn_blocking(move || inspect(&path)).await {
        Ok(Ok(report)) => store_lines(r, &db, &report),
        Ok(Err(e)) => r.fail("store", format!("{}: {e}", db.display()), "check the file and its permissions"),
        Err(e) => r.fail("store", e.to_string(), "retry"),
    }
}

/// Postgres: reachable with the configured URL, the pool's session settings, the migration ledger.
async fn check_postgres(r: &mut Report, url: &str, shown: &str) {
    use crate::store::postgres::{PgStore, SCHEMA_VERSION as PG_SCHEMA};
    let store = match PgStore::connect(url, 1).await {
        Ok(store) => store,
        Err(e) => {
            let hint = "is Postgres running and reachable with COORDINATOR_DATABASE_URL (host, credentials, sslmode)?";
            return r.fail("store", format!("{shown}: {e}"), hint);
        }
    };
    let timeout = store.current_setting("statement_timeout").await.unwrap_or_else(|e| e.to_string());
    match store.pending().await {
        Ok(p) if p.is_empty() => {
            r.ok("store", format!("{shown} — Postgres, statement_timeout {timeout}, schema {PG_SCHEMA}"));
        }
        Ok(p) => r.warn(
            "store",
            format!("{shown}: {} migration(s) pending, this binary expects schema {PG_SCHEMA}", p.len()),
            "run `mcp-coordinator migrate` (the server also migrates at start)",
        ),
        Err(e) => r.fail("store", format!("{shown}: {e}"), "upgrade mcp-coordinator, or use the database it created"),
    }
    store.close().await;
}

fn store_lines(r: &mut Report, db: &Path, s: &StoreReport) {
    let mut problems = Vec::new();
    if !s.journal_mode.eq_ignore_ascii_case("wal") {
        problems.push(format!("journal_mode {} (WAL expected)", s.journal_mode));
    }
    if !s.foreign_keys {
        problems.push("foreign_keys off".to_owned());
    }
    if s.busy_timeout_ms < 5000 {
        problems.push(format!("busy_timeout {} ms (< 5000)", s.busy_timeout_ms));
    }
    if !problems.is_empty() {
        r.fail(
            "store",
            format!("{}: {}", db.display(), problems.join(", ")),
            "report this: the store sets these itself",
        );
    }
    let settings = format!("WAL, foreign keys on, busy_timeout {} ms", s.busy_timeout_ms);
    match s.schema_version {
        v if v == SCHEMA_VERSION => r.ok("store", format!("{} — {settings}, schema {v}", db.display())),
        v if v < SCHEMA_VERSION => r.warn(
            "store",
            format!("{}: schema {v}, this binary expects {SCHEMA_VERSION}", db.display()),
            "run `mcp-coordinator migrate` (the server also migrates at start)",
        ),
        v => r.fail(
            "store",
            format!("{}: schema {v} is newer than this binary ({SCHEMA_VERSION})", db.display()),
            "upgrade mcp-coordinator",
        ),
    }
}
