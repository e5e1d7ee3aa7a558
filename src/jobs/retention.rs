//! Retention sweeper (storage.md §4): batches of 1 000, up to 3 chained passes per table while a pass deletes a
//! full batch; 5 consecutive failures open a circuit breaker retried half-open every 15 minutes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::config::Retention;
use crate::core::Core;
use crate::core::ports::{Fence, RetainedTable, StoreError};

pub const BATCH: usize = 1_000;
pub const MAX_PASSES: usize = 3;
pub const BREAKER_AT: u32 = 5;
pub const HALF_OPEN_AFTER: Duration = Duration::from_secs(15 * 60);

/// Observable state of the sweeper (health endpoints).
#[derive(Debug, Clone, Default)]
pub struct RetentionStatus {
    pub consecutive_failures: u32,
    pub circuit_open: bool,
    pub last_error: Option<String>,
    opened_at: Option<Instant>,
}

/// Deletes coordination rows past their retention.
#[derive(Clone)]
pub struct RetentionSweeper {
    core: Core,
    days: Retention,
    status: Arc<Mutex<RetentionStatus>>,
}

impl RetentionSweeper {
    pub fn new(core: Core, days: Retention) -> Self {
        Self { core, days, status: Arc::new(Mutex::new(RetentionStatus::default())) }
    }

    pub fn status(&self) -> RetentionStatus {
        self.status.lock().clone()
    }

    fn days(&self, t: RetainedTable) -> i64 {
        match t {
            RetainedTable::FileActivity => self.days.file_activity_days,
            RetainedTable::Events => self.days.events_days,
            RetainedTable::ThreadMessages => self.days.thread_messages_days,
            RetainedTable::ActionSummaries => self.days.action_summaries_days,
            RetainedTable::LayerFirings => self.days.layer_firings_days,
        }
    }

    /// One sweep over every table; returns the rows deleted. Skipped while the breaker is open.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        self.run_fenced(None).await
    }

    /// `run_once` with the `retention` lease's fence on every purge. A refused fence (a newer leader exists) ends
    /// the pass without counting as a failure of the breaker.
    pub async fn run_fenced(&self, fence: Option<&Fence>) -> anyhow::Result<usize> {
        {
            let s = self.status.lock();
            if s.circuit_open && s.opened_at.is_some_and(|t| t.elapsed() < HALF_OPEN_AFTER) {
                return Ok(0);
            }
        }
        match self.sweep(fence).await {
            Err(StoreError::Fenced { job, token }) => Err(StoreError::Fenced { job, token }.into()),
            Ok(n) => {
                *self.status.lock() = RetentionStatus::default();
                Ok(n)
            }
            Err(e) => {
                let mut s = self.status.lock();
                s.consecutive_failures += 1;
                s.last_error = Some(e.to_string());
                if s.consecutive_failures >= BREAKER_AT {
                    if !s.circuit_open {
                        tracing::error!(component = "retention", error = %e, "retention circuit breaker opened");
                    }
                    s.circuit_open = true;
                    s.opened_at = Some(Instant::now());
                }
                Err(e.into())
            }
        }
    }

    async fn sweep(&self, fence: Option<&Fence>) -> Result<usize, StoreError> {
        let now = self.core.now();
        let mut total = 0;
        for table in RetainedTable::ALL {
            let cutoff = now.minus_secs(self.days(table) * 86_400);
            for _ in 0..MAX_PASSES {
                let n = self.core.store().purge(table, cutoff, BATCH, fence).await?;
                total += n;
                if n < BATCH {
                    break;
                }
            }
        }
        Ok(total)
    }
}
