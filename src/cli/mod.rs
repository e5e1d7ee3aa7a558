//! Command-line interface: `server start`, `stdio`, `version`. Parses flags into `config::Flags` and hands
//! them to `config`, which alone reads the environment and config.json.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Flags, ProcessEnv, Settings};

/// Exit code of an invalid configuration (EX_USAGE).
pub const EXIT_CONFIG: u8 = 64;

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
    /// Print the version.
    Version {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Start the server in the foreground.
    Start(StartFlags),
}

/// Flags shared by commands that open the store.
#[derive(Debug, Args, Default)]
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

#[derive(Debug, Args, Default)]
pub struct StartFlags {
    /// HTTP port (0 = OS-assigned).
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to bind (default 127.0.0.1).
    #[arg(long)]
    pub bind: Option<String>,
    #[command(flatten)]
    pub store: StoreFlags,
    /// Request body cap in bytes.
    #[arg(long)]
    pub max_body_bytes: Option<usize>,
    /// Working-file claim lifetime in minutes.
    #[arg(long)]
    pub working_files_ttl_min: Option<i64>,
    /// Working-file claim sweep interval in milliseconds.
    #[arg(long)]
    pub working_files_sweep_ms: Option<u64>,
    /// JSON logs (true) or human-readable lines (false).
    #[arg(long)]
    pub log_json: Option<bool>,
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

impl StartFlags {
    fn flags(&self) -> Flags {
        Flags {
            port: self.port,
            bind: self.bind.clone(),
            max_body_bytes: self.max_body_bytes,
            working_files_ttl_min: self.working_files_ttl_min,
            working_files_sweep_ms: self.working_files_sweep_ms,
            log_json: self.log_json,
            ..self.store.flags()
        }
    }
}

fn settings(flags: &Flags) -> Result<Settings, ExitCode> {
    Settings::resolve(flags, &ProcessEnv).map_err(|e| {
        eprintln!("mcp-coordinator: invalid configuration: {e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("mcp-coordinator: {e:#}");
    ExitCode::from(1)
}

/// Runs a parsed command.
pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Version { json } => {
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
        Command::Server { command: ServerCommand::Start(f) } => {
            let s = match settings(&f.flags()) {
                Ok(s) => s,
                Err(code) => return code,
            };
            crate::telemetry::init(&s.log_level, s.log_json);
            let app = match crate::app::App::build(s).await {
                Ok(app) => app,
                Err(e) => return fail(&e),
            };
            eprintln!("mcp-coordinator listening on http://{}/mcp", app.addr());
            match app.run_until_stopped(crate::lifecycle::signal()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
        Command::Stdio(f) => {
            let s = match settings(&f.flags()) {
                Ok(s) => s,
                Err(code) => return code,
            };
            crate::telemetry::init(&s.log_level, s.log_json);
            let result = async {
                let core = crate::app::build_core(&s).await?;
                let backend = std::sync::Arc::new(crate::mcp::CoreBackend::new(core, false));
                let shutdown = crate::lifecycle::Shutdown::new();
                let stop = shutdown.clone();
                shutdown.spawn(async move {
                    crate::lifecycle::signal().await;
                    stop.trigger();
                });
                crate::mcp::serve_stdio(backend, shutdown.token()).await.map_err(|e| anyhow::anyhow!("{e}"))
            }
            .await;
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
    }
}
