//! Status reads: `coordinator_status` and `wait_for_peers`. Both cost O(online agents + live threads), never
//! O(history).

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::agents::Peer;
use super::error::CoreResult;
use super::facade::Core;
use super::ids::AgentId;
use super::principal::Principal;
use super::threads::ThreadStatus;

/// Longest accepted wait, in seconds.
pub const MAX_WAIT_SECS: u64 = 300;

/// `{id, name, modules}` of an online agent.
#[derive(Debug, Clone, Serialize)]
pub struct OnlineAgent {
    pub id: String,
    pub name: String,
    pub modules: Vec<String>,
}

/// The result of `coordinator_status`.
#[derive(Debug, Clone, Serialize)]
pub struct CoordinatorStatus {
    pub agents_online: usize,
    pub agents: Vec<OnlineAgent>,
    pub open_threads: usize,
    pub resolving_threads: usize,
    pub hot_files: usize,
    pub mqtt_connected: bool,
}

/// The result of `wait_for_peers`.
#[derive(Debug, Clone, Serialize)]
pub struct PeersReady {
    pub ready: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub timeout: bool,
    pub online_peers: Vec<Peer>,
    pub waited_ms: u64,
}

impl Core {
    /// `coordinator_status`; `mqtt_connected` is supplied by the host (bus state).
    pub async fn coordinator_status(&self, p: &Principal, mqtt_connected: bool) -> CoreResult<CoordinatorStatus> {
        let online = self.inner.store.list_online(&p.org, self.online_cutoff(self.now())).await?;
        let (open, resolving) = {
            let slot = self.slot(&p.org);
            let idx = slot.index.lock();
            let count = |s: ThreadStatus| idx.threads.values().filter(|t| t.status == s).count();
            (count(ThreadStatus::Open), count(ThreadStatus::Resolving))
        };
        let hot = self.hot_files(p, None).await?.len();
        Ok(CoordinatorStatus {
            agents_online: online.len(),
            agents: online
                .into_iter()
                .map(|a| OnlineAgent { id: a.id.to_string(), name: a.name, modules: a.modules })
                .collect(),
            open_threads: open,
            resolving_threads: resolving,
            hot_files: hot,
            mqtt_connected,
        })
    }

    /// `wait_for_peers`: re-checks every second (and on any event) until `min_peers` others are online.
    pub async fn wait_for_peers(
        &self,
        p: &Principal,
        agent_id: &str,
        min_peers: usize,
        timeout_secs: u64,
        cancel: &CancellationToken,
    ) -> CoreResult<PeersReady> {
        let agent = AgentId::parse("agent_id", agent_id)?;
        let started = Instant::now();
        let deadline = started + Duration::from_secs(timeout_secs.min(MAX_WAIT_SECS));
        let mut events = self.inner.bus.subscribe();
        loop {
            let peers = self.online_peers(p, Some(&agent)).await?;
            let waited_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            if peers.len() >= min_peers {
                return Ok(PeersReady { ready: true, timeout: false, online_peers: peers, waited_ms });
            }
            let now = Instant::now();
            if now >= deadline || cancel.is_cancelled() {
                return Ok(PeersReady { ready: false, timeout: true, online_peers: peers, waited_ms });
            }
            let tick = (deadline - now).min(Duration::from_secs(1));
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = tokio::time::sleep(tick) => {}
                _ = events.recv() => {}
            }
        }
    }
}
