//! The embedded MQTT broker (events-mqtt.md §3): rmqtt on our runtime with a TCP listener and MQTT over WebSocket
//! at `/mqtt` on the HTTP port, MQTT 3.1.1 and 5, retained messages persisted through the core's `RetainedStore`,
//! wills, authentication behind `MqttAuthenticator` and the per-org ACL. Coordination events reach topics through
//! `bridge` (one place, after commit); client publishes reach the agent inboxes through `ingest`. The domain sees
//! only the `MqttBus` port; nothing here is imported by `core`. `external` replaces the embedded broker with a
//! client of an operator's broker.

pub mod acl;
pub mod auth;
pub mod bridge;
pub mod broker;
pub mod external;
mod hooks;
mod ingest;
pub mod retained;
pub mod topics;
pub mod ws;

pub use auth::{AuthRefusal, MqttAuthenticator, MqttCredentials, MqttIdentity, OpenAuthenticator};
pub use broker::{Broker, BrokerSettings, TcpStatus};
