//! Dependency-map entries.

use serde::{Deserialize, Serialize};

/// One module of the org's dependency map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleInfo {
    pub module_id: String,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub exports: Vec<String>,
    #[serde(default)]
    pub owners: Vec<String>,
}
