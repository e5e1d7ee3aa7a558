//! Status routes: `/api/status`, `/api/scoring-stats`, and the gated `/api/reset`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::core::principal::Role;
use crate::core::reports::parse_window;
use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Caller, Input};

#[derive(Deserialize)]
pub struct Nothing {}

pub async fn status(State(s): State<AppState>, Caller(p): Caller) -> ApiResult<Json<Value>> {
    let st = s.core.coordinator_status(&p, s.core.mqtt_connected()).await?;
    Ok(Json(json!({"online": st.agents_online, "open_threads": st.open_threads + st.resolving_threads,
        "hot_files": st.hot_files, "mqtt": {"connected": s.core.mqtt_connected()}})))
}

#[derive(Deserialize)]
pub struct Window {
    since: Option<String>,
}

pub async fn scoring_stats(
    State(s): State<AppState>,
    Caller(p): Caller,
    Input(b): Input<Window>,
) -> ApiResult<Json<Value>> {
    let hours = parse_window(b.since.as_deref().unwrap_or("24h"))?;
    Ok(Json(s.core.scoring_stats(&p, hours).await?))
}

pub async fn reset(State(s): State<AppState>, Caller(p): Caller, Input(_): Input<Nothing>) -> ApiResult<Json<Value>> {
    if p.role != Role::Admin {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "INSUFFICIENT_SCOPE", "Resetting requires the admin role"));
    }
    if !s.allow_reset {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "RESET_DISABLED",
            "Reset is disabled; set COORDINATOR_ALLOW_RESET=true to enable it",
        ));
    }
    let deleted = s.core.reset_org(&p).await?;
    Ok(Json(json!({"ok": true, "deleted": deleted})))
}
