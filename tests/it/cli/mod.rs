//! The CLI, tested by running the real binary in a temporary HOME: init/uninstall, the daemon lifecycle,
//! doctor, backup/restore, migrate and every error case with its message and exit code. Every server a test
//! starts is killed when its `Home` is dropped, even when the test fails.

mod backup;
mod daemon;
mod errors;
mod init;

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-coordinator");

/// What one run printed and returned.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// stdout and stderr together (for messages that may go to either).
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// A temporary HOME; kills every server started in it when dropped.
pub struct Home {
    dir: tempfile::TempDir,
    pids: RefCell<Vec<u32>>,
}

impl Home {
    pub fn new() -> Home {
        Home { dir: tempfile::tempdir().unwrap(), pids: RefCell::new(Vec::new()) }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `~/.mcp-coordinator`.
    pub fn config_dir(&self) -> PathBuf {
        self.path().join(".mcp-coordinator")
    }

    /// The binary with a clean environment: only PATH and this HOME (and an OS-assigned MQTT port: 1883 is
    /// Mosquitto's on this machine, and parallel servers must not compete for one port).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args).env_clear().env("HOME", self.path()).env("PATH", std::env::var_os("PATH").unwrap_or_default());
        c.env("COORDINATOR_MQTT_TCP_PORT", "0");
        c
    }

    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, &[], "")
    }

    /// Runs with extra environment variables and `input` on stdin.
    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)], input: &str) -> Out {
        let mut c = self.cmd(args);
        c.envs(env.iter().copied()).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let o = child.wait_with_output().unwrap();
        let out = Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        };
        self.track(&out.all());
        assert!(!out.stderr.contains("panicked"), "{args:?} panicked: {}", out.stderr);
        out
    }

    /// Remembers every `PID <n>` a command printed, to kill it at the end.
    fn track(&self, text: &str) {
        let re = regex::Regex::new(r"PID (\d+)").unwrap();
        for c in re.captures_iter(text) {
            self.pids.borrow_mut().push(c[1].parse().unwrap());
        }
    }

    /// Starts a daemon; returns (pid, port).
    pub fn start_daemon(&self, args: &[&str]) -> (u32, u16) {
        let mut all = vec!["server", "start", "--daemon"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert_eq!(out.code, 0, "{out:?}");
        started(&out.stdout)
    }

    /// The content of the PID file for `port`.
    pub fn pid_file(&self, port: u16) -> Option<serde_json::Value> {
        let name = if port == 3100 { "server.pid".to_owned() } else { format!("server-{port}.pid") };
        let text = std::fs::read_to_string(self.config_dir().join(name)).ok()?;
        Some(serde_json::from_str(&text).unwrap())
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let mut pids = self.pids.borrow().clone();
        if let Ok(entries) = std::fs::read_dir(self.config_dir()) {
            for e in entries.flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                if let Some(pid) = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v["pid"].as_u64())
                {
                    pids.push(pid as u32);
                }
            }
        }
        for pid in pids {
            kill_ours(pid);
        }
    }
}

/// SIGKILLs `pid` if it is one of our binaries (never an unrelated process that reused the number).
pub fn kill_ours(pid: u32) {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if String::from_utf8_lossy(&cmdline).contains("mcp-coordinator") {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
    }
}

/// Parses `Coordinator started in background (PID <pid>, port <port>)`.
pub fn started(stdout: &str) -> (u32, u16) {
    let re = regex::Regex::new(r"Coordinator started in background \(PID (\d+), port (\d+)\)").unwrap();
    let c = re.captures(stdout).unwrap_or_else(|| panic!("no start line in {stdout:?}"));
    (c[1].parse().unwrap(), c[2].parse().unwrap())
}

/// A port that was free a moment ago, chosen below the kernel's ephemeral range so that servers other tests
/// start with `--port 0` cannot be handed it meanwhile.
pub fn free_port() -> u16 {
    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
        ^ std::process::id().rotate_left(16);
    loop {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let port = 20_000 + (seed >> 8) % 12_000;
        if std::net::TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
            return port as u16;
        }
    }
}

/// Polls `f` until it holds, at most 10 s.
pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `pid` still runs (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let state = stat.rsplit(')').next().unwrap_or("").split_whitespace().next().unwrap_or("");
    state != "Z" && state != "X"
}
