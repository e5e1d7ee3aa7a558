//! Arguments of the agent tools: `register_agent`, `list_agents`, `heartbeat`, `agent_activity`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{MAX_ID_CHARS, MAX_LIST_ITEMS, MAX_PATH_CHARS, ParseError, Validate};
use super::{list, optional, required};

/// `register_agent`: upsert an agent under a stable id.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct RegisterAgentArgs {
    /// Stable, unique id of this agent (re-registering the same id takes it over).
    pub agent_id: String,
    /// Human-readable name shown to other agents.
    pub name: String,
    /// Modules this agent usually works on (may be empty).
    pub modules: Vec<String>,
}

impl Validate for RegisterAgentArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        required("agent_id", &self.agent_id, MAX_ID_CHARS)?;
        required("name", &self.name, MAX_ID_CHARS)?;
        list("modules", &self.modules, MAX_LIST_ITEMS, MAX_ID_CHARS)
    }
}

/// `list_agents`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct ListAgentsArgs {
    /// Only agents currently online (sorted by name); otherwise all, most recently seen first.
    #[serde(default)]
    pub online_only: bool,
}

impl Validate for ListAgentsArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        Ok(())
    }
}

/// `heartbeat`: keep an agent online and report what it is doing.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct HeartbeatArgs {
    /// The registered agent id.
    pub agent_id: String,
    /// Repo-relative path of the file being edited, if any.
    pub current_file: Option<String>,
    /// Thread the agent is working under, if any.
    pub current_thread: Option<String>,
}

impl Validate for HeartbeatArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        required("agent_id", &self.agent_id, MAX_ID_CHARS)?;
        optional("current_file", self.current_file.as_deref(), MAX_PATH_CHARS)?;
        optional("current_thread", self.current_thread.as_deref(), MAX_ID_CHARS)
    }
}

/// `agent_activity` takes no arguments.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct AgentActivityArgs {}

impl Validate for AgentActivityArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        Ok(())
    }
}
