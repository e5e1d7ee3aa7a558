//! The one integration test binary.

mod app;
mod support;
