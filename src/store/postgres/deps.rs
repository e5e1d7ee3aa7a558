//! `DepStore` on Postgres: the org's dependency map, one row per module with JSON-array columns.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{PgStore, codec, in_tx};
use crate::core::deps::ModuleInfo;
use crate::core::ids::OrgId;
use crate::core::ports::{DepStore, StoreResult};
use crate::core::rows::to_json_text;

/// Decodes `module_id, depends_on, exports, owners` starting at column `at`.
pub(super) fn decode_at(row: &PgRow, at: usize) -> StoreResult<ModuleInfo> {
    Ok(ModuleInfo {
        module_id: row.try_get(at)?,
        depends_on: codec::json(row, at + 1)?,
        exports: codec::json(row, at + 2)?,
        owners: codec::json(row, at + 3)?,
    })
}

#[async_trait]
impl DepStore for PgStore {
    async fn upsert_modules(&self, org: &OrgId, modules: &[ModuleInfo]) -> StoreResult<()> {
        in_tx!(self, |c| {
            for m in modules {
                sqlx::query(
                    "INSERT INTO dependency_map (org_id, module_id, depends_on, exports, owners) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id, module_id) DO UPDATE SET \
                     depends_on = excluded.depends_on, exports = excluded.exports, owners = excluded.owners",
                )
                .bind(org.as_str())
                .bind(&m.module_id)
                .bind(to_json_text(&m.depends_on))
                .bind(to_json_text(&m.exports))
                .bind(to_json_text(&m.owners))
                .execute(&mut *c)
                .await?;
            }
            StoreResult::Ok(())
        })
    }

    async fn get_module(&self, org: &OrgId, id: &str) -> StoreResult<Option<ModuleInfo>> {
        let mut c = self.conn().await?;
        let row = sqlx::query(
            "SELECT module_id, depends_on, exports, owners FROM dependency_map WHERE org_id = $1 AND module_id = $2",
        )
        .bind(org.as_str())
        .bind(id)
        .fetch_optional(&mut *c)
        .await?;
        row.as_ref().map(|r| decode_at(r, 0)).transpose()
    }

    async fn list_modules(&self, org: &OrgId) -> StoreResult<Vec<ModuleInfo>> {
        let mut c = self.conn().await?;
        let rows = sqlx::query(
            "SELECT module_id, depends_on, exports, owners FROM dependency_map WHERE org_id = $1 ORDER BY module_id",
        )
        .bind(org.as_str())
        .fetch_all(&mut *c)
        .await?;
        rows.iter().map(|r| decode_at(r, 0)).collect()
    }
}
