//! Brute-force reference scorer and conflict detector, written from scoring.md §1–4 and §7 (plus the
//! implementation's documented clarifications) over plain data. Deliberately naive: per-candidate loops and a
//! direct scan of every row for every question, so that it is obviously correct. It shares nothing with the
//! indexed implementation but the result types and the id/path/time newtypes.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use mcp_coordinator::core::announce::{ConflictReport, ConflictType, Impact, ImpactScore, Layer, Severity};
use mcp_coordinator::core::ids::{AgentId, RunId, ThreadId};
use mcp_coordinator::core::paths::RepoPath;
use mcp_coordinator::core::time::Timestamp;

/// Online TTL is per world; the other windows are fixed by the spec.
pub const ACTIVITY_WINDOW_SECS: i64 = 60 * 60;
pub const RESOLVED_WINDOW_SECS: i64 = 30 * 60;
pub const PASS_LISTED: usize = 20;
pub const MAX_CONFLICTS: usize = 100;
pub const SYMBOLS_SHOWN: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Open,
    Resolving,
    Resolved,
    Cancelled,
    Poisoned,
}

#[derive(Debug, Clone)]
pub struct Agent {
    pub id: AgentId,
    pub name: String,
    pub modules: Vec<String>,
    pub online: bool,
    pub last_seen: Timestamp,
}

/// A thread row (the spec's `threads` + `thread_files`).
#[derive(Debug, Clone)]
pub struct T {
    pub id: ThreadId,
    pub initiator: AgentId,
    pub subject: String,
    pub status: Status,
    pub created_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub run_id: Option<RunId>,
    pub target_files: Vec<RepoPath>,
    pub depends_on: Vec<RepoPath>,
    pub target_modules: Vec<String>,
}

/// A `file_activity` row; `id` is the row id (insertion order).
#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    pub agent: AgentId,
    pub file: RepoPath,
    pub at: Timestamp,
    pub symbols: Option<Vec<String>>,
}

/// A `working_files` claim.
#[derive(Debug, Clone)]
pub struct Claim {
    pub agent: AgentId,
    pub file: RepoPath,
    pub until: Timestamp,
}

#[derive(Debug, Clone, Default)]
pub struct World {
    pub ttl_secs: i64,
    pub agents: Vec<Agent>,
    pub threads: Vec<T>,
    pub activity: Vec<Row>,
    pub claims: Vec<Claim>,
    /// module → modules it directly depends on.
    pub deps: HashMap<String, Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct Query {
    pub announcer: AgentId,
    pub run_id: Option<RunId>,
    pub targets: Vec<RepoPath>,
    pub depends: Vec<RepoPath>,
    pub modules: Vec<String>,
    pub symbols: Vec<String>,
    pub now: Timestamp,
}

// ---------------------------------------------------------------------------------------------------------
// Predicates, each a direct reading of one sentence of the spec.

/// Window start: `now` truncated to seconds, minus `w` seconds (windows are inclusive).
fn window_start(now: Timestamp, w: i64) -> Timestamp {
    Timestamp::from_secs(now.millis().div_euclid(1000) - w)
}

fn secs(t: Timestamp) -> Timestamp {
    t.trunc_secs()
}

fn is_online(w: &World, a: &Agent, now: Timestamp) -> bool {
    a.online && secs(a.last_seen) >= window_start(now, w.ttl_secs)
}

/// Online agents other than the announcer.
fn candidates<'a>(w: &'a World, q: &Query) -> Vec<&'a Agent> {
    w.agents.iter().filter(|a| a.id != q.announcer && is_online(w, a, q.now)).collect()
}

fn is_active(t: &T, now: Timestamp) -> bool {
    match t.status {
        Status::Open | Status::Resolving => true,
        Status::Resolved => {
            let when = match t.resolved_at {
                Some(r) => r,
                None => t.created_at,
            };
            secs(when) >= window_start(now, RESOLVED_WINDOW_SECS)
        }
        Status::Cancelled | Status::Poisoned => false,
    }
}

fn is_visible(t: &T, q: &Query) -> bool {
    match (&t.run_id, &q.run_id) {
        (None, _) => true,
        (_, None) => true,
        (Some(a), Some(b)) => a == b,
    }
}

/// Active, visible threads initiated by candidate `x`, ordered by (created_at, id).
fn threads_of<'a>(w: &'a World, q: &Query, x: &Agent) -> Vec<&'a T> {
    let mut out: Vec<&T> =
        w.threads.iter().filter(|t| t.initiator == x.id && is_active(t, q.now) && is_visible(t, q)).collect();
    out.sort_by(|a, b| (secs(a.created_at), a.id.as_str()).cmp(&(secs(b.created_at), b.id.as_str())));
    out
}

fn recent_activity(w: &World, agent: &AgentId, file: &RepoPath, now: Timestamp) -> bool {
    let start = window_start(now, ACTIVITY_WINDOW_SECS);
    let mut found = false;
    for r in &w.activity {
        if &r.agent == agent && &r.file == file && secs(r.at) >= start {
            found = true;
        }
    }
    found
}

fn live_claim(w: &World, agent: &AgentId, file: &RepoPath, now: Timestamp) -> bool {
    let mut found = false;
    for c in &w.claims {
        if &c.agent == agent && &c.file == file && c.until > now {
            found = true;
        }
    }
    found
}

/// The agent's latest row on `file` with non-null symbols (greatest (at, row id)), if any.
fn latest_symbols_row<'a>(w: &'a World, agent: &AgentId, file: &RepoPath) -> Option<&'a Row> {
    let mut best: Option<&Row> = None;
    for r in &w.activity {
        if &r.agent != agent || &r.file != file || r.symbols.is_none() {
            continue;
        }
        let newer = match best {
            None => true,
            Some(b) => (secs(r.at), r.id) > (secs(b.at), b.id),
        };
        if newer {
            best = Some(r);
        }
    }
    best
}

/// Module overlap (§2 layer 3): equal, or one is the other followed by `/` and more. Empty never overlaps.
fn overlap(a: &str, b: &str) -> bool {
    if a.is_empty() || b.is_empty() {
        return false;
    }
    if a == b {
        return true;
    }
    let a_under_b = a.strip_prefix(b).is_some_and(|rest| rest.len() > 1 && rest.starts_with('/'));
    let b_under_a = b.strip_prefix(a).is_some_and(|rest| rest.len() > 1 && rest.starts_with('/'));
    a_under_b || b_under_a
}

/// Does `from` depend on `to` through one or more edges of the dependency map?
fn depends_transitively(w: &World, from: &str, to: &str) -> bool {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut frontier: Vec<String> = vec![from.to_owned()];
    while let Some(cur) = frontier.pop() {
        if let Some(ds) = w.deps.get(&cur) {
            for d in ds {
                if d == to {
                    return true;
                }
                if seen.insert(d.clone()) {
                    frontier.push(d.clone());
                }
            }
        }
    }
    false
}

fn depends_directly(w: &World, from: &str, to: &str) -> bool {
    w.deps.get(from).is_some_and(|ds| ds.iter().any(|d| d == to))
}

fn id8(t: &T) -> String {
    t.id.as_str().chars().take(8).collect()
}

fn join_paths(ps: &[&RepoPath]) -> String {
    ps.iter().map(|p| p.as_str().to_owned()).collect::<Vec<_>>().join(", ")
}

fn symbol_list(s: &[String]) -> String {
    let mut out = String::new();
    for (i, name) in s.iter().enumerate() {
        if i == SYMBOLS_SHOWN {
            out.push_str(&format!(",…(+{})", s.len() - SYMBOLS_SHOWN));
            break;
        }
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// Impact.

struct Firing {
    score: i64,
    layer: Layer,
    reason: String,
}

/// Every firing of candidate `x`, in the spec's evaluation order.
fn firings(w: &World, q: &Query, x: &Agent) -> Vec<Firing> {
    let mut out: Vec<Firing> = Vec::new();
    let threads = threads_of(w, q, x);

    // 0a: T ∩ t.target_files
    for t in &threads {
        let files: Vec<&RepoPath> = q.targets.iter().filter(|f| t.target_files.contains(f)).collect();
        if !files.is_empty() {
            let reason = format!("announced same file: {} (thread {})", join_paths(&files), id8(t));
            out.push(Firing { score: 100, layer: Layer::L0, reason });
        }
    }
    // 0b: D ∩ t.target_files
    for t in &threads {
        let files: Vec<&RepoPath> = q.depends.iter().filter(|f| t.target_files.contains(f)).collect();
        if !files.is_empty() {
            let reason = format!("modifies my dependency: {} (thread {})", join_paths(&files), id8(t));
            out.push(Firing { score: 80, layer: Layer::L0, reason });
        }
    }
    // 0c: T ∩ t.depends_on
    for t in &threads {
        let files: Vec<&RepoPath> = q.targets.iter().filter(|f| t.depends_on.contains(f)).collect();
        if !files.is_empty() {
            let reason = format!("they depend on my target: {} (thread {})", join_paths(&files), id8(t));
            out.push(Firing { score: 80, layer: Layer::L0, reason });
        }
    }
    // 1 recent (with the symbol annotation)
    let act_start = window_start(q.now, ACTIVITY_WINDOW_SECS);
    for f in &q.targets {
        if !recent_activity(w, &x.id, f, q.now) {
            continue;
        }
        let mut annotated: Option<String> = None;
        if !q.symbols.is_empty()
            && let Some(row) = latest_symbols_row(w, &x.id, f)
        {
            let theirs = row.symbols.clone().unwrap_or_default();
            let disjoint = theirs.iter().all(|s| !q.symbols.contains(s));
            if secs(row.at) >= act_start && !theirs.is_empty() && disjoint {
                annotated = Some(format!(
                    "same file: {}; disjoint symbols: you=[{}], them=[{}] — verify shared module state",
                    f.as_str(),
                    symbol_list(&q.symbols),
                    symbol_list(&theirs)
                ));
            }
        }
        match annotated {
            Some(reason) => out.push(Firing { score: 100, layer: Layer::L05, reason }),
            None => {
                out.push(Firing { score: 100, layer: Layer::L1, reason: format!("same file (recent): {}", f.as_str()) })
            }
        }
    }
    // 1 in flight
    for f in &q.targets {
        if live_claim(w, &x.id, f, q.now) {
            out.push(Firing { score: 100, layer: Layer::L1, reason: format!("same file (in flight): {}", f.as_str()) });
        }
    }
    // 2: recent activity on f ∈ D
    for f in &q.depends {
        if recent_activity(w, &x.id, f, q.now) {
            out.push(Firing { score: 80, layer: Layer::L2, reason: format!("depends on: {}", f.as_str()) });
        }
    }
    // 3: X's own modules (declared order) overlapping any announced module
    let mine: Vec<&str> =
        x.modules.iter().filter(|m| q.modules.iter().any(|am| overlap(m, am))).map(String::as_str).collect();
    if !mine.is_empty() {
        out.push(Firing { score: 30, layer: Layer::L3, reason: format!("module overlap: {}", mine.join(", ")) });
    }
    // 4: not implemented (no co-change data).
    out
}

fn score_one(w: &World, q: &Query, x: &Agent) -> ImpactScore {
    let fs = firings(w, q, x);
    let mut best: Option<&Firing> = None;
    for f in &fs {
        if best.is_none_or(|b| f.score > b.score) {
            best = Some(f);
        }
    }
    ImpactScore {
        agent_id: x.id.clone(),
        agent_name: x.name.clone(),
        score: best.map_or(0, |b| b.score),
        reasons: fs.iter().map(|f| f.reason.clone()).collect(),
        reason: fs.first().map_or_else(|| "no link detected".to_owned(), |f| f.reason.clone()),
        layer: best.map(|b| b.layer),
    }
}

pub fn brute_impact(w: &World, q: &Query) -> Impact {
    let mut impact = Impact::default();
    let mut pass: Vec<ImpactScore> = Vec::new();
    for x in candidates(w, q) {
        let s = score_one(w, q, x);
        if s.score >= 90 {
            impact.concerned.push(s);
        } else if s.score >= 30 {
            impact.gray_zone.push(s);
        } else {
            assert_eq!(s.score, 0, "pass scores are always 0");
            pass.push(s);
        }
    }
    let by_score = |a: &ImpactScore, b: &ImpactScore| b.score.cmp(&a.score).then(a.agent_id.cmp(&b.agent_id));
    impact.concerned.sort_by(by_score);
    impact.gray_zone.sort_by(by_score);
    pass.sort_by(|a, b| a.agent_id.cmp(&b.agent_id));
    impact.pass_count = pass.len();
    pass.truncate(PASS_LISTED);
    impact.pass = pass;
    impact
}

// ---------------------------------------------------------------------------------------------------------
// Conflicts.

fn thread_details(t: &T, key: &str, items: Vec<String>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("thread_id".to_owned(), json!(t.id.as_str()));
    m.insert("subject".to_owned(), json!(t.subject));
    m.insert(key.to_owned(), json!(items));
    m
}

/// Every conflict entry, untruncated (for the invariants); `brute_conflicts` truncates.
pub fn brute_conflicts_all(w: &World, q: &Query, impact: &Impact) -> Vec<ConflictReport> {
    let concerned: Vec<&AgentId> = impact.concerned.iter().map(|s| &s.agent_id).collect();
    // Agent order: concerned in impact order, then the rest by agent_id.
    let mut agents: Vec<&Agent> = candidates(w, q);
    agents.sort_by(|a, b| {
        let pa = concerned.iter().position(|c| **c == a.id);
        let pb = concerned.iter().position(|c| **c == b.id);
        match (pa, pb) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.id.cmp(&b.id),
        }
    });

    let mut out: Vec<ConflictReport> = Vec::new();
    for x in agents {
        let severity = if concerned.contains(&&x.id) { Severity::Warning } else { Severity::Info };
        let mut file_entries: Vec<(String, Map<String, Value>)> = Vec::new();
        let mut module_entries: Vec<(String, Map<String, Value>)> = Vec::new();
        let mut dep_entries: Vec<(String, Map<String, Value>)> = Vec::new();
        for t in threads_of(w, q, x) {
            let files: Vec<String> =
                q.targets.iter().filter(|f| t.target_files.contains(f)).map(|f| f.as_str().to_owned()).collect();
            if !files.is_empty() {
                let d = format!("File overlap with thread {} \"{}\": {}", id8(t), t.subject, files.join(", "));
                file_entries.push((d, thread_details(t, "files", files)));
            }
            let mods: Vec<String> = q.modules.iter().filter(|m| t.target_modules.contains(m)).cloned().collect();
            if !mods.is_empty() {
                let d = format!("Module overlap with thread {} \"{}\": {}", id8(t), t.subject, mods.join(", "));
                module_entries.push((d, thread_details(t, "modules", mods)));
            }
            // forward: an announced module directly depends on a module of t
            'fwd: for m in &q.modules {
                for tm in &t.target_modules {
                    if depends_directly(w, m, tm) {
                        let d = format!("{m} depends on {tm} (thread {})", id8(t));
                        dep_entries.push((d, thread_details(t, "modules", vec![m.clone(), tm.clone()])));
                        break 'fwd;
                    }
                }
            }
            // reverse: a module of t depends (directly or not) on an announced module
            'rev: for m in &q.modules {
                for tm in &t.target_modules {
                    if depends_transitively(w, tm, m) {
                        let d = format!("{tm} depends on {m} (thread {})", id8(t));
                        dep_entries.push((d, thread_details(t, "modules", vec![m.clone(), tm.clone()])));
                        break 'rev;
                    }
                }
            }
        }
        if file_entries.is_empty() {
            for f in &q.targets {
                let recent = recent_activity(w, &x.id, f, q.now);
                if recent || live_claim(w, &x.id, f, q.now) {
                    let d = if recent {
                        format!("Hot file: {} recently edited by {}", f.as_str(), x.name)
                    } else {
                        format!("Hot file: {} is being edited by {}", f.as_str(), x.name)
                    };
                    let mut details = Map::new();
                    details.insert("files".to_owned(), json!([f.as_str()]));
                    file_entries.push((d, details));
                    break;
                }
            }
        }
        let kinds = [
            (ConflictType::FileOverlap, file_entries),
            (ConflictType::ModuleOverlap, module_entries),
            (ConflictType::DependencyChain, dep_entries),
        ];
        for (kind, entries) in kinds {
            for (description, details) in entries {
                out.push(ConflictReport {
                    kind,
                    severity,
                    agent_id: x.id.clone(),
                    agent_name: x.name.clone(),
                    description,
                    details,
                });
            }
        }
    }
    out
}

pub fn brute_conflicts(w: &World, q: &Query, impact: &Impact) -> Vec<ConflictReport> {
    let mut all = brute_conflicts_all(w, q, impact);
    all.truncate(MAX_CONFLICTS);
    all
}

/// The candidate ids (for invariants).
pub fn candidate_ids(w: &World, q: &Query) -> Vec<AgentId> {
    candidates(w, q).into_iter().map(|a| a.id.clone()).collect()
}
