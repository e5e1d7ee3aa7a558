//! Identifier newtypes. Every id that crosses a boundary is validated once, here, so the rest of the core can
//! rely on it being non-empty and bounded. Must not depend on any transport or storage crate.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::error::CoreError;

/// Longest accepted client-chosen identifier (agent ids, run ids, session ids, module ids).
pub const MAX_ID_LEN: usize = 256;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value already known to be valid (read back from the store).
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }
            /// Validates a client-supplied value; `field` names the argument in the error.
            pub fn parse(field: &str, s: &str) -> Result<Self, CoreError> {
                check_id(field, s)?;
                Ok(Self(s.to_owned()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

fn check_id(field: &str, s: &str) -> Result<(), CoreError> {
    if s.trim().is_empty() {
        return Err(CoreError::invalid(field, "must not be empty"));
    }
    if s.chars().count() > MAX_ID_LEN {
        return Err(CoreError::invalid(field, format!("at most {MAX_ID_LEN} characters")));
    }
    if s.chars().any(char::is_control) {
        return Err(CoreError::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

string_id!(
    /// Tenant id; open mode uses `default`.
    OrgId
);
string_id!(
    /// Client-chosen agent id, unique per org.
    AgentId
);
string_id!(
    /// Thread id (UUID v4 text).
    ThreadId
);
string_id!(
    /// Optional run label scoping thread visibility.
    RunId
);
string_id!(
    /// Module id of the dependency map.
    ModuleId
);
string_id!(
    /// Editor/agent session id (file activity, action summaries).
    SessionId
);

impl OrgId {
    /// The org every open-mode caller belongs to.
    pub fn default_org() -> Self {
        Self("default".to_owned())
    }
}

impl ThreadId {
    /// A fresh random id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }
    /// First 8 characters, as used in reasons and conflict descriptions.
    pub fn short(&self) -> &str {
        self.0.get(..8).unwrap_or(&self.0)
    }
}

/// A fresh UUID v4 string for messages, summaries and introspections.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}
