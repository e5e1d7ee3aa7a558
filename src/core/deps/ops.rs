//! Dependency-map operations: upsert, module info, blast radius.

use crate::core::announce::sync::IndexChange;
use std::collections::{BTreeSet, HashMap, VecDeque};

use serde::Serialize;

use super::model::ModuleInfo;
use crate::core::error::{CoreError, CoreResult};
use crate::core::facade::Core;
use crate::core::principal::Principal;

/// Modules per `set_dependency_map` call.
pub const MAX_MODULES_PER_MAP: usize = 10_000;

/// An open or resolving thread inside a blast radius.
#[derive(Debug, Clone, Serialize)]
pub struct RadiusThread {
    pub thread_id: String,
    pub subject: String,
    pub initiator_id: String,
    pub status: String,
}

/// The result of `get_blast_radius`.
#[derive(Debug, Clone, Serialize)]
pub struct BlastRadius {
    pub module_id: String,
    pub direct_dependents: Vec<String>,
    pub indirect_dependents: Vec<String>,
    pub affected_exports: Vec<String>,
    pub active_threads_in_radius: Vec<RadiusThread>,
}

impl Core {
    /// `set_dependency_map`: upsert every entry in one transaction, other modules kept.
    pub async fn set_dependency_map(&self, p: &Principal, modules: Vec<ModuleInfo>) -> CoreResult<()> {
        if modules.len() > MAX_MODULES_PER_MAP {
            return Err(CoreError::invalid("modules", format!("at most {MAX_MODULES_PER_MAP} entries")));
        }
        if let Some(m) = modules.iter().find(|m| m.module_id.trim().is_empty()) {
            return Err(CoreError::invalid("modules", format!("module_id must not be empty ({m:?})")));
        }
        self.ensure_org(p).await?;
        let slot = self.slot(&p.org);
        let _w = slot.write.lock().await;
        self.inner.store.upsert_modules(&p.org, &modules).await?;
        let all = self.inner.store.list_modules(&p.org).await?;
        let deps: HashMap<String, Vec<String>> = all.into_iter().map(|m| (m.module_id, m.depends_on)).collect();
        self.change_index(&p.org, &slot, vec![IndexChange::Dependencies { deps }]);
        Ok(())
    }

    /// `get_module_info`.
    pub async fn get_module_info(&self, p: &Principal, module_id: &str) -> CoreResult<Option<ModuleInfo>> {
        if module_id.trim().is_empty() {
            return Err(CoreError::invalid("module_id", "must not be empty"));
        }
        Ok(self.inner.store.get_module(&p.org, module_id).await?)
    }

    /// `get_blast_radius`: reverse edges breadth-first, exports, live threads in the radius.
    pub async fn get_blast_radius(&self, p: &Principal, module_id: &str) -> CoreResult<BlastRadius> {
        if module_id.trim().is_empty() {
            return Err(CoreError::invalid("module_id", "must not be empty"));
        }
        let all = self.inner.store.list_modules(&p.org).await?;
        let mut rev: HashMap<&str, Vec<&str>> = HashMap::new();
        for m in &all {
            for d in &m.depends_on {
                rev.entry(d.as_str()).or_default().push(m.module_id.as_str());
            }
        }
        let mut direct: Vec<String> = rev.get(module_id).into_iter().flatten().map(|s| (*s).to_owned()).collect();
        direct.sort();
        direct.dedup();
        let mut seen: BTreeSet<String> = direct.iter().cloned().collect();
        seen.insert(module_id.to_owned());
        let mut indirect = Vec::new();
        let mut queue: VecDeque<String> = direct.iter().cloned().collect();
        while let Some(cur) = queue.pop_front() {
            let mut next: Vec<&str> = rev.get(cur.as_str()).into_iter().flatten().copied().collect();
            next.sort_unstable();
            for n in next {
                if seen.insert(n.to_owned()) {
                    indirect.push(n.to_owned());
                    queue.push_back(n.to_owned());
                }
            }
        }
        let exports = all.iter().find(|m| m.module_id == module_id).map(|m| m.exports.clone()).unwrap_or_default();
        let radius: BTreeSet<&str> = std::iter::once(module_id)
            .chain(direct.iter().map(String::as_str))
            .chain(indirect.iter().map(String::as_str))
            .collect();
        let mut threads: Vec<(crate::core::time::Timestamp, RadiusThread)> = {
            let slot = self.slot(&p.org);
            let idx = slot.index.lock();
            idx.threads
                .values()
                .filter(|t| t.status.is_live() && t.target_modules.iter().any(|m| radius.contains(m.as_str())))
                .map(|t| {
                    (
                        t.created_at,
                        RadiusThread {
                            thread_id: t.id.to_string(),
                            subject: t.subject.clone(),
                            initiator_id: t.initiator.to_string(),
                            status: t.status.to_string(),
                        },
                    )
                })
                .collect()
        };
        threads.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.thread_id.cmp(&b.1.thread_id)));
        Ok(BlastRadius {
            module_id: module_id.to_owned(),
            direct_dependents: direct,
            indirect_dependents: indirect,
            affected_exports: exports,
            active_threads_in_radius: threads.into_iter().map(|t| t.1).collect(),
        })
    }
}
