//! DomainEvent → MQTT topics (events-mqtt.md §3.4), from one place: a task subscribed to the `EventBus` (so only
//! committed events are published) that maps each record with `map_event` and publishes through
//! `Core::publish_mqtt` (bus + inbox ingestion). The retained `consultations/new` slot is tracked per org so it is
//! cleared only when the thread it shows ends. `map_event` is pure.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use super::topics::{self, Suffix};
use crate::core::Core;
use crate::core::events::EventRecord;
use crate::core::ids::OrgId;
use crate::core::ports::Qos;

/// One coordinator publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub suffix: String,
    pub payload: Vec<u8>,
    pub qos: Qos,
    pub retain: bool,
}

impl Outgoing {
    fn new(suffix: Suffix, payload: Value, qos: Qos, retain: bool) -> Self {
        Self { suffix: suffix.as_str().to_owned(), payload: payload.to_string().into_bytes(), qos, retain }
    }
}

/// The thread each org's retained `consultations/new` slot currently shows.
#[derive(Debug, Default)]
pub struct Slots(HashMap<OrgId, String>);

impl Slots {
    /// Rebuilds the slots from retained `(topic, payload)` pairs (at start).
    pub fn from_retained<'a>(retained: impl Iterator<Item = (&'a str, &'a [u8])>) -> Self {
        let mut slots = HashMap::new();
        for (topic, payload) in retained {
            if let Some((org, "consultations/new")) = topics::split(topic)
                && let Ok(v) = serde_json::from_slice::<Value>(payload)
                && let Some(t) = v.get("thread_id").and_then(Value::as_str)
            {
                slots.insert(OrgId::new(org), t.to_owned());
            }
        }
        Self(slots)
    }
}

fn text<'a>(p: &'a Map<String, Value>, key: &str) -> &'a str {
    p.get(key).and_then(Value::as_str).unwrap_or("")
}

fn field(p: &Map<String, Value>, key: &str) -> Value {
    p.get(key).cloned().unwrap_or(Value::Null)
}

/// The status publish of a thread plus, when the thread is the org's slot, the slot clearing.
fn thread_end(rec: &EventRecord, slots: &mut Slots, status: Option<Value>) -> Vec<Outgoing> {
    let p = &rec.payload;
    let thread = text(p, "thread_id");
    let mut out = Vec::new();
    if let (Some(body), Some(s)) = (status, Suffix::thread_status(thread)) {
        out.push(Outgoing::new(s, body, Qos::AtLeastOnce, true));
    }
    if slots.0.get(&rec.org).is_some_and(|t| t == thread) {
        slots.0.remove(&rec.org);
        out.push(Outgoing {
            suffix: Suffix::consultations_new().as_str().to_owned(),
            payload: Vec::new(),
            qos: Qos::AtLeastOnce,
            retain: true,
        });
    }
    out
}

/// The publishes one committed event causes (the REST `completed` topic is the REST layer's).
pub fn map_event(rec: &EventRecord, slots: &mut Slots) -> Vec<Outgoing> {
    let p = &rec.payload;
    let thread = text(p, "thread_id");
    let one = |s: Option<Suffix>, body: Value, qos: Qos, retain: bool| -> Vec<Outgoing> {
        s.map(|s| Outgoing::new(s, body, qos, retain)).into_iter().collect()
    };
    match rec.kind.as_str() {
        "thread_opened" if text(p, "status") == "open" => {
            slots.0.insert(rec.org.clone(), thread.to_owned());
            let body = json!({"thread_id": thread, "agent_id": field(p, "agent_id"), "subject": field(p, "subject"),
                "target_modules": field(p, "target_modules")});
            one(Some(Suffix::consultations_new()), body, Qos::AtLeastOnce, true)
        }
        "message_posted" => {
            let body = json!({"agent_id": field(p, "agent_id"), "type": field(p, "type"), "content": field(p, "content"),
                "message_id": field(p, "message_id"), "round": field(p, "round")});
            one(Suffix::thread_messages(thread), body, Qos::AtMostOnce, false)
        }
        "resolution_proposed" => {
            let body = json!({"status": "resolving", "summary": field(p, "summary")});
            one(Suffix::thread_status(thread), body, Qos::AtLeastOnce, true)
        }
        "thread_resolved" => {
            let auto = text(p, "resolution_type") == "auto_resolved";
            let body = (!auto).then(|| json!({"status": "resolved", "summary": field(p, "resolution")}));
            thread_end(rec, slots, body)
        }
        "thread_cancelled" => {
            thread_end(rec, slots, Some(json!({"status": "cancelled", "summary": field(p, "reason")})))
        }
        "task_claimed" => {
            let body = json!({"agent_id": field(p, "agent_id"), "claimed_by": field(p, "agent_id"),
                "claimed_at": field(p, "claimed_at")});
            one(Suffix::thread_claimed(thread), body, Qos::AtLeastOnce, false)
        }
        "agent_online" => {
            let body = json!({"status": "online", "name": field(p, "name")});
            one(Suffix::agent_status(text(p, "agent_id")), body, Qos::AtMostOnce, true)
        }
        "agent_offline" => {
            one(Suffix::agent_status(text(p, "agent_id")), json!({"status": "offline"}), Qos::AtMostOnce, true)
        }
        _ => Vec::new(),
    }
}

/// What a bridge task does with each mapped publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Publish on the broker only (the embedded broker of each replica gets every replica's events).
    Broker,
    /// Feed the agents' inboxes only (once per event cluster-wide: from the events this process committed).
    Inbox,
    /// Both (a broker shared by all replicas: from the events this process committed).
    Both,
}

/// Runs the bridge until cancelled: every committed event of the bus becomes its topic publishes.
pub async fn run(
    core: Core,
    mut rx: broadcast::Receiver<EventRecord>,
    mut slots: Slots,
    role: Role,
    cancel: CancellationToken,
) {
    loop {
        let rec = tokio::select! {
            r = rx.recv() => r,
            _ = cancel.cancelled() => return,
        };
        match rec {
            Ok(rec) => {
                for o in map_event(&rec, &mut slots) {
                    if role != Role::Inbox {
                        core.publish_mqtt_only(&rec.org, &o.suffix, o.payload.clone(), o.qos, o.retain);
                    }
                    if role != Role::Broker
                        && let Err(e) = core.deliver_to_inboxes(&rec.org, &o.suffix, &o.payload).await
                    {
                        tracing::warn!(component = "mqtt", topic = %o.suffix, error = %e, "inbox ingestion of a coordinator publish failed");
                    }
                }
            }
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(
                    component = "mqtt",
                    skipped = n,
                    "MQTT bridge lagged behind the event bus; events skipped"
                );
            }
            Err(RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::time::Timestamp;

    fn rec(kind: &str, payload: Value) -> EventRecord {
        let Value::Object(payload) = payload else { panic!("object") };
        EventRecord {
            org: OrgId::default_org(),
            seq: 1,
            kind: kind.into(),
            payload,
            created_at: Timestamp::from_secs(0),
        }
    }

    fn body(o: &Outgoing) -> Value {
        serde_json::from_slice(&o.payload).unwrap()
    }

    #[test]
    fn consultation_slot_is_set_and_cleared_by_its_thread_only() {
        let mut s = Slots::default();
        let opened = rec(
            "thread_opened",
            json!({"thread_id": "t1", "agent_id": "a", "subject": "s", "status": "open",
            "target_modules": ["m"], "plan": null}),
        );
        let out = map_event(&opened, &mut s);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].suffix.as_str(), out[0].qos, out[0].retain), ("consultations/new", Qos::AtLeastOnce, true));
        assert_eq!(body(&out[0]), json!({"thread_id": "t1", "agent_id": "a", "subject": "s", "target_modules": ["m"]}));
        let auto = rec("thread_opened", json!({"thread_id": "t2", "status": "resolved"}));
        assert!(map_event(&auto, &mut s).is_empty());
        let other = map_event(&rec("thread_cancelled", json!({"thread_id": "t9", "reason": "x"})), &mut s);
        assert_eq!(other.len(), 1);
        assert_eq!(body(&other[0]), json!({"status": "cancelled", "summary": "x"}));
        let end =
            map_event(&rec("thread_resolved", json!({"thread_id": "t1", "resolution_type": "auto_resolved"})), &mut s);
        assert_eq!(end.len(), 1, "auto resolution publishes no status but clears the slot");
        assert_eq!(
            (end[0].suffix.as_str(), end[0].payload.is_empty(), end[0].retain),
            ("consultations/new", true, true)
        );
        assert!(
            map_event(&rec("thread_resolved", json!({"thread_id": "t1", "resolution_type": "x"})), &mut s).len() == 1
        );
    }

    #[test]
    fn topic_map() {
        let mut s = Slots::default();
        let m = map_event(
            &rec(
                "message_posted",
                json!({"thread_id": "t", "message_id": "m", "agent_id": "a",
            "agent_name": "A", "type": "context", "content": "c", "round": 1, "token_estimate": 3}),
            ),
            &mut s,
        );
        assert_eq!((m[0].suffix.as_str(), m[0].qos, m[0].retain), ("consultations/t/messages", Qos::AtMostOnce, false));
        assert_eq!(
            body(&m[0]),
            json!({"agent_id": "a", "type": "context", "content": "c", "message_id": "m", "round": 1})
        );
        let r = map_event(&rec("resolution_proposed", json!({"thread_id": "t", "summary": "done"})), &mut s);
        assert_eq!(
            (r[0].suffix.as_str(), body(&r[0])),
            ("consultations/t/status", json!({"status": "resolving", "summary": "done"}))
        );
        let r = map_event(
            &rec("thread_resolved", json!({"thread_id": "t", "resolution_type": "consensus", "resolution": "ok"})),
            &mut s,
        );
        assert_eq!(body(&r[0]), json!({"status": "resolved", "summary": "ok"}));
        let c = map_event(&rec("task_claimed", json!({"thread_id": "t", "agent_id": "b", "claimed_at": "T"})), &mut s);
        assert_eq!((c[0].suffix.as_str(), c[0].retain), ("consultations/t/claimed", false));
        assert_eq!(body(&c[0]), json!({"agent_id": "b", "claimed_by": "b", "claimed_at": "T"}));
        let on = map_event(&rec("agent_online", json!({"agent_id": "a", "name": "A", "modules": []})), &mut s);
        assert_eq!((on[0].suffix.as_str(), on[0].qos, on[0].retain), ("agents/a/status", Qos::AtMostOnce, true));
        assert_eq!(body(&on[0]), json!({"status": "online", "name": "A"}));
        let off = map_event(&rec("agent_offline", json!({"agent_id": "a", "name": "A", "reason": "lwt"})), &mut s);
        assert_eq!(body(&off[0]), json!({"status": "offline"}));
        assert!(map_event(&rec("agent_online", json!({"agent_id": "a/b", "name": "A"})), &mut s).is_empty());
        assert!(map_event(&rec("file_edited", json!({"agent_id": "a"})), &mut s).is_empty());
    }

    #[test]
    fn slots_from_retained() {
        let p = br#"{"thread_id":"t7"}"#;
        let s = Slots::from_retained([("coordinator/o/consultations/new", &p[..])].into_iter());
        assert_eq!(s.0.get(&OrgId::new("o")).map(String::as_str), Some("t7"));
    }
}
