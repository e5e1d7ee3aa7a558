//! InboxStore, RetainedStore and ReportStore checks: per-agent inbox sequences, the backlog bound and its drop
//! counters, acknowledged batches, the retained-message cap, thread counts per run, layer statistics and the org
//! reset.

use std::sync::Arc;

use mcp_coordinator::core::ids::{OrgId, RunId};
use mcp_coordinator::core::ports::{NewAnnouncement, RetainedMessage, Store};
use mcp_coordinator::core::threads::{ResolutionType, ThreadStatus};

use super::fixtures::*;

async fn seqs(s: &Arc<dyn Store>, o: &OrgId, agent: &str) -> Vec<i64> {
    s.inbox_drain(o, &aid(agent)).await.unwrap().iter().map(|m| m.seq).collect()
}

pub async fn inbox_sequences_backlog_and_take(s: Arc<dyn Store>) {
    let o = default_org();
    assert!(s.inbox_append(&o, "t", "{}", 1, 3).await.unwrap().is_empty(), "no subscriber, nothing stored");
    for a in ["b", "a"] {
        s.inbox_subscribe(&o, &aid(a), at(0)).await.unwrap();
        s.inbox_subscribe(&o, &aid(a), at(1)).await.unwrap();
    }
    for i in 1..=5 {
        let got = s.inbox_append(&o, &format!("coordinator/default/t{i}"), &format!("{{\"n\":{i}}}"), i, 3).await;
        assert_eq!(got.unwrap(), vec![aid("a"), aid("b")], "every subscriber, by id");
    }
    let (first, left) = s.inbox_take_oldest(&o, &aid("a")).await.unwrap().unwrap();
    assert_eq!(
        (first.seq, first.topic.as_str(), first.payload.as_str(), first.received_at, left),
        (3, "coordinator/default/t3", "{\"n\":3}", 3, 2)
    );
    assert_eq!(seqs(&s, &o, "a").await, [4, 5], "the two oldest were dropped by the backlog bound");
    assert!(s.inbox_take_oldest(&o, &aid("a")).await.unwrap().is_none());
    s.inbox_append(&o, "t", "x", 6, 3).await.unwrap();
    assert_eq!(seqs(&s, &o, "a").await, [1], "numbered after the highest stored message");
    assert_eq!(seqs(&s, &o, "b").await, [4, 5, 6]);
    assert!(!s.inbox_ack_mode(&o, &aid("a")).await.unwrap());
    let batch = s.inbox_ack_read(&o, &aid("b"), None, "b1").await.unwrap();
    assert_eq!((batch.messages.len(), batch.batch_id, batch.dropped), (0, None, 3), "drops reported");
    assert_eq!(s.inbox_ack_read(&o, &aid("b"), None, "b2").await.unwrap().dropped, 0, "once");
    assert!(s.inbox_ack_mode(&o, &aid("b")).await.unwrap());
}

pub async fn inbox_acknowledged_batches(s: Arc<dyn Store>) {
    let o = default_org();
    s.inbox_subscribe(&o, &aid("a"), at(0)).await.unwrap();
    for i in 1..=3 {
        s.inbox_append(&o, "t", &format!("{i}"), i, 4).await.unwrap();
    }
    let b1 = s.inbox_ack_read(&o, &aid("a"), None, "b1").await.unwrap();
    assert_eq!(
        (b1.batch_id.as_deref(), b1.messages.iter().map(|m| m.seq).collect::<Vec<_>>()),
        (Some("b1"), vec![1, 2, 3])
    );
    for i in 4..=6 {
        s.inbox_append(&o, "t", &format!("{i}"), i, 4).await.unwrap();
    }
    let again = s.inbox_ack_read(&o, &aid("a"), Some("wrong"), "b2").await.unwrap();
    assert_eq!(again.batch_id.as_deref(), Some("b1"), "an open batch is served again until acknowledged");
    assert_eq!((again.messages.len(), again.dropped), (3, 2), "the backlog bound spares the open batch");
    let b2 = s.inbox_ack_read(&o, &aid("a"), Some("b1"), "b2").await.unwrap();
    assert_eq!(
        (b2.batch_id.as_deref(), b2.messages.iter().map(|m| m.seq).collect::<Vec<_>>(), b2.dropped),
        (Some("b2"), vec![6], 0)
    );
    assert!(s.inbox_take_oldest(&o, &aid("a")).await.unwrap().is_none(), "batched messages are not taken");
    let empty = s.inbox_ack_read(&o, &aid("a"), Some("b2"), "b3").await.unwrap();
    assert_eq!((empty.batch_id, empty.messages.len()), (None, 0));
}

pub async fn inbox_concurrent_appends_keep_per_agent_sequences(s: Arc<dyn Store>) {
    let o = default_org();
    for a in ["a", "b", "c"] {
        s.inbox_subscribe(&o, &aid(a), at(0)).await.unwrap();
    }
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let (s, o) = (Arc::clone(&s), o.clone());
            tokio::spawn(async move {
                for i in 0..10 {
                    s.inbox_append(&o, "t", &format!("{t}/{i}"), i, 1000).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    for a in ["a", "b", "c"] {
        assert_eq!(seqs(&s, &o, a).await, (1..=80).collect::<Vec<i64>>(), "agent {a}");
    }
}

pub async fn retained_messages_and_cap(s: Arc<dyn Store>) {
    let (o, p) = (default_org(), org("p"));
    s.ensure_org(&p).await.unwrap();
    let msg = |org: &OrgId, topic: &str, payload: &[u8]| RetainedMessage {
        org: org.clone(),
        topic: format!("coordinator/{org}/{topic}"),
        payload: payload.to_vec(),
        qos: 1,
    };
    assert!(s.set_retained(&msg(&o, "b", b"1"), at(0), 2).await.unwrap());
    assert!(s.set_retained(&msg(&o, "a", &[0, 159, 255]), at(0), 2).await.unwrap());
    assert!(!s.set_retained(&msg(&o, "c", b"3"), at(0), 2).await.unwrap(), "cap reached for a new topic");
    assert!(s.set_retained(&msg(&o, "b", b"updated"), at(1), 2).await.unwrap(), "an existing topic may change");
    assert!(s.set_retained(&msg(&p, "z", b"p"), at(0), 2).await.unwrap(), "the cap is per org");
    let all = s.list_retained().await.unwrap();
    assert_eq!(all, vec![msg(&o, "a", &[0, 159, 255]), msg(&o, "b", b"updated"), msg(&p, "z", b"p")]);
    assert!(s.set_retained(&msg(&o, "a", b""), at(2), 2).await.unwrap(), "an empty payload deletes");
    assert!(s.set_retained(&msg(&o, "c", b"3"), at(2), 2).await.unwrap());
    assert_eq!(s.list_retained().await.unwrap().len(), 3);
}

pub async fn reports_counts_stats_and_reset(s: Arc<dyn Store>) {
    let o = default_org();
    let mut run = thread(&o, "a", &["1.rs"], at(0));
    run.run_id = Some(RunId::new("r1"));
    let mut run_done = thread(&o, "a", &["2.rs"], at(0));
    run_done.run_id = Some(RunId::new("r1"));
    run_done.status = ThreadStatus::Resolved;
    run_done.resolution_type = Some(ResolutionType::Consensus);
    let mut plain = thread(&o, "a", &["3.rs"], at(0));
    plain.status = ThreadStatus::Cancelled;
    for (t, layer) in [(&run, "L1"), (&run_done, "L1"), (&plain, "L0")] {
        let ann = NewAnnouncement {
            firings: vec![(aid("b"), layer.into(), 40), (aid("c"), layer.into(), 2)],
            ..announcement(t)
        };
        s.record_announcement(ann, at(0)).await.unwrap();
    }
    let counts = s.thread_counts(&o, Some(&RunId::new("r1"))).await.unwrap();
    assert_eq!(counts, vec![(ThreadStatus::Open, 1), (ThreadStatus::Resolved, 1)]);
    assert_eq!(s.thread_counts(&o, None).await.unwrap(), vec![(ThreadStatus::Cancelled, 1)]);
    let stats: Vec<_> = s
        .layer_stats(&o, at(0))
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.layer, r.outcome, r.fire_count, r.score_sum))
        .collect();
    let want = [("L0", "cancelled", 2, 42), ("L1", "consensus", 2, 42), ("L1", "unresolved", 2, 42)];
    assert_eq!(stats, want.map(|(l, o, n, s)| (l.to_owned(), o.to_owned(), n, s)));
    assert!(s.layer_stats(&o, at(1)).await.unwrap().is_empty(), "since is inclusive, later excludes");
    let before = s.latest_events(&o, 100).await.unwrap().last().unwrap().seq;
    let deleted = s.reset_org(&o).await.unwrap();
    let n = |t: &str| deleted.iter().find(|(name, _)| name == t).map(|(_, n)| *n);
    assert_eq!((n("threads"), n("layer_firings"), n("agents"), n("events")), (Some(3), Some(6), Some(1), Some(3)));
    assert!(s.list_agents(&o).await.unwrap().is_empty());
    let ev = s.append_events(&o, vec![online_event("x")], at(5)).await.unwrap();
    assert_eq!((ev[0].seq, ev[0].created_at), (before + 1, at(5)), "the event sequence survives a reset");
}
