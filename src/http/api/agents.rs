//! Agent routes: register, the agent list with activity, session start/stop, agent status, interrupt check,
//! token usage.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::core::reports::TokenUsage;
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{Caller, Input, PathParam};

#[derive(Deserialize)]
pub struct Register {
    agent_id: String,
    name: String,
    #[serde(default)]
    modules: Vec<String>,
}

pub async fn register(
    State(s): State<AppState>,
    Caller(p): Caller,
    Input(b): Input<Register>,
) -> ApiResult<Json<Value>> {
    let agent = s.core.register_agent(&p, &b.agent_id, &b.name, &b.modules).await?;
    Ok(Json(json!(agent)))
}

/// `GET /api/agents`: every registered agent of the org (Agent rows as `list_agents`), each with `online` and its
/// reported `activity` (as `agent_activity`; null when offline). Feeds the dashboard's agent panel.
pub async fn list(State(s): State<AppState>, Caller(p): Caller) -> ApiResult<Json<Value>> {
    let agents = s.core.list_agents(&p, false).await?;
    let activity = s.core.agent_activity(&p).await?;
    let rows: Vec<Value> = agents
        .iter()
        .map(|a| {
            let act = activity.iter().find(|x| x.agent_id == a.id);
            let mut row = json!(a);
            row["online"] = json!(act.is_some());
            row["activity"] = json!(act);
            row
        })
        .collect();
    Ok(Json(json!({"agents": rows})))
}

#[derive(Deserialize)]
pub struct MaybeAgent {
    #[allow(dead_code)]
    agent_id: Option<String>,
}

pub async fn session_start(
    State(s): State<AppState>,
    Caller(p): Caller,
    Input(_): Input<MaybeAgent>,
) -> ApiResult<Json<Value>> {
    Ok(Json(s.core.session_start(&p).await?))
}

#[derive(Deserialize)]
pub struct AgentOnly {
    agent_id: String,
}

pub async fn session_stop(
    State(s): State<AppState>,
    Caller(p): Caller,
    Input(b): Input<AgentOnly>,
) -> ApiResult<Json<Value>> {
    s.core.depart_agent(&p, &b.agent_id, "session_stop").await?;
    Ok(Json(json!({"ok": true})))
}

pub async fn agent_status(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathParam(id): PathParam,
) -> ApiResult<Json<Value>> {
    Ok(Json(s.core.agent_status(&p, &id).await?))
}

pub async fn check_interrupt(
    State(s): State<AppState>,
    Caller(p): Caller,
    Input(b): Input<AgentOnly>,
) -> ApiResult<Json<Value>> {
    Ok(Json(s.core.check_interrupt(&p, &b.agent_id).await?))
}

#[derive(Deserialize)]
pub struct Usage {
    agent_id: String,
    session_id: Option<String>,
    run_id: Option<String>,
    model: Option<String>,
    turn: Option<i64>,
    input_tokens: i64,
    output_tokens: i64,
    cache_read: Option<i64>,
    cache_creation: Option<i64>,
    thinking: Option<i64>,
}

pub async fn token_usage(
    State(s): State<AppState>,
    Caller(p): Caller,
    Input(b): Input<Usage>,
) -> ApiResult<Json<Value>> {
    let u = TokenUsage {
        agent_id: b.agent_id,
        session_id: b.session_id,
        run_id: b.run_id,
        model: b.model,
        turn: b.turn,
        input_tokens: b.input_tokens,
        output_tokens: b.output_tokens,
        cache_read: b.cache_read,
        cache_creation: b.cache_creation,
        thinking: b.thinking,
    };
    s.core.token_usage(&p, u).await?;
    Ok(Json(json!({"ok": true})))
}
