//! The ONLY place that reads flags, environment variables and `~/.mcp-coordinator/config.json` (with its
//! submodules; `channel` holds the Channels sidecar's settings). Precedence: flag > env > config.json > default.
//! Everything is validated once into a typed `Settings`; an invalid value is a `ConfigError` naming the variable
//! (exit code 64).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

/// Default HTTP port.
pub const DEFAULT_PORT: u16 = 3100;

/// A configuration problem, with the setting it concerns.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{name}: {problem}")]
    Invalid { name: String, problem: String },
    #[error("config file {path}: {problem}")]
    File { path: String, problem: String },
}

mod channel;
mod cluster;
mod database;

pub use channel::{ChannelFlags, ChannelSettings};
pub use cluster::{Cluster, RateLimit};
pub use database::Database;
pub use database::redact_password;

fn invalid(name: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { name: name.to_owned(), problem: problem.into() }
}

/// MCP session handling of the streamable HTTP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionMode {
    Stateless,
    Stateful,
}

/// Retention in days per coordination table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub file_activity_days: i64,
    pub events_days: i64,
    pub inbox_days: i64,
    pub thread_messages_days: i64,
    pub action_summaries_days: i64,
    pub layer_firings_days: i64,
}

/// The embedded MQTT broker (events-mqtt.md §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttConfig {
    /// 0 = OS-assigned (the real port is logged and reported by `/readyz` and `/health`).
    pub tcp_port: u16,
    pub tcp_bind: IpAddr,
    /// Path of MQTT over WebSocket on the HTTP port.
    pub ws_path: String,
    pub ws_max_payload_bytes: usize,
    /// A busy TCP port (or, with an external broker, an unreachable one) is fatal instead of degrading.
    pub required: bool,
    /// `false`: use the external broker at `url` instead of the embedded one.
    pub embedded: bool,
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Validated settings of one process.
#[derive(Debug, Clone)]
pub struct Settings {
    pub port: u16,
    pub bind: IpAddr,
    /// The data directory, or the SQLite file given by `sqlite://<path>` (see `database_file`).
    pub data_dir: PathBuf,
    /// The selected storage backend.
    pub database: Database,
    /// Connections in the Postgres pool (`COORDINATOR_DB_POOL_SIZE`).
    pub db_pool_size: u32,
    pub config_dir: PathBuf,
    pub repo_roots: Vec<String>,
    pub online_ttl_secs: i64,
    pub working_files_ttl_min: i64,
    pub working_files_sweep_ms: u64,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub allow_reset: bool,
    pub sse_heartbeat_ms: u64,
    pub max_sse_clients: usize,
    pub inbox_max_backlog: usize,
    pub public_url: Option<String>,
    pub session_mode: SessionMode,
    pub session_ttl_ms: u64,
    /// `COORDINATOR_REDIS_URL` / `--redis-url`: several replicas share events, indexes, sessions, leases and rate
    /// limits through it. May carry a password: log it only through `config::redact_password`.
    pub redis_url: Option<SecretUrl>,
    /// `COORDINATOR_REDIS_PREFIX`: prefix of every Redis key and channel (default `coordinator:`).
    pub redis_prefix: String,
    pub json_response: bool,
    pub max_body_bytes: usize,
    pub shutdown_drain_ms: u64,
    pub daemon_bind_timeout_ms: u64,
    pub migrate_on_boot: bool,
    pub sweeper_enabled: bool,
    pub retention: Retention,
    pub log_level: String,
    pub log_json: bool,
    pub mqtt: MqttConfig,
    /// Lease timings of the singleton jobs (operations.md §3).
    pub cluster: Cluster,
    /// Interval of the thread-timeout sweeper (30 000 ms).
    pub timeout_sweep_ms: u64,
    /// Per-IP bucket of agent registration (auth.md §11).
    pub register_rate_limit: RateLimit,
}

/// Values given on the command line (None = not given).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub port: Option<u16>,
    pub bind: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub repo_roots: Vec<String>,
    pub max_body_bytes: Option<usize>,
    pub working_files_ttl_min: Option<i64>,
    pub working_files_sweep_ms: Option<u64>,
    pub log_json: Option<bool>,
    pub redis_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct FileServer {
    port: Option<u16>,
    data_dir: Option<String>,
    bind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct FileDefaults {
    coordinator_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    server: FileServer,
    #[serde(default)]
    defaults: FileDefaults,
}

/// Where environment values come from (the process environment, or a map in tests).
pub trait Env {
    fn get(&self, key: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

impl<S: std::hash::BuildHasher> Env for std::collections::HashMap<String, String, S> {
    fn get(&self, key: &str) -> Option<String> {
        std::collections::HashMap::get(self, key).cloned().filter(|v| !v.is_empty())
    }
}

/// `~/.mcp-coordinator` (HOME from the environment).
pub fn config_dir(env: &dyn Env) -> PathBuf {
    let home = env.get("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".mcp-coordinator")
}

fn read_file(path: &Path) -> Result<ConfigFile, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            problem: format!("malformed JSON ({e}); fix it or run `mcp-coordinator init` to recreate it"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(e) => Err(ConfigError::File { path: path.display().to_string(), problem: e.to_string() }),
    }
}

/// What `ensure_config_file` found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigFileState {
    /// No file: the default was written.
    Created,
    /// A valid file was left as it is.
    Kept,
    /// A malformed file was moved to `backup` and the default written.
    Replaced { backup: PathBuf, problem: String },
}

/// The default `config.json` for a config directory.
pub fn default_config_json(config_dir: &Path) -> String {
    let body = serde_json::json!({
        "server": {"port": DEFAULT_PORT, "data_dir": config_dir.join("data"), "bind": "127.0.0.1"},
        "defaults": {"coordinator_url": format!("http://localhost:{DEFAULT_PORT}")},
    });
    format!("{body:#}\n")
}

/// Validates `<config_dir>/config.json`; `Ok(false)` when it does not exist (`doctor`).
pub fn check_config_file(config_dir: &Path) -> Result<bool, ConfigError> {
    let path = config_dir.join("config.json");
    read_file(&path)?;
    Ok(path.exists())
}

/// Makes sure `<config_dir>/config.json` exists and parses (`init`): a malformed file is kept as
/// `config.json.bak` and replaced by the default.
pub fn ensure_config_file(config_dir: &Path) -> std::io::Result<ConfigFileState> {
    let path = config_dir.join("config.json");
    let state = match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ConfigFileState::Created,
        Err(e) => return Err(e),
        Ok(text) => match serde_json::from_str::<ConfigFile>(&text) {
            Ok(_) => return Ok(ConfigFileState::Kept),
            Err(e) => {
                let backup = config_dir.join("config.json.bak");
                std::fs::rename(&path, &backup)?;
                ConfigFileState::Replaced { backup, problem: e.to_string() }
            }
        },
    };
    std::fs::write(&path, default_config_json(config_dir))?;
    Ok(state)
}

/// Variables a detached daemon inherits (operations.md §2); everything else is dropped.
const DAEMON_ENV: [&str; 8] =
    ["PATH", "HOME", "USER", "LANG", "PORT", "LOG_LEVEL", "CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_CONFIG_DIR"];
/// Prefixes of variables a detached daemon inherits.
const DAEMON_ENV_PREFIXES: [&str; 2] = ["OTEL_", "COORDINATOR_"];

/// The allow-listed part of the process environment, handed to a detached daemon (`TZ` included).
pub fn daemon_environment() -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    std::env::vars_os()
        .filter(|(k, _)| {
            let k = k.to_string_lossy();
            k == "TZ" || DAEMON_ENV.contains(&k.as_ref()) || DAEMON_ENV_PREFIXES.iter().any(|p| k.starts_with(p))
        })
        .collect()
}

fn parse<T: std::str::FromStr>(env: &dyn Env, name: &str) -> Result<Option<T>, ConfigError> {
    env.get(name).map(|v| v.trim().parse::<T>().map_err(|_| invalid(name, format!("cannot parse {v:?}")))).transpose()
}

fn parse_bool(env: &dyn Env, name: &str) -> Result<Option<bool>, ConfigError> {
    env.get(name)
        .map(|v| match v.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(invalid(name, format!("expected true or false, got {v:?}"))),
        })
        .transpose()
}

fn positive(env: &dyn Env, name: &str, default: i64) -> Result<i64, ConfigError> {
    match parse::<i64>(env, name)? {
        Some(v) if v > 0 => Ok(v),
        Some(_) => Err(invalid(name, "must be a positive integer")),
        None => Ok(default),
    }
}

fn list(env: &dyn Env, name: &str) -> Vec<String> {
    env.get(name)
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

impl Settings {
    /// Resolves settings from flags, the environment and config.json.
    pub fn resolve(flags: &Flags, env: &dyn Env) -> Result<Settings, ConfigError> {
        let config_dir = config_dir(env);
        let file = read_file(&config_dir.join("config.json"))?;
        let port = match flags.port {
            Some(p) => p,
            None => parse::<u16>(env, "PORT")?.or(file.server.port).unwrap_or(DEFAULT_PORT),
        };
        let bind_text = flags
            .bind
            .clone()
            .or_else(|| env.get("COORDINATOR_BIND"))
            .or(file.server.bind)
            .unwrap_or_else(|| "127.0.0.1".to_owned());
        let bind: IpAddr =
            bind_text.parse().map_err(|_| invalid("COORDINATOR_BIND", format!("not an IP address: {bind_text:?}")))?;
        let data_dir = flags
            .data_dir
            .clone()
            .or_else(|| env.get("COORDINATOR_DATA_DIR").map(PathBuf::from))
            .or_else(|| file.server.data_dir.map(PathBuf::from))
            .unwrap_or_else(|| config_dir.join("data"));
        let (data_dir, postgres) =
            database_path(flags.database_url.clone().or_else(|| env.get("COORDINATOR_DATABASE_URL")), data_dir)?;
        let database = match postgres {
            Some(url) => Database::Postgres(url),
            None => Database::Sqlite(sqlite_file(&data_dir)),
        };
        let db_pool_size = u32::try_from(positive(env, "COORDINATOR_DB_POOL_SIZE", 10)?)
            .map_err(|_| invalid("COORDINATOR_DB_POOL_SIZE", "too large"))?;
        let repo_roots = if flags.repo_roots.is_empty() {
            env.get("COORDINATOR_REPO_ROOT")
                .map(|v| std::env::split_paths(&v).map(|p| p.display().to_string()).collect())
                .unwrap_or_default()
        } else {
            flags.repo_roots.clone()
        };
        for r in &repo_roots {
            if !Path::new(r).is_absolute() {
                return Err(invalid("COORDINATOR_REPO_ROOT", format!("repo roots must be absolute paths: {r:?}")));
            }
        }
        let session_mode = match env.get("COORDINATOR_MCP_SESSION_MODE").as_deref() {
            None | Some("stateless") => SessionMode::Stateless,
            Some("stateful") => SessionMode::Stateful,
            Some(other) => {
                return Err(invalid(
                    "COORDINATOR_MCP_SESSION_MODE",
                    format!("expected stateless or stateful, got {other:?}"),
                ));
            }
        };
        let online_ttl_secs = match parse::<i64>(env, "COORDINATOR_AGENT_ONLINE_TTL_SECONDS") {
            Ok(Some(v)) if v > 0 => v,
            _ => 900, // invalid or ≤ 0 → default (threads.md §1.2)
        };
        let log_json = match flags.log_json {
            Some(v) => v,
            None => parse_bool(env, "COORDINATOR_LOG_JSON")?.unwrap_or(true),
        };
        let cluster = cluster::resolve(cluster::ClusterInput {
            lease_ttl_ms: positive(env, "COORDINATOR_LEASE_TTL_MS", 60_000)?.unsigned_abs(),
            lease_renew_ms: positive(env, "COORDINATOR_LEASE_RENEW_MS", 20_000)?.unsigned_abs(),
        })?;
        let register_rate_limit = RateLimit {
            per: u32::try_from(positive(env, "COORDINATOR_REGISTER_RATE_LIMIT_PER", 10)?)
                .map_err(|_| invalid("COORDINATOR_REGISTER_RATE_LIMIT_PER", "too large"))?,
            window_secs: positive(env, "COORDINATOR_REGISTER_RATE_LIMIT_WINDOW_SECONDS", 60)?.unsigned_abs(),
        };
        Ok(Settings {
            port,
            bind,
            data_dir,
            database,
            db_pool_size,
            config_dir,
            repo_roots,
            online_ttl_secs,
            working_files_ttl_min: match flags.working_files_ttl_min {
                Some(v) if v > 0 => v,
                Some(_) => return Err(invalid("--working-files-ttl-min", "must be a positive integer")),
                None => positive(env, "COORDINATOR_WORKING_FILES_TTL_MIN", 30)?,
            },
            working_files_sweep_ms: match flags.working_files_sweep_ms {
                Some(v) => v,
                None => positive(env, "COORDINATOR_WORKING_FILES_SWEEP_INTERVAL_MS", 60_000)?.unsigned_abs(),
            },
            allowed_hosts: list(env, "COORDINATOR_ALLOWED_HOSTS"),
            allowed_origins: list(env, "COORDINATOR_ALLOWED_ORIGINS"),
            allow_reset: parse_bool(env, "COORDINATOR_ALLOW_RESET")?.unwrap_or(false),
            sse_heartbeat_ms: positive(env, "COORDINATOR_SSE_HEARTBEAT_MS", 30_000)?.unsigned_abs(),
            max_sse_clients: positive(env, "COORDINATOR_MAX_SSE_CLIENTS", 100)?.unsigned_abs() as usize,
            inbox_max_backlog: positive(env, "COORDINATOR_INBOX_MAX_BACKLOG", 1000)?.unsigned_abs() as usize,
            public_url: env.get("COORDINATOR_PUBLIC_URL"),
            session_mode,
            session_ttl_ms: positive(env, "COORDINATOR_MCP_SESSION_TTL_MS", 1_800_000)?.unsigned_abs(),
            redis_url: redis_url(flags.redis_url.clone().or_else(|| env.get("COORDINATOR_REDIS_URL")))?,
            redis_prefix: env.get("COORDINATOR_REDIS_PREFIX").unwrap_or_else(|| "coordinator:".to_owned()),
            json_response: parse_bool(env, "COORDINATOR_MCP_JSON_RESPONSE")?.unwrap_or(true),
            max_body_bytes: match flags.max_body_bytes {
                Some(v) => v,
                None => positive(env, "COORDINATOR_MAX_BODY_BYTES", 1_048_576)?.unsigned_abs() as usize,
            },
            shutdown_drain_ms: positive(env, "COORDINATOR_SHUTDOWN_DRAIN_MS", 5_000)?.unsigned_abs(),
            daemon_bind_timeout_ms: positive(env, "COORDINATOR_DAEMON_BIND_TIMEOUT_MS", 15_000)?.unsigned_abs(),
            migrate_on_boot: parse_bool(env, "COORDINATOR_MIGRATE_ON_BOOT")?.unwrap_or(true),
            sweeper_enabled: parse_bool(env, "COORDINATOR_SWEEPER_ENABLED")?.unwrap_or(true),
            retention: Retention {
                file_activity_days: positive(env, "COORDINATOR_FILE_ACTIVITY_RETENTION_DAYS", 7)?,
                events_days: positive(env, "COORDINATOR_EVENTS_RETENTION_DAYS", 7)?,
                inbox_days: positive(env, "COORDINATOR_INBOX_RETENTION_DAYS", 7)?,
                thread_messages_days: positive(env, "COORDINATOR_THREAD_MESSAGES_RETENTION_DAYS", 30)?,
                action_summaries_days: positive(env, "COORDINATOR_ACTION_SUMMARIES_RETENTION_DAYS", 30)?,
                layer_firings_days: positive(env, "COORDINATOR_LAYER_FIRINGS_RETENTION_DAYS", 30)?,
            },
            log_level: env.get("LOG_LEVEL").unwrap_or_else(|| "info".to_owned()),
            log_json,
            mqtt: mqtt_config(env)?,
            cluster,
            timeout_sweep_ms: positive(env, "COORDINATOR_TIMEOUT_SWEEP_INTERVAL_MS", 30_000)?.unsigned_abs(),
            register_rate_limit,
        })
    }

    /// The SQLite database file (`<data dir>/coordinator.db`, or the file named by `sqlite://<path>`). With
    /// Postgres selected it is where an SQLite file would be; nothing opens it.
    pub fn database_file(&self) -> PathBuf {
        sqlite_file(&self.data_dir)
    }
}

fn mqtt_config(env: &dyn Env) -> Result<MqttConfig, ConfigError> {
    let bind_text = env.get("COORDINATOR_MQTT_TCP_BIND").unwrap_or_else(|| "127.0.0.1".to_owned());
    let tcp_bind = bind_text
        .trim()
        .parse()
        .map_err(|_| invalid("COORDINATOR_MQTT_TCP_BIND", format!("not an IP address: {bind_text:?}")))?;
    let ws_path = env.get("COORDINATOR_MQTT_WS_PATH").unwrap_or_else(|| "/mqtt".to_owned());
    if !ws_path.starts_with('/') || ws_path.len() < 2 || ws_path.contains(['?', '#', ' ', '{', '}', '*']) {
        return Err(invalid("COORDINATOR_MQTT_WS_PATH", format!("expected a path like /mqtt, got {ws_path:?}")));
    }
    let embedded = parse_bool(env, "COORDINATOR_MQTT_EMBEDDED")?.unwrap_or(true);
    let url = env.get("COORDINATOR_MQTT_URL");
    match (&url, embedded) {
        (None, false) => {
            return Err(invalid("COORDINATOR_MQTT_URL", "required when COORDINATOR_MQTT_EMBEDDED=false"));
        }
        (Some(u), false) if !(u.starts_with("mqtt://") || u.starts_with("ws://")) => {
            return Err(invalid(
                "COORDINATOR_MQTT_URL",
                format!("expected mqtt://host:port or ws://host:port/path, got {u:?}"),
            ));
        }
        _ => {}
    }
    Ok(MqttConfig {
        embedded,
        url,
        username: env.get("COORDINATOR_MQTT_USERNAME"),
        password: env.get("COORDINATOR_MQTT_PASSWORD"),
        tcp_port: parse::<u16>(env, "COORDINATOR_MQTT_TCP_PORT")?.unwrap_or(1883),
        tcp_bind,
        ws_path,
        ws_max_payload_bytes: positive(env, "COORDINATOR_MQTT_WS_MAX_PAYLOAD_BYTES", 1_048_576)?.unsigned_abs()
            as usize,
        required: parse_bool(env, "COORDINATOR_MQTT_REQUIRED")?.unwrap_or(false),
    })
}

/// `COORDINATOR_REDIS_URL` / `--redis-url`: `redis://…` or a Unix socket (`redis+unix://`, `unix://`); unset = no
/// Redis. `rediss://` (TLS) is refused: the `redis` crate is built without a TLS feature.
fn redis_url(v: Option<String>) -> Result<Option<SecretUrl>, ConfigError> {
    let Some(url) = v.filter(|u| !u.trim().is_empty()) else { return Ok(None) };
    if !["redis://", "redis+unix://", "unix://"].iter().any(|scheme| url.starts_with(scheme)) {
        return Err(invalid(
            "COORDINATOR_REDIS_URL",
            format!(
                "expected redis://host:port or redis+unix:///path (rediss:// is not supported), got {:?}",
                redact_password(&url)
            ),
        ));
    }
    Ok(Some(SecretUrl(url)))
}

/// A URL that may carry a password: dereferences to the URL, but `Debug` masks the password (settings are
/// printable without leaking it).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl std::ops::Deref for SecretUrl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", redact_password(&self.0))
    }
}

fn sqlite_file(data_dir: &Path) -> PathBuf {
    if data_dir.extension().is_some_and(|e| e == "db") { data_dir.to_owned() } else { data_dir.join("coordinator.db") }
}

/// `COORDINATOR_DATABASE_URL`: unset → `<data_dir>/coordinator.db`; `sqlite://<path>` → that file (returned in
/// place of the data dir); `postgres://…` / `postgresql://…` → that server (second value).
fn database_path(url: Option<String>, data_dir: PathBuf) -> Result<(PathBuf, Option<String>), ConfigError> {
    match url {
        None => Ok((data_dir, None)),
        Some(u) if u.starts_with("sqlite://") => {
            let p = PathBuf::from(u.trim_start_matches("sqlite://"));
            if p.as_os_str().is_empty() {
                return Err(invalid("COORDINATOR_DATABASE_URL", "sqlite:// needs a file path"));
            }
            Ok((p, None))
        }
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            let host = u.split_once("://").map(|(_, rest)| rest).unwrap_or_default();
            if host.is_empty() {
                return Err(invalid("COORDINATOR_DATABASE_URL", "postgres:// needs a host (postgres://user@host/db)"));
            }
            Ok((data_dir, Some(u)))
        }
        Some(u) => Err(invalid(
            "COORDINATOR_DATABASE_URL",
            format!("unsupported scheme in {:?} (use sqlite://<path> or postgres://…)", redact_password(&u)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn precedence_flag_env_file_default() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().display().to_string();
        let s = Settings::resolve(&Flags::default(), &env(&[("HOME", &h)])).unwrap();
        assert_eq!((s.port, s.bind.to_string()), (3100, "127.0.0.1".to_owned()));
        assert_eq!(s.data_dir, home.path().join(".mcp-coordinator/data"));
        std::fs::create_dir_all(home.path().join(".mcp-coordinator")).unwrap();
        std::fs::write(home.path().join(".mcp-coordinator/config.json"), r#"{"server":{"port":4000},"x":1}"#).unwrap();
        assert_eq!(Settings::resolve(&Flags::default(), &env(&[("HOME", &h)])).unwrap().port, 4000);
        assert_eq!(Settings::resolve(&Flags::default(), &env(&[("HOME", &h), ("PORT", "4100")])).unwrap().port, 4100);
        let flags = Flags { port: Some(4200), ..Flags::default() };
        assert_eq!(Settings::resolve(&flags, &env(&[("HOME", &h), ("PORT", "4100")])).unwrap().port, 4200);
    }

    #[test]
    fn database_url_selects_the_backend() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().display().to_string();
        let s = Settings::resolve(&Flags::default(), &env(&[("HOME", &h)])).unwrap();
        assert_eq!(s.database, Database::Sqlite(home.path().join(".mcp-coordinator/data/coordinator.db")));
        assert_eq!(s.db_pool_size, 10);
        let s = Settings::resolve(
            &Flags::default(),
            &env(&[("HOME", &h), ("COORDINATOR_DATABASE_URL", "sqlite:///x/c.db")]),
        )
        .unwrap();
        assert_eq!(
            (s.database.clone(), s.database_file()),
            (Database::Sqlite("/x/c.db".into()), PathBuf::from("/x/c.db"))
        );
        for url in ["postgres://u:secret@db:5432/coord?sslmode=require", "postgresql://u@db/coord"] {
            let e = env(&[("HOME", &h), ("COORDINATOR_DATABASE_URL", url), ("COORDINATOR_DB_POOL_SIZE", "4")]);
            let s = Settings::resolve(&Flags::default(), &e).unwrap();
            assert_eq!((s.database.clone(), s.db_pool_size), (Database::Postgres(url.into()), 4));
            assert!(!format!("{s:?}").contains("secret"), "the password never shows in Debug output");
        }
        assert_eq!(Database::Postgres("postgres://u:pw@h:1/d".into()).redacted(), "postgres://u:***@h:1/d".to_owned());
        let flags = Flags { database_url: Some("postgres://flag@h/d".into()), ..Flags::default() };
        let s =
            Settings::resolve(&flags, &env(&[("HOME", &h), ("COORDINATOR_DATABASE_URL", "sqlite:///x.db")])).unwrap();
        assert_eq!(s.database, Database::Postgres("postgres://flag@h/d".into()), "flag over env");
        for (k, v) in [
            ("COORDINATOR_DATABASE_URL", "mysql://x"),
            ("COORDINATOR_DATABASE_URL", "postgres://"),
            ("COORDINATOR_DB_POOL_SIZE", "0"),
        ] {
            let e = Settings::resolve(&Flags::default(), &env(&[("HOME", &h), (k, v)])).unwrap_err();
            assert!(e.to_string().starts_with(k), "{e}");
        }
    }

    #[test]
    fn mqtt_settings() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().display().to_string();
        let s = Settings::resolve(&Flags::default(), &env(&[("HOME", &h)])).unwrap().mqtt;
        assert_eq!((s.tcp_port, s.tcp_bind.to_string(), s.ws_path.as_str()), (1883, "127.0.0.1".into(), "/mqtt"));
        assert_eq!((s.ws_max_payload_bytes, s.required, s.embedded), (1_048_576, false, true));
        let e = env(&[("HOME", &h), ("COORDINATOR_MQTT_EMBEDDED", "false")]);
        assert!(Settings::resolve(&Flags::default(), &e).unwrap_err().to_string().starts_with("COORDINATOR_MQTT_URL"));
        let e = env(&[("HOME", &h), ("COORDINATOR_MQTT_EMBEDDED", "false"), ("COORDINATOR_MQTT_URL", "mqtt://b:1884")]);
        let s = Settings::resolve(&Flags::default(), &e).unwrap().mqtt;
        assert_eq!((s.embedded, s.url.as_deref()), (false, Some("mqtt://b:1884")));
        let e = env(&[
            ("HOME", &h),
            ("COORDINATOR_MQTT_TCP_PORT", "0"),
            ("COORDINATOR_MQTT_TCP_BIND", "0.0.0.0"),
            ("COORDINATOR_MQTT_WS_PATH", "/ws/mqtt"),
            ("COORDINATOR_MQTT_REQUIRED", "true"),
        ]);
        let s = Settings::resolve(&Flags::default(), &e).unwrap().mqtt;
        assert_eq!(
            (s.tcp_port, s.tcp_bind.to_string(), s.ws_path.as_str(), s.required),
            (0, "0.0.0.0".into(), "/ws/mqtt", true)
        );
        for (k, v) in [
            ("COORDINATOR_MQTT_WS_PATH", "mqtt"),
            ("COORDINATOR_MQTT_TCP_PORT", "70000"),
            ("COORDINATOR_MQTT_TCP_BIND", "x"),
        ] {
            let err = Settings::resolve(&Flags::default(), &env(&[("HOME", &h), (k, v)])).unwrap_err();
            assert!(err.to_string().starts_with(k), "{err}");
        }
    }

    #[test]
    fn redis_settings() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().display().to_string();
        let s = Settings::resolve(&Flags::default(), &env(&[("HOME", &h)])).unwrap();
        assert_eq!((s.redis_url, s.redis_prefix.as_str()), (None, "coordinator:"));
        let e =
            env(&[("HOME", &h), ("COORDINATOR_REDIS_URL", "redis://r:6379/0"), ("COORDINATOR_REDIS_PREFIX", "c1:")]);
        let s = Settings::resolve(&Flags::default(), &e).unwrap();
        assert_eq!((s.redis_url.as_deref(), s.redis_prefix.as_str()), (Some("redis://r:6379/0"), "c1:"));
        let s = Settings::resolve(
            &Flags::default(),
            &env(&[("HOME", &h), ("COORDINATOR_REDIS_URL", "redis://:hunter2@r:6379/0")]),
        )
        .unwrap();
        assert!(!format!("{s:?}").contains("hunter2"), "the Redis password never shows in Debug output");
        for url in ["http://u:secret@r:6379", "rediss://u:secret@r:6379"] {
            let e = env(&[("HOME", &h), ("COORDINATOR_REDIS_URL", url)]);
            let err = Settings::resolve(&Flags::default(), &e).unwrap_err().to_string();
            assert!(err.starts_with("COORDINATOR_REDIS_URL") && !err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn bad_values_name_the_variable() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().display().to_string();
        let e = Settings::resolve(&Flags::default(), &env(&[("HOME", &h), ("PORT", "http")])).unwrap_err();
        assert!(e.to_string().starts_with("PORT:"), "{e}");
        let e = Settings::resolve(&Flags::default(), &env(&[("HOME", &h), ("COORDINATOR_BIND", "localhost:1")]))
            .unwrap_err();
        assert!(e.to_string().contains("COORDINATOR_BIND"));
        std::fs::create_dir_all(home.path().join(".mcp-coordinator")).unwrap();
        std::fs::write(home.path().join(".mcp-coordinator/config.json"), "{oops").unwrap();
        let e = Settings::resolve(&Flags::default(), &env(&[("HOME", &h)])).unwrap_err();
        assert!(e.to_string().contains("malformed JSON"), "{e}");
    }
}
