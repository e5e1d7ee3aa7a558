//! `server backup` / `server restore` round trip through a running daemon, the refusals of restore (running
//! server, newer schema) and `migrate --check` exit codes.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::Home;
use crate::support::{call, connect};

async fn agent_ids(port: u16) -> Vec<String> {
    let c = connect(&format!("http://127.0.0.1:{port}/mcp")).await;
    let r = call(&c, "list_agents", json!({})).await;
    let list = r.get("agents").unwrap_or(&r).as_array().cloned().unwrap_or_default();
    list.iter().filter_map(|a| a["id"].as_str().or(a["agent_id"].as_str()).map(str::to_owned)).collect()
}

async fn register(port: u16, id: &str) {
    let c = connect(&format!("http://127.0.0.1:{port}/mcp")).await;
    call(&c, "register_agent", json!({"agent_id": id, "name": id, "modules": []})).await;
}

fn backup_path(stdout: &str) -> PathBuf {
    let line = stdout.lines().find(|l| l.starts_with("Backup written to ")).unwrap();
    PathBuf::from(line.trim_start_matches("Backup written to ").split(" (schema").next().unwrap())
}

#[tokio::test]
async fn backup_restore_round_trip() {
    let home = Home::new();
    let (_, port) = home.start_daemon(&["--port", "0"]);
    register(port, "alice").await;
    let out = home.run(&["server", "backup"]);
    assert_eq!(out.code, 0, "{out:?}");
    let archive = backup_path(&out.stdout);
    assert!(archive.starts_with(home.config_dir().join("backups")), "{archive:?}");
    let name = archive.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("coordinator-") && name.ends_with("Z.tar.gz"), "{name}");
    register(port, "bob").await;

    let p = port.to_string();
    let refused = home.run(&["server", "restore", archive.to_str().unwrap(), "--force"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("refusing to restore while a server runs"), "{refused:?}");

    assert_eq!(home.run(&["server", "stop", "--port", &p]).code, 0);
    let restored = home.run(&["server", "restore", archive.to_str().unwrap(), "--force"]);
    assert_eq!(restored.code, 0, "{restored:?}");
    let data = home.config_dir().join("data");
    let kept: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.starts_with("coordinator.db.pre-restore-"))
        .collect();
    assert_eq!(kept.len(), 1, "the old database is kept: {kept:?}");

    let (_, port) = home.start_daemon(&["--port", "0"]);
    let ids = agent_ids(port).await;
    assert!(ids.contains(&"alice".to_owned()) && !ids.contains(&"bob".to_owned()), "{ids:?}");
    assert_eq!(home.run(&["server", "stop", "--port", &port.to_string()]).code, 0);
}

/// A backup archive holding a database whose schema version is `version`.
fn archive_with_schema(dir: &Path, version: i64) -> PathBuf {
    let db = dir.join("coordinator.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
    conn.pragma_update(None, "user_version", version).unwrap();
    drop(conn);
    let path = dir.join("future.tar.gz");
    let gz = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.append_path_with_name(&db, "coordinator.db").unwrap();
    tar.into_inner().unwrap().finish().unwrap();
    path
}

#[test]
fn restore_refuses_a_newer_schema_and_foreign_archives() {
    let home = Home::new();
    let scratch = home.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let data = home.path().join("data");
    let archive = archive_with_schema(&scratch, 99);
    let out = home.run(&["server", "restore", archive.to_str().unwrap(), "--data-dir", data.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("schema (99) is newer than this binary supports"), "{out:?}");
    assert!(!data.join("coordinator.db").exists());
    let missing = home.run(&["server", "restore", "/nonexistent.tar.gz"]);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(missing.stderr.contains("no backup file at /nonexistent.tar.gz"), "{missing:?}");
    let none = home.run(&["server", "backup", "--data-dir", data.to_str().unwrap()]);
    assert_eq!(none.code, 1, "{none:?}");
    assert!(none.stderr.contains("no database at"), "{none:?}");
}

#[test]
fn migrate_check_reports_pending_current_and_newer() {
    let home = Home::new();
    let data = home.path().join("data");
    let d = data.to_str().unwrap();
    let pending = home.run(&["migrate", "--check", "--data-dir", d]);
    assert_eq!(pending.code, 1, "{pending:?}");
    assert!(pending.stdout.contains("pending migrations: 0001_init"), "{pending:?}");
    let applied = home.run(&["migrate", "--data-dir", d]);
    assert_eq!(applied.code, 0, "{applied:?}");
    assert!(applied.stdout.contains("migrated from version 0 to 1"), "{applied:?}");
    let current = home.run(&["migrate", "--check", "--data-dir", d]);
    assert_eq!(current.code, 0, "{current:?}");
    assert!(current.stdout.contains("up to date"), "{current:?}");
    let conn = rusqlite::Connection::open(data.join("coordinator.db")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let newer = home.run(&["migrate", "--check", "--data-dir", d]);
    assert_eq!(newer.code, 2, "{newer:?}");
    assert!(newer.stderr.contains("schema 99 is newer than this binary"), "{newer:?}");
}
