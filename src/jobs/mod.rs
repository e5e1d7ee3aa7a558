//! Background jobs: the thread-timeout sweeper (30 s), the working-file claim sweeper (60 s), the retention
//! sweeper (60 s) and the scorer window roll. Singleton jobs run only while the `Leader` port says so; each
//! exposes `run_once()` so tests drive them without sleeping. Under a lease every pass carries the lease's fencing
//! token (`run_fenced`), so a former leader that lost its lease cannot write (storage.md §2.3).

mod retention;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::core::Core;
use crate::core::error::CoreError;
use crate::core::ports::{Fence, Leader, StoreError};
use crate::lifecycle::Shutdown;

pub use retention::{RetentionStatus, RetentionSweeper};

/// Lease names of the singleton jobs (threads.md §6).
pub const JOB_TIMEOUTS: &str = "timeouts";
pub const JOB_WORKING_FILES: &str = "working-files";
pub const JOB_RETENTION: &str = "retention";
/// Every singleton job a server leads through a lease.
pub const SINGLETON_JOBS: [&str; 3] = [JOB_TIMEOUTS, JOB_WORKING_FILES, JOB_RETENTION];

/// Interval of the thread-timeout sweeper.
pub const TIMEOUT_SWEEP: Duration = Duration::from_secs(30);
/// Interval of the retention sweeper.
pub const RETENTION_SWEEP: Duration = Duration::from_secs(60);
/// Interval of the scorer window roll.
pub const INDEX_ROLL: Duration = Duration::from_secs(60);

/// Resolves open/resolving threads past their deadline.
#[derive(Clone)]
pub struct TimeoutSweeper {
    pub core: Core,
}

impl TimeoutSweeper {
    /// One pass; returns the threads resolved.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        self.run_fenced(None).await
    }

    /// One pass fenced by the `timeouts` lease.
    pub async fn run_fenced(&self, fence: Option<&Fence>) -> anyhow::Result<usize> {
        Ok(self.core.sweep_timeouts(fence).await?)
    }
}

/// Deletes expired working-file claims.
#[derive(Clone)]
pub struct ClaimSweeper {
    pub core: Core,
}

impl ClaimSweeper {
    /// One pass; returns the claims removed.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        self.run_fenced(None).await
    }

    /// One pass fenced by the `working-files` lease.
    pub async fn run_fenced(&self, fence: Option<&Fence>) -> anyhow::Result<usize> {
        Ok(self.core.sweep_claims(fence).await?)
    }
}

/// Waits until `leader` is true (or cancellation); false on cancellation.
async fn await_leadership(leader: &mut watch::Receiver<bool>, cancel: &CancellationToken) -> bool {
    loop {
        if *leader.borrow_and_update() {
            return true;
        }
        tokio::select! {
            _ = cancel.cancelled() => return false,
            changed = leader.changed() => if changed.is_err() { return *leader.borrow() },
        }
    }
}

/// Runs `pass` every `every` while this process leads `job`, until cancelled. Each pass gets the job's current
/// fence; when the leader cannot vouch for one (lease lost or unconfirmed), the pass is skipped.
fn spawn_periodic<F, Fut>(shutdown: &Shutdown, leader: &Arc<dyn Leader>, job: &'static str, every: Duration, pass: F)
where
    F: Fn(Option<Fence>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<usize>> + Send,
{
    let cancel = shutdown.token();
    let leader = Arc::clone(leader);
    let mut lead = leader.watch(job);
    shutdown.spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if !await_leadership(&mut lead, &cancel).await {
                return;
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            if !*lead.borrow() {
                continue;
            }
            let Ok(fence) = leader.fence(job) else { continue };
            match pass(fence).await {
                Ok(n) if n > 0 => tracing::info!(component = "jobs", job, rows = n, "job pass"),
                Ok(_) => {}
                Err(e) if is_fenced(&e) => {
                    tracing::warn!(component = "jobs", job, error = %e, "a newer leader holds the job; pass stopped")
                }
                Err(e) => tracing::warn!(component = "jobs", job, error = %e, "job pass failed"),
            }
        }
    });
}

/// Whether a job error is a refused fence (a newer leader exists).
fn is_fenced(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<StoreError>().is_some_and(StoreError::is_fenced)
            || matches!(c.downcast_ref::<CoreError>(), Some(CoreError::Store(s)) if s.is_fenced())
    })
}

/// Intervals of the periodic jobs (the timeout sweep is 30 s in production; tests shorten it).
#[derive(Debug, Clone, Copy)]
pub struct Intervals {
    pub timeouts: Duration,
    pub working_files: Duration,
}

/// Starts every background job of a server process.
pub fn spawn_all(
    shutdown: &Shutdown,
    core: &Core,
    leader: Arc<dyn Leader>,
    every: Intervals,
    retention: Option<RetentionSweeper>,
) {
    let (timeout_sweep, claim_sweep) = (every.timeouts, every.working_files);
    let t = TimeoutSweeper { core: core.clone() };
    spawn_periodic(shutdown, &leader, JOB_TIMEOUTS, timeout_sweep, move |f| {
        let t = t.clone();
        async move { t.run_fenced(f.as_ref()).await }
    });
    let c = ClaimSweeper { core: core.clone() };
    spawn_periodic(shutdown, &leader, JOB_WORKING_FILES, claim_sweep, move |f| {
        let c = c.clone();
        async move { c.run_fenced(f.as_ref()).await }
    });
    if let Some(r) = retention {
        spawn_periodic(shutdown, &leader, JOB_RETENTION, RETENTION_SWEEP, move |f| {
            let r = r.clone();
            async move { r.run_fenced(f.as_ref()).await }
        });
    }
    let roll = core.clone();
    let cancel = shutdown.token();
    shutdown.spawn(async move {
        let mut tick = tokio::time::interval(INDEX_ROLL);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => roll.roll_indexes().await,
            }
        }
    });
}
