//! The sequencer on a real store: an event past a gap pulls the missing ones from the store first, late and
//! repeated events are dropped, and a catch-up delivers what was committed but never announced.

use std::sync::Arc;

use mcp_coordinator::cluster::sequencer::Sequencer;
use mcp_coordinator::core::events::{DomainEvent, EventRecord};
use mcp_coordinator::core::ids::OrgId;
use mcp_coordinator::core::ports::Store;
use mcp_coordinator::store::sqlite::SqliteStore;
use tokio::sync::broadcast;

use crate::support::T0;

fn online(i: usize) -> DomainEvent {
    DomainEvent::AgentOnline { agent_id: format!("a{i}"), name: "A".into(), modules: vec![] }
}

async fn commit(store: &Arc<dyn Store>, org: &OrgId, n: usize) -> Vec<EventRecord> {
    store.append_events(org, (0..n).map(online).collect(), T0).await.unwrap()
}

fn drain(rx: &mut broadcast::Receiver<EventRecord>) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    while let Ok(r) = rx.try_recv() {
        out.push((r.org.to_string(), r.seq));
    }
    out
}

#[tokio::test]
async fn gaps_are_filled_from_the_store_and_duplicates_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("c.db")).unwrap());
    let (a, b) = (OrgId::new("a"), OrgId::new("b"));
    store.ensure_org(&a).await.unwrap();
    store.ensure_org(&b).await.unwrap();
    let history = commit(&store, &a, 2).await; // before the sequencer starts: history, never delivered
    let (tx, mut rx) = broadcast::channel(64);
    let mut seq = Sequencer::start(store.clone(), tx).await.unwrap();
    assert_eq!(seq.delivered(&a), 2);

    let recs = commit(&store, &a, 3).await; // seqs 3, 4, 5
    seq.offer(recs[2].clone()).await; // 5 arrives first: 3 and 4 come from the store
    seq.offer(recs[0].clone()).await; // late
    seq.offer(recs[1].clone()).await; // late
    seq.offer(recs[2].clone()).await; // repeated
    seq.offer(history[1].clone()).await; // history
    assert_eq!(drain(&mut rx), [("a".into(), 3), ("a".into(), 4), ("a".into(), 5)]);

    let b1 = commit(&store, &b, 1).await; // a new org starts at 1
    seq.offer(b1[0].clone()).await;
    commit(&store, &a, 2).await; // 6, 7 committed, never offered (a lost message)
    commit(&store, &b, 2).await; // 2, 3
    seq.catch_up().await;
    let got = drain(&mut rx);
    assert_eq!(got[0], ("b".into(), 1));
    let mut rest = got[1..].to_vec();
    rest.sort();
    assert_eq!(rest, [("a".into(), 6), ("a".into(), 7), ("b".into(), 2), ("b".into(), 3)]);
    seq.catch_up().await;
    assert!(drain(&mut rx).is_empty(), "nothing twice");
}
