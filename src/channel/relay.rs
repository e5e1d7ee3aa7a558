//! The sidecar's MQTT side: one rumqttc (MQTT 5) client that subscribes to the org's `consultations/new`,
//! `consultations/+/messages` and `agents/+/status` (filters the ACL grants), turns each publish into a
//! [`ChannelEvent`] and hands it on without ever blocking the event loop (a full queue drops the event with a
//! warning; blocking would starve keep-alives). Connection failures retry with backoff 1 s → 30 s; the loop ends
//! when its token is cancelled. Operator-facing progress lines go to stderr, never stdout (the MCP channel).

use std::time::Duration;

use rumqttc::Transport;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, SubscribeReasonCode};
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::event::{self, ChannelEvent};
use crate::config::ChannelSettings;

/// The line printed on stderr once the broker acknowledged every subscription.
pub const READY_LINE: &str = "[channel] subscriptions active";
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT_SECS: u64 = 5;
const MAX_PACKET: u32 = 1_048_576;

/// The three topic filters of `org`.
pub fn filters(org: &str) -> [String; 3] {
    [
        format!("coordinator/{org}/consultations/new"),
        format!("coordinator/{org}/consultations/+/messages"),
        format!("coordinator/{org}/agents/+/status"),
    ]
}

/// Client options from the settings: a fresh client id, clean start, credentials when configured; `None` when the
/// URL has no host (config validation rules that out).
pub fn options(s: &ChannelSettings) -> Option<MqttOptions> {
    let url = &s.mqtt_url;
    let host = url.host_str()?.to_owned();
    let id = format!("mcp-coordinator-channel-{}-{}", std::process::id(), chrono::Utc::now().timestamp_millis());
    let mut opts = if url.scheme() == "ws" {
        let mut o = MqttOptions::new(id, url.as_str(), url.port().unwrap_or(80));
        o.set_transport(Transport::Ws);
        o
    } else {
        MqttOptions::new(id, host, url.port().unwrap_or(1883))
    };
    opts.set_keep_alive(Duration::from_secs(30))
        .set_clean_start(true)
        .set_connection_timeout(CONNECT_TIMEOUT_SECS)
        .set_max_packet_size(Some(MAX_PACKET));
    if s.username.is_some() || s.mqtt_password.is_some() {
        opts.set_credentials(s.username.clone().unwrap_or_default(), s.mqtt_password.clone().unwrap_or_default());
    }
    Some(opts)
}

/// Relays until `cancel` fires: connects, (re)subscribes after every CONNACK, forwards events to `out`.
pub async fn run(opts: MqttOptions, org: String, out: mpsc::Sender<ChannelEvent>, cancel: CancellationToken) {
    let (client, mut el) = AsyncClient::new(opts, 100);
    let filters = filters(&org);
    let mut backoff = BACKOFF_MIN;
    loop {
        let polled = tokio::select! {
            e = el.poll() => e,
            () = cancel.cancelled() => break,
        };
        match polled {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = BACKOFF_MIN;
                tracing::info!(component = "channel", "connected to the MQTT broker");
                let subs = filters.iter().map(|f| Filter::new(f.clone(), QoS::AtLeastOnce));
                if let Err(e) = client.try_subscribe_many(subs) {
                    eprintln!("[channel] cannot subscribe: {e}");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => report_suback(&ack.return_codes, &filters),
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let topic = String::from_utf8_lossy(&p.topic);
                if let Some(ev) = event::from_publish(&topic, &p.payload)
                    && let Err(mpsc::error::TrySendError::Full(_)) = out.try_send(ev)
                {
                    tracing::warn!(component = "channel", %topic, "client too slow; channel event dropped");
                }
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("[channel] MQTT connection failed ({}); retrying in {} s", describe(&e), backoff.as_secs());
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = cancel.cancelled() => break,
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
    let _ = client.try_disconnect();
    drain(&mut el).await;
}

/// Lets the event loop send the DISCONNECT queued by `try_disconnect`, briefly.
async fn drain(el: &mut EventLoop) {
    let flush = async {
        while let Ok(ev) = el.poll().await {
            if matches!(ev, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), flush).await;
}

fn describe(e: &ConnectionError) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => format!("refused by the broker: {code:?}; check the token"),
        other => other.to_string(),
    }
}

fn report_suback(codes: &[SubscribeReasonCode], filters: &[String]) {
    let refused: Vec<&str> = codes
        .iter()
        .zip(filters)
        .filter(|(c, _)| !matches!(c, SubscribeReasonCode::Success(_)))
        .map(|(_, f)| f.as_str())
        .collect();
    if refused.is_empty() {
        eprintln!("{READY_LINE}");
    } else {
        eprintln!("[channel] subscriptions refused by the broker (check --org and the token): {}", refused.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_name_the_org() {
        assert_eq!(
            filters("acme"),
            [
                "coordinator/acme/consultations/new".to_owned(),
                "coordinator/acme/consultations/+/messages".to_owned(),
                "coordinator/acme/agents/+/status".to_owned()
            ]
        );
    }
}
