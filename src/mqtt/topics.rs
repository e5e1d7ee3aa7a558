//! Typed MQTT topics (events-mqtt.md §3.4). Every coordination topic is `coordinator/<org>/<suffix>`; this module
//! builds the suffixes the coordinator publishes and splits incoming topic names. Pure: no broker types.

use crate::core::ids::OrgId;

/// First level of every coordination topic.
pub const ROOT: &str = "coordinator";

/// Whether `s` can stand as one topic level of a name (non-empty, no separator, wildcard or NUL).
pub fn valid_level(s: &str) -> bool {
    !s.is_empty() && !s.contains(['/', '+', '#', '\0'])
}

/// A topic suffix below `coordinator/<org>/`, free of wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suffix(String);

impl Suffix {
    /// `consultations/new`: the retained "new consultation" slot of an org.
    pub fn consultations_new() -> Self {
        Self("consultations/new".to_owned())
    }

    /// `consultations/<thread>/<leaf>`; `None` when the thread id cannot be one topic level.
    fn thread(thread: &str, leaf: &str) -> Option<Self> {
        valid_level(thread).then(|| Self(format!("consultations/{thread}/{leaf}")))
    }

    pub fn thread_messages(thread: &str) -> Option<Self> {
        Self::thread(thread, "messages")
    }

    pub fn thread_status(thread: &str) -> Option<Self> {
        Self::thread(thread, "status")
    }

    pub fn thread_claimed(thread: &str) -> Option<Self> {
        Self::thread(thread, "claimed")
    }

    /// `agents/<agent>/status`; `None` when the agent id cannot be one topic level.
    pub fn agent_status(agent: &str) -> Option<Self> {
        valid_level(agent).then(|| Self(format!("agents/{agent}/status")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The full topic name of `suffix` in `org`.
pub fn full(org: &OrgId, suffix: &str) -> String {
    format!("{ROOT}/{org}/{suffix}")
}

/// Splits `coordinator/<org>/<suffix>` into `(org, suffix)`; `None` for any other shape.
pub fn split(topic: &str) -> Option<(&str, &str)> {
    let rest = topic.strip_prefix(ROOT)?.strip_prefix('/')?;
    let (org, suffix) = rest.split_once('/')?;
    (!org.is_empty() && !suffix.is_empty()).then_some((org, suffix))
}

/// The agent of an `agents/<agent>/status` suffix.
pub fn status_agent(suffix: &str) -> Option<&str> {
    let rest = suffix.strip_prefix("agents/")?;
    let agent = rest.strip_suffix("/status")?;
    valid_level(agent).then_some(agent)
}

/// Whether a status payload announces the agent offline: `{"status":"offline", …}` or the raw text `offline`.
pub fn is_offline_payload(payload: &[u8]) -> bool {
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice::<serde_json::Value>(payload) {
        return m.get("status").and_then(|s| s.as_str()) == Some("offline");
    }
    std::str::from_utf8(payload).is_ok_and(|s| s.trim() == "offline")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_splits() {
        assert_eq!(Suffix::thread_messages("t1").unwrap().as_str(), "consultations/t1/messages");
        assert!(Suffix::thread_status("a/b").is_none() && Suffix::agent_status("x+").is_none());
        assert_eq!(Suffix::agent_status("alice").unwrap().as_str(), "agents/alice/status");
        assert_eq!(full(&OrgId::default_org(), "broadcast"), "coordinator/default/broadcast");
        assert_eq!(split("coordinator/default/agents/a/status"), Some(("default", "agents/a/status")));
        assert_eq!(split("coordinator/default"), None);
        assert_eq!(split("coordinator//x"), None);
        assert_eq!(split("other/default/x"), None);
        assert_eq!(status_agent("agents/a/status"), Some("a"));
        assert_eq!(status_agent("agents/a/b/status"), None);
        assert_eq!(status_agent("agents/a/statusx"), None);
    }

    #[test]
    fn offline_payloads() {
        assert!(is_offline_payload(br#"{"status":"offline","reason":"lwt_unexpected"}"#));
        assert!(is_offline_payload(b"offline") && is_offline_payload(b" offline\n"));
        assert!(!is_offline_payload(br#"{"status":"online"}"#) && !is_offline_payload(b"online"));
        assert!(!is_offline_payload(b"\"offline\""));
    }
}
