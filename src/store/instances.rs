//! Queries about scale-set instances: the rows of one scale set, the loopback addresses in
//! use, and what the runtime observed of each instance's process.

use sqlx::SqliteConnection;

use super::{Resource, Store, now};

/// Instance rows whose internal `scaleSet` is `vmss_key`, in creation order (the
/// `resources_by_scale_set` index: no scan of other documents).
pub async fn of_scale_set(
    conn: &mut SqliteConnection,
    vmss_key: &str,
) -> Result<Vec<Resource>, sqlx::Error> {
    page_of_scale_set(conn, vmss_key, 0, None).await
}

/// At most `limit` instance rows of a scale set after the first `skip`, in creation order.
pub async fn page_of_scale_set(
    conn: &mut SqliteConnection,
    vmss_key: &str,
    skip: usize,
    limit: Option<usize>,
) -> Result<Vec<Resource>, sqlx::Error> {
    sqlx::query(
        "SELECT id, subscription, resource_group, type, name, body, etag FROM resources
         WHERE json_extract(body, '$._armlet.scaleSet') = ?1
         ORDER BY json_extract(body, '$._armlet.created') LIMIT ?2 OFFSET ?3",
    )
    .bind(vmss_key)
    // SQLite reads a negative LIMIT as "no limit"; sizes beyond i64 are clamped.
    .bind(limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX)))
    .bind(i64::try_from(skip).unwrap_or(i64::MAX))
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(Resource::from_row)
    .collect()
}

/// The loopback addresses instances bind, anywhere.
pub async fn bind_addresses(conn: &mut SqliteConnection) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT json_extract(body, '$._armlet.bindAddress') FROM resources
         WHERE json_extract(body, '$._armlet.bindAddress') IS NOT NULL",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(a,)| a).collect())
}

impl Store {
    /// Instance rows of a scale set, in creation order (outside a write transaction).
    pub async fn instances_of(&self, vmss_key: &str) -> Result<Vec<Resource>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        of_scale_set(&mut conn, vmss_key).await
    }

    /// One page of [`Store::instances_of`].
    pub async fn instances_page(
        &self,
        vmss_key: &str,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<Resource>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        page_of_scale_set(&mut conn, vmss_key, skip, Some(limit)).await
    }
}

/// What the runtime last started for an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRecord {
    pub generation: u64,
    pub model_version: u64,
    pub started_at: String,
}

impl Store {
    pub async fn record_process(
        &self,
        key: &str,
        generation: u64,
        model_version: u64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO instance_processes (key, generation, model_version, started_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (key) DO UPDATE SET generation = excluded.generation,
               model_version = excluded.model_version, started_at = excluded.started_at",
        )
        .bind(key.to_ascii_lowercase())
        .bind(generation as i64)
        .bind(model_version as i64)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn forget_process(&self, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM instance_processes WHERE key = ?")
            .bind(key.to_ascii_lowercase())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn process(&self, key: &str) -> Result<Option<ProcessRecord>, sqlx::Error> {
        let row: Option<(i64, i64, String)> = sqlx::query_as(
            "SELECT generation, model_version, started_at FROM instance_processes WHERE key = ?",
        )
        .bind(key.to_ascii_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(g, m, at)| ProcessRecord {
            generation: g as u64,
            model_version: m as u64,
            started_at: at,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn process_records_round_trip() {
        let store = Store::in_memory().await.unwrap();
        store.record_process("/A/vm/0", 2, 5).await.unwrap();
        let r = store.process("/a/vm/0").await.unwrap().unwrap();
        assert_eq!((r.generation, r.model_version), (2, 5));
        store.record_process("/a/vm/0", 3, 6).await.unwrap();
        assert_eq!(
            store.process("/a/vm/0").await.unwrap().unwrap().generation,
            3
        );
        store.forget_process("/a/vm/0").await.unwrap();
        assert!(store.process("/a/vm/0").await.unwrap().is_none());
    }
}
