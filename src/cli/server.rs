//! `server start` (foreground; `--daemon` hands over to `daemon`), `server stop` and `server restart`. The
//! foreground server owns its PID file: it refuses to start when a live server holds the file for its port,
//! replaces a stale one, writes the real port once bound and removes the file when it stops.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use nix::sys::signal::Signal;

use super::pidfile::{self, PidRecord};
use super::{Failure, Outcome, StoreFlags, layout, settings};
use crate::config::{Flags, Settings};

/// Flags of `server start` that configure the server (re-passed to a detached daemon).
#[derive(Debug, Args, Default, Clone)]
pub struct StartFlags {
    /// HTTP port (0 = OS-assigned).
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to bind (default 127.0.0.1).
    #[arg(long)]
    pub bind: Option<String>,
    #[command(flatten)]
    pub store: StoreFlags,
    /// Redis URL (`redis://[:password@]host:6379`): replicas share job leases and rate limits through it.
    #[arg(long)]
    pub redis_url: Option<String>,
    /// Request body cap in bytes.
    #[arg(long)]
    pub max_body_bytes: Option<usize>,
    /// Working-file claim lifetime in minutes.
    #[arg(long)]
    pub working_files_ttl_min: Option<i64>,
    /// Working-file claim sweep interval in milliseconds.
    #[arg(long)]
    pub working_files_sweep_ms: Option<u64>,
    /// JSON logs (true) or human-readable lines (false).
    #[arg(long)]
    pub log_json: Option<bool>,
}

impl StartFlags {
    /// The flags as `config` sees them.
    pub fn flags(&self) -> Flags {
        Flags {
            port: self.port,
            bind: self.bind.clone(),
            max_body_bytes: self.max_body_bytes,
            working_files_ttl_min: self.working_files_ttl_min,
            working_files_sweep_ms: self.working_files_sweep_ms,
            log_json: self.log_json,
            redis_url: self.redis_url.clone(),
            ..self.store.flags()
        }
    }

    /// The same flags as command-line arguments, for re-executing `server start`.
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        let mut push = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                args.push(format!("--{name}").into());
                args.push(v.into());
            }
        };
        push("port", self.port.map(|v| v.to_string()));
        push("bind", self.bind.clone());
        push("database-url", self.store.database_url.clone());
        push("redis-url", self.redis_url.clone());
        push("max-body-bytes", self.max_body_bytes.map(|v| v.to_string()));
        push("working-files-ttl-min", self.working_files_ttl_min.map(|v| v.to_string()));
        push("working-files-sweep-ms", self.working_files_sweep_ms.map(|v| v.to_string()));
        push("log-json", self.log_json.map(|v| v.to_string()));
        for r in &self.store.repo_root {
            push("repo-root", Some(r.clone()));
        }
        if let Some(d) = &self.store.data_dir {
            args.push("--data-dir".into());
            args.push(std::path::absolute(d).unwrap_or_else(|_| d.clone()).into());
        }
        args
    }
}

#[derive(Debug, Args)]
pub struct StartArgs {
    #[command(flatten)]
    pub flags: StartFlags,
    /// Run detached in the background; output goes to ~/.mcp-coordinator/logs/server.log.
    #[arg(long)]
    pub daemon: bool,
    /// Internal: this process is the detached child of `--daemon`.
    #[arg(long, hide = true)]
    pub detached: bool,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Port of the server to stop (default: PORT, config.json, 3100).
    #[arg(long)]
    pub port: Option<u16>,
    /// Seconds to wait for a graceful stop.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// Send SIGKILL when the server has not stopped within --timeout.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    #[command(flatten)]
    pub flags: StartFlags,
    /// Seconds to wait for the old server to stop (it is then killed).
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
}

/// `server start`.
pub async fn start(a: StartArgs) -> Outcome {
    if a.daemon && !a.detached {
        return super::daemon::start_daemon(&a.flags).await;
    }
    if a.detached {
        // Leave the terminal's session so closing it does not hang up the server. Fails only when this
        // process already leads a group, which a daemon child never does.
        let _ = nix::unistd::setsid();
    }
    let s = settings(&a.flags.flags())?;
    crate::telemetry::init(&s.log_level, s.log_json);
    claim_port(&s, std::process::id())?;
    check_port_free(&s)?;
    check_data_dir(&s)?;
    let app = crate::app::App::build(s.clone()).await.map_err(Failure::from)?;
    let port = app.addr().port();
    let pid = std::process::id();
    let stop = stop_signal(a.detached.then(|| layout::log_file(&s.config_dir)));
    let pid_path = match pidfile::write(&s.config_dir, &PidRecord::now(pid, port)) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(component = "cli", error = %e, "cannot write the PID file; `server stop` will not find this server");
            None
        }
    };
    if !a.detached {
        eprintln!("mcp-coordinator listening on http://{}/mcp", app.addr());
    }
    let result = app.run_until_stopped(stop).await;
    if let Some(p) = pid_path {
        pidfile::remove_if_owned(&p, pid);
    }
    result.map_err(Failure::from)?;
    Ok(ExitCode::SUCCESS)
}

/// Refuses when a live server holds the PID file of the configured port; removes a stale file.
pub(super) fn claim_port(s: &Settings, own_pid: u32) -> Result<(), Failure> {
    if s.port == 0 {
        return Ok(());
    }
    let found = pidfile::find(&s.config_dir, s.port).map_err(|e| Failure::new(1, e.to_string()))?;
    match found {
        Some((_, rec)) if rec.pid == own_pid => Ok(()),
        Some((_, rec)) if rec.alive() => {
            Err(Failure::new(1, format!("a coordinator is already running on port {} (PID {})", s.port, rec.pid))
                .hint(format!("stop it with `mcp-coordinator server stop --port {}` or choose another --port", s.port)))
        }
        Some((path, rec)) => {
            eprintln!("mcp-coordinator: removing stale PID file {} (PID {} is not running)", path.display(), rec.pid);
            let _ = std::fs::remove_file(&path);
            Ok(())
        }
        None => Ok(()),
    }
}

/// Refuses early (with a clear message) when something already listens on the configured port.
pub(super) fn check_port_free(s: &Settings) -> Result<(), Failure> {
    if s.port == 0 {
        return Ok(());
    }
    std::net::TcpListener::bind(std::net::SocketAddr::new(s.bind, s.port)).map(drop).map_err(|e| {
        Failure::new(1, format!("cannot listen on {}:{}: {e}", s.bind, s.port))
            .hint("another process uses this port: stop it or choose another --port or PORT")
    })
}

/// Turns an unusable data directory into one clear line before the store tries to open it.
pub(super) fn check_data_dir(s: &Settings) -> Result<(), Failure> {
    let db = s.database_file();
    let dir = db.parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    layout::ensure_writable_dir(&dir).map_err(|e| {
        Failure::new(1, format!("unusable data directory: {e}"))
            .hint("choose a writable directory with --data-dir or COORDINATOR_DATA_DIR")
    })
}

/// SIGINT/SIGTERM; a detached daemon also reopens its log file on SIGHUP (after external rotation). The handlers
/// are installed before this returns, i.e. before the PID file tells `server stop` that it may signal us.
fn stop_signal(log: Option<PathBuf>) -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    let hup = log.as_ref().and_then(|_| signal(SignalKind::hangup()).ok());
    async move {
        let (Ok(mut term), Ok(mut int)) = (term, int) else { return crate::lifecycle::signal().await };
        let Some((mut hup, log)) = hup.zip(log) else {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        };
        loop {
            tokio::select! {
                _ = term.recv() => return,
                _ = int.recv() => return,
                _ = hup.recv() => reopen_log(&log),
            }
        }
    }
}

fn reopen_log(log: &std::path::Path) {
    match std::fs::OpenOptions::new().create(true).append(true).open(log) {
        Ok(f) => {
            let _ = nix::unistd::dup2_stdout(&f);
            let _ = nix::unistd::dup2_stderr(&f);
            tracing::info!(component = "cli", path = %log.display(), "log file reopened");
        }
        Err(e) => tracing::warn!(component = "cli", error = %e, "cannot reopen the log file"),
    }
}

/// `server stop`.
pub async fn stop_command(a: &StopArgs) -> Outcome {
    let s = settings(&Flags { port: a.port, ..Flags::default() })?;
    stop(&s, Duration::from_secs(a.timeout), a.force).await?;
    Ok(ExitCode::SUCCESS)
}

/// Stops the server on `s.port`; Ok also when none runs (a stale PID file is removed).
pub(super) async fn stop(s: &Settings, timeout: Duration, force: bool) -> Result<(), Failure> {
    if s.port == 0 {
        return Err(Failure::new(super::EXIT_USAGE, "cannot stop port 0").hint("pass the real port with --port"));
    }
    let found = pidfile::find(&s.config_dir, s.port).map_err(|e| Failure::new(1, e.to_string()))?;
    let Some((path, rec)) = found else {
        println!("No coordinator is running on port {} (no PID file in {})", s.port, s.config_dir.display());
        return Ok(());
    };
    if !rec.alive() {
        let _ = std::fs::remove_file(&path);
        println!("No coordinator is running on port {}; removed stale PID file (PID {})", s.port, rec.pid);
        return Ok(());
    }
    pidfile::signal(rec.pid, Signal::SIGTERM)
        .map_err(|e| Failure::new(1, format!("cannot signal PID {}: {e}", rec.pid)))?;
    if !pidfile::wait_gone(rec.pid, timeout).await {
        if !force {
            return Err(Failure::new(
                1,
                format!("the coordinator (PID {}) did not stop within {} s", rec.pid, timeout.as_secs()),
            )
            .hint("retry with --force to kill it, or with a longer --timeout"));
        }
        let _ = pidfile::signal(rec.pid, Signal::SIGKILL);
        if !pidfile::wait_gone(rec.pid, Duration::from_secs(5)).await {
            return Err(Failure::new(1, format!("PID {} survived SIGKILL", rec.pid)));
        }
        println!("Coordinator killed (PID {}, port {}) after {} s", rec.pid, rec.port, timeout.as_secs());
    } else {
        println!("Coordinator stopped (PID {}, port {})", rec.pid, rec.port);
    }
    pidfile::remove_if_owned(&path, rec.pid);
    Ok(())
}

/// `server restart`: stop (killing after --timeout), then start as a daemon.
pub async fn restart(a: RestartArgs) -> Outcome {
    let s = settings(&a.flags.flags())?;
    stop(&s, Duration::from_secs(a.timeout), true).await?;
    super::daemon::start_daemon(&a.flags).await
}
