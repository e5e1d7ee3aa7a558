//! The event log: every write that carries `DomainEvent`s inserts them in its own transaction, numbered from the
//! org's `org_sequences` row. The single upsert-and-return both allocates the block of numbers and takes the write
//! lock on that row, so numbers are gapless and in commit order.

use rusqlite::{Connection, Row, params};
use serde_json::{Map, Value};

use super::codec;
use crate::core::events::{DomainEvent, EventRecord};
use crate::core::ids::OrgId;
use crate::core::ports::StoreResult;
use crate::core::rows::to_json_text;
use crate::core::time::Timestamp;

/// Inserts `events` for `org` at `now` and returns them as records (times at T1 precision, as stored).
pub(super) fn insert(
    conn: &Connection,
    org: &OrgId,
    events: &[DomainEvent],
    now: Timestamp,
) -> StoreResult<Vec<EventRecord>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let n = i64::try_from(events.len()).unwrap_or(i64::MAX);
    let last: i64 = conn
        .prepare_cached(
            "INSERT INTO org_sequences (org_id, event_seq) VALUES (?1, ?2) \
             ON CONFLICT (org_id) DO UPDATE SET event_seq = event_seq + ?2 RETURNING event_seq",
        )?
        .query_row(params![org.as_str(), n], |r| r.get(0))?;
    let created_at = now.trunc_secs();
    let t1 = created_at.t1();
    let mut stmt =
        conn.prepare_cached("INSERT INTO events (org_id, seq, type, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    let mut out = Vec::with_capacity(events.len());
    for (seq, event) in (last - n + 1..).zip(events) {
        let payload = event.payload(org);
        stmt.execute(params![org.as_str(), seq, event.kind(), to_json_text(&payload), t1])?;
        out.push(EventRecord { org: org.clone(), seq, kind: event.kind().to_owned(), payload, created_at });
    }
    Ok(out)
}

fn record(row: &Row<'_>) -> rusqlite::Result<EventRecord> {
    let payload: Map<String, Value> = codec::json(row, 3)?;
    Ok(EventRecord {
        org: OrgId::new(row.get::<_, String>(0)?),
        seq: row.get(1)?,
        kind: row.get(2)?,
        payload,
        created_at: codec::ts(row, 4)?,
    })
}

/// Events of `org` with `seq > after`, ascending.
pub(super) fn after(conn: &Connection, org: &OrgId, after: i64, limit: usize) -> StoreResult<Vec<EventRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT org_id, seq, type, payload, created_at FROM events \
         WHERE org_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![org.as_str(), after, codec::limit(limit)], record)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The last `limit` events of `org`, ascending.
pub(super) fn latest(conn: &Connection, org: &OrgId, limit: usize) -> StoreResult<Vec<EventRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT org_id, seq, type, payload, created_at FROM \
         (SELECT org_id, seq, type, payload, created_at FROM events WHERE org_id = ?1 ORDER BY seq DESC LIMIT ?2) \
         ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![org.as_str(), codec::limit(limit)], record)?;
    Ok(rows.collect::<Result<_, _>>()?)
}
