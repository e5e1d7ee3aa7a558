//! The one integration test binary: full-app tests over real transports (MCP, REST, SSE, the dashboard), the store
//! conformance suite and the scoring equivalence property test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod app;
mod architecture;
mod dashboard;
mod openapi;
mod rest;
mod scoring;
mod store;
mod support;
