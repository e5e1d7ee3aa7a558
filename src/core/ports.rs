//! Ports: what the core needs from the outside world. Store traits (one per aggregate, each method one
//! transaction), the event bus, leadership and the clock. Implementations live in `store/`, `cluster/` and
//! tests; nothing here names a database or a transport.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;
use thiserror::Error;
use tokio::sync::{broadcast, watch};

use super::agents::{Activity, Agent};
use super::announce::sync::IndexChange;
use super::deps::ModuleInfo;
use super::error::CoreError;
use super::events::{DomainEvent, EventRecord};
use super::files::{ActionSummary, FileActivity, HotFile, WorkingClaim};
use super::ids::{AgentId, OrgId, RunId, SessionId, ThreadId};
use super::paths::RepoPath;
use super::threads::{Introspection, Message, Thread, ThreadStatus};
use super::time::Timestamp;

/// Storage failures, classified once by the store (adapters map them without looking at driver errors).
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("constraint violated: {0}")]
    Constraint(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("storage failure: {0}")]
    Other(String),
    /// An announcement was scored without active threads another process committed on its files: re-score.
    #[error("announcement candidates out of date ({} thread(s) unknown to the scorer)", .0.len())]
    Stale(Vec<ThreadId>),
    /// A singleton job's write was refused: another instance holds a newer fencing token for the job.
    #[error("job {job}: fencing token {token} is stale (a newer leader exists)")]
    Fenced { job: String, token: i64 },
}

impl StoreError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// Whether a newer leader's fence refused the write.
    pub fn is_fenced(&self) -> bool {
        matches!(self, Self::Fenced { .. })
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A thread as seen inside its transaction: the row and the distinct approvers of its current round.
#[derive(Debug, Clone)]
pub struct ThreadState {
    pub thread: Thread,
    pub approvals: Vec<AgentId>,
    pub message_count: i64,
}

/// What a thread decision writes: the new row (compare-and-set on the old status and round), messages,
/// events, and whether pending introspections expire.
#[derive(Debug, Clone)]
pub struct ThreadChange {
    pub thread: Thread,
    pub messages: Vec<Message>,
    pub events: Vec<DomainEvent>,
    pub expire_introspections: bool,
}

/// The pure domain decision run inside the store's transaction.
pub type ThreadDecision = Box<dyn FnOnce(&ThreadState) -> Result<ThreadChange, CoreError> + Send>;

/// Decision for a departure: sees the org's live threads involving the agent, returns their changes.
pub type DepartureDecision = Box<dyn FnOnce(Vec<ThreadState>) -> Vec<ThreadChange> + Send>;

/// A committed thread change.
#[derive(Debug, Clone)]
pub struct ThreadUpdate {
    pub thread: Thread,
    pub messages: Vec<Message>,
    pub events: Vec<EventRecord>,
}

/// Everything one announcement writes, in one commit.
#[derive(Debug, Clone)]
pub struct NewAnnouncement {
    pub thread: Thread,
    /// Name to register the announcer with when unknown.
    pub announcer_name: String,
    /// `(agent, layer label, score)` per concerned or gray agent.
    pub firings: Vec<(AgentId, String, i64)>,
    pub introspections: Vec<Introspection>,
    pub events: Vec<DomainEvent>,
    /// Threads the scorer saw on the announced files (targets and dependencies). A store shared by several
    /// processes re-reads the active threads of those files inside the transaction and answers `Stale` with the
    /// ones not in this list, so two announcements of one file on different replicas never miss each other.
    /// `None`: no check (a caller that did not score, e.g. a data import).
    pub layer0_known: Option<Vec<ThreadId>>,
    /// Active-thread cutoff for that re-read (resolved threads count until this long after resolution).
    pub resolved_since: Timestamp,
}

/// Filters of `list_threads`.
#[derive(Debug, Clone, Default)]
pub struct ThreadFilter {
    pub status: Option<ThreadStatus>,
    pub initiator: Option<AgentId>,
    pub module: Option<String>,
    pub assigned_to_me: Option<AgentId>,
    pub limit: usize,
}

/// A new file-activity row (id assigned by the store).
#[derive(Debug, Clone)]
pub struct NewFileActivity {
    pub row: FileActivity,
    /// Set the agent's activity to `working` on this file (log-file) and emit these events.
    pub mark_working: bool,
    pub events: Vec<DomainEvent>,
    /// Refresh liveness of agents already online within this cutoff.
    pub online_cutoff: Timestamp,
}

/// Everything the scorer indexes need at boot.
#[derive(Debug, Clone, Default)]
pub struct IndexSnapshot {
    pub agents: Vec<Agent>,
    pub threads: Vec<Thread>,
    pub activity: Vec<FileActivity>,
    pub claims: Vec<WorkingClaim>,
    pub modules: Vec<(OrgId, ModuleInfo)>,
}

#[async_trait]
pub trait AgentStore: Send + Sync {
    /// Creates the org row if missing.
    async fn ensure_org(&self, org: &OrgId) -> StoreResult<()>;
    /// Upserts name/modules, status online, last_seen now (keeps registered_at).
    async fn register_agent(&self, agent: &Agent, event: DomainEvent) -> StoreResult<(Agent, Vec<EventRecord>)>;
    /// Liveness: status online + last_seen; with `only_if_online_since`, only agents already online.
    async fn touch_agent(
        &self,
        org: &OrgId,
        id: &AgentId,
        now: Timestamp,
        only_if_online_since: Option<Timestamp>,
    ) -> StoreResult<Option<Agent>>;
    /// Heartbeat: online, seen now, activity row replaced; `None` when the agent is unknown.
    async fn heartbeat(
        &self,
        org: &OrgId,
        activity: &Activity,
        now: Timestamp,
        event: DomainEvent,
    ) -> StoreResult<Option<(Agent, Vec<EventRecord>)>>;
    async fn get_agent(&self, org: &OrgId, id: &AgentId) -> StoreResult<Option<Agent>>;
    /// Every agent of the org, last_seen_at descending.
    async fn list_agents(&self, org: &OrgId) -> StoreResult<Vec<Agent>>;
    /// Online agents (status online, last_seen ≥ cutoff) by name.
    async fn list_online(&self, org: &OrgId, cutoff: Timestamp) -> StoreResult<Vec<Agent>>;
    /// Stored activity rows of the given agents.
    async fn list_activity(&self, org: &OrgId) -> StoreResult<Vec<Activity>>;
    /// Departure in one transaction: agent + activity offline, thread changes, claims and inbox removed.
    async fn depart_agent(
        &self,
        org: &OrgId,
        id: &AgentId,
        now: Timestamp,
        decide: DepartureDecision,
        event: DomainEvent,
    ) -> StoreResult<Option<(Vec<ThreadUpdate>, Vec<EventRecord>)>>;
}

#[async_trait]
pub trait ThreadStore: Send + Sync {
    async fn record_announcement(&self, ann: NewAnnouncement, now: Timestamp) -> StoreResult<Vec<EventRecord>>;
    async fn get_thread(&self, org: &OrgId, id: &ThreadId) -> StoreResult<Option<Thread>>;
    async fn thread_messages(&self, org: &OrgId, id: &ThreadId) -> StoreResult<Vec<Message>>;
    /// Loads the thread with its current-round approvals, runs `decide`, writes the change (CAS), commits.
    async fn update_thread(
        &self,
        org: &OrgId,
        id: &ThreadId,
        now: Timestamp,
        decide: ThreadDecision,
    ) -> Result<ThreadUpdate, CoreError> {
        self.update_thread_fenced(org, id, now, decide, None).await
    }
    /// `update_thread` for a singleton job: with a fence, the fence check runs first in the same transaction and a
    /// stale token aborts it (`StoreError::Fenced`, nothing written).
    async fn update_thread_fenced(
        &self,
        org: &OrgId,
        id: &ThreadId,
        now: Timestamp,
        decide: ThreadDecision,
        fence: Option<&Fence>,
    ) -> Result<ThreadUpdate, CoreError>;
    async fn list_threads(&self, org: &OrgId, filter: &ThreadFilter) -> StoreResult<Vec<Thread>>;
    /// Messages on open/resolving threads by other agents since `since`, ascending, ≤ `limit`.
    async fn thread_updates(
        &self,
        org: &OrgId,
        agent: &AgentId,
        since: Option<Timestamp>,
        limit: usize,
    ) -> StoreResult<Vec<Message>>;
    /// Live threads whose deadline passed (all orgs).
    async fn timed_out_threads(&self, now: Timestamp) -> StoreResult<Vec<(OrgId, ThreadId)>>;
    /// Work-pool claim: one conditional update (threads.md §2.5). `Ok(None)` on success.
    async fn claim_task(
        &self,
        org: &OrgId,
        id: &ThreadId,
        agent: &AgentId,
        now: Timestamp,
        event: DomainEvent,
    ) -> StoreResult<Result<(Thread, Vec<EventRecord>), ClaimRefusal>>;
    async fn pending_introspections(
        &self,
        org: &OrgId,
        agent: &AgentId,
        limit: usize,
    ) -> StoreResult<Vec<Introspection>>;
    async fn get_introspection(&self, org: &OrgId, id: &str) -> StoreResult<Option<Introspection>>;
    /// Marks an introspection responded (CAS on pending), optionally joining the thread's respondents.
    async fn respond_introspection(
        &self,
        org: &OrgId,
        id: &str,
        concerned: bool,
        reason: &str,
        now: Timestamp,
        event: DomainEvent,
    ) -> StoreResult<Option<(Introspection, bool, Vec<EventRecord>)>>;
}

/// Why a claim failed.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimRefusal {
    pub claimed_by: Option<AgentId>,
    pub assigned_to: Option<AgentId>,
    pub status: Option<ThreadStatus>,
    pub conflict: Option<(ThreadId, Vec<RepoPath>)>,
}

#[async_trait]
pub trait FileStore: Send + Sync {
    async fn record_file_activity(&self, act: NewFileActivity) -> StoreResult<(i64, Vec<EventRecord>)>;
    async fn session_files(&self, org: &OrgId, session: &SessionId) -> StoreResult<Vec<FileActivity>>;
    /// Other agents active on `path` since `since`, most recent first: `(agent, name, last)`.
    async fn agents_on_file(
        &self,
        org: &OrgId,
        path: &RepoPath,
        since: Timestamp,
        exclude: Option<&AgentId>,
    ) -> StoreResult<Vec<(AgentId, Option<String>, Timestamp)>>;
    async fn hot_files(&self, org: &OrgId, since: Timestamp, limit: usize) -> StoreResult<Vec<HotFile>>;
    /// Upserts a working-file claim; returns whether it was inserted (vs updated).
    async fn start_claim(&self, claim: &WorkingClaim, now: Timestamp) -> StoreResult<bool>;
    async fn stop_claim(&self, org: &OrgId, agent: &AgentId, path: &RepoPath) -> StoreResult<bool>;
    /// Deletes expired claims; returns them. Fenced like `update_thread_fenced`.
    async fn sweep_claims(&self, now: Timestamp, fence: Option<&Fence>) -> StoreResult<Vec<WorkingClaim>>;
    async fn record_summary(&self, s: &ActionSummary, event: DomainEvent) -> StoreResult<Vec<EventRecord>>;
    async fn latest_summaries(&self, org: &OrgId, agent: &AgentId, limit: usize) -> StoreResult<Vec<ActionSummary>>;
}

#[async_trait]
pub trait DepStore: Send + Sync {
    async fn upsert_modules(&self, org: &OrgId, modules: &[ModuleInfo]) -> StoreResult<()>;
    async fn get_module(&self, org: &OrgId, id: &str) -> StoreResult<Option<ModuleInfo>>;
    async fn list_modules(&self, org: &OrgId) -> StoreResult<Vec<ModuleInfo>>;
}

/// A coordination table swept by retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetainedTable {
    FileActivity,
    Events,
    ThreadMessages,
    ActionSummaries,
    LayerFirings,
}

impl RetainedTable {
    pub const ALL: [RetainedTable; 5] =
        [Self::FileActivity, Self::Events, Self::ThreadMessages, Self::ActionSummaries, Self::LayerFirings];
    pub fn name(self) -> &'static str {
        match self {
            Self::FileActivity => "file_activity",
            Self::Events => "events",
            Self::ThreadMessages => "thread_messages",
            Self::ActionSummaries => "action_summaries",
            Self::LayerFirings => "layer_firings",
        }
    }
}

#[async_trait]
pub trait SystemStore: Send + Sync {
    /// Schema version applied and the highest this binary knows.
    async fn schema_version(&self) -> StoreResult<(i64, i64)>;
    /// Cheap liveness probe.
    async fn ping(&self) -> StoreResult<()>;
    async fn index_snapshot(
        &self,
        now: Timestamp,
        resolved_since: Timestamp,
        activity_since: Timestamp,
    ) -> StoreResult<IndexSnapshot>;
    /// Deletes at most `batch` rows older than `cutoff` (per-org cutoffs are resolved by the caller). Fenced like
    /// `update_thread_fenced`.
    async fn purge(
        &self,
        table: RetainedTable,
        cutoff: Timestamp,
        batch: usize,
        fence: Option<&Fence>,
    ) -> StoreResult<usize>;
    async fn events_after(&self, org: &OrgId, after_seq: i64, limit: usize) -> StoreResult<Vec<EventRecord>>;
    async fn latest_events(&self, org: &OrgId, limit: usize) -> StoreResult<Vec<EventRecord>>;
    /// The last event `seq` allocated per org (committed), for every org that has one.
    async fn event_heads(&self) -> StoreResult<Vec<(OrgId, i64)>>;
}

/// One row of the per-layer scoring statistics: firings of `layer` whose thread ended in `outcome`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerStatRow {
    pub layer: String,
    /// A resolution type, `cancelled`, or `unresolved`.
    pub outcome: String,
    pub fire_count: i64,
    pub score_sum: i64,
}

/// Reports and administration used by the REST API.
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Inserts events that have no other row to go with (e.g. `token_usage`).
    async fn append_events(
        &self,
        org: &OrgId,
        events: Vec<DomainEvent>,
        now: Timestamp,
    ) -> StoreResult<Vec<EventRecord>>;
    /// Thread counts per status for exactly this run (`None` = threads without a run).
    async fn thread_counts(&self, org: &OrgId, run_id: Option<&RunId>) -> StoreResult<Vec<(ThreadStatus, i64)>>;
    /// Layer firings since `since`, grouped by layer and thread outcome.
    async fn layer_stats(&self, org: &OrgId, since: Timestamp) -> StoreResult<Vec<LayerStatRow>>;
    /// Deletes the org's coordination data (the event sequence is kept); returns rows deleted per table.
    async fn reset_org(&self, org: &OrgId) -> StoreResult<Vec<(String, usize)>>;
}

/// One stored inbox message.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxMessage {
    pub seq: i64,
    pub topic: String,
    /// JSON text of the payload.
    pub payload: String,
    /// Receipt time, ms since the epoch.
    pub received_at: i64,
}

/// An acknowledged-mode read: the open batch, its id (None when empty) and messages lost since the last read.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxBatch {
    pub messages: Vec<InboxMessage>,
    pub batch_id: Option<String>,
    pub dropped: i64,
}

/// The durable agent inbox (events-mqtt.md §5).
#[async_trait]
pub trait InboxStore: Send + Sync {
    /// Creates the agent's subscription if missing (idempotent).
    async fn inbox_subscribe(&self, org: &OrgId, agent: &AgentId, now: Timestamp) -> StoreResult<()>;
    /// Appends one message to every subscribed agent of the org in one multi-row insert; enforces the backlog
    /// (drops the oldest messages outside an open batch, counting them); returns the agents that received it.
    async fn inbox_append(
        &self,
        org: &OrgId,
        topic: &str,
        payload: &str,
        received_at_ms: i64,
        max_backlog: usize,
    ) -> StoreResult<Vec<AgentId>>;
    /// Atomically removes and returns the oldest message outside an open batch, with the count left.
    async fn inbox_take_oldest(&self, org: &OrgId, agent: &AgentId) -> StoreResult<Option<(InboxMessage, i64)>>;
    /// Atomically removes and returns every message outside an open batch, oldest first.
    async fn inbox_drain(&self, org: &OrgId, agent: &AgentId) -> StoreResult<Vec<InboxMessage>>;
    /// Acknowledged mode: switches the agent to ack mode; `ack` = the open batch id deletes that batch; then
    /// returns the open batch unchanged, or forms a new one (id `new_batch_id`) from every undelivered message.
    async fn inbox_ack_read(
        &self,
        org: &OrgId,
        agent: &AgentId,
        ack: Option<&str>,
        new_batch_id: &str,
    ) -> StoreResult<InboxBatch>;
    /// Whether the agent is in acknowledged mode.
    async fn inbox_ack_mode(&self, org: &OrgId, agent: &AgentId) -> StoreResult<bool>;
}

/// One retained MQTT message.
#[derive(Debug, Clone, PartialEq)]
pub struct RetainedMessage {
    pub org: OrgId,
    /// Full topic (`coordinator/<org>/…`).
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
}

/// Retained MQTT state, loaded by every broker at start (events-mqtt.md §3.5).
#[async_trait]
pub trait RetainedStore: Send + Sync {
    /// Stores (or, with an empty payload, deletes) a retained message; `false` when the org's cap refused it.
    async fn set_retained(&self, msg: &RetainedMessage, now: Timestamp, cap: usize) -> StoreResult<bool>;
    async fn list_retained(&self) -> StoreResult<Vec<RetainedMessage>>;
}

/// The whole store.
pub trait Store:
    AgentStore + ThreadStore + FileStore + DepStore + SystemStore + ReportStore + InboxStore + RetainedStore
{
}
impl<T> Store for T where
    T: AgentStore + ThreadStore + FileStore + DepStore + SystemStore + ReportStore + InboxStore + RetainedStore
{
}

/// MQTT quality of service used by the coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qos {
    AtMostOnce,
    AtLeastOnce,
}

/// The MQTT bus as the core sees it: the embedded broker or an external one. Publishing never blocks.
pub trait MqttBus: Send + Sync {
    /// Publishes `payload` on `coordinator/<org>/<suffix>` as the coordinator (no client ACL applies).
    fn publish(&self, org: &OrgId, suffix: &str, payload: Vec<u8>, qos: Qos, retain: bool);
    /// Whether the bus can currently deliver (false while an external broker is down).
    fn connected(&self) -> bool;
}

/// Fan-out of committed events.
pub trait EventBus: Send + Sync {
    /// Hands over events this process just committed.
    fn publish(&self, events: &[EventRecord]);
    /// Every event of every replica, once, in `seq` order per org (SSE, the embedded broker's bridge).
    fn subscribe(&self) -> broadcast::Receiver<EventRecord>;
    /// Only the events this process committed, as published (work done once per event cluster-wide: inbox
    /// delivery, publishing to a shared external broker). On a single process the same stream as `subscribe`.
    fn subscribe_local(&self) -> broadcast::Receiver<EventRecord> {
        self.subscribe()
    }
}

/// What a replica tells the other replicas besides events: scorer index changes, inbox wake-ups and waiter
/// supersession. Fire-and-forget: the store stays the truth, and a receiver that may have missed a message
/// resynchronises from it.
pub trait ClusterLink: Send + Sync {
    fn index_changed(&self, org: &OrgId, changes: &[IndexChange]);
    fn inbox_woken(&self, org: &OrgId, agents: &[AgentId]);
    /// A `wait_for_message` waiter registered at `since` (ms).
    fn waiter_registered(&self, org: &OrgId, agent: &AgentId, since: i64);
    /// A client (or `mqtt_publish`) publish accepted here, for the other replicas' MQTT subscribers.
    fn mqtt_forward(&self, org: &OrgId, suffix: &str, payload: &[u8], qos: Qos, retain: bool);
}

/// In-process bus over a tokio broadcast channel.
pub struct LocalBus {
    tx: broadcast::Sender<EventRecord>,
}

impl LocalBus {
    pub fn new(capacity: usize) -> Self {
        Self { tx: broadcast::channel(capacity).0 }
    }
}

impl EventBus for LocalBus {
    fn publish(&self, events: &[EventRecord]) {
        for e in events {
            // No subscriber is not an error: the store is the truth.
            let _ = self.tx.send(e.clone());
        }
    }
    fn subscribe(&self) -> broadcast::Receiver<EventRecord> {
        self.tx.subscribe()
    }
}

/// Proof of leadership a singleton job attaches to its writes (storage.md §2.3): the store records the highest
/// token seen per job and refuses a transaction carrying a lower one, so a paused or partitioned former leader
/// cannot overwrite the work of the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub job: String,
    /// Strictly increasing per job across every instance (issued by the lease).
    pub token: i64,
    /// Instance id of the holder (`<hostname>-<pid>-<8 hex>`).
    pub holder: String,
}

/// This process does not (or can no longer be sure it does) lead the job: it must not write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("not the leader of this job")]
pub struct NotLeading;

/// Leadership of singleton jobs: `true` while this process may run them.
pub trait Leader: Send + Sync {
    fn watch(&self, job: &str) -> watch::Receiver<bool>;
    /// The fence for the job's next write: `Ok(None)` = unfenced (a single process leads everything),
    /// `Err(NotLeading)` = skip the write.
    fn fence(&self, _job: &str) -> Result<Option<Fence>, NotLeading> {
        Ok(None)
    }
}

/// Single-process deployments lead every job, unfenced.
pub struct AlwaysLeader;

impl Leader for AlwaysLeader {
    fn watch(&self, _job: &str) -> watch::Receiver<bool> {
        // The sender is dropped: the receiver keeps the last value (true) forever.
        watch::channel(true).1
    }
}

/// Outcome of a rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Seconds until a token is available (≥ 1 when refused, 0 when allowed).
    pub retry_after_secs: u64,
}

/// Token buckets per (endpoint, identifier) (auth.md §11): capacity `limit`, refilled at `limit / window` per
/// second. Shared across replicas with Redis, per process otherwise.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    async fn check(&self, endpoint: &str, id: &str, limit: u32, window: std::time::Duration) -> Decision;
}

/// Source of `now`.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// Wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(chrono::Utc::now().timestamp_millis())
    }
}

/// A clock tests and benchmarks move by hand.
#[derive(Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(start.millis())))
    }
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.millis(), Ordering::SeqCst);
    }
    pub fn advance_secs(&self, s: i64) {
        self.0.fetch_add(s * 1000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}
