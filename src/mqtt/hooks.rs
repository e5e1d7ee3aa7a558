//! The rmqtt hook handler: authentication (CONNACK refusal on a bad credential or an invalid will), the ACL on
//! SUBSCRIBE and PUBLISH, and observation of accepted client publishes and wills, which go to the ingestion
//! worker (inbox delivery and MQTT departures). Superuser is never granted (it would bypass the publish ACL).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use rmqtt::codec::types::QoS;
use rmqtt::codec::v5::SubscribeAckReason;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType};
use rmqtt::types::{AuthResult, ConnectInfo, FromType, Id, LastWill, PublishAclResult, SubscribeAclResult};
use tokio::sync::mpsc;

use super::acl;
use super::auth::{AuthRefusal, MqttAuthenticator, MqttCredentials, MqttIdentity};
use crate::core::ids::{AgentId, OrgId};

/// An accepted publish to ingest (inbox delivery, departures).
#[derive(Debug)]
pub struct Ingest {
    pub org: OrgId,
    pub suffix: String,
    pub payload: Bytes,
    /// The publishing connection's agent identity (for a will: the agent its topic names).
    pub agent: Option<AgentId>,
    pub will: bool,
    pub qos: crate::core::ports::Qos,
    pub retain: bool,
}

fn core_qos(q: QoS) -> crate::core::ports::Qos {
    if q == QoS::AtMostOnce { crate::core::ports::Qos::AtMostOnce } else { crate::core::ports::Qos::AtLeastOnce }
}

/// A connection as the ACL sees it.
#[derive(Debug, Clone)]
struct Conn {
    identity: MqttIdentity,
    v5: bool,
}

/// Shared state of the hook handler (cheap clone).
#[derive(Clone)]
pub struct Hooks {
    auth: Arc<dyn MqttAuthenticator>,
    conns: Arc<Mutex<HashMap<Id, Conn>>>,
    ingest: mpsc::Sender<Ingest>,
}

fn will_topic(lw: &LastWill<'_>) -> String {
    match lw {
        LastWill::V3(w) => w.topic.to_string(),
        LastWill::V5(w) => w.topic.to_string(),
    }
}

impl Hooks {
    pub fn new(auth: Arc<dyn MqttAuthenticator>, ingest: mpsc::Sender<Ingest>) -> Self {
        Self { auth, conns: Arc::new(Mutex::new(HashMap::new())), ingest }
    }

    async fn authenticate(&self, ci: &ConnectInfo) -> AuthResult {
        let creds = MqttCredentials {
            client_id: ci.client_id(),
            username: ci.username().map(|u| &**u),
            password: ci.password().map(|p| &p[..]),
        };
        let identity = match self.auth.authenticate(&creds).await {
            Ok(i) => i,
            Err(AuthRefusal::BadCredentials) => return AuthResult::BadUsernameOrPassword,
            Err(AuthRefusal::NotAuthorized) => return AuthResult::NotAuthorized,
        };
        // Wills bypass the publish ACL inside the broker: validate the topic now.
        if let Some(lw) = ci.last_will() {
            let topic = will_topic(&lw);
            if let Err(d) = acl::check_publish(&topic, &identity) {
                tracing::info!(component = "mqtt", client_id = %ci.client_id(), reason = d.as_str(), "will refused");
                return AuthResult::NotAuthorized;
            }
        }
        let v5 = matches!(ci, ConnectInfo::V5(..));
        self.conns.lock().insert(ci.id().clone(), Conn { identity, v5 });
        AuthResult::Allow(false, None)
    }

    fn conn(&self, id: &Id) -> Option<Conn> {
        self.conns.lock().get(id).cloned()
    }

    fn subscribe_acl(&self, id: &Id, filter: &str, qos: QoS) -> SubscribeAclResult {
        let allowed = self.conn(id).is_some_and(|c| acl::subscribe_allowed(filter, &c.identity.org));
        if allowed {
            SubscribeAclResult::new_success(qos.less_value(QoS::AtLeastOnce), None)
        } else {
            tracing::debug!(component = "mqtt", %filter, "subscription refused by the ACL");
            SubscribeAclResult::new_failure(SubscribeAckReason::NotAuthorized)
        }
    }

    async fn publish_acl(&self, id: &Id, topic: &str, qos: QoS, retain: bool, payload: &Bytes) -> PublishAclResult {
        let Some(conn) = self.conn(id) else { return PublishAclResult::rejected(true, None) };
        match acl::check_publish(topic, &conn.identity) {
            Ok(suffix) => {
                let job = Ingest {
                    org: conn.identity.org.clone(),
                    suffix: suffix.to_owned(),
                    payload: payload.clone(),
                    agent: conn.identity.agent.clone(),
                    will: false,
                    qos: core_qos(qos),
                    retain,
                };
                if self.ingest.send(job).await.is_err() {
                    tracing::debug!(component = "mqtt", "ingestion stopped; publish not delivered to inboxes");
                }
                PublishAclResult::allow()
            }
            Err(d) => {
                tracing::info!(component = "mqtt", %topic, reason = d.as_str(), "publish refused by the ACL");
                // v5 QoS ≥ 1: PUBACK 0x87 and drop, the client stays; otherwise the connection is closed.
                let keep = conn.v5 && qos != QoS::AtMostOnce;
                PublishAclResult::rejected(!keep, Some(d.as_str().into()))
            }
        }
    }

    /// A will being published: its topic was validated at CONNECT, so its org and agent are the topic's.
    async fn observe_will(&self, topic: &str, payload: &Bytes, qos: QoS, retain: bool) {
        let Some((org, suffix)) = super::topics::split(topic) else { return };
        let agent = super::topics::status_agent(suffix).map(AgentId::new);
        let job = Ingest {
            org: OrgId::new(org),
            suffix: suffix.to_owned(),
            payload: payload.clone(),
            agent,
            will: true,
            qos: core_qos(qos),
            retain,
        };
        let _ = self.ingest.send(job).await;
    }
}

#[async_trait]
impl Handler for Hooks {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        match param {
            Parameter::ClientAuthenticate(ci) => (false, Some(HookResult::AuthResult(self.authenticate(ci).await))),
            Parameter::ClientConnack(ci, reason) => {
                if !reason.success() {
                    self.conns.lock().remove(ci.id());
                }
                (true, acc)
            }
            Parameter::ClientSubscribeCheckAcl(s, sub) => {
                let r = self.subscribe_acl(&s.id, &sub.topic_filter, sub.opts.qos());
                (false, Some(HookResult::SubscribeAclResult(r)))
            }
            Parameter::MessagePublishCheckAcl(s, p) => {
                let r = self.publish_acl(&s.id, &p.topic, p.qos, p.retain, &p.payload).await;
                (false, Some(HookResult::PublishAclResult(r)))
            }
            Parameter::MessagePublish(_, from, p) if matches!(from.typ(), FromType::LastWill) => {
                self.observe_will(&p.topic, &p.payload, p.qos, p.retain).await;
                (true, acc)
            }
            Parameter::SessionTerminated(s, _) | Parameter::ClientDisconnected(s, _) => {
                self.conns.lock().remove(&s.id);
                (true, acc)
            }
            _ => (true, acc),
        }
    }
}
