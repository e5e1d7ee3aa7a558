//! File routes: conflict check, edit hooks, file activity with content, hot files, working-file claims.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::core::files::FileEdit;
use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Caller, Input};

/// Longest accepted `content` of `/api/file-activity`, in characters.
pub const MAX_CONTENT_CHARS: usize = 262_144;

#[derive(Deserialize)]
pub struct CheckConflict {
    file: String,
    agent_id: String,
}

pub async fn check_conflict(
    State(s): State<AppState>,
    Caller(p): Caller,
    Input(b): Input<CheckConflict>,
) -> ApiResult<Json<Value>> {
    let c = s.core.check_file_conflict(&p, &b.file, &b.agent_id, None).await?;
    let path = s.core.settings().repo_roots.normalize(&b.file)?;
    let warnings: Vec<String> = c
        .agents
        .iter()
        .map(|a| {
            let name = a.agent_name.clone().unwrap_or_else(|| a.agent_id.to_string());
            format!("File {path} was edited by {name} within the last 30 minutes")
        })
        .collect();
    Ok(Json(json!({"conflict": c.conflict, "warnings": warnings})))
}

#[derive(Deserialize)]
pub struct LogFile {
    session_id: String,
    agent_id: String,
    agent_name: Option<String>,
    tool_name: String,
    file: String,
}

pub async fn log_file(
    State(s): State<AppState>,
    Caller(p): Caller,
    Input(b): Input<LogFile>,
) -> ApiResult<Json<Value>> {
    let edit = FileEdit {
        session_id: b.session_id,
        agent_id: b.agent_id,
        agent_name: b.agent_name,
        tool_name: b.tool_name,
        file_path: b.file,
        ..FileEdit::default()
    };
    s.core.record_edit(&p, edit, true).await?;
    Ok(Json(json!({"ok": true})))
}

#[derive(Deserialize)]
pub struct Activity {
    session_id: String,
    agent_id: String,
    tool_name: String,
    file_path: String,
    agent_name: Option<String>,
    content: Option<String>,
}

pub async fn file_activity(
    State(s): State<AppState>,
    Caller(p): Caller,
    Input(b): Input<Activity>,
) -> ApiResult<Json<Value>> {
    if b.content.as_ref().is_some_and(|c| c.chars().count() > MAX_CONTENT_CHARS) {
        return Err(ApiError::validation(vec![("content".into(), format!("at most {MAX_CONTENT_CHARS} characters"))]));
    }
    let hash = b.content.as_deref().map(crate::core::files::content_hash);
    let edit = FileEdit {
        session_id: b.session_id,
        agent_id: b.agent_id,
        agent_name: b.agent_name,
        tool_name: b.tool_name,
        file_path: b.file_path,
        symbols: None,
        content_hash: hash.clone(),
    };
    s.core.record_edit(&p, edit, false).await?;
    Ok(Json(json!({"ok": true, "content_hash": hash, "symbols_touched": null})))
}

#[derive(Deserialize)]
pub struct Since {
    since_minutes: Option<i64>,
}

pub async fn hot_files(State(s): State<AppState>, Caller(p): Caller, Input(b): Input<Since>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.core.hot_files(&p, b.since_minutes).await?)))
}

#[derive(Deserialize)]
pub struct Working {
    agent_id: String,
    file_path: String,
}

pub async fn working_start(
    State(s): State<AppState>,
    Caller(p): Caller,
    Input(b): Input<Working>,
) -> ApiResult<Json<Value>> {
    let until = s.core.start_working_file(&p, &b.agent_id, &b.file_path).await?;
    Ok(Json(json!({"ok": true, "claim_until": until.iso()})))
}

pub async fn working_stop(
    State(s): State<AppState>,
    Caller(p): Caller,
    Input(b): Input<Working>,
) -> ApiResult<Json<Value>> {
    s.core.stop_working_file(&p, &b.agent_id, &b.file_path).await?;
    Ok(Json(json!({"ok": true})))
}
