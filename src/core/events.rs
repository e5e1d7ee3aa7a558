//! `DomainEvent`: the one event type. Each is persisted with a per-org gapless `seq` in the transaction that
//! caused it, then published on the `EventBus` after commit (SSE, MQTT, inboxes and metrics all consume it).

use serde::Serialize;
use serde_json::{Map, Value};

use super::ids::OrgId;
use super::time::Timestamp;

/// Every coordination event (events-mqtt.md §1). Field names are the wire payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DomainEvent {
    AgentOnline {
        agent_id: String,
        name: String,
        modules: Vec<String>,
    },
    AgentOffline {
        agent_id: String,
        name: String,
        reason: String,
    },
    AgentActivity {
        agent_id: String,
        activity_status: String,
        current_file: Option<String>,
        current_thread: Option<String>,
        last_activity_at: Option<String>,
    },
    ThreadOpened {
        thread_id: String,
        initiator: String,
        agent_id: String,
        agent_name: String,
        subject: String,
        status: String,
        target_modules: Vec<String>,
        target_files: Vec<String>,
        conflicts: Value,
        expected_respondents: Vec<String>,
        mode: String,
        plan: Option<String>,
        plan_quality: Value,
        run_id: Option<String>,
        created_at: String,
    },
    ImpactScored {
        thread_id: String,
        agent_id: String,
        agent_name: String,
        score: i64,
        category: String,
        reasons: Vec<String>,
        reason: String,
        layer: Option<String>,
    },
    IntrospectionRequested {
        introspection_id: String,
        thread_id: String,
        agent_id: String,
        score: i64,
        reasons: Vec<String>,
    },
    IntrospectionCompleted {
        introspection_id: String,
        thread_id: String,
        agent_id: String,
        concerned: bool,
        reason: String,
        joined: bool,
    },
    MessagePosted {
        thread_id: String,
        message_id: String,
        agent_id: String,
        agent_name: Option<String>,
        #[serde(rename = "type")]
        kind: String,
        content: String,
        round: i64,
        token_estimate: i64,
    },
    ResolutionProposed {
        thread_id: String,
        agent_id: String,
        agent_name: Option<String>,
        summary: String,
    },
    ThreadResolved {
        thread_id: String,
        resolution_type: String,
        resolution: Option<String>,
        approved_by: Option<String>,
        approved_by_name: Option<String>,
        created_at: String,
        resolved_at: String,
        had_messages: bool,
    },
    ThreadCancelled {
        thread_id: String,
        agent_id: String,
        reason: Option<String>,
    },
    TaskClaimed {
        thread_id: String,
        agent_id: String,
        claimed_at: String,
    },
    FileEdited {
        agent_id: String,
        agent_name: Option<String>,
        file: String,
        tool_name: String,
    },
    ActionSummary {
        id: String,
        session_id: String,
        agent_id: String,
        file_path: Option<String>,
        summary: String,
        created_at: String,
    },
    TokenUsage {
        agent_id: String,
        session_id: Option<String>,
        run_id: Option<String>,
        model: Option<String>,
        turn: Option<i64>,
        input_tokens: i64,
        output_tokens: i64,
        cache_read: Option<i64>,
        cache_creation: Option<i64>,
        thinking: Option<i64>,
    },
    QuotaUpdate {
        five_hour: Value,
        seven_day: Value,
        seven_day_sonnet: Value,
        fetched_at: String,
    },
}

impl DomainEvent {
    /// The event type name (`thread_opened`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::AgentOnline { .. } => "agent_online",
            Self::AgentOffline { .. } => "agent_offline",
            Self::AgentActivity { .. } => "agent_activity",
            Self::ThreadOpened { .. } => "thread_opened",
            Self::ImpactScored { .. } => "impact_scored",
            Self::IntrospectionRequested { .. } => "introspection_requested",
            Self::IntrospectionCompleted { .. } => "introspection_completed",
            Self::MessagePosted { .. } => "message_posted",
            Self::ResolutionProposed { .. } => "resolution_proposed",
            Self::ThreadResolved { .. } => "thread_resolved",
            Self::ThreadCancelled { .. } => "thread_cancelled",
            Self::TaskClaimed { .. } => "task_claimed",
            Self::FileEdited { .. } => "file_edited",
            Self::ActionSummary { .. } => "action_summary",
            Self::TokenUsage { .. } => "token_usage",
            Self::QuotaUpdate { .. } => "quota_update",
        }
    }

    /// The wire payload: the event's fields plus the authoritative `org_id`.
    pub fn payload(&self, org: &OrgId) -> Map<String, Value> {
        let mut map = match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        map.insert("org_id".to_owned(), Value::String(org.as_str().to_owned()));
        map
    }
}

/// A persisted event as fanned out and replayed.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub org: OrgId,
    pub seq: i64,
    pub kind: String,
    /// Payload object including `org_id`.
    pub payload: Map<String, Value>,
    pub created_at: Timestamp,
}
