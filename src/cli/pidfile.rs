//! PID files (operations.md §2): `server.pid` for port 3100, `server-<port>.pid` otherwise, in the config dir.
//! Each holds `{"pid", "port", "started_at"}`; the port is the one actually bound, so a daemon started with
//! `--port 0` reports its real port through it. Also process liveness and signals (via `nix`, no unsafe).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::config::DEFAULT_PORT;

/// One PID file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidRecord {
    pub pid: u32,
    pub port: u16,
    #[serde(default)]
    pub started_at: String,
}

impl PidRecord {
    /// A record for `pid` on `port`, started now.
    pub fn now(pid: u32, port: u16) -> PidRecord {
        PidRecord { pid, port, started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true) }
    }

    /// Whether the recorded process still runs and is a coordinator (a PID reused by another program after a
    /// crash makes the file stale, so `server stop` never signals an unrelated process).
    pub fn alive(&self) -> bool {
        alive(self.pid) && is_coordinator(self.pid)
    }
}

/// The PID file of a server on `port`.
pub fn path(config_dir: &Path, port: u16) -> PathBuf {
    if port == DEFAULT_PORT { config_dir.join("server.pid") } else { config_dir.join(format!("server-{port}.pid")) }
}

/// Reads a PID file: `Ok(None)` when it does not exist. A bare number (older format) is accepted with
/// `fallback_port`.
pub fn read(path: &Path, fallback_port: u16) -> std::io::Result<Option<PidRecord>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if let Ok(rec) = serde_json::from_str::<PidRecord>(&text) {
        return Ok(Some(rec));
    }
    match text.trim().parse::<u32>() {
        Ok(pid) => Ok(Some(PidRecord { pid, port: fallback_port, started_at: String::new() })),
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is not a PID file (delete it)", path.display()),
        )),
    }
}

/// The PID file for `port` and its record; readers fall back to `server.pid` when it names that port.
pub fn find(config_dir: &Path, port: u16) -> std::io::Result<Option<(PathBuf, PidRecord)>> {
    let own = path(config_dir, port);
    if let Some(rec) = read(&own, port)? {
        return Ok(Some((own, rec)));
    }
    let default = path(config_dir, DEFAULT_PORT);
    match read(&default, DEFAULT_PORT)? {
        Some(rec) if rec.port == port && default != own => Ok(Some((default, rec))),
        _ => Ok(None),
    }
}

/// Every readable PID file in the config dir.
pub fn all(config_dir: &Path) -> Vec<(PathBuf, PidRecord)> {
    let Ok(entries) = std::fs::read_dir(config_dir) else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            name.starts_with("server") && name.ends_with(".pid")
        })
        .filter_map(|p| read(&p, DEFAULT_PORT).ok().flatten().map(|r| (p, r)))
        .collect()
}

/// Writes the PID file atomically (write + rename), creating the config dir (0700) when missing.
pub fn write(config_dir: &Path, rec: &PidRecord) -> std::io::Result<PathBuf> {
    super::layout::create_private_dir(config_dir)?;
    let target = path(config_dir, rec.port);
    let tmp = config_dir.join(format!(".server-{}.pid.tmp", rec.pid));
    std::fs::write(&tmp, format!("{}\n", serde_json::to_string(rec).map_err(std::io::Error::other)?))?;
    std::fs::rename(&tmp, &target)?;
    Ok(target)
}

/// Removes `path` if it still names `pid` (another server may have replaced it meanwhile).
pub fn remove_if_owned(path: &Path, pid: u32) {
    if read(path, 0).ok().flatten().is_some_and(|r| r.pid == pid) {
        let _ = std::fs::remove_file(path);
    }
}

/// Whether process `pid` exists and is not a zombie (a killed daemon whose parent never reaped it is dead to us).
pub fn alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else { return false };
    if raw <= 0 {
        return false;
    }
    match kill(Pid::from_raw(raw), None) {
        Ok(()) | Err(nix::errno::Errno::EPERM) => !zombie(pid),
        Err(_) => false,
    }
}

/// Whether `pid` runs this program: its command line names `mcp-coordinator` or it runs our executable. Where
/// `/proc` is not available, assumed true.
fn is_coordinator(pid: u32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { return true };
    if String::from_utf8_lossy(&cmdline).contains("mcp-coordinator") {
        return true;
    }
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"));
    matches!((exe, std::env::current_exe()), (Ok(a), Ok(b)) if a == b)
}

fn zombie(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // The state follows the parenthesised command name, which may itself contain spaces or parentheses.
    stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().next()).is_some_and(|s| s == "Z" || s == "X")
}

/// Sends `signal` to `pid`.
pub fn signal(pid: u32, signal: Signal) -> nix::Result<()> {
    let raw = i32::try_from(pid).map_err(|_| nix::errno::Errno::ESRCH)?;
    kill(Pid::from_raw(raw), signal)
}

/// Waits until `pid` is gone, at most `timeout`; true when it is.
pub async fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !alive(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_reads_and_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(path(dir.path(), 3100), dir.path().join("server.pid"));
        assert_eq!(path(dir.path(), 4000), dir.path().join("server-4000.pid"));
        assert!(find(dir.path(), 4000).unwrap().is_none());
        write(dir.path(), &PidRecord::now(42, 3100)).unwrap();
        std::fs::write(dir.path().join("server-4001.pid"), "43\n").unwrap();
        assert_eq!(find(dir.path(), 4001).unwrap().unwrap().1.pid, 43);
        assert!(find(dir.path(), 4002).unwrap().is_none());
        assert_eq!(all(dir.path()).len(), 2);
        assert!(alive(std::process::id()));
        assert!(!alive(0));
        // The test binary is not named mcp-coordinator, but it runs its own executable.
        assert!(PidRecord::now(std::process::id(), 1).alive());
        let mut other = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        assert!(!PidRecord::now(other.id(), 1).alive(), "a reused PID is not a coordinator");
        other.kill().unwrap();
        other.wait().unwrap();
    }
}
