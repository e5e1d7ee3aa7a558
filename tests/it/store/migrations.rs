//! The two backends' migration directories hold the same `NNNN_<name>.sql` files (storage.md §5), and both
//! stores report the same schema version.

use std::collections::BTreeSet;
use std::path::Path;

fn names(dir: &str) -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dir);
    std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

#[test]
fn sqlite_and_postgres_migrations_have_identical_numbers_and_names() {
    let sqlite = names("sqlite");
    let postgres = names("postgres");
    assert!(!sqlite.is_empty());
    let pattern = regex::Regex::new(r"^\d{4}_[a-z0-9_]+\.sql$").unwrap();
    for name in sqlite.iter().chain(&postgres) {
        assert!(pattern.is_match(name), "{name} is not NNNN_<name>.sql");
    }
    assert_eq!(sqlite, postgres, "migrations/sqlite and migrations/postgres differ");
    assert_eq!(mcp_coordinator::store::sqlite::SCHEMA_VERSION, mcp_coordinator::store::postgres::SCHEMA_VERSION);
    let highest: i64 = sqlite.iter().filter_map(|n| n[..4].parse().ok()).max().unwrap();
    assert_eq!(highest, mcp_coordinator::store::postgres::SCHEMA_VERSION, "every migration is embedded");
}
