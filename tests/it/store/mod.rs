//! Store conformance suite (storage.md §6). Every check in `agents`, `threads`, `claims`, `files`, `system`,
//! `inbox`, `fences` and `concurrency` is a backend-agnostic `async fn(Arc<dyn Store>)`; `conformance!` instantiates all of
//! them for one backend factory: the suite runs on SQLite (a temporary file) and on Postgres (a fresh database on the local
//! server per test). `sqlite` and `postgres` hold the checks that need the backend itself (migrations and their
//! refusals, permissions, raw column formats, advisory locks); `migrations` checks the two migration directories
//! agree.

mod agents;
pub mod backends;
mod claims;
mod concurrency;
mod fences;
mod files;
pub mod fixtures;
mod inbox;
mod migrations;
mod postgres;
mod sqlite;
mod system;
mod threads;

/// Generates one `#[tokio::test]` per check of every area for `$factory`.
macro_rules! checks {
    ($factory:path; $($area:ident: $($check:ident),+ $(,)?;)+) => {
        $(mod $area { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let backend = $factory().await;
                crate::store::$area::$check(backend.store.clone()).await;
            }
        )+ })+
    };
}

/// The whole conformance suite for one backend.
macro_rules! conformance {
    ($backend:ident => $factory:path) => {
        mod $backend {
            checks! { $factory;
                agents: register_upserts_keeping_registered_at, touch_refreshes_liveness, heartbeat_replaces_activity,
                    listing_order_and_online_filter, ensure_org_is_idempotent, departure_unknown_agent,
                    departure_applies_decisions_in_one_transaction, writes_require_an_existing_org;
                threads: announcement_round_trip, announcer_is_registered_implicitly,
                    json_and_times_round_trip_byte_identical, update_thread_applies_decision,
                    failing_decision_writes_nothing, failing_write_rolls_back_everything, update_thread_is_org_scoped,
                    list_threads_filters_and_order, thread_updates_rules, timed_out_threads_deadline,
                    introspection_lifecycle, introspection_on_dead_thread_does_not_join;
                claims: claim_success_and_refusals, claim_conflict_on_shared_target_file;
                files: file_activity_and_session_files, agents_on_file_grouping, hot_files_rules,
                    working_file_claims, action_summaries, dependency_map;
                system: events_replay, large_event_batches_keep_their_order, org_isolation, purge_in_batches, index_snapshot_selection,
                    schema_version_and_ping;
                inbox: inbox_sequences_backlog_and_take, inbox_acknowledged_batches,
                    inbox_concurrent_appends_keep_per_agent_sequences, retained_messages_and_cap,
                    reports_counts_stats_and_reset;
                fences: fenced_thread_update_refuses_a_stale_token, fenced_claim_sweep_refuses_a_stale_token,
                    fenced_purge_refuses_a_stale_token;
                concurrency: racing_approvals_resolve_once, racing_claims_succeed_once,
                    racing_claims_on_threads_sharing_a_file_succeed_once, gapless_sequences_under_concurrency;
            }
        }
    };
}

conformance!(sqlite_backend => crate::store::backends::sqlite);
conformance!(postgres_backend => crate::store::backends::postgres);
