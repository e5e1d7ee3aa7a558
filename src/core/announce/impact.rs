//! Impact scoring (scoring.md §1–4) over the in-memory indexes. Every lookup starts from the announcement's own
//! files and modules, so the cost is O(|T| + |D| + |Mt|·depth + matches + 20): no per-agent loop, no history.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::index::{ACTIVITY_WINDOW_SECS, IdxThread, OrgIndex};
use super::model::{Impact, ImpactScore, Layer, score};
use crate::core::ids::{AgentId, RunId, ThreadId};
use crate::core::paths::RepoPath;
use crate::core::time::Timestamp;

/// Pass entries listed at most.
pub const PASS_LISTED: usize = 20;
/// Symbols shown per list in an annotated reason.
pub const SYMBOLS_SHOWN: usize = 10;

/// What is being announced, normalised.
#[derive(Debug, Clone)]
pub struct AnnounceQuery {
    pub announcer: AgentId,
    pub run_id: Option<RunId>,
    pub targets: Vec<RepoPath>,
    pub depends: Vec<RepoPath>,
    pub modules: Vec<String>,
    pub symbols: Vec<String>,
    pub now: Timestamp,
}

/// One firing: evaluation rank (for tie-breaks and reason order), score, label and reason text.
#[derive(Debug, Clone)]
struct Firing {
    rank: u8,
    score: i64,
    layer: Layer,
    reason: String,
}

/// Two modules overlap when equal or one is the other followed by `/` and more. Empty strings never overlap.
pub fn modules_overlap(a: &str, b: &str) -> bool {
    !a.is_empty()
        && !b.is_empty()
        && (a == b
            || (a.len() > b.len() && a.starts_with(b) && a.as_bytes()[b.len()] == b'/')
            || (b.len() > a.len() && b.starts_with(a) && b.as_bytes()[a.len()] == b'/'))
}

fn list_symbols(s: &[String]) -> String {
    let shown: Vec<&str> = s.iter().take(SYMBOLS_SHOWN).map(String::as_str).collect();
    let mut out = shown.join(",");
    if s.len() > SYMBOLS_SHOWN {
        out.push_str(&format!(",…(+{})", s.len() - SYMBOLS_SHOWN));
    }
    out
}

/// Active, visible threads of online candidates reachable from `files` through `map`, grouped per initiator.
fn thread_hits<'a>(
    idx: &'a OrgIndex,
    q: &AnnounceQuery,
    files: &[RepoPath],
    map: &'a HashMap<RepoPath, Vec<ThreadId>>,
) -> HashMap<AgentId, BTreeMap<(Timestamp, ThreadId), Vec<&'a RepoPath>>> {
    let mut out: HashMap<AgentId, BTreeMap<(Timestamp, ThreadId), Vec<&RepoPath>>> = HashMap::new();
    for f in files {
        for tid in map.get(f).into_iter().flatten() {
            let Some(t) = idx.threads.get(tid) else { continue };
            if !is_candidate_thread(idx, q, t) {
                continue;
            }
            let files = out.entry(t.initiator.clone()).or_default().entry((t.created_at, t.id.clone())).or_default();
            if let Some(k) = map.get_key_value(f).map(|(k, _)| k) {
                files.push(k);
            }
        }
    }
    out
}

pub(crate) fn is_candidate_thread(idx: &OrgIndex, q: &AnnounceQuery, t: &IdxThread) -> bool {
    t.initiator != q.announcer
        && t.is_active(q.now)
        && t.visible_to(q.run_id.as_ref())
        && idx.is_online(&t.initiator, q.now)
}

fn join(files: &[&RepoPath]) -> String {
    files.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
}

/// Layer 0 firings (0a/0b/0c), in rank order per agent.
fn layer0(idx: &OrgIndex, q: &AnnounceQuery, acc: &mut HashMap<AgentId, Vec<Firing>>) {
    type Pass<'a> = (&'a [RepoPath], &'a HashMap<RepoPath, Vec<ThreadId>>, u8, i64, &'a str);
    let passes: [Pass<'_>; 3] = [
        (&q.targets, &idx.thread_targets, 0, score::L0A, "announced same file"),
        (&q.depends, &idx.thread_targets, 1, score::L0B, "modifies my dependency"),
        (&q.targets, &idx.thread_depends, 2, score::L0C, "they depend on my target"),
    ];
    for (files, map, rank, sc, text) in passes {
        for (agent, threads) in thread_hits(idx, q, files, map) {
            for ((_, tid), fs) in threads {
                let reason = format!("{text}: {} (thread {})", join(&fs), tid.short());
                acc.entry(agent.clone()).or_default().push(Firing { rank, score: sc, layer: Layer::L0, reason });
            }
        }
    }
}

/// Layers 1 (recent, in flight) and 2.
fn layer12(idx: &OrgIndex, q: &AnnounceQuery, acc: &mut HashMap<AgentId, Vec<Firing>>) {
    let cut = q.now.trunc_secs().minus_secs(ACTIVITY_WINDOW_SECS);
    let candidate = |a: &AgentId| *a != q.announcer && idx.is_online(a, q.now);
    for f in &q.targets {
        for (agent, cell) in idx.activity.get(f).into_iter().flatten() {
            if cell.last < cut || !candidate(agent) {
                continue;
            }
            let annotated = match &cell.symbols {
                Some((at, them)) if !q.symbols.is_empty() && *at >= cut && !them.is_empty() => {
                    let overlap = them.iter().any(|s| q.symbols.contains(s));
                    (!overlap).then(|| {
                        format!(
                            "same file: {f}; disjoint symbols: you=[{}], them=[{}] — verify shared module state",
                            list_symbols(&q.symbols),
                            list_symbols(them)
                        )
                    })
                }
                _ => None,
            };
            let firing = match annotated {
                Some(reason) => Firing { rank: 3, score: score::L1, layer: Layer::L05, reason },
                None => {
                    Firing { rank: 3, score: score::L1, layer: Layer::L1, reason: format!("same file (recent): {f}") }
                }
            };
            acc.entry(agent.clone()).or_default().push(firing);
        }
    }
    for f in &q.targets {
        for (agent, until) in idx.claims.get(f).into_iter().flatten() {
            if *until > q.now && candidate(agent) {
                let reason = format!("same file (in flight): {f}");
                acc.entry(agent.clone()).or_default().push(Firing {
                    rank: 4,
                    score: score::L1,
                    layer: Layer::L1,
                    reason,
                });
            }
        }
    }
    for f in &q.depends {
        for (agent, cell) in idx.activity.get(f).into_iter().flatten() {
            if cell.last >= cut && candidate(agent) {
                let reason = format!("depends on: {f}");
                acc.entry(agent.clone()).or_default().push(Firing {
                    rank: 5,
                    score: score::L2,
                    layer: Layer::L2,
                    reason,
                });
            }
        }
    }
}

/// Agents (online candidates) whose modules overlap any announced module, via the ordered module map.
pub(crate) fn module_matches(idx: &OrgIndex, q: &AnnounceQuery) -> HashSet<AgentId> {
    let mut hits: HashSet<AgentId> = HashSet::new();
    for m in q.modules.iter().filter(|m| !m.is_empty()) {
        // equal, then descendants: the keys in ["m/", "m0") ('0' follows '/')
        if let Some(agents) = idx.modules.get(m) {
            hits.extend(agents.iter().cloned());
        }
        for (_, agents) in idx.modules.range(format!("{m}/")..format!("{m}0")) {
            hits.extend(agents.iter().cloned());
        }
        // ancestors: every proper prefix ending before a '/'
        for (i, _) in m.match_indices('/') {
            if let Some(agents) = idx.modules.get(&m[..i]) {
                hits.extend(agents.iter().cloned());
            }
        }
    }
    hits.retain(|a| *a != q.announcer && idx.is_online(a, q.now));
    hits
}

fn layer3(idx: &OrgIndex, q: &AnnounceQuery, acc: &mut HashMap<AgentId, Vec<Firing>>) {
    for agent in module_matches(idx, q) {
        let Some(a) = idx.agents.get(&agent) else { continue };
        let overlapping: Vec<&str> = a
            .modules
            .iter()
            .filter(|am| q.modules.iter().any(|m| !m.is_empty() && modules_overlap(am, m)))
            .map(String::as_str)
            .collect();
        if overlapping.is_empty() {
            continue;
        }
        let reason = format!("module overlap: {}", overlapping.join(", "));
        acc.entry(agent).or_default().push(Firing { rank: 6, score: score::L3, layer: Layer::L3, reason });
    }
}

/// Scores one announcement against every online candidate of the org.
pub fn score_impact(idx: &mut OrgIndex, q: &AnnounceQuery) -> Impact {
    idx.expire(q.now);
    let mut acc: HashMap<AgentId, Vec<Firing>> = HashMap::new();
    layer0(idx, q, &mut acc);
    layer12(idx, q, &mut acc);
    layer3(idx, q, &mut acc);

    let mut impact = Impact::default();
    for (agent, mut firings) in acc {
        firings.sort_by_key(|f| f.rank); // stable: keeps list order inside a layer
        let best = firings.iter().fold(None::<&Firing>, |b, f| match b {
            Some(b) if b.score >= f.score => Some(b),
            _ => Some(f),
        });
        let (sc, layer) = best.map_or((0, None), |b| (b.score, Some(b.layer)));
        let reasons: Vec<String> = firings.into_iter().map(|f| f.reason).collect();
        let entry = ImpactScore {
            agent_name: idx.agents.get(&agent).map(|a| a.name.clone()).unwrap_or_else(|| agent.to_string()),
            agent_id: agent,
            score: sc,
            reason: reasons.first().cloned().unwrap_or_else(|| "no link detected".to_owned()),
            reasons,
            layer,
        };
        if sc >= score::CONCERNED {
            impact.concerned.push(entry);
        } else if sc >= score::GRAY {
            impact.gray_zone.push(entry);
        }
    }
    let order = |a: &ImpactScore, b: &ImpactScore| b.score.cmp(&a.score).then_with(|| a.agent_id.cmp(&b.agent_id));
    impact.concerned.sort_by(order);
    impact.gray_zone.sort_by(order);

    let mut skip: HashSet<&AgentId> = impact.concerned.iter().chain(&impact.gray_zone).map(|s| &s.agent_id).collect();
    skip.insert(&q.announcer);
    let linked = impact.concerned.len() + impact.gray_zone.len();
    let announcer_online = usize::from(idx.online.contains(&q.announcer));
    impact.pass_count = idx.online.len().saturating_sub(announcer_online + linked);
    impact.pass = idx
        .first_online(&skip, q.now, PASS_LISTED)
        .into_iter()
        .map(|id| ImpactScore {
            agent_name: idx.agents.get(&id).map(|a| a.name.clone()).unwrap_or_else(|| id.to_string()),
            agent_id: id,
            score: 0,
            reasons: Vec::new(),
            reason: "no link detected".to_owned(),
            layer: None,
        })
        .collect();
    impact
}
