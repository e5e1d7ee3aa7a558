//! `init` and `uninstall`: idempotence, merging `.mcp.json` without losing other servers, the CLAUDE.md
//! section, backups of malformed files, `--print-only`, bad target directories and `--purge`.

use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};

use super::Home;

const START: &str = "<!-- mcp-coordinator:coordination-section -->";
const END: &str = "<!-- /mcp-coordinator:coordination-section -->";

fn read(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn init_twice_is_idempotent_and_merges_mcp_json() {
    let home = Home::new();
    let proj = home.path().join("proj");
    std::fs::create_dir(&proj).unwrap();
    let other = json!({"mcpServers": {"other": {"command": "other-server", "args": ["x"]}}, "keep": true});
    std::fs::write(proj.join(".mcp.json"), other.to_string()).unwrap();
    let p = proj.to_str().unwrap();
    let args = ["init", "--write-mcp-config", p, "--write-claude-md", p];
    let first = home.run(&args);
    assert_eq!(first.code, 0, "{first:?}");
    for snippet in [".mcp.json", ".cursor/mcp.json", r#""args": ["stdio"]"#, "http://localhost:3100/mcp"] {
        assert!(first.stdout.contains(snippet), "missing {snippet}: {}", first.stdout);
    }
    let (mcp, claude) = (read(&proj.join(".mcp.json")), read(&proj.join("CLAUDE.md")));
    let second = home.run(&args);
    assert_eq!(second.code, 0, "{second:?}");
    assert!(second.stdout.contains("already up to date"), "{}", second.stdout);
    assert_eq!(read(&proj.join(".mcp.json")), mcp);
    assert_eq!(read(&proj.join("CLAUDE.md")), claude);
    let v: Value = serde_json::from_str(&mcp).unwrap();
    assert_eq!(v["mcpServers"]["other"], other["mcpServers"]["other"]);
    assert_eq!(v["keep"], true);
    assert_eq!(v["mcpServers"]["coordinator"], json!({"type": "http", "url": "http://localhost:3100/mcp"}));
    assert_eq!(claude.matches(START).count(), 1);
    assert!(claude.starts_with("# CLAUDE.md\n") && claude.contains(END) && claude.contains("announce_work"));
    let cfg = home.config_dir();
    assert_eq!(std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777, 0o700);
    assert!(cfg.join("data").is_dir() && cfg.join("logs").is_dir());
    let config: Value = serde_json::from_str(&read(&cfg.join("config.json"))).unwrap();
    assert_eq!(config["server"]["port"], 3100);
}

#[test]
fn uninstall_reverses_init() {
    let home = Home::new();
    let proj = home.path().join("proj");
    std::fs::create_dir(&proj).unwrap();
    let own_md = "# My project\n\nBuild with make.\n";
    let own_mcp = json!({"mcpServers": {"other": {"command": "x"}}});
    std::fs::write(proj.join("CLAUDE.md"), own_md).unwrap();
    std::fs::write(proj.join(".mcp.json"), own_mcp.to_string()).unwrap();
    let p = proj.to_str().unwrap();
    assert_eq!(home.run(&["init", "--url", "http://h:9/mcp", "--write-mcp-config", p, "--write-claude-md", p]).code, 0);
    assert!(read(&proj.join("CLAUDE.md")).starts_with(own_md));
    assert!(read(&proj.join(".mcp.json")).contains("http://h:9/mcp"));
    let out = home.run(&["uninstall", "--mcp-config", p, "--claude-md", p]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(read(&proj.join("CLAUDE.md")), own_md);
    assert_eq!(serde_json::from_str::<Value>(&read(&proj.join(".mcp.json"))).unwrap(), own_mcp);
    // A second uninstall finds nothing to remove and changes nothing.
    let again = home.run(&["uninstall", "--mcp-config", p, "--claude-md", p]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.contains("no coordinator entry") && again.stdout.contains("no coordination section"));

    // Files init created are deleted when nothing else is left in them.
    let fresh = home.path().join("fresh");
    std::fs::create_dir(&fresh).unwrap();
    let f = fresh.to_str().unwrap();
    assert_eq!(home.run(&["init", "--write-mcp-config", f, "--write-claude-md", f]).code, 0);
    assert_eq!(home.run(&["uninstall", "--mcp-config", f, "--claude-md", f]).code, 0);
    assert!(!fresh.join(".mcp.json").exists() && !fresh.join("CLAUDE.md").exists());
}

#[test]
fn claude_md_section_is_replaced_in_place() {
    let home = Home::new();
    let proj = home.path().join("p");
    std::fs::create_dir(&proj).unwrap();
    let old = format!("# P\n\nintro\n\n{START}\nstale instructions\n{END}\n\n## Later\nkeep me\n");
    std::fs::write(proj.join("CLAUDE.md"), &old).unwrap();
    let p = proj.to_str().unwrap();
    assert_eq!(home.run(&["init", "--write-claude-md", p]).code, 0);
    let new = read(&proj.join("CLAUDE.md"));
    assert!(new.starts_with("# P\n\nintro\n\n") && new.ends_with("\n## Later\nkeep me\n"), "{new}");
    assert!(!new.contains("stale instructions") && new.contains("register_agent"));
    // A lone start marker is replaced up to the next heading.
    std::fs::write(proj.join("CLAUDE.md"), format!("# P\n\n{START}\nhalf-removed\n\n## Later\nkeep me\n")).unwrap();
    assert_eq!(home.run(&["init", "--write-claude-md", p]).code, 0);
    let fixed = read(&proj.join("CLAUDE.md"));
    assert!(!fixed.contains("half-removed") && fixed.contains(END) && fixed.ends_with("## Later\nkeep me\n"));
    assert_eq!(home.run(&["uninstall", "--claude-md", p]).code, 0);
    assert_eq!(read(&proj.join("CLAUDE.md")), "# P\n\n## Later\nkeep me\n");
}

#[test]
fn malformed_files_are_backed_up_and_replaced() {
    let home = Home::new();
    let proj = home.path().join("p");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::create_dir_all(home.config_dir()).unwrap();
    std::fs::write(home.config_dir().join("config.json"), "{not json").unwrap();
    std::fs::write(proj.join(".mcp.json"), "{broken").unwrap();
    let out = home.run(&["init", "--write-mcp-config", proj.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("config.json was malformed") && out.stderr.contains("config.json.bak"), "{out:?}");
    assert_eq!(read(&home.config_dir().join("config.json.bak")), "{not json");
    serde_json::from_str::<Value>(&read(&home.config_dir().join("config.json"))).unwrap();
    assert_eq!(read(&proj.join(".mcp.json.bak")), "{broken");
    let v: Value = serde_json::from_str(&read(&proj.join(".mcp.json"))).unwrap();
    assert_eq!(v["mcpServers"]["coordinator"]["type"], "http");
}

#[test]
fn print_only_writes_nothing_and_bad_targets_fail() {
    let home = Home::new();
    let proj = home.path().join("p");
    std::fs::create_dir(&proj).unwrap();
    let p = proj.to_str().unwrap();
    let out = home.run(&["init", "--print-only", "--write-mcp-config", p, "--write-claude-md", p]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("mcpServers"));
    assert!(!home.config_dir().exists() && std::fs::read_dir(&proj).unwrap().next().is_none());
    let missing = home.path().join("nope");
    let out = home.run(&["init", "--write-mcp-config", missing.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("does not exist or is not a directory") && out.stderr.contains("hint:"), "{out:?}");
    assert!(!home.config_dir().exists(), "nothing is written when a target is bad");
    let out = home.run(&["uninstall"]);
    assert_eq!(out.code, 2, "{out:?}");
}

#[test]
fn purge_asks_first() {
    let home = Home::new();
    assert_eq!(home.run(&["init"]).code, 0);
    let out = home.run_with(&["uninstall", "--purge"], &[], "no\n");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("purge cancelled") && home.config_dir().exists());
    let out = home.run_with(&["uninstall", "--purge"], &[], "yes\n");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!home.config_dir().exists());
    assert_eq!(home.run(&["init"]).code, 0);
    assert_eq!(home.run(&["uninstall", "--purge", "--force"]).code, 0);
    assert!(!home.config_dir().exists());
}
