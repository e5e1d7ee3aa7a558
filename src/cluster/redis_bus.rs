//! `RedisBus`: the `EventBus` and `ClusterLink` of a replica among several (events-mqtt.md §4, scoring.md §9).
//! Local events go to `subscribe_local` at once and through the sequencer to `subscribe`; every outgoing message
//! is queued to one publisher task (one pipelined round trip per batch, in order). A receiver task holds the
//! SUBSCRIBE connection: remote events go to the sequencer, index changes to the core's indexes, inbox and waiter
//! messages to the local waiters, client MQTT publishes to the local broker. After every (re)connect it rebuilds
//! the indexes and catches up on events from the store, so nothing missed during an outage stays missed. While
//! Redis is down the replica keeps serving from the store; outgoing messages are dropped (counted) — receivers
//! notice the gap by sequence number and resynchronise.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::redis_conn::RedisConn;
use super::sequencer::{SeqInput, Sequencer};
use super::wire::{self, EventMsg, InboxMsg, IndexMsg, MqttMsg, WaiterMsg};
use crate::core::Core;
use crate::core::announce::sync::IndexChange;
use crate::core::events::EventRecord;
use crate::core::ids::{AgentId, OrgId};
use crate::core::ports::{ClusterLink, EventBus, Qos, Store};
use crate::lifecycle::Shutdown;

/// Outgoing messages per pipelined round trip.
const BATCH: usize = 512;
/// Client MQTT publishes remembered for de-duplication.
const MQTT_DEDUP_WINDOW: usize = 10_000;
/// Reconnect backoff bounds.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Connect and command timeout.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// One message for the publisher task.
struct Outbound {
    channel: &'static str,
    body: Vec<u8>,
}

/// The Redis fan-out of one replica.
pub struct RedisBus {
    /// The SUBSCRIBE side (one dedicated connection per subscription).
    client: redis::Client,
    /// The PUBLISH side: the shared lazy, auto-reconnecting connection with bounded commands.
    conn: RedisConn,
    prefix: String,
    origin: String,
    local: broadcast::Sender<EventRecord>,
    all: broadcast::Sender<EventRecord>,
    seq_in: mpsc::UnboundedSender<SeqInput>,
    seq_rx: parking_lot::Mutex<Option<mpsc::UnboundedReceiver<SeqInput>>>,
    out: mpsc::UnboundedSender<Outbound>,
    out_rx: parking_lot::Mutex<Option<mpsc::UnboundedReceiver<Outbound>>>,
    index_seq: AtomicU64,
    mqtt_seq: AtomicU64,
    connected: Arc<AtomicBool>,
    dropped: AtomicU64,
}

impl RedisBus {
    /// Parses the URL; connects only when started.
    pub fn new(url: &str, prefix: &str, origin: String, capacity: usize) -> anyhow::Result<Arc<Self>> {
        let invalid = |e: &dyn std::fmt::Display| {
            anyhow::anyhow!("invalid COORDINATOR_REDIS_URL {}: {e}", crate::config::redact_password(url))
        };
        let client = redis::Client::open(url).map_err(|e| invalid(&e))?;
        let conn = RedisConn::open(url, prefix, IO_TIMEOUT).map_err(|e| invalid(&e))?;
        let (seq_in, seq_rx) = mpsc::unbounded_channel();
        let (out, out_rx) = mpsc::unbounded_channel();
        Ok(Arc::new(Self {
            client,
            conn,
            prefix: prefix.to_owned(),
            origin,
            local: broadcast::channel(capacity).0,
            all: broadcast::channel(capacity).0,
            seq_in,
            seq_rx: parking_lot::Mutex::new(Some(seq_rx)),
            out,
            out_rx: parking_lot::Mutex::new(Some(out_rx)),
            index_seq: AtomicU64::new(0),
            mqtt_seq: AtomicU64::new(0),
            connected: Arc::new(AtomicBool::new(false)),
            dropped: AtomicU64::new(0),
        }))
    }

    /// This replica's instance id.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The shared connection flag (`/readyz`).
    pub fn connected_flag(&self) -> Arc<AtomicBool> {
        self.connected.clone()
    }

    /// Whether the SUBSCRIBE connection is up.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Starts the sequencer, the publisher and the receiver, and links the core to the other replicas.
    pub async fn start(
        self: &Arc<Self>,
        core: &Core,
        store: Arc<dyn Store>,
        shutdown: &Shutdown,
    ) -> anyhow::Result<()> {
        let (Some(seq_rx), Some(out_rx)) = (self.seq_rx.lock().take(), self.out_rx.lock().take()) else {
            anyhow::bail!("the Redis bus was already started");
        };
        let sequencer = Sequencer::start(store, self.all.clone()).await?;
        shutdown.spawn(sequencer.run(seq_rx, shutdown.token()));
        shutdown.spawn(publish_loop(self.clone(), out_rx, shutdown.token()));
        shutdown.spawn(receive_loop(self.clone(), core.clone(), shutdown.token()));
        core.attach_link(self.clone());
        Ok(())
    }

    fn channel(&self, name: &str) -> String {
        self.conn.key(name)
    }

    fn send<T: serde::Serialize>(&self, channel: &'static str, msg: &T) {
        match serde_json::to_vec(msg) {
            Ok(body) => {
                if self.out.send(Outbound { channel, body }).is_err() {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => tracing::warn!(component = "redis", error = %e, "cannot encode a fan-out message"),
        }
    }

    /// Sends a client MQTT publish accepted here to the other replicas' brokers.
    pub fn forward_mqtt(&self, org: &OrgId, suffix: &str, payload: &[u8], qos: Qos, retain: bool) {
        let n = self.mqtt_seq.fetch_add(1, Ordering::Relaxed) + 1;
        let msg = MqttMsg {
            origin: self.origin.clone(),
            msg_id: format!("{}-{n}", self.origin),
            org: org.clone(),
            topic: suffix.to_owned(),
            payload_b64: MqttMsg::encode_payload(payload),
            qos: u8::from(qos == Qos::AtLeastOnce),
            retain,
        };
        self.send(wire::MQTT, &msg);
    }
}

impl EventBus for RedisBus {
    fn publish(&self, events: &[EventRecord]) {
        for e in events {
            let _ = self.local.send(e.clone());
            self.send(wire::EVENTS, &EventMsg::new(&self.origin, e));
        }
        let _ = self.seq_in.send(SeqInput::Local(events.to_vec()));
    }

    fn subscribe(&self) -> broadcast::Receiver<EventRecord> {
        self.all.subscribe()
    }

    fn subscribe_local(&self) -> broadcast::Receiver<EventRecord> {
        self.local.subscribe()
    }
}

impl ClusterLink for RedisBus {
    fn index_changed(&self, org: &OrgId, changes: &[IndexChange]) {
        let seq = self.index_seq.fetch_add(1, Ordering::Relaxed) + 1;
        let msg = IndexMsg { origin: self.origin.clone(), org: org.clone(), seq, changes: changes.to_vec() };
        self.send(wire::INDEX, &msg);
    }

    fn inbox_woken(&self, org: &OrgId, agents: &[AgentId]) {
        for a in agents {
            self.send(wire::INBOX, &InboxMsg { origin: self.origin.clone(), org: org.clone(), agent_id: a.clone() });
        }
    }

    fn waiter_registered(&self, org: &OrgId, agent: &AgentId, since: i64) {
        let msg =
            WaiterMsg { origin: self.origin.clone(), org: org.clone(), agent_id: agent.clone(), waiter_id: since };
        self.send(wire::WAITER, &msg);
    }

    fn mqtt_forward(&self, org: &OrgId, suffix: &str, payload: &[u8], qos: Qos, retain: bool) {
        self.forward_mqtt(org, suffix, payload, qos, retain);
    }
}

/// Publishes queued messages in order, one pipeline per batch; drops them while Redis is unreachable.
async fn publish_loop(bus: Arc<RedisBus>, mut rx: mpsc::UnboundedReceiver<Outbound>, cancel: CancellationToken) {
    let mut failing = false;
    loop {
        let first = tokio::select! {
            m = rx.recv() => m,
            _ = cancel.cancelled() => return,
        };
        let Some(first) = first else { return };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        let mut pipe = redis::pipe();
        for m in &batch {
            pipe.cmd("PUBLISH").arg(bus.channel(m.channel)).arg(&m.body).ignore();
        }
        let mut c = bus.conn.manager();
        match bus.conn.bounded(pipe.query_async::<()>(&mut c)).await {
            Ok(()) => {
                if failing {
                    tracing::info!(component = "redis", "publishing to Redis again");
                    failing = false;
                }
            }
            Err(e) => {
                bus.dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
                if !failing {
                    tracing::warn!(component = "redis", error = %e,
                        "cannot publish to Redis; other replicas catch up from the store when it returns");
                    failing = true;
                }
            }
        }
    }
}

/// What the receiver remembers between messages.
#[derive(Default)]
struct RecvState {
    /// Last index message seq per origin.
    index: HashMap<String, u64>,
    /// Recent MQTT message ids (de-duplication window).
    mqtt_ids: HashSet<String>,
    mqtt_order: VecDeque<String>,
}

/// Holds the SUBSCRIBE connection, reconnecting with backoff; resynchronises after each connect.
async fn receive_loop(bus: Arc<RedisBus>, core: Core, cancel: CancellationToken) {
    let mut backoff = BACKOFF_MIN;
    let mut warned = false;
    loop {
        let connected = tokio::select! {
            r = tokio::time::timeout(IO_TIMEOUT, subscribe_all(&bus)) => r,
            _ = cancel.cancelled() => return,
        };
        match connected {
            Ok(Ok(pubsub)) => {
                backoff = BACKOFF_MIN;
                warned = false;
                bus.connected.store(true, Ordering::Relaxed);
                tracing::info!(component = "redis", origin = %bus.origin, "subscribed to the Redis fan-out");
                let mut state = RecvState::default();
                // Anything published while we were not subscribed is in the store.
                resync(&bus, &core).await;
                let mut stream = pubsub.into_on_message();
                loop {
                    let msg = tokio::select! {
                        m = stream.next() => m,
                        _ = cancel.cancelled() => return,
                    };
                    let Some(msg) = msg else { break };
                    handle(&bus, &core, &mut state, msg.get_channel_name(), msg.get_payload_bytes()).await;
                }
                bus.connected.store(false, Ordering::Relaxed);
                tracing::warn!(component = "redis", "lost the Redis fan-out connection; reconnecting");
            }
            Ok(Err(e)) if !warned => {
                tracing::warn!(component = "redis", error = %e, "cannot subscribe to Redis; retrying");
                warned = true;
            }
            Err(_) if !warned => {
                tracing::warn!(component = "redis", "Redis did not answer the subscription; retrying");
                warned = true;
            }
            _ => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = cancel.cancelled() => return,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn subscribe_all(bus: &RedisBus) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = bus.client.get_async_pubsub().await?;
    for c in wire::ALL {
        pubsub.subscribe(bus.channel(c)).await?;
    }
    Ok(pubsub)
}

/// Rebuilds the indexes and catches up on events from the store.
async fn resync(bus: &RedisBus, core: &Core) {
    if let Err(e) = core.resync_indexes().await {
        tracing::warn!(component = "redis", error = %e, "cannot rebuild the scorer indexes from the store");
    }
    let _ = bus.seq_in.send(SeqInput::CatchUp);
}

fn decode<T: serde::de::DeserializeOwned>(channel: &str, body: &[u8]) -> Option<T> {
    match serde_json::from_slice(body) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(component = "redis", %channel, error = %e, "malformed fan-out message skipped");
            None
        }
    }
}

async fn handle(bus: &RedisBus, core: &Core, state: &mut RecvState, channel: &str, body: &[u8]) {
    let Some(name) = channel.strip_prefix(bus.prefix.as_str()) else { return };
    match name {
        wire::EVENTS => {
            if let Some(m) = decode::<EventMsg>(channel, body).filter(|m| m.origin != bus.origin) {
                let _ = bus.seq_in.send(SeqInput::Remote(m.into_record()));
            }
        }
        wire::INDEX => {
            let Some(m) = decode::<IndexMsg>(channel, body).filter(|m| m.origin != bus.origin) else { return };
            let prev = state.index.insert(m.origin.clone(), m.seq);
            if prev.is_some_and(|p| m.seq != p + 1) {
                tracing::warn!(component = "redis", origin = %m.origin, "missed index changes; rebuilding the indexes");
                resync(bus, core).await;
            } else {
                core.apply_remote_index(&m.org, &m.changes);
            }
        }
        wire::INBOX => {
            if let Some(m) = decode::<InboxMsg>(channel, body).filter(|m| m.origin != bus.origin) {
                core.wake_local_waiters(&m.org, std::slice::from_ref(&m.agent_id));
            }
        }
        wire::WAITER => {
            if let Some(m) = decode::<WaiterMsg>(channel, body).filter(|m| m.origin != bus.origin) {
                core.supersede_local_waiter(&m.org, &m.agent_id, m.waiter_id);
            }
        }
        wire::MQTT => {
            let Some(m) = decode::<MqttMsg>(channel, body).filter(|m| m.origin != bus.origin) else { return };
            if !state.mqtt_ids.insert(m.msg_id.clone()) {
                return;
            }
            state.mqtt_order.push_back(m.msg_id.clone());
            if state.mqtt_order.len() > MQTT_DEDUP_WINDOW
                && let Some(old) = state.mqtt_order.pop_front()
            {
                state.mqtt_ids.remove(&old);
            }
            if let Some(payload) = m.payload() {
                core.publish_mqtt_only(&m.org, &m.topic, payload, m.qos(), m.retain);
            }
        }
        _ => {}
    }
}
