//! `AgentStore` on Postgres: orgs, the agent registry, liveness, activity rows and the departure unit of work
//! (threads.md §1.4).

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::{PgStore, codec, events, in_tx, thread_changes};
use crate::core::agents::{Activity, ActivityStatus, Agent, AgentStatus};
use crate::core::events::{DomainEvent, EventRecord};
use crate::core::ids::{AgentId, OrgId, ThreadId};
use crate::core::paths::RepoPath;
use crate::core::ports::{AgentStore, DepartureDecision, StoreError, StoreResult, ThreadUpdate};
use crate::core::rows::to_json_text;
use crate::core::time::Timestamp;

/// Every column of `agents`, in `decode` order.
macro_rules! agent_cols {
    () => {
        "org_id, id, name, modules, status, registered_at, last_seen_at"
    };
}
pub(super) use agent_cols;

pub(super) fn decode(row: &PgRow) -> StoreResult<Agent> {
    Ok(Agent {
        org_id: OrgId::new(row.try_get::<String, _>(0)?),
        id: AgentId::new(row.try_get::<String, _>(1)?),
        name: row.try_get(2)?,
        modules: codec::json(row, 3)?,
        status: AgentStatus::parse(&row.try_get::<String, _>(4)?),
        registered_at: codec::ts(row, 5)?,
        last_seen_at: codec::ts(row, 6)?,
    })
}

fn decode_activity(row: &PgRow) -> StoreResult<Activity> {
    Ok(Activity {
        agent_id: AgentId::new(row.try_get::<String, _>(0)?),
        activity_status: ActivityStatus::parse(&row.try_get::<String, _>(1)?),
        current_file: row.try_get::<Option<String>, _>(2)?.map(RepoPath::from_stored),
        current_thread: row.try_get::<Option<String>, _>(3)?.map(ThreadId::new),
        last_activity_at: codec::opt_ts(row, 4)?,
    })
}

async fn register(c: &mut PgConnection, a: &Agent, event: DomainEvent) -> StoreResult<(Agent, Vec<EventRecord>)> {
    let row = sqlx::query(concat!(
        "INSERT INTO agents (",
        agent_cols!(),
        ") VALUES ($1, $2, $3, $4, 'online', $5, $6) \
         ON CONFLICT (org_id, id) DO UPDATE SET name = excluded.name, modules = excluded.modules, \
         status = 'online', last_seen_at = excluded.last_seen_at RETURNING ",
        agent_cols!()
    ))
    .bind(a.org_id.as_str())
    .bind(a.id.as_str())
    .bind(&a.name)
    .bind(to_json_text(&a.modules))
    .bind(codec::t1(a.registered_at))
    .bind(codec::t1(a.last_seen_at))
    .fetch_one(&mut *c)
    .await?;
    let agent = decode(&row)?;
    let records = events::insert(c, &a.org_id, &[event], a.last_seen_at).await?;
    Ok((agent, records))
}

/// Liveness: online + seen now; with a cutoff, only agents already online since it.
pub(super) async fn touch(
    c: &mut PgConnection,
    org: &OrgId,
    id: &AgentId,
    now: Timestamp,
    only_if_online_since: Option<Timestamp>,
) -> StoreResult<Option<Agent>> {
    let row = sqlx::query(concat!(
        "UPDATE agents SET status = 'online', last_seen_at = $3 WHERE org_id = $1 AND id = $2 \
         AND ($4::timestamptz IS NULL OR (status = 'online' AND last_seen_at >= $4)) RETURNING ",
        agent_cols!()
    ))
    .bind(org.as_str())
    .bind(id.as_str())
    .bind(codec::t1(now))
    .bind(codec::opt_t1(only_if_online_since))
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(decode).transpose()
}

/// Replaces the agent's activity row.
pub(super) async fn put_activity(c: &mut PgConnection, org: &OrgId, a: &Activity) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO agent_activity_status \
         (org_id, agent_id, activity_status, current_file, current_thread, last_activity_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_id, agent_id) DO UPDATE SET \
         activity_status = excluded.activity_status, current_file = excluded.current_file, \
         current_thread = excluded.current_thread, last_activity_at = excluded.last_activity_at",
    )
    .bind(org.as_str())
    .bind(a.agent_id.as_str())
    .bind(a.activity_status.as_str())
    .bind(a.current_file.as_ref().map(RepoPath::as_str))
    .bind(a.current_thread.as_ref().map(ThreadId::as_str))
    .bind(codec::opt_t1(a.last_activity_at))
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn heartbeat(
    c: &mut PgConnection,
    org: &OrgId,
    activity: &Activity,
    now: Timestamp,
    event: DomainEvent,
) -> StoreResult<Option<(Agent, Vec<EventRecord>)>> {
    let Some(agent) = touch(c, org, &activity.agent_id, now, None).await? else {
        return Ok(None);
    };
    put_activity(c, org, activity).await?;
    let records = events::insert(c, org, &[event], now).await?;
    Ok(Some((agent, records)))
}

type Departure = Option<(Vec<ThreadUpdate>, Vec<EventRecord>)>;

/// The departure unit of work (threads.md §1.4): the agent row is locked by its update, the live threads
/// involving it by `involving` (FOR UPDATE), so the decision sees rows no one else can change before commit.
async fn depart(
    c: &mut PgConnection,
    org: &OrgId,
    id: &AgentId,
    now: Timestamp,
    decide: DepartureDecision,
    event: DomainEvent,
) -> StoreResult<Departure> {
    let n = sqlx::query("UPDATE agents SET status = 'offline' WHERE org_id = $1 AND id = $2")
        .bind(org.as_str())
        .bind(id.as_str())
        .execute(&mut *c)
        .await?
        .rows_affected();
    if n == 0 {
        return Ok(None);
    }
    let offline = Activity {
        agent_id: id.clone(),
        activity_status: ActivityStatus::Offline,
        current_file: None,
        current_thread: None,
        last_activity_at: Some(now),
    };
    put_activity(c, org, &offline).await?;
    let threads = thread_changes::involving(c, org, id).await?;
    let mut states = Vec::with_capacity(threads.len());
    for t in threads {
        states.push(thread_changes::state_of(c, t).await?);
    }
    let olds: Vec<_> = states.iter().map(|s| s.thread.clone()).collect();
    let mut updates = Vec::new();
    for change in decide(states) {
        let Some(old) = olds.iter().find(|t| t.id == change.thread.id) else {
            return Err(StoreError::Constraint(format!(
                "departure changed thread {} it was not given",
                change.thread.id
            )));
        };
        updates.push(thread_changes::apply(c, old, change, now).await?);
    }
    for sql in [
        "DELETE FROM working_files WHERE org_id = $1 AND agent_id = $2",
        "DELETE FROM agent_inbox WHERE org_id = $1 AND agent_id = $2",
        "DELETE FROM agent_inbox_state WHERE org_id = $1 AND agent_id = $2",
    ] {
        sqlx::query(sql).bind(org.as_str()).bind(id.as_str()).execute(&mut *c).await?;
    }
    let records = events::insert(c, org, &[event], now).await?;
    Ok(Some((updates, records)))
}

#[async_trait]
impl AgentStore for PgStore {
    async fn ensure_org(&self, org: &OrgId) -> StoreResult<()> {
        let mut c = self.conn().await?;
        sqlx::query(
            "INSERT INTO orgs (id, name, status, created_at) VALUES ($1, $1, 'active', date_trunc('second', now())) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(org.as_str())
        .execute(&mut *c)
        .await?;
        Ok(())
    }

    async fn register_agent(&self, agent: &Agent, event: DomainEvent) -> StoreResult<(Agent, Vec<EventRecord>)> {
        in_tx!(self, |c| register(c, agent, event).await)
    }

    async fn touch_agent(
        &self,
        org: &OrgId,
        id: &AgentId,
        now: Timestamp,
        only_if_online_since: Option<Timestamp>,
    ) -> StoreResult<Option<Agent>> {
        let mut c = self.conn().await?;
        touch(&mut c, org, id, now, only_if_online_since).await
    }

    async fn heartbeat(
        &self,
        org: &OrgId,
        activity: &Activity,
        now: Timestamp,
        event: DomainEvent,
    ) -> StoreResult<Option<(Agent, Vec<EventRecord>)>> {
        in_tx!(self, |c| heartbeat(c, org, activity, now, event).await)
    }

    async fn get_agent(&self, org: &OrgId, id: &AgentId) -> StoreResult<Option<Agent>> {
        let mut c = self.conn().await?;
        let row = sqlx::query(concat!("SELECT ", agent_cols!(), " FROM agents WHERE org_id = $1 AND id = $2"))
            .bind(org.as_str())
            .bind(id.as_str())
            .fetch_optional(&mut *c)
            .await?;
        row.as_ref().map(decode).transpose()
    }

    async fn list_agents(&self, org: &OrgId) -> StoreResult<Vec<Agent>> {
        let mut c = self.conn().await?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            agent_cols!(),
            " FROM agents WHERE org_id = $1 ORDER BY last_seen_at DESC, id"
        ))
        .bind(org.as_str())
        .fetch_all(&mut *c)
        .await?;
        rows.iter().map(decode).collect()
    }

    async fn list_online(&self, org: &OrgId, cutoff: Timestamp) -> StoreResult<Vec<Agent>> {
        let mut c = self.conn().await?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            agent_cols!(),
            " FROM agents WHERE org_id = $1 AND status = 'online' AND last_seen_at >= $2 ORDER BY name, id"
        ))
        .bind(org.as_str())
        .bind(codec::t1(cutoff))
        .fetch_all(&mut *c)
        .await?;
        rows.iter().map(decode).collect()
    }

    async fn list_activity(&self, org: &OrgId) -> StoreResult<Vec<Activity>> {
        let mut c = self.conn().await?;
        let rows = sqlx::query(
            "SELECT agent_id, activity_status, current_file, current_thread, last_activity_at \
             FROM agent_activity_status WHERE org_id = $1 ORDER BY agent_id",
        )
        .bind(org.as_str())
        .fetch_all(&mut *c)
        .await?;
        rows.iter().map(decode_activity).collect()
    }

    async fn depart_agent(
        &self,
        org: &OrgId,
        id: &AgentId,
        now: Timestamp,
        decide: DepartureDecision,
        event: DomainEvent,
    ) -> StoreResult<Option<(Vec<ThreadUpdate>, Vec<EventRecord>)>> {
        in_tx!(self, |c| depart(c, org, id, now, decide, event).await)
    }
}
