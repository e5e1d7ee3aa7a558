//! mcp-coordinator: a coordination server that stops AI coding agents working on one repository from
//! overwriting each other's work.
//!
//! `core` is the domain (no transport or SQL types); `store` implements its storage ports on SQLite;
//! `mcp` serves the 26 tools over streamable HTTP and stdio; `http` hosts health and the MCP mount;
//! `mqtt` embeds the MQTT broker (TCP + WebSocket at `/mqtt`) and bridges events to topics;
//! `cluster` holds what replicas share through Redis (job leases with fencing tokens, rate limits);
//! `jobs` runs the sweepers; `config` resolves settings; `app` wires everything; `lifecycle` owns tasks;
//! `cli` parses and runs the commands (server lifecycle and daemon, init, doctor, backup/restore, migrate);
//! `channel` is the Claude Code Channels sidecar (a stdio MCP server relaying the MQTT events into Claude Code).
#![forbid(unsafe_code)]

pub mod app;
pub mod channel;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod core;
pub mod http;
pub mod jobs;
pub mod lifecycle;
pub mod mcp;
pub mod mqtt;
pub mod store;
pub mod telemetry;
