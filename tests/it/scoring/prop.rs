//! Property: over random worlds, the indexed scorer and conflict detector equal the brute-force reference
//! exactly (order, scores, reasons, labels, pass list and count, conflicts), and the verdict invariants
//! V3/V4 hold.
//!
//! Worlds are drawn from small vocabularies (files, nested modules, symbols, agents) so that collisions are
//! frequent, and every time sits on or around the edge of its window (online TTL, 30-min resolved window,
//! 60-min activity window, claim expiry) most of the time.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::RngAlgorithm;

use mcp_coordinator::core::announce::Severity;
use mcp_coordinator::core::announce::conflicts::detect;
use mcp_coordinator::core::announce::impact::score_impact;
use mcp_coordinator::core::announce::index::OrgIndex;
use mcp_coordinator::core::ids::{AgentId, RunId, ThreadId};
use mcp_coordinator::core::paths::RepoPath;
use mcp_coordinator::core::time::Timestamp;

use super::brute::{self, Agent, Claim, Query, Row, Status, T, World};
use super::{build_index, to_query, upsert_thread};

/// `now`, in whole seconds (2026-09-21); the generated `now` adds 0–999 ms to it.
const NOW_S: i64 = 1_790_000_000;

const FILES: &[&str] = &[
    "src/auth/jwt.ts",
    "src/auth/mod.ts",
    "src/db.rs",
    "lib/db/pool.rs",
    "README.md",
    "/abs/x.rs",
    "src/authz/policy.ts",
];

/// Nested modules, plus siblings that share a prefix without a `/` boundary (`src/authz`, `src/auth-x`,
/// `src/auth.old`) and an absolute-looking one.
const MODULES: &[&str] = &[
    "src",
    "src/auth",
    "src/auth/jwt",
    "src/auth/jwt/keys",
    "src/authz",
    "src/auth-x",
    "src/auth.old",
    "lib",
    "lib/db",
    "lib/db/pool",
    "/abs",
    "docs",
];

/// 14 symbols so that lists of more than 10 occur.
const SYMBOLS: &[&str] = &[
    "login",
    "logout",
    "Token.sign",
    "Token.verify",
    "parse",
    "render",
    "connect",
    "query",
    "close",
    "open",
    "read",
    "write",
    "flush",
    "init",
];

const SUBJECTS: &[&str] = &["auth refactor", "db pool", "fix \"quoted\" subject", "docs"];

/// Agent ids whose byte order differs from their index order (upper case sorts before lower case).
fn agent_id(i: usize) -> AgentId {
    const PREFIX: [&str; 4] = ["x", "b", "M", "a"];
    AgentId::new(format!("{}{}", PREFIX[i % 4], i))
}

/// Offsets (ms) around a window edge, relative to `trunc(now) − W`: 1 s older, just older, exactly at the
/// edge, just inside.
const EDGE_DELTAS_MS: &[i64] = &[-2000, -1001, -1000, -999, -1, 0, 1, 999, 1000, 1001];

/// A time relative to a window of `W` seconds, resolved once `W` is known.
#[derive(Debug, Clone, Copy)]
enum When {
    /// `trunc(now) − W` + delta (ms).
    Edge(i64),
    /// Somewhere inside the window (fraction in thousandths of the window, up to a few seconds in the future).
    Inside(u32),
    /// Somewhere older than the window.
    Outside(u32),
}

fn when() -> impl Strategy<Value = When> {
    prop_oneof![
        4 => select(EDGE_DELTAS_MS).prop_map(When::Edge),
        3 => (0u32..1010).prop_map(When::Inside),
        1 => (1u32..1000).prop_map(When::Outside),
    ]
}

/// Millisecond offset from `trunc(now)`.
fn resolve_ms(w: When, window_secs: i64) -> i64 {
    let edge = -window_secs * 1000;
    match w {
        When::Edge(d) => edge + d,
        When::Inside(f) => edge + window_secs * i64::from(f),
        When::Outside(f) => edge - 1000 - window_secs * i64::from(f),
    }
}

/// Whole-second offset from `trunc(now)` (threads are stored with second precision).
fn resolve_secs(w: When, window_secs: i64) -> i64 {
    resolve_ms(w, window_secs).div_euclid(1000)
}

#[derive(Debug, Clone)]
struct AgentGen {
    modules: Vec<usize>,
    online: bool,
    last_seen: When,
}

#[derive(Debug, Clone)]
struct ThreadGen {
    initiator: u8,
    id_prefix: u32,
    subject: usize,
    status: Status,
    created: When,
    resolved: Option<When>,
    run: u8,
    files: Vec<usize>,
    depends: Vec<usize>,
    modules: Vec<usize>,
}

#[derive(Debug, Clone)]
struct RowGen {
    agent: u8,
    file: usize,
    at: When,
    symbols: Option<Vec<usize>>,
}

#[derive(Debug, Clone)]
struct ClaimGen {
    agent: u8,
    file: usize,
    /// ms relative to `now` (not truncated).
    until: i64,
}

#[derive(Debug, Clone)]
struct QueryGen {
    announcer: u8,
    run: u8,
    targets: Vec<usize>,
    depends: Vec<usize>,
    modules: Vec<usize>,
    symbols: Vec<usize>,
}

#[derive(Debug, Clone)]
struct Input {
    ttl_secs: i64,
    now_frac_ms: i64,
    agents: Vec<AgentGen>,
    threads: Vec<ThreadGen>,
    rows: Vec<RowGen>,
    claims: Vec<ClaimGen>,
    deps: Vec<(usize, Vec<usize>)>,
    query: QueryGen,
    churn: Option<ChurnGen>,
}

/// History applied to the index before (and interleaved with) the final state; see `build_index_churned`.
#[derive(Debug, Clone)]
struct ChurnGen {
    /// Earlier states of registered agents (agent index modulo n).
    agents: Vec<(u8, AgentGen)>,
    /// Earlier versions of the world's threads (thread index modulo the thread count).
    threads: Vec<(u8, ThreadGen)>,
    /// Threads upserted, then removed.
    ghosts: Vec<ThreadGen>,
    /// Claims set, then released: by `drop_agent_claims` (true) or `set_claim(None)` (false).
    claims: Vec<(ClaimGen, bool)>,
    /// An earlier dependency map (its closure is cached by the early announcement, then invalidated).
    deps: Vec<(usize, Vec<usize>)>,
    /// Fraction (of 255) of the final agents, threads and rows recorded before the early announcement.
    split: u8,
    /// The early announcement happens this many seconds before `now`.
    early_secs: i64,
    /// Roll the windows at the early time.
    roll: bool,
}

fn symbol_set() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        3 => prop::collection::vec(0..SYMBOLS.len(), 1..4),
        1 => prop::collection::vec(0..SYMBOLS.len(), 9..14),
    ]
}

fn agent_gen() -> impl Strategy<Value = AgentGen> {
    let last_seen = prop_oneof![
        3 => select(EDGE_DELTAS_MS).prop_map(When::Edge),
        5 => (0u32..1010).prop_map(When::Inside),
        1 => (1u32..1000).prop_map(When::Outside),
    ];
    (prop::collection::vec(0..=MODULES.len(), 0..4), prop::bool::weighted(0.9), last_seen)
        .prop_map(|(modules, online, last_seen)| AgentGen { modules, online, last_seen })
}

/// Mostly online agents without modules (crowds where more than 20 candidates are passed over).
fn crowd_agent_gen() -> impl Strategy<Value = AgentGen> {
    (prop::collection::vec(0..=MODULES.len(), 0..2), prop::bool::weighted(0.95), (0u32..1010).prop_map(When::Inside))
        .prop_map(|(modules, online, last_seen)| AgentGen { modules, online, last_seen })
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        2 => Just(Status::Open),
        1 => Just(Status::Resolving),
        3 => Just(Status::Resolved),
        1 => Just(Status::Cancelled),
        1 => Just(Status::Poisoned),
    ]
}

fn thread_gen() -> impl Strategy<Value = ThreadGen> {
    (
        (any::<u8>(), any::<u32>(), 0..SUBJECTS.len(), status(), when(), prop::option::weighted(0.7, when())),
        (
            0u8..3,
            prop::collection::vec(0..FILES.len(), 0..4),
            prop::collection::vec(0..FILES.len(), 0..3),
            prop::collection::vec(0..MODULES.len(), 0..3),
        ),
    )
        .prop_map(
            |((initiator, id_prefix, subject, status, created, resolved), (run, files, depends, modules))| ThreadGen {
                initiator,
                id_prefix,
                subject,
                status,
                created,
                resolved,
                run,
                files,
                depends,
                modules,
            },
        )
}

/// Open, unscoped threads (dense worlds that reach the 100-conflict cap).
fn dense_thread_gen() -> impl Strategy<Value = ThreadGen> {
    (thread_gen(), prop::collection::vec(0..FILES.len(), 1..4)).prop_map(|(t, files)| ThreadGen {
        status: Status::Open,
        run: 0,
        files,
        ..t
    })
}

fn row_gen() -> impl Strategy<Value = RowGen> {
    (
        any::<u8>(),
        0..FILES.len(),
        when(),
        prop_oneof![2 => Just(None), 1 => Just(Some(Vec::new())), 4 => symbol_set().prop_map(Some)],
    )
        .prop_map(|(agent, file, at, symbols)| RowGen { agent, file, at, symbols })
}

fn claim_gen() -> impl Strategy<Value = ClaimGen> {
    (
        any::<u8>(),
        0..FILES.len(),
        prop_oneof![
            3 => select(&[-1000i64, -1, 0, 1, 1000][..]),
            1 => -900_000i64..900_000,
        ],
    )
        .prop_map(|(agent, file, until)| ClaimGen { agent, file, until })
}

fn query_gen() -> impl Strategy<Value = QueryGen> {
    (
        any::<u8>(),
        0u8..3,
        prop::collection::vec(0..FILES.len(), 0..5),
        prop::collection::vec(0..FILES.len(), 0..3),
        prop::collection::vec(0..MODULES.len(), 0..4),
        prop_oneof![1 => Just(Vec::new()), 2 => symbol_set()],
    )
        .prop_map(|(announcer, run, targets, depends, modules, symbols)| QueryGen {
            announcer,
            run,
            targets,
            depends,
            modules,
            symbols,
        })
}

fn churn_gen() -> impl Strategy<Value = ChurnGen> {
    (
        prop::collection::vec((any::<u8>(), agent_gen()), 0..6),
        prop::collection::vec((any::<u8>(), thread_gen()), 0..6),
        prop::collection::vec(thread_gen(), 0..4),
        prop::collection::vec((claim_gen(), any::<bool>()), 0..6),
        prop::collection::vec((0..MODULES.len(), prop::collection::vec(0..MODULES.len(), 0..3)), 0..6),
        any::<u8>(),
        prop_oneof![select(&[0i64, 1, 60, 899, 900, 901, 1799, 1800, 1801, 3599, 3600, 3601][..]), 0i64..7200],
        any::<bool>(),
    )
        .prop_map(|(agents, threads, ghosts, claims, deps, split, early_secs, roll)| ChurnGen {
            agents,
            threads,
            ghosts,
            claims,
            deps,
            split,
            early_secs,
            roll,
        })
}

fn input() -> impl Strategy<Value = Input> {
    (
        prop_oneof![3 => Just(900i64), 1 => 1i64..120],
        prop_oneof![Just(0i64), Just(999i64), 0i64..1000],
        // sometimes many agents, so that more than 20 are passed over
        prop_oneof![
            3 => prop::collection::vec(agent_gen(), 1..=30),
            1 => prop::collection::vec(crowd_agent_gen(), 24..=30),
        ],
        // sometimes many threads, so that the 100-conflict cap is reached
        prop_oneof![
            5 => prop::collection::vec(thread_gen(), 0..40),
            1 => prop::collection::vec(dense_thread_gen(), 150..250),
        ],
        prop::collection::vec(row_gen(), 0..60),
        prop::collection::vec(claim_gen(), 0..15),
        prop::collection::vec((0..MODULES.len(), prop::collection::vec(0..MODULES.len(), 0..3)), 0..8),
        query_gen(),
        prop::option::of(churn_gen()),
    )
        .prop_map(|(ttl_secs, now_frac_ms, agents, threads, rows, claims, deps, query, churn)| Input {
            ttl_secs,
            now_frac_ms,
            agents,
            threads,
            rows,
            claims,
            deps,
            query,
            churn,
        })
}

/// Distinct values, first occurrence order (declared and announced lists are de-duplicated by validation).
fn dedup<T: Clone + PartialEq>(v: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for x in v {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

fn files(ix: &[usize]) -> Vec<RepoPath> {
    dedup(ix.iter().map(|&i| RepoPath::from_stored(FILES[i])))
}

fn modules(ix: &[usize]) -> Vec<String> {
    dedup(ix.iter().map(|&i| MODULES[i].to_owned()))
}

/// As `modules`, where index `MODULES.len()` is the empty string: registration rejects it, but the index
/// tolerates it (it never enters the module map) and it must never overlap anything.
fn agent_modules(ix: &[usize]) -> Vec<String> {
    dedup(ix.iter().map(|&i| MODULES.get(i).copied().unwrap_or_default().to_owned()))
}

fn run(r: u8) -> Option<RunId> {
    match r {
        0 => None,
        1 => Some(RunId::new("r1")),
        _ => Some(RunId::new("r2")),
    }
}

/// The world's clock: `trunc(now)` and `now`.
fn clock(inp: &Input) -> (Timestamp, Timestamp) {
    let now_trunc = Timestamp::from_secs(NOW_S);
    (now_trunc, now_trunc.plus_millis(inp.now_frac_ms))
}

/// Agent references are taken modulo `n + 2`, so they name a registered agent or one of two unregistered ids.
fn who(inp: &Input, r: u8) -> AgentId {
    agent_id(usize::from(r) % (inp.agents.len() + 2))
}

fn mk_agent(inp: &Input, i: usize, a: &AgentGen) -> Agent {
    let (now_trunc, _) = clock(inp);
    Agent {
        id: agent_id(i),
        name: format!("Agent {i}"),
        modules: agent_modules(&a.modules),
        online: a.online,
        last_seen: now_trunc.plus_millis(resolve_ms(a.last_seen, inp.ttl_secs)),
    }
}

fn thread_id(inp: &Input, i: usize) -> ThreadId {
    ThreadId::new(format!("{:08x}-{i:04}-4000-8000-000000000000", inp.threads[i].id_prefix))
}

fn mk_thread(inp: &Input, id: ThreadId, t: &ThreadGen) -> T {
    let (now_trunc, _) = clock(inp);
    let at = |w: When| now_trunc.plus_secs(resolve_secs(w, brute::RESOLVED_WINDOW_SECS));
    T {
        id,
        initiator: who(inp, t.initiator),
        subject: SUBJECTS[t.subject].to_owned(),
        status: t.status,
        created_at: at(t.created),
        resolved_at: t.resolved.map(at),
        run_id: run(t.run),
        target_files: files(&t.files),
        depends_on: files(&t.depends),
        target_modules: modules(&t.modules),
    }
}

fn mk_deps(deps: &[(usize, Vec<usize>)]) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (m, ds) in deps {
        out.insert(MODULES[*m].to_owned(), ds.iter().map(|&d| MODULES[d].to_owned()).collect());
    }
    out
}

/// Materialises an input.
fn world(inp: &Input) -> (World, Query) {
    let (now_trunc, now) = clock(inp);
    let agents = inp.agents.iter().enumerate().map(|(i, a)| mk_agent(inp, i, a)).collect();
    let threads = inp.threads.iter().enumerate().map(|(i, t)| mk_thread(inp, thread_id(inp, i), t)).collect();
    let activity = inp
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| Row {
            id: i as i64 + 1,
            agent: who(inp, r.agent),
            file: RepoPath::from_stored(FILES[r.file]),
            at: now_trunc.plus_millis(resolve_ms(r.at, brute::ACTIVITY_WINDOW_SECS)),
            symbols: r.symbols.as_ref().map(|s| s.iter().map(|&k| SYMBOLS[k].to_owned()).collect()),
        })
        .collect();
    // working_files holds one claim per (agent, file): the last one wins.
    let mut claims: BTreeMap<(AgentId, usize), i64> = BTreeMap::new();
    for c in &inp.claims {
        claims.insert((who(inp, c.agent), c.file), c.until);
    }
    let claims = claims
        .into_iter()
        .map(|((agent, file), until)| Claim {
            agent,
            file: RepoPath::from_stored(FILES[file]),
            until: now.plus_millis(until),
        })
        .collect();
    let q = &inp.query;
    let query = Query {
        announcer: who(inp, q.announcer),
        run_id: run(q.run),
        targets: files(&q.targets),
        depends: files(&q.depends),
        modules: modules(&q.modules),
        symbols: q.symbols.iter().map(|&k| SYMBOLS[k].to_owned()).collect(),
        now,
    };
    (World { ttl_secs: inp.ttl_secs, agents, threads, activity, claims, deps: mk_deps(&inp.deps) }, query)
}

/// Builds the index of `w` the way a running server reaches it: stale states first (earlier registrations,
/// earlier versions of threads, threads later removed, claims later released, an earlier dependency map),
/// part of the final state, an announcement scored at an earlier `now` (liveness expiry, closure cache) and a
/// window roll, then the rest of the final state.
fn build_index_churned(inp: &Input, churn: &ChurnGen, w: &World, q: &Query) -> OrgIndex {
    let (_, now) = clock(inp);
    let mut idx = OrgIndex::new(w.ttl_secs);
    let upsert_agent =
        |idx: &mut OrgIndex, a: &Agent| idx.upsert_agent(&a.id, &a.name, &a.modules, a.online, a.last_seen);
    // stale states
    for (r, a) in &churn.agents {
        let i = usize::from(*r) % inp.agents.len();
        upsert_agent(&mut idx, &Agent { name: format!("Old name {i}"), ..mk_agent(inp, i, a) });
    }
    if !inp.threads.is_empty() {
        for (r, t) in &churn.threads {
            let i = usize::from(*r) % inp.threads.len();
            upsert_thread(&mut idx, &mk_thread(inp, thread_id(inp, i), t));
        }
    }
    let ghosts: Vec<ThreadId> = (0..churn.ghosts.len()).map(|i| ThreadId::new(format!("ghost-{i}"))).collect();
    for (id, t) in ghosts.iter().zip(&churn.ghosts) {
        upsert_thread(&mut idx, &mk_thread(inp, id.clone(), t));
    }
    let stale_claims: Vec<(AgentId, RepoPath, bool)> =
        churn.claims.iter().map(|(c, drop)| (who(inp, c.agent), RepoPath::from_stored(FILES[c.file]), *drop)).collect();
    for ((agent, file, _), (c, _)) in stale_claims.iter().zip(&churn.claims) {
        idx.set_claim(agent, file, Some(now.plus_millis(c.until)));
    }
    idx.set_dependencies(mk_deps(&churn.deps));

    // part of the final state
    let cut = |len: usize| len * usize::from(churn.split) / 255;
    let (agents_a, agents_b) = w.agents.split_at(cut(w.agents.len()));
    let (threads_a, threads_b) = w.threads.split_at(cut(w.threads.len()));
    let (rows_a, rows_b) = w.activity.split_at(cut(w.activity.len()));
    let (claims_a, claims_b) = w.claims.split_at(cut(w.claims.len()));
    for a in agents_a {
        upsert_agent(&mut idx, a);
    }
    for t in threads_a {
        upsert_thread(&mut idx, t);
    }
    for r in rows_a {
        idx.record_activity(&r.agent, &r.file, r.at, r.symbols.clone());
    }
    for c in claims_a {
        idx.set_claim(&c.agent, &c.file, Some(c.until));
    }

    // an earlier announcement, then a window roll
    let early = now.minus_secs(churn.early_secs);
    let mut eq = to_query(q);
    eq.now = early;
    let impact = score_impact(&mut idx, &eq);
    let _ = detect(&mut idx, &eq, &impact);
    if churn.roll {
        idx.roll(early);
    }

    // the rest of the final state
    for a in agents_b {
        upsert_agent(&mut idx, a);
    }
    for t in threads_b {
        upsert_thread(&mut idx, t);
    }
    for id in &ghosts {
        idx.remove_thread(id);
    }
    for r in rows_b {
        idx.record_activity(&r.agent, &r.file, r.at, r.symbols.clone());
    }
    // release the stale claims, keeping the final ones already recorded
    for (agent, file, drop) in &stale_claims {
        if *drop && !claims_a.iter().any(|c| &c.agent == agent) {
            idx.drop_agent_claims(agent);
        } else if !w.claims.iter().any(|c| &c.agent == agent && &c.file == file) {
            idx.set_claim(agent, file, None);
        }
    }
    for c in claims_b {
        idx.set_claim(&c.agent, &c.file, Some(c.until));
    }
    idx.set_dependencies(w.deps.clone());
    idx
}

/// One case: equality with the reference, then the invariants.
fn check(inp: &Input) -> Result<(), TestCaseError> {
    let (w, q) = world(inp);
    let mut idx = match &inp.churn {
        None => build_index(&w),
        Some(churn) => build_index_churned(inp, churn, &w, &q),
    };
    let aq = to_query(&q);
    let impact = score_impact(&mut idx, &aq);
    let conflicts = detect(&mut idx, &aq, &impact);
    // scoring reads the index (liveness expiry and the closure cache aside): a second run is identical
    prop_assert_eq!(&score_impact(&mut idx, &aq), &impact);
    prop_assert_eq!(&detect(&mut idx, &aq, &impact), &conflicts);

    let want_impact = brute::brute_impact(&w, &q);
    prop_assert_eq!(&impact, &want_impact, "impact differs\nworld: {:#?}\nquery: {:#?}", w, q);
    let want_conflicts = brute::brute_conflicts(&w, &q, &want_impact);
    prop_assert_eq!(&conflicts, &want_conflicts, "conflicts differ\nworld: {:#?}\nquery: {:#?}", w, q);

    // V3: every conflict names a candidate; warning ⇔ concerned.
    let candidates = brute::candidate_ids(&w, &q);
    for c in &conflicts {
        prop_assert!(candidates.contains(&c.agent_id), "conflict names a non-candidate: {:?}", c);
        let concerned = impact.concerned.iter().any(|s| s.agent_id == c.agent_id);
        prop_assert_eq!(c.severity == Severity::Warning, concerned, "severity of {:?}", c);
    }
    // V4: every concerned agent has a conflict entry (unless the list was truncated).
    if brute::brute_conflicts_all(&w, &q, &want_impact).len() <= brute::MAX_CONFLICTS {
        for s in &impact.concerned {
            prop_assert!(
                conflicts.iter().any(|c| c.agent_id == s.agent_id),
                "concerned agent {} has no conflict",
                s.agent_id
            );
        }
    }
    // Categories and pass list shape.
    prop_assert!(impact.concerned.iter().all(|s| s.score >= 90));
    prop_assert!(impact.gray_zone.iter().all(|s| (30..90).contains(&s.score)));
    prop_assert!(impact.pass.len() <= brute::PASS_LISTED && impact.pass.len() <= impact.pass_count);
    Ok(())
}

proptest! {
    // XorShift: ChaCha dominates the runtime of an unoptimised build.
    #![proptest_config(ProptestConfig { rng_algorithm: RngAlgorithm::XorShift, ..ProptestConfig::with_cases(2000) })]

    #[test]
    fn indexed_scoring_equals_brute_force(inp in input()) {
        check(&inp)?;
    }
}
