//! The one integration test binary: full-app tests over real transports (MCP, REST, SSE, dashboard), the CLI
//! on the real binary, the store conformance suite, the OpenAPI document and the scoring equivalence property
//! test, the embedded MQTT broker, the Channels sidecar, and the Redis leases and rate limits of several replicas.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod app;
mod architecture;
mod channel;
mod cli;
mod cluster;
mod dashboard;
mod lease;
mod mqtt;
mod openapi;
mod ratelimit;
mod rest;
mod scoring;
mod sessions;
mod store;
mod support;
