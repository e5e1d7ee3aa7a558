//! The config directory on disk (operations.md §1): `~/.mcp-coordinator/` (0700) with `config.json`, `data/`,
//! `logs/server.log`, `server[-PORT].pid` and `backups/`. Where each lives, and the checks that turn an
//! unusable directory into one clear message before a server tries to use it.

use std::path::{Path, PathBuf};

/// The daemon's log file rotates when it starts above this size.
pub const LOG_ROTATE_BYTES: u64 = 50 * 1024 * 1024;
/// Rotated generations kept (`server.log.1` … `server.log.3`).
pub const LOG_GENERATIONS: u32 = 3;

/// `<config dir>/logs`.
pub fn logs_dir(config_dir: &Path) -> PathBuf {
    config_dir.join("logs")
}

/// `<config dir>/logs/server.log`.
pub fn log_file(config_dir: &Path) -> PathBuf {
    logs_dir(config_dir).join("server.log")
}

/// `<config dir>/backups`.
pub fn backups_dir(config_dir: &Path) -> PathBuf {
    config_dir.join("backups")
}

/// Creates `dir` (and its parents) with mode 0700 when missing.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes sure `dir` exists and a file can be created in it; the error names the directory and the OS reason.
pub fn ensure_writable_dir(dir: &Path) -> Result<(), String> {
    create_private_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let probe = dir.join(format!(".write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| format!("{} is not writable: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Rotates `server.log` → `.1` → `.2` → `.3` when it is larger than `LOG_ROTATE_BYTES`.
pub fn rotate_log(log: &Path) -> std::io::Result<()> {
    if std::fs::metadata(log).map(|m| m.len()).unwrap_or(0) <= LOG_ROTATE_BYTES {
        return Ok(());
    }
    let generation = |n: u32| PathBuf::from(format!("{}.{n}", log.display()));
    for n in (1..LOG_GENERATIONS).rev() {
        if generation(n).exists() {
            std::fs::rename(generation(n), generation(n + 1))?;
        }
    }
    std::fs::rename(log, generation(1))
}

/// The last `n` lines of `path` that start at or after byte `from` (a daemon's own start-up output).
pub fn tail_lines(path: &Path, from: u64, n: usize) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else { return Vec::new() };
    let start = usize::try_from(from).unwrap_or(0).min(bytes.len());
    let text = String::from_utf8_lossy(&bytes[start..]);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].iter().map(|l| (*l).to_owned()).collect()
}

/// The current UTC time as a file-name-safe stamp, e.g. `20261125T100000Z`.
pub fn stamp() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()
}
