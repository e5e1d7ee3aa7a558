//! Command-line interface (operations.md §1): `server {start,stop,restart,status,logs,backup,restore}`, `stdio`,
//! `init`, `uninstall`, `dashboard`, `doctor`, `migrate`, `channel`, `version`. Parses flags into `config::Flags`
//! (`config::ChannelFlags` for `channel`) and hands them to `config`, which alone reads the environment and
//! config.json. Every failure ends as one line on stderr (`mcp-coordinator: <what> (hint: <what to do>)`) and a
//! non-zero exit code, never a panic.

mod backup;
mod channel;
mod daemon;
mod doctor;
mod init;
mod install;
mod layout;
mod logs;
mod pidfile;
mod probe;
mod server;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Flags, ProcessEnv, Settings};

pub use server::StartFlags;

/// Exit code of an invalid configuration (EX_USAGE).
pub const EXIT_CONFIG: u8 = 64;
/// Exit code of a usage or operational error (operations.md §1).
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(name = "mcp-coordinator", version, about = "Coordinates AI coding agents working on one repository")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run and manage the coordinator server.
    Server {
        #[command(subcommand)]
        command: ServerCommand,
    },
    /// Serve the 26 MCP tools on stdin/stdout (open mode, org `default`).
    Stdio(StoreFlags),
    /// Create ~/.mcp-coordinator and print (or write) the MCP client configuration.
    Init(init::InitArgs),
    /// Remove what `init` wrote: the `.mcp.json` entry, the CLAUDE.md section, or everything (`--purge`).
    Uninstall(init::UninstallArgs),
    /// Open (or print) the dashboard URL.
    Dashboard(status::DashboardArgs),
    /// Check the installation and a running server; exit 1 on any failure.
    Doctor(doctor::DoctorArgs),
    /// Apply pending database migrations and exit.
    Migrate(MigrateArgs),
    /// Claude Code Channels sidecar: relay coordination events to a Claude Code session over stdio MCP.
    Channel(channel::ChannelArgs),
    /// Print the version.
    Version {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Start the server (in the foreground, or detached with --daemon).
    Start(server::StartArgs),
    /// Stop a server started on this machine (SIGTERM, then SIGKILL with --force).
    Stop(server::StopArgs),
    /// Stop the server, then start it as a daemon.
    Restart(server::RestartArgs),
    /// Show whether a server runs, with its PID, port, uptime and activity; exit 3 when stopped.
    Status(status::StatusArgs),
    /// Show (and follow) the daemon's log file.
    Logs(logs::LogsArgs),
    /// Write a consistent snapshot of the database and config.json to a .tar.gz.
    Backup(backup::BackupArgs),
    /// Replace the database with one from a backup (the server must be stopped).
    Restore(backup::RestoreArgs),
}

/// Flags shared by commands that open the store.
#[derive(Debug, Args, Default, Clone)]
pub struct StoreFlags {
    /// Data directory (SQLite database and lock file).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Database URL (`sqlite://<path>` or `postgres://user:password@host/db`).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Repository root; repeat for several checkouts or worktrees.
    #[arg(long = "repo-root")]
    pub repo_root: Vec<String>,
}

impl StoreFlags {
    fn flags(&self) -> Flags {
        Flags {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            repo_roots: self.repo_root.clone(),
            ..Flags::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Data directory holding coordinator.db.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Database URL (`sqlite://<path>` or `postgres://user:password@host/db`).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Only report: exit 1 if migrations are pending, 2 if the database is newer than this binary.
    #[arg(long)]
    pub check: bool,
}

/// Why a command failed: one line, an optional hint, an exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
    pub hint: Option<String>,
}

impl Failure {
    /// A failure with exit code `code`.
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into(), hint: None }
    }

    /// Adds what the user can do about it.
    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure::new(1, format!("{e:#}"))
    }
}

/// Asks `question` on stdout and reads one line from stdin; true only for `yes`.
pub(crate) fn confirm(question: &str) -> bool {
    use std::io::{BufRead, Write};
    print!("{question} Type 'yes' to continue: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).unwrap_or(0) == 0 {
        println!();
    }
    answer.trim() == "yes"
}

/// What a command returns.
pub type Outcome = Result<ExitCode, Failure>;

/// Resolves settings; an invalid configuration is exit 64.
pub(crate) fn settings(flags: &Flags) -> Result<Settings, Failure> {
    Settings::resolve(flags, &ProcessEnv).map_err(config_failure)
}

/// An invalid configuration: exit 64, with a hint unless the message already says how to fix it.
pub(crate) fn config_failure(e: crate::config::ConfigError) -> Failure {
    let failure = Failure::new(EXIT_CONFIG, format!("invalid configuration: {e}"));
    match e {
        // The file error already says how to fix it.
        crate::config::ConfigError::File { .. } => failure,
        crate::config::ConfigError::Invalid { .. } => failure.hint("fix or unset the setting named above"),
    }
}

/// Makes a closed stdout (`mcp-coordinator server logs | head`) end the process quietly instead of panicking with a
/// backtrace; every other panic still goes to the default hook.
pub fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// Runs a parsed command.
pub async fn run(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Version { json } => Ok(version(json)),
        Command::Server { command } => match command {
            ServerCommand::Start(a) => server::start(a).await,
            ServerCommand::Stop(a) => server::stop_command(&a).await,
            ServerCommand::Restart(a) => server::restart(a).await,
            ServerCommand::Status(a) => status::status(&a).await,
            ServerCommand::Logs(a) => logs::logs(&a).await,
            ServerCommand::Backup(a) => backup::backup(&a).await,
            ServerCommand::Restore(a) => backup::restore(&a).await,
        },
        Command::Stdio(f) => stdio(&f).await,
        Command::Init(a) => init::init(&a),
        Command::Uninstall(a) => init::uninstall(&a),
        Command::Dashboard(a) => status::dashboard(&a),
        Command::Doctor(a) => doctor::doctor(&a).await,
        Command::Migrate(a) => migrate(&a).await,
        Command::Channel(a) => channel::channel(&a).await,
    };
    outcome.unwrap_or_else(|f| {
        match &f.hint {
            Some(h) => eprintln!("mcp-coordinator: {} (hint: {h})", f.message),
            None => eprintln!("mcp-coordinator: {}", f.message),
        }
        ExitCode::from(f.code)
    })
}

fn version(json: bool) -> ExitCode {
    let v = env!("CARGO_PKG_VERSION");
    if json {
        let info = serde_json::json!({
            "version": v,
            "schema_version": crate::store::sqlite::SCHEMA_VERSION,
            "mcp_protocol_versions": crate::mcp::SUPPORTED_PROTOCOL_VERSIONS,
        });
        println!("{info}");
    } else {
        println!("mcp-coordinator {v}");
    }
    ExitCode::SUCCESS
}

async fn stdio(f: &StoreFlags) -> Outcome {
    let s = settings(&f.flags())?;
    crate::telemetry::init(&s.log_level, s.log_json);
    let core = crate::app::build_core(&s).await?;
    let backend = std::sync::Arc::new(crate::mcp::CoreBackend::new(core));
    let shutdown = crate::lifecycle::Shutdown::new();
    let stop = shutdown.clone();
    shutdown.spawn(async move {
        crate::lifecycle::signal().await;
        stop.trigger();
    });
    crate::mcp::serve_stdio(backend, shutdown.token()).await.map_err(|e| Failure::new(1, e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

async fn migrate(a: &MigrateArgs) -> Outcome {
    use crate::store::sqlite::{SCHEMA_VERSION, pending, schema_version_of};
    let flags = Flags { data_dir: a.data_dir.clone(), database_url: a.database_url.clone(), ..Flags::default() };
    let s = settings(&flags)?;
    if let crate::config::Database::Postgres(url) = &s.database {
        return migrate_postgres(url, &s.database.redacted(), a.check).await;
    }
    let db = s.database_file();
    let path = db.clone();
    let blocking = move || -> Result<String, Failure> {
        if path.is_file() {
            let version = schema_version_of(&path).map_err(|e| Failure::new(EXIT_USAGE, e.to_string()))?;
            if version > SCHEMA_VERSION {
                return Err(Failure::new(
                    EXIT_USAGE,
                    format!("{}: schema {version} is newer than this binary ({SCHEMA_VERSION})", path.display()),
                )
                .hint("upgrade mcp-coordinator; downgrades are not supported"));
            }
        }
        let todo = pending(&path).map_err(|e| Failure::new(EXIT_USAGE, format!("{}: {e}", path.display())))?;
        Ok(todo.iter().map(|(v, n)| format!("{v:04}_{n}")).collect::<Vec<_>>().join(", "))
    };
    let listed = tokio::task::spawn_blocking(blocking).await.map_err(|e| Failure::new(1, e.to_string()))??;
    if a.check {
        if listed.is_empty() {
            println!("{}: schema is up to date (version {SCHEMA_VERSION})", db.display());
            return Ok(ExitCode::SUCCESS);
        }
        println!("{}: pending migrations: {listed}", db.display());
        return Ok(ExitCode::from(1));
    }
    let path = db.clone();
    let report = tokio::task::spawn_blocking(move || crate::store::sqlite::migrate(&path))
        .await
        .map_err(|e| Failure::new(1, e.to_string()))?
        .map_err(|e| Failure::new(1, format!("{}: {e}", db.display())))?;
    if report.applied.is_empty() {
        println!("{}: schema is up to date (version {})", db.display(), report.to);
    } else {
        println!("{}: migrated from version {} to {} ({listed})", db.display(), report.from, report.to);
    }
    Ok(ExitCode::SUCCESS)
}

/// `migrate` on Postgres: safe while other migrators or servers run (advisory lock), so the Helm hook may run it.
async fn migrate_postgres(url: &str, shown: &str, check: bool) -> Outcome {
    use crate::store::postgres::{PgStore, SCHEMA_VERSION};
    let store = PgStore::connect(url, 1)
        .await
        .map_err(|e| Failure::new(1, format!("cannot connect to Postgres at {shown}: {e}")))?;
    let todo = store.pending().await.map_err(|e| Failure::new(EXIT_USAGE, format!("{shown}: {e}")))?;
    let listed = todo.iter().map(|(v, n)| format!("{v:04}_{n}")).collect::<Vec<_>>().join(", ");
    if check {
        if listed.is_empty() {
            println!("{shown}: schema is up to date (version {SCHEMA_VERSION})");
            return Ok(ExitCode::SUCCESS);
        }
        println!("{shown}: pending migrations: {listed}");
        return Ok(ExitCode::from(1));
    }
    let report = store.migrate().await.map_err(|e| Failure::new(1, format!("{shown}: {e}")))?;
    store.close().await;
    if report.applied.is_empty() {
        println!("{shown}: schema is up to date (version {})", report.to);
    } else {
        let applied = report.applied.iter().map(|(v, n)| format!("{v:04}_{n}")).collect::<Vec<_>>().join(", ");
        println!("{shown}: migrated from version {} to {} ({applied})", report.from, report.to);
    }
    Ok(ExitCode::SUCCESS)
}
