//! Agent registry rows and activity states (threads.md §1).

use serde::Serialize;

use crate::core::ids::{AgentId, OrgId, ThreadId};
use crate::core::paths::RepoPath;
use crate::core::rows::{json_str, opt_t1, t1};
use crate::core::time::Timestamp;

/// Stored liveness status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    Online,
    Offline,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Offline => "offline",
        }
    }
    pub fn parse(s: &str) -> Self {
        if s == "online" { Self::Online } else { Self::Offline }
    }
}

/// The Agent row shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agent {
    pub id: AgentId,
    pub org_id: OrgId,
    pub name: String,
    #[serde(serialize_with = "json_str")]
    pub modules: Vec<String>,
    pub status: AgentStatus,
    #[serde(serialize_with = "t1")]
    pub registered_at: Timestamp,
    #[serde(serialize_with = "t1")]
    pub last_seen_at: Timestamp,
}

impl Agent {
    /// The online rule: status online and seen within the TTL (inclusive).
    pub fn is_online(&self, now: Timestamp, ttl_secs: i64) -> bool {
        self.status == AgentStatus::Online && self.last_seen_at >= now.trunc_secs().minus_secs(ttl_secs)
    }
}

/// Activity states reported to dashboards and `agent_activity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActivityStatus {
    Working,
    Waiting,
    Idle,
    Offline,
}

impl ActivityStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Working => "working",
            Self::Waiting => "waiting",
            Self::Idle => "idle",
            Self::Offline => "offline",
        }
    }
    pub fn parse(s: &str) -> Self {
        match s {
            "working" => Self::Working,
            "waiting" => Self::Waiting,
            "offline" => Self::Offline,
            _ => Self::Idle,
        }
    }
}

/// The Activity shape (stored row, and the reported value after the read-time rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Activity {
    pub agent_id: AgentId,
    pub activity_status: ActivityStatus,
    pub current_file: Option<RepoPath>,
    pub current_thread: Option<ThreadId>,
    #[serde(serialize_with = "opt_t1")]
    pub last_activity_at: Option<Timestamp>,
}

/// `working` older than this is reported `idle`.
pub const WORKING_TO_IDLE_SECS: i64 = 300;

impl Activity {
    /// Applies the reporting rules of threads.md §1.3 to a stored row.
    pub fn reported(agent_id: &AgentId, online: bool, row: Option<&Activity>, now: Timestamp) -> Activity {
        let idle = |at: Option<Timestamp>| Activity {
            agent_id: agent_id.clone(),
            activity_status: if online { ActivityStatus::Idle } else { ActivityStatus::Offline },
            current_file: None,
            current_thread: None,
            last_activity_at: at,
        };
        match row {
            _ if !online => idle(row.and_then(|r| r.last_activity_at)),
            None => idle(None),
            Some(r)
                if r.activity_status == ActivityStatus::Working
                    && r.last_activity_at.is_none_or(|t| t < now.trunc_secs().minus_secs(WORKING_TO_IDLE_SECS)) =>
            {
                idle(r.last_activity_at)
            }
            Some(r) if r.activity_status == ActivityStatus::Offline => idle(r.last_activity_at),
            Some(r) => r.clone(),
        }
    }
}
