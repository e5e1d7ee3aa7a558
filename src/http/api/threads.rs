//! Thread routes: announce, post, work-pool claims, resolution, listings, consultation status, introspection.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::core::announce::AnnounceInput;
use crate::core::error::CoreError;
use crate::core::threads::{ClaimOutcome, PostInput};
use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Caller, Input, PathParam};

#[derive(Deserialize)]
pub struct Announce {
    agent_id: String,
    agent_name: Option<String>,
    subject: String,
    plan: Option<String>,
    target_modules: Vec<String>,
    target_files: Vec<String>,
    depends_on_files: Option<Vec<String>>,
    exports_affected: Option<Vec<String>>,
    #[serde(default)]
    keep_open: bool,
    assigned_to: Option<String>,
    target_symbols: Option<Vec<String>>,
    run_id: Option<String>,
}

pub async fn announce(
    State(s): State<AppState>,
    Caller(p): Caller,
    Input(b): Input<Announce>,
) -> ApiResult<Json<Value>> {
    let input = AnnounceInput {
        agent_id: b.agent_id,
        agent_name: b.agent_name,
        subject: b.subject,
        plan: b.plan,
        target_modules: b.target_modules,
        target_files: b.target_files,
        depends_on_files: b.depends_on_files,
        exports_affected: b.exports_affected,
        keep_open: b.keep_open,
        assigned_to: b.assigned_to,
        target_symbols: b.target_symbols.unwrap_or_default(),
        run_id: b.run_id,
    };
    let r = s.core.announce(&p, input).await?;
    Ok(Json(json!({"thread_id": r.thread.id, "status": r.thread.status, "impact": r.impact,
        "plan_quality": r.plan_quality, "plan_downgrade_reason": r.plan_downgrade_reason, "conflicts": r.conflicts})))
}

#[derive(Deserialize)]
pub struct Post {
    thread_id: String,
    agent_id: String,
    agent_name: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    content: String,
}

pub async fn post(State(s): State<AppState>, Caller(p): Caller, Input(b): Input<Post>) -> ApiResult<Json<Value>> {
    let thread_id = b.thread_id.clone();
    let input = PostInput {
        thread_id: b.thread_id,
        agent_id: b.agent_id,
        agent_name: b.agent_name,
        kind: b.kind,
        content: b.content,
        ..PostInput::default()
    };
    match s.core.post_to_thread(&p, input).await {
        Ok(m) => Ok(Json(json!(m))),
        Err(CoreError::ThreadNotFound(_)) => {
            Err(ApiError::legacy(StatusCode::NOT_FOUND, json!({"error": "thread_not_found", "thread_id": thread_id})))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct ThreadAgent {
    thread_id: String,
    agent_id: String,
}

pub async fn claim(
    State(s): State<AppState>,
    Caller(p): Caller,
    Input(b): Input<ThreadAgent>,
) -> ApiResult<Json<Value>> {
    Ok(Json(match s.core.claim_task(&p, &b.thread_id, &b.agent_id).await? {
        ClaimOutcome::Claimed(_) => json!({"success": true}),
        ClaimOutcome::Refused(r) => {
            let mut v =
                json!({"success": false, "claimed_by": r.claimed_by, "assigned_to": r.assigned_to, "status": r.status});
            if let Some((t, files)) = r.conflict {
                v["conflict"] = json!({"thread_id": t, "files": files});
            }
            v
        }
    }))
}

pub async fn unclaim(
    State(s): State<AppState>,
    Caller(p): Caller,
    Input(b): Input<ThreadAgent>,
) -> ApiResult<Json<Value>> {
    let (success, poisoned) = s.core.unclaim_task(&p, &b.thread_id, &b.agent_id).await?;
    Ok(Json(json!({"success": success, "poisoned": poisoned})))
}

#[derive(Deserialize)]
pub struct Propose {
    thread_id: String,
    agent_id: String,
    summary: String,
}

pub async fn propose(State(s): State<AppState>, Caller(p): Caller, Input(b): Input<Propose>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.core.propose_resolution(&p, &b.thread_id, &b.agent_id, &b.summary).await?)))
}

pub async fn approve(
    State(s): State<AppState>,
    Caller(p): Caller,
    Input(b): Input<ThreadAgent>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.core.approve_resolution(&p, &b.thread_id, &b.agent_id).await?)))
}

#[derive(Deserialize)]
pub struct Run {
    run_id: Option<String>,
}

pub async fn active(State(s): State<AppState>, Caller(p): Caller, Input(b): Input<Run>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.core.threads_active(&p, b.run_id.as_deref()).await?)))
}

#[derive(Deserialize)]
pub struct RunRequired {
    run_id: String,
}

pub async fn summary(
    State(s): State<AppState>,
    Caller(p): Caller,
    Input(b): Input<RunRequired>,
) -> ApiResult<Json<Value>> {
    Ok(Json(s.core.threads_summary(&p, &b.run_id).await?))
}

pub async fn consultation_status(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathParam(id): PathParam,
) -> ApiResult<Json<Value>> {
    match s.core.consultation_status(&p, &id).await {
        Ok(c) => Ok(Json(json!(c))),
        Err(CoreError::ThreadNotFound(_)) => {
            Err(ApiError::legacy(StatusCode::NOT_FOUND, json!({"error": "thread_not_found", "thread_id": id})))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct Response {
    introspection_id: String,
    concerned: bool,
    reason: String,
}

pub async fn introspection_response(
    State(s): State<AppState>,
    Caller(p): Caller,
    Input(b): Input<Response>,
) -> ApiResult<Json<Value>> {
    let (row, joined) = s.core.respond_introspection(&p, &b.introspection_id, b.concerned, &b.reason).await?;
    let mut v = json!(row);
    v["joined"] = json!(joined);
    Ok(Json(v))
}

#[derive(Deserialize)]
pub struct AgentQuery {
    agent_id: String,
}

pub async fn pending_introspections(
    State(s): State<AppState>,
    Caller(p): Caller,
    Input(b): Input<AgentQuery>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.core.pending_introspections(&p, &b.agent_id).await?)))
}
