//! Agent operations on `Core`: register, list, heartbeat, activity, departure, liveness.

use crate::core::announce::sync::IndexChange;
use serde::Serialize;

use super::model::{Activity, ActivityStatus, Agent, AgentStatus};
use crate::core::error::{CoreError, CoreResult};
use crate::core::events::DomainEvent;
use crate::core::facade::Core;
use crate::core::ids::{AgentId, ThreadId};
use crate::core::principal::Principal;
use crate::core::threads::machine;

/// Longest accepted agent name.
pub const MAX_NAME_LEN: usize = 256;
/// Most modules an agent may declare.
pub const MAX_MODULES: usize = 200;

/// Validates a module list (`field` names the argument).
pub fn check_modules(field: &str, modules: &[String]) -> CoreResult<Vec<String>> {
    if modules.len() > MAX_MODULES {
        return Err(CoreError::invalid(field, format!("at most {MAX_MODULES} items")));
    }
    let mut out: Vec<String> = Vec::with_capacity(modules.len());
    for (i, m) in modules.iter().enumerate() {
        let m = m.trim().trim_end_matches('/');
        if m.is_empty() {
            return Err(CoreError::invalid(format!("{field}[{i}]"), "must not be empty"));
        }
        if m.chars().count() > 512 {
            return Err(CoreError::invalid(format!("{field}[{i}]"), "at most 512 characters"));
        }
        if !out.iter().any(|o| o == m) {
            out.push(m.to_owned());
        }
    }
    Ok(out)
}

fn check_name(name: &str) -> CoreResult<String> {
    let n = name.trim();
    if n.is_empty() {
        return Err(CoreError::invalid("name", "must not be empty"));
    }
    if n.chars().count() > MAX_NAME_LEN {
        return Err(CoreError::invalid("name", format!("at most {MAX_NAME_LEN} characters")));
    }
    Ok(n.to_owned())
}

/// `{id, name}` of an online peer.
#[derive(Debug, Clone, Serialize)]
pub struct Peer {
    pub id: AgentId,
    pub name: String,
}

impl Core {
    /// `register_agent`: upsert, online, seen now; takes over an existing id.
    pub async fn register_agent(&self, p: &Principal, id: &str, name: &str, modules: &[String]) -> CoreResult<Agent> {
        let id = AgentId::parse("agent_id", id)?;
        let name = check_name(name)?;
        let modules = check_modules("modules", modules)?;
        self.ensure_org(p).await?;
        let slot = self.slot(&p.org);
        let _w = slot.write.lock().await;
        let now = self.now().trunc_secs();
        let agent = Agent {
            id: id.clone(),
            org_id: p.org.clone(),
            name: name.clone(),
            modules: modules.clone(),
            status: AgentStatus::Online,
            registered_at: now,
            last_seen_at: now,
        };
        let ev = DomainEvent::AgentOnline { agent_id: id.to_string(), name, modules };
        let (agent, events) = self.inner.store.register_agent(&agent, ev).await?;
        self.change_index(
            &p.org,
            &slot,
            vec![IndexChange::Agent {
                id: agent.id.clone(),
                name: agent.name.clone(),
                modules: agent.modules.clone(),
                online: true,
                last_seen: agent.last_seen_at,
            }],
        );
        self.publish(&events);
        Ok(agent)
    }

    /// `list_agents`: online agents by name, or all agents by last_seen_at desc.
    pub async fn list_agents(&self, p: &Principal, online_only: bool) -> CoreResult<Vec<Agent>> {
        if online_only {
            let cutoff = self.online_cutoff(self.now());
            Ok(self.inner.store.list_online(&p.org, cutoff).await?)
        } else {
            Ok(self.inner.store.list_agents(&p.org).await?)
        }
    }

    /// `heartbeat`: online, seen now, activity per threads.md §1.3.
    pub async fn heartbeat(
        &self,
        p: &Principal,
        id: &str,
        current_file: Option<&str>,
        current_thread: Option<&str>,
    ) -> CoreResult<Activity> {
        let id = AgentId::parse("agent_id", id)?;
        let file =
            current_file.filter(|f| !f.is_empty()).map(|f| self.settings().repo_roots.normalize(f)).transpose()?;
        let thread =
            current_thread.filter(|t| !t.is_empty()).map(|t| ThreadId::parse("current_thread", t)).transpose()?;
        let status = match (&file, &thread) {
            (Some(_), _) => ActivityStatus::Working,
            (None, Some(_)) => ActivityStatus::Waiting,
            (None, None) => ActivityStatus::Idle,
        };
        let slot = self.slot(&p.org);
        let _w = slot.write.lock().await;
        let now = self.now().trunc_secs();
        let activity = Activity {
            agent_id: id.clone(),
            activity_status: status,
            current_file: file,
            current_thread: thread,
            last_activity_at: Some(now),
        };
        let ev = activity_event(&activity);
        let Some((agent, events)) = self.inner.store.heartbeat(&p.org, &activity, now, ev).await? else {
            return Err(CoreError::AgentNotRegistered(id.to_string()));
        };
        self.change_index(&p.org, &slot, vec![IndexChange::online(&agent, now)]);
        self.publish(&events);
        Ok(activity)
    }

    /// `agent_activity`: the reported activity of every online agent.
    pub async fn agent_activity(&self, p: &Principal) -> CoreResult<Vec<Activity>> {
        let now = self.now();
        let online = self.inner.store.list_online(&p.org, self.online_cutoff(now)).await?;
        let rows = self.inner.store.list_activity(&p.org).await?;
        Ok(online
            .iter()
            .map(|a| Activity::reported(&a.id, true, rows.iter().find(|r| r.agent_id == a.id), now))
            .collect())
    }

    /// Online peers of `agent` (for wait_for_peers and status).
    pub async fn online_peers(&self, p: &Principal, agent: Option<&AgentId>) -> CoreResult<Vec<Peer>> {
        let online = self.inner.store.list_online(&p.org, self.online_cutoff(self.now())).await?;
        Ok(online.into_iter().filter(|a| Some(&a.id) != agent).map(|a| Peer { id: a.id, name: a.name }).collect())
    }

    /// Liveness refresh (post_to_thread and hooks); `resurrect` false = only agents already online.
    pub(crate) async fn touch(&self, p: &Principal, id: &AgentId, resurrect: bool) -> CoreResult<()> {
        let now = self.now().trunc_secs();
        let only = (!resurrect).then(|| self.online_cutoff(now));
        if let Some(agent) = self.inner.store.touch_agent(&p.org, id, now, only).await? {
            self.change_index(&p.org, &self.slot(&p.org), vec![IndexChange::online(&agent, now)]);
        }
        Ok(())
    }

    /// Departure (threads.md §1.4): `reason` is session_stop, mqtt_offline or lwt. Returns false if unknown.
    pub async fn depart_agent(&self, p: &Principal, id: &str, reason: &str) -> CoreResult<bool> {
        let id = AgentId::parse("agent_id", id)?;
        let slot = self.slot(&p.org);
        let _w = slot.write.lock().await;
        let now = self.now();
        let name = self.inner.store.get_agent(&p.org, &id).await?.map(|a| a.name).unwrap_or_else(|| id.to_string());
        let ev = DomainEvent::AgentOffline { agent_id: id.to_string(), name, reason: reason.to_owned() };
        let agent = id.clone();
        let decide = Box::new(move |states: Vec<crate::core::ports::ThreadState>| {
            states.iter().filter_map(|s| machine::depart(s, &agent, now)).collect()
        });
        let Some((updates, events)) = self.inner.store.depart_agent(&p.org, &id, now, decide, ev).await? else {
            return Ok(false);
        };
        let mut changes = vec![IndexChange::Departed { id: id.clone() }];
        changes.extend(updates.iter().map(|u| IndexChange::thread(&u.thread)));
        self.change_index(&p.org, &slot, changes);
        for u in &updates {
            self.publish(&u.events);
        }
        self.publish(&events);
        Ok(true)
    }
}

/// The `agent_activity` event of an activity row.
pub fn activity_event(a: &Activity) -> DomainEvent {
    DomainEvent::AgentActivity {
        agent_id: a.agent_id.to_string(),
        activity_status: a.activity_status.as_str().to_owned(),
        current_file: a.current_file.as_ref().map(|f| f.to_string()),
        current_thread: a.current_thread.as_ref().map(|t| t.to_string()),
        last_activity_at: a.last_activity_at.map(|t| t.t1()),
    }
}
