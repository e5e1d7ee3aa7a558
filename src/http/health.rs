//! `/livez`, `/healthz`, `/health`, `/readyz`: probes that never need auth or a Host match. Readiness is 503
//! while the store does not answer, the schema is not the one this binary expects, or the process drains.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::AppState;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn uptime(started: Instant) -> u64 {
    started.elapsed().as_secs()
}

pub async fn livez(State(s): State<AppState>) -> Json<Value> {
    Json(json!({"status": "alive", "uptime_seconds": uptime(s.started), "version": VERSION}))
}

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "alive"}))
}

pub async fn health(State(s): State<AppState>) -> Json<Value> {
    let storage = s.core.store().ping().await.is_ok();
    let mut warnings: Vec<String> = Vec::new();
    if s.info.bind_all {
        warnings.push(
            "listening on all interfaces in open mode: anyone who can reach the port can act as any agent".into(),
        );
    }
    if s.info.other_replica && s.info.redis_connected.is_none() {
        warnings.push(
            "another server uses this Postgres database without Redis: set COORDINATOR_REDIS_URL on every replica \
             (events, indexes and leases do not cross replicas without it)"
                .into(),
        );
    }
    if s.info.redis_connected.as_ref().is_some_and(|c| !c.load(std::sync::atomic::Ordering::Relaxed)) {
        warnings.push(
            "Redis unreachable: serving from the store; events of other replicas arrive on reconnect; singleton jobs \
             are paused and rate limits are per replica"
                .into(),
        );
    }
    if let Some(e) = &s.info.mqtt_tcp_error {
        warnings.push(format!("MQTT TCP listener unavailable ({e}); MQTT over WebSocket still works"));
    }
    if s.retention.as_ref().is_some_and(|r| r.status().circuit_open) {
        warnings.push("retention sweeper circuit breaker is open".into());
    }
    Json(json!({
        "status": "ok",
        "version": VERSION,
        "uptime_seconds": uptime(s.started),
        "storage": {"ok": storage, "backend": s.info.storage_backend},
        "redis": s.info.redis_check(),
        "auth_enabled": false,
        "oauth_enabled": false,
        "jwt_secret_set": false,
        "http_port": s.info.http_port,
        "mqtt_tcp_port": s.info.mqtt_tcp_port,
        "repo_roots": s.core.settings().repo_roots.display(),
        "warnings": warnings,
    }))
}

/// `{ok, embedded, tcp: {ok, port, error?}}`: the bus state and what the TCP listener became (`tcp` is null with an
/// external broker).
fn mqtt_check(s: &AppState) -> Value {
    if !s.info.mqtt_embedded {
        return json!({"ok": s.core.mqtt_connected(), "embedded": false, "tcp": null});
    }
    let mut tcp = json!({"ok": s.info.mqtt_tcp_port.is_some(), "port": s.info.mqtt_tcp_port});
    if let Some(e) = &s.info.mqtt_tcp_error {
        tcp["error"] = json!(e);
    }
    json!({"ok": s.core.mqtt_connected(), "embedded": true, "tcp": tcp})
}

pub async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    let db = s.core.store().ping().await.is_ok();
    let (version, expected) = s.core.store().schema_version().await.unwrap_or((0, -1));
    let schema_ok = db && version == expected;
    let draining = s.shutdown.is_cancelled();
    let ready = db && schema_ok && !draining;
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {
            "db": {"ok": db},
            "schema": {"ok": schema_ok, "version": version, "expected": expected},
            "mqtt": mqtt_check(&s),
            "redis": s.info.redis_check(),
        },
        "draining": draining,
    });
    let code = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body))
}
