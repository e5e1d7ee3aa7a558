//! `announce_work` (mcp-tools.md §4.1): validate and normalise, score under the org's lock from one snapshot,
//! decide the verdict, write everything in one commit, then publish and build the context.

use crate::core::announce::sync::IndexChange;
use serde::Serialize;
use serde_json::json;

use super::conflicts;
use super::impact::{AnnounceQuery, modules_overlap, score_impact};
use super::index::RESOLVED_WINDOW_SECS;
use super::model::{ConflictReport, Impact, ImpactScore, PlanQuality};
use super::plan;
use crate::core::agents::check_modules;
use crate::core::error::{CoreError, CoreResult};
use crate::core::events::DomainEvent;
use crate::core::facade::Core;
use crate::core::files::ActionSummary;
use crate::core::ids::OrgId;
use crate::core::ids::{AgentId, RunId, ThreadId, new_uuid};
use crate::core::ports::{NewAnnouncement, StoreError};

/// Re-scorings after the store saw threads the index had not (another replica's, not yet synchronised).
const STALE_RETRIES: usize = 3;
use crate::core::principal::Principal;
use crate::core::threads::machine::{AUTO_SUMMARY, resolve};
use crate::core::threads::{
    DEFAULT_MAX_ROUNDS, DEFAULT_TIMEOUT_SECONDS, Introspection, IntrospectionStatus, ResolutionType, Thread,
    ThreadStatus,
};

/// Symbols per announcement and characters per symbol.
pub const MAX_SYMBOLS: usize = 200;
pub const MAX_SYMBOL_LEN: usize = 256;
/// Paths per list.
pub const MAX_PATHS: usize = 1000;
/// Summaries per agent in the context, and characters per summary.
pub const CONTEXT_SUMMARIES: usize = 10;
pub const CONTEXT_SUMMARY_CHARS: usize = 300;

/// The arguments of an announcement (MCP and REST share them).
#[derive(Debug, Clone, Default)]
pub struct AnnounceInput {
    pub agent_id: String,
    pub agent_name: Option<String>,
    pub subject: String,
    pub plan: Option<String>,
    pub target_modules: Vec<String>,
    pub target_files: Vec<String>,
    pub depends_on_files: Option<Vec<String>>,
    pub exports_affected: Option<Vec<String>>,
    pub keep_open: bool,
    pub assigned_to: Option<String>,
    pub target_symbols: Vec<String>,
    pub run_id: Option<String>,
}

/// One concerned or gray agent's context.
#[derive(Debug, Clone, Serialize)]
pub struct AgentContext {
    pub agent_id: AgentId,
    pub modules: Vec<String>,
    pub recent_files: Vec<String>,
    pub action_summaries: Vec<ActionSummary>,
}

/// The result of `announce_work`.
#[derive(Debug, Clone, Serialize)]
pub struct AnnounceOutcome {
    pub thread: Thread,
    pub conflicts: Vec<ConflictReport>,
    pub context: Vec<AgentContext>,
    pub impact: Impact,
    pub plan_quality: PlanQuality,
    pub plan_downgrade_reason: Option<String>,
}

fn check_symbols(symbols: &[String]) -> CoreResult<()> {
    if symbols.len() > MAX_SYMBOLS {
        return Err(CoreError::invalid("target_symbols", format!("at most {MAX_SYMBOLS} items")));
    }
    if let Some(i) = symbols.iter().position(|s| s.chars().count() > MAX_SYMBOL_LEN) {
        return Err(CoreError::invalid(format!("target_symbols[{i}]"), format!("at most {MAX_SYMBOL_LEN} characters")));
    }
    Ok(())
}

fn check_paths(field: &str, paths: &[String]) -> CoreResult<()> {
    if paths.len() > MAX_PATHS {
        return Err(CoreError::invalid(field, format!("at most {MAX_PATHS} items")));
    }
    Ok(())
}

fn scored_event(t: &ThreadId, s: &ImpactScore, category: &str) -> DomainEvent {
    DomainEvent::ImpactScored {
        thread_id: t.to_string(),
        agent_id: s.agent_id.to_string(),
        agent_name: s.agent_name.clone(),
        score: s.score,
        category: category.to_owned(),
        reasons: s.reasons.clone(),
        reason: s.reason.clone(),
        layer: s.layer.map(|l| l.as_str().to_owned()),
    }
}

/// The events and introspections of one announcement, in the normative order; resolves `thread` when the verdict
/// is not open. Public so the benchmark writes history exactly as `announce` does.
#[allow(clippy::too_many_arguments)]
pub fn announcement_events(
    thread: &mut Thread,
    impact: &Impact,
    conflicts: &[ConflictReport],
    plan_quality: &PlanQuality,
    downgrade: Option<&str>,
    announcer_name: &str,
    open: bool,
) -> (Vec<DomainEvent>, Vec<Introspection>) {
    let mut events = Vec::new();
    let resolved_ev = (!open).then(|| {
        resolve(thread, ResolutionType::AutoResolved, Some(AUTO_SUMMARY.to_owned()), None, false, thread.created_at)
    });
    events.push(DomainEvent::ThreadOpened {
        thread_id: thread.id.to_string(),
        initiator: thread.initiator_id.to_string(),
        agent_id: thread.initiator_id.to_string(),
        agent_name: announcer_name.to_owned(),
        subject: thread.subject.clone(),
        status: thread.status.as_str().to_owned(),
        target_modules: thread.target_modules.clone(),
        target_files: thread.target_files.iter().map(|f| f.to_string()).collect(),
        conflicts: json!(conflicts),
        expected_respondents: thread.expected_respondents.iter().map(|a| a.to_string()).collect(),
        mode: json!(plan_quality.mode).as_str().unwrap_or("discovery").to_owned(),
        plan: thread.plan.clone(),
        plan_quality: json!(plan_quality),
        run_id: thread.run_id.as_ref().map(|r| r.to_string()),
        created_at: thread.created_at.t1(),
    });
    for s in &impact.concerned {
        events.push(scored_event(&thread.id, s, "concerned"));
    }
    for s in &impact.gray_zone {
        events.push(scored_event(&thread.id, s, "gray_zone"));
    }
    for s in &impact.pass {
        events.push(scored_event(&thread.id, s, "pass"));
    }
    if let Some(reason) = downgrade {
        events.push(DomainEvent::ImpactScored {
            thread_id: thread.id.to_string(),
            agent_id: thread.initiator_id.to_string(),
            agent_name: announcer_name.to_owned(),
            score: i64::from(plan_quality.score),
            category: "plan_quality".to_owned(),
            reasons: vec![reason.to_owned()],
            reason: reason.to_owned(),
            layer: None,
        });
    }
    let mut introspections = Vec::new();
    if open {
        for s in &impact.gray_zone {
            let i = Introspection {
                id: new_uuid(),
                org_id: thread.org_id.clone(),
                thread_id: thread.id.clone(),
                agent_id: s.agent_id.clone(),
                score: s.score,
                reasons: s.reasons.clone(),
                status: IntrospectionStatus::Pending,
                response: None,
                concerned: None,
                created_at: thread.created_at,
                responded_at: None,
            };
            events.push(DomainEvent::IntrospectionRequested {
                introspection_id: i.id.clone(),
                thread_id: thread.id.to_string(),
                agent_id: s.agent_id.to_string(),
                score: s.score,
                reasons: s.reasons.clone(),
            });
            introspections.push(i);
        }
    }
    events.extend(resolved_ev);
    (events, introspections)
}

/// `(agent, layer label, score)` of every concerned or gray agent (the `layer_firings` rows).
pub fn firings(impact: &Impact) -> Vec<(AgentId, String, i64)> {
    impact
        .concerned
        .iter()
        .chain(&impact.gray_zone)
        .map(|s| (s.agent_id.clone(), s.layer.map_or("", |l| l.as_str()).to_owned(), s.score))
        .collect()
}

impl Core {
    /// `announce_work` / `POST /api/announce`.
    pub async fn announce(&self, p: &Principal, input: AnnounceInput) -> CoreResult<AnnounceOutcome> {
        let mut attempt = 0;
        loop {
            // The last attempt is not checked: it commits with what this process knows by then.
            match self.announce_once(p, &input, attempt < STALE_RETRIES).await {
                Err(CoreError::Store(StoreError::Stale(threads))) if attempt < STALE_RETRIES => {
                    attempt += 1;
                    self.learn_threads(&p.org, &threads).await?;
                }
                other => return other,
            }
        }
    }

    /// Loads threads another process committed into this process's index (not re-broadcast: they are theirs).
    async fn learn_threads(&self, org: &OrgId, ids: &[ThreadId]) -> CoreResult<()> {
        let slot = self.slot(org);
        let _w = slot.write.lock().await;
        for id in ids {
            let Some(t) = self.inner.store.get_thread(org, id).await? else { continue };
            let initiator = self.inner.store.get_agent(org, &t.initiator_id).await?;
            let mut idx = slot.index.lock();
            IndexChange::thread(&t).apply(&mut idx);
            if let Some(a) = initiator {
                let online = a.status == crate::core::agents::AgentStatus::Online;
                IndexChange::Agent { id: a.id, name: a.name, modules: a.modules, online, last_seen: a.last_seen_at }
                    .apply(&mut idx);
            }
        }
        Ok(())
    }

    async fn announce_once(&self, p: &Principal, input: &AnnounceInput, check: bool) -> CoreResult<AnnounceOutcome> {
        let announcer = AgentId::parse("agent_id", &input.agent_id)?;
        let subject = input.subject.trim().to_owned();
        if subject.is_empty() {
            return Err(CoreError::invalid("subject", "must not be empty"));
        }
        check_symbols(&input.target_symbols)?;
        check_paths("target_files", &input.target_files)?;
        let modules = check_modules("target_modules", &input.target_modules)?;
        let roots = &self.settings().repo_roots;
        let targets = roots.normalize_all(&input.target_files)?;
        let depends = input
            .depends_on_files
            .as_deref()
            .map(|d| check_paths("depends_on_files", d).and_then(|_| roots.normalize_all(d)))
            .transpose()?;
        let assigned = input
            .assigned_to
            .as_deref()
            .filter(|a| !a.is_empty())
            .map(|a| AgentId::parse("assigned_to", a))
            .transpose()?;
        let run_id =
            input.run_id.as_deref().filter(|r| !r.is_empty()).map(|r| RunId::parse("run_id", r)).transpose()?;
        let announcer_name =
            input.agent_name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| announcer.to_string());
        self.ensure_org(p).await?;

        let (plan_quality, downgrade) = plan::evaluate(input.plan.as_deref());
        let slot = self.slot(&p.org);
        let _w = slot.write.lock().await;
        let now = self.now().trunc_secs();
        let query = AnnounceQuery {
            announcer: announcer.clone(),
            run_id: run_id.clone(),
            targets: targets.clone(),
            depends: depends.clone().unwrap_or_default(),
            modules: modules.clone(),
            symbols: input.target_symbols.clone(),
            now,
        };
        let (impact, conflicts, name_known, layer0_known) = {
            let mut idx = slot.index.lock();
            let impact = score_impact(&mut idx, &query);
            let conflicts = conflicts::detect(&mut idx, &query, &impact);
            let known = idx.layer0_threads(&query.targets, &query.depends);
            (impact, conflicts, idx.agents.get(&announcer).map(|a| (a.name.clone(), a.modules.clone())), known)
        };
        let keep_open = input.keep_open || assigned.is_some();
        let open = !impact.concerned.is_empty() || keep_open;
        let mut thread = Thread {
            id: ThreadId::generate(),
            org_id: p.org.clone(),
            initiator_id: announcer.clone(),
            subject,
            plan: input.plan.clone(),
            target_modules: modules,
            target_files: targets,
            depends_on_files: depends,
            exports_affected: input.exports_affected.clone(),
            status: ThreadStatus::Open,
            resolution_summary: None,
            resolution_type: None,
            conflicts: Some(conflicts.clone()),
            round: 1,
            max_rounds: DEFAULT_MAX_ROUNDS,
            timeout_seconds: if keep_open { 0 } else { DEFAULT_TIMEOUT_SECONDS },
            keep_open,
            created_at: now,
            resolved_at: None,
            expected_respondents: impact.concerned.iter().map(|s| s.agent_id.clone()).collect(),
            claimed_by: None,
            claimed_at: None,
            unclaim_count: 0,
            assigned_to: assigned,
            run_id,
        };
        let display_name = name_known.as_ref().map_or_else(|| announcer_name.clone(), |n| n.0.clone());
        let (events, introspections) = announcement_events(
            &mut thread,
            &impact,
            &conflicts,
            &plan_quality,
            downgrade.as_deref(),
            &display_name,
            open,
        );
        let ann = NewAnnouncement {
            thread: thread.clone(),
            announcer_name,
            firings: firings(&impact),
            introspections,
            events,
            layer0_known: check.then_some(layer0_known),
            resolved_since: now.minus_secs(RESOLVED_WINDOW_SECS),
        };
        let records = self.inner.store.record_announcement(ann, now).await?;
        let (name, modules) = name_known.unwrap_or_else(|| (display_name.clone(), Vec::new()));
        self.change_index(
            &p.org,
            &slot,
            vec![
                IndexChange::Agent { id: announcer.clone(), name, modules, online: true, last_seen: now },
                IndexChange::thread(&thread),
            ],
        );
        drop(_w);
        self.publish(&records);
        let context = self.announce_context(p, &impact, &query.modules).await?;
        Ok(AnnounceOutcome { thread, conflicts, context, impact, plan_quality, plan_downgrade_reason: downgrade })
    }

    /// One AgentContext per concerned or gray agent.
    async fn announce_context(
        &self,
        p: &Principal,
        impact: &Impact,
        modules: &[String],
    ) -> CoreResult<Vec<AgentContext>> {
        let mut out = Vec::new();
        for s in impact.concerned.iter().chain(&impact.gray_zone) {
            let agent_modules =
                self.slot(&p.org).index.lock().agents.get(&s.agent_id).map(|a| a.modules.clone()).unwrap_or_default();
            let overlapping =
                agent_modules.into_iter().filter(|am| modules.iter().any(|m| modules_overlap(am, m))).collect();
            let mut summaries = self.inner.store.latest_summaries(&p.org, &s.agent_id, CONTEXT_SUMMARIES).await?;
            let mut recent_files: Vec<String> = Vec::new();
            for sm in &mut summaries {
                if let Some(f) = &sm.file_path
                    && !recent_files.iter().any(|r| r == f.as_str())
                {
                    recent_files.push(f.to_string());
                }
                if sm.summary.chars().count() > CONTEXT_SUMMARY_CHARS {
                    sm.summary = sm.summary.chars().take(CONTEXT_SUMMARY_CHARS).collect::<String>() + "…(truncated)";
                }
            }
            out.push(AgentContext {
                agent_id: s.agent_id.clone(),
                modules: overlapping,
                recent_files,
                action_summaries: summaries,
            });
        }
        Ok(out)
    }
}
