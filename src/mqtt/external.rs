//! An external MQTT broker instead of the embedded one (events-mqtt.md §3.6): the coordinator connects as the client
//! `coordinator-internal-<epoch ms>` (MQTT 5, 5 s connect timeout, reconnect backoff 1 s → 30 s), publishes the
//! bridge's topics through it, and subscribes `coordinator/+/agents/+/status`, `coordinator/+/consultations/#` and
//! `coordinator/+/broadcast` with No Local (its own publishes already fed the inboxes) for inbox ingestion and MQTT
//! departures. Retained state and tenant ACLs are the broker's and the operator's job. While disconnected the bus
//! reports itself unavailable, so the MQTT tools say so.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use rumqttc::Transport;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet};
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use tokio_util::sync::CancellationToken;

use super::bridge::{self, Slots};
use super::hooks::Ingest;
use super::{ingest, topics};
use crate::core::Core;
use crate::core::ids::{AgentId, OrgId};
use crate::core::ports::{MqttBus, Qos};
use crate::lifecycle::Shutdown;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
const FILTERS: [&str; 3] =
    ["coordinator/+/agents/+/status", "coordinator/+/consultations/#", "coordinator/+/broadcast"];

/// How to reach the external broker.
#[derive(Debug, Clone)]
pub struct ExternalSettings {
    /// `mqtt://host[:port]` or `ws://host[:port]/path`.
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// An unreachable broker at boot is fatal.
    pub required: bool,
}

/// The core's `MqttBus` over the external broker.
pub struct ExternalBus {
    client: AsyncClient,
    connected: Arc<AtomicBool>,
}

impl MqttBus for ExternalBus {
    fn publish(&self, org: &OrgId, suffix: &str, payload: Vec<u8>, qos: Qos, retain: bool) {
        let qos = match qos {
            Qos::AtMostOnce => QoS::AtMostOnce,
            Qos::AtLeastOnce => QoS::AtLeastOnce,
        };
        if let Err(e) = self.client.try_publish(topics::full(org, suffix), qos, retain, payload) {
            tracing::warn!(component = "mqtt", error = %e, "external broker queue full; coordinator publish dropped");
        }
    }
    fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }
}

fn options(s: &ExternalSettings) -> anyhow::Result<MqttOptions> {
    let url = url::Url::parse(&s.url).with_context(|| format!("COORDINATOR_MQTT_URL is not a URL: {}", s.url))?;
    let host = url.host_str().context("COORDINATOR_MQTT_URL has no host")?.to_owned();
    let id = format!("coordinator-internal-{}", chrono::Utc::now().timestamp_millis());
    let mut opts = match url.scheme() {
        "mqtt" | "tcp" => MqttOptions::new(id, host, url.port().unwrap_or(1883)),
        "ws" => {
            let mut o = MqttOptions::new(id, s.url.clone(), url.port().unwrap_or(80));
            o.set_transport(Transport::Ws);
            o
        }
        other => bail!("COORDINATOR_MQTT_URL: scheme {other} is not supported in this version (use mqtt:// or ws://)"),
    };
    opts.set_keep_alive(Duration::from_secs(30))
        .set_connection_timeout(CONNECT_TIMEOUT.as_secs())
        .set_max_packet_size(Some(super::broker::MAX_PACKET));
    if let Some(u) = &s.username {
        opts.set_credentials(u.clone(), s.password.clone().unwrap_or_default());
    }
    Ok(opts)
}

fn subscribe(client: &AsyncClient) {
    let filters = FILTERS.iter().map(|f| {
        let mut f = Filter::new(*f, QoS::AtLeastOnce);
        f.nolocal = true;
        f
    });
    if let Err(e) = client.try_subscribe_many(filters) {
        tracing::warn!(component = "mqtt", error = %e, "cannot subscribe on the external broker");
    }
}

/// A publish seen on the external broker, as an ingestion job (the topic is trusted: ACLs are the operator's).
fn job(topic: &str, payload: &[u8]) -> Option<Ingest> {
    let (org, suffix) = topics::split(topic)?;
    let agent = topics::status_agent(suffix).map(AgentId::new);
    let will = serde_json::from_slice::<serde_json::Value>(payload)
        .is_ok_and(|v| v.get("reason").and_then(|r| r.as_str()) == Some("lwt_unexpected"));
    let payload = bytes::Bytes::copy_from_slice(payload);
    // The broker is shared: nothing is forwarded to other replicas, so QoS and retain do not matter here.
    let (qos, retain) = (crate::core::ports::Qos::AtMostOnce, false);
    Some(Ingest { org: OrgId::new(org), suffix: suffix.to_owned(), payload, agent, will, qos, retain })
}

/// Polls until the first CONNACK (or failure) within the connect timeout.
async fn first_connect(el: &mut EventLoop) -> anyhow::Result<()> {
    let wait = async {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(anyhow::anyhow!("{e}")),
            }
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT + Duration::from_secs(1), wait).await.context("connect timed out")?
}

/// Connects (fatal when required and unreachable), attaches the bus, and runs the event loop and the bridge.
pub async fn start(core: &Core, s: &ExternalSettings, shutdown: &Shutdown) -> anyhow::Result<()> {
    let (client, mut el) = AsyncClient::new(options(s)?, 1000);
    let connected = Arc::new(AtomicBool::new(false));
    match first_connect(&mut el).await {
        Ok(()) => {
            connected.store(true, Ordering::Relaxed);
            subscribe(&client);
            tracing::info!(component = "mqtt", url = %s.url, "connected to the external MQTT broker");
        }
        Err(e) if s.required => bail!(
            "cannot reach the external MQTT broker {}: {e} (COORDINATOR_MQTT_URL; unset COORDINATOR_MQTT_REQUIRED to \
             start without it)",
            s.url
        ),
        Err(e) => tracing::warn!(component = "mqtt", url = %s.url, error = %e,
            "external MQTT broker unreachable; retrying in the background, MQTT tools report it unavailable"),
    }
    core.attach_mqtt(Arc::new(ExternalBus { client: client.clone(), connected: connected.clone() }));
    shutdown.spawn(run(core.clone(), el, client, connected, shutdown.token()));
    // The broker is shared by every replica: each publishes only the events it committed.
    let rx = core.bus().subscribe_local();
    shutdown.spawn(bridge::run(core.clone(), rx, Slots::default(), bridge::Role::Both, shutdown.token()));
    Ok(())
}

async fn run(
    core: Core,
    mut el: EventLoop,
    client: AsyncClient,
    connected: Arc<AtomicBool>,
    cancel: CancellationToken,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let ev = tokio::select! {
            e = el.poll() => e,
            _ = cancel.cancelled() => break,
        };
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                connected.store(true, Ordering::Relaxed);
                backoff = Duration::from_secs(1);
                subscribe(&client);
                tracing::info!(component = "mqtt", "reconnected to the external MQTT broker");
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if let Some(j) = job(&String::from_utf8_lossy(&p.topic), &p.payload) {
                    ingest::ingest(&core, &j).await;
                }
            }
            Ok(_) => {}
            Err(e) => {
                if connected.swap(false, Ordering::Relaxed) {
                    tracing::warn!(component = "mqtt", error = %e, "lost the external MQTT broker; reconnecting");
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = cancel.cancelled() => break,
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
    connected.store(false, Ordering::Relaxed);
    let _ = client.try_disconnect();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_from_external_publishes() {
        let j = job("coordinator/acme/agents/a/status", br#"{"status":"offline","reason":"lwt_unexpected"}"#).unwrap();
        assert_eq!((j.org.as_str(), j.suffix.as_str(), j.will), ("acme", "agents/a/status", true));
        assert_eq!(j.agent.unwrap().as_str(), "a");
        let j = job("coordinator/acme/broadcast", b"{}").unwrap();
        assert!(j.agent.is_none() && !j.will);
        assert!(job("elsewhere/x", b"{}").is_none());
        let s = ExternalSettings { url: "mqtts://h".into(), username: None, password: None, required: false };
        assert!(options(&s).is_err());
    }
}
