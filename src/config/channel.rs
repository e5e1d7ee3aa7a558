//! Settings of the Channels sidecar (`mcp-coordinator channel`, events-mqtt.md §6), resolved like every other
//! setting: flag > environment > config.json > default. The sidecar is a client of a running coordinator, so it
//! needs where to reach it (MQTT broker, HTTP URL), who to be (token or username/password) and which org's topics
//! to watch. The token is never printed: `Debug` redacts it.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{ConfigError, DEFAULT_PORT, Env, Flags, Settings, config_dir, invalid, read_file};

/// Values of the `channel` command line (None = not given).
#[derive(Debug, Clone, Default)]
pub struct ChannelFlags {
    pub mqtt_url: Option<String>,
    pub token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub org: Option<String>,
    pub url: Option<String>,
}

/// Validated settings of the sidecar.
#[derive(Clone)]
pub struct ChannelSettings {
    /// `mqtt://host[:port]` or `ws://host[:port]/path`.
    pub mqtt_url: url::Url,
    /// MQTT username (`--username`, `COORDINATOR_MQTT_USERNAME`).
    pub username: Option<String>,
    /// MQTT password: `--password` / `COORDINATOR_MQTT_PASSWORD`, else the token.
    pub mqtt_password: Option<String>,
    /// Bearer token for the HTTP API (`--token`, `COORDINATOR_TOKEN`).
    pub token: Option<String>,
    /// The org whose topics are watched.
    pub org: String,
    /// Base URL of the coordinator's HTTP API (no trailing slash).
    pub coordinator_url: String,
    pub log_level: String,
    pub log_json: bool,
}

impl fmt::Debug for ChannelSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "[REDACTED]");
        f.debug_struct("ChannelSettings")
            .field("mqtt_url", &self.mqtt_url.as_str())
            .field("username", &self.username)
            .field("mqtt_password", &hidden(&self.mqtt_password))
            .field("token", &hidden(&self.token))
            .field("org", &self.org)
            .field("coordinator_url", &self.coordinator_url)
            .finish_non_exhaustive()
    }
}

impl ChannelSettings {
    /// Resolves the sidecar's settings. The server settings are resolved too (same environment, same
    /// config.json) for the MQTT port, the HTTP port and logging.
    pub fn resolve(flags: &ChannelFlags, env: &dyn Env) -> Result<ChannelSettings, ConfigError> {
        let server = Settings::resolve(&Flags::default(), env)?;
        let file = read_file(&config_dir(env).join("config.json"))?;
        let mqtt_url = match &flags.mqtt_url {
            Some(u) => parse_mqtt_url(u)?,
            None if server.mqtt.tcp_port == 0 => {
                return Err(invalid(
                    "--mqtt-url",
                    "COORDINATOR_MQTT_TCP_PORT is 0 (OS-assigned), so the broker port is unknown: pass \
                     --mqtt-url mqtt://127.0.0.1:<port> with the port the server reports (/health mqtt_tcp_port)",
                ));
            }
            None => parse_mqtt_url(&format!("mqtt://127.0.0.1:{}", server.mqtt.tcp_port))?,
        };
        let token = flags.token.clone().or_else(|| env.get("COORDINATOR_TOKEN"));
        let username = flags.username.clone().or_else(|| env.get("COORDINATOR_MQTT_USERNAME"));
        let password = flags.password.clone().or_else(|| env.get("COORDINATOR_MQTT_PASSWORD"));
        let org = match flags.org.clone().or_else(|| token.as_deref().and_then(token_org)) {
            Some(o) if valid_org(&o) => o,
            Some(o) => return Err(invalid("--org", format!("not a usable org (one topic level): {o:?}"))),
            None => "default".to_owned(),
        };
        let http_port = if server.port == 0 { DEFAULT_PORT } else { server.port };
        let url_text = flags
            .url
            .clone()
            .or(file.defaults.coordinator_url)
            .unwrap_or_else(|| format!("http://localhost:{http_port}"));
        Ok(ChannelSettings {
            mqtt_url,
            username,
            mqtt_password: password.or_else(|| token.clone()),
            token,
            org,
            coordinator_url: parse_http_url(&url_text)?,
            log_level: server.log_level,
            log_json: server.log_json,
        })
    }
}

fn parse_mqtt_url(text: &str) -> Result<url::Url, ConfigError> {
    let url = url::Url::parse(text).map_err(|e| invalid("--mqtt-url", format!("not a URL ({e}): {text:?}")))?;
    match url.scheme() {
        "mqtt" | "tcp" | "ws" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(url),
        "mqtt" | "tcp" | "ws" => Err(invalid("--mqtt-url", format!("no host in {text:?}"))),
        other => Err(invalid(
            "--mqtt-url",
            format!("scheme {other}:// is not supported (use mqtt://host:port or ws://host:port/path)"),
        )),
    }
}

fn parse_http_url(text: &str) -> Result<String, ConfigError> {
    let url = url::Url::parse(text).map_err(|e| invalid("--url", format!("not a URL ({e}): {text:?}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid("--url", format!("expected http(s)://host[:port], got {text:?}")));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// Whether `org` can be the second level of `coordinator/<org>/…` filters.
fn valid_org(org: &str) -> bool {
    !org.is_empty() && !org.contains(['/', '+', '#', '\0'])
}

/// The org a token names: the `org` claim of a Phase-1 agent JWT, else `active_org_id` (Phase-2 access token).
/// The payload is only decoded, never verified: the coordinator verifies the token; this only picks topics.
fn token_org(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (_, payload, _, None) = (parts.next()?, parts.next()?, parts.next()?, parts.next()) else {
        return None;
    };
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    ["org", "active_org_id"]
        .iter()
        .find_map(|k| claims.get(*k).and_then(|v| v.as_str()).filter(|s| !s.is_empty()).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(home: &std::path::Path, pairs: &[(&str, &str)]) -> HashMap<String, String> {
        let mut m: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        m.insert("HOME".into(), home.display().to_string());
        m
    }

    fn jwt(claims: &serde_json::Value) -> String {
        format!("eyJhbGciOiJIUzI1NiJ9.{}.c2ln", URL_SAFE_NO_PAD.encode(claims.to_string()))
    }

    #[test]
    fn defaults_come_from_env_and_config_json() {
        let home = tempfile::tempdir().unwrap();
        let s = ChannelSettings::resolve(&ChannelFlags::default(), &env(home.path(), &[])).unwrap();
        assert_eq!(s.mqtt_url.as_str(), "mqtt://127.0.0.1:1883");
        assert_eq!((s.org.as_str(), s.coordinator_url.as_str()), ("default", "http://localhost:3100"));
        assert!(s.token.is_none() && s.mqtt_password.is_none() && s.username.is_none());
        let e = env(home.path(), &[("COORDINATOR_MQTT_TCP_PORT", "1999"), ("COORDINATOR_TOKEN", "opaque")]);
        let s = ChannelSettings::resolve(&ChannelFlags::default(), &e).unwrap();
        assert_eq!(s.mqtt_url.as_str(), "mqtt://127.0.0.1:1999");
        assert_eq!((s.token.as_deref(), s.mqtt_password.as_deref()), (Some("opaque"), Some("opaque")));
        assert_eq!(s.org, "default", "an opaque token names no org");
        std::fs::create_dir_all(home.path().join(".mcp-coordinator")).unwrap();
        std::fs::write(
            home.path().join(".mcp-coordinator/config.json"),
            r#"{"defaults":{"coordinator_url":"http://coord:4000/"}}"#,
        )
        .unwrap();
        let s = ChannelSettings::resolve(&ChannelFlags::default(), &env(home.path(), &[])).unwrap();
        assert_eq!(s.coordinator_url, "http://coord:4000");
        assert!(!format!("{:?}", ChannelSettings { token: Some("sekrit".into()), ..s }).contains("sekrit"));
    }

    #[test]
    fn flags_win_and_the_token_names_the_org() {
        let home = tempfile::tempdir().unwrap();
        let token = jwt(&serde_json::json!({"sub": "a", "org": "acme"}));
        let e = env(home.path(), &[("COORDINATOR_TOKEN", &token), ("COORDINATOR_MQTT_PASSWORD", "pw")]);
        let s = ChannelSettings::resolve(&ChannelFlags::default(), &e).unwrap();
        assert_eq!((s.org.as_str(), s.mqtt_password.as_deref()), ("acme", Some("pw")));
        let flags = ChannelFlags {
            mqtt_url: Some("ws://h:8080/mqtt".into()),
            org: Some("other".into()),
            url: Some("https://c.example".into()),
            username: Some("me".into()),
            ..ChannelFlags::default()
        };
        let s = ChannelSettings::resolve(&flags, &e).unwrap();
        assert_eq!((s.mqtt_url.as_str(), s.org.as_str()), ("ws://h:8080/mqtt", "other"));
        assert_eq!((s.coordinator_url.as_str(), s.username.as_deref()), ("https://c.example", Some("me")));
    }

    #[test]
    fn bad_values_name_the_setting() {
        let home = tempfile::tempdir().unwrap();
        let bad = |flags: ChannelFlags, pairs: &[(&str, &str)]| {
            ChannelSettings::resolve(&flags, &env(home.path(), pairs)).unwrap_err().to_string()
        };
        let e = bad(ChannelFlags { mqtt_url: Some("mqtts://h".into()), ..ChannelFlags::default() }, &[]);
        assert!(e.starts_with("--mqtt-url: scheme mqtts://"), "{e}");
        assert!(bad(ChannelFlags::default(), &[("COORDINATOR_MQTT_TCP_PORT", "0")]).starts_with("--mqtt-url:"));
        assert!(bad(ChannelFlags { org: Some("a/b".into()), ..ChannelFlags::default() }, &[]).starts_with("--org:"));
        assert!(
            bad(ChannelFlags { url: Some("ftp://x".into()), ..ChannelFlags::default() }, &[]).starts_with("--url:")
        );
    }

    #[test]
    fn token_org_reads_the_claims_without_verifying() {
        assert_eq!(token_org(&jwt(&serde_json::json!({"org": "acme"}))).as_deref(), Some("acme"));
        assert_eq!(token_org(&jwt(&serde_json::json!({"active_org_id": "o2"}))).as_deref(), Some("o2"));
        assert_eq!(token_org(&jwt(&serde_json::json!({"org": ""}))), None);
        assert_eq!(token_org("not-a-jwt"), None);
        assert_eq!(token_org("a.%%%.c"), None);
        assert_eq!(token_org("a.b.c.d"), None);
    }
}
