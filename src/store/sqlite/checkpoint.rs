//! WAL checkpoints off the request path. The writer connection runs with `wal_autocheckpoint=0`, so no commit ever
//! pays for copying WAL pages back into the database file (that made the announce p99: a 12–27 ms checkpoint every
//! ~30 commits, docs/benchmarks.md). Instead one background thread runs `PRAGMA wal_checkpoint(PASSIVE)` on its own
//! connection — after every `EAGER_AFTER` commits, and once a second while any commit is pending. PASSIVE never
//! blocks readers or the writer; the WAL is reused from its start by the next commit once it is fully copied.
//! The thread stops (after a last checkpoint) when the store is dropped.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Commits after which the checkpoint runs at once.
const EAGER_AFTER: u64 = 256;
/// Longest a commit waits to be checkpointed.
const PERIOD: Duration = Duration::from_secs(1);

#[derive(Default)]
struct State {
    pending: u64,
    stop: bool,
}

/// The shared side of the checkpoint thread.
#[derive(Default)]
pub(super) struct Checkpointer {
    state: Mutex<State>,
    wake: Condvar,
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Checkpointer {
    /// Starts the thread for the database at `path`.
    pub(super) fn spawn(path: PathBuf) -> (Arc<Checkpointer>, Option<JoinHandle<()>>) {
        let ck = Arc::new(Checkpointer::default());
        let worker = ck.clone();
        let handle = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || worker.run(&path))
            .map_err(|e| tracing::warn!(component = "store", error = %e, "cannot start the WAL checkpoint thread"))
            .ok();
        (ck, handle)
    }

    /// Called after each commit of the writer.
    pub(super) fn committed(&self) {
        let mut s = lock(&self.state);
        s.pending += 1;
        if s.pending == EAGER_AFTER {
            self.wake.notify_one();
        }
    }

    /// Asks the thread to stop (it checkpoints what is pending first).
    pub(super) fn stop(&self) {
        lock(&self.state).stop = true;
        self.wake.notify_one();
    }

    fn run(&self, path: &std::path::Path) {
        let mut conn: Option<rusqlite::Connection> = None;
        loop {
            let stop = {
                let mut s = lock(&self.state);
                if !s.stop && s.pending < EAGER_AFTER {
                    s = self.wake.wait_timeout(s, PERIOD).map(|(g, _)| g).unwrap_or_else(|p| p.into_inner().0);
                }
                if s.pending == 0 && !s.stop {
                    continue;
                }
                s.pending = 0;
                s.stop
            };
            if conn.is_none() {
                conn = super::connect(path)
                    .map_err(|e| tracing::warn!(component = "store", error = %e, "checkpoint connection failed"))
                    .ok();
            }
            if let Some(c) = &conn
                && let Err(e) = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            {
                tracing::warn!(component = "store", error = %e, "WAL checkpoint failed; retrying later");
                conn = None;
            }
            if stop {
                return;
            }
        }
    }
}
