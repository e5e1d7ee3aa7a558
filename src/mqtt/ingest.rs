//! Ingestion of accepted client publishes and wills, off the broker's publish path on one tracked worker (in
//! order, bounded queue = backpressure): inbox delivery through `Core::deliver_to_inboxes`, and an agent's own
//! `agents/<id>/status` saying offline (or its will) → `Core::depart_agent` (reason `mqtt_offline` / `lwt`).

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::hooks::Ingest;
use super::topics;
use crate::core::Core;
use crate::core::principal::Principal;

/// Queued ingestion jobs before publishers wait.
pub const INGEST_QUEUE: usize = 4096;

/// Handles one accepted publish.
pub async fn ingest(core: &Core, job: &Ingest) {
    if let Err(e) = core.deliver_to_inboxes(&job.org, &job.suffix, &job.payload).await {
        tracing::warn!(component = "mqtt", topic = %job.suffix, error = %e, "inbox delivery of a client publish failed");
    }
    let Some(agent) = topics::status_agent(&job.suffix) else { return };
    if job.agent.as_ref().is_none_or(|a| a.as_str() != agent) || !topics::is_offline_payload(&job.payload) {
        return;
    }
    let reason = if job.will { "lwt" } else { "mqtt_offline" };
    let p = Principal::member_of(job.org.clone(), format!("mqtt:{agent}"));
    match core.depart_agent(&p, agent, reason).await {
        Ok(true) => tracing::info!(component = "mqtt", %agent, reason, "agent departed over MQTT"),
        Ok(false) => tracing::debug!(component = "mqtt", %agent, "offline status for an unknown agent"),
        Err(e) => tracing::warn!(component = "mqtt", %agent, error = %e, "MQTT departure failed"),
    }
}

/// Runs until cancelled, then drains what is queued.
pub async fn run(core: Core, mut rx: mpsc::Receiver<Ingest>, cancel: CancellationToken) {
    loop {
        let job = tokio::select! {
            j = rx.recv() => j,
            _ = cancel.cancelled() => break,
        };
        let Some(job) = job else { return };
        // The embedded broker of each replica only sees its own clients: hand the publish to the others.
        core.forward_mqtt(&job.org, &job.suffix, &job.payload, job.qos, job.retain);
        ingest(&core, &job).await;
    }
    while let Ok(job) = rx.try_recv() {
        core.forward_mqtt(&job.org, &job.suffix, &job.payload, job.qos, job.retain);
        ingest(&core, &job).await;
    }
}
