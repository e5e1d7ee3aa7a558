//! The tool catalog served by `tools/list`: names, titles, descriptions, input schemas and
//! annotations of the 26 tools, built once; and the scope each tool needs.
//!
//! Descriptions are written for the model: they say *when* to call a tool. Annotations follow
//! `mcp-tools.md` §1 and every hint is explicit (never left to the protocol defaults, which are
//! `destructiveHint: true` and `openWorldHint: true`). Depends on `args` (for schemas) and the
//! core's `Scope` only.

use std::borrow::Cow;
use std::sync::{Arc, LazyLock};

use rmcp::handler::server::common::{schema_for_empty_input, schema_for_input};
use rmcp::model::{Tool, ToolAnnotations};
use schemars::JsonSchema;

use super::args::*;
use crate::core::principal::Scope;

/// The 12 tools a `read` scope may call (`readOnlyHint` + `idempotentHint`).
pub const READ_TOOLS: [&str; 12] = [
    "list_agents",
    "agent_activity",
    "get_thread",
    "get_thread_updates",
    "list_threads",
    "get_blast_radius",
    "get_module_info",
    "hot_files",
    "get_session_files",
    "check_file_conflict",
    "coordinator_status",
    "wait_for_peers",
];

/// Write tools that are idempotent: repeating the call changes nothing more.
const IDEMPOTENT_WRITES: [&str; 3] = ["register_agent", "heartbeat", "set_dependency_map"];
/// Tools that delete or end something.
const DESTRUCTIVE: [&str; 3] = ["close_thread", "cancel_thread", "get_queued_messages"];
/// Tools that reach outside the coordinator's own data.
const OPEN_WORLD: [&str; 1] = ["mqtt_publish"];

static CATALOG: LazyLock<Vec<Tool>> = LazyLock::new(build);

/// The 26 tools, in a stable order (agents, consultation, files, dependencies, MQTT, status).
pub fn tools() -> Vec<Tool> {
    CATALOG.clone()
}

/// One tool by name.
pub fn tool(name: &str) -> Option<Tool> {
    CATALOG.iter().find(|tool| tool.name == name).cloned()
}

/// The scope a service token needs to call `name`: `read` for the 12 read tools, else `write`.
pub fn required_scope(name: &str) -> Scope {
    if READ_TOOLS.contains(&name) { Scope::Read } else { Scope::Write }
}

/// The tool's title: its name in sentence case, with the MQTT acronym kept ("Announce work",
/// "MQTT publish").
pub fn title(name: &str) -> String {
    let words = name.replace('_', " ");
    if let Some(rest) = words.strip_prefix("mqtt") {
        return format!("MQTT{rest}");
    }
    let mut chars = words.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

fn annotations(name: &str) -> ToolAnnotations {
    let read_only = READ_TOOLS.contains(&name);
    ToolAnnotations::with_title(title(name))
        .read_only(read_only)
        .idempotent(read_only || IDEMPOTENT_WRITES.contains(&name))
        .destructive(DESTRUCTIVE.contains(&name))
        .open_world(OPEN_WORLD.contains(&name))
}

fn spec<T: JsonSchema + 'static>(name: &'static str, description: impl Into<Cow<'static, str>>) -> Tool {
    let schema = schema_for_input::<T>().unwrap_or_else(|error| {
        // Unreachable for our structs (a unit test checks every schema); degrade, don't panic.
        tracing::error!(tool = name, %error, "invalid input schema");
        schema_for_empty_input()
    });
    // Some clients reject an object schema without `properties` (argument-less tools).
    let schema = if schema.contains_key("properties") {
        schema
    } else {
        let mut schema = schema.as_ref().clone();
        schema.insert("properties".into(), serde_json::json!({}));
        Arc::new(schema)
    };
    Tool::new(name, description, schema).with_title(title(name)).with_annotations(annotations(name))
}

const MQTT_NOTE: &str = "Needs the coordinator's MQTT bus: in stdio mode or while the bus is \
    down it fails; get_thread_updates is the reliable polling alternative.";

fn build() -> Vec<Tool> {
    let mut tools = vec![
        spec::<RegisterAgentArgs>(
            "register_agent",
            "Call once at the start of a session, before any other tool: registers this agent \
             under a stable, unique agent_id (re-registering an id takes it over) with the \
             modules it usually works on, and marks it online.",
        ),
        spec::<ListAgentsArgs>(
            "list_agents",
            "List the agents of your org and the modules they work on. Call it to see who \
             may be affected by a change or who to hand work to.",
        ),
        spec::<HeartbeatArgs>(
            "heartbeat",
            "Call every few minutes while working, and whenever you switch file or thread, to \
             stay online and show others where you are working.",
        ),
        spec::<AgentActivityArgs>(
            "agent_activity",
            "What every online agent is doing now (working, waiting, idle) and on which file \
             or thread. Check it before touching an area someone may be busy in.",
        ),
        spec::<AnnounceWorkArgs>(
            "announce_work",
            "Call BEFORE editing files: declares the change (subject, plan, target modules and \
             repo-relative files) and returns the impacted agents, conflicts with other work and \
             their recent context. If the returned thread is open, agree with the respondents \
             in it (get_thread_updates, post_to_thread, propose_resolution) before touching \
             contested files; call close_thread when done.",
        ),
        spec::<PostToThreadArgs>(
            "post_to_thread",
            "Post context, a suggestion or a warning in a coordination thread, e.g. to answer \
             an agent whose announced work overlaps yours.",
        ),
        spec::<ProposeResolutionArgs>(
            "propose_resolution",
            "As the thread's initiator or claimant, propose how the overlap is settled (who \
             changes what, in which order). The thread moves to resolving; respondents then \
             approve or contest.",
        ),
        spec::<ApproveResolutionArgs>(
            "approve_resolution",
            "Approve the proposal of a thread in resolving state. When every expected \
             respondent approves, the thread is resolved by consensus.",
        ),
        spec::<ContestResolutionArgs>(
            "contest_resolution",
            "Reject the proposal of a thread in resolving state, saying why; the thread goes \
             to another round.",
        ),
        spec::<CloseThreadArgs>(
            "close_thread",
            "As the initiator, close your thread when the announced work is done, with a \
             summary of what changed.",
        ),
        spec::<CancelThreadArgs>(
            "cancel_thread",
            "As the initiator, abandon announced work: the thread is cancelled and accepts no \
             more messages.",
        ),
        spec::<GetThreadArgs>(
            "get_thread",
            "Read one thread and all its messages, oldest first, to catch up before replying.",
        ),
        spec::<GetThreadUpdatesArgs>(
            "get_thread_updates",
            "Poll for new messages from other agents on open or resolving threads, optionally \
             since a time. The reliable way to follow consultations: call it regularly while \
             you have open threads.",
        ),
        spec::<ListThreadsArgs>(
            "list_threads",
            "List threads, newest first, filtered by status, initiator, module or assignment; \
             use assigned_to_me to find work dispatched to you.",
        ),
        spec::<LogActionSummaryArgs>(
            "log_action_summary",
            "After a meaningful edit, record what you changed in a file and why. Agents who \
             later announce work on the same code receive these summaries as context.",
        ),
    ];
    tools.extend(file_tools());
    tools.extend(messaging_tools());
    tools
}

fn file_tools() -> Vec<Tool> {
    vec![
        spec::<HotFilesArgs>(
            "hot_files",
            "Files touched by more than one agent in the last minutes (default 30): the current \
             collision risks. Check before starting work in a busy area.",
        ),
        spec::<GetSessionFilesArgs>("get_session_files", "The file activity recorded for one session, in order."),
        spec::<CheckFileConflictArgs>(
            "check_file_conflict",
            "Before editing a file, ask whether other agents were active on it recently \
             (default 30 minutes).",
        ),
        spec::<SetDependencyMapArgs>(
            "set_dependency_map",
            "Upload the module dependency map (JSON text: depends_on, exports and owners per \
             module) that drives impact scoring. Call it when the project structure changes; \
             modules not listed are kept.",
        ),
        spec::<GetBlastRadiusArgs>(
            "get_blast_radius",
            "Before changing a module's interface: which modules depend on it, directly or \
             not, its exports, and the open threads in that radius.",
        ),
        spec::<GetModuleInfoArgs>(
            "get_module_info",
            "One module's dependencies, exports and owners from the dependency map (null if \
             unknown).",
        ),
    ]
}

fn messaging_tools() -> Vec<Tool> {
    const WAIT: &str = "Wait until a message arrives in your agent inbox (at most \
        timeout_seconds, default 15, max 300) and return it, for push-style coordination. ";
    const QUEUED: &str = "Drain the messages waiting in your agent inbox (returned messages are \
        deleted; require_ack and ack give acknowledged batches instead). ";
    const PUBLISH: &str = "Publish a message on a topic of your org (coordinator/<org>/<topic>), \
        e.g. to signal a listening agent; to discuss work, use post_to_thread. ";
    vec![
        spec::<WaitForMessageArgs>("wait_for_message", format!("{WAIT}{MQTT_NOTE}")),
        spec::<GetQueuedMessagesArgs>("get_queued_messages", format!("{QUEUED}{MQTT_NOTE}")),
        spec::<MqttPublishArgs>("mqtt_publish", format!("{PUBLISH}{MQTT_NOTE}")),
        spec::<CoordinatorStatusArgs>(
            "coordinator_status",
            "Overview: online agents, open and resolving threads, hot files, MQTT status. A \
             cheap first call to get oriented.",
        ),
        spec::<WaitForPeersArgs>(
            "wait_for_peers",
            "At the start of a multi-agent run, wait until at least min_peers other agents are \
             online (at most timeout_seconds, default 30, max 300).",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hints(tool: &Tool) -> [Option<bool>; 4] {
        let a = tool.annotations.clone().unwrap_or_default();
        [a.read_only_hint, a.idempotent_hint, a.destructive_hint, a.open_world_hint]
    }

    #[test]
    fn catalog_matches_the_parser() {
        let names: Vec<String> = tools().iter().map(|tool| tool.name.to_string()).collect();
        assert_eq!(names, TOOL_NAMES);
    }

    #[test]
    fn titles_are_sentence_case() {
        assert_eq!(title("announce_work"), "Announce work");
        assert_eq!(title("get_thread_updates"), "Get thread updates");
        assert_eq!(title("mqtt_publish"), "MQTT publish");
        assert_eq!(title("heartbeat"), "Heartbeat");
        for tool in tools() {
            let annotated = tool.annotations.as_ref().and_then(|a| a.title.clone());
            assert_eq!(tool.title, annotated);
        }
    }

    #[test]
    fn annotations_follow_the_spec() {
        let idempotent_writes = ["register_agent", "heartbeat", "set_dependency_map"];
        let destructive = ["close_thread", "cancel_thread", "get_queued_messages"];
        for tool in tools() {
            let name = tool.name.as_ref();
            let read = READ_TOOLS.contains(&name);
            let expected = [
                Some(read),
                Some(read || idempotent_writes.contains(&name)),
                Some(destructive.contains(&name)),
                Some(name == "mqtt_publish"),
            ];
            assert_eq!(hints(&tool), expected, "{name}");
        }
        let writes = tools().iter().filter(|t| required_scope(&t.name) == Scope::Write).count();
        assert_eq!(writes, 14);
    }

    #[test]
    fn schemas_are_inline_objects_with_the_required_arguments() {
        for tool in tools() {
            let schema = serde_json::Value::Object(tool.input_schema.as_ref().clone());
            assert_eq!(schema["type"], "object", "{}", tool.name);
            assert!(schema["properties"].is_object(), "{}", tool.name);
            assert!(!schema.to_string().contains("$ref"), "{}", tool.name);
            assert!(tool.description.as_ref().is_some_and(|d| d.len() > 40));
        }
        let announce = tool("announce_work").map(|t| t.input_schema.as_ref().clone());
        let required = announce.and_then(|s| s.get("required").cloned());
        assert_eq!(required, Some(serde_json::json!(["agent_id", "subject", "target_modules", "target_files"])));
        let post = tool("post_to_thread").map(|t| t.schema_as_json_value());
        let kind = post.map(|s| s["properties"]["type"]["enum"].clone());
        assert_eq!(kind, Some(serde_json::json!(["context", "suggestion", "warning"])));
    }

    #[test]
    fn mqtt_tools_point_to_polling() {
        for name in ["wait_for_message", "get_queued_messages", "mqtt_publish"] {
            let description = tool(name).and_then(|t| t.description).unwrap_or_default();
            assert!(description.contains("MQTT bus"), "{name}");
            assert!(description.contains("get_thread_updates"), "{name}");
        }
    }
}
