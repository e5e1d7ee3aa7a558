//! Fenced writes of singleton jobs (storage.md §2.3): the first statement of a job's transaction records the
//! job's fencing token in `job_fences`, unless a higher one is already there — then the transaction aborts.

use rusqlite::{Connection, params};

use crate::core::ports::{Fence, StoreError, StoreResult};

/// Records `fence` (upsert, only when `fence.token` ≥ the stored token); `StoreError::Fenced` when refused.
pub(super) fn check(conn: &Connection, fence: Option<&Fence>) -> StoreResult<()> {
    let Some(f) = fence else { return Ok(()) };
    let n = conn
        .prepare_cached(
            "INSERT INTO job_fences (job, fence, holder, updated_at) VALUES (?1, ?2, ?3, datetime('now')) \
             ON CONFLICT (job) DO UPDATE SET fence = excluded.fence, holder = excluded.holder, \
             updated_at = excluded.updated_at WHERE job_fences.fence <= excluded.fence",
        )?
        .execute(params![f.job, f.token, f.holder])?;
    if n == 0 {
        return Err(StoreError::Fenced { job: f.job.clone(), token: f.token });
    }
    Ok(())
}
