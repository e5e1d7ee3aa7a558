//! `CoreBackend`: the 26 tools mapped onto `Core`, one short arm each (DTO → Core → result). Domain errors
//! become the English messages of mcp-tools.md §1; internal failures are logged once and answered with
//! `Internal error (request <id>)`.

use serde::Serialize;
use serde_json::Value;

use super::args::ToolCall;
use super::{CallCtx, ToolBackend, ToolReply};
use crate::core::Core;
use crate::core::announce::AnnounceInput;
use crate::core::deps::ModuleInfo;
use crate::core::error::{CoreError, CoreResult};
use crate::core::ids::AgentId;
use crate::core::ports::ThreadFilter;
use crate::core::principal::Principal;
use crate::core::threads::{PostInput, ThreadStatus};

/// Runs tool calls against the core. The MQTT tools work once an MQTT bus is attached to the core (stdio never
/// has one).
#[derive(Clone)]
pub struct CoreBackend {
    core: Core,
}

impl CoreBackend {
    pub fn new(core: Core) -> Self {
        Self { core }
    }
}

fn json<T: Serialize>(v: CoreResult<T>) -> CoreResult<ToolReply> {
    v.map(|v| ToolReply::Json(serde_json::to_value(v).unwrap_or(Value::Null)))
}

fn reply(result: CoreResult<ToolReply>, tool: &'static str) -> ToolReply {
    match result {
        Ok(r) => r,
        Err(e) if e.is_internal() => {
            let request_id = uuid::Uuid::new_v4();
            tracing::error!(component = "mcp", tool, %request_id, error = %e, "tool failed");
            ToolReply::Error(format!("Internal error (request {request_id})"))
        }
        Err(e) => ToolReply::Error(e.to_string()),
    }
}

fn status_filter(s: Option<&str>) -> CoreResult<Option<ThreadStatus>> {
    s.filter(|s| !s.is_empty())
        .map(|s| {
            ThreadStatus::parse(s).ok_or_else(|| {
                CoreError::invalid("status", "must be one of open, resolving, resolved, cancelled, poisoned")
            })
        })
        .transpose()
}

fn opt_agent(field: &str, v: Option<&str>) -> CoreResult<Option<AgentId>> {
    v.filter(|s| !s.is_empty()).map(|s| AgentId::parse(field, s)).transpose()
}

#[async_trait::async_trait]
impl ToolBackend for CoreBackend {
    async fn call(&self, p: Principal, call: ToolCall, ctx: CallCtx) -> ToolReply {
        let tool = call.name();
        reply(self.dispatch(&p, call, ctx).await, tool)
    }
}

impl CoreBackend {
    async fn dispatch(&self, p: &Principal, call: ToolCall, ctx: CallCtx) -> CoreResult<ToolReply> {
        let c = &self.core;
        match call {
            ToolCall::RegisterAgent(a) => json(c.register_agent(p, &a.agent_id, &a.name, &a.modules).await),
            ToolCall::ListAgents(a) => json(c.list_agents(p, a.online_only).await),
            ToolCall::Heartbeat(a) => {
                json(c.heartbeat(p, &a.agent_id, a.current_file.as_deref(), a.current_thread.as_deref()).await)
            }
            ToolCall::AgentActivity(_) => json(c.agent_activity(p).await),
            ToolCall::AnnounceWork(a) => {
                let input = AnnounceInput {
                    agent_id: a.agent_id,
                    agent_name: None,
                    subject: a.subject,
                    plan: a.plan,
                    target_modules: a.target_modules,
                    target_files: a.target_files,
                    depends_on_files: a.depends_on_files,
                    exports_affected: a.exports_affected,
                    keep_open: a.keep_open,
                    assigned_to: a.assigned_to,
                    target_symbols: a.target_symbols.unwrap_or_default(),
                    run_id: a.run_id,
                };
                json(c.announce(p, input).await)
            }
            ToolCall::PostToThread(a) => {
                let kind = serde_json::to_value(a.kind).ok().and_then(|v| v.as_str().map(str::to_owned));
                let input = PostInput {
                    thread_id: a.thread_id,
                    agent_id: a.agent_id,
                    agent_name: a.agent_name,
                    kind: kind.unwrap_or_default(),
                    content: a.content,
                    context_snapshot: a.context_snapshot,
                    in_reply_to: a.in_reply_to,
                };
                json(c.post_to_thread(p, input).await)
            }
            ToolCall::ProposeResolution(a) => {
                json(c.propose_resolution(p, &a.thread_id, &a.agent_id, &a.summary).await)
            }
            ToolCall::ApproveResolution(a) => json(c.approve_resolution(p, &a.thread_id, &a.agent_id).await),
            ToolCall::ContestResolution(a) => json(c.contest_resolution(p, &a.thread_id, &a.agent_id, &a.reason).await),
            ToolCall::CloseThread(a) => {
                c.close_thread(p, &a.thread_id, &a.agent_id, &a.summary).await.map(|_| ToolReply::Word("closed"))
            }
            ToolCall::CancelThread(a) => c
                .cancel_thread(p, &a.thread_id, &a.agent_id, a.reason.as_deref())
                .await
                .map(|_| ToolReply::Word("cancelled")),
            ToolCall::GetThread(a) => json(c.get_thread(p, &a.thread_id).await),
            ToolCall::GetThreadUpdates(a) => json(c.get_thread_updates(p, &a.agent_id, a.since.as_deref()).await),
            ToolCall::ListThreads(a) => {
                let filter = ThreadFilter {
                    status: status_filter(a.status.as_deref())?,
                    initiator: opt_agent("agent_id", a.agent_id.as_deref())?,
                    module: a.module.filter(|m| !m.is_empty()),
                    assigned_to_me: opt_agent("assigned_to_me", a.assigned_to_me.as_deref())?,
                    limit: a.limit as usize,
                };
                json(c.list_threads(p, filter).await)
            }
            ToolCall::LogActionSummary(a) => {
                json(c.log_action_summary(p, &a.session_id, &a.agent_id, a.file_path.as_deref(), &a.summary).await)
            }
            ToolCall::HotFiles(a) => json(c.hot_files(p, Some(a.since_minutes as i64)).await),
            ToolCall::GetSessionFiles(a) => json(c.session_files(p, &a.session_id).await),
            ToolCall::CheckFileConflict(a) => {
                json(c.check_file_conflict(p, &a.file_path, &a.agent_id, Some(a.within_minutes as i64)).await)
            }
            ToolCall::SetDependencyMap(a) => {
                let modules = a
                    .modules
                    .0
                    .into_values()
                    .map(|m| ModuleInfo {
                        module_id: m.module_id,
                        depends_on: m.depends_on,
                        exports: m.exports,
                        owners: m.owners,
                    })
                    .collect();
                c.set_dependency_map(p, modules).await.map(|_| ToolReply::Word("ok"))
            }
            ToolCall::GetBlastRadius(a) => json(c.get_blast_radius(p, &a.module_id).await),
            ToolCall::GetModuleInfo(a) => json(c.get_module_info(p, &a.module_id).await),
            ToolCall::WaitForMessage(a) => {
                json(c.wait_for_message(p, &a.agent_id, a.timeout_seconds, &ctx.cancel).await)
            }
            ToolCall::GetQueuedMessages(a) => {
                json(c.get_queued_messages(p, &a.agent_id, a.require_ack, a.ack.as_deref()).await)
            }
            ToolCall::MqttPublish(a) => {
                c.mqtt_publish(p, &a.topic, &a.payload).await.map(|_| ToolReply::Word("published"))
            }
            ToolCall::CoordinatorStatus(_) => json(c.coordinator_status(p, c.mqtt_connected()).await),
            ToolCall::WaitForPeers(a) => {
                json(c.wait_for_peers(p, &a.agent_id, a.min_peers as usize, a.timeout_seconds, &ctx.cancel).await)
            }
        }
    }
}
