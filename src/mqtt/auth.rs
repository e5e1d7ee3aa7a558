//! Who an MQTT connection is (events-mqtt.md §3.2). `MqttAuthenticator` turns CONNECT credentials into an
//! `MqttIdentity` (org + optional agent identity) or a refusal that the broker answers with a CONNACK refusal
//! (never a silent drop). Open mode is `OpenAuthenticator`; token verification plugs in behind the same trait.
//! Must not depend on the broker crate.

use async_trait::async_trait;

use crate::core::ids::{AgentId, OrgId};

/// The identity an MQTT connection acts as; the ACL confines it to its org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttIdentity {
    pub org: OrgId,
    /// The agent this connection may publish the status of (`None`: no status topic).
    pub agent: Option<AgentId>,
}

/// The credentials of one CONNECT packet.
#[derive(Debug, Clone, Copy)]
pub struct MqttCredentials<'a> {
    pub client_id: &'a str,
    pub username: Option<&'a str>,
    pub password: Option<&'a [u8]>,
}

/// Why a CONNECT is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRefusal {
    /// Missing or invalid token: CONNACK 0x04 (3.1.1) / 0x86 (v5).
    BadCredentials,
    /// Revoked agent or token, inactive org: CONNACK 0x05 / 0x87.
    NotAuthorized,
}

/// Verifies CONNECT credentials.
#[async_trait]
pub trait MqttAuthenticator: Send + Sync {
    async fn authenticate(&self, creds: &MqttCredentials<'_>) -> Result<MqttIdentity, AuthRefusal>;
}

/// Open mode: anonymous allowed, org `default`, agent identity = the CONNECT username when non-empty
/// (unverified, as the spec says).
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenAuthenticator;

#[async_trait]
impl MqttAuthenticator for OpenAuthenticator {
    async fn authenticate(&self, creds: &MqttCredentials<'_>) -> Result<MqttIdentity, AuthRefusal> {
        let agent = creds.username.filter(|u| !u.trim().is_empty()).and_then(|u| AgentId::parse("username", u).ok());
        Ok(MqttIdentity { org: OrgId::default_org(), agent })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn open_mode_uses_the_username() {
        let c = MqttCredentials { client_id: "c", username: Some("alice"), password: None };
        let id = OpenAuthenticator.authenticate(&c).await.unwrap();
        assert_eq!((id.org.as_str(), id.agent.unwrap().as_str()), ("default", "alice"));
        let c = MqttCredentials { client_id: "c", username: Some(""), password: None };
        assert_eq!(OpenAuthenticator.authenticate(&c).await.unwrap().agent, None);
        let c = MqttCredentials { client_id: "c", username: None, password: None };
        assert_eq!(OpenAuthenticator.authenticate(&c).await.unwrap().agent, None);
    }
}
