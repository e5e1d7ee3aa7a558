//! The MQTT ACL (events-mqtt.md §3.3), always on: a connection sees only `coordinator/<own org>/…`, never
//! publishes a coordinator-owned topic, and publishes `agents/<X>/status` only as agent X. Pure functions over
//! strings so the rules are unit-tested without a broker; the broker hooks call them.

use super::auth::MqttIdentity;
use super::topics::{self, ROOT, valid_level};
use crate::core::ids::OrgId;
use crate::core::inbox::is_reserved;

/// Why a publish (or a will) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishDenial {
    /// Not a topic name (wildcard, NUL, empty level where a name is needed).
    Invalid,
    /// Outside `coordinator/<own org>/`.
    OtherOrg,
    /// A coordinator-owned topic.
    Reserved,
    /// `agents/<X>/status` where X is not this connection's agent.
    OtherAgentStatus,
}

impl PublishDenial {
    /// Metric label / log reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid_topic",
            Self::OtherOrg => "other_org",
            Self::Reserved => "reserved_topic",
            Self::OtherAgentStatus => "other_agent_status",
        }
    }
}

/// The literal prefix every filter and topic of `org` starts with; `None` when the org id cannot be a level.
fn org_prefix(org: &OrgId) -> Option<String> {
    valid_level(org.as_str()).then(|| format!("{ROOT}/{org}/"))
}

/// SUBSCRIBE: the filter starts with the literal `coordinator/<own org>/` (so no wildcard in the first two
/// levels) and has something after it.
pub fn subscribe_allowed(filter: &str, org: &OrgId) -> bool {
    let Some(prefix) = org_prefix(org) else { return false };
    filter.strip_prefix(&prefix).is_some_and(|rest| !rest.is_empty()) && !filter.contains('\0')
}

/// PUBLISH and wills: returns the suffix below `coordinator/<org>/` when allowed.
pub fn check_publish<'t>(topic: &'t str, id: &MqttIdentity) -> Result<&'t str, PublishDenial> {
    if topic.is_empty() || topic.contains(['+', '#', '\0']) {
        return Err(PublishDenial::Invalid);
    }
    let prefix = org_prefix(&id.org).ok_or(PublishDenial::OtherOrg)?;
    let suffix = topic.strip_prefix(&prefix).ok_or(PublishDenial::OtherOrg)?;
    if suffix.is_empty() {
        return Err(PublishDenial::Invalid);
    }
    if is_reserved(suffix) {
        return Err(PublishDenial::Reserved);
    }
    if let Some(agent) = topics::status_agent(suffix)
        && id.agent.as_ref().is_none_or(|own| own.as_str() != agent)
    {
        return Err(PublishDenial::OtherAgentStatus);
    }
    if suffix.starts_with("agents/") && suffix.ends_with("/status") && topics::status_agent(suffix).is_none() {
        // `agents/a/b/status` would alias nobody's status but reads like one: refuse the ambiguity.
        return Err(PublishDenial::OtherAgentStatus);
    }
    Ok(suffix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::AgentId;

    fn id(agent: Option<&str>) -> MqttIdentity {
        MqttIdentity { org: OrgId::default_org(), agent: agent.map(AgentId::new) }
    }

    #[test]
    fn subscribe_is_confined_to_the_own_org() {
        let org = OrgId::default_org();
        for ok in ["coordinator/default/#", "coordinator/default/consultations/+/messages", "coordinator/default/+"] {
            assert!(subscribe_allowed(ok, &org), "{ok}");
        }
        for bad in [
            "#",
            "+/default/#",
            "coordinator/+/x",
            "coordinator/#",
            "coordinator/other/#",
            "coordinator/default",
            "coordinator/default/",
            "coordinator/defaultx/#",
            "$SYS/#",
            "$share/g/coordinator/default/#",
        ] {
            assert!(!subscribe_allowed(bad, &org), "{bad}");
        }
        assert!(!subscribe_allowed("coordinator/a+b/#", &OrgId::new("a+b")));
    }

    #[test]
    fn publish_rules() {
        let alice = id(Some("alice"));
        assert_eq!(check_publish("coordinator/default/broadcast", &alice), Ok("broadcast"));
        assert_eq!(
            check_publish("coordinator/default/consultations/t/messages", &alice),
            Ok("consultations/t/messages")
        );
        assert_eq!(check_publish("coordinator/default/agents/alice/status", &alice), Ok("agents/alice/status"));
        assert_eq!(
            check_publish("coordinator/default/agents/bob/status", &alice),
            Err(PublishDenial::OtherAgentStatus)
        );
        assert_eq!(
            check_publish("coordinator/default/agents/a/b/status", &alice),
            Err(PublishDenial::OtherAgentStatus)
        );
        assert_eq!(
            check_publish("coordinator/default/agents/alice/status", &id(None)),
            Err(PublishDenial::OtherAgentStatus)
        );
        assert_eq!(check_publish("coordinator/other/broadcast", &alice), Err(PublishDenial::OtherOrg));
        assert_eq!(check_publish("elsewhere", &alice), Err(PublishDenial::OtherOrg));
        assert_eq!(check_publish("coordinator/default/", &alice), Err(PublishDenial::Invalid));
        assert_eq!(check_publish("coordinator/default/#", &alice), Err(PublishDenial::Invalid));
        for reserved in [
            "consultations/new",
            "consultations/x/status",
            "consultations/x/claimed",
            "consultations/x/completed",
            "quota/update",
        ] {
            let t = format!("coordinator/default/{reserved}");
            assert_eq!(check_publish(&t, &alice), Err(PublishDenial::Reserved), "{t}");
        }
    }
}
