//! File activity, working-file claims, hot files and action summaries.

mod model;
pub mod ops;

pub use model::{ActionSummary, FileActivity, HotFile, WorkingClaim};
pub use ops::{FileAgent, FileConflict, FileEdit};
