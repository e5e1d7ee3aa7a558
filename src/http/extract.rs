//! Extractors: `Input<T>` reads a JSON body (POST) or the query string (GET) into `T`, with 400
//! `INVALID_JSON` / `INVALID_REQUEST` naming the failing field paths and 413 over the body cap; `Caller` is the
//! request's principal (open mode until an auth layer inserts one).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::ApiError;
use crate::core::principal::Principal;

/// The caller's principal.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(Caller(parts.extensions.get::<Principal>().cloned().unwrap_or_else(Principal::open_mode)))
    }
}

/// A single path parameter (`{id}`), with the envelope 400 instead of axum's plain-text rejection.
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| PathParam(v))
            .map_err(|e| ApiError::validation(vec![("id".into(), e.body_text())]))
    }
}

/// Input from a JSON body (POST) or query parameters (GET), validated into `T`.
pub struct Input<T>(pub T);

fn decode<T: DeserializeOwned>(v: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.into_inner().to_string();
        let field = msg
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
            .map(str::to_owned)
            .unwrap_or_else(|| if path == "." { "body".to_owned() } else { path });
        ApiError::validation(vec![(field, msg)])
    })
}

/// Query values are strings: numbers and booleans are converted when they parse as such.
fn query_value(s: &str) -> Value {
    if let Ok(n) = s.parse::<i64>() {
        return Value::from(n);
    }
    match s {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(s.to_owned()),
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Input<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if req.method() == Method::GET {
            let mut typed = Map::new();
            let mut strings = Map::new();
            for (k, v) in url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()) {
                typed.insert(k.clone().into_owned(), query_value(&v));
                strings.insert(k.into_owned(), Value::String(v.into_owned()));
            }
            // `agent_id=42` is a string field holding "42": retry with every value kept as text.
            return decode(Value::Object(typed)).or_else(|e| decode(Value::Object(strings)).map_err(|_| e)).map(Input);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "Request body is too large")
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", e.body_text())
            }
        })?;
        let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Map::new())
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_JSON", format!("Malformed JSON: {e}")))?
        };
        if !value.is_object() {
            return Err(ApiError::validation(vec![("body".into(), "expected a JSON object".into())]));
        }
        decode(value).map(Input)
    }
}
