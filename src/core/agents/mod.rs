//! Agent registry: registration, liveness, activity states and departure (threads.md §1).

mod model;

pub use model::{Activity, ActivityStatus, Agent, AgentStatus, WORKING_TO_IDLE_SECS};
