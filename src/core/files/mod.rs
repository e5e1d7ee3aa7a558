//! File activity, working-file claims, hot files and action summaries.

mod model;
pub mod ops;

pub use model::{ActionSummary, FileActivity, HotFile, WorkingClaim};
pub use ops::{FileAgent, FileConflict, FileEdit};

/// SHA-256 of a file's content, lower-case hex (`content_hash`).
pub fn content_hash(content: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(content.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
