//! The embedded MQTT broker through real clients (rumqttc over TCP and WebSocket, MQTT 3.1.1 and 5): the topic map
//! after MCP calls, the ACL and authentication refusals, the durable inbox fed by MQTT, restarts, and the listener
//! settings.

mod acl;
pub mod client;
mod fanout;
mod inbox;
mod ops;
