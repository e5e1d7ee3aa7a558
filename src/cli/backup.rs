//! `server backup`: a consistent snapshot of the live SQLite database (`VACUUM INTO`, safe while the server
//! writes) plus `config.json` and a manifest, as `backups/coordinator-<UTC ts>.tar.gz` (0600).
//! `server restore`: refused while a server holds the data directory or when the backup's schema is newer than
//! this binary; the current database is kept as `coordinator.db.pre-restore-<ts>`.

use std::fs::File;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use super::{Failure, Outcome, confirm, layout, pidfile, settings};
use crate::config::Flags;
use crate::store::sqlite::{SCHEMA_VERSION, schema_version_of, snapshot};

const DB_ENTRY: &str = "coordinator.db";
const CONFIG_ENTRY: &str = "config.json";
const MANIFEST_ENTRY: &str = "manifest.json";

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Output file, or a directory to put it in (default ~/.mcp-coordinator/backups/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Data directory holding coordinator.db.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The .tar.gz written by `server backup`.
    pub file: PathBuf,
    /// Data directory to restore into.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Replace the current database without asking.
    #[arg(long)]
    pub force: bool,
}

fn fail(what: &str, path: &Path, e: impl std::fmt::Display) -> Failure {
    Failure::new(1, format!("cannot {what} {}: {e}", path.display()))
}

/// Removes a temporary file or directory when dropped, whatever happened.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = if self.0.is_dir() { std::fs::remove_dir_all(&self.0) } else { std::fs::remove_file(&self.0) };
    }
}

/// `server backup`.
pub async fn backup(a: &BackupArgs) -> Outcome {
    let s = settings(&Flags { data_dir: a.data_dir.clone(), ..Flags::default() })?;
    if matches!(s.database, crate::config::Database::Postgres(_)) {
        return Err(Failure::new(
            super::EXIT_USAGE,
            "this server stores its data in Postgres (COORDINATOR_DATABASE_URL)",
        )
        .hint("back up and restore Postgres with pg_dump / pg_restore"));
    }
    let db = s.database_file();
    if !db.is_file() {
        return Err(Failure::new(1, format!("no database at {}", db.display()))
            .hint("start the server once, or pass the right --data-dir"));
    }
    let name = format!("coordinator-{}.tar.gz", layout::stamp());
    let out = match &a.out {
        Some(p) if p.is_dir() => p.join(&name),
        Some(p) => p.clone(),
        None => {
            let dir = layout::backups_dir(&s.config_dir);
            layout::create_private_dir(&dir).map_err(|e| fail("create", &dir, e))?;
            dir.join(&name)
        }
    };
    let config = s.config_dir.join(CONFIG_ENTRY);
    let target = out.clone();
    let schema = tokio::task::spawn_blocking(move || write_archive(&db, &config, &target))
        .await
        .map_err(|e| Failure::new(1, e.to_string()))??;
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    println!("Backup written to {} (schema {schema}, {size} bytes)", out.display());
    Ok(ExitCode::SUCCESS)
}

fn write_archive(db: &Path, config: &Path, out: &Path) -> Result<i64, Failure> {
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = Scratch(dir.join(format!(".coordinator-snapshot-{}.db", std::process::id())));
    let _ = std::fs::remove_file(&tmp.0);
    let schema = snapshot(db, &tmp.0).map_err(|e| fail("snapshot", db, e))?;
    let _ = std::fs::set_permissions(&tmp.0, std::fs::Permissions::from_mode(0o600));
    let file =
        File::options().write(true).create_new(true).mode(0o600).open(out).map_err(|e| fail("create", out, e))?;
    let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::default()));
    let manifest = serde_json::json!({
        "format": 1,
        "version": env!("CARGO_PKG_VERSION"),
        "schema_version": schema,
        "created_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "source": db,
    });
    let result = (|| -> std::io::Result<()> {
        tar.append_path_with_name(&tmp.0, DB_ENTRY)?;
        if config.is_file() {
            tar.append_path_with_name(config, CONFIG_ENTRY)?;
        }
        let body = format!("{manifest:#}\n");
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(chrono::Utc::now().timestamp().unsigned_abs());
        tar.append_data(&mut header, MANIFEST_ENTRY, body.as_bytes())?;
        tar.into_inner()?.finish()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(out);
        return Err(fail("write", out, e));
    }
    Ok(schema)
}

/// `server restore`.
pub async fn restore(a: &RestoreArgs) -> Outcome {
    let s = settings(&Flags { data_dir: a.data_dir.clone(), ..Flags::default() })?;
    if matches!(s.database, crate::config::Database::Postgres(_)) {
        return Err(Failure::new(
            super::EXIT_USAGE,
            "this server stores its data in Postgres (COORDINATOR_DATABASE_URL)",
        )
        .hint("back up and restore Postgres with pg_dump / pg_restore"));
    }
    let db = s.database_file();
    if !a.file.is_file() {
        return Err(Failure::new(1, format!("no backup file at {}", a.file.display())));
    }
    if let Some((_, rec)) = pidfile::find(&s.config_dir, s.port).ok().flatten().filter(|(_, r)| r.alive()) {
        return Err(refuse_running(&format!("a coordinator is running (PID {}, port {})", rec.pid, rec.port)));
    }
    // Held until the end: no server can start on this data directory while its database is swapped.
    let _lock = crate::app::lock_data_dir(&db).map_err(|e| refuse_running(&format!("{e:#}")))?;
    let data_dir = db.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let staging = Scratch(data_dir.join(format!(".restore-{}", layout::stamp())));
    extract(&a.file, &staging.0)?;
    let restored = staging.0.join(DB_ENTRY);
    if !restored.is_file() {
        return Err(Failure::new(
            1,
            format!("{} is not a coordinator backup (no {DB_ENTRY} inside)", a.file.display()),
        ));
    }
    let schema = schema_version_of(&restored).map_err(|e| fail("read the database in", &a.file, e))?;
    if schema > SCHEMA_VERSION {
        return Err(Failure::new(
            1,
            format!("the backup's schema ({schema}) is newer than this binary supports ({SCHEMA_VERSION})"),
        )
        .hint("restore it with a newer mcp-coordinator"));
    }
    if db.exists() && !a.force && !confirm(&format!("Replace {} with the backup?", db.display())) {
        return Err(Failure::new(1, "restore cancelled; nothing was changed").hint("pass --force to skip the question"));
    }
    let stamp = layout::stamp();
    let kept = PathBuf::from(format!("{}.pre-restore-{stamp}", db.display()));
    if db.exists() {
        for suffix in ["", "-wal", "-shm"] {
            let from = PathBuf::from(format!("{}{suffix}", db.display()));
            let to = PathBuf::from(format!("{}{suffix}", kept.display()));
            if from.exists() {
                std::fs::rename(&from, &to).map_err(|e| fail("move aside", &from, e))?;
            }
        }
    }
    std::fs::rename(&restored, &db).map_err(|e| fail("move the restored database to", &db, e))?;
    let _ = std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600));
    println!("Restored {} from {} (schema {schema})", db.display(), a.file.display());
    if kept.exists() {
        println!("Previous database kept as {}", kept.display());
    }
    restore_config(&staging.0.join(CONFIG_ENTRY), &s.config_dir, &stamp)?;
    if schema < SCHEMA_VERSION {
        println!("Its schema will be migrated at the next start (or now with `mcp-coordinator migrate`)");
    }
    Ok(ExitCode::SUCCESS)
}

fn refuse_running(why: &str) -> Failure {
    Failure::new(1, format!("refusing to restore while a server runs: {why}"))
        .hint("stop it with `mcp-coordinator server stop`, then restore")
}

/// Unpacks the known entries of the archive into `dir`; anything else (and any other path) is ignored.
fn extract(archive: &Path, dir: &Path) -> Result<(), Failure> {
    layout::create_private_dir(dir).map_err(|e| fail("create", dir, e))?;
    let file = File::open(archive).map_err(|e| fail("open", archive, e))?;
    let mut tar = tar::Archive::new(GzDecoder::new(file));
    let entries = tar.entries().map_err(|e| fail("read", archive, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| fail("read", archive, e))?;
        let name = entry.path().map_err(|e| fail("read", archive, e))?.to_string_lossy().into_owned();
        if [DB_ENTRY, CONFIG_ENTRY, MANIFEST_ENTRY].contains(&name.as_str()) {
            entry.unpack(dir.join(&name)).map_err(|e| fail("extract", archive, e))?;
        }
    }
    Ok(())
}

fn restore_config(from_backup: &Path, config_dir: &Path, stamp: &str) -> Result<(), Failure> {
    let Ok(text) = std::fs::read_to_string(from_backup) else { return Ok(()) };
    let current = config_dir.join(CONFIG_ENTRY);
    if std::fs::read_to_string(&current).is_ok_and(|c| c == text) {
        return Ok(());
    }
    if current.exists() {
        let kept = config_dir.join(format!("{CONFIG_ENTRY}.pre-restore-{stamp}"));
        std::fs::rename(&current, &kept).map_err(|e| fail("move aside", &current, e))?;
        println!("Previous config.json kept as {}", kept.display());
    }
    layout::create_private_dir(config_dir).map_err(|e| fail("create", config_dir, e))?;
    std::fs::write(&current, text).map_err(|e| fail("write", &current, e))?;
    println!("config.json restored to {}", current.display());
    Ok(())
}
