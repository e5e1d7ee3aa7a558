//! Consultation threads: the state machine, consensus, claims and the work pool (threads.md §2).

pub mod machine;
mod model;
pub mod ops;

pub use model::{
    DEFAULT_MAX_ROUNDS, DEFAULT_TIMEOUT_SECONDS, Introspection, IntrospectionStatus, Message, MessageType,
    POISON_UNCLAIMS, ResolutionType, Thread, ThreadStatus, token_estimate,
};
pub use ops::{ClaimOutcome, PostInput, ThreadWithMessages};
