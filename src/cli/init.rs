//! `init` (create `~/.mcp-coordinator` with `data/`, `logs/` and a default `config.json`; write the
//! `.mcp.json` entry and the CLAUDE.md section; print client snippets) and `uninstall` (undo each of those).
//! Both are idempotent; a target directory that does not exist is exit 1 before anything is written.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde_json::Value;

use super::install;
use super::{EXIT_USAGE, Failure, Outcome, confirm, layout, pidfile, settings};
use crate::config::{ConfigFileState, DEFAULT_PORT, Flags, ProcessEnv};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// MCP URL clients use (default http://localhost:<port>/mcp).
    #[arg(long)]
    pub url: Option<String>,
    /// Merge the `coordinator` server into <DIR>/.mcp.json (other servers are kept).
    #[arg(long, value_name = "DIR")]
    pub write_mcp_config: Option<PathBuf>,
    /// Insert or refresh the coordination section of <DIR>/CLAUDE.md.
    #[arg(long, value_name = "DIR")]
    pub write_claude_md: Option<PathBuf>,
    /// Print the snippets only; write nothing.
    #[arg(long)]
    pub print_only: bool,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Remove the `coordinator` entry from <DIR>/.mcp.json (the file goes when nothing else is left).
    #[arg(long, value_name = "DIR")]
    pub mcp_config: Option<PathBuf>,
    /// Remove the coordination section from <DIR>/CLAUDE.md (the file goes when nothing else is left).
    #[arg(long, value_name = "DIR")]
    pub claude_md: Option<PathBuf>,
    /// Delete ~/.mcp-coordinator (database, logs, backups, config) after confirmation.
    #[arg(long)]
    pub purge: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub force: bool,
}

fn io_fail(what: &str, path: &Path, e: &std::io::Error) -> Failure {
    Failure::new(1, format!("cannot {what} {}: {e}", path.display()))
}

fn target_dir(dir: &Path) -> Result<(), Failure> {
    if dir.is_dir() {
        return Ok(());
    }
    Err(Failure::new(1, format!("target directory {} does not exist or is not a directory", dir.display()))
        .hint("pass the root of an existing project"))
}

/// `init`.
pub fn init(a: &InitArgs) -> Outcome {
    for dir in [&a.write_mcp_config, &a.write_claude_md].into_iter().flatten() {
        target_dir(dir)?;
    }
    let config_dir = crate::config::config_dir(&ProcessEnv);
    if !a.print_only {
        prepare_config_dir(&config_dir)?;
    }
    let port = match settings(&Flags::default()) {
        Ok(s) => s.port,
        Err(e) if a.print_only => {
            eprintln!("warning: {} (using port {DEFAULT_PORT})", e.message);
            DEFAULT_PORT
        }
        Err(e) => return Err(e),
    };
    let url = a.url.clone().unwrap_or_else(|| format!("http://localhost:{port}/mcp"));
    if let Some(dir) = &a.write_mcp_config {
        let path = dir.join(".mcp.json");
        if a.print_only {
            println!("Would merge the coordinator entry into {}", path.display());
        } else {
            write_mcp_config(&path, &url)?;
        }
    }
    if let Some(dir) = &a.write_claude_md {
        let path = dir.join("CLAUDE.md");
        if a.print_only {
            println!("Would write the coordination section of {}", path.display());
        } else {
            let existing = read_optional(&path)?;
            let text = install::upsert_section(existing.as_deref());
            write_if_changed(&path, existing.as_deref(), &text)?;
        }
    }
    print_snippets(&url);
    Ok(ExitCode::SUCCESS)
}

fn prepare_config_dir(config_dir: &Path) -> Result<(), Failure> {
    let existed = config_dir.is_dir();
    for dir in [config_dir.to_path_buf(), config_dir.join("data"), layout::logs_dir(config_dir)] {
        layout::create_private_dir(&dir)
            .map_err(|e| io_fail("create", &dir, &e).hint("check that HOME points to a writable directory"))?;
    }
    let state = crate::config::ensure_config_file(config_dir)
        .map_err(|e| io_fail("write", &config_dir.join("config.json"), &e))?;
    let status = if existed { "exists" } else { "created" };
    println!("Config directory: {} ({status})", config_dir.display());
    match state {
        ConfigFileState::Created => println!("config.json: created with defaults"),
        ConfigFileState::Kept => println!("config.json: kept"),
        ConfigFileState::Replaced { backup, problem } => eprintln!(
            "warning: config.json was malformed ({problem}); kept it as {} and wrote the defaults",
            backup.display()
        ),
    }
    Ok(())
}

fn read_optional(path: &Path) -> Result<Option<String>, Failure> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_fail("read", path, &e)),
    }
}

fn write_if_changed(path: &Path, old: Option<&str>, new: &str) -> Result<(), Failure> {
    if old == Some(new) {
        println!("{}: already up to date", path.display());
        return Ok(());
    }
    std::fs::write(path, new).map_err(|e| io_fail("write", path, &e))?;
    println!("{}: {}", path.display(), if old.is_some() { "updated" } else { "created" });
    Ok(())
}

fn write_mcp_config(path: &Path, url: &str) -> Result<(), Failure> {
    let existing = read_optional(path)?;
    let parsed = match existing.as_deref().map(serde_json::from_str::<Value>) {
        None => None,
        Some(Ok(Value::Object(map))) => Some(map),
        Some(_) => {
            let backup = PathBuf::from(format!("{}.bak", path.display()));
            std::fs::copy(path, &backup).map_err(|e| io_fail("back up", path, &e))?;
            eprintln!(
                "warning: {} was not a JSON object; kept it as {} and replaced it",
                path.display(),
                backup.display()
            );
            None
        }
    };
    let text = install::merge_mcp_json(parsed, url);
    write_if_changed(path, existing.as_deref(), &text)
}

fn print_snippets(url: &str) {
    let url = Value::String(url.to_owned());
    println!("\nClaude Code (.mcp.json at the project root):");
    println!(r#"{{ "mcpServers": {{ "coordinator": {{ "type": "http", "url": {url} }} }} }}"#);
    println!("\nCursor (.cursor/mcp.json):");
    println!(r#"{{ "mcpServers": {{ "coordinator": {{ "url": {url} }} }} }}"#);
    println!("\nstdio (the client spawns the coordinator itself, on the same database):");
    println!(r#"{{ "mcpServers": {{ "coordinator": {{ "command": "mcp-coordinator", "args": ["stdio"] }} }} }}"#);
    println!("\nStart the server with: mcp-coordinator server start --daemon");
}

/// `uninstall`.
pub fn uninstall(a: &UninstallArgs) -> Outcome {
    if a.mcp_config.is_none() && a.claude_md.is_none() && !a.purge {
        return Err(Failure::new(EXIT_USAGE, "nothing to uninstall").hint("pass --mcp-config, --claude-md or --purge"));
    }
    if let Some(dir) = &a.mcp_config {
        target_dir(dir)?;
        let path = dir.join(".mcp.json");
        match read_optional(&path)? {
            None => println!("{}: does not exist, nothing to remove", path.display()),
            Some(text) => {
                let Ok(Value::Object(root)) = serde_json::from_str::<Value>(&text) else {
                    return Err(Failure::new(1, format!("{} is not a JSON object; left untouched", path.display()))
                        .hint("remove the coordinator entry by hand"));
                };
                let had = root.get("mcpServers").and_then(|s| s.get("coordinator")).is_some();
                match install::remove_mcp_entry(root) {
                    _ if !had => println!("{}: no coordinator entry", path.display()),
                    None => remove_file(&path)?,
                    Some(rest) => write_if_changed(&path, Some(&text), &rest)?,
                }
            }
        }
    }
    if let Some(dir) = &a.claude_md {
        target_dir(dir)?;
        let path = dir.join("CLAUDE.md");
        match read_optional(&path)?.map(|t| (install::remove_section(&t), t)) {
            None | Some((None, _)) => println!("{}: no coordination section", path.display()),
            Some((Some(None), _)) => remove_file(&path)?,
            Some((Some(Some(rest)), text)) => write_if_changed(&path, Some(&text), &rest)?,
        }
    }
    if a.purge {
        purge(a.force)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn remove_file(path: &Path) -> Result<(), Failure> {
    std::fs::remove_file(path).map_err(|e| io_fail("remove", path, &e))?;
    println!("{}: removed (nothing else was left in it)", path.display());
    Ok(())
}

fn purge(force: bool) -> Result<(), Failure> {
    let config_dir = crate::config::config_dir(&ProcessEnv);
    if !config_dir.exists() {
        println!("{}: does not exist, nothing to purge", config_dir.display());
        return Ok(());
    }
    if let Some((_, rec)) = pidfile::all(&config_dir).into_iter().find(|(_, r)| r.alive()) {
        return Err(Failure::new(
            1,
            format!("refusing to purge: a coordinator is running (PID {}, port {})", rec.pid, rec.port),
        )
        .hint(format!("stop it first with `mcp-coordinator server stop --port {}`", rec.port)));
    }
    let db = config_dir.join("data").join("coordinator.db");
    if db.exists()
        && let Err(e) = crate::app::lock_data_dir(&db)
    {
        return Err(Failure::new(1, format!("refusing to purge: {e:#}")).hint("stop the server first"));
    }
    let question = format!("This deletes {} (database, logs, backups, config).", config_dir.display());
    if !force && !confirm(&question) {
        return Err(Failure::new(1, "purge cancelled; nothing was deleted").hint("pass --force to skip the question"));
    }
    std::fs::remove_dir_all(&config_dir).map_err(|e| io_fail("delete", &config_dir, &e))?;
    println!("{}: deleted", config_dir.display());
    Ok(())
}
