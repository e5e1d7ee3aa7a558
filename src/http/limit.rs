//! Rate-limited routes (auth.md §11): a route checks its bucket first and answers 429 `RATE_LIMITED` with
//! `Retry-After` (seconds) and the error envelope when it is empty. Buckets are keyed by endpoint and client
//! address (the TCP peer until trusted proxies are configurable), shared across replicas through Redis.

use std::net::IpAddr;
use std::time::Duration;

use axum::http::StatusCode;

use super::Limits;
use super::error::ApiError;
use crate::config::RateLimit;

/// Takes a token from `endpoint`'s bucket of `client`; the 429 error when there is none.
pub async fn check(limits: &Limits, endpoint: &str, client: IpAddr, limit: RateLimit) -> Result<(), ApiError> {
    let window = Duration::from_secs(limit.window_secs);
    let d = limits.limiter.check(endpoint, &client.to_string(), limit.per, window).await;
    if d.allowed {
        return Ok(());
    }
    tracing::info!(component = "http", endpoint, "rate limited");
    Err(ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
        "Too many requests from this address; retry later",
    )
    .with_retry_after(u32::try_from(d.retry_after_secs).unwrap_or(u32::MAX)))
}
