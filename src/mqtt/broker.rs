//! The embedded rmqtt broker on our tokio runtime (ARCHITECTURE.md "The embedded MQTT broker"): one
//! `ServerContext`, the hook handler, persistent retained storage, the public TCP listener (a busy port degrades
//! unless required) and a loopback listener with PROXY protocol that the `/mqtt` WebSocket bridge feeds. Coordinator
//! publishes go through `EmbeddedBus` (the core's `MqttBus`), which forwards in order on one tracked task. Every task
//! runs under `Shutdown`; on cancellation the listeners close and the sessions are told to close, bounded in time.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use rmqtt::codec::types::{Publish as CodecPublish, QoS};
use rmqtt::context::ServerContext;
use rmqtt::hook::Type;
use rmqtt::net::{Builder, Listener};
use rmqtt::server::MqttServer;
use rmqtt::session::SessionState;
use rmqtt::types::{ClientId, From, Id, Message, Publish, Reason};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::auth::MqttAuthenticator;
use super::bridge::{self, Slots};
use super::hooks::Hooks;
use super::ingest::{self, INGEST_QUEUE};
use super::retained::{self, PersistentRetain};
use super::topics;
use crate::core::Core;
use crate::core::ids::OrgId;
use crate::core::ports::{MqttBus, Qos};
use crate::lifecycle::Shutdown;

/// Connections per process (events-mqtt.md §3.1).
pub const MAX_CONNECTIONS: usize = 10_000;
/// Queued outbound messages per connection.
pub const MAX_QUEUED: usize = 1_000;
/// Packet cap.
pub const MAX_PACKET: u32 = 1_048_576;
/// Persistent sessions are kept at most this long.
pub const SESSION_EXPIRY: Duration = Duration::from_secs(3600);
/// Bound on closing the sessions at shutdown.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Broker settings resolved by the config layer.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    pub tcp_bind: IpAddr,
    /// 0 = OS-assigned.
    pub tcp_port: u16,
    /// A TCP bind failure is fatal instead of degrading.
    pub required: bool,
    pub retained_cap: usize,
}

/// What the public TCP listener became.
#[derive(Debug, Clone, Default)]
pub struct TcpStatus {
    /// The real port when listening.
    pub port: Option<u16>,
    /// Why it is not listening.
    pub error: Option<String>,
}

/// A running broker.
#[derive(Debug, Clone)]
pub struct Broker {
    pub tcp: TcpStatus,
    /// Loopback listener (PROXY protocol) the WebSocket bridge connects to.
    pub ws_target: SocketAddr,
}

/// One coordinator publish queued for the broker.
struct Out {
    topic: String,
    payload: Vec<u8>,
    qos: Qos,
    retain: bool,
}

/// The core's `MqttBus` over the embedded broker; `publish` only enqueues.
pub struct EmbeddedBus {
    tx: mpsc::UnboundedSender<Out>,
    running: Arc<AtomicBool>,
}

impl MqttBus for EmbeddedBus {
    fn publish(&self, org: &OrgId, suffix: &str, payload: Vec<u8>, qos: Qos, retain: bool) {
        let out = Out { topic: topics::full(org, suffix), payload, qos, retain };
        if self.tx.send(out).is_err() {
            tracing::debug!(component = "mqtt", "broker stopped; coordinator publish dropped");
        }
    }
    fn connected(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }
}

fn builder(addr: SocketAddr) -> Builder {
    Builder::new()
        .laddr(addr)
        .allow_anonymous(false) // otherwise clients without a username skip the authentication hook
        .reuseaddr(Some(true))
        .nodelay(true)
        .max_connections(MAX_CONNECTIONS)
        .max_mqueue_len(MAX_QUEUED)
        .max_packet_size(MAX_PACKET)
        .max_qos_allowed(QoS::AtLeastOnce)
        .session_expiry_interval(SESSION_EXPIRY)
        .max_session_expiry_interval(SESSION_EXPIRY)
}

fn bind_tcp(cfg: &BrokerSettings) -> anyhow::Result<(Option<Listener>, TcpStatus)> {
    let addr = SocketAddr::new(cfg.tcp_bind, cfg.tcp_port);
    let bound = builder(addr).name("tcp").bind().and_then(Listener::tcp);
    match bound {
        Ok(l) => {
            let port = l.local_addr().map(|a| a.port()).unwrap_or(cfg.tcp_port);
            tracing::info!(component = "mqtt", addr = %SocketAddr::new(cfg.tcp_bind, port), "MQTT TCP listener ready");
            Ok((Some(l), TcpStatus { port: Some(port), error: None }))
        }
        Err(e) if cfg.required => bail!(
            "cannot listen for MQTT on {addr}: {e} (COORDINATOR_MQTT_TCP_PORT={}; free the port, choose another, \
             or unset COORDINATOR_MQTT_REQUIRED to run without the TCP listener)",
            cfg.tcp_port
        ),
        Err(e) => {
            let error = format!("cannot listen on {addr}: {e}");
            tracing::warn!(component = "mqtt", %error, port = cfg.tcp_port, variable = "COORDINATOR_MQTT_TCP_PORT",
                "MQTT TCP listener unavailable; MQTT over WebSocket and the MQTT tools keep working");
            Ok((None, TcpStatus { port: None, error: Some(error) }))
        }
    }
}

/// Starts the broker, its workers and the event bridge, and attaches the bus to the core.
pub async fn start(
    core: &Core,
    cfg: &BrokerSettings,
    auth: Arc<dyn MqttAuthenticator>,
    shutdown: &Shutdown,
) -> anyhow::Result<Broker> {
    let scx = ServerContext::new()
        .node_id(1)
        .busy_check_enable(false)
        .mqtt_max_sessions(MAX_CONNECTIONS as isize)
        .build()
        .await;
    let coordinator = From::from_custom(Id::from(1, ClientId::from_static("coordinator")));

    let stored = core.store().list_retained().await.context("cannot load retained MQTT messages")?;
    let (retain, persist_rx) = PersistentRetain::new(cfg.retained_cap);
    retain.load(&stored, &coordinator).await.context("cannot load retained MQTT messages")?;
    *scx.extends.retain_mut().await = Box::new(retain);
    let slots = Slots::from_retained(stored.iter().map(|m| (m.topic.as_str(), m.payload.as_slice())));

    let (ingest_tx, ingest_rx) = mpsc::channel(INGEST_QUEUE);
    let hooks = Hooks::new(auth, ingest_tx);
    let register = scx.extends.hook_mgr().register();
    for typ in [
        Type::ClientAuthenticate,
        Type::ClientConnack,
        Type::ClientSubscribeCheckAcl,
        Type::MessagePublishCheckAcl,
        Type::MessagePublish,
        Type::ClientDisconnected,
        Type::SessionTerminated,
    ] {
        register.add(typ, Box::new(hooks.clone())).await;
    }
    register.start().await;

    let (tcp, tcp_status) = bind_tcp(cfg)?;
    let loopback = builder(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
        .name("ws-bridge")
        .proxy_protocol(true)
        .bind()
        .and_then(Listener::tcp)
        .context("cannot open the loopback listener of MQTT over WebSocket")?;
    let ws_target = loopback.local_addr().context("loopback listener has no address")?;
    let mut server = MqttServer::new(scx.clone());
    if let Some(l) = tcp {
        server = server.listener_by_id(l, 1);
    }
    let server = server.listener_by_id(loopback, 2).build();

    let token = shutdown.token();
    let running = Arc::new(AtomicBool::new(true));
    let (tx, rx) = mpsc::unbounded_channel();
    shutdown.spawn(serve(server, scx.clone(), token.clone()));
    shutdown.spawn(forward(scx, coordinator, rx, running.clone(), token.clone()));
    shutdown.spawn(ingest::run(core.clone(), ingest_rx, token.clone()));
    shutdown.spawn(retained::run_writer(core.clone(), persist_rx, cfg.retained_cap, token.clone()));
    // Every replica's broker publishes every event; inboxes are fed once, by the replica that committed it.
    shutdown.spawn(bridge::run(core.clone(), core.bus().subscribe(), slots, bridge::Role::Broker, token.clone()));
    let local = core.bus().subscribe_local();
    shutdown.spawn(bridge::run(core.clone(), local, Slots::default(), bridge::Role::Inbox, token));
    core.attach_mqtt(Arc::new(EmbeddedBus { tx, running }));
    Ok(Broker { tcp: tcp_status, ws_target })
}

/// Accepts connections until cancelled, then closes the sessions (bounded).
async fn serve(server: MqttServer, scx: ServerContext, cancel: CancellationToken) {
    tokio::select! {
        r = server.run() => if let Err(e) = r {
            tracing::error!(component = "mqtt", error = %e, "MQTT broker stopped");
        },
        _ = cancel.cancelled() => {}
    }
    // The server future (and with it the listening sockets) is dropped here.
    let closing = async {
        let shared = scx.extends.shared().await;
        for entry in shared.iter() {
            if let Some(tx) = entry.tx() {
                let _ = tx.unbounded_send(Message::Closed(Reason::from_static("server shutting down")));
            }
        }
        drop(shared);
        while scx.connections.count() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(CLOSE_WAIT, closing).await.is_err() {
        tracing::warn!(component = "mqtt", "some MQTT connections were still open at shutdown");
    }
    tracing::info!(component = "mqtt", "MQTT broker stopped");
}

/// Forwards coordinator publishes in order (no client ACL applies, and our own hooks do not observe them).
async fn forward(
    scx: ServerContext,
    from: From,
    mut rx: mpsc::UnboundedReceiver<Out>,
    running: Arc<AtomicBool>,
    cancel: CancellationToken,
) {
    loop {
        let out = tokio::select! {
            o = rx.recv() => o,
            _ = cancel.cancelled() => break,
        };
        let Some(out) = out else { break };
        let qos = match out.qos {
            Qos::AtMostOnce => QoS::AtMostOnce,
            Qos::AtLeastOnce => QoS::AtLeastOnce,
        };
        let publish = CodecPublish {
            dup: false,
            retain: out.retain,
            qos,
            topic: out.topic.into(),
            packet_id: None,
            payload: Bytes::from(out.payload),
            properties: None,
        };
        if let Err(e) = SessionState::forwards(&scx, from.clone(), Publish::from(publish), false, None).await {
            tracing::warn!(component = "mqtt", error = %e, "coordinator publish failed");
        }
    }
    running.store(false, Ordering::Relaxed);
}
