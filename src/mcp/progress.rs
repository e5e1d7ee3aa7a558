//! `notifications/progress` for long-running tool calls.
//!
//! A client that wants progress puts a `progressToken` in the request's `_meta`; only then does
//! a call get a [`ProgressSender`]. Sending progress also keeps proxies and client timeouts from
//! killing a call that legitimately blocks (`wait_for_message`, `wait_for_peers`), and switches a
//! `json_response` HTTP reply to `text/event-stream` (rmcp does this by itself).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer};
use tokio::time::Instant;

/// Default interval between automatic progress notifications of a blocking call.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(10);

/// Sends progress notifications for one request. Cheap to clone; values only increase.
#[derive(Clone)]
pub struct ProgressSender {
    peer: Peer<RoleServer>,
    token: ProgressToken,
    step: Arc<AtomicU64>,
}

impl std::fmt::Debug for ProgressSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgressSender").field("token", &self.token).finish_non_exhaustive()
    }
}

impl ProgressSender {
    /// A sender for this request, if the client asked for progress.
    pub fn from_context(context: &RequestContext<RoleServer>) -> Option<Self> {
        let token = context.meta.get_progress_token()?;
        Some(Self { peer: context.peer.clone(), token, step: Arc::new(AtomicU64::new(0)) })
    }

    /// Sends the next progress step with a message. Delivery failures (client gone) are ignored:
    /// the request's cancellation token reports that.
    pub async fn notify(&self, message: impl Into<String>) {
        let step = self.step.fetch_add(1, Ordering::Relaxed) + 1;
        // Progress values are JSON numbers; steps stay far below 2^53.
        #[allow(clippy::cast_precision_loss)]
        let param = ProgressNotificationParam::new(self.token.clone(), step as f64).with_message(message);
        if let Err(error) = self.peer.notify_progress(param).await {
            tracing::debug!(%error, "progress notification not delivered");
        }
    }
}

/// Runs `work`, sending a progress notification every `every` while it is pending (none if
/// `progress` is `None` or the work finishes first). Runs in the caller's task, so rmcp still
/// associates the notifications with the request.
pub async fn with_heartbeat<F: Future>(progress: Option<ProgressSender>, every: Duration, work: F) -> F::Output {
    let Some(progress) = progress else {
        return work.await;
    };
    let started = Instant::now();
    let mut ticker = tokio::time::interval_at(started + every, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(work);
    loop {
        tokio::select! {
            biased;
            output = &mut work => return output,
            _ = ticker.tick() => {
                let waited = started.elapsed().as_secs();
                progress.notify(format!("still working ({waited} s)")).await;
            }
        }
    }
}
