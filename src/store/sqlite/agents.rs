//! `AgentStore` on SQLite: orgs, the agent registry, liveness, activity rows and the departure unit of work
//! (threads.md §1.4).

use async_trait::async_trait;
use rusqlite::{Connection, Row, params};

use super::{SqliteStore, codec, events, thread_changes};
use crate::core::agents::{Activity, ActivityStatus, Agent, AgentStatus};
use crate::core::events::{DomainEvent, EventRecord};
use crate::core::ids::{AgentId, OrgId, ThreadId};
use crate::core::paths::RepoPath;
use crate::core::ports::{AgentStore, DepartureDecision, StoreResult, ThreadUpdate};
use crate::core::rows::to_json_text;
use crate::core::time::Timestamp;

pub(super) const COLS: &str = "org_id, id, name, modules, status, registered_at, last_seen_at";

pub(super) fn decode(row: &Row<'_>) -> rusqlite::Result<Agent> {
    Ok(Agent {
        org_id: OrgId::new(row.get::<_, String>(0)?),
        id: AgentId::new(row.get::<_, String>(1)?),
        name: row.get(2)?,
        modules: codec::json(row, 3)?,
        status: AgentStatus::parse(&row.get::<_, String>(4)?),
        registered_at: codec::ts(row, 5)?,
        last_seen_at: codec::ts(row, 6)?,
    })
}

fn decode_activity(row: &Row<'_>) -> rusqlite::Result<Activity> {
    Ok(Activity {
        agent_id: AgentId::new(row.get::<_, String>(0)?),
        activity_status: ActivityStatus::parse(&row.get::<_, String>(1)?),
        current_file: row.get::<_, Option<String>>(2)?.map(RepoPath::from_stored),
        current_thread: row.get::<_, Option<String>>(3)?.map(ThreadId::new),
        last_activity_at: codec::opt_ts(row, 4)?,
    })
}

fn register(conn: &Connection, a: &Agent, event: DomainEvent) -> StoreResult<(Agent, Vec<EventRecord>)> {
    let agent = conn
        .prepare_cached(&format!(
            "INSERT INTO agents ({COLS}) VALUES (?1, ?2, ?3, ?4, 'online', ?5, ?6) \
             ON CONFLICT (org_id, id) DO UPDATE SET name = excluded.name, modules = excluded.modules, \
             status = 'online', last_seen_at = excluded.last_seen_at RETURNING {COLS}"
        ))?
        .query_row(
            params![
                a.org_id.as_str(),
                a.id.as_str(),
                a.name,
                to_json_text(&a.modules),
                a.registered_at.t1(),
                a.last_seen_at.t1()
            ],
            decode,
        )?;
    let records = events::insert(conn, &a.org_id, &[event], a.last_seen_at)?;
    Ok((agent, records))
}

/// Liveness: online + seen now; with a cutoff, only agents already online since it.
pub(super) fn touch(
    conn: &Connection,
    org: &OrgId,
    id: &AgentId,
    now: Timestamp,
    only_if_online_since: Option<Timestamp>,
) -> StoreResult<Option<Agent>> {
    let mut stmt = conn.prepare_cached(&format!(
        "UPDATE agents SET status = 'online', last_seen_at = ?3 WHERE org_id = ?1 AND id = ?2 \
         AND (?4 IS NULL OR (status = 'online' AND last_seen_at >= ?4)) RETURNING {COLS}"
    ))?;
    let cutoff = only_if_online_since.map(Timestamp::t1);
    let mut rows = stmt.query_map(params![org.as_str(), id.as_str(), now.t1(), cutoff], decode)?;
    Ok(rows.next().transpose()?)
}

/// Replaces the agent's activity row.
pub(super) fn put_activity(conn: &Connection, org: &OrgId, a: &Activity) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO agent_activity_status \
         (org_id, agent_id, activity_status, current_file, current_thread, last_activity_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        org.as_str(),
        a.agent_id.as_str(),
        a.activity_status.as_str(),
        a.current_file.as_ref().map(RepoPath::as_str),
        a.current_thread.as_ref().map(ThreadId::as_str),
        codec::opt_t1(a.last_activity_at),
    ])?;
    Ok(())
}

fn heartbeat(
    conn: &Connection,
    org: &OrgId,
    activity: &Activity,
    now: Timestamp,
    event: DomainEvent,
) -> StoreResult<Option<(Agent, Vec<EventRecord>)>> {
    let Some(agent) = touch(conn, org, &activity.agent_id, now, None)? else {
        return Ok(None);
    };
    put_activity(conn, org, activity)?;
    let records = events::insert(conn, org, &[event], now)?;
    Ok(Some((agent, records)))
}

fn get(conn: &Connection, org: &OrgId, id: &AgentId) -> StoreResult<Option<Agent>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLS} FROM agents WHERE org_id = ?1 AND id = ?2"))?;
    let mut rows = stmt.query_map(params![org.as_str(), id.as_str()], decode)?;
    Ok(rows.next().transpose()?)
}

fn list(conn: &Connection, org: &OrgId, online_since: Option<Timestamp>) -> StoreResult<Vec<Agent>> {
    let sql = match online_since {
        None => format!("SELECT {COLS} FROM agents WHERE org_id = ?1 ORDER BY last_seen_at DESC, id"),
        Some(_) => format!(
            "SELECT {COLS} FROM agents WHERE org_id = ?1 AND status = 'online' AND last_seen_at >= ?2 ORDER BY name, id"
        ),
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = match online_since {
        None => stmt.query_map(params![org.as_str()], decode)?.collect::<Result<_, _>>()?,
        Some(cutoff) => stmt.query_map(params![org.as_str(), cutoff.t1()], decode)?.collect::<Result<_, _>>()?,
    };
    Ok(rows)
}

fn list_activity(conn: &Connection, org: &OrgId) -> StoreResult<Vec<Activity>> {
    let mut stmt = conn.prepare_cached(
        "SELECT agent_id, activity_status, current_file, current_thread, last_activity_at \
         FROM agent_activity_status WHERE org_id = ?1 ORDER BY agent_id",
    )?;
    let rows = stmt.query_map(params![org.as_str()], decode_activity)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

type Departure = Option<(Vec<ThreadUpdate>, Vec<EventRecord>)>;

/// The departure unit of work (threads.md §1.4).
fn depart(
    conn: &Connection,
    org: &OrgId,
    id: &AgentId,
    now: Timestamp,
    decide: DepartureDecision,
    event: DomainEvent,
) -> StoreResult<Departure> {
    let n = conn
        .prepare_cached("UPDATE agents SET status = 'offline' WHERE org_id = ?1 AND id = ?2")?
        .execute(params![org.as_str(), id.as_str()])?;
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
    put_activity(conn, org, &offline)?;
    let threads = thread_changes::involving(conn, org, id)?;
    let states = threads.into_iter().map(|t| thread_changes::state_of(conn, t)).collect::<StoreResult<Vec<_>>>()?;
    let olds: Vec<_> = states.iter().map(|s| s.thread.clone()).collect();
    let mut updates = Vec::new();
    for change in decide(states) {
        let Some(old) = olds.iter().find(|t| t.id == change.thread.id) else {
            return Err(crate::core::ports::StoreError::Constraint(format!(
                "departure changed thread {} it was not given",
                change.thread.id
            )));
        };
        updates.push(thread_changes::apply(conn, old, change, now)?);
    }
    for table in ["working_files", "agent_inbox", "agent_inbox_state"] {
        conn.prepare_cached(&format!("DELETE FROM {table} WHERE org_id = ?1 AND agent_id = ?2"))?
            .execute(params![org.as_str(), id.as_str()])?;
    }
    let records = events::insert(conn, org, &[event], now)?;
    Ok(Some((updates, records)))
}

#[async_trait]
impl AgentStore for SqliteStore {
    async fn ensure_org(&self, org: &OrgId) -> StoreResult<()> {
        let org = org.clone();
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO orgs (id, name, status, created_at) VALUES (?1, ?1, 'active', ?2) \
                 ON CONFLICT (id) DO NOTHING",
            )?
            .execute(params![org.as_str(), Timestamp::from_millis(chrono::Utc::now().timestamp_millis()).t1()])?;
            Ok(())
        })
        .await
    }

    async fn register_agent(&self, agent: &Agent, event: DomainEvent) -> StoreResult<(Agent, Vec<EventRecord>)> {
        let agent = agent.clone();
        self.write(move |c| register(c, &agent, event)).await
    }

    async fn touch_agent(
        &self,
        org: &OrgId,
        id: &AgentId,
        now: Timestamp,
        only_if_online_since: Option<Timestamp>,
    ) -> StoreResult<Option<Agent>> {
        let (org, id) = (org.clone(), id.clone());
        self.write(move |c| touch(c, &org, &id, now, only_if_online_since)).await
    }

    async fn heartbeat(
        &self,
        org: &OrgId,
        activity: &Activity,
        now: Timestamp,
        event: DomainEvent,
    ) -> StoreResult<Option<(Agent, Vec<EventRecord>)>> {
        let (org, activity) = (org.clone(), activity.clone());
        self.write(move |c| heartbeat(c, &org, &activity, now, event)).await
    }

    async fn get_agent(&self, org: &OrgId, id: &AgentId) -> StoreResult<Option<Agent>> {
        let (org, id) = (org.clone(), id.clone());
        self.read(move |c| get(c, &org, &id)).await
    }

    async fn list_agents(&self, org: &OrgId) -> StoreResult<Vec<Agent>> {
        let org = org.clone();
        self.read(move |c| list(c, &org, None)).await
    }

    async fn list_online(&self, org: &OrgId, cutoff: Timestamp) -> StoreResult<Vec<Agent>> {
        let org = org.clone();
        self.read(move |c| list(c, &org, Some(cutoff))).await
    }

    async fn list_activity(&self, org: &OrgId) -> StoreResult<Vec<Activity>> {
        let org = org.clone();
        self.read(move |c| list_activity(c, &org)).await
    }

    async fn depart_agent(
        &self,
        org: &OrgId,
        id: &AgentId,
        now: Timestamp,
        decide: DepartureDecision,
        event: DomainEvent,
    ) -> StoreResult<Option<(Vec<ThreadUpdate>, Vec<EventRecord>)>> {
        let (org, id) = (org.clone(), id.clone());
        self.write(move |c| depart(c, &org, &id, now, decide, event)).await
    }
}
