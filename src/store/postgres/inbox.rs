//! `InboxStore` and `RetainedStore` on Postgres: the durable agent inbox (per-agent sequence, bounded backlog,
//! acknowledged batches) and the retained MQTT messages. Writers of one agent's inbox are serialised by the row
//! lock on its `agent_inbox_state` row (an append locks every subscriber's row of the org, in `agent_id` order),
//! so per-agent sequence numbers never collide; retained writes of one org take a transaction advisory lock so
//! the per-org cap holds under concurrency.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::{PgStore, codec, in_tx};
use crate::core::ids::{AgentId, OrgId};
use crate::core::ports::{
    InboxBatch, InboxMessage, InboxStore, RetainedMessage, RetainedStore, StoreError, StoreResult,
};
use crate::core::time::Timestamp;

fn message(row: &PgRow) -> StoreResult<InboxMessage> {
    let payload: Vec<u8> = row.try_get(2)?;
    Ok(InboxMessage {
        seq: row.try_get(0)?,
        topic: row.try_get(1)?,
        payload: String::from_utf8_lossy(&payload).into_owned(),
        received_at: row.try_get(3)?,
    })
}

/// Locks the agent's inbox state row (if it has one) until the transaction ends.
async fn lock_agent(c: &mut PgConnection, org: &OrgId, agent: &AgentId) -> StoreResult<()> {
    sqlx::query("SELECT 1 FROM agent_inbox_state WHERE org_id = $1 AND agent_id = $2 FOR UPDATE")
        .bind(org.as_str())
        .bind(agent.as_str())
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// One message to every subscriber of the org (one multi-row insert), then the backlog bound: per agent over
/// `max` messages, the oldest outside an open batch are dropped and counted.
async fn append(
    c: &mut PgConnection,
    org: &OrgId,
    topic: &str,
    payload: &str,
    at: i64,
    max: usize,
) -> StoreResult<Vec<AgentId>> {
    let agents: Vec<String> =
        sqlx::query_scalar("SELECT agent_id FROM agent_inbox_state WHERE org_id = $1 ORDER BY agent_id FOR UPDATE")
            .bind(org.as_str())
            .fetch_all(&mut *c)
            .await?;
    if agents.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query(
        "INSERT INTO agent_inbox (org_id, agent_id, seq, topic, payload, received_at) \
         SELECT $1, a.agent_id, COALESCE((SELECT MAX(i.seq) FROM agent_inbox i \
             WHERE i.org_id = $1 AND i.agent_id = a.agent_id), 0) + 1, $3, $4, $5 \
         FROM UNNEST($2::text[]) AS a(agent_id)",
    )
    .bind(org.as_str())
    .bind(&agents)
    .bind(topic)
    .bind(payload.as_bytes())
    .bind(at)
    .execute(&mut *c)
    .await?;
    sqlx::query(
        "WITH counts AS (SELECT agent_id, count(*) AS n FROM agent_inbox \
             WHERE org_id = $1 AND agent_id = ANY($2) GROUP BY agent_id HAVING count(*) > $3), \
         victims AS (SELECT u.agent_id, u.seq FROM (SELECT agent_id, seq, \
                 row_number() OVER (PARTITION BY agent_id ORDER BY seq) AS rn \
                 FROM agent_inbox WHERE org_id = $1 AND batch_id IS NULL AND agent_id IN (SELECT agent_id FROM counts)) u \
             JOIN counts ON counts.agent_id = u.agent_id WHERE u.rn <= counts.n - $3), \
         dropped AS (DELETE FROM agent_inbox i USING victims v \
             WHERE i.org_id = $1 AND i.agent_id = v.agent_id AND i.seq = v.seq RETURNING i.agent_id) \
         UPDATE agent_inbox_state s SET dropped_total = s.dropped_total + d.n, \
             dropped_unreported = s.dropped_unreported + d.n \
         FROM (SELECT agent_id, count(*) AS n FROM dropped GROUP BY agent_id) d \
         WHERE s.org_id = $1 AND s.agent_id = d.agent_id",
    )
    .bind(org.as_str())
    .bind(&agents)
    .bind(codec::limit(max))
    .execute(&mut *c)
    .await?;
    Ok(agents.into_iter().map(AgentId::new).collect())
}

/// Removes and returns the agent's undelivered messages (outside an open batch), oldest first: all of them, or
/// only the oldest.
async fn take(c: &mut PgConnection, org: &OrgId, agent: &AgentId, only_oldest: bool) -> StoreResult<Vec<InboxMessage>> {
    lock_agent(c, org, agent).await?;
    let rows = sqlx::query(
        "DELETE FROM agent_inbox WHERE org_id = $1 AND agent_id = $2 AND seq IN \
         (SELECT seq FROM agent_inbox WHERE org_id = $1 AND agent_id = $2 AND batch_id IS NULL ORDER BY seq LIMIT $3) \
         RETURNING seq, topic, payload, received_at",
    )
    .bind(org.as_str())
    .bind(agent.as_str())
    .bind(if only_oldest { Some(1_i64) } else { None })
    .fetch_all(&mut *c)
    .await?;
    let mut out = rows.iter().map(message).collect::<StoreResult<Vec<_>>>()?;
    out.sort_by_key(|m| m.seq);
    Ok(out)
}

async fn ack_read(
    c: &mut PgConnection,
    org: &OrgId,
    agent: &AgentId,
    ack: Option<&str>,
    new_id: &str,
) -> StoreResult<InboxBatch> {
    let (mut open, dropped): (Option<String>, i64) = sqlx::query_as(
        "INSERT INTO agent_inbox_state (org_id, agent_id, subscribed_at, require_ack) VALUES ($1, $2, $3, TRUE) \
         ON CONFLICT (org_id, agent_id) DO UPDATE SET require_ack = TRUE \
         RETURNING open_batch_id, dropped_unreported",
    )
    .bind(org.as_str())
    .bind(agent.as_str())
    .bind(codec::t1(Timestamp::default()))
    .fetch_one(&mut *c)
    .await?;
    if let (Some(id), Some(a)) = (&open, ack)
        && id == a
    {
        sqlx::query("DELETE FROM agent_inbox WHERE org_id = $1 AND agent_id = $2 AND batch_id = $3")
            .bind(org.as_str())
            .bind(agent.as_str())
            .bind(id)
            .execute(&mut *c)
            .await?;
        open = None;
    }
    let batch_id = match open {
        Some(id) => Some(id),
        None => {
            let n = sqlx::query(
                "UPDATE agent_inbox SET batch_id = $3 WHERE org_id = $1 AND agent_id = $2 AND batch_id IS NULL",
            )
            .bind(org.as_str())
            .bind(agent.as_str())
            .bind(new_id)
            .execute(&mut *c)
            .await?
            .rows_affected();
            (n > 0).then(|| new_id.to_owned())
        }
    };
    sqlx::query(
        "UPDATE agent_inbox_state SET open_batch_id = $3, dropped_unreported = 0 WHERE org_id = $1 AND agent_id = $2",
    )
    .bind(org.as_str())
    .bind(agent.as_str())
    .bind(&batch_id)
    .execute(&mut *c)
    .await?;
    let messages = match &batch_id {
        Some(id) => {
            let rows = sqlx::query(
                "SELECT seq, topic, payload, received_at FROM agent_inbox \
                 WHERE org_id = $1 AND agent_id = $2 AND batch_id = $3 ORDER BY seq",
            )
            .bind(org.as_str())
            .bind(agent.as_str())
            .bind(id)
            .fetch_all(&mut *c)
            .await?;
            rows.iter().map(message).collect::<StoreResult<_>>()?
        }
        None => Vec::new(),
    };
    Ok(InboxBatch { messages, batch_id, dropped })
}

#[async_trait]
impl InboxStore for PgStore {
    async fn inbox_subscribe(&self, org: &OrgId, agent: &AgentId, now: Timestamp) -> StoreResult<()> {
        let mut c = self.conn().await?;
        sqlx::query(
            "INSERT INTO agent_inbox_state (org_id, agent_id, subscribed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (org_id, agent_id) DO NOTHING",
        )
        .bind(org.as_str())
        .bind(agent.as_str())
        .bind(codec::t1(now))
        .execute(&mut *c)
        .await?;
        Ok(())
    }

    async fn inbox_append(
        &self,
        org: &OrgId,
        topic: &str,
        payload: &str,
        at: i64,
        max: usize,
    ) -> StoreResult<Vec<AgentId>> {
        in_tx!(self, |c| append(c, org, topic, payload, at, max).await)
    }

    async fn inbox_take_oldest(&self, org: &OrgId, agent: &AgentId) -> StoreResult<Option<(InboxMessage, i64)>> {
        in_tx!(self, |c| {
            match take(c, org, agent, true).await?.pop() {
                None => StoreResult::Ok(None),
                Some(m) => {
                    let left: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM agent_inbox WHERE org_id = $1 AND agent_id = $2 AND batch_id IS NULL",
                    )
                    .bind(org.as_str())
                    .bind(agent.as_str())
                    .fetch_one(&mut *c)
                    .await?;
                    Ok(Some((m, left)))
                }
            }
        })
    }

    async fn inbox_drain(&self, org: &OrgId, agent: &AgentId) -> StoreResult<Vec<InboxMessage>> {
        in_tx!(self, |c| take(c, org, agent, false).await)
    }

    async fn inbox_ack_read(
        &self,
        org: &OrgId,
        agent: &AgentId,
        ack: Option<&str>,
        new_id: &str,
    ) -> StoreResult<InboxBatch> {
        in_tx!(self, |c| ack_read(c, org, agent, ack, new_id).await)
    }

    async fn inbox_ack_mode(&self, org: &OrgId, agent: &AgentId) -> StoreResult<bool> {
        let mut c = self.conn().await?;
        let v: Option<bool> =
            sqlx::query_scalar("SELECT require_ack FROM agent_inbox_state WHERE org_id = $1 AND agent_id = $2")
                .bind(org.as_str())
                .bind(agent.as_str())
                .fetch_optional(&mut *c)
                .await?;
        Ok(v.unwrap_or(false))
    }
}

/// Stores (or deletes) one retained message; `false` when a new topic would exceed the org's cap.
async fn set_retained(c: &mut PgConnection, msg: &RetainedMessage, now: Timestamp, cap: usize) -> StoreResult<bool> {
    if msg.payload.is_empty() {
        sqlx::query("DELETE FROM mqtt_retained WHERE org_id = $1 AND topic = $2")
            .bind(msg.org.as_str())
            .bind(&msg.topic)
            .execute(&mut *c)
            .await?;
        return Ok(true);
    }
    // The two-key form is a key space of its own: no collision with the announcement or migration locks.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1), 1)").bind(msg.org.as_str()).execute(&mut *c).await?;
    let (exists, n): (bool, i64) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM mqtt_retained WHERE org_id = $1 AND topic = $2), \
         (SELECT count(*) FROM mqtt_retained WHERE org_id = $1)",
    )
    .bind(msg.org.as_str())
    .bind(&msg.topic)
    .fetch_one(&mut *c)
    .await?;
    if !exists && usize::try_from(n).unwrap_or(usize::MAX) >= cap {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO mqtt_retained (org_id, topic, payload, qos, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (org_id, topic) DO UPDATE SET payload = excluded.payload, qos = excluded.qos, \
         updated_at = excluded.updated_at",
    )
    .bind(msg.org.as_str())
    .bind(&msg.topic)
    .bind(&msg.payload)
    .bind(i64::from(msg.qos))
    .bind(codec::t1(now))
    .execute(&mut *c)
    .await?;
    Ok(true)
}

#[async_trait]
impl RetainedStore for PgStore {
    async fn set_retained(&self, msg: &RetainedMessage, now: Timestamp, cap: usize) -> StoreResult<bool> {
        in_tx!(self, |c| set_retained(c, msg, now, cap).await)
    }

    async fn list_retained(&self) -> StoreResult<Vec<RetainedMessage>> {
        let mut c = self.conn().await?;
        let rows = sqlx::query("SELECT org_id, topic, payload, qos FROM mqtt_retained ORDER BY org_id, topic")
            .fetch_all(&mut *c)
            .await?;
        rows.iter()
            .map(|r| {
                let qos: i64 = r.try_get(3)?;
                Ok(RetainedMessage {
                    org: OrgId::new(r.try_get::<String, _>(0)?),
                    topic: r.try_get(1)?,
                    payload: r.try_get(2)?,
                    qos: u8::try_from(qos).map_err(|_| StoreError::Corrupt(format!("retained qos {qos}")))?,
                })
            })
            .collect()
    }
}
