//! The `threads` row codec: the column list, decoding, insert, the compare-and-set update of every mutable
//! column, and the `thread_files` rows (one per target / depends-on path) that claim conflicts are checked against.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::codec::{self, opt_json_text};
use crate::core::ids::{AgentId, OrgId, RunId, ThreadId};
use crate::core::ports::StoreResult;
use crate::core::rows::to_json_text;
use crate::core::threads::{ResolutionType, Thread, ThreadStatus};

/// Every column of `threads`, in `decode` order.
macro_rules! thread_cols {
    () => {
        "id, org_id, initiator_id, subject, plan, target_modules, target_files, depends_on_files, exports_affected, \
         status, resolution_summary, resolution_type, conflicts, round, max_rounds, timeout_seconds, keep_open, \
         created_at, resolved_at, expected_respondents, claimed_by, claimed_at, unclaim_count, assigned_to, run_id"
    };
}
pub(super) use thread_cols;

fn opt_id<T>(row: &PgRow, idx: usize, wrap: fn(String) -> T) -> StoreResult<Option<T>> {
    Ok(row.try_get::<Option<String>, _>(idx)?.map(wrap))
}

/// Decodes a row selected with `thread_cols!()`.
pub(super) fn decode(row: &PgRow) -> StoreResult<Thread> {
    Ok(Thread {
        id: ThreadId::new(row.try_get::<String, _>(0)?),
        org_id: OrgId::new(row.try_get::<String, _>(1)?),
        initiator_id: AgentId::new(row.try_get::<String, _>(2)?),
        subject: row.try_get(3)?,
        plan: row.try_get(4)?,
        target_modules: codec::json(row, 5)?,
        target_files: codec::json(row, 6)?,
        depends_on_files: codec::opt_json(row, 7)?,
        exports_affected: codec::opt_json(row, 8)?,
        status: codec::text_enum(row, 9, ThreadStatus::parse)?,
        resolution_summary: row.try_get(10)?,
        resolution_type: match row.try_get::<Option<String>, _>(11)? {
            None => None,
            Some(_) => Some(codec::text_enum(row, 11, ResolutionType::parse)?),
        },
        conflicts: codec::opt_json(row, 12)?,
        round: row.try_get(13)?,
        max_rounds: row.try_get(14)?,
        timeout_seconds: row.try_get(15)?,
        keep_open: row.try_get(16)?,
        created_at: codec::ts(row, 17)?,
        resolved_at: codec::opt_ts(row, 18)?,
        expected_respondents: codec::json(row, 19)?,
        claimed_by: opt_id(row, 20, AgentId::new)?,
        claimed_at: codec::opt_ts(row, 21)?,
        unclaim_count: row.try_get(22)?,
        assigned_to: opt_id(row, 23, AgentId::new)?,
        run_id: opt_id(row, 24, RunId::new)?,
    })
}

/// Loads one thread of `org`.
pub(super) async fn get(c: &mut PgConnection, org: &OrgId, id: &ThreadId) -> StoreResult<Option<Thread>> {
    let row = sqlx::query(concat!("SELECT ", thread_cols!(), " FROM threads WHERE id = $1 AND org_id = $2"))
        .bind(id.as_str())
        .bind(org.as_str())
        .fetch_optional(&mut *c)
        .await?;
    row.as_ref().map(decode).transpose()
}

/// Loads one thread of `org` and row-locks it until the transaction ends: a decision taken on it cannot be
/// overtaken by a concurrent writer (which waits here and then sees the committed row).
pub(super) async fn get_for_update(c: &mut PgConnection, org: &OrgId, id: &ThreadId) -> StoreResult<Option<Thread>> {
    let row = sqlx::query(concat!("SELECT ", thread_cols!(), " FROM threads WHERE id = $1 AND org_id = $2 FOR UPDATE"))
        .bind(id.as_str())
        .bind(org.as_str())
        .fetch_optional(&mut *c)
        .await?;
    row.as_ref().map(decode).transpose()
}

/// Inserts a new thread with its `thread_files` rows.
pub(super) async fn insert(c: &mut PgConnection, t: &Thread) -> StoreResult<()> {
    sqlx::query(concat!(
        "INSERT INTO threads (",
        thread_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, \
         $22, $23, $24, $25)"
    ))
    .bind(t.id.as_str())
    .bind(t.org_id.as_str())
    .bind(t.initiator_id.as_str())
    .bind(&t.subject)
    .bind(&t.plan)
    .bind(to_json_text(&t.target_modules))
    .bind(to_json_text(&t.target_files))
    .bind(opt_json_text(&t.depends_on_files))
    .bind(opt_json_text(&t.exports_affected))
    .bind(t.status.as_str())
    .bind(&t.resolution_summary)
    .bind(t.resolution_type.map(ResolutionType::as_str))
    .bind(opt_json_text(&t.conflicts))
    .bind(t.round)
    .bind(t.max_rounds)
    .bind(t.timeout_seconds)
    .bind(t.keep_open)
    .bind(codec::t1(t.created_at))
    .bind(codec::opt_t1(t.resolved_at))
    .bind(to_json_text(&t.expected_respondents))
    .bind(t.claimed_by.as_ref().map(AgentId::as_str))
    .bind(codec::opt_t1(t.claimed_at))
    .bind(t.unclaim_count)
    .bind(t.assigned_to.as_ref().map(AgentId::as_str))
    .bind(t.run_id.as_ref().map(RunId::as_str))
    .execute(&mut *c)
    .await?;
    let mut kinds = Vec::new();
    let mut files = Vec::new();
    for path in &t.target_files {
        kinds.push("target");
        files.push(path.as_str().to_owned());
    }
    for path in t.depends_on_files.iter().flatten() {
        kinds.push("depends");
        files.push(path.as_str().to_owned());
    }
    if !files.is_empty() {
        sqlx::query(
            "INSERT INTO thread_files (thread_id, kind, file_path, org_id) \
             SELECT $1, f.kind, f.path, $4 FROM UNNEST($2::text[], $3::text[]) AS f(kind, path) \
             ON CONFLICT DO NOTHING",
        )
        .bind(t.id.as_str())
        .bind(kinds)
        .bind(files)
        .bind(t.org_id.as_str())
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

/// Writes every mutable column of `t` if the stored row still has `old_status` and `old_round`; returns whether
/// it did (compare-and-set).
pub(super) async fn update_cas(
    c: &mut PgConnection,
    t: &Thread,
    old_status: ThreadStatus,
    old_round: i64,
) -> StoreResult<bool> {
    let n = sqlx::query(
        "UPDATE threads SET subject = $3, plan = $4, status = $5, resolution_summary = $6, resolution_type = $7, \
         conflicts = $8, round = $9, max_rounds = $10, timeout_seconds = $11, keep_open = $12, resolved_at = $13, \
         expected_respondents = $14, claimed_by = $15, claimed_at = $16, unclaim_count = $17, assigned_to = $18 \
         WHERE id = $1 AND org_id = $2 AND status = $19 AND round = $20",
    )
    .bind(t.id.as_str())
    .bind(t.org_id.as_str())
    .bind(&t.subject)
    .bind(&t.plan)
    .bind(t.status.as_str())
    .bind(&t.resolution_summary)
    .bind(t.resolution_type.map(ResolutionType::as_str))
    .bind(opt_json_text(&t.conflicts))
    .bind(t.round)
    .bind(t.max_rounds)
    .bind(t.timeout_seconds)
    .bind(t.keep_open)
    .bind(codec::opt_t1(t.resolved_at))
    .bind(to_json_text(&t.expected_respondents))
    .bind(t.claimed_by.as_ref().map(AgentId::as_str))
    .bind(codec::opt_t1(t.claimed_at))
    .bind(t.unclaim_count)
    .bind(t.assigned_to.as_ref().map(AgentId::as_str))
    .bind(old_status.as_str())
    .bind(old_round)
    .execute(&mut *c)
    .await?
    .rows_affected();
    Ok(n == 1)
}
