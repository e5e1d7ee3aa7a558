//! Exactly-once, in-order delivery of every replica's events (events-mqtt.md §4). One task owns, per org, the
//! last `seq` delivered to this process's subscribers. An event at or below it is a duplicate (an echo, a late
//! publish already pulled from the store) and is dropped; an event past a gap first pulls the missing seqs from
//! the store — they are committed, since an org's numbers are allocated under its sequence row lock in commit
//! order. `CatchUp` (after a Redis reconnect) compares with the store's heads and delivers whatever was missed.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::core::events::EventRecord;
use crate::core::ids::OrgId;
use crate::core::ports::Store;

/// Events fetched per store read while filling a gap or catching up.
const PAGE: usize = 500;

/// What the sequencer is told.
#[derive(Debug)]
pub enum SeqInput {
    /// Events this process committed.
    Local(Vec<EventRecord>),
    /// An event another replica committed.
    Remote(EventRecord),
    /// Deliver everything the store has past what was delivered (this replica may have missed messages).
    CatchUp,
}

/// The per-org delivery state.
pub struct Sequencer {
    store: Arc<dyn Store>,
    out: broadcast::Sender<EventRecord>,
    last: HashMap<OrgId, i64>,
}

impl Sequencer {
    /// Starts from the store's current heads: events committed before now are history, not deliveries.
    pub async fn start(store: Arc<dyn Store>, out: broadcast::Sender<EventRecord>) -> anyhow::Result<Self> {
        let heads = store.event_heads().await.map_err(|e| anyhow::anyhow!("cannot read the event heads: {e}"))?;
        Ok(Self { store, out, last: heads.into_iter().collect() })
    }

    /// The last seq delivered for `org`.
    pub fn delivered(&self, org: &OrgId) -> i64 {
        self.last.get(org).copied().unwrap_or(0)
    }

    fn deliver(&mut self, rec: EventRecord) {
        self.last.insert(rec.org.clone(), rec.seq);
        // No subscriber is not an error: the store is the truth.
        let _ = self.out.send(rec);
    }

    /// Pulls committed events of `org` after what was delivered, up to `until` (inclusive; None = all).
    async fn fill(&mut self, org: &OrgId, until: Option<i64>) {
        loop {
            let from = self.delivered(org);
            if until.is_some_and(|u| from >= u) {
                return;
            }
            let page = match self.store.events_after(org, from, PAGE).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(component = "redis", %org, after = from, error = %e,
                        "cannot read missed events from the store; they are skipped on this replica's live streams");
                    return;
                }
            };
            let full = page.len() == PAGE;
            let mut progressed = false;
            for rec in page {
                if until.is_some_and(|u| rec.seq > u) {
                    return;
                }
                if rec.seq > self.delivered(org) {
                    progressed = true;
                    self.deliver(rec);
                }
            }
            if !full || !progressed {
                return;
            }
        }
    }

    /// Handles one event: drop a duplicate, fill a gap, deliver.
    pub async fn offer(&mut self, rec: EventRecord) {
        let last = self.delivered(&rec.org);
        if rec.seq <= last {
            return;
        }
        if rec.seq > last + 1 {
            let org = rec.org.clone();
            self.fill(&org, Some(rec.seq - 1)).await;
            if rec.seq <= self.delivered(&org) {
                return;
            }
        }
        self.deliver(rec);
    }

    /// Delivers whatever the store holds past what was delivered, for every org.
    pub async fn catch_up(&mut self) {
        let heads = match self.store.event_heads().await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(component = "redis", error = %e, "cannot read the event heads to catch up");
                return;
            }
        };
        for (org, head) in heads {
            if head > self.delivered(&org) {
                self.fill(&org, Some(head)).await;
            }
        }
    }

    /// Runs until cancelled or every sender is gone.
    pub async fn run(mut self, mut rx: mpsc::UnboundedReceiver<SeqInput>, cancel: CancellationToken) {
        loop {
            let input = tokio::select! {
                i = rx.recv() => i,
                _ = cancel.cancelled() => return,
            };
            match input {
                Some(SeqInput::Local(recs)) => {
                    for r in recs {
                        self.offer(r).await;
                    }
                }
                Some(SeqInput::Remote(r)) => self.offer(r).await,
                Some(SeqInput::CatchUp) => self.catch_up().await,
                None => return,
            }
        }
    }
}
