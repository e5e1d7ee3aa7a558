//! Retained messages (events-mqtt.md §3.5). rmqtt's `retain` feature stores nothing by itself, so this installs
//! a `RetainStorage` that keeps the retained tree in memory (rmqtt's `DefaultRetainStorage`) and persists every
//! change through the core's `RetainedStore`, in order, on a tracked writer task (the publish path never waits on
//! the database). At most `cap` retained topics per org: beyond, the retain flag is ignored. Loaded at start.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use rmqtt::codec::types::{Publish as CodecPublish, QoS};
use rmqtt::retain::{DefaultRetainStorage, RetainStorage};
use rmqtt::types::{From, Publish, Retain, TopicFilter, TopicName};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::topics;
use crate::core::Core;
use crate::core::ids::OrgId;
use crate::core::ports::RetainedMessage;

/// Retained topics per org.
pub const RETAINED_CAP: usize = 10_000;

/// Retained storage: memory tree + ordered persistence.
pub struct PersistentRetain {
    mem: DefaultRetainStorage,
    counts: Mutex<HashMap<String, usize>>,
    cap: usize,
    persist: mpsc::UnboundedSender<RetainedMessage>,
}

/// A retained publish as rmqtt stores it.
pub fn retain_entry(topic: &str, payload: Bytes, qos: u8, from: From) -> Retain {
    let qos = if qos >= 1 { QoS::AtLeastOnce } else { QoS::AtMostOnce };
    let publish =
        CodecPublish { dup: false, retain: true, qos, topic: topic.into(), packet_id: None, payload, properties: None };
    Retain { msg_id: None, from, publish: Publish::from(publish) }
}

impl PersistentRetain {
    /// The storage and the receiving end of its persistence queue (give it to `run_writer`).
    pub fn new(cap: usize) -> (Self, mpsc::UnboundedReceiver<RetainedMessage>) {
        let (persist, rx) = mpsc::unbounded_channel();
        (Self { mem: DefaultRetainStorage::new(), counts: Mutex::new(HashMap::new()), cap, persist }, rx)
    }

    /// Loads stored retained messages (no persistence round-trip).
    pub async fn load(&self, stored: &[RetainedMessage], from: &From) -> rmqtt::Result<()> {
        for m in stored {
            let entry = retain_entry(&m.topic, Bytes::from(m.payload.clone()), m.qos, from.clone());
            self.apply(&TopicName::from(m.topic.as_str()), entry, m.org.as_str()).await?;
        }
        Ok(())
    }

    /// Applies a set/delete in memory; `false` when the org's cap refused a new topic.
    async fn apply(&self, topic: &TopicName, retain: Retain, org: &str) -> rmqtt::Result<bool> {
        let exists = !self.mem.get_message(topic).await?.is_empty();
        let delete = retain.publish.payload.is_empty();
        {
            let mut counts = self.counts.lock();
            let n = counts.entry(org.to_owned()).or_insert(0);
            if delete {
                *n = n.saturating_sub(usize::from(exists));
            } else if !exists {
                if *n >= self.cap {
                    return Ok(false);
                }
                *n += 1;
            }
        }
        self.mem.set_with_timeout(topic, retain, None).await?;
        Ok(true)
    }
}

#[async_trait]
impl RetainStorage for PersistentRetain {
    fn enable(&self) -> bool {
        true
    }

    /// Message expiry is ignored: retained coordination state lives until replaced or cleared.
    async fn set(&self, topic: &TopicName, retain: Retain, _expiry: Option<Duration>) -> rmqtt::Result<()> {
        let Some((org, _)) = topics::split(topic) else {
            return Ok(()); // the ACL admits no other topic; never store outside the coordination tree
        };
        let org = org.to_owned();
        let payload = retain.publish.payload.to_vec();
        let qos = retain.publish.qos.value();
        if !self.apply(topic, retain, &org).await? {
            tracing::warn!(component = "mqtt", org = %org, cap = self.cap, "retained topic cap reached; retain flag ignored");
            return Ok(());
        }
        let msg = RetainedMessage { org: OrgId::new(org), topic: topic.to_string(), payload, qos };
        if self.persist.send(msg).is_err() {
            tracing::warn!(component = "mqtt", "retained writer stopped; change kept in memory only");
        }
        Ok(())
    }

    async fn get(&self, topic_filter: &TopicFilter) -> rmqtt::Result<Vec<(TopicName, Retain)>> {
        self.mem.get_message(topic_filter).await
    }

    async fn count(&self) -> isize {
        RetainStorage::count(&self.mem).await
    }

    async fn max(&self) -> isize {
        RetainStorage::max(&self.mem).await
    }
}

/// Persists retained changes in order until cancelled, then drains what is queued.
pub async fn run_writer(
    core: Core,
    mut rx: mpsc::UnboundedReceiver<RetainedMessage>,
    cap: usize,
    cancel: CancellationToken,
) {
    loop {
        let msg = tokio::select! {
            m = rx.recv() => m,
            _ = cancel.cancelled() => break,
        };
        let Some(msg) = msg else { return };
        write(&core, &msg, cap).await;
    }
    while let Ok(msg) = rx.try_recv() {
        write(&core, &msg, cap).await;
    }
}

async fn write(core: &Core, msg: &RetainedMessage, cap: usize) {
    match core.store().set_retained(msg, core.now(), cap).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(component = "mqtt", org = %msg.org, "retained topic cap reached in the store"),
        Err(e) => {
            tracing::warn!(component = "mqtt", topic = %msg.topic, error = %e, "cannot persist a retained message")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmqtt::types::{ClientId, Id};

    fn from() -> From {
        From::from_custom(Id::from(1, ClientId::from_static("t")))
    }

    #[tokio::test]
    async fn cap_refuses_new_topics_but_not_updates_or_deletes() {
        let (r, mut rx) = PersistentRetain::new(2);
        for t in ["coordinator/o/a", "coordinator/o/b", "coordinator/o/c"] {
            r.set(&t.into(), retain_entry(t, Bytes::from_static(b"x"), 0, from()), None).await.unwrap();
        }
        assert_eq!(r.get(&"coordinator/o/#".into()).await.unwrap().len(), 2);
        assert!(r.get(&"coordinator/o/c".into()).await.unwrap().is_empty());
        r.set(&"coordinator/o/a".into(), retain_entry("coordinator/o/a", Bytes::new(), 0, from()), None).await.unwrap();
        r.set(&"coordinator/o/c".into(), retain_entry("coordinator/o/c", Bytes::from_static(b"y"), 1, from()), None)
            .await
            .unwrap();
        assert_eq!(r.get(&"coordinator/o/#".into()).await.unwrap().len(), 2);
        let mut seen = Vec::new();
        while let Ok(m) = rx.try_recv() {
            seen.push((m.topic, m.payload.len()));
        }
        let expected: Vec<(String, usize)> = vec![
            ("coordinator/o/a".into(), 1),
            ("coordinator/o/b".into(), 1),
            ("coordinator/o/a".into(), 0),
            ("coordinator/o/c".into(), 1),
        ];
        assert_eq!(seen, expected);
        r.set(&"elsewhere".into(), retain_entry("elsewhere", Bytes::from_static(b"z"), 0, from()), None).await.unwrap();
        assert!(r.get(&"#".into()).await.unwrap().iter().all(|(t, _)| t.starts_with("coordinator/")));
    }
}
