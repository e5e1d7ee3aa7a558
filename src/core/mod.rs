//! THE DOMAIN. Agents, announcements and impact scoring, consultation threads, files, dependencies. Imports
//! nothing from axum, rusqlite, sqlx, redis, rmcp or the MQTT broker: transports call `Core`, and storage,
//! fan-out, leadership and time come in through the ports.

pub mod agents;
pub mod announce;
pub mod deps;
pub mod error;
pub mod events;
mod facade;
pub mod files;
pub mod ids;
pub mod inbox;
pub mod paths;
pub mod ports;
pub mod principal;
pub mod reports;
pub mod rows;
pub mod status;
pub mod threads;
pub mod time;

pub use facade::{Core, CoreSettings};
