//! `mcp-coordinator channel`: the Claude Code Channels sidecar (events-mqtt.md §6). Parses the flags, resolves
//! them through `config` (flag > env > config.json > default) and runs `crate::channel`. stdout is the MCP
//! stdio channel, so logs go to stderr.

use std::process::ExitCode;

use clap::Args;

use super::{Failure, Outcome, config_failure};
use crate::config::{ChannelFlags, ChannelSettings, ProcessEnv};

#[derive(Debug, Args)]
pub struct ChannelArgs {
    /// MQTT broker (`mqtt://host:port` or `ws://host:port/mqtt`); default `mqtt://127.0.0.1:<COORDINATOR_MQTT_TCP_PORT
    /// or 1883>`.
    #[arg(long)]
    pub mqtt_url: Option<String>,
    /// Token used as MQTT password and HTTP bearer [env: COORDINATOR_TOKEN, preferred: flags show in `ps`].
    #[arg(long)]
    pub token: Option<String>,
    /// MQTT username [env: COORDINATOR_MQTT_USERNAME].
    #[arg(long)]
    pub username: Option<String>,
    /// MQTT password, instead of the token [env: COORDINATOR_MQTT_PASSWORD].
    #[arg(long)]
    pub password: Option<String>,
    /// Org whose events are relayed; default the token's org, else `default`.
    #[arg(long)]
    pub org: Option<String>,
    /// Coordinator HTTP URL for `post_to_thread`; default config.json `defaults.coordinator_url`.
    #[arg(long)]
    pub url: Option<String>,
}

impl ChannelArgs {
    fn flags(&self) -> ChannelFlags {
        ChannelFlags {
            mqtt_url: self.mqtt_url.clone(),
            token: self.token.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            org: self.org.clone(),
            url: self.url.clone(),
        }
    }
}

/// Runs the sidecar until its MCP client closes stdin.
pub async fn channel(a: &ChannelArgs) -> Outcome {
    let s = ChannelSettings::resolve(&a.flags(), &ProcessEnv).map_err(config_failure)?;
    crate::telemetry::init(&s.log_level, s.log_json);
    let mut shown = s.mqtt_url.clone();
    let _ = shown.set_password(None);
    tracing::info!(component = "channel", mqtt = %shown, org = %s.org, url = %s.coordinator_url,
        "channel sidecar starting");
    crate::channel::run(&s).await.map_err(|e| Failure::new(1, e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}
