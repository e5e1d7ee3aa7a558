//! `server status` (PID file + process liveness + `GET /health` + an MCP `coordinator_status` call; exit 3 when
//! stopped) and `dashboard` (prints the URL, opens a browser when run from a terminal).

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};

use super::pidfile;
use super::probe::{Probe, dial_host};
use super::{EXIT_USAGE, Failure, Outcome, settings};
use crate::config::Flags;

/// Exit code of `server status` when no server runs.
pub const EXIT_STOPPED: u8 = 3;
const HEALTH_TIMEOUT: Duration = Duration::from_millis(1500);
const MCP_TIMEOUT: Duration = Duration::from_millis(2500);

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Port of the server (default: PORT, config.json, 3100).
    #[arg(long)]
    pub port: Option<u16>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Base URL of the server (default http://localhost:<port>).
    #[arg(long)]
    pub url: Option<String>,
    /// Port of the server (default: PORT, config.json, 3100).
    #[arg(long)]
    pub port: Option<u16>,
}

/// `server status`.
pub async fn status(a: &StatusArgs) -> Outcome {
    let s = settings(&Flags { port: a.port, ..Flags::default() })?;
    if s.port == 0 {
        return Err(Failure::new(EXIT_USAGE, "port 0 names no server").hint("pass the real port with --port"));
    }
    let record = pidfile::find(&s.config_dir, s.port).map_err(|e| Failure::new(1, e.to_string()))?;
    let live_pid = record.as_ref().filter(|(_, r)| r.alive()).map(|(_, r)| r.pid);
    let stale = record.as_ref().filter(|(_, r)| !r.alive());
    let probe = Probe::new(&dial_host(s.bind), s.port).map_err(|e| Failure::new(1, e))?;
    let health = probe.get("/health", HEALTH_TIMEOUT).await.ok().filter(|r| r.status == 200).map(|r| r.body);
    let activity = match health {
        Some(_) => probe.coordinator_status(MCP_TIMEOUT).await.ok(),
        None => None,
    };
    let running = live_pid.is_some() || health.is_some();
    let field = |v: &Option<Value>, k: &str| v.as_ref().and_then(|v| v.get(k)).cloned().unwrap_or(Value::Null);
    let report = json!({
        "running": running,
        "pid": live_pid,
        "port": s.port,
        "mqtt_port": field(&health, "mqtt_tcp_port"),
        "version": field(&health, "version"),
        "uptime_seconds": field(&health, "uptime_seconds"),
        "agents_online": field(&activity, "agents_online"),
        "open_threads": field(&activity, "open_threads"),
    });
    if a.json {
        println!("{report}");
    } else if running {
        let pid = live_pid.map_or_else(|| "unknown: no PID file".to_owned(), |p| p.to_string());
        println!("Coordinator running (PID {pid}, port {})", s.port);
        println!("  version:       {}", text(&report["version"]));
        println!("  uptime:        {}", report["uptime_seconds"].as_u64().map_or_else(|| "?".to_owned(), human));
        println!("  agents online: {}", text(&report["agents_online"]));
        println!("  open threads:  {}", text(&report["open_threads"]));
        println!("  MCP endpoint:  http://localhost:{}/mcp", s.port);
        if let Some(p) = report["mqtt_port"].as_u64() {
            println!("  MQTT:          mqtt://localhost:{p} and ws://localhost:{}{}", s.port, s.mqtt.ws_path);
        }
        if health.is_none() {
            println!("  warning: the process runs but GET /health does not answer (starting, or hung?)");
        }
    } else {
        println!("Coordinator not running on port {}", s.port);
    }
    if let Some((path, rec)) = stale {
        eprintln!(
            "note: stale PID file {} (PID {} is not running); `server start` replaces it, `doctor` shows why it stopped",
            path.display(),
            rec.pid
        );
    }
    Ok(if running { ExitCode::SUCCESS } else { ExitCode::from(EXIT_STOPPED) })
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "?".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `3725` → `1h 2m 5s`.
fn human(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h}h {m}m {s}s")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// `dashboard`.
pub fn dashboard(a: &DashboardArgs) -> Outcome {
    let base = match &a.url {
        Some(u) => u.trim_end_matches('/').trim_end_matches("/mcp").trim_end_matches('/').to_owned(),
        None => format!("http://localhost:{}", settings(&Flags { port: a.port, ..Flags::default() })?.port),
    };
    let url = format!("{base}/dashboard/");
    println!("{url}");
    if std::io::stdout().is_terminal() {
        let opened = ["xdg-open", "open"].iter().any(|opener| {
            std::process::Command::new(opener)
                .arg(&url)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        if !opened {
            eprintln!("(no browser opener found: open the URL above by hand)");
        }
    }
    Ok(ExitCode::SUCCESS)
}
