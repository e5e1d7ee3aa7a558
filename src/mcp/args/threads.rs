//! Arguments of the consultation tools (threads, messages, resolutions, action summaries).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    LIST_THREADS_LIMIT, MAX_ID_CHARS, MAX_LIST_ITEMS, MAX_PATH_CHARS, MAX_SUBJECT_CHARS, MAX_SYMBOL_CHARS, MAX_SYMBOLS,
    MAX_TEXT_CHARS, ParseError, Validate,
};
use super::{list, optional, optional_list, required};

/// `announce_work`: declare intended edits before touching files.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct AnnounceWorkArgs {
    /// Your agent id (an unknown id is registered implicitly).
    pub agent_id: String,
    /// One-line summary of the change.
    pub subject: String,
    /// How you intend to do it; name the files and the approach.
    pub plan: Option<String>,
    /// Modules the change touches.
    pub target_modules: Vec<String>,
    /// Repo-relative paths you will edit.
    pub target_files: Vec<String>,
    /// Repo-relative paths your change depends on but does not edit.
    pub depends_on_files: Option<Vec<String>>,
    /// Exported symbols whose contract changes.
    pub exports_affected: Option<Vec<String>>,
    /// Keep the thread open even when nobody else is concerned.
    #[serde(default)]
    pub keep_open: bool,
    /// Directed dispatch: only this agent may claim the work (implies keep_open).
    pub assigned_to: Option<String>,
    /// Symbols you will change, e.g. `Class.method` (at most 200, each at most 256 characters).
    pub target_symbols: Option<Vec<String>>,
    /// Run id, to scope the work to one orchestrated run.
    pub run_id: Option<String>,
}

impl Validate for AnnounceWorkArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        required("agent_id", &self.agent_id, MAX_ID_CHARS)?;
        required("subject", &self.subject, MAX_SUBJECT_CHARS)?;
        optional("plan", self.plan.as_deref(), MAX_TEXT_CHARS)?;
        list("target_modules", &self.target_modules, MAX_LIST_ITEMS, MAX_ID_CHARS)?;
        list("target_files", &self.target_files, MAX_LIST_ITEMS, MAX_PATH_CHARS)?;
        let depends = self.depends_on_files.as_deref();
        optional_list("depends_on_files", depends, MAX_LIST_ITEMS, MAX_PATH_CHARS)?;
        let exports = self.exports_affected.as_deref();
        optional_list("exports_affected", exports, MAX_LIST_ITEMS, MAX_ID_CHARS)?;
        optional("assigned_to", self.assigned_to.as_deref(), MAX_ID_CHARS)?;
        let symbols = self.target_symbols.as_deref();
        optional_list("target_symbols", symbols, MAX_SYMBOLS, MAX_SYMBOL_CHARS)?;
        optional("run_id", self.run_id.as_deref(), MAX_ID_CHARS)
    }
}

/// Message types an agent may post (`resolution`, `approve`, `contest` come from other tools).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
pub enum MessageKind {
    Context,
    Suggestion,
    Warning,
}

/// `post_to_thread`: add context, a suggestion or a warning to a thread.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct PostToThreadArgs {
    /// The thread id.
    pub thread_id: String,
    /// Your agent id.
    pub agent_id: String,
    /// Display name (defaults to the registered name).
    pub agent_name: Option<String>,
    /// Message type.
    #[serde(rename = "type")]
    pub kind: MessageKind,
    /// The message.
    pub content: String,
    /// What you were looking at when writing it (files, diff, findings).
    pub context_snapshot: Option<String>,
    /// Id of the message this answers.
    pub in_reply_to: Option<String>,
}

impl Validate for PostToThreadArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        required("thread_id", &self.thread_id, MAX_ID_CHARS)?;
        required("agent_id", &self.agent_id, MAX_ID_CHARS)?;
        optional("agent_name", self.agent_name.as_deref(), MAX_ID_CHARS)?;
        required("content", &self.content, MAX_TEXT_CHARS)?;
        let snapshot = self.context_snapshot.as_deref();
        optional("context_snapshot", snapshot, MAX_TEXT_CHARS)?;
        optional("in_reply_to", self.in_reply_to.as_deref(), MAX_ID_CHARS)
    }
}

/// `propose_resolution`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct ProposeResolutionArgs {
    /// The thread id.
    pub thread_id: String,
    /// Your agent id (the initiator or the claimant).
    pub agent_id: String,
    /// The agreed outcome: who does what.
    pub summary: String,
    /// Accepted for compatibility and ignored.
    pub plan: Option<String>,
}

impl Validate for ProposeResolutionArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        thread_and_agent(&self.thread_id, &self.agent_id)?;
        required("summary", &self.summary, MAX_TEXT_CHARS)?;
        optional("plan", self.plan.as_deref(), MAX_TEXT_CHARS)
    }
}

/// `approve_resolution`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct ApproveResolutionArgs {
    /// The thread id.
    pub thread_id: String,
    /// Your agent id.
    pub agent_id: String,
}

impl Validate for ApproveResolutionArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        thread_and_agent(&self.thread_id, &self.agent_id)
    }
}

/// `contest_resolution`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct ContestResolutionArgs {
    /// The thread id.
    pub thread_id: String,
    /// Your agent id.
    pub agent_id: String,
    /// What is wrong with the proposal.
    pub reason: String,
}

impl Validate for ContestResolutionArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        thread_and_agent(&self.thread_id, &self.agent_id)?;
        required("reason", &self.reason, MAX_TEXT_CHARS)
    }
}

/// `close_thread`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct CloseThreadArgs {
    /// The thread id.
    pub thread_id: String,
    /// Your agent id (the initiator).
    pub agent_id: String,
    /// What was done.
    pub summary: String,
}

impl Validate for CloseThreadArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        thread_and_agent(&self.thread_id, &self.agent_id)?;
        required("summary", &self.summary, MAX_TEXT_CHARS)
    }
}

/// `cancel_thread`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct CancelThreadArgs {
    /// The thread id.
    pub thread_id: String,
    /// Your agent id (the initiator).
    pub agent_id: String,
    /// Why the work is abandoned.
    pub reason: Option<String>,
}

impl Validate for CancelThreadArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        thread_and_agent(&self.thread_id, &self.agent_id)?;
        optional("reason", self.reason.as_deref(), MAX_TEXT_CHARS)
    }
}

/// `get_thread`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct GetThreadArgs {
    /// The thread id.
    pub thread_id: String,
}

impl Validate for GetThreadArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        required("thread_id", &self.thread_id, MAX_ID_CHARS)
    }
}

/// `get_thread_updates`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct GetThreadUpdatesArgs {
    /// Your agent id (your own messages are left out).
    pub agent_id: String,
    /// Only messages created at or after this time: `YYYY-MM-DD HH:MM:SS` (UTC) or ISO-8601.
    pub since: Option<String>,
}

impl Validate for GetThreadUpdatesArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        required("agent_id", &self.agent_id, MAX_ID_CHARS)?;
        optional("since", self.since.as_deref(), 64)
    }
}

/// `list_threads`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct ListThreadsArgs {
    /// Only threads in this status (open, resolving, resolved, cancelled, …).
    pub status: Option<String>,
    /// Only threads started by this agent.
    pub agent_id: Option<String>,
    /// Only threads targeting this module.
    pub module: Option<String>,
    /// Agent id: only threads unassigned or assigned to this agent.
    pub assigned_to_me: Option<String>,
    /// Maximum number of threads, newest first (1–1000).
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: u32,
}

fn default_limit() -> u32 {
    200
}

impl Validate for ListThreadsArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        optional("status", self.status.as_deref(), MAX_ID_CHARS)?;
        optional("agent_id", self.agent_id.as_deref(), MAX_ID_CHARS)?;
        optional("module", self.module.as_deref(), MAX_ID_CHARS)?;
        optional("assigned_to_me", self.assigned_to_me.as_deref(), MAX_ID_CHARS)?;
        if !LIST_THREADS_LIMIT.contains(&self.limit) {
            let (min, max) = (LIST_THREADS_LIMIT.start(), LIST_THREADS_LIMIT.end());
            return Err(ParseError::invalid("limit", format_args!("must be between {min} and {max}")));
        }
        Ok(())
    }
}

/// `log_action_summary`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct LogActionSummaryArgs {
    /// Your session id.
    pub session_id: String,
    /// Your agent id.
    pub agent_id: String,
    /// Repo-relative path the summary is about.
    pub file_path: Option<String>,
    /// What you did and why, for agents that later touch the same code.
    pub summary: String,
}

impl Validate for LogActionSummaryArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        required("session_id", &self.session_id, MAX_ID_CHARS)?;
        required("agent_id", &self.agent_id, MAX_ID_CHARS)?;
        optional("file_path", self.file_path.as_deref(), MAX_PATH_CHARS)?;
        required("summary", &self.summary, MAX_TEXT_CHARS)
    }
}

fn thread_and_agent(thread_id: &str, agent_id: &str) -> Result<(), ParseError> {
    required("thread_id", thread_id, MAX_ID_CHARS)?;
    required("agent_id", agent_id, MAX_ID_CHARS)
}
