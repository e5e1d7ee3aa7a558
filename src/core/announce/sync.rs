//! `IndexChange`: one mutation of an org's scorer index. The core applies each change locally right after its
//! commit and hands it to the `ClusterLink`, so other replicas apply the same change (scoring.md §9,
//! `coordinator:index`). Changes are idempotent upserts, so a replayed change is harmless; a replica that may
//! have missed one rebuilds its indexes from the store instead.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::index::{IdxThread, OrgIndex};
use crate::core::ids::AgentId;
use crate::core::paths::RepoPath;
use crate::core::time::Timestamp;

/// One index mutation, as applied and as sent to the other replicas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum IndexChange {
    /// Registry state of an agent (register, liveness, heartbeat).
    Agent { id: AgentId, name: String, modules: Vec<String>, online: bool, last_seen: Timestamp },
    /// Departure: offline, claims dropped (name and modules kept).
    Departed { id: AgentId },
    /// One file-activity row; refreshes the agent's liveness when it is online.
    Activity { agent: AgentId, file: RepoPath, at: Timestamp, symbols: Option<Vec<String>> },
    /// A thread's current state (any status change).
    Thread { thread: IdxThread },
    /// A working-file claim set (`until`) or stopped (`None`).
    Claim { agent: AgentId, file: RepoPath, until: Option<Timestamp> },
    /// A swept claim: removed only if it has really expired at `now`.
    ClaimExpired { agent: AgentId, file: RepoPath, now: Timestamp },
    /// The org's whole dependency map (direct edges).
    Dependencies { deps: HashMap<String, Vec<String>> },
    /// The org's data was reset.
    Reset,
}

impl IndexChange {
    /// An agent seen online at `now`.
    pub fn online(agent: &crate::core::agents::Agent, now: Timestamp) -> Self {
        Self::Agent {
            id: agent.id.clone(),
            name: agent.name.clone(),
            modules: agent.modules.clone(),
            online: true,
            last_seen: now,
        }
    }

    /// A thread's current state.
    pub fn thread(t: &crate::core::threads::Thread) -> Self {
        Self::Thread { thread: IdxThread::from_thread(t) }
    }

    /// Applies the change to one org's index.
    pub fn apply(&self, idx: &mut OrgIndex) {
        match self {
            Self::Agent { id, name, modules, online, last_seen } => {
                idx.upsert_agent(id, name, modules, *online, *last_seen);
            }
            Self::Departed { id } => {
                if let Some(a) = idx.agents.get(id).cloned() {
                    idx.upsert_agent(id, &a.name, &a.modules, false, a.last_seen);
                }
                idx.drop_agent_claims(id);
            }
            Self::Activity { agent, file, at, symbols } => {
                idx.record_activity(agent, file, *at, symbols.clone());
                if idx.is_online(agent, *at) {
                    idx.touch_agent(agent, *at);
                }
            }
            Self::Thread { thread } => idx.upsert_thread(thread.clone()),
            Self::Claim { agent, file, until } => idx.set_claim(agent, file, *until),
            Self::ClaimExpired { agent, file, now } => {
                if idx.claims.get(file).and_then(|m| m.get(agent)).is_some_and(|u| u <= now) {
                    idx.set_claim(agent, file, None);
                }
            }
            Self::Dependencies { deps } => idx.set_dependencies(deps.clone()),
            Self::Reset => *idx = OrgIndex::new(idx.ttl_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::ThreadId;
    use crate::core::threads::ThreadStatus;

    #[test]
    fn wire_round_trip_and_apply() {
        let t = IdxThread {
            id: ThreadId::generate(),
            initiator: AgentId::new("a"),
            subject: "s".into(),
            status: ThreadStatus::Open,
            created_at: Timestamp::from_secs(100),
            resolved_at: None,
            run_id: None,
            target_files: vec![RepoPath::from_stored("src/a.rs")],
            depends_on: vec![],
            target_modules: vec!["m".into()],
        };
        let changes = vec![
            IndexChange::Agent {
                id: AgentId::new("a"),
                name: "A".into(),
                modules: vec!["m".into()],
                online: true,
                last_seen: Timestamp::from_secs(100),
            },
            IndexChange::Thread { thread: t.clone() },
            IndexChange::Claim {
                agent: AgentId::new("a"),
                file: RepoPath::from_stored("src/a.rs"),
                until: Some(Timestamp::from_secs(200)),
            },
        ];
        let wire = serde_json::to_string(&changes).unwrap();
        let back: Vec<IndexChange> = serde_json::from_str(&wire).unwrap();
        assert_eq!(back, changes);
        let mut idx = OrgIndex::new(900);
        for c in &back {
            c.apply(&mut idx);
        }
        assert!(idx.is_online(&AgentId::new("a"), Timestamp::from_secs(101)));
        assert_eq!(idx.threads.get(&t.id), Some(&t));
        IndexChange::Departed { id: AgentId::new("a") }.apply(&mut idx);
        assert!(!idx.is_online(&AgentId::new("a"), Timestamp::from_secs(101)));
        assert!(idx.claims.is_empty());
        IndexChange::Reset.apply(&mut idx);
        assert!(idx.threads.is_empty() && idx.agents.is_empty());
    }
}
