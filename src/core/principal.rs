//! Who is calling. Every `Core` operation takes a `Principal`; the org in it confines all data access, so org
//! isolation holds whatever transport the call came through.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::ids::OrgId;

/// Service-token scope (`read` < `write` < `admin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Read,
    Write,
    Admin,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        })
    }
}

/// Role of the caller inside its org.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Admin,
    Service,
}

/// The caller's claims, taken from the request itself (never from a session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub org: OrgId,
    pub subject: String,
    pub role: Role,
    /// `None` = unrestricted.
    pub scope: Option<Scope>,
}

impl Principal {
    /// Open mode and stdio: `{sub:"legacy", org:"default", role:"admin"}`.
    pub fn open_mode() -> Self {
        Self { org: OrgId::default_org(), subject: "legacy".to_owned(), role: Role::Admin, scope: None }
    }

    /// An unrestricted member of `org` (tests, tooling).
    pub fn member_of(org: OrgId, subject: impl Into<String>) -> Self {
        Self { org, subject: subject.into(), role: Role::Member, scope: None }
    }

    /// Whether the claims allow an operation needing `need`.
    pub fn allows(&self, need: Scope) -> bool {
        self.scope.is_none_or(|held| held >= need)
    }
}
