//! Result shapes of an announcement: impact scores, conflict reports, plan quality.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::core::ids::AgentId;

/// Layer label of a firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Layer {
    #[serde(rename = "L0")]
    L0,
    #[serde(rename = "L0.5")]
    L05,
    #[serde(rename = "L1")]
    L1,
    #[serde(rename = "L2")]
    L2,
    #[serde(rename = "L3")]
    L3,
    #[serde(rename = "L4")]
    L4,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::L0 => "L0",
            Self::L05 => "L0.5",
            Self::L1 => "L1",
            Self::L2 => "L2",
            Self::L3 => "L3",
            Self::L4 => "L4",
        }
    }
    pub const ALL: [Layer; 6] = [Self::L0, Self::L05, Self::L1, Self::L2, Self::L3, Self::L4];
}

/// Scores and category bounds (scoring.md §2, §4).
pub mod score {
    pub const L0A: i64 = 100;
    pub const L0B: i64 = 80;
    pub const L0C: i64 = 80;
    pub const L1: i64 = 100;
    pub const L2: i64 = 80;
    pub const L3: i64 = 30;
    pub const L4_HIGH: i64 = 60;
    pub const L4_LOW: i64 = 40;
    pub const CONCERNED: i64 = 90;
    pub const GRAY: i64 = 30;
}

/// ImpactScore of one candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImpactScore {
    pub agent_id: AgentId,
    pub agent_name: String,
    pub score: i64,
    pub reasons: Vec<String>,
    pub reason: String,
    pub layer: Option<Layer>,
}

/// The `impact` object of an announcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Impact {
    pub concerned: Vec<ImpactScore>,
    pub gray_zone: Vec<ImpactScore>,
    pub pass: Vec<ImpactScore>,
    pub pass_count: usize,
}

/// Conflict types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictType {
    FileOverlap,
    ModuleOverlap,
    DependencyChain,
}

/// Conflict severity: `warning` iff the agent is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Info,
}

/// The ConflictReport shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictReport {
    #[serde(rename = "type")]
    pub kind: ConflictType,
    pub severity: Severity,
    pub agent_id: AgentId,
    pub agent_name: String,
    pub description: String,
    pub details: Map<String, Value>,
}

/// Plan quality checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct PlanChecks {
    pub mentions_files: bool,
    pub concrete_approach: bool,
    pub sufficient_detail: bool,
}

/// Plan mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanMode {
    WithPlan,
    Discovery,
}

/// The PlanQuality shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanQuality {
    pub mode: PlanMode,
    pub score: u8,
    pub checks: PlanChecks,
    pub original_plan: Option<String>,
}
