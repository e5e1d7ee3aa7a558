//! The embedded MQTT broker through real clients (rumqttc over TCP and WebSocket, MQTT 3.1.1 and 5): the topic map
//! after MCP calls, the ACL and authentication refusals, the durable inbox fed by MQTT, restarts, and the listener
//! settings, and an external broker (a private Mosquitto) in place of the embedded one.

mod acl;
pub mod client;
mod external;
mod fanout;
mod inbox;
mod ops;
