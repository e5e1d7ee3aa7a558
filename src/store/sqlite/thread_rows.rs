//! The `threads` row codec: the column list, decoding, insert, the compare-and-set update of every mutable
//! column, and the `thread_files` rows (one per target / depends-on path) that claim conflicts are checked against.

use rusqlite::{Connection, Row, params};

use super::codec::{self, opt_json_text, opt_t1};
use crate::core::ids::{AgentId, OrgId, RunId, ThreadId};
use crate::core::ports::StoreResult;
use crate::core::rows::to_json_text;
use crate::core::threads::{ResolutionType, Thread, ThreadStatus};

/// Every column of `threads`, in `decode` order.
pub(super) const COLS: &str = "id, org_id, initiator_id, subject, plan, target_modules, target_files, \
    depends_on_files, exports_affected, status, resolution_summary, resolution_type, conflicts, round, max_rounds, \
    timeout_seconds, keep_open, created_at, resolved_at, expected_respondents, claimed_by, claimed_at, \
    unclaim_count, assigned_to, run_id";

fn opt_id<T>(row: &Row<'_>, idx: usize, wrap: fn(String) -> T) -> rusqlite::Result<Option<T>> {
    Ok(row.get::<_, Option<String>>(idx)?.map(wrap))
}

/// Decodes a row selected with `COLS`.
pub(super) fn decode(row: &Row<'_>) -> rusqlite::Result<Thread> {
    Ok(Thread {
        id: ThreadId::new(row.get::<_, String>(0)?),
        org_id: OrgId::new(row.get::<_, String>(1)?),
        initiator_id: AgentId::new(row.get::<_, String>(2)?),
        subject: row.get(3)?,
        plan: row.get(4)?,
        target_modules: codec::json(row, 5)?,
        target_files: codec::json(row, 6)?,
        depends_on_files: codec::opt_json(row, 7)?,
        exports_affected: codec::opt_json(row, 8)?,
        status: codec::text_enum(row, 9, ThreadStatus::parse)?,
        resolution_summary: row.get(10)?,
        resolution_type: match row.get::<_, Option<String>>(11)? {
            None => None,
            Some(_) => Some(codec::text_enum(row, 11, ResolutionType::parse)?),
        },
        conflicts: codec::opt_json(row, 12)?,
        round: row.get(13)?,
        max_rounds: row.get(14)?,
        timeout_seconds: row.get(15)?,
        keep_open: row.get(16)?,
        created_at: codec::ts(row, 17)?,
        resolved_at: codec::opt_ts(row, 18)?,
        expected_respondents: codec::json(row, 19)?,
        claimed_by: opt_id(row, 20, AgentId::new)?,
        claimed_at: codec::opt_ts(row, 21)?,
        unclaim_count: row.get(22)?,
        assigned_to: opt_id(row, 23, AgentId::new)?,
        run_id: opt_id(row, 24, RunId::new)?,
    })
}

/// Loads one thread of `org`.
pub(super) fn get(conn: &Connection, org: &OrgId, id: &ThreadId) -> StoreResult<Option<Thread>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLS} FROM threads WHERE id = ?1 AND org_id = ?2"))?;
    let mut rows = stmt.query_map(params![id.as_str(), org.as_str()], decode)?;
    Ok(rows.next().transpose()?)
}

/// Inserts a new thread with its `thread_files` rows.
pub(super) fn insert(conn: &Connection, t: &Thread) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO threads ({COLS}) VALUES \
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, \
         ?24, ?25)"
    ))?
    .execute(params![
        t.id.as_str(),
        t.org_id.as_str(),
        t.initiator_id.as_str(),
        t.subject,
        t.plan,
        to_json_text(&t.target_modules),
        to_json_text(&t.target_files),
        opt_json_text(&t.depends_on_files),
        opt_json_text(&t.exports_affected),
        t.status.as_str(),
        t.resolution_summary,
        t.resolution_type.map(ResolutionType::as_str),
        opt_json_text(&t.conflicts),
        t.round,
        t.max_rounds,
        t.timeout_seconds,
        t.keep_open,
        t.created_at.t1(),
        opt_t1(t.resolved_at),
        to_json_text(&t.expected_respondents),
        t.claimed_by.as_ref().map(AgentId::as_str),
        opt_t1(t.claimed_at),
        t.unclaim_count,
        t.assigned_to.as_ref().map(AgentId::as_str),
        t.run_id.as_ref().map(RunId::as_str),
    ])?;
    let mut files = conn.prepare_cached(
        "INSERT OR IGNORE INTO thread_files (thread_id, kind, file_path, org_id) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for path in &t.target_files {
        files.execute(params![t.id.as_str(), "target", path.as_str(), t.org_id.as_str()])?;
    }
    for path in t.depends_on_files.iter().flatten() {
        files.execute(params![t.id.as_str(), "depends", path.as_str(), t.org_id.as_str()])?;
    }
    Ok(())
}

/// Writes every mutable column of `t` if the stored row still has `old_status` and `old_round`; returns whether
/// it did (compare-and-set).
pub(super) fn update_cas(conn: &Connection, t: &Thread, old_status: ThreadStatus, old_round: i64) -> StoreResult<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE threads SET subject = ?3, plan = ?4, status = ?5, resolution_summary = ?6, resolution_type = ?7, \
             conflicts = ?8, round = ?9, max_rounds = ?10, timeout_seconds = ?11, keep_open = ?12, resolved_at = ?13, \
             expected_respondents = ?14, claimed_by = ?15, claimed_at = ?16, unclaim_count = ?17, assigned_to = ?18 \
             WHERE id = ?1 AND org_id = ?2 AND status = ?19 AND round = ?20",
        )?
        .execute(params![
            t.id.as_str(),
            t.org_id.as_str(),
            t.subject,
            t.plan,
            t.status.as_str(),
            t.resolution_summary,
            t.resolution_type.map(ResolutionType::as_str),
            opt_json_text(&t.conflicts),
            t.round,
            t.max_rounds,
            t.timeout_seconds,
            t.keep_open,
            opt_t1(t.resolved_at),
            to_json_text(&t.expected_respondents),
            t.claimed_by.as_ref().map(AgentId::as_str),
            opt_t1(t.claimed_at),
            t.unclaim_count,
            t.assigned_to.as_ref().map(AgentId::as_str),
            old_status.as_str(),
            old_round,
        ])?;
    Ok(n == 1)
}
