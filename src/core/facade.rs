//! `Core`: the cheap-clone handle every transport calls. It owns the ports, the per-org indexes and the per-org
//! write lock that serialises an org's mutations so the indexes follow commit order.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;

use super::announce::index::{ACTIVITY_WINDOW_SECS, IdxThread, OrgIndex, RESOLVED_WINDOW_SECS};
use super::announce::sync::IndexChange;
use super::error::CoreResult;
use super::events::EventRecord;
use super::ids::OrgId;
use super::inbox::Waiters;
use super::paths::RepoRoots;
use super::ports::{Clock, ClusterLink, EventBus, MqttBus, Store};
use super::principal::Principal;
use super::time::Timestamp;

/// Settings the domain needs (resolved by the config layer).
#[derive(Debug, Clone)]
pub struct CoreSettings {
    pub online_ttl_secs: i64,
    pub working_files_ttl_min: i64,
    pub repo_roots: RepoRoots,
    pub inbox_max_backlog: usize,
}

impl Default for CoreSettings {
    fn default() -> Self {
        Self {
            online_ttl_secs: 900,
            working_files_ttl_min: 30,
            repo_roots: RepoRoots::default(),
            inbox_max_backlog: 1000,
        }
    }
}

/// Per-org state: the write lock and the scorer indexes.
pub(crate) struct OrgSlot {
    pub(crate) write: tokio::sync::Mutex<()>,
    pub(crate) index: Mutex<OrgIndex>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) bus: Arc<dyn EventBus>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: CoreSettings,
    orgs: Mutex<HashMap<OrgId, Arc<OrgSlot>>>,
    ensured: Mutex<HashSet<OrgId>>,
    pub(crate) mqtt: std::sync::OnceLock<Arc<dyn MqttBus>>,
    /// The other replicas (none on a single process).
    pub(crate) link: std::sync::OnceLock<Arc<dyn ClusterLink>>,
    pub(crate) waiters: Waiters,
    pub(crate) inbox_backlog: usize,
}

/// The domain facade.
#[derive(Clone)]
pub struct Core {
    pub(crate) inner: Arc<Inner>,
}

impl Core {
    /// Builds the core and its indexes from the store.
    pub async fn start(
        store: Arc<dyn Store>,
        bus: Arc<dyn EventBus>,
        clock: Arc<dyn Clock>,
        settings: CoreSettings,
    ) -> CoreResult<Core> {
        let core = Core {
            inner: Arc::new(Inner {
                store,
                bus,
                clock,
                inbox_backlog: settings.inbox_max_backlog,
                settings,
                orgs: Mutex::new(HashMap::new()),
                ensured: Mutex::new(HashSet::new()),
                mqtt: std::sync::OnceLock::new(),
                link: std::sync::OnceLock::new(),
                waiters: Waiters::default(),
            }),
        };
        core.rebuild_indexes().await?;
        Ok(core)
    }

    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn bus(&self) -> &Arc<dyn EventBus> {
        &self.inner.bus
    }

    pub fn settings(&self) -> &CoreSettings {
        &self.inner.settings
    }

    pub(crate) fn ttl(&self) -> i64 {
        self.inner.settings.online_ttl_secs
    }

    /// The online cutoff at `now`.
    pub(crate) fn online_cutoff(&self, now: Timestamp) -> Timestamp {
        now.trunc_secs().minus_secs(self.ttl())
    }

    pub(crate) fn slot(&self, org: &OrgId) -> Arc<OrgSlot> {
        let mut orgs = self.inner.orgs.lock();
        orgs.entry(org.clone())
            .or_insert_with(|| {
                Arc::new(OrgSlot { write: tokio::sync::Mutex::new(()), index: Mutex::new(OrgIndex::new(self.ttl())) })
            })
            .clone()
    }

    /// Makes sure the caller's org row exists (once per process and org).
    pub(crate) async fn ensure_org(&self, p: &Principal) -> CoreResult<()> {
        if self.inner.ensured.lock().contains(&p.org) {
            return Ok(());
        }
        self.inner.store.ensure_org(&p.org).await?;
        self.inner.ensured.lock().insert(p.org.clone());
        Ok(())
    }

    /// Publishes committed events.
    pub(crate) fn publish(&self, events: &[EventRecord]) {
        if !events.is_empty() {
            self.inner.bus.publish(events);
        }
    }

    /// Connects the other replicas: index changes, inbox wake-ups and waiter supersession are sent to them.
    pub fn attach_link(&self, link: Arc<dyn ClusterLink>) {
        let _ = self.inner.link.set(link);
    }

    pub(crate) fn link(&self) -> Option<&Arc<dyn ClusterLink>> {
        self.inner.link.get()
    }

    /// Applies index changes after their commit (caller holds the org's write lock) and tells the other replicas.
    pub(crate) fn change_index(&self, org: &OrgId, slot: &OrgSlot, changes: Vec<IndexChange>) {
        {
            let mut idx = slot.index.lock();
            for c in &changes {
                c.apply(&mut idx);
            }
        }
        if let Some(link) = self.link() {
            link.index_changed(org, &changes);
        }
    }

    /// Applies index changes another replica made.
    pub fn apply_remote_index(&self, org: &OrgId, changes: &[IndexChange]) {
        let slot = self.slot(org);
        let mut idx = slot.index.lock();
        for c in changes {
            c.apply(&mut idx);
        }
    }

    /// Rebuilds every org's indexes from the store while holding every known org's write lock (after this
    /// replica may have missed index changes of others, e.g. across a Redis outage).
    pub async fn resync_indexes(&self) -> CoreResult<()> {
        let mut slots: Vec<(OrgId, Arc<OrgSlot>)> =
            self.inner.orgs.lock().iter().map(|(o, s)| (o.clone(), s.clone())).collect();
        slots.sort_by(|a, b| a.0.cmp(&b.0));
        let mut guards = Vec::with_capacity(slots.len());
        for (_, s) in &slots {
            guards.push(s.write.lock().await);
        }
        for (_, s) in &slots {
            *s.index.lock() = OrgIndex::new(self.ttl());
        }
        let r = self.rebuild_indexes().await;
        drop(guards);
        r
    }

    /// Rebuilds every org's indexes from the store (boot, resync).
    pub async fn rebuild_indexes(&self) -> CoreResult<()> {
        let now = self.now();
        let snap = self
            .inner
            .store
            .index_snapshot(
                now,
                now.trunc_secs().minus_secs(RESOLVED_WINDOW_SECS),
                now.trunc_secs().minus_secs(ACTIVITY_WINDOW_SECS),
            )
            .await?;
        let mut fresh: HashMap<OrgId, OrgIndex> = HashMap::new();
        let ttl = self.ttl();
        for a in &snap.agents {
            let i = fresh.entry(a.org_id.clone()).or_insert_with(|| OrgIndex::new(ttl));
            let online = a.status == super::agents::AgentStatus::Online;
            i.upsert_agent(&a.id, &a.name, &a.modules, online, a.last_seen_at);
        }
        for t in &snap.threads {
            fresh
                .entry(t.org_id.clone())
                .or_insert_with(|| OrgIndex::new(ttl))
                .upsert_thread(IdxThread::from_thread(t));
        }
        for r in &snap.activity {
            fresh.entry(r.org_id.clone()).or_insert_with(|| OrgIndex::new(ttl)).record_activity(
                &r.agent_id,
                &r.file_path,
                r.created_at,
                r.symbols_touched.clone(),
            );
        }
        for c in &snap.claims {
            fresh.entry(c.org_id.clone()).or_insert_with(|| OrgIndex::new(ttl)).set_claim(
                &c.agent_id,
                &c.file_path,
                Some(c.claim_until),
            );
        }
        let mut deps: HashMap<OrgId, HashMap<String, Vec<String>>> = HashMap::new();
        for (org, m) in &snap.modules {
            deps.entry(org.clone()).or_default().insert(m.module_id.clone(), m.depends_on.clone());
        }
        for (org, d) in deps {
            fresh.entry(org).or_insert_with(|| OrgIndex::new(ttl)).set_dependencies(d);
        }
        for (org, index) in fresh {
            let slot = self.slot(&org);
            *slot.index.lock() = index;
        }
        Ok(())
    }

    /// Forgets index entries that can no longer fire (the 60 s window roll). Runs under each org's write lock
    /// so it never races an announcement that read an earlier `now`.
    pub async fn roll_indexes(&self) {
        let slots: Vec<Arc<OrgSlot>> = self.inner.orgs.lock().values().cloned().collect();
        for s in slots {
            let _w = s.write.lock().await;
            let now = self.now();
            s.index.lock().roll(now);
        }
    }
}
