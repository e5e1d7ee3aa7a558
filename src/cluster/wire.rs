//! The Redis messages replicas exchange (events-mqtt.md §4). Every message names its `origin` (instance id) so a
//! replica ignores its own echo. Decoding is strict: a malformed message is logged and skipped by the caller.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::core::announce::sync::IndexChange;
use crate::core::events::EventRecord;
use crate::core::ids::{AgentId, OrgId};
use crate::core::ports::Qos;
use crate::core::time::Timestamp;

/// Channel names below the key prefix.
pub const EVENTS: &str = "events";
pub const INDEX: &str = "index";
pub const INBOX: &str = "inbox";
pub const WAITER: &str = "waiter";
pub const MQTT: &str = "mqtt";
pub const ALL: [&str; 5] = [EVENTS, INDEX, INBOX, WAITER, MQTT];

/// `coordinator:events`: one committed event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventMsg {
    pub origin: String,
    pub org: OrgId,
    pub seq: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub payload: Map<String, Value>,
    /// Epoch milliseconds.
    pub created_at: i64,
}

impl EventMsg {
    pub fn new(origin: &str, rec: &EventRecord) -> Self {
        Self {
            origin: origin.to_owned(),
            org: rec.org.clone(),
            seq: rec.seq,
            kind: rec.kind.clone(),
            payload: rec.payload.clone(),
            created_at: rec.created_at.millis(),
        }
    }

    pub fn into_record(self) -> EventRecord {
        EventRecord {
            org: self.org,
            seq: self.seq,
            kind: self.kind,
            payload: self.payload,
            created_at: Timestamp::from_millis(self.created_at),
        }
    }
}

/// `coordinator:index`: the index changes of one commit. `seq` counts the origin's index messages, so a receiver
/// sees when it missed one (and then rebuilds its indexes from the store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexMsg {
    pub origin: String,
    pub org: OrgId,
    pub seq: u64,
    pub changes: Vec<IndexChange>,
}

/// `coordinator:inbox`: messages were appended to an agent's inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxMsg {
    pub origin: String,
    pub org: OrgId,
    pub agent_id: AgentId,
}

/// `coordinator:waiter`: a `wait_for_message` waiter registered (`waiter_id` = registration time, ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaiterMsg {
    pub origin: String,
    pub org: OrgId,
    pub agent_id: AgentId,
    pub waiter_id: i64,
}

/// `coordinator:mqtt`: a client publish accepted on the origin, for the other replicas' subscribers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MqttMsg {
    pub origin: String,
    pub msg_id: String,
    pub org: OrgId,
    /// Below `coordinator/<org>/`.
    pub topic: String,
    pub payload_b64: String,
    pub qos: u8,
    pub retain: bool,
}

impl MqttMsg {
    pub fn payload(&self) -> Option<Vec<u8>> {
        base64::engine::general_purpose::STANDARD.decode(&self.payload_b64).ok()
    }

    pub fn encode_payload(payload: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(payload)
    }

    pub fn qos(&self) -> Qos {
        if self.qos == 0 { Qos::AtMostOnce } else { Qos::AtLeastOnce }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_round_trip() {
        let mut payload = Map::new();
        payload.insert("org_id".into(), Value::String("o".into()));
        let rec = EventRecord {
            org: OrgId::new("o"),
            seq: 7,
            kind: "agent_online".into(),
            payload,
            created_at: Timestamp::from_millis(1_700_000_000_123),
        };
        let msg = EventMsg::new("me", &rec);
        let text = serde_json::to_string(&msg).unwrap();
        assert!(text.contains("\"type\":\"agent_online\""), "{text}");
        let back: EventMsg = serde_json::from_str(&text).unwrap();
        assert_eq!(back.into_record(), rec);
        let m = MqttMsg {
            origin: "me".into(),
            msg_id: "me-1".into(),
            org: OrgId::new("o"),
            topic: "broadcast".into(),
            payload_b64: MqttMsg::encode_payload(b"{\"a\":1}"),
            qos: 1,
            retain: false,
        };
        assert_eq!(m.payload().unwrap(), b"{\"a\":1}");
        assert_eq!(m.qos(), Qos::AtLeastOnce);
    }
}
