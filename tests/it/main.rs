//! The one integration test binary: full-app tests over real transports, the store conformance suite and the
//! scoring equivalence property test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod app;
mod architecture;
mod cli;
mod store;
mod support;
