//! The server `instructions` sent in `initialize` / `server/discover` (`mcp-tools.md` §8).
//!
//! Clients put this text in the model's context, so it is short (≤ 2 048 bytes), names only
//! real tools, and tells an agent the workflow: register, announce before editing, engage when
//! a thread is open, heartbeat, close. A unit test keeps it honest against the catalog.

/// The instructions text.
pub const INSTRUCTIONS: &str = "\
mcp-coordinator stops AI coding agents working on one repository from overwriting each other's work.

1. Start: call register_agent once with a stable, unique agent_id (re-registering an id takes it over) and the modules you work on.
2. Before editing any file: call announce_work with a subject, a plan naming files and approach, target_modules and repo-relative target_files. An auto-resolved thread means nobody is concerned: go ahead.
3. If the thread is open, other agents are concerned: agree with them before touching contested files. Follow replies with get_thread_updates, answer with post_to_thread, settle with propose_resolution; respondents use approve_resolution or contest_resolution.
4. While working: heartbeat every few minutes; log_action_summary after meaningful edits.
5. When done: close_thread with a summary (cancel_thread if you abandon the work).

Polling get_thread_updates always works. When the coordinator has an MQTT bus, wait_for_message and get_queued_messages read your inbox and mqtt_publish signals other agents.

Tools by purpose:
- Agents: register_agent, heartbeat, list_agents, agent_activity, wait_for_peers
- Consultation: announce_work, post_to_thread, propose_resolution, approve_resolution, contest_resolution, close_thread, cancel_thread, get_thread, get_thread_updates, list_threads, log_action_summary
- Files: hot_files, check_file_conflict, get_session_files
- Dependencies: set_dependency_map, get_blast_radius, get_module_info
- Push (MQTT): wait_for_message, get_queued_messages, mqtt_publish
- Status: coordinator_status
";

/// Spec limit on the instructions size.
pub const MAX_INSTRUCTIONS_BYTES: usize = 2_048;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::catalog;

    /// Argument names the text may mention besides tool names.
    const ALLOWED_ARGUMENTS: [&str; 3] = ["agent_id", "target_modules", "target_files"];

    fn snake_tokens(text: &str) -> Vec<&str> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|token| token.contains('_')).collect()
    }

    #[test]
    fn every_snake_case_token_is_a_tool_or_an_allowed_argument() {
        let names: Vec<String> = catalog::tools().iter().map(|t| t.name.to_string()).collect();
        for token in snake_tokens(INSTRUCTIONS) {
            assert!(
                names.iter().any(|name| name == token) || ALLOWED_ARGUMENTS.contains(&token),
                "instructions mention `{token}`, which is neither a tool nor an allowed argument"
            );
        }
    }

    #[test]
    fn every_tool_is_listed_by_purpose() {
        let mentioned: Vec<&str> = INSTRUCTIONS.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).collect();
        for tool in catalog::tools() {
            assert!(mentioned.contains(&tool.name.as_ref()), "{} missing", tool.name);
        }
    }

    #[test]
    fn fits_the_size_limit_and_is_ascii_english() {
        assert!(INSTRUCTIONS.len() <= MAX_INSTRUCTIONS_BYTES, "{} bytes", INSTRUCTIONS.len());
        assert!(INSTRUCTIONS.is_ascii());
    }
}
