//! `InboxStore` and `RetainedStore` on SQLite: the durable agent inbox (per-agent sequence, bounded backlog,
//! acknowledged batches) and the retained MQTT messages.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use crate::core::ids::{AgentId, OrgId};
use crate::core::ports::{InboxBatch, InboxMessage, InboxStore, RetainedMessage, RetainedStore, StoreResult};
use crate::core::time::Timestamp;

const MSG_COLS: &str = "seq, topic, payload, received_at";

fn message(row: &Row<'_>) -> rusqlite::Result<InboxMessage> {
    let payload: Vec<u8> = row.get(2)?;
    Ok(InboxMessage {
        seq: row.get(0)?,
        topic: row.get(1)?,
        payload: String::from_utf8_lossy(&payload).into_owned(),
        received_at: row.get(3)?,
    })
}

fn undelivered(conn: &Connection, org: &OrgId, agent: &AgentId, limit: i64) -> StoreResult<Vec<InboxMessage>> {
    let sql = format!(
        "SELECT {MSG_COLS} FROM agent_inbox WHERE org_id = ?1 AND agent_id = ?2 AND batch_id IS NULL ORDER BY seq LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![org.as_str(), agent.as_str(), limit], message)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn delete_seqs(conn: &Connection, org: &OrgId, agent: &AgentId, msgs: &[InboxMessage]) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached("DELETE FROM agent_inbox WHERE org_id = ?1 AND agent_id = ?2 AND seq = ?3")?;
    for m in msgs {
        stmt.execute(params![org.as_str(), agent.as_str(), m.seq])?;
    }
    Ok(())
}

fn append(
    conn: &Connection,
    org: &OrgId,
    topic: &str,
    payload: &str,
    at: i64,
    max: usize,
) -> StoreResult<Vec<AgentId>> {
    let agents: Vec<String> = {
        let mut stmt =
            conn.prepare_cached("SELECT agent_id FROM agent_inbox_state WHERE org_id = ?1 ORDER BY agent_id")?;
        let rows = stmt.query_map(params![org.as_str()], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut insert = conn.prepare_cached(
        "INSERT INTO agent_inbox (org_id, agent_id, seq, topic, payload, received_at) \
         SELECT ?1, ?2, COALESCE(MAX(seq), 0) + 1, ?3, ?4, ?5 FROM agent_inbox WHERE org_id = ?1 AND agent_id = ?2",
    )?;
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    for a in &agents {
        insert.execute(params![org.as_str(), a, topic, payload.as_bytes(), at])?;
        let count: i64 = conn
            .prepare_cached("SELECT COUNT(*) FROM agent_inbox WHERE org_id = ?1 AND agent_id = ?2")?
            .query_row(params![org.as_str(), a], |r| r.get(0))?;
        if count > max {
            let dropped = conn.prepare_cached(
                "DELETE FROM agent_inbox WHERE rowid IN (SELECT rowid FROM agent_inbox WHERE org_id = ?1 AND agent_id = ?2 \
                 AND batch_id IS NULL ORDER BY seq LIMIT ?3)",
            )?
            .execute(params![org.as_str(), a, count - max])?;
            conn.prepare_cached(
                "UPDATE agent_inbox_state SET dropped_total = dropped_total + ?3, dropped_unreported = dropped_unreported + ?3 \
                 WHERE org_id = ?1 AND agent_id = ?2",
            )?
            .execute(params![org.as_str(), a, dropped])?;
        }
    }
    Ok(agents.into_iter().map(AgentId::new).collect())
}

fn ack_read(
    conn: &Connection,
    org: &OrgId,
    agent: &AgentId,
    ack: Option<&str>,
    new_id: &str,
) -> StoreResult<InboxBatch> {
    conn.prepare_cached(
        "INSERT INTO agent_inbox_state (org_id, agent_id, subscribed_at, require_ack) VALUES (?1, ?2, ?3, 1) \
         ON CONFLICT (org_id, agent_id) DO UPDATE SET require_ack = 1",
    )?
    .execute(params![org.as_str(), agent.as_str(), Timestamp::default().t1()])?;
    let (open, dropped): (Option<String>, i64) = conn
        .prepare_cached(
            "SELECT open_batch_id, dropped_unreported FROM agent_inbox_state WHERE org_id = ?1 AND agent_id = ?2",
        )?
        .query_row(params![org.as_str(), agent.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mut open = open;
    if let (Some(id), Some(a)) = (&open, ack)
        && id == a
    {
        conn.prepare_cached("DELETE FROM agent_inbox WHERE org_id = ?1 AND agent_id = ?2 AND batch_id = ?3")?
            .execute(params![org.as_str(), agent.as_str(), id])?;
        open = None;
    }
    let batch_id = match open {
        Some(id) => Some(id),
        None => {
            let n = conn
                .prepare_cached(
                    "UPDATE agent_inbox SET batch_id = ?3 WHERE org_id = ?1 AND agent_id = ?2 AND batch_id IS NULL",
                )?
                .execute(params![org.as_str(), agent.as_str(), new_id])?;
            (n > 0).then(|| new_id.to_owned())
        }
    };
    conn.prepare_cached(
        "UPDATE agent_inbox_state SET open_batch_id = ?3, dropped_unreported = 0 WHERE org_id = ?1 AND agent_id = ?2",
    )?
    .execute(params![org.as_str(), agent.as_str(), batch_id])?;
    let messages = match &batch_id {
        Some(id) => {
            let sql = format!(
                "SELECT {MSG_COLS} FROM agent_inbox WHERE org_id = ?1 AND agent_id = ?2 AND batch_id = ?3 ORDER BY seq"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![org.as_str(), agent.as_str(), id], message)?;
            rows.collect::<Result<_, _>>()?
        }
        None => Vec::new(),
    };
    Ok(InboxBatch { messages, batch_id, dropped })
}

#[async_trait]
impl InboxStore for SqliteStore {
    async fn inbox_subscribe(&self, org: &OrgId, agent: &AgentId, now: Timestamp) -> StoreResult<()> {
        let (org, agent) = (org.clone(), agent.clone());
        self.write(move |c| {
            c.prepare_cached(
                "INSERT OR IGNORE INTO agent_inbox_state (org_id, agent_id, subscribed_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![org.as_str(), agent.as_str(), now.t1()])?;
            Ok(())
        })
        .await
    }

    async fn inbox_append(
        &self,
        org: &OrgId,
        topic: &str,
        payload: &str,
        at: i64,
        max: usize,
    ) -> StoreResult<Vec<AgentId>> {
        let (org, topic, payload) = (org.clone(), topic.to_owned(), payload.to_owned());
        self.write(move |c| append(c, &org, &topic, &payload, at, max)).await
    }

    async fn inbox_take_oldest(&self, org: &OrgId, agent: &AgentId) -> StoreResult<Option<(InboxMessage, i64)>> {
        let (org, agent) = (org.clone(), agent.clone());
        self.write(move |c| {
            let Some(m) = undelivered(c, &org, &agent, 1)?.pop() else { return Ok(None) };
            delete_seqs(c, &org, &agent, std::slice::from_ref(&m))?;
            let left: i64 = c
                .prepare_cached(
                    "SELECT COUNT(*) FROM agent_inbox WHERE org_id = ?1 AND agent_id = ?2 AND batch_id IS NULL",
                )?
                .query_row(params![org.as_str(), agent.as_str()], |r| r.get(0))?;
            Ok(Some((m, left)))
        })
        .await
    }

    async fn inbox_drain(&self, org: &OrgId, agent: &AgentId) -> StoreResult<Vec<InboxMessage>> {
        let (org, agent) = (org.clone(), agent.clone());
        self.write(move |c| {
            let all = undelivered(c, &org, &agent, i64::MAX)?;
            delete_seqs(c, &org, &agent, &all)?;
            Ok(all)
        })
        .await
    }

    async fn inbox_ack_read(
        &self,
        org: &OrgId,
        agent: &AgentId,
        ack: Option<&str>,
        new_id: &str,
    ) -> StoreResult<InboxBatch> {
        let (org, agent, ack, new_id) = (org.clone(), agent.clone(), ack.map(str::to_owned), new_id.to_owned());
        self.write(move |c| ack_read(c, &org, &agent, ack.as_deref(), &new_id)).await
    }

    async fn inbox_ack_mode(&self, org: &OrgId, agent: &AgentId) -> StoreResult<bool> {
        let (org, agent) = (org.clone(), agent.clone());
        self.read(move |c| {
            let v: Option<bool> = c
                .prepare_cached("SELECT require_ack FROM agent_inbox_state WHERE org_id = ?1 AND agent_id = ?2")?
                .query_row(params![org.as_str(), agent.as_str()], |r| r.get(0))
                .optional()?;
            Ok(v.unwrap_or(false))
        })
        .await
    }
}

#[async_trait]
impl RetainedStore for SqliteStore {
    async fn set_retained(&self, msg: &RetainedMessage, now: Timestamp, cap: usize) -> StoreResult<bool> {
        let msg = msg.clone();
        self.write(move |c| {
            if msg.payload.is_empty() {
                c.prepare_cached("DELETE FROM mqtt_retained WHERE org_id = ?1 AND topic = ?2")?
                    .execute(params![msg.org.as_str(), msg.topic])?;
                return Ok(true);
            }
            let exists: bool = c
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM mqtt_retained WHERE org_id = ?1 AND topic = ?2)")?
                .query_row(params![msg.org.as_str(), msg.topic], |r| r.get(0))?;
            if !exists {
                let n: i64 = c
                    .prepare_cached("SELECT COUNT(*) FROM mqtt_retained WHERE org_id = ?1")?
                    .query_row(params![msg.org.as_str()], |r| r.get(0))?;
                if usize::try_from(n).unwrap_or(usize::MAX) >= cap {
                    return Ok(false);
                }
            }
            c.prepare_cached(
                "INSERT INTO mqtt_retained (org_id, topic, payload, qos, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (org_id, topic) DO UPDATE SET payload = excluded.payload, qos = excluded.qos, \
                 updated_at = excluded.updated_at",
            )?
            .execute(params![msg.org.as_str(), msg.topic, msg.payload, msg.qos, now.t1()])?;
            Ok(true)
        })
        .await
    }

    async fn list_retained(&self) -> StoreResult<Vec<RetainedMessage>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT org_id, topic, payload, qos FROM mqtt_retained ORDER BY org_id, topic")?;
            let rows = stmt.query_map([], |r| {
                Ok(RetainedMessage {
                    org: OrgId::new(r.get::<_, String>(0)?),
                    topic: r.get(1)?,
                    payload: r.get(2)?,
                    qos: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}
