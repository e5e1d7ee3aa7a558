//! The durable agent inbox and the MQTT tools (events-mqtt.md §5, mcp-tools.md §6). Every publish under an org's
//! `consultations/#` or `broadcast` — by the coordinator or by any client — is appended once to every subscribed
//! agent of that org; `wait_for_message` takes the oldest message or waits (one waiter per agent, newest wins);
//! `get_queued_messages` drains, or serves acknowledged batches. The MQTT bus itself is a port (`MqttBus`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::error::{CoreError, CoreResult};
use super::facade::Core;
use super::ids::{AgentId, OrgId};
use super::ports::{InboxMessage, MqttBus, Qos};
use super::principal::Principal;

/// Longest `wait_for_message`, in seconds.
pub const MAX_WAIT_SECS: u64 = 300;
/// Topic suffixes only the coordinator may publish (`+` = one level).
pub const RESERVED: [&str; 5] = [
    "consultations/new",
    "consultations/+/status",
    "consultations/+/claimed",
    "consultations/+/completed",
    "quota/update",
];

/// One agent's waiter: a generation number and the notifier.
struct Waiter {
    id: u64,
    notify: Arc<Notify>,
    /// Registration time (ms): a newer waiter of the same agent on another replica supersedes this one.
    since: i64,
}

/// In-process waiters of `wait_for_message`, keyed by (org, agent).
#[derive(Default)]
pub struct Waiters {
    map: Mutex<HashMap<(OrgId, AgentId), Waiter>>,
    next: AtomicU64,
}

impl Waiters {
    /// Registers a new waiter, superseding (waking) the previous one.
    fn register(&self, key: (OrgId, AgentId), since: i64) -> (u64, Arc<Notify>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let notify = Arc::new(Notify::new());
        if let Some(old) = self.map.lock().insert(key, Waiter { id, notify: notify.clone(), since }) {
            old.notify.notify_one();
        }
        (id, notify)
    }
    fn current(&self, key: &(OrgId, AgentId)) -> Option<u64> {
        self.map.lock().get(key).map(|w| w.id)
    }
    fn remove(&self, key: &(OrgId, AgentId), id: u64) {
        let mut m = self.map.lock();
        if m.get(key).is_some_and(|w| w.id == id) {
            m.remove(key);
        }
    }
    /// Ends this process's waiter of `key` if it registered before `since` (a newer one exists elsewhere).
    fn supersede(&self, key: &(OrgId, AgentId), since: i64) {
        let mut m = self.map.lock();
        if m.get(key).is_some_and(|w| w.since <= since)
            && let Some(w) = m.remove(key)
        {
            w.notify.notify_one();
        }
    }
    /// Wakes the waiter of each agent.
    pub fn wake(&self, org: &OrgId, agents: &[AgentId]) {
        let m = self.map.lock();
        for a in agents {
            if let Some(w) = m.get(&(org.clone(), a.clone())) {
                w.notify.notify_one();
            }
        }
    }
}

/// Whether `suffix` (below `coordinator/<org>/`) is coordinator-owned.
pub fn is_reserved(suffix: &str) -> bool {
    let parts: Vec<&str> = suffix.split('/').collect();
    RESERVED.iter().any(|r| {
        let pat: Vec<&str> = r.split('/').collect();
        pat.len() == parts.len() && pat.iter().zip(&parts).all(|(p, s)| *p == "+" || p == s)
    })
}

/// Whether a suffix feeds the inbox (`consultations/#` or `broadcast`).
pub fn feeds_inbox(suffix: &str) -> bool {
    suffix == "broadcast" || suffix.starts_with("consultations/")
}

fn element(m: &InboxMessage) -> Value {
    let payload = serde_json::from_str::<Value>(&m.payload).unwrap_or(Value::String(m.payload.clone()));
    json!({"topic": m.topic, "payload": payload, "timestamp": m.received_at})
}

impl Core {
    /// Connects the MQTT bus (embedded broker or external); without one the MQTT tools answer "no broker".
    pub fn attach_mqtt(&self, bus: Arc<dyn MqttBus>) {
        let _ = self.inner.mqtt.set(bus);
    }

    /// Whether an MQTT bus is attached and connected.
    pub fn mqtt_connected(&self) -> bool {
        self.inner.mqtt.get().is_some_and(|b| b.connected())
    }

    fn bus_or_err(&self) -> CoreResult<&Arc<dyn MqttBus>> {
        self.inner.mqtt.get().filter(|b| b.connected()).ok_or(CoreError::NoMqttBus)
    }

    /// Publishes as the coordinator and feeds the inboxes (in-process publishes are not observed by the broker).
    pub async fn publish_mqtt(
        &self,
        org: &OrgId,
        suffix: &str,
        payload: Vec<u8>,
        qos: Qos,
        retain: bool,
    ) -> CoreResult<()> {
        if let Some(bus) = self.inner.mqtt.get() {
            bus.publish(org, suffix, payload.clone(), qos, retain);
        }
        self.deliver_to_inboxes(org, suffix, &payload).await
    }

    /// Hands a publish accepted on this replica (a client's, or `mqtt_publish`) to the other replicas' brokers.
    pub fn forward_mqtt(&self, org: &OrgId, suffix: &str, payload: &[u8], qos: Qos, retain: bool) {
        if let Some(link) = self.link() {
            link.mqtt_forward(org, suffix, payload, qos, retain);
        }
    }

    /// Publishes as the coordinator on the broker only (the inboxes are fed elsewhere).
    pub fn publish_mqtt_only(&self, org: &OrgId, suffix: &str, payload: Vec<u8>, qos: Qos, retain: bool) {
        if let Some(bus) = self.inner.mqtt.get() {
            bus.publish(org, suffix, payload, qos, retain);
        }
    }

    /// Appends a publish to the subscribed agents' inboxes when it feeds them (non-empty JSON payload).
    pub async fn deliver_to_inboxes(&self, org: &OrgId, suffix: &str, payload: &[u8]) -> CoreResult<()> {
        if !feeds_inbox(suffix) || payload.is_empty() {
            return Ok(());
        }
        let Ok(text) = std::str::from_utf8(payload) else { return Ok(()) };
        if serde_json::from_str::<Value>(text).is_err() {
            return Ok(());
        }
        let topic = format!("coordinator/{org}/{suffix}");
        let now = self.now().millis();
        let agents = self.inner.store.inbox_append(org, &topic, text, now, self.inner.inbox_backlog).await?;
        self.wake_local_waiters(org, &agents);
        if let Some(link) = self.link() {
            link.inbox_woken(org, &agents);
        }
        Ok(())
    }

    /// Wakes this process's waiters of `agents` (messages were appended, here or on another replica).
    pub fn wake_local_waiters(&self, org: &OrgId, agents: &[AgentId]) {
        self.inner.waiters.wake(org, agents);
    }

    /// Another replica registered a `wait_for_message` waiter for `agent` at `since` (ms): the newest wins.
    pub fn supersede_local_waiter(&self, org: &OrgId, agent: &AgentId, since: i64) {
        self.inner.waiters.supersede(&(org.clone(), agent.clone()), since);
    }

    /// `mqtt_publish`: QoS 0, not retained, on the caller's org; coordinator-owned topics refused.
    pub async fn mqtt_publish(&self, p: &Principal, topic: &str, payload: &str) -> CoreResult<()> {
        self.bus_or_err()?;
        let suffix = match topic.strip_prefix("coordinator/") {
            Some(rest) => rest.split_once('/').map_or("", |(_, s)| s),
            None => topic,
        };
        if suffix.is_empty() || suffix.contains(['+', '#']) || suffix.starts_with('/') || suffix.contains('\0') {
            return Err(CoreError::invalid("topic", "must be a topic name below coordinator/<org>/ without wildcards"));
        }
        if is_reserved(suffix) {
            return Err(CoreError::TopicReserved(topic.to_owned()));
        }
        self.ensure_org(p).await?;
        self.forward_mqtt(&p.org, suffix, payload.as_bytes().to_vec().as_slice(), Qos::AtMostOnce, false);
        self.publish_mqtt(&p.org, suffix, payload.as_bytes().to_vec(), Qos::AtMostOnce, false).await
    }

    /// `wait_for_message`.
    pub async fn wait_for_message(
        &self,
        p: &Principal,
        agent_id: &str,
        timeout_secs: u64,
        cancel: &CancellationToken,
    ) -> CoreResult<Value> {
        let agent = AgentId::parse("agent_id", agent_id)?;
        self.bus_or_err()?;
        self.ensure_org(p).await?;
        self.inner.store.inbox_subscribe(&p.org, &agent, self.now()).await?;
        let key = (p.org.clone(), agent.clone());
        let since = self.now().millis();
        let (id, notify) = self.inner.waiters.register(key.clone(), since);
        if let Some(link) = self.link() {
            link.waiter_registered(&p.org, &agent, since);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_secs.min(MAX_WAIT_SECS));
        let result = loop {
            if self.inner.waiters.current(&key) != Some(id) {
                break Ok(json!({"timeout": true}));
            }
            if let Some((m, left)) = self.inner.store.inbox_take_oldest(&p.org, &agent).await? {
                let mut v = element(&m);
                v["queued_remaining"] = json!(left);
                break Ok(v);
            }
            tokio::select! {
                _ = notify.notified() => {}
                _ = tokio::time::sleep_until(deadline) => break Ok(json!({"timeout": true})),
                _ = cancel.cancelled() => break Ok(json!({"timeout": true})),
            }
        };
        self.inner.waiters.remove(&key, id);
        result
    }

    /// `get_queued_messages`: drains (bare array), or serves acknowledged batches once `require_ack` was asked.
    pub async fn get_queued_messages(
        &self,
        p: &Principal,
        agent_id: &str,
        require_ack: Option<bool>,
        ack: Option<&str>,
    ) -> CoreResult<Value> {
        let agent = AgentId::parse("agent_id", agent_id)?;
        self.bus_or_err()?;
        self.ensure_org(p).await?;
        self.inner.store.inbox_subscribe(&p.org, &agent, self.now()).await?;
        let ack_mode =
            require_ack == Some(true) || ack.is_some() || self.inner.store.inbox_ack_mode(&p.org, &agent).await?;
        if !ack_mode {
            let all = self.inner.store.inbox_drain(&p.org, &agent).await?;
            return Ok(Value::Array(all.iter().map(element).collect()));
        }
        let batch = self.inner.store.inbox_ack_read(&p.org, &agent, ack, &super::ids::new_uuid()).await?;
        Ok(
            json!({"messages": batch.messages.iter().map(element).collect::<Vec<_>>(), "batch_id": batch.batch_id, "dropped": batch.dropped}),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_topics() {
        assert!(
            is_reserved("consultations/new") && is_reserved("consultations/abc/status") && is_reserved("quota/update")
        );
        assert!(
            !is_reserved("consultations/abc/messages")
                && !is_reserved("broadcast")
                && !is_reserved("consultations/a/b/status")
        );
        assert!(feeds_inbox("broadcast") && feeds_inbox("consultations/x/messages") && !feeds_inbox("agents/a/status"));
    }
}
