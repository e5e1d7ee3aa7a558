//! Per-org in-memory indexes that make scoring independent of the number of agents and of history
//! (scoring.md §9). They are caches: rebuilt from the store at boot and kept current by the core after each
//! commit. Time windows are applied at read time against the entries touched, so the cost of a read is the
//! number of matches, never a scan.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::core::ids::{AgentId, RunId, ThreadId};
use crate::core::paths::RepoPath;
use crate::core::threads::{Thread, ThreadStatus};
use crate::core::time::Timestamp;

/// Recent-activity window (Layers 1, 2, 4 and hot files in conflicts).
pub const ACTIVITY_WINDOW_SECS: i64 = 60 * 60;
/// Resolved threads stay "active" for the scorer this long.
pub const RESOLVED_WINDOW_SECS: i64 = 30 * 60;

/// What the index keeps of an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxAgent {
    pub name: String,
    pub modules: Vec<String>,
    pub online: bool,
    pub last_seen: Timestamp,
}

/// What the index keeps of a thread.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdxThread {
    pub id: ThreadId,
    pub initiator: AgentId,
    pub subject: String,
    pub status: ThreadStatus,
    pub created_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub run_id: Option<RunId>,
    pub target_files: Vec<RepoPath>,
    pub depends_on: Vec<RepoPath>,
    pub target_modules: Vec<String>,
}

impl IdxThread {
    pub fn from_thread(t: &Thread) -> Self {
        Self {
            id: t.id.clone(),
            initiator: t.initiator_id.clone(),
            subject: t.subject.clone(),
            status: t.status,
            created_at: t.created_at,
            resolved_at: t.resolved_at,
            run_id: t.run_id.clone(),
            target_files: t.target_files.clone(),
            depends_on: t.depends_on_files.clone().unwrap_or_default(),
            target_modules: t.target_modules.clone(),
        }
    }

    /// Active for the scorer: open/resolving, or resolved within the window. Cancelled/poisoned never.
    pub fn is_active(&self, now: Timestamp) -> bool {
        match self.status {
            ThreadStatus::Open | ThreadStatus::Resolving => true,
            ThreadStatus::Resolved => {
                self.resolved_at.unwrap_or(self.created_at) >= now.trunc_secs().minus_secs(RESOLVED_WINDOW_SECS)
            }
            ThreadStatus::Cancelled | ThreadStatus::Poisoned => false,
        }
    }

    pub fn visible_to(&self, run: Option<&RunId>) -> bool {
        match (&self.run_id, run) {
            (None, _) | (_, None) => true,
            (Some(a), Some(b)) => a == b,
        }
    }
}

/// Latest activity of one agent on one file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActivityCell {
    pub last: Timestamp,
    /// Latest row with non-null `symbols_touched`.
    pub symbols: Option<(Timestamp, Vec<String>)>,
}

/// The indexes of one org.
#[derive(Debug, Default)]
pub struct OrgIndex {
    pub(crate) agents: HashMap<AgentId, IdxAgent>,
    /// Agents with status online whose liveness has not been seen to expire yet.
    pub(crate) online: BTreeSet<AgentId>,
    expiry: BTreeSet<(Timestamp, AgentId)>,
    /// module string → agents (status online) declaring it.
    pub(crate) modules: BTreeMap<String, BTreeSet<AgentId>>,
    pub(crate) threads: HashMap<ThreadId, IdxThread>,
    pub(crate) thread_targets: HashMap<RepoPath, Vec<ThreadId>>,
    pub(crate) thread_depends: HashMap<RepoPath, Vec<ThreadId>>,
    pub(crate) thread_modules: HashMap<String, Vec<ThreadId>>,
    pub(crate) activity: HashMap<RepoPath, HashMap<AgentId, ActivityCell>>,
    pub(crate) claims: HashMap<RepoPath, HashMap<AgentId, Timestamp>>,
    /// module → modules it depends on (direct), and the reverse transitive closure cache.
    pub(crate) deps: HashMap<String, Vec<String>>,
    pub(crate) rev_closure: Option<HashMap<String, BTreeSet<String>>>,
    pub(crate) ttl_secs: i64,
}

fn push_unique<K: std::hash::Hash + Eq + Clone>(map: &mut HashMap<K, Vec<ThreadId>>, key: &K, id: &ThreadId) {
    let v = map.entry(key.clone()).or_default();
    if !v.contains(id) {
        v.push(id.clone());
    }
}

fn remove_from<K: std::hash::Hash + Eq + Clone>(map: &mut HashMap<K, Vec<ThreadId>>, key: &K, id: &ThreadId) {
    if let Some(v) = map.get_mut(key) {
        v.retain(|t| t != id);
        if v.is_empty() {
            map.remove(key);
        }
    }
}

impl OrgIndex {
    pub fn new(ttl_secs: i64) -> Self {
        Self { ttl_secs, ..Self::default() }
    }

    /// Records an agent's current registry state (register, liveness, departure).
    pub fn upsert_agent(&mut self, id: &AgentId, name: &str, modules: &[String], online: bool, last_seen: Timestamp) {
        self.remove_agent_online(id);
        let last_seen = last_seen.trunc_secs();
        if online {
            self.online.insert(id.clone());
            self.expiry.insert((last_seen, id.clone()));
            for m in modules.iter().filter(|m| !m.is_empty()) {
                self.modules.entry(m.clone()).or_default().insert(id.clone());
            }
        }
        self.agents
            .insert(id.clone(), IdxAgent { name: name.to_owned(), modules: modules.to_vec(), online, last_seen });
    }

    /// Refreshes liveness of a known agent (status online, seen now).
    pub fn touch_agent(&mut self, id: &AgentId, now: Timestamp) {
        if let Some(a) = self.agents.get(id).cloned() {
            self.upsert_agent(id, &a.name, &a.modules, true, now);
        }
    }

    fn remove_agent_online(&mut self, id: &AgentId) {
        if let Some(prev) = self.agents.get(id) {
            self.expiry.remove(&(prev.last_seen, id.clone()));
            for m in &prev.modules {
                if let Some(set) = self.modules.get_mut(m) {
                    set.remove(id);
                    if set.is_empty() {
                        self.modules.remove(m);
                    }
                }
            }
        }
        self.online.remove(id);
    }

    /// Drops agents whose liveness expired before `now` from the online set (amortised O(1) per expiry).
    pub(crate) fn expire(&mut self, now: Timestamp) {
        let cutoff = now.trunc_secs().minus_secs(self.ttl_secs);
        while let Some((ts, id)) = self.expiry.first().cloned() {
            if ts >= cutoff {
                break;
            }
            self.expiry.remove(&(ts, id.clone()));
            self.online.remove(&id);
        }
    }

    /// Online rule for one agent at `now`.
    pub fn is_online(&self, id: &AgentId, now: Timestamp) -> bool {
        self.agents.get(id).is_some_and(|a| a.online && a.last_seen >= now.trunc_secs().minus_secs(self.ttl_secs))
    }

    /// Inserts or updates a thread (any status change).
    pub fn upsert_thread(&mut self, t: IdxThread) {
        self.remove_thread(&t.id);
        for f in &t.target_files {
            push_unique(&mut self.thread_targets, f, &t.id);
        }
        for f in &t.depends_on {
            push_unique(&mut self.thread_depends, f, &t.id);
        }
        for m in &t.target_modules {
            push_unique(&mut self.thread_modules, m, &t.id);
        }
        self.threads.insert(t.id.clone(), t);
    }

    pub fn remove_thread(&mut self, id: &ThreadId) {
        if let Some(t) = self.threads.remove(id) {
            for f in &t.target_files {
                remove_from(&mut self.thread_targets, f, id);
            }
            for f in &t.depends_on {
                remove_from(&mut self.thread_depends, f, id);
            }
            for m in &t.target_modules {
                remove_from(&mut self.thread_modules, m, id);
            }
        }
    }

    /// Records one file-activity row (rows must arrive in id order).
    pub fn record_activity(&mut self, agent: &AgentId, file: &RepoPath, at: Timestamp, symbols: Option<Vec<String>>) {
        let at = at.trunc_secs();
        let cell = self.activity.entry(file.clone()).or_default().entry(agent.clone()).or_default();
        if at >= cell.last {
            cell.last = at;
        }
        if let Some(s) = symbols
            && cell.symbols.as_ref().is_none_or(|(t, _)| at >= *t)
        {
            cell.symbols = Some((at, s));
        }
    }

    pub fn set_claim(&mut self, agent: &AgentId, file: &RepoPath, until: Option<Timestamp>) {
        match until {
            Some(u) => {
                self.claims.entry(file.clone()).or_default().insert(agent.clone(), u);
            }
            None => {
                if let Some(m) = self.claims.get_mut(file) {
                    m.remove(agent);
                    if m.is_empty() {
                        self.claims.remove(file);
                    }
                }
            }
        }
    }

    /// Removes every claim of an agent (departure).
    pub fn drop_agent_claims(&mut self, agent: &AgentId) {
        self.claims.retain(|_, m| {
            m.remove(agent);
            !m.is_empty()
        });
    }

    /// Replaces the dependency map (direct edges) and invalidates the closure cache.
    pub fn set_dependencies(&mut self, deps: HashMap<String, Vec<String>>) {
        self.deps = deps;
        self.rev_closure = None;
    }

    /// Modules that directly or indirectly depend on `m` (cached per org).
    pub(crate) fn dependents_closure(&mut self, m: &str) -> BTreeSet<String> {
        if self.rev_closure.is_none() {
            let mut rev: HashMap<&str, Vec<&str>> = HashMap::new();
            for (k, vs) in &self.deps {
                for v in vs {
                    rev.entry(v.as_str()).or_default().push(k.as_str());
                }
            }
            let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
            for start in rev.keys() {
                let mut seen: BTreeSet<String> = BTreeSet::new();
                let mut stack = vec![*start];
                while let Some(cur) = stack.pop() {
                    for d in rev.get(cur).into_iter().flatten() {
                        if seen.insert((*d).to_owned()) {
                            stack.push(d);
                        }
                    }
                }
                out.insert((*start).to_owned(), seen);
            }
            self.rev_closure = Some(out);
        }
        self.rev_closure.as_ref().and_then(|c| c.get(m).cloned()).unwrap_or_default()
    }

    /// Forgets entries that can no longer fire (window roll): old activity, expired claims, threads out of
    /// the resolved window. Called periodically; correctness never depends on it.
    pub fn roll(&mut self, now: Timestamp) {
        let act_cut = now.trunc_secs().minus_secs(ACTIVITY_WINDOW_SECS);
        self.activity.retain(|_, m| {
            m.retain(|_, c| c.last >= act_cut);
            !m.is_empty()
        });
        self.claims.retain(|_, m| {
            m.retain(|_, u| *u > now);
            !m.is_empty()
        });
        let stale: Vec<ThreadId> = self.threads.values().filter(|t| !t.is_active(now)).map(|t| t.id.clone()).collect();
        for id in stale {
            self.remove_thread(&id);
        }
        self.expire(now);
    }

    /// Agent ids of the online set, ascending, skipping `skip`; at most `n`.
    pub(crate) fn first_online(&self, skip: &HashSet<&AgentId>, now: Timestamp, n: usize) -> Vec<AgentId> {
        self.online.iter().filter(|id| !skip.contains(id) && self.is_online(id, now)).take(n).cloned().collect()
    }
}
