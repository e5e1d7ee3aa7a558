//! `GET /api/openapi.json`: the hand-written OpenAPI 3.1 document of the REST API, embedded in the binary.

use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;

/// The document; `tests/it/openapi.rs` keeps its paths and methods in step with `route_table()`.
pub const DOCUMENT: &str = include_str!("../openapi.json");

pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], DOCUMENT)
}
