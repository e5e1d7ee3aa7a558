//! The org's dependency map and blast radius.

mod model;

pub use model::ModuleInfo;
