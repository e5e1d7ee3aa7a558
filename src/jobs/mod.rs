//! Background jobs: the thread-timeout sweeper (30 s), the working-file claim sweeper (60 s), the retention
//! sweeper (60 s) and the scorer window roll. Singleton jobs run only while the `Leader` port says so; each
//! exposes `run_once()` so tests drive them without sleeping.

mod retention;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::core::Core;
use crate::core::ports::Leader;
use crate::lifecycle::Shutdown;

pub use retention::{RetentionStatus, RetentionSweeper};

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
        Ok(self.core.sweep_timeouts().await?)
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
        Ok(self.core.sweep_claims().await?)
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

/// Runs `pass` every `every` while this process leads `job`, until cancelled.
fn spawn_periodic<F, Fut>(shutdown: &Shutdown, leader: &Arc<dyn Leader>, job: &'static str, every: Duration, pass: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<usize>> + Send,
{
    let cancel = shutdown.token();
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
            match pass().await {
                Ok(n) if n > 0 => tracing::info!(component = "jobs", job, rows = n, "job pass"),
                Ok(_) => {}
                Err(e) => tracing::warn!(component = "jobs", job, error = %e, "job pass failed"),
            }
        }
    });
}

/// Starts every background job of a server process.
pub fn spawn_all(
    shutdown: &Shutdown,
    core: &Core,
    leader: Arc<dyn Leader>,
    claim_sweep: Duration,
    retention: Option<RetentionSweeper>,
) {
    let t = TimeoutSweeper { core: core.clone() };
    spawn_periodic(shutdown, &leader, "timeouts", TIMEOUT_SWEEP, move || {
        let t = t.clone();
        async move { t.run_once().await }
    });
    let c = ClaimSweeper { core: core.clone() };
    spawn_periodic(shutdown, &leader, "working-files", claim_sweep, move || {
        let c = c.clone();
        async move { c.run_once().await }
    });
    if let Some(r) = retention {
        spawn_periodic(shutdown, &leader, "retention", RETENTION_SWEEP, move || {
            let r = r.clone();
            async move { r.run_once().await }
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
