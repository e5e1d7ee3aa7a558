//! Fenced writes of singleton jobs (storage.md §2.3): the first statement of a job's transaction records the
//! job's fencing token in `job_fences`, unless a higher one is already there — then the transaction aborts. The
//! upsert takes the row lock, so two leaders' transactions serialise on it and the older token loses.

use sqlx::PgConnection;

use crate::core::ports::{Fence, StoreError, StoreResult};

/// Records `fence` (upsert, only when `fence.token` ≥ the stored token); `StoreError::Fenced` when refused.
pub(super) async fn check(c: &mut PgConnection, fence: Option<&Fence>) -> StoreResult<()> {
    let Some(f) = fence else { return Ok(()) };
    let n = sqlx::query(
        "INSERT INTO job_fences (job, fence, holder, updated_at) VALUES ($1, $2, $3, now()) \
         ON CONFLICT (job) DO UPDATE SET fence = excluded.fence, holder = excluded.holder, \
         updated_at = excluded.updated_at WHERE job_fences.fence <= excluded.fence",
    )
    .bind(&f.job)
    .bind(f.token)
    .bind(&f.holder)
    .execute(&mut *c)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(StoreError::Fenced { job: f.job.clone(), token: f.token });
    }
    Ok(())
}
