//! Cross-cutting HTTP rules (http-api.md §1): request ids, the legacy 405 body, security headers, the Host
//! allow-list (DNS-rebinding protection) and the Origin/CORS policy.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::{ApiError, Envelope};

/// The request id of the current request.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

const ERROR_BODY_CAP: usize = 64 * 1024;

fn valid_request_id(s: &str) -> bool {
    (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

/// Keeps a valid incoming `X-Request-Id` or makes one; echoes it; fills it into envelope error bodies; gives
/// 405 responses the legacy JSON body; adds baseline security headers.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = next.run(req).await;
    if res.status() == StatusCode::METHOD_NOT_ALLOWED && !res.headers().contains_key(header::CONTENT_TYPE) {
        let allow = res.headers().get(header::ALLOW).cloned();
        res = ApiError::legacy(StatusCode::METHOD_NOT_ALLOWED, json!({"error": "method not allowed"})).into_response();
        if let Some(a) = allow {
            res.headers_mut().insert(header::ALLOW, a);
        }
    }
    if res.extensions().get::<Envelope>().is_some() {
        res = fill_request_id(res, &id).await;
    }
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("x-request-id", v);
    }
    h.entry("x-content-type-options").or_insert(HeaderValue::from_static("nosniff"));
    h.entry("referrer-policy").or_insert(HeaderValue::from_static("same-origin"));
    res
}

async fn fill_request_id(res: Response, id: &str) -> Response {
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, ERROR_BODY_CAP).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(mut m)) => {
            m.insert("request_id".into(), Value::String(id.to_owned()));
            Body::from(Value::Object(m).to_string())
        }
        _ => Body::from(bytes),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, body)
}

/// Host and Origin policy, shared by the middleware.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Extra allowed hosts (`*` = any); loopback is always allowed.
    pub hosts: Vec<String>,
    /// Extra allowed origins (`scheme://host[:port]`); loopback is always allowed.
    pub origins: Vec<String>,
}

fn host_name(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority
        .rsplit_once(':')
        .map_or(authority, |(h, p)| if p.bytes().all(|b| b.is_ascii_digit()) { h } else { authority })
}

fn is_loopback(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    h == "localhost" || h == "127.0.0.1" || h == "::1" || h.starts_with("127.")
}

impl Policy {
    pub fn host_allowed(&self, authority: &str) -> bool {
        let host = host_name(authority);
        is_loopback(host)
            || self.hosts.iter().any(|h| h == "*" || h.eq_ignore_ascii_case(authority) || h.eq_ignore_ascii_case(host))
    }

    pub fn origin_allowed(&self, origin: &str) -> bool {
        let Some((scheme, rest)) = origin.split_once("://") else { return false };
        if (scheme == "http" || scheme == "https") && is_loopback(host_name(rest)) {
            return true;
        }
        self.origins.iter().any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }
}

fn forbidden(msg: &str) -> Response {
    ApiError::legacy(StatusCode::FORBIDDEN, json!({"error": msg})).into_response()
}

fn cors_headers(h: &mut HeaderMap, origin: &HeaderValue) {
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("mcp-session-id, x-request-id"));
}

/// Host allow-list, Origin checks and CORS for `/api/*` (and preflights everywhere).
pub async fn origin_and_host(State(policy): State<Arc<Policy>>, req: Request, next: Next) -> Response {
    let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if !host.is_empty() && !policy.host_allowed(&host) {
        return forbidden("Host not allowed");
    }
    let origin = req.headers().get(header::ORIGIN).cloned();
    let allowed = origin.as_ref().is_none_or(|o| o.to_str().is_ok_and(|o| policy.origin_allowed(o)));
    if req.method() == Method::OPTIONS {
        let Some(o) = origin.filter(|_| allowed) else { return forbidden("Origin not allowed") };
        let mut res = StatusCode::NO_CONTENT.into_response();
        let h = res.headers_mut();
        cors_headers(h, &o);
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, PATCH, DELETE, OPTIONS"));
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(
                "Content-Type, Authorization, mcp-session-id, mcp-protocol-version, last-event-id, x-request-id, x-csrf-token",
            ),
        );
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        return res;
    }
    if !allowed && req.method() != Method::GET {
        return forbidden("Origin not allowed");
    }
    let mut res = next.run(req).await;
    if let Some(o) = origin.filter(|_| allowed) {
        cors_headers(res.headers_mut(), &o);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_origins() {
        let p = Policy { hosts: vec!["coord.example.com".into()], origins: vec!["https://app.example.com".into()] };
        assert!(p.host_allowed("localhost:3100") && p.host_allowed("127.0.0.1") && p.host_allowed("[::1]:80"));
        assert!(p.host_allowed("coord.example.com:443"));
        assert!(!p.host_allowed("evil.example"));
        assert!(p.origin_allowed("http://localhost:5173") && p.origin_allowed("https://app.example.com"));
        assert!(!p.origin_allowed("https://evil.example") && !p.origin_allowed("null"));
        assert!(valid_request_id("abc-1.2:3") && !valid_request_id("a b") && !valid_request_id(&"x".repeat(129)));
    }
}
