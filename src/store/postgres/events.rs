//! The event log: every write that carries `DomainEvent`s inserts them in its own transaction, numbered from the
//! org's `org_sequences` row. The upsert-and-return both allocates the block of numbers and row-locks that row
//! until commit, so numbers are gapless and in commit order; the events go in with one multi-row insert.

use serde_json::{Map, Value};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::codec;
use crate::core::events::{DomainEvent, EventRecord};
use crate::core::ids::OrgId;
use crate::core::ports::StoreResult;
use crate::core::rows::to_json_text;
use crate::core::time::Timestamp;

/// Inserts `events` for `org` at `now` and returns them as records (times at T1 precision, as stored).
pub(super) async fn insert(
    c: &mut PgConnection,
    org: &OrgId,
    events: &[DomainEvent],
    now: Timestamp,
) -> StoreResult<Vec<EventRecord>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let n = i64::try_from(events.len()).unwrap_or(i64::MAX);
    let last: i64 = sqlx::query_scalar(
        "INSERT INTO org_sequences (org_id, event_seq) VALUES ($1, $2) ON CONFLICT (org_id) \
         DO UPDATE SET event_seq = org_sequences.event_seq + excluded.event_seq RETURNING event_seq",
    )
    .bind(org.as_str())
    .bind(n)
    .fetch_one(&mut *c)
    .await?;
    let created_at = now.trunc_secs();
    let mut out = Vec::with_capacity(events.len());
    let mut batch = Batch::default();
    for (seq, event) in (last - n + 1..).zip(events) {
        let payload = event.payload(org);
        let text = to_json_text(&payload);
        if !batch.seqs.is_empty() && batch.bytes + text.len() > BATCH_BYTES {
            batch.insert(c, org, created_at).await?;
        }
        batch.push(seq, event.kind(), text);
        out.push(EventRecord { org: org.clone(), seq, kind: event.kind().to_owned(), payload, created_at });
    }
    batch.insert(c, org, created_at).await?;
    Ok(out)
}

/// Payload bytes per multi-row insert. sqlx writes a statement with one `write` and never sets `TCP_NODELAY`; a
/// message larger than the socket's send buffer goes out in two writes, and the second one then waits for the
/// server's delayed ACK (~40 ms, measured: docs/benchmarks-replicas.md). Smaller statements cost one round trip
/// each (~0.15 ms) instead.
const BATCH_BYTES: usize = 6 * 1024;

#[derive(Default)]
struct Batch {
    seqs: Vec<i64>,
    kinds: Vec<String>,
    payloads: Vec<String>,
    bytes: usize,
}

impl Batch {
    fn push(&mut self, seq: i64, kind: &str, payload: String) {
        self.bytes += payload.len();
        self.seqs.push(seq);
        self.kinds.push(kind.to_owned());
        self.payloads.push(payload);
    }

    /// Inserts the batch (if any) and empties it.
    async fn insert(&mut self, c: &mut PgConnection, org: &OrgId, created_at: Timestamp) -> StoreResult<()> {
        if self.seqs.is_empty() {
            return Ok(());
        }
        let b = std::mem::take(self);
        sqlx::query(
            "INSERT INTO events (org_id, seq, type, payload, created_at) \
             SELECT $1, e.seq, e.kind, e.payload, $5 FROM UNNEST($2::bigint[], $3::text[], $4::text[]) AS e(seq, kind, payload)",
        )
        .bind(org.as_str())
        .bind(b.seqs)
        .bind(b.kinds)
        .bind(b.payloads)
        .bind(codec::ms(created_at))
        .execute(&mut *c)
        .await?;
        Ok(())
    }
}

fn record(row: &PgRow) -> StoreResult<EventRecord> {
    let payload: Map<String, Value> = codec::json(row, 3)?;
    Ok(EventRecord {
        org: OrgId::new(row.try_get::<String, _>(0)?),
        seq: row.try_get(1)?,
        kind: row.try_get(2)?,
        payload,
        created_at: codec::ts(row, 4)?,
    })
}

/// Events of `org` with `seq > after`, ascending.
pub(super) async fn after(
    c: &mut PgConnection,
    org: &OrgId,
    after: i64,
    limit: usize,
) -> StoreResult<Vec<EventRecord>> {
    let rows = sqlx::query(
        "SELECT org_id, seq, type, payload, created_at FROM events \
         WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(org.as_str())
    .bind(after)
    .bind(codec::limit(limit))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(record).collect()
}

/// The last `limit` events of `org`, ascending.
pub(super) async fn latest(c: &mut PgConnection, org: &OrgId, limit: usize) -> StoreResult<Vec<EventRecord>> {
    let rows = sqlx::query(
        "SELECT org_id, seq, type, payload, created_at FROM \
         (SELECT org_id, seq, type, payload, created_at FROM events WHERE org_id = $1 ORDER BY seq DESC LIMIT $2) last \
         ORDER BY seq",
    )
    .bind(org.as_str())
    .bind(codec::limit(limit))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(record).collect()
}
