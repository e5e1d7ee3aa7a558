//! `RedisLeader`: leadership of singleton jobs through Redis leases with fencing tokens (operations.md §3).
//!
//! Key `<prefix>lease:{<job>}` holds the holder's instance id with a TTL; `<prefix>lease:{<job>}:fence` counts
//! acquisitions (same hash tag, so one cluster slot). One Lua script acquires (`SET NX PX` + `INCR` fence → the
//! token); renew and release compare the holder first. One task per job (tracked, cancellable) keeps the lease
//! and drives the job's `watch`: true while held, false as soon as a renewal fails or cannot be confirmed before
//! the lease would expire — so a partitioned holder stops before its lease can move to another instance. The
//! token goes with every write of the job (`Leader::fence`), and the store refuses stale ones.
//!
//! Redis outage: every job's watch goes false (jobs pause) and the tasks keep retrying; leadership resumes when
//! Redis answers again. Must not depend on the store or on any job: it only hands out leadership.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use redis::Script;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::redis_conn::{ClusterError, RedisConn};
use crate::core::ports::{Fence, Leader, NotLeading};
use crate::lifecycle::Shutdown;

/// Takes the lease when free (or already ours) and returns the fencing token; 0 when another instance holds it.
/// A missing counter starts at Redis's clock in ms, so tokens keep increasing even after Redis lost its data.
const ACQUIRE: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(redis.call('GET', KEYS[2]) or '0')
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if redis.call('EXISTS', KEYS[2]) == 0 then
    local t = redis.call('TIME')
    redis.call('SET', KEYS[2], string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)))
  end
  return redis.call('INCR', KEYS[2])
end
return 0
";

/// Extends the lease if this instance still holds it: 1, else 0.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// Deletes the lease if this instance holds it: 1, else 0.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Lease timings and identity.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// This process (`cluster::instance_id()`).
    pub instance: String,
    /// Lease lifetime in Redis (60 s).
    pub ttl: Duration,
    /// Renewal period (20 s), also the retry period of a standby and after errors.
    pub renew: Duration,
}

impl LeaseConfig {
    /// How long a confirmed lease is trusted locally: the TTL counted from *before* the command was sent, less a
    /// margin for clock-rate differences between this host and Redis.
    fn trusted_for(&self) -> Duration {
        self.ttl.saturating_sub(self.ttl / 10)
    }
}

/// The lease of one job as the job sees it.
struct JobState {
    tx: watch::Sender<bool>,
    held: Mutex<Option<Held>>,
}

#[derive(Clone, Copy)]
struct Held {
    token: i64,
    until: Instant,
}

/// Redis leases for the singleton jobs of this process.
pub struct RedisLeader {
    redis: RedisConn,
    cfg: LeaseConfig,
    jobs: Mutex<HashMap<String, Arc<JobState>>>,
    shutdown: Shutdown,
    /// Cancels the lease tasks (child of the shutdown token).
    cancel: CancellationToken,
    /// Whether the tasks release their leases when cancelled (false only to simulate a crash in tests).
    release_on_stop: bool,
}

impl RedisLeader {
    /// A leader whose lease tasks run under `shutdown` and release their leases when it fires.
    pub fn new(redis: RedisConn, cfg: LeaseConfig, shutdown: &Shutdown) -> Arc<Self> {
        Self::build(redis, cfg, shutdown, true)
    }

    fn build(redis: RedisConn, cfg: LeaseConfig, shutdown: &Shutdown, release_on_stop: bool) -> Arc<Self> {
        Arc::new(Self {
            redis,
            cfg,
            jobs: Mutex::new(HashMap::new()),
            shutdown: shutdown.clone(),
            cancel: shutdown.token().child_token(),
            release_on_stop,
        })
    }

    /// Test hook: a leader that does NOT release its leases when stopped, as if its process died.
    pub fn without_release(redis: RedisConn, cfg: LeaseConfig, shutdown: &Shutdown) -> Arc<Self> {
        Self::build(redis, cfg, shutdown, false)
    }

    /// Stops every lease task of this leader (releasing the leases unless built `without_release`).
    pub fn stop(&self) {
        self.cancel.cancel();
    }

    /// This instance's id.
    pub fn instance(&self) -> &str {
        &self.cfg.instance
    }

    fn state(&self, job: &str) -> (Arc<JobState>, bool) {
        let mut jobs = self.jobs.lock();
        if let Some(s) = jobs.get(job) {
            return (Arc::clone(s), false);
        }
        let s = Arc::new(JobState { tx: watch::channel(false).0, held: Mutex::new(None) });
        jobs.insert(job.to_owned(), Arc::clone(&s));
        (s, true)
    }
}

impl Leader for RedisLeader {
    fn watch(&self, job: &str) -> watch::Receiver<bool> {
        let (state, created) = self.state(job);
        if created {
            let task = LeaseTask {
                redis: self.redis.clone(),
                cfg: self.cfg.clone(),
                job: job.to_owned(),
                state: Arc::clone(&state),
                release_on_stop: self.release_on_stop,
            };
            self.shutdown.spawn(task.run(self.cancel.clone()));
        }
        state.tx.subscribe()
    }

    fn fence(&self, job: &str) -> Result<Option<Fence>, NotLeading> {
        let state = self.jobs.lock().get(job).cloned().ok_or(NotLeading)?;
        let held = (*state.held.lock()).ok_or(NotLeading)?;
        if Instant::now() >= held.until {
            return Err(NotLeading);
        }
        Ok(Some(Fence { job: job.to_owned(), token: held.token, holder: self.cfg.instance.clone() }))
    }
}

/// The task keeping one job's lease.
struct LeaseTask {
    redis: RedisConn,
    cfg: LeaseConfig,
    job: String,
    state: Arc<JobState>,
    release_on_stop: bool,
}

impl LeaseTask {
    fn keys(&self) -> (String, String) {
        let lease = self.redis.key(&format!("lease:{{{}}}", self.job));
        let fence = format!("{lease}:fence");
        (lease, fence)
    }

    async fn run(self, cancel: CancellationToken) {
        let (acquire, renew, release) = (Script::new(ACQUIRE), Script::new(RENEW), Script::new(RELEASE));
        // The token this instance may still hold (kept across errors: a renewal can confirm it again).
        let mut token: Option<i64> = None;
        let mut failing = false;
        loop {
            let started = Instant::now();
            let deadline =
                self.held().map_or(started + self.redis.timeout(), |h| h.until.min(started + self.cfg.renew));
            let outcome = match token {
                Some(t) => self.call(&renew, deadline).await.map(|n| (n == 1).then_some(t)),
                None => self.call(&acquire, deadline).await.map(|n| (n > 0).then_some(n)),
            };
            match outcome {
                Ok(Some(t)) => {
                    if failing {
                        tracing::info!(component = "redis", job = %self.job, "Redis answers again");
                        failing = false;
                    }
                    if token != Some(t) {
                        tracing::info!(component = "redis", job = %self.job, token = t, "lease acquired");
                    }
                    token = Some(t);
                    self.set(Some(Held { token: t, until: started + self.cfg.trusted_for() }));
                }
                Ok(None) => {
                    if token.is_some() {
                        tracing::warn!(component = "redis", job = %self.job, "lease lost to another instance");
                    }
                    failing = false;
                    token = None;
                    self.set(None);
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(component = "redis", job = %self.job, error = %e,
                            "cannot reach Redis: the job pauses until its lease is confirmed");
                        failing = true;
                    }
                    self.set(None);
                }
            }
            let next = started + self.cfg.renew;
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep_until(next) => {}
            }
        }
        self.set(None);
        if self.release_on_stop && token.is_some() {
            let deadline = Instant::now() + self.redis.timeout();
            if let Err(e) = self.call(&release, deadline).await {
                tracing::warn!(component = "redis", job = %self.job, error = %e, "could not release the lease");
            }
        }
    }

    fn held(&self) -> Option<Held> {
        *self.state.held.lock()
    }

    /// Publishes the lease state; the watch changes only when leadership does.
    fn set(&self, held: Option<Held>) {
        *self.state.held.lock() = held;
        let lead = held.is_some();
        self.state.tx.send_if_modified(|v| std::mem::replace(v, lead) != lead);
    }

    /// Runs `script` on this job's keys, giving up at `deadline` (never after the lease would expire).
    async fn call(&self, script: &Script, deadline: Instant) -> Result<i64, ClusterError> {
        let (lease, fence) = self.keys();
        let ttl_ms = u64::try_from(self.cfg.ttl.as_millis()).unwrap_or(u64::MAX);
        let mut conn = self.redis.manager();
        let mut inv = script.key(lease);
        inv.key(fence).arg(&self.cfg.instance).arg(ttl_ms);
        let fut = inv.invoke_async::<i64>(&mut conn);
        match tokio::time::timeout_at(deadline, self.redis.bounded(fut)).await {
            Ok(r) => r,
            Err(_) => Err(ClusterError::Timeout(self.redis.timeout())),
        }
    }
}
