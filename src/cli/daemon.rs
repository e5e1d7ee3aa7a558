//! `server start --daemon` (operations.md §2): re-executes this binary as `server start --detached` (the child
//! calls `setsid`), stdin from /dev/null, stdout and stderr appended to `logs/server.log`, environment reduced
//! to the allow-list of `config::daemon_environment`. Then polls every 150 ms until the port accepts a TCP
//! connection (reported), the child exits (its log lines are shown) or `COORDINATOR_DAEMON_BIND_TIMEOUT_MS`
//! passes (the PID file is kept so the late server can still be stopped). The child writes its PID file once bound;
//! that file, with the child's PID, is what tells the parent the real port (`--port 0`) and that it is up.

use std::io::Seek;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use super::pidfile::{self, PidRecord};
use super::server::{StartFlags, check_data_dir, check_port_free, claim_port};
use super::{Failure, Outcome, layout, logs, settings};
use crate::config::Settings;

/// Interval between two readiness polls.
const POLL: Duration = Duration::from_millis(150);
/// Timeout of one TCP connect probe.
const PROBE: Duration = Duration::from_millis(500);
/// Log lines shown when the daemon dies during boot.
const TAIL_LINES: usize = 12;

/// Starts a detached server and waits until it accepts connections.
pub async fn start_daemon(flags: &StartFlags) -> Outcome {
    let s = settings(&flags.flags())?;
    claim_port(&s, 0)?;
    check_port_free(&s)?;
    check_data_dir(&s)?;
    let log_path = layout::log_file(&s.config_dir);
    let (mut child, offset) = spawn(flags, &s, &log_path)?;
    let pid = child.id();
    let host = super::probe::dial_host(s.bind);
    let deadline = Instant::now() + Duration::from_millis(s.daemon_bind_timeout_ms);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            // Kept (stale) so that `doctor` can tell "died during boot" from "never started".
            keep_pid_file(&s, pid);
            return Err(died(&log_path, offset, &status.to_string()));
        }
        // The child writes its PID file once bound, with the real port: only then is a connect proof that
        // this child (and not some other process) listens.
        if let Some(port) = port_of(&s.config_dir, pid).filter(|p| accepts(&host, *p)) {
            println!("Coordinator started in background (PID {pid}, port {port})");
            println!("MCP endpoint: http://localhost:{port}/mcp");
            println!("Logs: {}", log_path.display());
            return Ok(ExitCode::SUCCESS);
        }
        let now = Instant::now();
        if now >= deadline {
            // Kept so that a server slower than the timeout can still be stopped.
            keep_pid_file(&s, pid);
            return Err(timed_out(&mut child, &s, pid));
        }
        tokio::time::sleep(POLL.min(deadline - now)).await;
    }
}

fn keep_pid_file(s: &Settings, pid: u32) {
    if s.port != 0 && port_of(&s.config_dir, pid).is_none() {
        let _ = pidfile::write(&s.config_dir, &PidRecord::now(pid, s.port));
    }
}

fn spawn(flags: &StartFlags, s: &Settings, log_path: &Path) -> Result<(Child, u64), Failure> {
    let cant = |what: &str, e: std::io::Error| Failure::new(1, format!("cannot {what}: {e}"));
    layout::create_private_dir(&layout::logs_dir(&s.config_dir)).map_err(|e| {
        cant(&format!("create {}", layout::logs_dir(&s.config_dir).display()), e)
            .hint("check that HOME is writable, or run `mcp-coordinator init`")
    })?;
    layout::rotate_log(log_path).map_err(|e| cant(&format!("rotate {}", log_path.display()), e))?;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| cant(&format!("open {}", log_path.display()), e))?;
    let offset = log.seek(std::io::SeekFrom::End(0)).unwrap_or(0);
    let err_log = log.try_clone().map_err(|e| cant("duplicate the log handle", e))?;
    let exe = std::env::current_exe().map_err(|e| cant("find this executable", e))?;
    let child = Command::new(exe)
        .args(["server", "start", "--detached"])
        .args(flags.to_args())
        .env_clear()
        .envs(crate::config::daemon_environment())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err_log)
        .spawn()
        .map_err(|e| cant("start the daemon", e))?;
    Ok((child, offset))
}

fn accepts(host: &str, port: u16) -> bool {
    let Ok(ip) = host.parse::<std::net::IpAddr>() else { return false };
    TcpStream::connect_timeout(&SocketAddr::new(ip, port), PROBE).is_ok()
}

/// The port a daemon started with `--port 0` wrote into its PID file.
fn port_of(config_dir: &Path, pid: u32) -> Option<u16> {
    pidfile::all(config_dir).into_iter().find(|(_, r)| r.pid == pid).map(|(_, r)| r.port)
}

fn died(log_path: &Path, offset: u64, status: &str) -> Failure {
    let lines = layout::tail_lines(log_path, offset, TAIL_LINES);
    eprintln!("The coordinator exited during start-up ({status}). Last lines of {}:", log_path.display());
    for line in &lines {
        eprintln!("  {}", logs::pretty(line));
    }
    Failure::new(1, "the daemon died during boot (see the log lines above)")
        .hint("fix the cause, then start again; `mcp-coordinator doctor` checks the setup")
}

fn timed_out(child: &mut Child, s: &Settings, pid: u32) -> Failure {
    // Dropping the handle leaves the child running; its PID file stays.
    let _ = child.try_wait();
    let port = if s.port == 0 { "its port".to_owned() } else { format!("port {}", s.port) };
    Failure::new(
        1,
        format!(
            "the coordinator (PID {pid}) did not accept connections on {port} within {} ms",
            s.daemon_bind_timeout_ms
        ),
    )
    .hint(format!(
        "it may still be starting: check `mcp-coordinator server logs`; stop it with `mcp-coordinator server stop{}`; \
         raise COORDINATOR_DAEMON_BIND_TIMEOUT_MS for slow disks",
        if s.port == 0 { String::new() } else { format!(" --port {}", s.port) }
    ))
}
