//! The shared record of stateful MCP sessions (`mcp-tools.md` §9.1 "Sessions";
//! `docs/decisions/0004-shared-mcp-sessions.md`).
//!
//! A [`SessionRecord`] is written when `initialize` succeeds and holds what any replica needs to
//! serve the session: the client's `initialize` parameters (protocol version, capabilities, client
//! info) and the creating principal (`sub` + org). It lives in Redis under
//! `<prefix>mcp:session:<id>` with the idle TTL as key expiry (refreshed on every use), or in this
//! process when no Redis is configured (expired on access and by a 60 s sweep). With Redis, a
//! DELETE also publishes the id on `<prefix>mcp:session-closed` so other replicas close their
//! copies at once.
//!
//! [`SessionRegistry`] is also rmcp's [`SessionStore`]: rmcp loads the `initialize` parameters from
//! it to re-create a session it does not hold in memory, and deletes the record on DELETE.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use rmcp::model::InitializeRequestParams;
use rmcp::transport::streamable_http_server::session::{SessionState, SessionStore, SessionStoreError};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use crate::core::principal::Principal;

/// Interval of the in-memory expiry sweep (`mcp-tools.md` Numbers: "Stateful session TTL / sweep").
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// What every replica knows about one session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: String,
    /// The client's `initialize` parameters (protocol version, capabilities, client info).
    pub initialize: InitializeRequestParams,
    /// The creating principal: only the same `sub` in the same org may use the session.
    pub sub: String,
    pub org: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl SessionRecord {
    pub fn new(id: &str, initialize: InitializeRequestParams, principal: &Principal) -> Self {
        Self {
            id: id.to_owned(),
            initialize,
            sub: principal.subject.clone(),
            org: principal.org.as_str().to_owned(),
            created_at: chrono::Utc::now().timestamp_millis(),
        }
    }

    /// Whether `principal` is the one that created the session.
    pub fn belongs_to(&self, principal: &Principal) -> bool {
        self.sub == principal.subject && self.org == principal.org.as_str()
    }
}

/// The session store could not be read or written.
#[derive(Debug, Error)]
pub enum SessionStoreFailure {
    #[error("session store (Redis): {0}")]
    Redis(#[from] redis::RedisError),
    #[error("session record {id} is not valid JSON: {source}")]
    Corrupt { id: String, source: serde_json::Error },
    #[error("cannot encode session record: {0}")]
    Encode(#[source] serde_json::Error),
}

struct MemoryEntry {
    record: SessionRecord,
    last_used: Instant,
}

enum Backend {
    Memory(Mutex<HashMap<String, MemoryEntry>>),
    Redis { client: redis::Client, conn: ConnectionManager, prefix: String },
}

/// Session records of this server: in Redis (shared by all replicas) or in memory.
pub struct SessionRegistry {
    backend: Backend,
    ttl: Duration,
}

impl std::fmt::Debug for SessionRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis { .. } => "redis",
        };
        f.debug_struct("SessionRegistry").field("backend", &kind).field("ttl", &self.ttl).finish()
    }
}

impl SessionRegistry {
    /// Records kept in this process (one replica only). Spawns the expiry sweep when called
    /// inside a Tokio runtime; it stops with `cancel` or when the registry is dropped.
    pub fn memory(ttl: Duration, cancel: &CancellationToken) -> Arc<Self> {
        let registry = Arc::new(Self { backend: Backend::Memory(Mutex::new(HashMap::new())), ttl });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(sweep(Arc::downgrade(&registry), cancel.clone()));
        }
        registry
    }

    /// Records in Redis at `url` under `<prefix>mcp:session:<id>`, shared by every replica
    /// using the same Redis and prefix.
    pub async fn redis(url: &str, prefix: &str, ttl: Duration) -> Result<Arc<Self>, SessionStoreFailure> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client.clone(), config).await?;
        Ok(Arc::new(Self { backend: Backend::Redis { client, conn, prefix: prefix.to_owned() }, ttl }))
    }

    /// With Redis: the client and the channel on which deleted session ids are published.
    pub(super) fn closed_feed(&self) -> Option<(redis::Client, String)> {
        match &self.backend {
            Backend::Memory(_) => None,
            Backend::Redis { client, prefix, .. } => Some((client.clone(), closed_channel(prefix))),
        }
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX).max(1)
    }

    /// Stores a new record; its idle TTL starts now.
    pub async fn put(&self, record: &SessionRecord) -> Result<(), SessionStoreFailure> {
        match &self.backend {
            Backend::Memory(map) => {
                let entry = MemoryEntry { record: record.clone(), last_used: Instant::now() };
                map.lock().insert(record.id.clone(), entry);
                Ok(())
            }
            Backend::Redis { conn, prefix, .. } => {
                let json = serde_json::to_string(record).map_err(SessionStoreFailure::Encode)?;
                let mut conn = conn.clone();
                let () = conn.pset_ex(key(prefix, &record.id), json, self.ttl_ms()).await?;
                Ok(())
            }
        }
    }

    /// The record of a live session, restarting its idle TTL; `None` when unknown or expired.
    pub async fn touch(&self, id: &str) -> Result<Option<SessionRecord>, SessionStoreFailure> {
        match &self.backend {
            Backend::Memory(map) => {
                let mut map = map.lock();
                let now = Instant::now();
                match map.get_mut(id) {
                    Some(entry) if now.duration_since(entry.last_used) <= self.ttl => {
                        entry.last_used = now;
                        Ok(Some(entry.record.clone()))
                    }
                    Some(_) => {
                        map.remove(id);
                        Ok(None)
                    }
                    None => Ok(None),
                }
            }
            Backend::Redis { conn, prefix, .. } => {
                let mut conn = conn.clone();
                let json: Option<String> = conn.get_ex(key(prefix, id), redis::Expiry::PX(self.ttl_ms())).await?;
                json.map(|json| {
                    serde_json::from_str(&json)
                        .map_err(|source| SessionStoreFailure::Corrupt { id: id.to_owned(), source })
                })
                .transpose()
            }
        }
    }

    /// Removes a record (DELETE) and, with Redis, tells the other replicas; removing an unknown
    /// one is not an error.
    pub async fn remove(&self, id: &str) -> Result<(), SessionStoreFailure> {
        match &self.backend {
            Backend::Memory(map) => {
                map.lock().remove(id);
                Ok(())
            }
            Backend::Redis { conn, prefix, .. } => {
                let mut conn = conn.clone();
                let removed: usize = conn.del(key(prefix, id)).await?;
                if removed > 0 {
                    let _: usize = conn.publish(closed_channel(prefix), id).await?;
                }
                Ok(())
            }
        }
    }

    /// Drops expired in-memory records (Redis expires its keys itself).
    fn sweep_expired(&self) {
        if let Backend::Memory(map) = &self.backend {
            let now = Instant::now();
            map.lock().retain(|_, entry| now.duration_since(entry.last_used) <= self.ttl);
        }
    }
}

fn key(prefix: &str, id: &str) -> String {
    format!("{prefix}mcp:session:{id}")
}

fn closed_channel(prefix: &str) -> String {
    format!("{prefix}mcp:session-closed")
}

async fn sweep(registry: Weak<SessionRegistry>, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Some(registry) = registry.upgrade() else { return };
        registry.sweep_expired();
    }
}

/// rmcp's view: it loads the `initialize` parameters to re-create a session this process does
/// not hold, and deletes the record when the client DELETEs the session. Records are written by
/// the session manager (which knows the principal), so `store` has nothing to add.
#[async_trait::async_trait]
impl SessionStore for SessionRegistry {
    async fn load(&self, session_id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let record = self.touch(session_id).await?;
        Ok(record.map(|record| SessionState::new(record.initialize)))
    }

    async fn store(&self, _session_id: &str, _state: &SessionState) -> Result<(), SessionStoreError> {
        Ok(())
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        Ok(self.remove(session_id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::OrgId;

    fn record(id: &str, principal: &Principal) -> SessionRecord {
        let params: InitializeRequestParams = serde_json::from_value(serde_json::json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}
        }))
        .unwrap();
        SessionRecord::new(id, params, principal)
    }

    #[tokio::test]
    async fn memory_records_expire_when_idle() {
        let registry = SessionRegistry::memory(Duration::from_millis(40), &CancellationToken::new());
        let owner = Principal::open_mode();
        registry.put(&record("s1", &owner)).await.unwrap();
        let got = registry.touch("s1").await.unwrap().unwrap();
        assert!(got.belongs_to(&owner));
        assert!(!got.belongs_to(&Principal::member_of(OrgId::default_org(), "someone-else")));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(registry.touch("s1").await.unwrap(), None);
        registry.put(&record("s2", &owner)).await.unwrap();
        registry.remove("s2").await.unwrap();
        assert_eq!(registry.touch("s2").await.unwrap(), None);
    }

    #[test]
    fn the_record_round_trips_as_json() {
        let r = record("s1", &Principal::open_mode());
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["initialize"]["protocolVersion"], "2025-06-18");
        assert_eq!((json["sub"].as_str(), json["org"].as_str()), (Some("legacy"), Some("default")));
        assert_eq!(serde_json::from_value::<SessionRecord>(json).unwrap(), r);
    }
}
