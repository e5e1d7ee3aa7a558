//! Thread, message and introspection rows (threads.md §2, mcp-tools.md §2).

use serde::Serialize;

use crate::core::announce::ConflictReport;
use crate::core::ids::{AgentId, OrgId, RunId, ThreadId};
use crate::core::paths::RepoPath;
use crate::core::rows::{json_str, opt_json_str, opt_t1, t1};
use crate::core::time::Timestamp;

/// Default number of rounds before `max_rounds` resolution.
pub const DEFAULT_MAX_ROUNDS: i64 = 4;
/// Default thread timeout in seconds (0 with keep_open / assigned_to).
pub const DEFAULT_TIMEOUT_SECONDS: i64 = 600;
/// Unclaims that poison a thread.
pub const POISON_UNCLAIMS: i64 = 2;

macro_rules! str_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }
        impl $name {
            pub fn as_str(self) -> &'static str { match self { $(Self::$variant => $text),+ } }
            pub fn parse(s: &str) -> Option<Self> { match s { $($text => Some(Self::$variant),)+ _ => None } }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

str_enum!(ThreadStatus { Open => "open", Resolving => "resolving", Resolved => "resolved", Cancelled => "cancelled", Poisoned => "poisoned" });
str_enum!(ResolutionType {
    Consensus => "consensus", AutoResolved => "auto_resolved", Timeout => "timeout", Closed => "closed",
    MaxRounds => "max_rounds", AgentDeparture => "agent_departure"
});
str_enum!(MessageType {
    Context => "context", Suggestion => "suggestion", Warning => "warning", Resolution => "resolution",
    Approve => "approve", Contest => "contest"
});
str_enum!(IntrospectionStatus { Pending => "pending", Responded => "responded", Expired => "expired" });

impl ThreadStatus {
    /// Open or resolving: the thread still awaits its agents.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Open | Self::Resolving)
    }
}

/// The Thread row shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Thread {
    pub id: ThreadId,
    pub org_id: OrgId,
    pub initiator_id: AgentId,
    pub subject: String,
    pub plan: Option<String>,
    #[serde(serialize_with = "json_str")]
    pub target_modules: Vec<String>,
    #[serde(serialize_with = "json_str")]
    pub target_files: Vec<RepoPath>,
    #[serde(serialize_with = "opt_json_str")]
    pub depends_on_files: Option<Vec<RepoPath>>,
    #[serde(serialize_with = "opt_json_str")]
    pub exports_affected: Option<Vec<String>>,
    pub status: ThreadStatus,
    pub resolution_summary: Option<String>,
    pub resolution_type: Option<ResolutionType>,
    #[serde(serialize_with = "opt_json_str")]
    pub conflicts: Option<Vec<ConflictReport>>,
    pub round: i64,
    pub max_rounds: i64,
    pub timeout_seconds: i64,
    pub keep_open: bool,
    #[serde(serialize_with = "t1")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "opt_t1")]
    pub resolved_at: Option<Timestamp>,
    #[serde(serialize_with = "json_str")]
    pub expected_respondents: Vec<AgentId>,
    pub claimed_by: Option<AgentId>,
    #[serde(serialize_with = "opt_t1")]
    pub claimed_at: Option<Timestamp>,
    pub unclaim_count: i64,
    pub assigned_to: Option<AgentId>,
    pub run_id: Option<RunId>,
}

impl Thread {
    /// Visible to an announcement with `run`: unscoped threads, unscoped announcements, or the same run.
    pub fn visible_to(&self, run: Option<&RunId>) -> bool {
        match (&self.run_id, run) {
            (None, _) | (_, None) => true,
            (Some(a), Some(b)) => a == b,
        }
    }
    /// Deadline of the timeout sweeper, if any.
    pub fn deadline(&self) -> Option<Timestamp> {
        (self.timeout_seconds > 0).then(|| self.created_at.plus_secs(self.timeout_seconds * self.round))
    }
}

/// The Message row shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub id: String,
    pub org_id: OrgId,
    pub thread_id: ThreadId,
    pub agent_id: AgentId,
    pub agent_name: Option<String>,
    #[serde(rename = "type")]
    pub kind: MessageType,
    pub content: String,
    pub context_snapshot: Option<String>,
    pub in_reply_to: Option<String>,
    pub round: i64,
    pub token_estimate: i64,
    #[serde(serialize_with = "t1")]
    pub created_at: Timestamp,
}

/// ceil(chars / 4).
pub fn token_estimate(content: &str) -> i64 {
    (content.chars().count() as i64 + 3) / 4
}

/// An introspection request for a gray-zone agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Introspection {
    pub id: String,
    pub org_id: OrgId,
    pub thread_id: ThreadId,
    pub agent_id: AgentId,
    pub score: i64,
    #[serde(serialize_with = "json_str")]
    pub reasons: Vec<String>,
    pub status: IntrospectionStatus,
    pub response: Option<String>,
    pub concerned: Option<bool>,
    #[serde(serialize_with = "t1")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "opt_t1")]
    pub responded_at: Option<Timestamp>,
}
