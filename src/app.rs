//! Wiring: `App::build(Settings)` opens the store (SQLite or Postgres, per `Settings::database`), starts the core, binds the HTTP listener (port 0 works; the
//! real port is reported) and the background jobs; `App::run_until_stopped` serves until shutdown, then drains.

use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::cluster::lease::{LeaseConfig, RedisLeader};
use crate::cluster::ratelimit::{MemoryRateLimiter, RedisRateLimiter};
use crate::cluster::redis_bus::RedisBus;
use crate::cluster::redis_conn::RedisConn;
use crate::config::{Database, SessionMode, Settings};
use crate::core::paths::RepoRoots;
use crate::core::ports::{AlwaysLeader, Clock, Leader, LocalBus, RateLimiter, Store, SystemClock};
use crate::core::{Core, CoreSettings};
use crate::http::{AppState, Limits, ListenerInfo, Policy, SseConfig};
use crate::jobs::{self, RetentionSweeper};
use crate::lifecycle::Shutdown;
use crate::mcp::{CoreBackend, McpHttpConfig, McpServer, SessionRegistry};
use crate::mqtt::broker::BrokerSettings;
use crate::mqtt::external::ExternalSettings;
use crate::mqtt::retained::RETAINED_CAP;
use crate::mqtt::ws::WsBridge;
use crate::mqtt::{Broker, MqttAuthenticator, OpenAuthenticator, TcpStatus};
use crate::store::postgres::{PgStore, ReplicaMarker, claim_replica};
use crate::store::sqlite::{MigrateMode, SqliteStore};

/// A built, listening server.
pub struct App {
    listener: TcpListener,
    router: axum::Router,
    core: Core,
    shutdown: Shutdown,
    addr: SocketAddr,
    mqtt: TcpStatus,
    drain: Duration,
    /// `server.lock` of the SQLite data directory (None on Postgres, which many processes may share).
    _lock: Option<File>,
    /// This server's replica lock on a Postgres database (None on SQLite).
    _replica: Option<ReplicaMarker>,
}

/// Takes `<data dir>/server.lock` so two servers never share one SQLite file (and `restore` never replaces the
/// file under a running server). The lock lives as long as the returned file.
pub fn lock_data_dir(db: &Path) -> anyhow::Result<File> {
    let dir = db.parent().context("database path has no parent directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let path = dir.join("server.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}: is the data directory writable?", path.display()))?;
    if file.try_lock().is_err() {
        bail!("another mcp-coordinator server already uses {} (lock {} is held)", dir.display(), path.display());
    }
    Ok(file)
}

/// Repo roots as written and canonicalised.
pub fn repo_roots(settings: &Settings) -> RepoRoots {
    let mut all: Vec<String> = Vec::new();
    for r in &settings.repo_roots {
        all.push(r.clone());
        if let Ok(c) = std::fs::canonicalize(r) {
            all.push(c.display().to_string());
        }
    }
    RepoRoots::new(all)
}

/// Opens the store and starts the core (shared by the server and stdio).
pub async fn build_core(settings: &Settings) -> anyhow::Result<Core> {
    build_core_with(settings, Arc::new(SystemClock)).await
}

/// Opens the selected store; migrates it (`COORDINATOR_MIGRATE_ON_BOOT`) or requires an up-to-date schema.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    match &settings.database {
        Database::Sqlite(db) => {
            let db = db.clone();
            let mode = if settings.migrate_on_boot { MigrateMode::Apply } else { MigrateMode::RequireCurrent };
            let store = tokio::task::spawn_blocking(move || SqliteStore::open_with(&db, mode))
                .await
                .context("store task failed")?
                .map_err(|e| anyhow::anyhow!("{}: {e}", settings.database_file().display()))?;
            Ok(Arc::new(store))
        }
        Database::Postgres(url) => {
            let shown = settings.database.redacted();
            let store = PgStore::connect(url, settings.db_pool_size)
                .await
                .map_err(|e| anyhow::anyhow!("cannot connect to Postgres at {shown}: {e}"))?;
            if settings.migrate_on_boot {
                store.migrate().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            } else {
                store.require_current().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            Ok(Arc::new(store))
        }
    }
}

/// `build_core` with an explicit clock (tests drive time by hand).
pub async fn build_core_with(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Core> {
    let store = open_store(settings).await?;
    start_core(settings, store, Arc::new(LocalBus::new(4096)), clock).await
}

/// Starts the core on an opened store and a bus.
async fn start_core(
    settings: &Settings,
    store: Arc<dyn Store>,
    bus: Arc<dyn crate::core::ports::EventBus>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Core> {
    let core_settings = CoreSettings {
        online_ttl_secs: settings.online_ttl_secs,
        working_files_ttl_min: settings.working_files_ttl_min,
        repo_roots: repo_roots(settings),
        inbox_max_backlog: settings.inbox_max_backlog,
    };
    Core::start(store, bus, clock, core_settings)
        .await
        .map_err(|e| anyhow::anyhow!("cannot load the coordinator state: {e}"))
}

impl App {
    /// Opens the store, binds the listener and starts the jobs.
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// `build` with an explicit clock.
    pub async fn build_with_clock(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        Self::build_with(settings, clock, Arc::new(OpenAuthenticator)).await
    }

    /// `build` with an explicit clock and MQTT authenticator.
    pub async fn build_with(
        settings: Settings,
        clock: Arc<dyn Clock>,
        mqtt_auth: Arc<dyn MqttAuthenticator>,
    ) -> anyhow::Result<App> {
        let lock = match &settings.database {
            Database::Sqlite(db) => Some(lock_data_dir(db)?),
            Database::Postgres(_) => None,
        };
        let store = open_store(&settings).await?;
        // One id per process: the fan-out's origin and the holder of job leases.
        let instance = crate::cluster::instance_id();
        let redis = match &settings.redis_url {
            Some(url) => Some(RedisBus::new(url, &settings.redis_prefix, instance.clone(), 4096)?),
            None => None,
        };
        let bus: Arc<dyn crate::core::ports::EventBus> = match &redis {
            Some(r) => r.clone(),
            None => Arc::new(LocalBus::new(4096)),
        };
        let core = start_core(&settings, store.clone(), bus, clock).await?;
        let replica = match &settings.database {
            Database::Sqlite(_) => None,
            Database::Postgres(url) => Some(claim_replica(url).await.map_err(|e| anyhow::anyhow!("{e}"))?),
        };
        let other_replica = replica.as_ref().is_some_and(|r| r.other_replica);
        if let Some(Database::Sqlite(_)) = redis.as_ref().map(|_| &settings.database) {
            tracing::warn!(
                component = "app",
                "COORDINATOR_REDIS_URL with SQLite: SQLite allows one server per database, so this stays one replica"
            );
        }
        if other_replica && redis.is_none() {
            tracing::warn!(
                component = "app",
                "another mcp-coordinator server uses this Postgres database without Redis: set COORDINATOR_REDIS_URL \
                 on every replica, or events, indexes and leases do not cross replicas"
            );
        }
        let session_store = shared_session_store(&settings).await?;
        let addr = SocketAddr::new(settings.bind, settings.port);
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            anyhow::anyhow!("cannot listen on {addr}: {e} (is another server running? choose another --port or PORT)")
        })?;
        let addr = listener.local_addr().context("listener has no local address")?;
        let shutdown = Shutdown::new();
        if let Some(r) = &redis {
            r.start(&core, store, &shutdown).await?;
            tracing::info!(component = "redis", origin = %r.origin(),
                url = %crate::config::redact_password(settings.redis_url.as_deref().unwrap_or_default()),
                "cross-replica fan-out through Redis");
        }
        let broker = match start_mqtt(&core, &settings, mqtt_auth, &shutdown).await {
            Ok(b) => b,
            Err(e) => {
                shutdown.trigger();
                return Err(e);
            }
        };
        let tcp = broker.as_ref().map(|b| b.tcp.clone()).unwrap_or_default();
        let retention =
            settings.sweeper_enabled.then(|| RetentionSweeper::new(core.clone(), settings.retention.clone()));
        let cluster = match start_cluster(&settings, &instance, &shutdown).await {
            Ok(c) => c,
            Err(e) => {
                shutdown.trigger();
                return Err(e);
            }
        };
        let every = jobs::Intervals {
            timeouts: Duration::from_millis(settings.timeout_sweep_ms),
            working_files: Duration::from_millis(settings.working_files_sweep_ms),
        };
        jobs::spawn_all(&shutdown, &core, cluster.leader, every, retention.clone());
        let mcp = McpServer::new(Arc::new(CoreBackend::new(core.clone()))).with_shutdown(shutdown.token());
        let mut allowed_hosts = settings.allowed_hosts.clone();
        if let Some(host) = settings.public_url.as_deref().and_then(public_host) {
            allowed_hosts.push(host);
        }
        let mcp_cfg = McpHttpConfig {
            stateful: settings.session_mode == SessionMode::Stateful,
            session_store,
            json_response: settings.json_response,
            allowed_hosts,
            session_ttl: Duration::from_millis(settings.session_ttl_ms),
            max_body_bytes: settings.max_body_bytes,
            cancel: shutdown.token(),
        };
        let state_core = core.clone();
        let state = AppState {
            core,
            started: Instant::now(),
            shutdown: shutdown.token(),
            info: ListenerInfo {
                http_port: addr.port(),
                bind_all: settings.bind.is_unspecified(),
                storage_backend: match settings.database {
                    Database::Sqlite(_) => "sqlite",
                    Database::Postgres(_) => "postgres",
                },
                other_replica,
                mqtt_embedded: broker.is_some(),
                mqtt_tcp_port: tcp.port,
                mqtt_tcp_error: tcp.error.clone(),
                redis_connected: redis.as_ref().map(|r| r.connected_flag()),
            },
            retention,
            allow_reset: settings.allow_reset,
            sse: SseConfig::new(Duration::from_millis(settings.sse_heartbeat_ms), settings.max_sse_clients),
            limits: Limits { limiter: cluster.limiter, register: settings.register_rate_limit },
        };
        let policy = Policy { hosts: mcp_cfg.allowed_hosts.clone(), origins: allowed_origins(&settings) };
        // With an external broker there is no `/mqtt` (it answers 404).
        let mqtt_ws = broker.as_ref().map_or_else(axum::Router::new, |b| {
            let ws = WsBridge {
                target: b.ws_target,
                max_payload: settings.mqtt.ws_max_payload_bytes,
                policy: Arc::new(policy.clone()),
                cancel: shutdown.token(),
            };
            crate::mqtt::ws::router(&settings.mqtt.ws_path, ws)
        });
        let router =
            crate::http::router(state, crate::mcp::router(mcp, mcp_cfg), mqtt_ws, policy, settings.max_body_bytes);
        tracing::info!(component = "app", %addr, db = %settings.database.redacted(), "listening");
        Ok(App {
            listener,
            router,
            core: state_core,
            shutdown,
            addr,
            mqtt: tcp,
            drain: Duration::from_millis(settings.shutdown_drain_ms),
            _lock: lock,
            _replica: replica,
        })
    }

    /// The bound address (the real port when 0 was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The real MQTT TCP port (None when the listener could not bind).
    pub fn mqtt_tcp_port(&self) -> Option<u16> {
        self.mqtt.port
    }

    /// The domain handle (tests and embedders).
    pub fn core(&self) -> Core {
        self.core.clone()
    }

    /// A handle that stops the server.
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Serves until `stop` resolves or the shutdown handle fires, then drains within the grace period.
    pub async fn run_until_stopped(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let shutdown = self.shutdown.clone();
        let token = shutdown.token();
        let trigger = shutdown.clone();
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        // No Nagle delay on small pushes (SSE frames, MQTT over WebSocket).
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let serve = axum::serve(listener, service).with_graceful_shutdown(async move {
            tokio::select! {
                _ = stop => trigger.trigger(),
                _ = token.cancelled() => {}
            }
        });
        let drain = self.drain;
        let hard_stop = shutdown.token();
        let result = tokio::select! {
            r = serve.into_future() => r,
            _ = async move { hard_stop.cancelled().await; tokio::time::sleep(drain).await } => {
                tracing::warn!(component = "app", "connections still open after the drain period; closing them");
                Ok(())
            }
        };
        shutdown.trigger();
        if !shutdown.wait(drain).await {
            tracing::warn!(component = "app", "some background tasks did not stop within the drain period");
        }
        tracing::info!(component = "app", "stopped");
        result.context("HTTP server failed")
    }
}

/// What the cluster adapters give the rest of the app.
struct ClusterParts {
    leader: Arc<dyn Leader>,
    limiter: Arc<dyn RateLimiter>,
}

/// With `COORDINATOR_REDIS_URL`: Redis leases and shared rate limits (an unreachable Redis is a warning: the
/// server serves, its singleton jobs wait for Redis). Without: this process leads every job, limits in memory.
async fn start_cluster(settings: &Settings, instance: &str, shutdown: &Shutdown) -> anyhow::Result<ClusterParts> {
    let memory = MemoryRateLimiter::new();
    memory.spawn_eviction(shutdown);
    let Some(url) = settings.redis_url.as_deref() else {
        return Ok(ClusterParts { leader: Arc::new(AlwaysLeader), limiter: Arc::new(memory) });
    };
    let shown = crate::config::redact_password(url);
    let renew = Duration::from_millis(settings.cluster.lease_renew_ms);
    let timeout = (renew / 2).clamp(Duration::from_millis(100), Duration::from_secs(2));
    let redis =
        RedisConn::open(url, &settings.redis_prefix, timeout).map_err(|e| anyhow::anyhow!("Redis at {shown}: {e}"))?;
    if !redis.ping_within(Duration::from_millis(500)).await {
        tracing::warn!(component = "redis", redis = %shown, instance,
            "Redis unreachable: serving anyway; singleton jobs wait for it and rate limits stay per replica");
    }
    let cfg =
        LeaseConfig { instance: instance.to_owned(), ttl: Duration::from_millis(settings.cluster.lease_ttl_ms), renew };
    Ok(ClusterParts {
        leader: RedisLeader::new(redis.clone(), cfg, shutdown),
        limiter: Arc::new(RedisRateLimiter::new(redis, memory)),
    })
}

/// Stateful MCP sessions with `COORDINATOR_REDIS_URL` set: their records in Redis, so every replica can serve
/// them (`None`: in memory, or stateless mode).
async fn shared_session_store(settings: &Settings) -> anyhow::Result<Option<Arc<SessionRegistry>>> {
    let (SessionMode::Stateful, Some(url)) = (settings.session_mode, settings.redis_url.as_deref()) else {
        return Ok(None);
    };
    let ttl = Duration::from_millis(settings.session_ttl_ms);
    let registry = SessionRegistry::redis(url, &settings.redis_prefix, ttl)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to Redis (COORDINATOR_REDIS_URL): {e}"))?;
    Ok(Some(registry))
}

/// Starts the embedded broker (`Some`) or connects to the external one (`None`).
async fn start_mqtt(
    core: &Core,
    settings: &Settings,
    auth: Arc<dyn MqttAuthenticator>,
    shutdown: &Shutdown,
) -> anyhow::Result<Option<Broker>> {
    let m = &settings.mqtt;
    if !m.embedded {
        let ext = ExternalSettings {
            url: m.url.clone().unwrap_or_default(),
            username: m.username.clone(),
            password: m.password.clone(),
            required: m.required,
        };
        crate::mqtt::external::start(core, &ext, shutdown).await?;
        return Ok(None);
    }
    let cfg =
        BrokerSettings { tcp_bind: m.tcp_bind, tcp_port: m.tcp_port, required: m.required, retained_cap: RETAINED_CAP };
    Ok(Some(crate::mqtt::broker::start(core, &cfg, auth, shutdown).await?))
}

fn public_host(url: &str) -> Option<String> {
    let rest = url.split("://").nth(1)?;
    let host = rest.split('/').next()?;
    (!host.is_empty()).then(|| host.to_owned())
}

/// Allowed browser origins: the configured ones plus the public URL's origin.
fn allowed_origins(settings: &Settings) -> Vec<String> {
    let mut out = settings.allowed_origins.clone();
    if let Some(u) = &settings.public_url {
        let mut parts = u.splitn(4, '/');
        if let (Some(scheme), Some(_), Some(host)) = (parts.next(), parts.next(), parts.next()) {
            out.push(format!("{scheme}//{host}"));
        }
    }
    out
}
