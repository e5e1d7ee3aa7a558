//! Arguments of the MQTT tools (`wait_for_message`, `get_queued_messages`, `mqtt_publish`) and
//! the status tools (`coordinator_status`, `wait_for_peers`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{MAX_ID_CHARS, MAX_MIN_PEERS, MAX_TEXT_CHARS, MAX_TOPIC_CHARS, MAX_WAIT_SECONDS, ParseError, Validate};
use super::{at_most, max_len, optional, required, string_or_json};

/// `wait_for_message`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct WaitForMessageArgs {
    /// Your agent id (whose inbox to read).
    pub agent_id: String,
    /// How long to wait for a message, in seconds (capped at 300).
    #[serde(default = "fifteen")]
    pub timeout_seconds: u64,
}

fn fifteen() -> u64 {
    15
}

impl Validate for WaitForMessageArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        self.timeout_seconds = self.timeout_seconds.min(MAX_WAIT_SECONDS);
        required("agent_id", &self.agent_id, MAX_ID_CHARS)
    }
}

/// `get_queued_messages`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct GetQueuedMessagesArgs {
    /// Your agent id (whose inbox to drain).
    pub agent_id: String,
    /// Switch to acknowledged batches: messages stay queued until you ack the batch.
    pub require_ack: Option<bool>,
    /// Batch id of the previous answer, to acknowledge (delete) it.
    pub ack: Option<String>,
}

impl Validate for GetQueuedMessagesArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        required("agent_id", &self.agent_id, MAX_ID_CHARS)?;
        optional("ack", self.ack.as_deref(), MAX_ID_CHARS)
    }
}

/// `mqtt_publish`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct MqttPublishArgs {
    /// Topic below `coordinator/<your org>/`.
    pub topic: String,
    /// Message body: JSON text (an object is serialised for you).
    #[serde(deserialize_with = "string_or_json")]
    #[schemars(with = "String")]
    pub payload: String,
}

impl Validate for MqttPublishArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        required("topic", &self.topic, MAX_TOPIC_CHARS)?;
        max_len("payload", &self.payload, MAX_TEXT_CHARS)
    }
}

/// `coordinator_status` takes no arguments.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct CoordinatorStatusArgs {}

impl Validate for CoordinatorStatusArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        Ok(())
    }
}

/// `wait_for_peers`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct WaitForPeersArgs {
    /// Your agent id (not counted as a peer).
    pub agent_id: String,
    /// How many other online agents to wait for.
    #[serde(default = "one")]
    pub min_peers: u32,
    /// How long to wait, in seconds (capped at 300).
    #[serde(default = "thirty")]
    pub timeout_seconds: u64,
}

fn one() -> u32 {
    1
}

fn thirty() -> u64 {
    30
}

impl Validate for WaitForPeersArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        self.timeout_seconds = self.timeout_seconds.min(MAX_WAIT_SECONDS);
        required("agent_id", &self.agent_id, MAX_ID_CHARS)?;
        at_most("min_peers", self.min_peers, MAX_MIN_PEERS)
    }
}
