//! File operations on `Core`: activity log, working-file claims, hot files, conflicts, action summaries.

use crate::core::announce::sync::IndexChange;
use serde::Serialize;

use super::model::{ActionSummary, FileActivity, HotFile, WorkingClaim};
use crate::core::agents::{ActivityStatus, activity_event};
use crate::core::error::{CoreError, CoreResult};
use crate::core::events::DomainEvent;
use crate::core::facade::Core;
use crate::core::ids::{AgentId, SessionId, new_uuid};
use crate::core::ports::{Fence, NewFileActivity};
use crate::core::principal::Principal;
use crate::core::time::Timestamp;

/// Default window of hot files and conflict checks, in minutes.
pub const DEFAULT_WINDOW_MIN: i64 = 30;
/// Hot files listed at most.
pub const MAX_HOT_FILES: usize = 100;
/// Longest accepted summary.
pub const MAX_SUMMARY_CHARS: usize = 100_000;

/// `{conflict, agents}` of `check_file_conflict`.
#[derive(Debug, Clone, Serialize)]
pub struct FileConflict {
    pub conflict: bool,
    pub agents: Vec<FileAgent>,
}

/// An agent recently active on a file.
#[derive(Debug, Clone, Serialize)]
pub struct FileAgent {
    pub agent_id: AgentId,
    pub agent_name: Option<String>,
    pub last_activity_at: String,
}

/// One observed edit (REST log-file / file-activity).
#[derive(Debug, Clone, Default)]
pub struct FileEdit {
    pub session_id: String,
    pub agent_id: String,
    pub agent_name: Option<String>,
    pub tool_name: String,
    pub file_path: String,
    pub symbols: Option<Vec<String>>,
    pub content_hash: Option<String>,
}

fn window(minutes: Option<i64>) -> CoreResult<i64> {
    match minutes {
        None => Ok(DEFAULT_WINDOW_MIN),
        Some(m) if (1..=7 * 24 * 60).contains(&m) => Ok(m),
        Some(_) => Err(CoreError::invalid("since_minutes", "must be between 1 and 10080")),
    }
}

impl Core {
    /// Records an edit; `log_file` = the log-file hook (activity `working` + `file_edited`).
    pub async fn record_edit(&self, p: &Principal, edit: FileEdit, log_file: bool) -> CoreResult<i64> {
        let agent = AgentId::parse("agent_id", &edit.agent_id)?;
        let session = SessionId::parse("session_id", &edit.session_id)?;
        let path = self.settings().repo_roots.normalize(&edit.file_path)?;
        if edit.tool_name.trim().is_empty() {
            return Err(CoreError::invalid("tool_name", "must not be empty"));
        }
        self.ensure_org(p).await?;
        let slot = self.slot(&p.org);
        let _w = slot.write.lock().await;
        let now = self.now().trunc_secs();
        let agent_name = edit
            .agent_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| slot.index.lock().agents.get(&agent).map(|a| a.name.clone()));
        let row = FileActivity {
            id: 0,
            org_id: p.org.clone(),
            session_id: session,
            agent_id: agent.clone(),
            agent_name: agent_name.clone(),
            tool_name: edit.tool_name.clone(),
            module: path.module(),
            file_path: path.clone(),
            created_at: now,
            symbols_touched: edit.symbols.clone(),
            content_hash: edit.content_hash,
        };
        let mut events = Vec::new();
        if log_file {
            events.push(DomainEvent::FileEdited {
                agent_id: agent.to_string(),
                agent_name,
                file: path.to_string(),
                tool_name: edit.tool_name,
            });
            events.push(activity_event(&crate::core::agents::Activity {
                agent_id: agent.clone(),
                activity_status: ActivityStatus::Working,
                current_file: Some(path.clone()),
                current_thread: None,
                last_activity_at: Some(now),
            }));
        }
        let act = NewFileActivity { row, mark_working: log_file, events, online_cutoff: self.online_cutoff(now) };
        let (id, records) = self.inner.store.record_file_activity(act).await?;
        self.change_index(
            &p.org,
            &slot,
            vec![IndexChange::Activity { agent: agent.clone(), file: path.clone(), at: now, symbols: edit.symbols }],
        );
        drop(_w);
        self.publish(&records);
        Ok(id)
    }

    /// `hot_files`: files touched by more than one agent in the window.
    pub async fn hot_files(&self, p: &Principal, since_minutes: Option<i64>) -> CoreResult<Vec<HotFile>> {
        let w = window(since_minutes)?;
        let since = self.now().trunc_secs().minus_secs(w * 60);
        Ok(self.inner.store.hot_files(&p.org, since, MAX_HOT_FILES).await?)
    }

    /// `get_session_files`.
    pub async fn session_files(&self, p: &Principal, session_id: &str) -> CoreResult<Vec<FileActivity>> {
        let session = SessionId::parse("session_id", session_id)?;
        Ok(self.inner.store.session_files(&p.org, &session).await?)
    }

    /// `check_file_conflict`: other agents active on the path within the window, most recent first.
    pub async fn check_file_conflict(
        &self,
        p: &Principal,
        file: &str,
        agent_id: &str,
        within: Option<i64>,
    ) -> CoreResult<FileConflict> {
        let path = self.settings().repo_roots.normalize(file)?;
        let agent = AgentId::parse("agent_id", agent_id)?;
        let w = window(within).map_err(|_| CoreError::invalid("within_minutes", "must be between 1 and 10080"))?;
        let since = self.now().trunc_secs().minus_secs(w * 60);
        let rows = self.inner.store.agents_on_file(&p.org, &path, since, Some(&agent)).await?;
        let agents: Vec<FileAgent> = rows
            .into_iter()
            .map(|(agent_id, agent_name, at)| FileAgent { agent_id, agent_name, last_activity_at: at.t1() })
            .collect();
        Ok(FileConflict { conflict: !agents.is_empty(), agents })
    }

    /// `log_action_summary`.
    pub async fn log_action_summary(
        &self,
        p: &Principal,
        session_id: &str,
        agent_id: &str,
        file_path: Option<&str>,
        summary: &str,
    ) -> CoreResult<ActionSummary> {
        let session = SessionId::parse("session_id", session_id)?;
        let agent = AgentId::parse("agent_id", agent_id)?;
        let file = file_path.filter(|f| !f.is_empty()).map(|f| self.settings().repo_roots.normalize(f)).transpose()?;
        if summary.trim().is_empty() {
            return Err(CoreError::invalid("summary", "must not be empty"));
        }
        if summary.chars().count() > MAX_SUMMARY_CHARS {
            return Err(CoreError::invalid("summary", format!("at most {MAX_SUMMARY_CHARS} characters")));
        }
        self.ensure_org(p).await?;
        let now = self.now().trunc_secs();
        let s = ActionSummary {
            id: new_uuid(),
            org_id: p.org.clone(),
            session_id: session,
            agent_id: agent,
            file_path: file,
            summary: summary.to_owned(),
            created_at: now,
        };
        let ev = DomainEvent::ActionSummary {
            id: s.id.clone(),
            session_id: s.session_id.to_string(),
            agent_id: s.agent_id.to_string(),
            file_path: s.file_path.as_ref().map(|f| f.to_string()),
            summary: s.summary.clone(),
            created_at: now.t1(),
        };
        let records = self.inner.store.record_summary(&s, ev).await?;
        self.publish(&records);
        Ok(s)
    }

    /// `POST /api/working-files/start`: returns the claim's expiry.
    pub async fn start_working_file(&self, p: &Principal, agent_id: &str, file_path: &str) -> CoreResult<Timestamp> {
        let agent = AgentId::parse("agent_id", agent_id)?;
        let path = self.settings().repo_roots.normalize(file_path)?;
        self.ensure_org(p).await?;
        let slot = self.slot(&p.org);
        let _w = slot.write.lock().await;
        let now = self.now();
        let until = now.plus_secs(self.settings().working_files_ttl_min * 60);
        let claim = WorkingClaim {
            org_id: p.org.clone(),
            agent_id: agent.clone(),
            file_path: path.clone(),
            started_at: now,
            claim_until: until,
        };
        self.inner.store.start_claim(&claim, now).await?;
        self.change_index(
            &p.org,
            &slot,
            vec![IndexChange::Claim { agent: agent.clone(), file: path.clone(), until: Some(until) }],
        );
        drop(_w);
        self.touch(p, &agent, false).await?;
        Ok(until)
    }

    /// `POST /api/working-files/stop` (no-op when absent).
    pub async fn stop_working_file(&self, p: &Principal, agent_id: &str, file_path: &str) -> CoreResult<()> {
        let agent = AgentId::parse("agent_id", agent_id)?;
        let path = self.settings().repo_roots.normalize(file_path)?;
        let slot = self.slot(&p.org);
        let _w = slot.write.lock().await;
        self.inner.store.stop_claim(&p.org, &agent, &path).await?;
        self.change_index(
            &p.org,
            &slot,
            vec![IndexChange::Claim { agent: agent.clone(), file: path.clone(), until: None }],
        );
        Ok(())
    }

    /// One pass of the working-file claim sweeper; returns the claims removed. Fenced by the `working-files`
    /// lease when `fence` is given.
    pub async fn sweep_claims(&self, fence: Option<&Fence>) -> CoreResult<usize> {
        let expired = self.inner.store.sweep_claims(self.now(), fence).await?;
        let now = self.now();
        for c in &expired {
            let slot = self.slot(&c.org_id);
            let change = IndexChange::ClaimExpired { agent: c.agent_id.clone(), file: c.file_path.clone(), now };
            self.change_index(&c.org_id, &slot, vec![change]);
        }
        Ok(expired.len())
    }
}
