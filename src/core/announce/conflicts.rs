//! Conflict detector (scoring.md §7): the human-readable "why" next to the scores, from the same snapshot,
//! candidates and visibility. Lookups start from the announcement (files, modules, dependency closure).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

use super::impact::{AnnounceQuery, is_candidate_thread};
use super::index::{ACTIVITY_WINDOW_SECS, IdxThread, OrgIndex};
use super::model::{ConflictReport, ConflictType, Impact, Severity};
use crate::core::ids::{AgentId, ThreadId};
use crate::core::time::Timestamp;

/// Conflicts returned at most.
pub const MAX_CONFLICTS: usize = 100;

struct Entry {
    kind: ConflictType,
    thread_at: Option<(Timestamp, ThreadId)>,
    description: String,
    details: Map<String, Value>,
}

fn details(t: &IdxThread, key: &str, items: Vec<String>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("thread_id".into(), json!(t.id));
    m.insert("subject".into(), json!(t.subject));
    m.insert(key.into(), json!(items));
    m
}

fn thread_entry(t: &IdxThread, kind: ConflictType, description: String, key: &str, items: Vec<String>) -> Entry {
    Entry { kind, thread_at: Some((t.created_at, t.id.clone())), description, details: details(t, key, items) }
}

/// Detects conflicts; `impact` decides severity and order.
pub fn detect(idx: &mut OrgIndex, q: &AnnounceQuery, impact: &Impact) -> Vec<ConflictReport> {
    let mut per_agent: HashMap<AgentId, Vec<Entry>> = HashMap::new();
    let mut seen_threads: HashMap<ThreadId, ()> = HashMap::new();

    // Threads reachable through a shared file or module, and through the dependency map.
    let mut related: Vec<ThreadId> = Vec::new();
    for f in &q.targets {
        related.extend(idx.thread_targets.get(f).into_iter().flatten().cloned());
    }
    for m in &q.modules {
        related.extend(idx.thread_modules.get(m).into_iter().flatten().cloned());
    }
    // dependency_chain: (target module m, thread module tm, direction text)
    let mut chains: Vec<(ThreadId, bool, String, String)> = Vec::new();
    for m in &q.modules {
        let direct: Vec<String> = idx.deps.get(m).cloned().unwrap_or_default();
        for tm in &direct {
            for tid in idx.thread_modules.get(tm).into_iter().flatten() {
                chains.push((tid.clone(), true, m.clone(), tm.clone()));
            }
        }
        for tm in idx.dependents_closure(m) {
            for tid in idx.thread_modules.get(&tm).into_iter().flatten() {
                chains.push((tid.clone(), false, m.clone(), tm.clone()));
            }
        }
    }
    related.extend(chains.iter().map(|c| c.0.clone()));

    for tid in related {
        if seen_threads.insert(tid.clone(), ()).is_some() {
            continue;
        }
        let Some(t) = idx.threads.get(&tid) else { continue };
        if !is_candidate_thread(idx, q, t) {
            continue;
        }
        let entries = per_agent.entry(t.initiator.clone()).or_default();
        let files: Vec<String> =
            q.targets.iter().filter(|f| t.target_files.contains(f)).map(|f| f.to_string()).collect();
        if !files.is_empty() {
            let d = format!("File overlap with thread {} \"{}\": {}", t.id.short(), t.subject, files.join(", "));
            entries.push(thread_entry(t, ConflictType::FileOverlap, d, "files", files));
        }
        let mods: Vec<String> = q.modules.iter().filter(|m| t.target_modules.contains(m)).cloned().collect();
        if !mods.is_empty() {
            let d = format!("Module overlap with thread {} \"{}\": {}", t.id.short(), t.subject, mods.join(", "));
            entries.push(thread_entry(t, ConflictType::ModuleOverlap, d, "modules", mods));
        }
        for forward in [true, false] {
            let hit = q.modules.iter().find_map(|m| {
                t.target_modules.iter().find_map(|tm| {
                    chains
                        .iter()
                        .any(|c| c.0 == t.id && c.1 == forward && &c.2 == m && &c.3 == tm)
                        .then(|| (m.clone(), tm.clone()))
                })
            });
            if let Some((m, tm)) = hit {
                let d = if forward {
                    format!("{m} depends on {tm} (thread {})", t.id.short())
                } else {
                    format!("{tm} depends on {m} (thread {})", t.id.short())
                };
                entries.push(thread_entry(t, ConflictType::DependencyChain, d, "modules", vec![m, tm]));
            }
        }
    }
    hot_files(idx, q, &mut per_agent);
    order(idx, impact, per_agent)
}

/// Hot-file entries: agents active on a target file that have no file overlap yet (first file only).
fn hot_files(idx: &OrgIndex, q: &AnnounceQuery, per_agent: &mut HashMap<AgentId, Vec<Entry>>) {
    let cut = q.now.trunc_secs().minus_secs(ACTIVITY_WINDOW_SECS);
    let mut found: BTreeMap<AgentId, (usize, bool)> = BTreeMap::new();
    for (pos, f) in q.targets.iter().enumerate() {
        let recent = idx.activity.get(f).into_iter().flatten().filter(|(_, c)| c.last >= cut).map(|(a, _)| (a, true));
        let flight = idx.claims.get(f).into_iter().flatten().filter(|(_, u)| **u > q.now).map(|(a, _)| (a, false));
        for (agent, is_recent) in recent.chain(flight) {
            if *agent == q.announcer || !idx.is_online(agent, q.now) {
                continue;
            }
            let e = found.entry(agent.clone()).or_insert((pos, is_recent));
            if pos < e.0 || (pos == e.0 && is_recent && !e.1) {
                *e = (pos, is_recent);
            }
        }
    }
    for (agent, (pos, is_recent)) in found {
        let entries = per_agent.entry(agent.clone()).or_default();
        if entries.iter().any(|e| e.kind == ConflictType::FileOverlap) {
            continue;
        }
        let name = idx.agents.get(&agent).map_or_else(|| agent.to_string(), |a| a.name.clone());
        let f = &q.targets[pos];
        let description = if is_recent {
            format!("Hot file: {f} recently edited by {name}")
        } else {
            format!("Hot file: {f} is being edited by {name}")
        };
        let mut details = Map::new();
        details.insert("files".into(), json!([f]));
        entries.push(Entry { kind: ConflictType::FileOverlap, thread_at: None, description, details });
    }
}

fn order(idx: &OrgIndex, impact: &Impact, per_agent: HashMap<AgentId, Vec<Entry>>) -> Vec<ConflictReport> {
    let concerned: Vec<&AgentId> = impact.concerned.iter().map(|s| &s.agent_id).collect();
    let mut agents: Vec<(AgentId, Vec<Entry>)> = per_agent.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    agents.sort_by(|(a, _), (b, _)| {
        let pa = concerned.iter().position(|c| *c == a).unwrap_or(usize::MAX);
        let pb = concerned.iter().position(|c| *c == b).unwrap_or(usize::MAX);
        pa.cmp(&pb).then_with(|| a.cmp(b))
    });
    let mut out = Vec::new();
    for (agent, mut entries) in agents {
        entries.sort_by(|a, b| {
            a.kind.cmp(&b.kind).then_with(|| match (&a.thread_at, &b.thread_at) {
                (Some(x), Some(y)) => x.cmp(y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
        });
        let severity = if concerned.contains(&&agent) { Severity::Warning } else { Severity::Info };
        let name = idx.agents.get(&agent).map_or_else(|| agent.to_string(), |a| a.name.clone());
        for e in entries {
            out.push(ConflictReport {
                kind: e.kind,
                severity,
                agent_id: agent.clone(),
                agent_name: name.clone(),
                description: e.description,
                details: e.details,
            });
        }
    }
    out.truncate(MAX_CONFLICTS);
    out
}
