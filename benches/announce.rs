//! Benchmark: `announce_work` latency on SQLite or Postgres (scoring.md §9).
//!
//! For every (online agents N) × (active announcements H) it builds a fresh org in a temporary directory
//! (SqliteStore + Core with SystemClock and LocalBus) or, with `--backend postgres`, in a fresh database
//! `bench_<uuid>` on `--pg-url` (PgStore, pool of 10, migrated with `PgStore::migrate`, dropped afterwards),
//! registers N agents, fills it with H active announcements (written through the store port and loaded by
//! `Core::rebuild_indexes` as at boot; `--history-through-core` announces them instead), 2·H file-activity rows
//! (`record_edit`) and one action summary per agent, then times M sequential `Core::announce` calls end to end
//! (validation, scoring under the org lock, the one store commit, index update, publish, context reads). Each
//! measured announcement is cancelled afterwards (untimed) so the active set stays at H for the whole run.
//!
//! A second, "breakdown" pass replays the same kind of announcements piece by piece against the same database:
//! scoring (`score_impact`) and conflict detection (`conflicts::detect`) on a mirror of the org's index, the store
//! commit alone (`record_announcement` with the rows and events the core would write), the context reads
//! (`latest_summaries` per concerned/gray agent), and the bare cost of one store round trip (`ping`).
//!
//! Run: `cargo bench --bench announce [-- --quick] [--backend sqlite|postgres] [--pg-url URL] [--json PATH]
//! [--agents 10,100,1000] [--active 100,1000,10000] [--scenarios 10x100,100x1000] [--samples M] [--warmup W]
//! [--files F] [--files-per-active K] [--seed S] [--no-breakdown] [--breakdown-samples K]
//! [--history-through-core] [--keep-db DIR]`. See docs/benchmarks.md and docs/benchmarks-replicas.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

use mcp_coordinator::core::agents::AgentStatus;
use mcp_coordinator::core::announce::conflicts;
use mcp_coordinator::core::announce::impact::{AnnounceQuery, score_impact};
use mcp_coordinator::core::announce::index::{ACTIVITY_WINDOW_SECS, IdxThread, OrgIndex, RESOLVED_WINDOW_SECS};
use mcp_coordinator::core::announce::ops::{announcement_events, firings};
use mcp_coordinator::core::announce::plan;
use mcp_coordinator::core::announce::{AnnounceInput, ConflictReport, Impact, PlanQuality};
use mcp_coordinator::core::events::DomainEvent;
use mcp_coordinator::core::files::FileEdit;
use mcp_coordinator::core::ids::{AgentId, ThreadId, new_uuid};
use mcp_coordinator::core::paths::RepoRoots;
use mcp_coordinator::core::ports::{LocalBus, NewAnnouncement, Store, SystemClock};
use mcp_coordinator::core::principal::Principal;
use mcp_coordinator::core::threads::{DEFAULT_MAX_ROUNDS, DEFAULT_TIMEOUT_SECONDS, Thread, ThreadStatus};
use mcp_coordinator::core::time::Timestamp;
use mcp_coordinator::core::{Core, CoreSettings};
use mcp_coordinator::store::postgres::PgStore;
use mcp_coordinator::store::sqlite::SqliteStore;

#[path = "common/pgdb.rs"]
mod pgdb;
use pgdb::BenchDb;

// ---------------------------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------------------------

/// Top-level module directories and sub-directories: 50 × 7 = 350 leaf modules `src/m{a}/sub{b}`.
const TOPS: usize = 50;
const SUBS: usize = 7;
const MODULES: usize = TOPS * SUBS;

/// Spec targets (scoring.md §9), 100 online agents × 1 000 active threads: SQLite p50 / p99, Postgres p50 / p99.
const TARGET_SQLITE_MS: (f64, f64) = (0.5, 3.0);
const TARGET_POSTGRES_MS: (f64, f64) = (1.0, 10.0);
const TARGET_RATIO: f64 = 2.0;

/// Default Postgres server (its maintenance database is only used to create and drop `bench_<uuid>`).
const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432";
/// Pool size of the benchmarked `PgStore` (the server's `COORDINATOR_DB_POOL_SIZE` default).
const PG_POOL: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
    fn title(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "Postgres",
        }
    }
    fn targets(self) -> (f64, f64) {
        match self {
            Backend::Sqlite => TARGET_SQLITE_MS,
            Backend::Postgres => TARGET_POSTGRES_MS,
        }
    }
}

/// A call that wrote more than twice the median bytes plus this ran a WAL checkpoint (SQLite's auto-checkpoint,
/// every 1 000 WAL pages, copies the distinct pages of the WAL into the database file inside a commit).
const CHECKPOINT_EXTRA_BYTES: u64 = 64 * 1024;

/// CPU time consumed so far by every thread of this process (runtime workers and the blocking pool), in ns,
/// from `/proc/self/task/*/schedstat` (precise, unlike the tick-based `stat`). 0 when unavailable.
fn cpu_ns() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return 0 };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()))
        .sum()
}

/// The CPU time `cpu_ns()` itself adds between two readings (median of a few), subtracted from each sample.
fn cpu_probe_overhead() -> u64 {
    let mut v: Vec<u64> = (0..64)
        .map(|_| {
            let a = cpu_ns();
            cpu_ns().saturating_sub(a)
        })
        .collect();
    v.sort_unstable();
    v[v.len() / 2]
}

/// `(wchar, syscw)` of this process: bytes passed to write syscalls and their number (0 when unavailable).
fn proc_io() -> (u64, u64) {
    let Ok(s) = std::fs::read_to_string("/proc/self/io") else { return (0, 0) };
    let field = |name: &str| {
        s.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(0)
    };
    (field("wchar:"), field("syscw:"))
}

#[derive(Debug, Clone)]
struct Config {
    quick: bool,
    backend: Backend,
    /// Server URL for `--backend postgres` (any database in it is replaced by the fresh `bench_<uuid>`).
    pg_url: String,
    json: Option<String>,
    agents: Vec<usize>,
    active: Vec<usize>,
    /// Explicit (agents, active) pairs (`--scenarios 10x100,100x1000`); replaces the grid when given.
    scenarios: Option<Vec<(usize, usize)>>,
    /// Every (agents, active) pair; `--quick` without explicit lists skips the two 10 000-active scenarios other
    /// than 1 000 × 10 000 (their setup dominates the run).
    full_grid: bool,
    samples: usize,
    warmup: usize,
    files: usize,
    /// The file space is at least this many paths per active announcement (0 = off), so the collision rate at
    /// 10 000 active announcements stays that of 1 000 instead of every announcement colliding.
    files_per_active: usize,
    seed: u64,
    breakdown: bool,
    breakdown_samples: usize,
    /// Build the history with `Core::announce` (slow, scored) instead of the store port.
    history_through_core: bool,
    /// Copy each scenario's database and WAL here after the measured calls.
    keep_db: Option<String>,
    load_start: String,
}

fn parse_list(flag: &str, v: Option<String>) -> Result<Vec<usize>> {
    let v = v.ok_or_else(|| anyhow!("{flag} needs a value"))?;
    let out: Vec<usize> = v
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().replace('_', "").parse::<usize>().with_context(|| format!("{flag}: bad number {s:?}")))
        .collect::<Result<_>>()?;
    if out.is_empty() || out.contains(&0) {
        bail!("{flag}: give positive numbers, comma-separated");
    }
    Ok(out)
}

/// `10x100,100x1000` → [(10, 100), (100, 1000)].
fn parse_pairs(v: Option<String>) -> Result<Vec<(usize, usize)>> {
    let v = v.ok_or_else(|| anyhow!("--scenarios needs a value"))?;
    let out: Vec<(usize, usize)> = v
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            let (n, h) = s.trim().split_once(['x', 'X']).ok_or_else(|| anyhow!("--scenarios: {s:?} is not NxH"))?;
            let n = n.replace('_', "").parse::<usize>().with_context(|| format!("--scenarios: bad number {n:?}"))?;
            let h = h.replace('_', "").parse::<usize>().with_context(|| format!("--scenarios: bad number {h:?}"))?;
            Ok((n, h))
        })
        .collect::<Result<_>>()?;
    if out.is_empty() || out.iter().any(|&(n, h)| n == 0 || h == 0) {
        bail!("--scenarios: give positive NxH pairs, comma-separated");
    }
    Ok(out)
}

fn parse_num(flag: &str, v: Option<String>) -> Result<usize> {
    let v = v.ok_or_else(|| anyhow!("{flag} needs a value"))?;
    v.replace('_', "").parse::<usize>().with_context(|| format!("{flag}: bad number {v:?}"))
}

impl Config {
    /// The file space of a scenario with `h` active announcements, in whole modules (every module gets the same
    /// number of files).
    fn files_for(&self, h: usize) -> usize {
        let f = self.files.max(self.files_per_active.saturating_mul(h));
        f.max(MODULES).div_ceil(MODULES) * MODULES
    }

    fn grid(&self) -> Vec<(usize, usize)> {
        if let Some(s) = &self.scenarios {
            return s.clone();
        }
        let max_n = self.agents.iter().copied().max().unwrap_or(0);
        let max_h = self.active.iter().copied().max().unwrap_or(0);
        let mut out = Vec::new();
        for &n in &self.agents {
            for &h in &self.active {
                if self.full_grid || h < max_h || n == max_n {
                    out.push((n, h));
                }
            }
        }
        out
    }

    fn from_args() -> Result<Config> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let quick = args.iter().any(|a| a == "--quick");
        let mut c = Config {
            quick,
            backend: Backend::Sqlite,
            pg_url: DEFAULT_PG_URL.to_owned(),
            json: None,
            agents: vec![10, 100, 1000],
            active: vec![100, 1000, 10_000],
            scenarios: None,
            full_grid: !quick,
            samples: if quick { 500 } else { 2000 },
            warmup: if quick { 100 } else { 300 },
            files: 20_000,
            files_per_active: 20,
            seed: 0x5EED_2026,
            breakdown: true,
            breakdown_samples: if quick { 200 } else { 1000 },
            history_through_core: false,
            keep_db: None,
            load_start: loadavg(),
        };
        let mut it = args.into_iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" => {}
                // `cargo bench` passes `--bench` to harness-less benches.
                "--bench" => {}
                "--json" => c.json = Some(it.next().ok_or_else(|| anyhow!("--json needs a path"))?),
                "--backend" => {
                    c.backend = match it.next().as_deref() {
                        Some("sqlite") => Backend::Sqlite,
                        Some("postgres") | Some("pg") => Backend::Postgres,
                        other => bail!("--backend: sqlite or postgres, not {other:?}"),
                    }
                }
                "--pg-url" => c.pg_url = it.next().ok_or_else(|| anyhow!("--pg-url needs a URL"))?,
                "--scenarios" => c.scenarios = Some(parse_pairs(it.next())?),
                "--agents" => {
                    c.agents = parse_list("--agents", it.next())?;
                    c.full_grid = true;
                }
                "--active" => {
                    c.active = parse_list("--active", it.next())?;
                    c.full_grid = true;
                }
                "--samples" => c.samples = parse_num("--samples", it.next())?.max(1),
                "--warmup" => c.warmup = parse_num("--warmup", it.next())?,
                "--files" => c.files = parse_num("--files", it.next())?,
                "--files-per-active" => c.files_per_active = parse_num("--files-per-active", it.next())?,
                "--seed" => c.seed = parse_num("--seed", it.next())? as u64,
                "--no-breakdown" => c.breakdown = false,
                "--history-through-core" => c.history_through_core = true,
                "--keep-db" => c.keep_db = Some(it.next().ok_or_else(|| anyhow!("--keep-db needs a directory"))?),
                "--breakdown-samples" => c.breakdown_samples = parse_num("--breakdown-samples", it.next())?.max(1),
                "-h" | "--help" => {
                    println!(
                        "cargo bench --bench announce -- [--quick] [--backend sqlite|postgres] [--pg-url URL] \
                         [--json PATH] [--agents 10,100,1000] [--active 100,1000,10000] \
                         [--scenarios 10x100,100x1000] [--samples M] [--warmup W] [--files F] [--files-per-active K] \
                         [--seed S] [--no-breakdown] [--breakdown-samples K] [--history-through-core] [--keep-db DIR]"
                    );
                    std::process::exit(0);
                }
                other => eprintln!("announce bench: ignoring argument {other:?}"),
            }
        }
        Ok(c)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Workload generation (deterministic)
// ---------------------------------------------------------------------------------------------------------------

/// SplitMix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// True with probability `pct` %.
    fn pct(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
}

/// The repository: `files` paths `src/m{a}/sub{b}/file{c}.rs`; file j lives in module j mod 350.
struct Space {
    files: usize,
}

impl Space {
    fn file(&self, j: usize) -> String {
        format!("src/m{}/sub{}/file{}.rs", j % TOPS, (j / TOPS) % SUBS, j / MODULES)
    }
    fn module(&self, j: usize) -> String {
        format!("src/m{}/sub{}", j % TOPS, (j / TOPS) % SUBS)
    }
    fn random(&self, rng: &mut Rng) -> usize {
        rng.below(self.files)
    }
    /// Another file of the module of `j`.
    fn sibling(&self, j: usize, rng: &mut Rng) -> usize {
        j % MODULES + MODULES * rng.below(self.files / MODULES)
    }
}

fn agent_id(i: usize) -> String {
    format!("agent-{i:04}")
}

/// Agent i works in `src/m{i%50}/sub{i%7}`; every fifth agent also owns a deeper module elsewhere.
fn agent_modules(i: usize) -> Vec<String> {
    let mut m = vec![format!("src/m{}/sub{}", i % TOPS, i % SUBS)];
    if i.is_multiple_of(5) {
        m.push(format!("src/m{}/sub{}/deep{}", (i * 7 + 3) % TOPS, (i * 3 + 1) % SUBS, i % 3));
    }
    m
}

const PLAN: &str = "Read the current handlers and their tests first, then extract the shared validation into one \
    helper, update every caller in this module, keep the public signatures unchanged, add unit tests for the \
    edge cases, and run the full suite before handing over.";

/// A history announcement: 1–5 targets (mostly one module), its module, sometimes a dependency.
fn history_input(rng: &mut Rng, space: &Space, agent: &str, h: usize) -> AnnounceInput {
    let first = space.random(rng);
    let n = 1 + rng.below(5);
    let mut targets = vec![space.file(first)];
    for _ in 1..n {
        let j = if rng.pct(70) { space.sibling(first, rng) } else { space.random(rng) };
        targets.push(space.file(j));
    }
    let depends = rng.pct(50).then(|| vec![space.file(space.random(rng))]);
    AnnounceInput {
        agent_id: agent.to_owned(),
        subject: format!("History task {h} in {}", space.module(first)),
        plan: rng.pct(50).then(|| PLAN.to_owned()),
        target_modules: vec![space.module(first)],
        target_files: targets,
        depends_on_files: depends,
        // 70 % stay open whatever the verdict; the rest auto-resolve (active for 30 min) unless someone is concerned.
        keep_open: rng.pct(70),
        ..AnnounceInput::default()
    }
}

/// A measured announcement: 3 target files (one module), that module, 1 depends file, a plan.
fn measured_input(rng: &mut Rng, space: &Space, agent: &str, k: usize) -> AnnounceInput {
    let first = space.random(rng);
    let targets = vec![space.file(first), space.file(space.sibling(first, rng)), space.file(space.sibling(first, rng))];
    let symbols = if rng.pct(30) {
        vec![format!("Handler{}.validate", rng.below(100)), format!("parse_{}", rng.below(100))]
    } else {
        Vec::new()
    };
    AnnounceInput {
        agent_id: agent.to_owned(),
        subject: format!("Task {k}: refactor {}", space.module(first)),
        plan: Some(PLAN.to_owned()),
        target_modules: vec![space.module(first)],
        target_files: targets,
        depends_on_files: Some(vec![space.file(space.random(rng))]),
        target_symbols: symbols,
        keep_open: false,
        ..AnnounceInput::default()
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
struct Dist {
    n: usize,
    p50: f64,
    p90: f64,
    p95: f64,
    p99: f64,
    max: f64,
    mean: f64,
    total_s: f64,
}

/// Nearest-rank percentiles, in milliseconds.
fn dist(samples: &[Duration]) -> Dist {
    if samples.is_empty() {
        return Dist::default();
    }
    let mut v: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let rank = (q * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1]
    };
    let total: f64 = v.iter().sum();
    Dist {
        n: v.len(),
        p50: at(0.50),
        p90: at(0.90),
        p95: at(0.95),
        p99: at(0.99),
        max: v[v.len() - 1],
        mean: total / v.len() as f64,
        total_s: total / 1e3,
    }
}

impl Dist {
    fn json(&self) -> Value {
        json!({"n": self.n, "p50_ms": self.p50, "p90_ms": self.p90, "p95_ms": self.p95, "p99_ms": self.p99,
               "max_ms": self.max, "mean_ms": self.mean})
    }
}

#[derive(Debug, Clone, Default)]
struct Breakdown {
    score: Dist,
    detect: Dist,
    commit: Dist,
    /// The same commit without the `impact_scored` events of the pass list.
    commit_no_pass: Dist,
    context: Dist,
    ping: Dist,
    /// Events per announcement (mean) written by the replayed commits.
    events_per_call: f64,
    /// Conflict JSON bytes per announcement (mean).
    conflict_bytes: f64,
}

#[derive(Debug, Clone, Default)]
struct ScenarioResult {
    agents: usize,
    active: usize,
    files: usize,
    lat: Dist,
    throughput: f64,
    concerned: f64,
    gray: f64,
    conflicts: f64,
    open_pct: f64,
    /// Bytes and write syscalls per measured call (from /proc/self/io: WAL frames, and checkpoints when they
    /// happen inside the call).
    write_kb: f64,
    write_calls: f64,
    /// CPU time of every thread of the process during the call (idle runtime workers that wake and spin count too,
    /// so it can exceed the wall time).
    cpu: Dist,
    /// Measured calls that ran a WAL checkpoint (see `CHECKPOINT_EXTRA_BYTES`), and their latency distribution.
    checkpoints: usize,
    checkpoint_lat: Dist,
    /// Latency of the calls without a checkpoint.
    plain_lat: Dist,
    setup_s: f64,
    cancel_failures: usize,
    threads_in_index: usize,
    breakdown: Option<Breakdown>,
}

// ---------------------------------------------------------------------------------------------------------------
// One scenario
// ---------------------------------------------------------------------------------------------------------------

/// The store of one scenario and what to remove afterwards.
struct Backing {
    store: Arc<dyn Store>,
    /// SQLite: the database file (its temporary directory goes with `_dir`).
    sqlite_db: Option<std::path::PathBuf>,
    _dir: Option<tempfile::TempDir>,
    /// Postgres: the pool (closed before the drop) and the fresh database.
    pg: Option<(PgStore, BenchDb)>,
}

async fn open_backing(cfg: &Config) -> Result<Backing> {
    match cfg.backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().context("temp dir")?;
            let db = dir.path().join("data").join("coordinator.db");
            let path = db.clone();
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(&db)).await??;
            Ok(Backing { store: Arc::new(store), sqlite_db: Some(path), _dir: Some(dir), pg: None })
        }
        Backend::Postgres => {
            let db = BenchDb::create(&cfg.pg_url).await?;
            let opened = async {
                let store = PgStore::connect(&db.url, PG_POOL).await?;
                store.migrate().await?;
                anyhow::Ok(store)
            }
            .await;
            match opened {
                Ok(store) => {
                    Ok(Backing { store: Arc::new(store.clone()), sqlite_db: None, _dir: None, pg: Some((store, db)) })
                }
                Err(e) => {
                    let _ = db.drop_db().await;
                    Err(e.context(format!("opening and migrating {}", db.name)))
                }
            }
        }
    }
}

impl Backing {
    /// Closes the pool and drops the Postgres database; removes the SQLite directory.
    async fn close(self) -> Result<()> {
        let Backing { store, pg, .. } = self;
        drop(store);
        if let Some((pool, db)) = pg {
            pool.close().await;
            db.drop_db().await?;
        }
        Ok(())
    }
}

async fn scenario(cfg: &Config, n: usize, h: usize) -> Result<ScenarioResult> {
    let backing = open_backing(cfg).await?;
    let out = scenario_on(cfg, &backing, n, h).await;
    let closed = backing.close().await;
    let r = out?;
    closed?;
    Ok(r)
}

async fn scenario_on(cfg: &Config, backing: &Backing, n: usize, h: usize) -> Result<ScenarioResult> {
    let core = Core::start(
        backing.store.clone(),
        Arc::new(LocalBus::new(4096)),
        Arc::new(SystemClock),
        CoreSettings::default(),
    )
    .await?;
    let p = Principal::open_mode();
    let space = Space { files: cfg.files_for(h) };
    let mut rng = Rng(cfg.seed ^ ((n as u64) << 32) ^ h as u64);
    let setup = Instant::now();

    // Agents.
    let agents: Vec<String> = (0..n).map(agent_id).collect();
    for (i, a) in agents.iter().enumerate() {
        core.register_agent(&p, a, &format!("Agent {i}"), &agent_modules(i)).await?;
    }
    // History: H active announcements spread over the agents.
    if cfg.history_through_core {
        for k in 0..h {
            let a = &agents[rng.below(n)];
            core.announce(&p, history_input(&mut rng, &space, a, k)).await?;
        }
    } else {
        seed_threads(&core, &p, &agents, &space, &mut rng, h).await?;
    }
    // File activity: 2·H edits (log-file hook), 30 % with symbols; one action summary per agent.
    for k in 0..2 * h {
        let a = &agents[rng.below(n)];
        let symbols = rng.pct(30).then(|| vec![format!("Handler{}.validate", rng.below(100))]);
        let edit = FileEdit {
            session_id: format!("sess-{a}"),
            agent_id: a.clone(),
            tool_name: if k % 3 == 0 { "Write".into() } else { "Edit".into() },
            file_path: space.file(space.random(&mut rng)),
            symbols,
            ..FileEdit::default()
        };
        core.record_edit(&p, edit, true).await?;
    }
    for a in &agents {
        let f = space.file(space.random(&mut rng));
        core.log_action_summary(&p, &format!("sess-{a}"), a, Some(&f), "Extracted the request validation helper")
            .await?;
    }
    // The scorer's indexes from the store, as at boot (picks up the seeded threads).
    core.rebuild_indexes().await?;
    let setup_s = setup.elapsed().as_secs_f64();

    // Warm-up, then the timed calls. Agents rotate; every measured thread is cancelled (untimed) afterwards.
    let mut lat = Vec::with_capacity(cfg.samples);
    let (mut wbytes, mut wcalls) = (Vec::with_capacity(cfg.samples), 0u64);
    let mut cpu = Vec::with_capacity(cfg.samples);
    let probe = cpu_probe_overhead();
    let (mut concerned, mut gray, mut confl, mut open, mut cancel_failures) = (0usize, 0usize, 0usize, 0usize, 0);
    for k in 0..cfg.warmup + cfg.samples {
        let a = &agents[k % n];
        let input = measured_input(&mut rng, &space, a, k);
        let io0 = proc_io();
        let c0 = cpu_ns();
        let t0 = Instant::now();
        let out = core.announce(&p, input).await;
        let dt = t0.elapsed();
        let c1 = cpu_ns();
        let io1 = proc_io();
        let out = out?;
        if k >= cfg.warmup {
            lat.push(dt);
            cpu.push(Duration::from_nanos(c1.saturating_sub(c0).saturating_sub(probe)));
            let (db, dc) = (io1.0.saturating_sub(io0.0), io1.1.saturating_sub(io0.1));
            wbytes.push(db);
            wcalls += dc;
            concerned += out.impact.concerned.len();
            gray += out.impact.gray_zone.len();
            confl += out.conflicts.len();
            open += usize::from(out.thread.status == ThreadStatus::Open);
        }
        if core.cancel_thread(&p, out.thread.id.as_str(), a, None).await.is_err() {
            cancel_failures += 1;
        }
    }
    if let (Some(keep), Some(db_path)) = (&cfg.keep_db, &backing.sqlite_db) {
        // The database and its WAL as the measured calls left them (for page-level analysis of the commits).
        std::fs::create_dir_all(keep).with_context(|| format!("creating {keep}"))?;
        for ext in ["", "-wal"] {
            let from = format!("{}{ext}", db_path.display());
            let to = format!("{keep}/announce-{n}x{h}.db{ext}");
            std::fs::copy(&from, &to).with_context(|| format!("copying {from} to {to}"))?;
        }
    }
    let m = cfg.samples as f64;
    let mut sorted = wbytes.clone();
    sorted.sort_unstable();
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0);
    // Postgres writes in the server process: this process only writes to its socket, and there is no checkpoint
    // inside a call to detect.
    let sqlite = cfg.backend == Backend::Sqlite;
    let is_ckpt = |b: u64| sqlite && median > 0 && b > 2 * median + CHECKPOINT_EXTRA_BYTES;
    let ckpt_lat: Vec<Duration> = lat.iter().zip(&wbytes).filter(|(_, b)| is_ckpt(**b)).map(|(d, _)| *d).collect();
    let plain_lat: Vec<Duration> = lat.iter().zip(&wbytes).filter(|(_, b)| !is_ckpt(**b)).map(|(d, _)| *d).collect();
    let d = dist(&lat);
    let throughput = if d.total_s > 0.0 { d.n as f64 / d.total_s } else { 0.0 };

    let (breakdown, threads_in_index) = if cfg.breakdown {
        let (b, t) = breakdown(cfg, &core, &p, &agents, &space, &mut rng).await?;
        (Some(b), t)
    } else {
        (None, 0)
    };
    drop(core);
    Ok(ScenarioResult {
        agents: n,
        active: h,
        files: space.files,
        throughput,
        concerned: concerned as f64 / m,
        gray: gray as f64 / m,
        conflicts: confl as f64 / m,
        open_pct: 100.0 * open as f64 / m,
        write_kb: wbytes.iter().sum::<u64>() as f64 / 1024.0 / m,
        write_calls: wcalls as f64 / m,
        cpu: dist(&cpu),
        checkpoints: ckpt_lat.len(),
        checkpoint_lat: dist(&ckpt_lat),
        plain_lat: dist(&plain_lat),
        setup_s,
        cancel_failures,
        threads_in_index,
        breakdown,
        lat: d,
    })
}

/// Writes H history threads straight through the store port (one `record_announcement` commit each, without
/// scoring): 70 % open with keep_open, 30 % auto-resolved just now (active for 30 min). `Core::rebuild_indexes`
/// then loads them, exactly as at boot. Ten times faster than announcing them, whose cost grows with collisions.
async fn seed_threads(
    core: &Core,
    p: &Principal,
    agents: &[String],
    space: &Space,
    rng: &mut Rng,
    h: usize,
) -> Result<()> {
    let store = core.store().clone();
    let roots = RepoRoots::default();
    for k in 0..h {
        let a = &agents[rng.below(agents.len())];
        let input = history_input(rng, space, a, k);
        let now = core.now().trunc_secs();
        let mut thread = Thread {
            id: ThreadId::generate(),
            org_id: p.org.clone(),
            initiator_id: AgentId::new(a.clone()),
            subject: input.subject.clone(),
            plan: input.plan.clone(),
            target_modules: input.target_modules.clone(),
            target_files: roots.normalize_all(&input.target_files)?,
            depends_on_files: input.depends_on_files.as_deref().map(|d| roots.normalize_all(d)).transpose()?,
            exports_affected: None,
            status: ThreadStatus::Open,
            resolution_summary: None,
            resolution_type: None,
            conflicts: Some(Vec::new()),
            round: 1,
            max_rounds: DEFAULT_MAX_ROUNDS,
            timeout_seconds: if input.keep_open { 0 } else { DEFAULT_TIMEOUT_SECONDS },
            keep_open: input.keep_open,
            created_at: now,
            resolved_at: None,
            expected_respondents: Vec::new(),
            claimed_by: None,
            claimed_at: None,
            unclaim_count: 0,
            assigned_to: None,
            run_id: None,
        };
        let (pq, _) = plan::evaluate(input.plan.as_deref());
        let ann = announcement(&mut thread, &Impact::default(), &[], &pq, a);
        store.record_announcement(ann, now).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Breakdown: the pieces of one announcement, timed separately
// ---------------------------------------------------------------------------------------------------------------

/// Builds the same index the core keeps (as `Core::rebuild_indexes` does) from the store.
async fn mirror_index(store: &Arc<dyn Store>, now: Timestamp) -> Result<OrgIndex> {
    let snap = store
        .index_snapshot(
            now,
            now.trunc_secs().minus_secs(RESOLVED_WINDOW_SECS),
            now.trunc_secs().minus_secs(ACTIVITY_WINDOW_SECS),
        )
        .await?;
    let mut idx = OrgIndex::new(CoreSettings::default().online_ttl_secs);
    for a in &snap.agents {
        idx.upsert_agent(&a.id, &a.name, &a.modules, a.status == AgentStatus::Online, a.last_seen_at);
    }
    for t in &snap.threads {
        idx.upsert_thread(IdxThread::from_thread(t));
    }
    for r in &snap.activity {
        idx.record_activity(&r.agent_id, &r.file_path, r.created_at, r.symbols_touched.clone());
    }
    for c in &snap.claims {
        idx.set_claim(&c.agent_id, &c.file_path, Some(c.claim_until));
    }
    Ok(idx)
}

/// The rows and events `Core::announce` writes for this verdict (the core's own builder).
fn announcement(
    thread: &mut Thread,
    impact: &Impact,
    conflicts: &[ConflictReport],
    pq: &PlanQuality,
    name: &str,
) -> NewAnnouncement {
    let open = !impact.concerned.is_empty() || thread.keep_open;
    let (events, introspections) = announcement_events(thread, impact, conflicts, pq, None, name, open);
    NewAnnouncement {
        thread: thread.clone(),
        announcer_name: name.to_owned(),
        firings: firings(impact),
        introspections,
        events,
        layer0_known: None,
        resolved_since: thread.created_at,
    }
}

async fn breakdown(
    cfg: &Config,
    core: &Core,
    p: &Principal,
    agents: &[String],
    space: &Space,
    rng: &mut Rng,
) -> Result<(Breakdown, usize)> {
    let store = core.store().clone();
    let roots = RepoRoots::default();
    let mut idx = mirror_index(&store, core.now()).await?;
    let threads_in_index = idx_thread_count(&store, core.now()).await?;
    let k_max = cfg.breakdown_samples;
    let (mut t_score, mut t_detect, mut t_commit, mut t_commit_np, mut t_ctx, mut t_ping) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut events, mut cbytes) = (0usize, 0usize);
    for k in 0..k_max {
        let a = &agents[k % agents.len()];
        let input = measured_input(rng, space, a, k);
        let announcer = AgentId::new(a.clone());
        let now = core.now().trunc_secs();
        let q = AnnounceQuery {
            announcer: announcer.clone(),
            run_id: None,
            targets: roots.normalize_all(&input.target_files)?,
            depends: roots.normalize_all(input.depends_on_files.as_deref().unwrap_or_default())?,
            modules: input.target_modules.clone(),
            symbols: input.target_symbols.clone(),
            now,
        };
        // Scoring and conflict detection on the index (in memory).
        let t0 = Instant::now();
        let impact = score_impact(&mut idx, &q);
        t_score.push(t0.elapsed());
        let t0 = Instant::now();
        let confl = conflicts::detect(&mut idx, &q, &impact);
        t_detect.push(t0.elapsed());
        cbytes += serde_json::to_string(&confl).map(|s| s.len()).unwrap_or(0);

        // The store commit alone, with the rows and events of this verdict.
        let (pq, _) = plan::evaluate(input.plan.as_deref());
        let mut thread = Thread {
            id: ThreadId::generate(),
            org_id: p.org.clone(),
            initiator_id: announcer.clone(),
            subject: input.subject.clone(),
            plan: input.plan.clone(),
            target_modules: q.modules.clone(),
            target_files: q.targets.clone(),
            depends_on_files: Some(q.depends.clone()),
            exports_affected: None,
            status: ThreadStatus::Open,
            resolution_summary: None,
            resolution_type: None,
            conflicts: Some(confl.clone()),
            round: 1,
            max_rounds: DEFAULT_MAX_ROUNDS,
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
            keep_open: false,
            created_at: now,
            resolved_at: None,
            expected_respondents: impact.concerned.iter().map(|s| s.agent_id.clone()).collect(),
            claimed_by: None,
            claimed_at: None,
            unclaim_count: 0,
            assigned_to: None,
            run_id: None,
        };
        let ann = announcement(&mut thread, &impact, &confl, &pq, a);
        events += ann.events.len();
        // The same commit without the pass-list `impact_scored` events (fresh ids). The two run in alternating
        // order so neither always follows the other.
        let mut lean = ann.clone();
        lean.thread.id = ThreadId::generate();
        for i in &mut lean.introspections {
            i.id = new_uuid();
            i.thread_id = lean.thread.id.clone();
        }
        lean.events.retain(|e| !matches!(e, DomainEvent::ImpactScored { category, .. } if category == "pass"));
        let pair = if k % 2 == 0 { [(true, ann), (false, lean)] } else { [(false, lean), (true, ann)] };
        for (full, v) in pair {
            let t0 = Instant::now();
            store.record_announcement(v, now).await?;
            if full { t_commit.push(t0.elapsed()) } else { t_commit_np.push(t0.elapsed()) }
        }

        // Context reads: one `latest_summaries` per concerned or gray agent.
        let t0 = Instant::now();
        for s in impact.concerned.iter().chain(&impact.gray_zone) {
            store.latest_summaries(&p.org, &s.agent_id, 10).await?;
        }
        t_ctx.push(t0.elapsed());

        // One bare store round trip (spawn_blocking + pooled reader + `SELECT 1`).
        let t0 = Instant::now();
        store.ping().await?;
        t_ping.push(t0.elapsed());
    }
    let k = k_max.max(1) as f64;
    Ok((
        Breakdown {
            score: dist(&t_score),
            detect: dist(&t_detect),
            commit: dist(&t_commit),
            commit_no_pass: dist(&t_commit_np),
            context: dist(&t_ctx),
            ping: dist(&t_ping),
            events_per_call: events as f64 / k,
            conflict_bytes: cbytes as f64 / k,
        },
        threads_in_index,
    ))
}

/// Active threads the scorer sees (sanity check that the active set is H).
async fn idx_thread_count(store: &Arc<dyn Store>, now: Timestamp) -> Result<usize> {
    let snap = store
        .index_snapshot(
            now,
            now.trunc_secs().minus_secs(RESOLVED_WINDOW_SECS),
            now.trunc_secs().minus_secs(ACTIVITY_WINDOW_SECS),
        )
        .await?;
    Ok(snap.threads.iter().filter(|t| IdxThread::from_thread(t).is_active(now)).count())
}

// ---------------------------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------------------------

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    json!({"cpu": cpu, "cores": cores, "os": std::env::consts::OS, "arch": std::env::consts::ARCH,
           "profile": if cfg!(debug_assertions) { "debug" } else { "release" }})
}

/// The 1/5/15-minute load averages (other work on the machine inflates latencies).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// The URL without its password.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "<invalid URL>".to_owned(),
    }
}

fn find(results: &[ScenarioResult], n: usize, h: usize) -> Option<&ScenarioResult> {
    results.iter().find(|r| r.agents == n && r.active == h)
}

fn report(cfg: &Config, results: &[ScenarioResult], wall_s: f64) -> Result<()> {
    let mach = machine();
    let backend = cfg.backend;
    let sqlite = backend == Backend::Sqlite;
    let (target_p50, target_p99) = backend.targets();
    println!("\n## announce_work latency on {}\n", backend.title());
    let space = match cfg.files_per_active {
        0 => format!("{} paths", cfg.files),
        k => format!("max({}, {k} × active) paths", cfg.files),
    };
    println!(
        "machine: {} ({} cores, {}), build: {}; load average {} at start, {} at end; {} timed calls per scenario \
         after {} warm-up calls; file space {space} in {MODULES} modules; total wall time {:.0} s\n",
        mach["cpu"].as_str().unwrap_or("?"),
        mach["cores"],
        mach["arch"].as_str().unwrap_or("?"),
        mach["profile"].as_str().unwrap_or("?"),
        cfg.load_start,
        loadavg(),
        cfg.samples,
        cfg.warmup,
        wall_s
    );
    if !sqlite {
        println!(
            "Postgres: fresh database per scenario on {}, pool {PG_POOL}; `KB written/call` and `writes/call` count \
             only this process's socket writes (the server writes the WAL), no checkpoint detection.\n",
            redact(&cfg.pg_url)
        );
    }
    println!(
        "| backend | agents | active | files | p50 ms | p90 ms | p95 ms | p99 ms | max ms | mean ms | calls/s | CPU p50 / p99 ms | \
         concerned/call | gray/call | conflicts/call | open % | KB written/call | writes/call | checkpoint calls (mean ms) | \
         p99 w/o them ms | setup s |"
    );
    println!(
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in results {
        println!(
            "| {} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} | {:.3} / {:.3} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | \
             {:.1} | {} ({:.2}) | {:.3} | {:.1} |",
            backend.name(),
            r.agents,
            r.active,
            r.files,
            r.lat.p50,
            r.lat.p90,
            r.lat.p95,
            r.lat.p99,
            r.lat.max,
            r.lat.mean,
            r.throughput,
            r.cpu.p50,
            r.cpu.p99,
            r.concerned,
            r.gray,
            r.conflicts,
            r.open_pct,
            r.write_kb,
            r.write_calls,
            r.checkpoints,
            r.checkpoint_lat.mean,
            r.plain_lat.p99,
            r.setup_s
        );
    }
    if results.iter().any(|r| r.cancel_failures > 0) {
        println!("\nwarning: some measured threads could not be cancelled; the active set grew during the run");
    }

    if cfg.breakdown {
        println!(
            "\n### Where the time goes (breakdown pass, {} replayed announcements per scenario)\n",
            cfg.breakdown_samples
        );
        println!(
            "| backend | agents | active | threads seen | score p50/p99 ms | detect p50/p99 ms | commit p50/p99 ms | \
             commit w/o pass events p50/p99 ms | context p50/p99 ms | ping p50 ms | events/call | conflict JSON B |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for r in results {
            if let Some(b) = &r.breakdown {
                println!(
                    "| {} | {} | {} | {} | {:.3} / {:.3} | {:.3} / {:.3} | {:.3} / {:.3} | {:.3} / {:.3} | {:.3} / {:.3} | {:.3} | \
                     {:.1} | {:.0} |",
                    backend.name(),
                    r.agents,
                    r.active,
                    r.threads_in_index,
                    b.score.p50,
                    b.score.p99,
                    b.detect.p50,
                    b.detect.p99,
                    b.commit.p50,
                    b.commit.p99,
                    b.commit_no_pass.p50,
                    b.commit_no_pass.p99,
                    b.context.p50,
                    b.context.p99,
                    b.ping.p50,
                    b.events_per_call,
                    b.conflict_bytes
                );
            }
        }
    }

    println!("\n### Spec targets (scoring.md §9, {})\n", backend.title());
    let mut checks = serde_json::Map::new();
    match find(results, 100, 1000) {
        Some(r) => {
            let ok50 = r.lat.p50 <= target_p50;
            let ok99 = r.lat.p99 <= target_p99;
            println!(
                "- 100 agents × 1 000 active: p50 {:.3} ms (target ≤ {target_p50}) **{}**; p99 {:.3} ms (target ≤ \
                 {target_p99}) **{}**",
                r.lat.p50,
                if ok50 { "MET" } else { "MISSED" },
                r.lat.p99,
                if ok99 { "MET" } else { "MISSED" }
            );
            checks.insert("p50_100x1000".into(), json!({"value_ms": r.lat.p50, "target_ms": target_p50, "met": ok50}));
            checks.insert("p99_100x1000".into(), json!({"value_ms": r.lat.p99, "target_ms": target_p99, "met": ok99}));
        }
        None => println!("- 100 agents × 1 000 active: not in this run"),
    }
    match (find(results, 1000, 10_000), find(results, 10, 100)) {
        (Some(big), Some(small)) if small.lat.p50 > 0.0 => {
            let ratio = big.lat.p50 / small.lat.p50;
            let ok = ratio <= TARGET_RATIO;
            println!(
                "- p50(1 000 × 10 000) / p50(10 × 100) = {:.3} / {:.3} = {ratio:.2} (target ≤ {TARGET_RATIO}) **{}**",
                big.lat.p50,
                small.lat.p50,
                if ok { "MET" } else { "MISSED" }
            );
            checks.insert("ratio_p50".into(), json!({"value": ratio, "target": TARGET_RATIO, "met": ok}));
        }
        _ => println!("- p50 ratio 1 000 × 10 000 vs 10 × 100: not in this run"),
    }

    if let Some(path) = &cfg.json {
        let scenarios: Vec<Value> = results
            .iter()
            .map(|r| {
                json!({
                    "backend": backend.name(), "agents": r.agents, "active": r.active, "files": r.files, "latency": r.lat.json(), "throughput_per_s": r.throughput,
                    "concerned_per_call": r.concerned, "gray_per_call": r.gray, "conflicts_per_call": r.conflicts,
                    "open_pct": r.open_pct, "cpu": r.cpu.json(), "write_kb_per_call": r.write_kb,
                    "write_syscalls_per_call": r.write_calls, "calls_with_checkpoint": r.checkpoints,
                    "checkpoint_calls_latency": r.checkpoint_lat.json(), "latency_without_checkpoint_calls": r.plain_lat.json(), "setup_s": r.setup_s, "cancel_failures": r.cancel_failures,
                    "active_threads_seen": r.threads_in_index,
                    "breakdown": r.breakdown.as_ref().map(|b| json!({
                        "score": b.score.json(), "detect": b.detect.json(), "commit": b.commit.json(), "commit_without_pass_events": b.commit_no_pass.json(),
                        "context": b.context.json(), "ping": b.ping.json(), "events_per_call": b.events_per_call,
                        "conflict_json_bytes": b.conflict_bytes,
                    })),
                })
            })
            .collect();
        let doc = json!({
            "benchmark": format!("announce_{}", backend.name()),
            "backend": backend.name(),
            "machine": mach,
            "config": {"quick": cfg.quick, "backend": backend.name(),
                       "pg_url": (!sqlite).then(|| redact(&cfg.pg_url)), "pg_pool": (!sqlite).then_some(PG_POOL), "samples": cfg.samples, "warmup": cfg.warmup, "files": cfg.files, "files_per_active": cfg.files_per_active,
                       "load_start": cfg.load_start, "load_end": loadavg(),
                       "modules": MODULES, "seed": cfg.seed, "breakdown_samples": cfg.breakdown_samples,
                       "history_through_core": cfg.history_through_core},
            "scenarios": scenarios,
            "targets": Value::Object(checks),
            "wall_s": wall_s,
        });
        if let Some(parent) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(path, serde_json::to_string_pretty(&doc)?).with_context(|| format!("writing {path}"))?;
        println!("\nJSON written to {path}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------------

async fn run(cfg: Config) -> Result<Vec<ScenarioResult>> {
    let mut out = Vec::new();
    for (n, h) in cfg.grid() {
        let t = Instant::now();
        eprintln!("announce bench ({}): {n} agents × {h} active …", cfg.backend.name());
        let r = scenario(&cfg, n, h).await.with_context(|| format!("scenario {n} agents × {h} active"))?;
        eprintln!(
            "announce bench: {n} × {h}: p50 {:.3} ms, p99 {:.3} ms (setup {:.1} s, scenario {:.1} s)",
            r.lat.p50,
            r.lat.p99,
            r.setup_s,
            t.elapsed().as_secs_f64()
        );
        out.push(r);
    }
    Ok(out)
}

fn main() -> Result<()> {
    let cfg = Config::from_args()?;
    if cfg!(debug_assertions) {
        eprintln!("announce bench: WARNING: debug build; numbers are meaningless (use `cargo bench`)");
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let wall = Instant::now();
    let c = cfg.clone();
    // The calls run on a runtime worker, as a request handler would; they are timed one at a time.
    let results = rt.block_on(async move { tokio::spawn(run(c)).await? })?;
    report(&cfg, &results, wall.elapsed().as_secs_f64())?;
    Ok(())
}
