//! `CoreError`: every failure a caller can act on, with a stable code and an English message. Adapters map it
//! with one table each (MCP tool error text, HTTP status + envelope). `StoreError` is defined next to the ports.

use thiserror::Error;

use super::ports::StoreError;

/// Domain errors. `Display` is the user-facing English message (mcp-tools.md §1).
#[derive(Debug, Error)]
pub enum CoreError {
    #[error("Invalid arguments: {field}: {problem}")]
    InvalidArgument { field: String, problem: String },
    #[error("invalid path {path}: {reason}")]
    InvalidPath { path: String, reason: String },
    #[error("Thread not found: {0}")]
    ThreadNotFound(String),
    #[error("Agent not registered: {0}")]
    AgentNotRegistered(String),
    #[error("Module not found: {0}")]
    ModuleNotFound(String),
    #[error("Introspection not found: {0}")]
    IntrospectionNotFound(String),
    #[error("Thread {0} is cancelled")]
    ThreadCancelled(String),
    #[error("Thread is {0}, not resolving")]
    NotResolving(String),
    #[error("Only the initiator or the claimant can propose a resolution")]
    NotInitiatorOrClaimant,
    #[error("Thread is {0}; it cannot accept a proposal")]
    CannotPropose(String),
    #[error("Only the initiator can close this thread")]
    NotInitiatorClose,
    #[error("Cannot close thread {id} in status {status}")]
    CannotClose { id: String, status: String },
    #[error("Only the initiator can cancel this thread")]
    NotInitiatorCancel,
    #[error("Introspection {0} was already answered")]
    AlreadyResponded(String),
    #[error("Introspection {0} has expired")]
    IntrospectionExpired(String),
    #[error(
        "Insufficient scope: {tool} requires '{need}' scope but this token has '{held}'. Read-only tools: {read_only}"
    )]
    InsufficientScope { tool: String, need: String, held: String, read_only: String },
    #[error(
        "No MQTT broker is connected to this coordinator (stdio mode, or the bus is down). Use get_thread_updates to poll for thread messages instead."
    )]
    NoMqttBus,
    #[error("Topic {0} is reserved for the coordinator")]
    TopicReserved(String),
    #[error("the coordinator is shutting down")]
    ShuttingDown,
    #[error("storage failure: {0}")]
    Store(#[from] StoreError),
}

impl CoreError {
    /// `Invalid arguments: <field>: <problem>`.
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::InvalidArgument { field: field.into(), problem: problem.into() }
    }

    /// Stable UPPER_SNAKE code used by the HTTP envelope and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidArgument { .. } => "INVALID_REQUEST",
            Self::InvalidPath { .. } => "INVALID_PATH",
            Self::ThreadNotFound(_) => "THREAD_NOT_FOUND",
            Self::AgentNotRegistered(_) => "AGENT_NOT_REGISTERED",
            Self::ModuleNotFound(_) => "MODULE_NOT_FOUND",
            Self::IntrospectionNotFound(_) => "INTROSPECTION_NOT_FOUND",
            Self::ThreadCancelled(_) => "THREAD_CANCELLED",
            Self::NotResolving(_) | Self::CannotPropose(_) | Self::CannotClose { .. } => "INVALID_STATE",
            Self::NotInitiatorOrClaimant => "NOT_INITIATOR_OR_CLAIMANT",
            Self::NotInitiatorClose | Self::NotInitiatorCancel => "NOT_INITIATOR",
            Self::AlreadyResponded(_) => "ALREADY_RESPONDED",
            Self::IntrospectionExpired(_) => "INTROSPECTION_EXPIRED",
            Self::InsufficientScope { .. } => "INSUFFICIENT_SCOPE",
            Self::NoMqttBus => "MQTT_UNAVAILABLE",
            Self::TopicReserved(_) => "TOPIC_RESERVED",
            Self::ShuttingDown => "SHUTTING_DOWN",
            Self::Store(e) if e.is_unavailable() => "STORE_UNAVAILABLE",
            Self::Store(_) => "INTERNAL_ERROR",
        }
    }

    /// Internal failures whose text must never reach a client.
    pub fn is_internal(&self) -> bool {
        matches!(self, Self::Store(_))
    }
}

/// Result alias for core operations.
pub type CoreResult<T> = Result<T, CoreError>;
