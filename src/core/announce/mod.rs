//! Announcements: impact scoring over in-memory indexes, the conflict detector, plan quality and the verdict
//! (scoring.md). `impact` and `conflicts` are pure functions of an `OrgIndex` and the query.

pub mod conflicts;
pub mod impact;
pub mod index;
mod model;
pub mod ops;
pub mod plan;
pub mod sync;

pub use model::{
    ConflictReport, ConflictType, Impact, ImpactScore, Layer, PlanChecks, PlanMode, PlanQuality, Severity, score,
};
pub use ops::{AgentContext, AnnounceInput, AnnounceOutcome};
