//! Refusals per MQTT semantics: other orgs' filters (SUBACK 0x80 / 0x87), coordinator-owned topics and other
//! agents' status (v5 PUBACK 0x87 and drop; 3.1.1 disconnect), invalid wills and rejected credentials (CONNACK
//! refusal, never a silent drop).

use std::sync::Arc;

use async_trait::async_trait;
use mcp_coordinator::core::ids::{AgentId, OrgId};
use mcp_coordinator::mqtt::{AuthRefusal, MqttAuthenticator, MqttCredentials, MqttIdentity};

use super::client::{ALL, Client, Ev, Opts, Proto, Via};
use crate::support::{spawn_app, spawn_app_with_auth};

fn refused(proto: Proto) -> u8 {
    match proto {
        Proto::V311 => 0x80,
        Proto::V5 => 0x87,
    }
}

#[tokio::test]
async fn other_orgs_filters_are_refused_on_every_transport() {
    let app = spawn_app().await;
    for (i, (via, proto)) in ALL.iter().enumerate() {
        let mut c = Client::connect(&app, *via, *proto, &format!("c{i}"), Opts::default()).await.unwrap();
        for bad in ["coordinator/other/#", "#", "coordinator/+/x", "$SYS/#"] {
            assert_eq!(c.subscribe(bad).await, refused(*proto), "{via:?} {proto:?} {bad}");
        }
        assert_eq!(c.subscribe("coordinator/default/#").await, 1, "the connection stays usable");
    }
}

#[tokio::test]
async fn reserved_topics_and_foreign_status_are_refused() {
    let app = spawn_app().await;
    let mut watcher = Client::connect(&app, Via::Tcp, Proto::V311, "watch", Opts::default()).await.unwrap();
    assert_eq!(watcher.subscribe("coordinator/default/#").await, 1);
    for via in [Via::Tcp, Via::Ws] {
        let o = Opts { username: Some("alice"), ..Opts::default() };
        let mut v5 = Client::connect(&app, via, Proto::V5, "alice-5", o.clone()).await.unwrap();
        for topic in [
            "coordinator/default/consultations/new",
            "coordinator/default/consultations/t1/status",
            "coordinator/default/agents/bob/status",
            "coordinator/other/broadcast",
        ] {
            v5.publish(topic, br#"{"x":1}"#, true, false).await;
            loop {
                match v5.next().await {
                    Some(Ev::PubAck(code)) => {
                        assert_eq!(code, 0x87, "{topic}");
                        break;
                    }
                    Some(Ev::Publish(_)) => continue,
                    other => panic!("{topic}: expected PUBACK 0x87, got {other:?}"),
                }
            }
        }
        // Still connected, and its own status is accepted.
        v5.publish("coordinator/default/agents/alice/status", br#"{"status":"busy"}"#, true, false).await;
        match watcher.next().await {
            Some(Ev::Publish(m)) => {
                assert_eq!(m.topic, "coordinator/default/agents/alice/status", "a refused publish was delivered");
                assert_eq!(m.json()["status"], "busy");
            }
            other => panic!("expected alice's status, got {other:?}"),
        }

        let mut v3 = Client::connect(&app, via, Proto::V311, "alice-3", o).await.unwrap();
        v3.publish("coordinator/default/consultations/new", b"{}", false, false).await;
        loop {
            match v3.next().await {
                Some(Ev::Closed(_)) | None => break,
                Some(_) => continue,
            }
        }
    }
}

#[tokio::test]
async fn an_invalid_will_gets_a_connack_refusal() {
    let app = spawn_app().await;
    for (via, proto) in ALL {
        let o = Opts {
            username: Some("alice"),
            will: Some(("coordinator/default/agents/bob/status", b"{}", true, false)),
            ..Opts::default()
        };
        let code = Client::connect(&app, via, proto, "w", o).await.err().flatten();
        let expected = if proto == Proto::V5 { 0x87 } else { 5 };
        assert_eq!(code, Some(expected), "{via:?} {proto:?}");
    }
    let o = Opts {
        username: Some("alice"),
        will: Some(("coordinator/default/agents/alice/status", b"{}", true, false)),
        ..Opts::default()
    };
    assert!(Client::connect(&app, Via::Tcp, Proto::V5, "ok", o).await.is_ok());
}

/// Password `bad` → invalid token; `revoked` → not authorized; otherwise org `acme`, agent = username.
struct TokenAuth;

#[async_trait]
impl MqttAuthenticator for TokenAuth {
    async fn authenticate(&self, c: &MqttCredentials<'_>) -> Result<MqttIdentity, AuthRefusal> {
        match c.password {
            None | Some(b"bad") => Err(AuthRefusal::BadCredentials),
            Some(b"revoked") => Err(AuthRefusal::NotAuthorized),
            Some(_) => Ok(MqttIdentity { org: OrgId::new("acme"), agent: c.username.map(AgentId::new) }),
        }
    }
}

#[tokio::test]
async fn rejected_credentials_get_a_connack_refusal_not_a_silent_drop() {
    let app = spawn_app_with_auth(&[], Arc::new(TokenAuth)).await;
    for (via, proto) in ALL {
        let v5 = proto == Proto::V5;
        let bad = Opts { username: Some("a"), password: Some("bad"), ..Opts::default() };
        let code = Client::connect(&app, via, proto, "x", bad).await.err().flatten();
        assert_eq!(code, Some(if v5 { 0x86 } else { 4 }), "{via:?} {proto:?}");
        let revoked = Opts { username: Some("a"), password: Some("revoked"), ..Opts::default() };
        let code = Client::connect(&app, via, proto, "x", revoked).await.err().flatten();
        assert_eq!(code, Some(if v5 { 0x87 } else { 5 }), "{via:?} {proto:?}");
        let code = Client::connect(&app, via, proto, "anon", Opts::default()).await.err().flatten();
        assert_eq!(code, Some(if v5 { 0x86 } else { 4 }), "anonymous is refused when the verifier wants a token");
        let good = Opts { username: Some("a"), password: Some("token"), ..Opts::default() };
        let mut c = Client::connect(&app, via, proto, "x", good).await.unwrap();
        assert_eq!(c.subscribe("coordinator/default/#").await, refused(proto), "the token's org confines it");
        assert_eq!(c.subscribe("coordinator/acme/#").await, 1);
    }
}
