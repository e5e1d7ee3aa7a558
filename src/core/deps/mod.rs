//! The org's dependency map and blast radius.

mod model;
pub mod ops;

pub use model::ModuleInfo;
pub use ops::{BlastRadius, RadiusThread};
