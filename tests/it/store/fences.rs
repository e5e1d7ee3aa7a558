//! Fenced writes of singleton jobs (storage.md §2.3): every fenced transaction first records its token in
//! `job_fences`; a lower token than the stored one aborts the transaction, which then writes nothing.

use std::sync::Arc;

use mcp_coordinator::core::error::CoreError;
use mcp_coordinator::core::files::WorkingClaim;
use mcp_coordinator::core::ports::{Fence, RetainedTable, Store, StoreError};
use mcp_coordinator::core::threads::ThreadStatus;

use super::fixtures::*;

pub fn fence(job: &str, token: i64, holder: &str) -> Fence {
    Fence { job: job.into(), token, holder: holder.into() }
}

fn is_fenced(e: &CoreError) -> bool {
    matches!(e, CoreError::Store(StoreError::Fenced { .. }))
}

pub async fn fenced_thread_update_refuses_a_stale_token(s: Arc<dyn Store>) {
    let o = default_org();
    let t = thread(&o, "a", &["x.rs"], at(0));
    announce(&s, &t).await;
    // First leader (token 5), then a newer one (token 7): both pass, in order.
    let f5 = fence("timeouts", 5, "old");
    let f7 = fence("timeouts", 7, "new");
    s.update_thread_fenced(&o, &t.id, at(1), propose("a", "first", at(1)), Some(&f5)).await.unwrap();
    let messages = s.thread_messages(&o, &t.id).await.unwrap().len();
    let events = s.latest_events(&o, 100).await.unwrap().len();
    s.update_thread_fenced(&o, &t.id, at(2), approve("b", at(2)), Some(&f7)).await.unwrap();
    let after_new = (s.thread_messages(&o, &t.id).await.unwrap().len(), s.latest_events(&o, 100).await.unwrap());
    assert_eq!(after_new.0, messages + 1);
    assert!(after_new.1.len() > events);
    // The old leader comes back with token 5: refused, nothing written.
    let err = s.update_thread_fenced(&o, &t.id, at(3), approve("c", at(3)), Some(&f5)).await.unwrap_err();
    assert!(is_fenced(&err), "{err:?}");
    assert_eq!(s.thread_messages(&o, &t.id).await.unwrap().len(), after_new.0, "no message written");
    assert_eq!(s.latest_events(&o, 100).await.unwrap(), after_new.1, "no event written");
    // The same token again passes (a leader's passes reuse its token); another job's fence is independent.
    let t2 = thread(&o, "a", &["y.rs"], at(0));
    announce(&s, &t2).await;
    s.update_thread_fenced(&o, &t2.id, at(4), propose("a", "s", at(4)), Some(&f7)).await.unwrap();
    let other = fence("retention", 1, "old");
    assert_eq!(s.purge(RetainedTable::Events, at(-100), 10, Some(&other)).await.unwrap(), 0);
    // Unfenced writes (single process) are never refused.
    let t3 = thread(&o, "a", &["z.rs"], at(0));
    announce(&s, &t3).await;
    let up = s.update_thread(&o, &t3.id, at(5), propose("a", "s", at(5))).await.unwrap();
    assert_eq!(up.thread.status, ThreadStatus::Resolving);
}

pub async fn fenced_claim_sweep_refuses_a_stale_token(s: Arc<dyn Store>) {
    let o = default_org();
    let claim = |agent: &str, until: i64| WorkingClaim {
        org_id: o.clone(),
        agent_id: aid(agent),
        file_path: path("f.rs"),
        started_at: at(0),
        claim_until: at(until),
    };
    s.start_claim(&claim("a", 10), at(0)).await.unwrap();
    s.start_claim(&claim("b", 20), at(0)).await.unwrap();
    let swept = s.sweep_claims(at(15), Some(&fence("working-files", 3, "new"))).await.unwrap();
    assert_eq!(swept, vec![claim("a", 10)]);
    let err = s.sweep_claims(at(30), Some(&fence("working-files", 2, "old"))).await.unwrap_err();
    assert!(err.is_fenced(), "{err:?}");
    let snap = s.index_snapshot(at(0), at(0), at(0)).await.unwrap();
    assert_eq!(snap.claims, vec![claim("b", 20)], "the refused sweep deleted nothing");
    let swept = s.sweep_claims(at(30), Some(&fence("working-files", 4, "newer"))).await.unwrap();
    assert_eq!(swept, vec![claim("b", 20)]);
}

pub async fn fenced_purge_refuses_a_stale_token(s: Arc<dyn Store>) {
    let o = default_org();
    let t = thread(&o, "a", &["x.rs"], at(-100));
    announce(&s, &t).await; // one event at -100
    let before = s.latest_events(&o, 10).await.unwrap();
    assert!(!before.is_empty());
    s.purge(RetainedTable::Events, at(-1000), 10, Some(&fence("retention", 10, "new"))).await.unwrap();
    let err = s.purge(RetainedTable::Events, at(0), 10, Some(&fence("retention", 9, "old"))).await.unwrap_err();
    assert!(matches!(err, StoreError::Fenced { ref job, token: 9 } if job == "retention"), "{err:?}");
    assert_eq!(s.latest_events(&o, 10).await.unwrap(), before, "the refused purge deleted nothing");
    let n = s.purge(RetainedTable::Events, at(0), 10, Some(&fence("retention", 11, "newer"))).await.unwrap();
    assert_eq!(n, before.len());
}
