//! Read models and administration behind the REST API: session briefing, active threads per run, run summary,
//! interrupt check, consultation and agent status, per-layer scoring statistics, token usage, reset.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::agents::Activity;
use super::error::{CoreError, CoreResult};
use super::events::DomainEvent;
use super::facade::Core;
use super::ids::{AgentId, RunId, ThreadId};
use super::ports::ThreadFilter;
use super::principal::Principal;
use super::threads::{Message, Thread, ThreadStatus};

/// Longest accepted scoring-stats window, in hours (30 days).
pub const MAX_STATS_HOURS: i64 = 30 * 24;

/// One layer of `/api/scoring-stats`.
#[derive(Debug, Clone, Serialize)]
pub struct LayerStats {
    pub layer: String,
    pub fire_count: i64,
    pub avg_score: f64,
    pub outcomes: BTreeMap<String, i64>,
}

/// `/api/consultation/{id}/status`.
#[derive(Debug, Clone, Serialize)]
pub struct ConsultationStatus {
    pub status: ThreadStatus,
    pub messages: Vec<Message>,
    pub resolution_summary: Option<String>,
    pub expected_respondents: Vec<AgentId>,
}

/// Token usage of one agent turn (`POST /api/token-usage`).
#[derive(Debug, Clone, Default)]
pub struct TokenUsage {
    pub agent_id: String,
    pub session_id: Option<String>,
    pub run_id: Option<String>,
    pub model: Option<String>,
    pub turn: Option<i64>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read: Option<i64>,
    pub cache_creation: Option<i64>,
    pub thinking: Option<i64>,
}

const OUTCOMES: [&str; 8] =
    ["auto_resolved", "consensus", "timeout", "closed", "max_rounds", "agent_departure", "cancelled", "unresolved"];

impl Core {
    /// Open and resolving threads, newest first; with a run: that run's and un-scoped ones.
    pub async fn threads_active(&self, p: &Principal, run_id: Option<&str>) -> CoreResult<Vec<Thread>> {
        let run = run_id.filter(|r| !r.is_empty()).map(|r| RunId::parse("run_id", r)).transpose()?;
        let mut out = Vec::new();
        for status in [ThreadStatus::Open, ThreadStatus::Resolving] {
            let f = ThreadFilter { status: Some(status), limit: 100_000, ..ThreadFilter::default() };
            out.extend(self.inner.store.list_threads(&p.org, &f).await?);
        }
        out.retain(|t| run.as_ref().is_none_or(|r| t.run_id.is_none() || t.run_id.as_ref() == Some(r)));
        out.sort_by_key(|t| std::cmp::Reverse(t.created_at));
        Ok(out)
    }

    /// `/api/threads-summary`: counts per status of exactly this run.
    pub async fn threads_summary(&self, p: &Principal, run_id: &str) -> CoreResult<Value> {
        let run = RunId::parse("run_id", run_id)?;
        let counts = self.inner.store.thread_counts(&p.org, Some(&run)).await?;
        let mut by: BTreeMap<&str, i64> =
            ["open", "resolving", "resolved", "cancelled", "poisoned"].iter().map(|s| (*s, 0)).collect();
        for (s, n) in &counts {
            by.insert(s.as_str(), *n);
        }
        let total: i64 = by.values().sum();
        Ok(json!({"run_id": run, "total": total, "counts": by}))
    }

    /// `/api/check-interrupt`: live threads whose respondents include the agent.
    pub async fn check_interrupt(&self, p: &Principal, agent_id: &str) -> CoreResult<Value> {
        let agent = AgentId::parse("agent_id", agent_id)?;
        let threads: Vec<Value> = self
            .threads_active(p, None)
            .await?
            .into_iter()
            .filter(|t| t.expected_respondents.contains(&agent))
            .map(|t| {
                json!({"thread_id": t.id, "subject": t.subject, "initiator_id": t.initiator_id,
                       "status": t.status, "target_files": t.target_files})
            })
            .collect();
        Ok(if threads.is_empty() {
            json!({"interrupt": false})
        } else {
            json!({"interrupt": true, "threads": threads})
        })
    }

    /// `/api/consultation/{id}/status`.
    pub async fn consultation_status(&self, p: &Principal, thread_id: &str) -> CoreResult<ConsultationStatus> {
        let t = self.get_thread(p, thread_id).await?;
        Ok(ConsultationStatus {
            status: t.thread.status,
            messages: t.messages,
            resolution_summary: t.thread.resolution_summary,
            expected_respondents: t.thread.expected_respondents,
        })
    }

    /// `/api/agent-status/{id}`.
    pub async fn agent_status(&self, p: &Principal, agent_id: &str) -> CoreResult<Value> {
        let id = AgentId::parse("agent_id", agent_id)?;
        let Some(agent) = self.inner.store.get_agent(&p.org, &id).await? else {
            return Ok(json!({"registered": false, "status": "unknown"}));
        };
        let now = self.now();
        let online = agent.is_online(now, self.ttl());
        let rows = self.inner.store.list_activity(&p.org).await?;
        let activity = Activity::reported(&id, online, rows.iter().find(|r| r.agent_id == id), now);
        Ok(json!({"registered": true, "status": if online { "online" } else { "offline" }, "activity": activity}))
    }

    /// `/api/session-start`: a short briefing for a new session.
    pub async fn session_start(&self, p: &Principal) -> CoreResult<Value> {
        let status = self.coordinator_status(p, false).await?;
        let names: Vec<&str> = status.agents.iter().take(10).map(|a| a.name.as_str()).collect();
        let open = status.open_threads + status.resolving_threads;
        let briefing = [
            format!("Online agents: {} ({})", status.agents_online, names.join(", ")),
            format!("Open consultations: {open}"),
            format!("Hot files (last 30 min): {}", status.hot_files),
        ]
        .join("\n");
        Ok(json!({"briefing": briefing,
                  "summary": {"online": status.agents_online, "open_threads": open, "hot_files": status.hot_files}}))
    }

    /// `/api/scoring-stats` over the last `hours`.
    pub async fn scoring_stats(&self, p: &Principal, hours: i64) -> CoreResult<Value> {
        if !(1..=MAX_STATS_HOURS).contains(&hours) {
            return Err(CoreError::invalid("since", "must be between 1h and 30d"));
        }
        let now = self.now().trunc_secs();
        let since = now.minus_secs(hours * 3600);
        let rows = self.inner.store.layer_stats(&p.org, since).await?;
        let mut layers: BTreeMap<String, (i64, i64, BTreeMap<String, i64>)> = BTreeMap::new();
        for r in rows {
            let e = layers
                .entry(r.layer.clone())
                .or_insert_with(|| (0, 0, OUTCOMES.iter().map(|o| ((*o).to_owned(), 0)).collect()));
            e.0 += r.fire_count;
            e.1 += r.score_sum;
            *e.2.entry(r.outcome).or_insert(0) += r.fire_count;
        }
        let layers: Vec<LayerStats> = layers
            .into_iter()
            .map(|(layer, (n, sum, outcomes))| LayerStats {
                layer,
                fire_count: n,
                avg_score: if n > 0 { (sum as f64 / n as f64 * 100.0).round() / 100.0 } else { 0.0 },
                outcomes,
            })
            .collect();
        Ok(json!({"window": {"since": since.t1(), "now": now.t1()}, "layers": layers}))
    }

    /// `/api/token-usage`: recorded as a `token_usage` event.
    pub async fn token_usage(&self, p: &Principal, u: TokenUsage) -> CoreResult<()> {
        let agent = AgentId::parse("agent_id", &u.agent_id)?;
        if u.input_tokens < 0 || u.output_tokens < 0 {
            return Err(CoreError::invalid("input_tokens", "token counts must be non-negative"));
        }
        self.ensure_org(p).await?;
        let ev = DomainEvent::TokenUsage {
            agent_id: agent.to_string(),
            session_id: u.session_id,
            run_id: u.run_id,
            model: u.model,
            turn: u.turn,
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_read: u.cache_read,
            cache_creation: u.cache_creation,
            thinking: u.thinking,
        };
        let records = self.inner.store.append_events(&p.org, vec![ev], self.now()).await?;
        self.publish(&records);
        Ok(())
    }

    /// `/api/reset`: deletes the caller org's coordination data and rebuilds its indexes.
    pub async fn reset_org(&self, p: &Principal) -> CoreResult<BTreeMap<String, usize>> {
        let slot = self.slot(&p.org);
        let _w = slot.write.lock().await;
        let deleted = self.inner.store.reset_org(&p.org).await?;
        self.change_index(&p.org, &slot, vec![super::announce::sync::IndexChange::Reset]);
        Ok(deleted.into_iter().collect())
    }

    /// A thread id parsed for a path parameter.
    pub fn parse_thread_id(id: &str) -> CoreResult<ThreadId> {
        ThreadId::parse("id", id)
    }
}

/// Parses `<N>h` or `<N>d` into hours.
pub fn parse_window(s: &str) -> CoreResult<i64> {
    let bad = || CoreError::invalid("since", "expected <N>h or <N>d, at most 30d");
    let s = s.trim();
    if let Some(num) = s.strip_suffix('h') {
        num.parse().map_err(|_| bad())
    } else if let Some(num) = s.strip_suffix('d') {
        num.parse::<i64>().ok().and_then(|n| n.checked_mul(24)).ok_or_else(bad)
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::parse_window;

    #[test]
    fn windows() {
        assert_eq!(parse_window("24h").ok(), Some(24));
        assert_eq!(parse_window(" 2d ").ok(), Some(48));
        for bad in ["", "h", "d", "é", "5é", "2w", "1.5h", "9223372036854775807d"] {
            assert!(parse_window(bad).is_err(), "{bad}");
        }
    }
}
