//! SQLite-only checks: migrations and refusals (storage.md §5), file permissions, PRAGMAs and the raw column
//! formats behind the port (T1 text, ISO `Z` claims, compact JSON text, 0/1 bools).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mcp_coordinator::core::files::WorkingClaim;
use mcp_coordinator::core::ports::{Store, StoreError};
use mcp_coordinator::core::rows::to_json_text;
use mcp_coordinator::store::sqlite::{MigrateMode, SCHEMA_VERSION, SqliteStore, migrate, pending};
use rusqlite::Connection;

use super::fixtures::*;

fn db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("data").join("coordinator.db");
    (dir, path)
}

fn refusal(path: &Path) -> String {
    match SqliteStore::open(path) {
        Err(StoreError::Other(msg)) => msg,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn raw(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

#[test]
fn fresh_database_is_migrated_and_reopening_is_a_no_op() {
    let (_dir, path) = db();
    assert_eq!(pending(&path).unwrap(), vec![(1, "init".to_string())]);
    assert!(!path.exists(), "pending does not create the file");
    drop(SqliteStore::open(&path).unwrap());
    let c = raw(&path);
    let uv: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(uv, SCHEMA_VERSION);
    let (v, name, sum): (i64, String, String) = c
        .query_row("SELECT version, name, checksum FROM schema_migrations", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((v, name.as_str()), (1, "init"));
    assert!(sum.len() == 64 && sum.chars().all(|ch| ch.is_ascii_hexdigit() && !ch.is_ascii_uppercase()));
    let mode: String = c.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let default_org: String = c.query_row("SELECT name FROM orgs WHERE id = 'default'", [], |r| r.get(0)).unwrap();
    assert_eq!(default_org, "Default Organization");
    let report = migrate(&path).unwrap();
    assert_eq!((report.from, report.to, report.applied.len()), (SCHEMA_VERSION, SCHEMA_VERSION, 0));
    assert!(pending(&path).unwrap().is_empty());
    drop(SqliteStore::open(&path).unwrap());
    drop(SqliteStore::open_with(&path, MigrateMode::RequireCurrent).unwrap());
}

#[test]
fn migrate_reports_what_it_applied() {
    let (_dir, path) = db();
    let report = migrate(&path).unwrap();
    assert_eq!((report.from, report.to), (0, SCHEMA_VERSION));
    assert_eq!(report.applied, vec![(1, "init".to_string())]);
}

#[test]
fn require_current_refuses_an_unmigrated_database() {
    let (_dir, path) = db();
    match SqliteStore::open_with(&path, MigrateMode::RequireCurrent) {
        Err(StoreError::Other(msg)) => assert!(msg.starts_with("Database schema 0 is older"), "{msg}"),
        other => panic!("{other:?}"),
    }
    migrate(&path).unwrap();
    SqliteStore::open_with(&path, MigrateMode::RequireCurrent).unwrap();
}

#[test]
fn refuses_a_newer_schema() {
    let (_dir, path) = db();
    drop(SqliteStore::open(&path).unwrap());
    let newer = SCHEMA_VERSION + 1;
    raw(&path).pragma_update(None, "user_version", newer).unwrap();
    let want = format!(
        "Database schema {newer} is newer than this binary supports ({SCHEMA_VERSION}); downgrade is not supported"
    );
    assert_eq!(refusal(&path), want);
    assert!(matches!(migrate(&path), Err(StoreError::Other(m)) if m == want));
    assert!(matches!(pending(&path), Err(StoreError::Other(m)) if m == want));
    // A newer ledger row is refused the same way even if user_version was reset.
    let c = raw(&path);
    c.pragma_update(None, "user_version", SCHEMA_VERSION).unwrap();
    c.execute(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?1, 'future', 'x', '2030-01-01 00:00:00')",
        [newer + 1],
    )
    .unwrap();
    let want = format!(
        "Database schema {} is newer than this binary supports ({SCHEMA_VERSION}); downgrade is not supported",
        newer + 1
    );
    assert_eq!(refusal(&path), want);
}

#[test]
fn refuses_a_modified_migration() {
    let (_dir, path) = db();
    drop(SqliteStore::open(&path).unwrap());
    raw(&path).execute("UPDATE schema_migrations SET checksum = 'deadbeef' WHERE version = 1", []).unwrap();
    assert_eq!(refusal(&path), "Migration 1 (init) was modified after it was applied (checksum mismatch)");
    assert!(SqliteStore::open_with(&path, MigrateMode::RequireCurrent).is_err());
}

#[test]
fn refuses_foreign_tables_without_a_ledger() {
    let (_dir, path) = db();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    raw(&path).execute_batch("CREATE TABLE agents (id TEXT PRIMARY KEY);").unwrap();
    let want =
        format!("Database {} has tables but no migration ledger (created elsewhere); move it aside", path.display());
    assert_eq!(refusal(&path), want);
    let count: i64 =
        raw(&path).query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0)).unwrap();
    assert_eq!(count, 1, "nothing was created");
}

#[test]
fn creates_a_private_directory_and_file() {
    let (dir, path) = db();
    drop(SqliteStore::open(&path).unwrap());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert_eq!(mode(&dir.path().join("nested")), 0o700);
}

#[test]
fn concurrent_migrators_are_serialised() {
    let (_dir, path) = db();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || migrate(&path).unwrap())
        })
        .collect();
    let reports: Vec<_> = runs.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(reports.iter().map(|r| r.applied.len()).sum::<usize>(), 1, "{reports:?}");
    assert!(reports.iter().all(|r| r.to == SCHEMA_VERSION));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_column_formats() {
    let (_dir, path) = db();
    let s: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let o = default_org();
    let mut t = thread(&o, "a", &["src/ü.rs", "b \"q\".rs"], at(0).plus_millis(999));
    t.keep_open = true;
    t.target_modules = vec!["src/ü".into(), "x/y".into()];
    announce(&s, &t).await;
    let claim = WorkingClaim {
        org_id: o.clone(),
        agent_id: aid("a"),
        file_path: path_of("f.rs"),
        started_at: at(0).plus_millis(5),
        claim_until: at(1800),
    };
    s.start_claim(&claim, at(1)).await.unwrap();
    let c = raw(&path);
    let (created, modules, files, keep, respondents): (String, String, String, i64, String) = c
        .query_row(
            "SELECT created_at, target_modules, target_files, keep_open, expected_respondents FROM threads",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(created, "2026-11-25 10:00:00", "T1, second precision");
    assert_eq!(modules, to_json_text(&t.target_modules));
    assert_eq!(modules, r#"["src/ü","x/y"]"#);
    assert_eq!(files, r#"["src/ü.rs","b \"q\".rs"]"#);
    assert_eq!((keep, respondents.as_str()), (1, "[]"));
    let (seen, name): (String, String) = c
        .query_row("SELECT last_seen_at, name FROM agents WHERE id = 'a'", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((seen.as_str(), name.as_str()), ("2026-11-25 10:00:00", "a name"));
    let (started, last, until): (String, String, String) = c
        .query_row("SELECT started_at, last_activity_at, claim_until FROM working_files", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(
        (started.as_str(), last.as_str(), until.as_str()),
        ("2026-11-25T10:00:00.005Z", "2026-11-25T10:00:01.000Z", "2026-11-25T10:30:00.000Z")
    );
    let kinds: Vec<(String, String)> = c
        .prepare("SELECT kind, file_path FROM thread_files ORDER BY file_path")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kinds, [("target".into(), "b \"q\".rs".into()), ("target".into(), "src/ü.rs".into())]);
    let payload: String = c.query_row("SELECT payload FROM events WHERE seq = 1", [], |r| r.get(0)).unwrap();
    assert!(payload.starts_with('{') && !payload.contains(": ") && payload.contains(r#""org_id":"default""#));
}

fn path_of(s: &str) -> mcp_coordinator::core::paths::RepoPath {
    path(s)
}

/// Two stores on one file are two writer connections: `BEGIN IMMEDIATE` + `busy_timeout` + the CAS conditions
/// still yield exactly one claim and one resolution.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_race_safely() {
    let (_dir, path) = db();
    let first: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let second: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let o = default_org();
    let t = thread(&o, "init", &["f.rs"], at(0));
    announce(&first, &t).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = if i % 2 == 0 { Arc::clone(&first) } else { Arc::clone(&second) };
        let (o, id) = (o.clone(), t.id.clone());
        tasks.push(tokio::spawn(async move {
            let w = format!("w{i}");
            let ev = super::claims::claimed_event(&id, &w, at(1));
            s.claim_task(&o, &id, &aid(&w), at(1), ev).await.unwrap().is_ok()
        }));
    }
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.unwrap());
    }
    assert_eq!(wins, 1);
    make_resolving(&second, &t, at(2)).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = if i % 2 == 0 { Arc::clone(&first) } else { Arc::clone(&second) };
        let (o, id) = (o.clone(), t.id.clone());
        tasks
            .push(tokio::spawn(async move { s.update_thread(&o, &id, at(3), approve(&format!("r{i}"), at(3))).await }));
    }
    for task in tasks {
        let _ = task.await.unwrap();
    }
    let events = first.events_after(&o, 0, 1000).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "thread_resolved").count(), 1);
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=events.len() as i64).collect::<Vec<_>>());
}

/// Commits never checkpoint (`wal_autocheckpoint=0` on the writer); the background thread copies the WAL into the
/// database file shortly after, and once more when the store is dropped.
#[tokio::test]
async fn the_wal_is_checkpointed_in_the_background() {
    use mcp_coordinator::core::events::DomainEvent;
    use mcp_coordinator::core::ids::OrgId;
    let (_dir, path) = db();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let org = OrgId::new("o");
    store.ensure_org(&org).await.unwrap();
    // Let the checkpoint of the migration pass, then measure the database file alone.
    let settled = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let mut before = std::fs::metadata(&path).unwrap().len();
    while std::time::Instant::now() < settled {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        before = std::fs::metadata(&path).unwrap().len();
    }
    for i in 0..300 {
        let ev = DomainEvent::AgentOnline { agent_id: format!("agent-{i}"), name: "x".repeat(200), modules: vec![] };
        store.append_events(&org, vec![ev], crate::support::T0).await.unwrap();
    }
    let wal = path.with_extension("db-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0, "commits went to the WAL");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::fs::metadata(&path).unwrap().len() <= before {
        assert!(std::time::Instant::now() < deadline, "the WAL was not checkpointed into the database file");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let c = raw(&path);
    let n: i64 = c.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 300);
}
