//! File activity, working-file claims and action summaries.

use serde::Serialize;

use crate::core::ids::{AgentId, OrgId, SessionId};
use crate::core::paths::RepoPath;
use crate::core::rows::{opt_json_str, t1};
use crate::core::time::Timestamp;

/// The FileActivity row shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileActivity {
    pub id: i64,
    pub org_id: OrgId,
    pub session_id: SessionId,
    pub agent_id: AgentId,
    pub agent_name: Option<String>,
    pub tool_name: String,
    pub file_path: RepoPath,
    pub module: String,
    #[serde(serialize_with = "t1")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "opt_json_str")]
    pub symbols_touched: Option<Vec<String>>,
    pub content_hash: Option<String>,
}

/// The ActionSummary row shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionSummary {
    pub id: String,
    pub org_id: OrgId,
    pub session_id: SessionId,
    pub agent_id: AgentId,
    pub file_path: Option<RepoPath>,
    pub summary: String,
    #[serde(serialize_with = "t1")]
    pub created_at: Timestamp,
}

/// One entry of `hot_files`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HotFile {
    pub file_path: RepoPath,
    pub agent_count: i64,
    pub agents: Vec<AgentId>,
}

/// A live working-file claim (editor hooks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingClaim {
    pub org_id: OrgId,
    pub agent_id: AgentId,
    pub file_path: RepoPath,
    pub started_at: Timestamp,
    pub claim_until: Timestamp,
}
