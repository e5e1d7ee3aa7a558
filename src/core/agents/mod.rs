//! Agent registry: registration, liveness, activity states and departure (threads.md §1).

mod model;
pub mod ops;

pub use model::{Activity, ActivityStatus, Agent, AgentStatus, WORKING_TO_IDLE_SECS};
pub use ops::{MAX_MODULES, Peer, activity_event, check_modules};
