//! `GET /api/events`: Server-Sent Events of the caller's org (events-mqtt.md §2). The live subscription is taken
//! before the replay query and frames are de-duplicated by `seq`, so a client resuming with `Last-Event-ID` sees
//! no gap and no duplicate. Writers publish after commit, so the bus may deliver seqs out of order: a live event
//! past a gap first pulls the missing (already committed) seqs from the store, and late arrivals are dropped.
//! Streams end on shutdown and when a slow client overflows its buffer.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream, StreamExt};
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};
use tokio_util::sync::CancellationToken;

use super::AppState;
use super::error::ApiError;
use super::extract::{Caller, Input};
use crate::core::events::EventRecord;
use crate::core::ids::OrgId;

/// Events replayed to a new client without `Last-Event-ID`.
pub const REPLAY_DEFAULT: usize = 50;
/// Most events replayed on resume.
pub const REPLAY_CAP: usize = 1000;

/// SSE settings and the per-process client cap.
#[derive(Clone)]
pub struct SseConfig {
    pub heartbeat: Duration,
    pub clients: Arc<Semaphore>,
}

#[derive(serde::Deserialize)]
pub struct Resume {
    last_event_id: Option<i64>,
}

fn frame(e: &EventRecord) -> Event {
    let mut data = serde_json::Map::new();
    data.insert("_ts".into(), Value::String(e.created_at.t1()));
    data.extend(e.payload.clone());
    Event::default().id(e.seq.to_string()).event(e.kind.clone()).data(Value::Object(data).to_string())
}

struct Live {
    rx: broadcast::Receiver<EventRecord>,
    org: OrgId,
    last: i64,
    stop: CancellationToken,
    store: Arc<dyn crate::core::ports::Store>,
    /// Events to send before reading the bus again, ascending.
    backlog: VecDeque<EventRecord>,
    _permit: OwnedSemaphorePermit,
}

async fn next_live(mut l: Live) -> Option<(Result<Event, Infallible>, Live)> {
    loop {
        if let Some(e) = l.backlog.pop_front() {
            if e.seq > l.last {
                l.last = e.seq;
                return Some((Ok(frame(&e)), l));
            }
            continue;
        }
        let received = tokio::select! {
            _ = l.stop.cancelled() => return None,
            r = l.rx.recv() => r,
        };
        match received {
            Ok(e) if e.org == l.org && e.seq > l.last => {
                let gap = e.seq - l.last - 1;
                if gap > 0 {
                    // Seqs are allocated in commit order, so the missing ones are committed: read them.
                    let missing = usize::try_from(gap).ok().filter(|g| *g <= REPLAY_CAP)?;
                    let found = l.store.events_after(&l.org, l.last, missing).await.ok()?;
                    l.backlog.extend(found.into_iter().filter(|m| m.seq < e.seq));
                }
                l.backlog.push_back(e);
            }
            Ok(_) => {}
            // Lagged (slow client) or closed: end the stream; the client resumes with Last-Event-ID.
            Err(_) => return None,
        }
    }
}

/// The replay frames and the highest replayed seq.
async fn replay(s: &AppState, org: &OrgId, last: Option<i64>) -> Result<(Vec<Event>, i64), ApiError> {
    let store = s.core.store();
    let mut frames = Vec::new();
    let events = match last.filter(|l| *l > 0) {
        Some(last) => {
            let latest = store
                .latest_events(org, REPLAY_CAP)
                .await
                .map_err(|e| ApiError::from(crate::core::error::CoreError::from(e)))?;
            match latest.first() {
                Some(first) if first.seq > last + 1 => {
                    frames.push(
                        Event::default().comment(format!(" replay truncated, {} events skipped", first.seq - last - 1)),
                    );
                    latest
                }
                _ => latest.into_iter().filter(|e| e.seq > last).collect(),
            }
        }
        None => store
            .latest_events(org, REPLAY_DEFAULT)
            .await
            .map_err(|e| ApiError::from(crate::core::error::CoreError::from(e)))?,
    };
    let top = events.last().map_or(last.unwrap_or(0), |e| e.seq);
    frames.extend(events.iter().map(frame));
    Ok((frames, top))
}

/// The SSE handler.
pub async fn events(
    State(s): State<AppState>,
    Caller(p): Caller,
    headers: HeaderMap,
    Input(q): Input<Resume>,
) -> Response {
    let Ok(permit) = s.sse.clients.clone().try_acquire_owned() else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "TOO_MANY_SSE_CLIENTS",
            "Too many event streams; retry shortly",
        )
        .with_retry_after(5)
        .into_response();
    };
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or(q.last_event_id);
    let rx = s.core.bus().subscribe();
    let (frames, top) = match replay(&s, &p.org, last).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let live = Live {
        rx,
        org: p.org.clone(),
        last: top,
        stop: s.shutdown.clone(),
        store: s.core.store().clone(),
        backlog: VecDeque::new(),
        _permit: permit,
    };
    let body: std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>> =
        Box::pin(stream::iter(frames.into_iter().map(Ok)).chain(stream::unfold(live, next_live)));
    let mut res =
        Sse::new(body).keep_alive(KeepAlive::new().interval(s.sse.heartbeat).text("keep-alive")).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    res
}
