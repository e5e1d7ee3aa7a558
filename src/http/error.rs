//! `ApiError`: the one mapping table from `CoreError` to HTTP status and body. App errors use the envelope
//! `{code, message, request_id, details?}` (the request id is filled in by the request-id middleware); a few
//! routes keep the reference's legacy shapes. Internal errors are logged once and never leak their text.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::core::error::CoreError;

/// Marks a response whose JSON body should receive the `request_id`.
#[derive(Debug, Clone, Copy)]
pub struct Envelope;

/// An HTTP error response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
    envelope: bool,
    retry_after: Option<u32>,
}

impl ApiError {
    /// An envelope error `{code, message, details?}`.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self { status, body: json!({"code": code, "message": message.into()}), envelope: true, retry_after: None }
    }

    /// A legacy-shaped body kept from the reference (`{error: …}`).
    pub fn legacy(status: StatusCode, body: Value) -> Self {
        Self { status, body, envelope: false, retry_after: None }
    }

    /// 400 `INVALID_REQUEST` with the failing field paths.
    pub fn validation(issues: Vec<(String, String)>) -> Self {
        let issues: Vec<Value> =
            issues.into_iter().map(|(path, message)| json!({"path": path, "message": message})).collect();
        let mut e = Self::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", "Request body failed validation");
        e.body["details"] = json!({"issues": issues});
        e
    }

    pub fn with_retry_after(mut self, secs: u32) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn not_found() -> Self {
        Self::legacy(StatusCode::NOT_FOUND, json!({"error": "not found"}))
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        use StatusCode as S;
        let msg = e.to_string();
        match &e {
            CoreError::InvalidArgument { field, problem } => Self::validation(vec![(field.clone(), problem.clone())]),
            CoreError::InvalidPath { .. } => Self::new(S::BAD_REQUEST, "INVALID_PATH", msg),
            CoreError::ThreadNotFound(_)
            | CoreError::AgentNotRegistered(_)
            | CoreError::ModuleNotFound(_)
            | CoreError::IntrospectionNotFound(_) => Self::new(S::NOT_FOUND, e.code(), msg),
            CoreError::ThreadCancelled(_) => Self::legacy(S::GONE, json!({"error": "thread_cancelled"})),
            CoreError::NotInitiatorOrClaimant | CoreError::NotInitiatorClose | CoreError::NotInitiatorCancel => {
                Self::new(S::FORBIDDEN, e.code(), msg)
            }
            CoreError::InsufficientScope { .. } => Self::new(S::FORBIDDEN, e.code(), msg),
            CoreError::NotResolving(_)
            | CoreError::CannotPropose(_)
            | CoreError::CannotClose { .. }
            | CoreError::AlreadyResponded(_)
            | CoreError::IntrospectionExpired(_) => Self::new(S::CONFLICT, e.code(), msg),
            CoreError::TopicReserved(_) => Self::new(S::FORBIDDEN, e.code(), msg),
            CoreError::NoMqttBus | CoreError::ShuttingDown => Self::new(S::SERVICE_UNAVAILABLE, e.code(), msg),
            CoreError::Store(se) if se.is_unavailable() => {
                tracing::error!(component = "http", error = %e, "storage unavailable");
                Self::new(S::SERVICE_UNAVAILABLE, "STORE_UNAVAILABLE", "Storage is unavailable; retry shortly")
                    .with_retry_after(5)
            }
            CoreError::Store(_) => {
                tracing::error!(component = "http", error = %e, "request failed");
                Self::new(S::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "Internal server error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.body)).into_response();
        if self.envelope {
            res.extensions_mut().insert(Envelope);
        }
        if let Some(s) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res
    }
}

/// Result of a REST handler.
pub type ApiResult<T> = Result<T, ApiError>;
