//! Tool arguments: one typed struct per tool, and [`parse_call`] turning a `tools/call` request
//! into a [`ToolCall`].
//!
//! This is the edge where argument *shape* is enforced (names, types, enums, defaults, caps,
//! empties); everything that needs data (paths, thread states, ownership) is the core's job.
//! It depends on serde and schemars only — no rmcp, no core services.
//!
//! Rules shared by every tool:
//! * argument names are exactly those of `mcp-tools.md` (snake_case); unknown ones are ignored;
//! * a `null` argument is treated as absent (so an optional one takes its default);
//! * every failure is `Invalid arguments: <field path>: <problem>`, naming the field even when
//!   it is missing.
//!
//! Caps on free text and lists (not in the spec; chosen so one call cannot make the store or
//! the scorer do unbounded work, and well above anything an agent sends legitimately):
//!
//! | what | cap |
//! |---|---|
//! | ids and names (`agent_id`, `thread_id`, `name`, `module_id`, `status`, …) | [`MAX_ID_CHARS`] chars |
//! | `subject` | [`MAX_SUBJECT_CHARS`] chars |
//! | `plan`, `content`, `summary`, `reason`, `context_snapshot`, `payload` | [`MAX_TEXT_CHARS`] chars |
//! | a path (`file_path`, `current_file`, elements of `target_files`, …) | [`MAX_PATH_CHARS`] chars |
//! | lists of paths or modules | [`MAX_LIST_ITEMS`] items |
//! | `target_symbols` (spec) | [`MAX_SYMBOLS`] items of ≤ [`MAX_SYMBOL_CHARS`] chars |
//! | `topic` | [`MAX_TOPIC_CHARS`] chars |
//! | `set_dependency_map` entries | [`MAX_DEPENDENCY_MODULES`] modules |
//! | `since_minutes`, `within_minutes` | [`MAX_WINDOW_MINUTES`] (one year) |
//! | `wait_*` `timeout_seconds` (spec) | silently capped at [`MAX_WAIT_SECONDS`] |
//! | `min_peers` | [`MAX_MIN_PEERS`] |

mod agents;
mod files;
mod messaging;
mod threads;

pub use agents::{AgentActivityArgs, HeartbeatArgs, ListAgentsArgs, RegisterAgentArgs};
pub use files::{
    CheckFileConflictArgs, DependencyMap, GetBlastRadiusArgs, GetModuleInfoArgs, GetSessionFilesArgs, HotFilesArgs,
    ModuleEntry, SetDependencyMapArgs,
};
pub use messaging::{
    CoordinatorStatusArgs, GetQueuedMessagesArgs, MqttPublishArgs, WaitForMessageArgs, WaitForPeersArgs,
};
pub use threads::{
    AnnounceWorkArgs, ApproveResolutionArgs, CancelThreadArgs, CloseThreadArgs, ContestResolutionArgs, GetThreadArgs,
    GetThreadUpdatesArgs, ListThreadsArgs, LogActionSummaryArgs, MessageKind, PostToThreadArgs, ProposeResolutionArgs,
};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Ids, names, statuses.
pub const MAX_ID_CHARS: usize = 256;
/// Thread subjects.
pub const MAX_SUBJECT_CHARS: usize = 500;
/// Plans, message content, summaries, reasons, snapshots, MQTT payloads.
pub const MAX_TEXT_CHARS: usize = 100_000;
/// One repository path.
pub const MAX_PATH_CHARS: usize = 4_096;
/// Lists of paths or module ids.
pub const MAX_LIST_ITEMS: usize = 1_000;
/// `target_symbols` items (spec).
pub const MAX_SYMBOLS: usize = 200;
/// Characters per `target_symbols` item (spec).
pub const MAX_SYMBOL_CHARS: usize = 256;
/// MQTT topic suffix.
pub const MAX_TOPIC_CHARS: usize = 1_024;
/// Modules in one `set_dependency_map` call.
pub const MAX_DEPENDENCY_MODULES: usize = 10_000;
/// `since_minutes` / `within_minutes` (one year).
pub const MAX_WINDOW_MINUTES: u64 = 525_600;
/// Cap of `wait_for_message` / `wait_for_peers` `timeout_seconds` (spec).
pub const MAX_WAIT_SECONDS: u64 = 300;
/// `wait_for_peers` `min_peers`.
pub const MAX_MIN_PEERS: u32 = 10_000;
/// `list_threads` `limit` range (spec).
pub const LIST_THREADS_LIMIT: std::ops::RangeInclusive<u32> = 1..=1_000;

/// Why a `tools/call` could not be turned into a [`ToolCall`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No tool has this name: a protocol error (JSON-RPC `-32602`).
    #[error("Unknown tool: {0}")]
    UnknownTool(String),
    /// The arguments do not fit the tool: a tool result with `isError: true`. The text is the
    /// full message, `Invalid arguments: <field>: <problem>`.
    #[error("{0}")]
    Invalid(String),
}

impl ParseError {
    fn invalid(field: impl std::fmt::Display, problem: impl std::fmt::Display) -> Self {
        Self::Invalid(format!("Invalid arguments: {field}: {problem}"))
    }
}

/// Post-deserialisation checks of one argument struct (caps, empties, silent timeout caps).
trait Validate {
    fn validate(&mut self) -> Result<(), ParseError>;
}

macro_rules! tool_calls {
    ($($variant:ident($args:ty) = $name:literal,)*) => {
        /// One parsed and validated tool call; the variant names the tool.
        #[derive(Debug, Clone, PartialEq, serde::Serialize)]
        #[serde(tag = "tool", content = "args", rename_all = "snake_case")]
        pub enum ToolCall {
            $($variant($args),)*
        }

        /// The 26 tool names, in catalog order.
        pub const TOOL_NAMES: [&str; 26] = [$($name,)*];

        impl ToolCall {
            /// The tool's wire name (`announce_work`).
            pub fn name(&self) -> &'static str {
                match self {
                    $(ToolCall::$variant(_) => $name,)*
                }
            }
        }

        fn parse_named(name: &str, args: Value) -> Result<ToolCall, ParseError> {
            match name {
                $($name => decode::<$args>(args).map(ToolCall::$variant),)*
                other => Err(ParseError::UnknownTool(other.to_owned())),
            }
        }
    };
}

tool_calls! {
    RegisterAgent(RegisterAgentArgs) = "register_agent",
    ListAgents(ListAgentsArgs) = "list_agents",
    Heartbeat(HeartbeatArgs) = "heartbeat",
    AgentActivity(AgentActivityArgs) = "agent_activity",
    AnnounceWork(AnnounceWorkArgs) = "announce_work",
    PostToThread(PostToThreadArgs) = "post_to_thread",
    ProposeResolution(ProposeResolutionArgs) = "propose_resolution",
    ApproveResolution(ApproveResolutionArgs) = "approve_resolution",
    ContestResolution(ContestResolutionArgs) = "contest_resolution",
    CloseThread(CloseThreadArgs) = "close_thread",
    CancelThread(CancelThreadArgs) = "cancel_thread",
    GetThread(GetThreadArgs) = "get_thread",
    GetThreadUpdates(GetThreadUpdatesArgs) = "get_thread_updates",
    ListThreads(ListThreadsArgs) = "list_threads",
    LogActionSummary(LogActionSummaryArgs) = "log_action_summary",
    HotFiles(HotFilesArgs) = "hot_files",
    GetSessionFiles(GetSessionFilesArgs) = "get_session_files",
    CheckFileConflict(CheckFileConflictArgs) = "check_file_conflict",
    SetDependencyMap(SetDependencyMapArgs) = "set_dependency_map",
    GetBlastRadius(GetBlastRadiusArgs) = "get_blast_radius",
    GetModuleInfo(GetModuleInfoArgs) = "get_module_info",
    WaitForMessage(WaitForMessageArgs) = "wait_for_message",
    GetQueuedMessages(GetQueuedMessagesArgs) = "get_queued_messages",
    MqttPublish(MqttPublishArgs) = "mqtt_publish",
    CoordinatorStatus(CoordinatorStatusArgs) = "coordinator_status",
    WaitForPeers(WaitForPeersArgs) = "wait_for_peers",
}

/// Parses the `name` and `arguments` of a `tools/call` request.
///
/// Unknown names give [`ParseError::UnknownTool`]; anything wrong with the arguments gives
/// [`ParseError::Invalid`] with the field named. Absent arguments count as `{}`.
pub fn parse_call(name: &str, args: Option<Map<String, Value>>) -> Result<ToolCall, ParseError> {
    let mut args = args.unwrap_or_default();
    // `null` means "not given": optional arguments take their defaults.
    args.retain(|_, value| !value.is_null());
    parse_named(name, Value::Object(args))
}

fn decode<T: DeserializeOwned + Validate>(args: Value) -> Result<T, ParseError> {
    let mut parsed: T = serde_path_to_error::deserialize(args).map_err(|error| {
        let path = error.path().to_string();
        let problem = error.into_inner().to_string();
        match missing_field(&problem) {
            Some(field) if path == "." => ParseError::invalid(field, "required field is missing"),
            _ => ParseError::invalid(field_or_root(&path), problem),
        }
    })?;
    parsed.validate()?;
    Ok(parsed)
}

/// serde reports a missing field as "missing field `x`" at the parent's path.
fn missing_field(problem: &str) -> Option<&str> {
    problem.strip_prefix("missing field `").and_then(|rest| rest.strip_suffix('`'))
}

fn field_or_root(path: &str) -> &str {
    if path == "." { "arguments" } else { path }
}

// ----- checks used by the per-tool `Validate` impls -----

fn required(field: &str, value: &str, max_chars: usize) -> Result<(), ParseError> {
    if value.trim().is_empty() {
        return Err(ParseError::invalid(field, "must not be empty"));
    }
    max_len(field, value, max_chars)
}

fn max_len(field: &str, value: &str, max_chars: usize) -> Result<(), ParseError> {
    if value.chars().count() > max_chars {
        return Err(ParseError::invalid(field, format_args!("at most {max_chars} characters")));
    }
    Ok(())
}

fn optional(field: &str, value: Option<&str>, max_chars: usize) -> Result<(), ParseError> {
    value.map_or(Ok(()), |value| max_len(field, value, max_chars))
}

fn list(field: &str, items: &[String], max_items: usize, max_chars: usize) -> Result<(), ParseError> {
    if items.len() > max_items {
        return Err(ParseError::invalid(field, format_args!("at most {max_items} items")));
    }
    for (index, item) in items.iter().enumerate() {
        max_len(&format!("{field}[{index}]"), item, max_chars)?;
    }
    Ok(())
}

fn optional_list(field: &str, items: Option<&[String]>, max_items: usize, max_chars: usize) -> Result<(), ParseError> {
    items.map_or(Ok(()), |items| list(field, items, max_items, max_chars))
}

fn at_most<N: PartialOrd + std::fmt::Display>(field: &str, value: N, max: N) -> Result<(), ParseError> {
    if value > max {
        return Err(ParseError::invalid(field, format_args!("must be at most {max}")));
    }
    Ok(())
}

/// Accepts a string as is, or any other JSON value serialised to compact JSON text: models often
/// send an object where the reference contract wants JSON in a string.
fn string_or_json<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    use serde::Deserialize;
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) => text,
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests;
