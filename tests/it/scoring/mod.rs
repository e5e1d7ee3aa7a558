//! Scoring equivalence (scoring.md §9): the indexed scorer and conflict detector against a brute-force
//! reference written from the spec, over random worlds, plus hand-written canonical scenarios.

mod brute;
mod prop;
mod scenarios;

use std::collections::BTreeMap;

use mcp_coordinator::core::announce::impact::AnnounceQuery;
use mcp_coordinator::core::announce::index::{IdxThread, OrgIndex};
use mcp_coordinator::core::threads::ThreadStatus;

use brute::{Status, World};

fn status(s: Status) -> ThreadStatus {
    match s {
        Status::Open => ThreadStatus::Open,
        Status::Resolving => ThreadStatus::Resolving,
        Status::Resolved => ThreadStatus::Resolved,
        Status::Cancelled => ThreadStatus::Cancelled,
        Status::Poisoned => ThreadStatus::Poisoned,
    }
}

pub fn upsert_thread(idx: &mut OrgIndex, t: &brute::T) {
    idx.upsert_thread(IdxThread {
        id: t.id.clone(),
        initiator: t.initiator.clone(),
        subject: t.subject.clone(),
        status: status(t.status),
        created_at: t.created_at,
        resolved_at: t.resolved_at,
        run_id: t.run_id.clone(),
        target_files: t.target_files.clone(),
        depends_on: t.depends_on.clone(),
        target_modules: t.target_modules.clone(),
    });
}

/// Builds the indexed view of a world the way the server does: agents, threads, activity in row-id order,
/// claims (one per agent and file), dependency map.
pub fn build_index(w: &World) -> OrgIndex {
    let mut idx = OrgIndex::new(w.ttl_secs);
    for a in &w.agents {
        idx.upsert_agent(&a.id, &a.name, &a.modules, a.online, a.last_seen);
    }
    for t in &w.threads {
        upsert_thread(&mut idx, t);
    }
    let mut rows: Vec<&brute::Row> = w.activity.iter().collect();
    rows.sort_by_key(|r| r.id);
    for r in rows {
        idx.record_activity(&r.agent, &r.file, r.at, r.symbols.clone());
    }
    let mut claims = BTreeMap::new();
    for c in &w.claims {
        claims.insert((c.agent.clone(), c.file.clone()), c.until);
    }
    for ((agent, file), until) in claims {
        idx.set_claim(&agent, &file, Some(until));
    }
    idx.set_dependencies(w.deps.clone());
    idx
}

pub fn to_query(q: &brute::Query) -> AnnounceQuery {
    AnnounceQuery {
        announcer: q.announcer.clone(),
        run_id: q.run_id.clone(),
        targets: q.targets.clone(),
        depends: q.depends.clone(),
        modules: q.modules.clone(),
        symbols: q.symbols.clone(),
        now: q.now,
    }
}
