//! Arguments of the file tools (`hot_files`, `get_session_files`, `check_file_conflict`) and
//! the dependency tools (`set_dependency_map`, `get_blast_radius`, `get_module_info`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, de::Error as _};
use serde_json::Value;

use super::{
    MAX_DEPENDENCY_MODULES, MAX_ID_CHARS, MAX_LIST_ITEMS, MAX_PATH_CHARS, MAX_WINDOW_MINUTES, ParseError, Validate,
};
use super::{at_most, list, required};

fn thirty() -> u64 {
    30
}

/// `hot_files`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct HotFilesArgs {
    /// Window in minutes.
    #[serde(default = "thirty")]
    pub since_minutes: u64,
}

impl Validate for HotFilesArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        at_most("since_minutes", self.since_minutes, MAX_WINDOW_MINUTES)
    }
}

/// `get_session_files`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct GetSessionFilesArgs {
    /// The session id.
    pub session_id: String,
}

impl Validate for GetSessionFilesArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        required("session_id", &self.session_id, MAX_ID_CHARS)
    }
}

/// `check_file_conflict`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct CheckFileConflictArgs {
    /// Repo-relative path you are about to edit.
    pub file_path: String,
    /// Your agent id (left out of the answer).
    pub agent_id: String,
    /// Window in minutes.
    #[serde(default = "thirty")]
    pub within_minutes: u64,
}

impl Validate for CheckFileConflictArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        required("file_path", &self.file_path, MAX_PATH_CHARS)?;
        required("agent_id", &self.agent_id, MAX_ID_CHARS)?;
        at_most("within_minutes", self.within_minutes, MAX_WINDOW_MINUTES)
    }
}

/// `set_dependency_map`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct SetDependencyMapArgs {
    /// The map as JSON text (an object is accepted too).
    #[schemars(
        with = "String",
        description = "JSON text: {\"<module id>\": {\"module_id\": \"...\", \"depends_on\": [...], \
                       \"exports\": [...], \"owners\": [...]}}. A missing module_id is the key, \
                       missing lists are empty; modules not listed are kept."
    )]
    pub modules: DependencyMap,
}

impl Validate for SetDependencyMapArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        self.modules.validate()
    }
}

/// The parsed `modules` argument: module entries keyed by module id.
///
/// Deserialises from the JSON string of the contract or, leniently, from an object.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(transparent)]
pub struct DependencyMap(pub BTreeMap<String, ModuleEntry>);

/// One module of a dependency map, with defaults applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModuleEntry {
    pub module_id: String,
    pub depends_on: Vec<String>,
    pub exports: Vec<String>,
    pub owners: Vec<String>,
}

#[derive(Deserialize)]
struct RawModuleEntry {
    #[serde(default)]
    module_id: Option<String>,
    #[serde(default)]
    depends_on: Option<Vec<String>>,
    #[serde(default)]
    exports: Option<Vec<String>>,
    #[serde(default)]
    owners: Option<Vec<String>>,
}

impl<'de> Deserialize<'de> for DependencyMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = match Value::deserialize(deserializer)? {
            Value::String(text) => serde_json::from_str(&text).map_err(D::Error::custom)?,
            other => other,
        };
        let raw: BTreeMap<String, RawModuleEntry> = serde_path_to_error::deserialize(value).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if path == "." { D::Error::custom(inner) } else { D::Error::custom(format_args!("{path}: {inner}")) }
        })?;
        let entries = raw.into_iter().map(|(key, entry)| {
            let entry = ModuleEntry {
                module_id: entry.module_id.unwrap_or_else(|| key.clone()),
                depends_on: entry.depends_on.unwrap_or_default(),
                exports: entry.exports.unwrap_or_default(),
                owners: entry.owners.unwrap_or_default(),
            };
            (key, entry)
        });
        Ok(DependencyMap(entries.collect()))
    }
}

impl Validate for DependencyMap {
    fn validate(&mut self) -> Result<(), ParseError> {
        if self.0.len() > MAX_DEPENDENCY_MODULES {
            let problem = format!("at most {MAX_DEPENDENCY_MODULES} modules");
            return Err(ParseError::invalid("modules", problem));
        }
        for (key, entry) in &self.0 {
            let at = |field: &str| format!("modules.{key}.{field}");
            required(&format!("modules.{key}"), key, MAX_ID_CHARS)?;
            required(&at("module_id"), &entry.module_id, MAX_ID_CHARS)?;
            list(&at("depends_on"), &entry.depends_on, MAX_LIST_ITEMS, MAX_ID_CHARS)?;
            list(&at("exports"), &entry.exports, MAX_LIST_ITEMS, MAX_ID_CHARS)?;
            list(&at("owners"), &entry.owners, MAX_LIST_ITEMS, MAX_ID_CHARS)?;
        }
        Ok(())
    }
}

/// `get_blast_radius`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct GetBlastRadiusArgs {
    /// The module id.
    pub module_id: String,
}

impl Validate for GetBlastRadiusArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        required("module_id", &self.module_id, MAX_ID_CHARS)
    }
}

/// `get_module_info`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
pub struct GetModuleInfoArgs {
    /// The module id.
    pub module_id: String,
}

impl Validate for GetModuleInfoArgs {
    fn validate(&mut self) -> Result<(), ParseError> {
        required("module_id", &self.module_id, MAX_ID_CHARS)
    }
}
