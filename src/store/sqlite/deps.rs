//! `DepStore` on SQLite: the org's dependency map, one row per module with JSON-array columns.

use async_trait::async_trait;
use rusqlite::{Connection, Row, params};

use super::{SqliteStore, codec};
use crate::core::deps::ModuleInfo;
use crate::core::ids::OrgId;
use crate::core::ports::{DepStore, StoreResult};
use crate::core::rows::to_json_text;

/// Decodes `module_id, depends_on, exports, owners` starting at column `at`.
pub(super) fn decode_at(row: &Row<'_>, at: usize) -> rusqlite::Result<ModuleInfo> {
    Ok(ModuleInfo {
        module_id: row.get(at)?,
        depends_on: codec::json(row, at + 1)?,
        exports: codec::json(row, at + 2)?,
        owners: codec::json(row, at + 3)?,
    })
}

fn upsert(conn: &Connection, org: &OrgId, modules: &[ModuleInfo]) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO dependency_map (org_id, module_id, depends_on, exports, owners) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (org_id, module_id) DO UPDATE SET depends_on = excluded.depends_on, \
         exports = excluded.exports, owners = excluded.owners",
    )?;
    for m in modules {
        stmt.execute(params![
            org.as_str(),
            m.module_id,
            to_json_text(&m.depends_on),
            to_json_text(&m.exports),
            to_json_text(&m.owners)
        ])?;
    }
    Ok(())
}

#[async_trait]
impl DepStore for SqliteStore {
    async fn upsert_modules(&self, org: &OrgId, modules: &[ModuleInfo]) -> StoreResult<()> {
        let (org, modules) = (org.clone(), modules.to_vec());
        self.write(move |c| upsert(c, &org, &modules)).await
    }

    async fn get_module(&self, org: &OrgId, id: &str) -> StoreResult<Option<ModuleInfo>> {
        let (org, id) = (org.clone(), id.to_owned());
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT module_id, depends_on, exports, owners FROM dependency_map WHERE org_id = ?1 AND module_id = ?2",
            )?;
            let mut rows = stmt.query_map(params![org.as_str(), id], |r| decode_at(r, 0))?;
            Ok(rows.next().transpose()?)
        })
        .await
    }

    async fn list_modules(&self, org: &OrgId) -> StoreResult<Vec<ModuleInfo>> {
        let org = org.clone();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT module_id, depends_on, exports, owners FROM dependency_map WHERE org_id = ?1 ORDER BY module_id",
            )?;
            let rows = stmt.query_map(params![org.as_str()], |r| decode_at(r, 0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}
