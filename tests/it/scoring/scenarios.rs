//! Canonical scenarios (scoring.md §4) and each layer and window edge in isolation, on the index alone.

use std::collections::HashMap;

use mcp_coordinator::core::announce::conflicts::detect;
use mcp_coordinator::core::announce::impact::{AnnounceQuery, score_impact};
use mcp_coordinator::core::announce::index::{IdxThread, OrgIndex};
use mcp_coordinator::core::announce::{ConflictType, Impact, ImpactScore, Layer, Severity};
use mcp_coordinator::core::ids::{AgentId, RunId, ThreadId};
use mcp_coordinator::core::paths::RepoPath;
use mcp_coordinator::core::threads::ThreadStatus;
use mcp_coordinator::core::time::Timestamp;

const TTL: i64 = 900;
/// 2026-09-21, whole seconds.
const NOW: Timestamp = Timestamp::from_secs(1_790_000_000);
const TID: &str = "abcdef12-3456-4789-8abc-def012345678";

fn id(s: &str) -> AgentId {
    AgentId::new(s)
}

fn p(s: &str) -> RepoPath {
    RepoPath::from_stored(s)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// The announcer `me` and one other agent `x` (module `src/auth`), both online.
fn org() -> OrgIndex {
    let mut idx = OrgIndex::new(TTL);
    idx.upsert_agent(&id("me"), "Me", &strings(&["src/auth"]), true, NOW);
    idx.upsert_agent(&id("x"), "Xavier", &strings(&["lib/db", "src/auth"]), true, NOW);
    idx
}

fn thread(initiator: &str, files: &[&str], depends: &[&str], modules: &[&str]) -> IdxThread {
    IdxThread {
        id: ThreadId::new(TID),
        initiator: id(initiator),
        subject: "refactor".to_owned(),
        status: ThreadStatus::Open,
        created_at: NOW.minus_secs(60),
        resolved_at: None,
        run_id: None,
        target_files: files.iter().map(|f| p(f)).collect(),
        depends_on: depends.iter().map(|f| p(f)).collect(),
        target_modules: strings(modules),
    }
}

fn query(targets: &[&str], depends: &[&str], modules: &[&str]) -> AnnounceQuery {
    AnnounceQuery {
        announcer: id("me"),
        run_id: None,
        targets: targets.iter().map(|f| p(f)).collect(),
        depends: depends.iter().map(|f| p(f)).collect(),
        modules: strings(modules),
        symbols: Vec::new(),
        now: NOW,
    }
}

fn score(idx: &mut OrgIndex, q: &AnnounceQuery) -> Impact {
    score_impact(idx, q)
}

/// The single scored (concerned or gray) entry; panics otherwise.
fn only(impact: &Impact) -> &ImpactScore {
    let all: Vec<&ImpactScore> = impact.concerned.iter().chain(&impact.gray_zone).collect();
    assert_eq!(all.len(), 1, "{impact:#?}");
    all[0]
}

fn assert_pass(impact: &Impact, count: usize) {
    assert!(impact.concerned.is_empty() && impact.gray_zone.is_empty(), "{impact:#?}");
    assert_eq!(impact.pass_count, count);
    for s in &impact.pass {
        assert_eq!((s.score, s.layer, s.reason.as_str()), (0, None, "no link detected"));
        assert!(s.reasons.is_empty());
    }
}

// ------------------------------------------------------------------------------------------------------
// Canonical cases.

#[test]
fn same_file_announced_is_concerned_100_l0() {
    let mut idx = org();
    idx.upsert_thread(thread("x", &["src/a.rs", "src/b.rs"], &[], &[]));
    let q = query(&["src/b.rs", "src/c.rs", "src/a.rs"], &[], &[]);
    let impact = score(&mut idx, &q);
    assert_eq!(impact.concerned.len(), 1);
    let s = &impact.concerned[0];
    assert_eq!((s.agent_id.as_str(), s.agent_name.as_str(), s.score, s.layer), ("x", "Xavier", 100, Some(Layer::L0)));
    assert_eq!(s.reasons, ["announced same file: src/b.rs, src/a.rs (thread abcdef12)"]);
    assert_eq!(s.reason, s.reasons[0]);
    assert_eq!(impact.pass_count, 0);

    let c = detect(&mut idx, &q, &impact);
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].kind, c[0].severity), (ConflictType::FileOverlap, Severity::Warning));
    assert_eq!(c[0].description, "File overlap with thread abcdef12 \"refactor\": src/b.rs, src/a.rs");
    assert_eq!(c[0].details["files"], serde_json::json!(["src/b.rs", "src/a.rs"]));
    assert_eq!(c[0].details["thread_id"], serde_json::json!(TID));
}

#[test]
fn same_module_is_gray_30_l3() {
    let mut idx = org();
    let impact = score(&mut idx, &query(&[], &[], &["src/auth/jwt"]));
    assert!(impact.concerned.is_empty());
    let s = only(&impact);
    assert_eq!((s.score, s.layer, s.reason.as_str()), (30, Some(Layer::L3), "module overlap: src/auth"));
    // ancestor direction too, and a prefix without a `/` boundary never overlaps
    let impact = score(&mut idx, &query(&[], &[], &["src"]));
    assert_eq!(only(&impact).reason, "module overlap: src/auth");
    let impact = score(&mut idx, &query(&[], &[], &["src/authz", "src/aut", "lib/d"]));
    assert_pass(&impact, 1);
}

#[test]
fn empty_module_strings_never_overlap() {
    let mut idx = org();
    // registration rejects empty modules; the index tolerates them, and they must not match `/abs` (nor anything)
    idx.upsert_agent(&id("x"), "Xavier", &strings(&["", "/abs"]), true, NOW);
    let impact = score(&mut idx, &query(&[], &[], &["/abs/x"]));
    assert_eq!(only(&impact).reason, "module overlap: /abs");
    idx.upsert_agent(&id("x"), "Xavier", &strings(&[""]), true, NOW);
    assert_pass(&score(&mut idx, &query(&[], &[], &["/abs"])), 1);
}

#[test]
fn dependency_on_an_announced_file_is_gray_80_l0() {
    let mut idx = org();
    idx.upsert_thread(thread("x", &["src/api.rs"], &[], &[]));
    let impact = score(&mut idx, &query(&[], &["src/api.rs"], &[]));
    assert!(impact.concerned.is_empty());
    let s = only(&impact);
    assert_eq!((s.score, s.layer), (80, Some(Layer::L0)));
    assert_eq!(s.reason, "modifies my dependency: src/api.rs (thread abcdef12)");
}

#[test]
fn nothing_in_common_is_pass() {
    let mut idx = org();
    idx.upsert_thread(thread("x", &["src/a.rs"], &["src/b.rs"], &["lib/db"]));
    idx.record_activity(&id("x"), &p("src/a.rs"), NOW, None);
    let impact = score(&mut idx, &query(&["src/z.rs"], &["src/y.rs"], &["docs"]));
    assert_pass(&impact, 1);
    assert_eq!(impact.pass.len(), 1);
    assert_eq!((impact.pass[0].agent_id.as_str(), impact.pass[0].agent_name.as_str()), ("x", "Xavier"));
    assert!(detect(&mut idx, &query(&["src/z.rs"], &["src/y.rs"], &["docs"]), &impact).is_empty());
}

#[test]
fn no_candidates_means_empty_categories() {
    let mut idx = OrgIndex::new(TTL);
    idx.upsert_agent(&id("me"), "Me", &[], true, NOW);
    idx.upsert_agent(&id("x"), "X", &[], false, NOW);
    let impact = score(&mut idx, &query(&["src/a.rs"], &[], &[]));
    assert_eq!(impact, Impact::default());
}

#[test]
fn pass_lists_twenty_by_agent_id_and_counts_all() {
    let mut idx = OrgIndex::new(TTL);
    idx.upsert_agent(&id("me"), "Me", &[], true, NOW);
    for i in (0..25).rev() {
        idx.upsert_agent(&id(&format!("p{i:02}")), "P", &[], true, NOW);
    }
    idx.upsert_agent(&id("p05"), "P", &strings(&["src"]), true, NOW);
    let impact = score(&mut idx, &query(&[], &[], &["src/x"]));
    assert_eq!(only(&impact).agent_id.as_str(), "p05");
    assert_eq!(impact.pass_count, 24);
    let listed: Vec<&str> = impact.pass.iter().map(|s| s.agent_id.as_str()).collect();
    let want: Vec<String> = (0..25).filter(|i| *i != 5).take(20).map(|i| format!("p{i:02}")).collect();
    assert_eq!(listed, want);
}

// ------------------------------------------------------------------------------------------------------
// Each layer in isolation.

#[test]
fn layer_0c_they_depend_on_my_target() {
    let mut idx = org();
    idx.upsert_thread(thread("x", &[], &["src/core.rs"], &[]));
    let s = score(&mut idx, &query(&["src/core.rs"], &[], &[])).gray_zone.remove(0);
    assert_eq!((s.score, s.layer), (80, Some(Layer::L0)));
    assert_eq!(s.reasons, ["they depend on my target: src/core.rs (thread abcdef12)"]);
}

#[test]
fn layer_1_recent_activity() {
    let mut idx = org();
    idx.record_activity(&id("x"), &p("src/a.rs"), NOW.minus_secs(10), None);
    let q = query(&["src/a.rs"], &[], &[]);
    let impact = score(&mut idx, &q);
    let s = &impact.concerned[0];
    assert_eq!((s.score, s.layer, s.reason.as_str()), (100, Some(Layer::L1), "same file (recent): src/a.rs"));
    let c = detect(&mut idx, &q, &impact);
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].kind, c[0].severity), (ConflictType::FileOverlap, Severity::Warning));
    assert_eq!(c[0].description, "Hot file: src/a.rs recently edited by Xavier");
    assert_eq!(serde_json::Value::Object(c[0].details.clone()), serde_json::json!({"files": ["src/a.rs"]}));
}

#[test]
fn layer_1_symbol_annotation() {
    let mut idx = org();
    let them: Vec<String> = (0..12).map(|i| format!("t{i}")).collect();
    idx.record_activity(&id("x"), &p("src/a.rs"), NOW.minus_secs(30), Some(strings(&["mine"])));
    idx.record_activity(&id("x"), &p("src/a.rs"), NOW.minus_secs(20), Some(them));
    idx.record_activity(&id("x"), &p("src/a.rs"), NOW.minus_secs(10), None);
    let mut q = query(&["src/a.rs"], &[], &[]);
    q.symbols = strings(&["mine", "other"]);
    let s = score(&mut idx, &q).concerned.remove(0);
    assert_eq!((s.score, s.layer), (100, Some(Layer::L05)));
    assert_eq!(
        s.reason,
        "same file: src/a.rs; disjoint symbols: you=[mine,other], them=[t0,t1,t2,t3,t4,t5,t6,t7,t8,t9,…(+2)] — \
         verify shared module state"
    );
    // overlapping symbols: plain form
    idx.record_activity(&id("x"), &p("src/a.rs"), NOW.minus_secs(5), Some(strings(&["other"])));
    let s = score(&mut idx, &q).concerned.remove(0);
    assert_eq!((s.layer, s.reason.as_str()), (Some(Layer::L1), "same file (recent): src/a.rs"));
    // no announced symbols: plain form
    q.symbols.clear();
    idx.record_activity(&id("x"), &p("src/a.rs"), NOW, Some(strings(&["zzz"])));
    let s = score(&mut idx, &q).concerned.remove(0);
    assert_eq!((s.layer, s.reason.as_str()), (Some(Layer::L1), "same file (recent): src/a.rs"));
}

#[test]
fn layer_1_in_flight_claim() {
    let mut idx = org();
    idx.set_claim(&id("x"), &p("src/a.rs"), Some(NOW.plus_millis(1)));
    let q = query(&["src/a.rs"], &[], &[]);
    let impact = score(&mut idx, &q);
    let s = &impact.concerned[0];
    assert_eq!((s.score, s.layer, s.reason.as_str()), (100, Some(Layer::L1), "same file (in flight): src/a.rs"));
    let c = detect(&mut idx, &q, &impact);
    assert_eq!(c[0].description, "Hot file: src/a.rs is being edited by Xavier");
    // expiring exactly now: not live
    idx.set_claim(&id("x"), &p("src/a.rs"), Some(NOW));
    assert_pass(&score(&mut idx, &q), 1);
}

#[test]
fn layer_2_activity_on_a_dependency() {
    let mut idx = org();
    idx.record_activity(&id("x"), &p("src/dep.rs"), NOW.minus_secs(100), None);
    let s = score(&mut idx, &query(&[], &["src/dep.rs"], &[])).gray_zone.remove(0);
    assert_eq!((s.score, s.layer, s.reason.as_str()), (80, Some(Layer::L2), "depends on: src/dep.rs"));
}

#[test]
fn reasons_in_layer_order_and_label_of_first_max() {
    let mut idx = org();
    idx.upsert_thread(thread("x", &["src/dep.rs"], &[], &[]));
    idx.record_activity(&id("x"), &p("src/dep.rs"), NOW, None);
    idx.record_activity(&id("x"), &p("src/a.rs"), NOW, None);
    let s = score(&mut idx, &query(&["src/a.rs"], &["src/dep.rs"], &["lib"])).concerned.remove(0);
    assert_eq!(s.score, 100);
    assert_eq!(s.layer, Some(Layer::L1));
    assert_eq!(
        s.reasons,
        [
            "modifies my dependency: src/dep.rs (thread abcdef12)",
            "same file (recent): src/a.rs",
            "depends on: src/dep.rs",
            "module overlap: lib/db",
        ]
    );
    assert_eq!(s.reason, s.reasons[0]);
}

#[test]
fn announcer_own_threads_and_activity_never_count() {
    let mut idx = org();
    idx.upsert_thread(thread("me", &["src/a.rs"], &[], &[]));
    idx.record_activity(&id("me"), &p("src/a.rs"), NOW, None);
    assert_pass(&score(&mut idx, &query(&["src/a.rs"], &[], &[])), 1);
}

#[test]
fn runs_scope_thread_visibility() {
    let mut idx = org();
    let mut t = thread("x", &["src/a.rs"], &[], &[]);
    t.run_id = Some(RunId::new("r1"));
    idx.upsert_thread(t);
    let mut q = query(&["src/a.rs"], &[], &[]);
    q.run_id = Some(RunId::new("r2"));
    assert_pass(&score(&mut idx, &q), 1);
    q.run_id = Some(RunId::new("r1"));
    assert_eq!(score(&mut idx, &q).concerned.len(), 1);
    q.run_id = None;
    assert_eq!(score(&mut idx, &q).concerned.len(), 1);
}

#[test]
fn conflicts_module_and_dependency_chain() {
    let mut idx = org();
    idx.upsert_thread(thread("x", &[], &[], &["lib/db", "lib/api"]));
    // src/auth → lib/db directly; lib/api → lib/mid → src/auth transitively
    let deps: HashMap<String, Vec<String>> = [
        ("src/auth".to_owned(), strings(&["lib/db"])),
        ("lib/api".to_owned(), strings(&["lib/mid"])),
        ("lib/mid".to_owned(), strings(&["src/auth"])),
    ]
    .into_iter()
    .collect();
    idx.set_dependencies(deps);
    let q = query(&[], &[], &["src/auth", "lib/db"]);
    let impact = score(&mut idx, &q);
    assert_eq!(only(&impact).score, 30);
    let c = detect(&mut idx, &q, &impact);
    let got: Vec<(ConflictType, Severity, &str)> =
        c.iter().map(|c| (c.kind, c.severity, c.description.as_str())).collect();
    assert_eq!(
        got,
        [
            (ConflictType::ModuleOverlap, Severity::Info, "Module overlap with thread abcdef12 \"refactor\": lib/db"),
            (ConflictType::DependencyChain, Severity::Info, "src/auth depends on lib/db (thread abcdef12)"),
            (ConflictType::DependencyChain, Severity::Info, "lib/api depends on src/auth (thread abcdef12)"),
        ]
    );
    assert_eq!(c[2].details["modules"], serde_json::json!(["src/auth", "lib/api"]));
}

// ------------------------------------------------------------------------------------------------------
// Window edges.

#[test]
fn activity_window_edge_is_inclusive() {
    let q = query(&["src/a.rs"], &[], &[]);
    let mut idx = org();
    idx.record_activity(&id("x"), &p("src/a.rs"), NOW.minus_secs(3600), None);
    assert_eq!(score(&mut idx, &q).concerned.len(), 1, "exactly 60 min old is recent");
    let mut idx = org();
    idx.record_activity(&id("x"), &p("src/a.rs"), NOW.minus_secs(3601), None);
    assert_pass(&score(&mut idx, &q), 1);
    // sub-second parts are truncated away: 3600.999 s old is stored as 3601 s
    let mut idx = org();
    idx.record_activity(&id("x"), &p("src/a.rs"), NOW.minus_secs(3600).plus_millis(-1), None);
    assert_pass(&score(&mut idx, &q), 1);
    // `now` is truncated for the window: at now + 999 ms the 60-min-old row is still in
    let mut idx = org();
    idx.record_activity(&id("x"), &p("src/a.rs"), NOW.minus_secs(3600), None);
    let mut late = q.clone();
    late.now = NOW.plus_millis(999);
    assert_eq!(score(&mut idx, &late).concerned.len(), 1);
}

#[test]
fn resolved_thread_window_edge_is_inclusive() {
    let q = query(&["src/a.rs"], &[], &[]);
    for (resolved_at, created_at, included) in [
        (Some(NOW.minus_secs(1800)), NOW.minus_secs(7200), true),
        (Some(NOW.minus_secs(1801)), NOW.minus_secs(60), false),
        (None, NOW.minus_secs(1800), true),
        (None, NOW.minus_secs(1801), false),
    ] {
        let mut idx = org();
        let mut t = thread("x", &["src/a.rs"], &[], &[]);
        t.status = ThreadStatus::Resolved;
        t.resolved_at = resolved_at;
        t.created_at = created_at;
        idx.upsert_thread(t);
        let n = score(&mut idx, &q).concerned.len();
        assert_eq!(n == 1, included, "resolved_at {resolved_at:?} created_at {created_at:?}");
    }
    for status in [ThreadStatus::Cancelled, ThreadStatus::Poisoned] {
        let mut idx = org();
        let mut t = thread("x", &["src/a.rs"], &[], &[]);
        t.status = status;
        idx.upsert_thread(t);
        assert_pass(&score(&mut idx, &q), 1);
    }
    let mut idx = org();
    let mut t = thread("x", &["src/a.rs"], &[], &[]);
    t.status = ThreadStatus::Resolving;
    t.created_at = NOW.minus_secs(86_400);
    idx.upsert_thread(t);
    assert_eq!(score(&mut idx, &q).concerned.len(), 1);
}

#[test]
fn online_ttl_edge_is_inclusive() {
    let q = query(&[], &[], &["src/auth"]);
    for (last_seen, online) in [
        (NOW.minus_secs(TTL), true),
        (NOW.minus_secs(TTL + 1), false),
        (NOW.minus_secs(TTL).plus_millis(-1), false),
        (NOW.minus_secs(TTL).plus_millis(1), true),
    ] {
        let mut idx = org();
        idx.upsert_agent(&id("x"), "Xavier", &strings(&["src/auth"]), true, last_seen);
        let impact = score(&mut idx, &q);
        assert_eq!(impact.gray_zone.len(), usize::from(online), "last_seen {last_seen:?}");
        assert_eq!(impact.pass_count, 0);
    }
    let mut idx = org();
    idx.upsert_agent(&id("x"), "Xavier", &strings(&["src/auth"]), false, NOW);
    assert_eq!(score(&mut idx, &q), Impact::default());
}
