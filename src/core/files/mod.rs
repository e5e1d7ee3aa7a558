//! File activity, working-file claims, hot files and action summaries.

mod model;

pub use model::{ActionSummary, FileActivity, HotFile, WorkingClaim};
