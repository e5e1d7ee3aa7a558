//! The one integration test binary: full-app tests over real transports (MCP, REST, SSE, dashboard), the CLI
//! on the real binary, the store conformance suite, the OpenAPI document and the scoring equivalence property
//! test, and the embedded MQTT broker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod app;
mod architecture;
mod cli;
mod dashboard;
mod mqtt;
mod openapi;
mod rest;
mod scoring;
mod sessions;
mod store;
mod support;
