//! The one integration test binary: full-app tests over real transports (MCP, REST, SSE), the store
//! conformance suite, the scoring equivalence property test and the CLI run as the real binary in a temporary
//! HOME.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod app;
mod architecture;
mod cli;
mod rest;
mod scoring;
mod store;
mod support;
