//! Log Analytics workspace data: the `AzureMetrics` rows diagnostic settings export, and the
//! exporter's progress per setting (migration `0004_log_analytics.sql`); health events are in
//! [`super::health_events`].

use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};

use crate::model::log_analytics::azure_metrics::MetricRecord;

use super::Store;

/// How far the exporter has got with one diagnostic setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportProgress {
    pub setting_key: String,
    pub workspace_key: String,
    /// The first minute to export.
    pub since: DateTime<Utc>,
    /// Minutes before this one are exported.
    pub through: DateTime<Utc>,
}

pub(super) fn time(secs: i64) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| sqlx::Error::Decode(format!("time {secs} is out of range").into()))
}

/// Deletes everything a workspace holds, inside the caller's transaction (the workspace's
/// deletion); returns how many rows.
pub async fn delete_workspace_data(
    conn: &mut SqliteConnection,
    workspace_key: &str,
) -> Result<u64, sqlx::Error> {
    let mut rows = 0;
    for delete in [
        "DELETE FROM azure_metrics WHERE workspace_key = ?",
        "DELETE FROM alb_health_events WHERE workspace_key = ?",
    ] {
        let done = sqlx::query(delete)
            .bind(workspace_key.to_ascii_lowercase())
            .execute(&mut *conn)
            .await?;
        rows += done.rows_affected();
    }
    Ok(rows)
}

impl Store {
    /// Writes exported minutes, replacing rows of the same (workspace, resource, metric,
    /// minute), in one transaction; rows for a workspace that does not exist are dropped.
    pub async fn write_azure_metrics(&self, records: &[MetricRecord]) -> Result<(), sqlx::Error> {
        if records.is_empty() {
            return Ok(());
        }
        let mut w = self.write().await?;
        for r in records {
            // Only into a workspace that still exists: an export racing the workspace's
            // deletion must not leave rows a workspace re-created under the name would show.
            sqlx::query(
                "INSERT OR REPLACE INTO azure_metrics
                 (workspace_key, resource_key, metric, minute, total, count, minimum, maximum, average, unit)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10
                 WHERE EXISTS (SELECT 1 FROM resources WHERE key = ?1)",
            )
            .bind(r.workspace_key.to_ascii_lowercase())
            .bind(r.resource_key.to_ascii_lowercase())
            .bind(&r.metric)
            .bind(r.minute.timestamp())
            .bind(r.total)
            .bind(r.count)
            .bind(r.minimum)
            .bind(r.maximum)
            .bind(r.average)
            .bind(&r.unit)
            .execute(&mut *w.tx)
            .await?;
        }
        w.commit().await
    }

    /// A workspace's `AzureMetrics` rows with `from <= TimeGenerated < to`, oldest first.
    pub async fn azure_metrics(
        &self,
        workspace_key: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<MetricRecord>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT workspace_key, resource_key, metric, minute, total, count, minimum, maximum, average, unit
             FROM azure_metrics WHERE workspace_key = ? AND minute >= ? AND minute < ?
             ORDER BY minute, resource_key, metric",
        )
        .bind(workspace_key.to_ascii_lowercase())
        .bind(from.timestamp())
        .bind(to.timestamp())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(MetricRecord {
                    workspace_key: row.try_get("workspace_key")?,
                    resource_key: row.try_get("resource_key")?,
                    metric: row.try_get("metric")?,
                    minute: time(row.try_get("minute")?)?,
                    total: row.try_get("total")?,
                    count: row.try_get("count")?,
                    minimum: row.try_get("minimum")?,
                    maximum: row.try_get("maximum")?,
                    average: row.try_get("average")?,
                    unit: row.try_get("unit")?,
                })
            })
            .collect()
    }

    /// Deletes a workspace's rows older than `cutoff` (its retention); returns how many.
    pub async fn prune_azure_metrics(
        &self,
        workspace_key: &str,
        cutoff: DateTime<Utc>,
    ) -> Result<u64, sqlx::Error> {
        let mut w = self.write().await?;
        let done = sqlx::query("DELETE FROM azure_metrics WHERE workspace_key = ? AND minute < ?")
            .bind(workspace_key.to_ascii_lowercase())
            .bind(cutoff.timestamp())
            .execute(&mut *w.tx)
            .await?;
        w.commit().await?;
        Ok(done.rows_affected())
    }

    /// Every setting's export progress.
    pub async fn log_exports(&self) -> Result<Vec<ExportProgress>, sqlx::Error> {
        let rows =
            sqlx::query("SELECT setting_key, workspace_key, since, through FROM log_exports")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|row| {
                Ok(ExportProgress {
                    setting_key: row.try_get("setting_key")?,
                    workspace_key: row.try_get("workspace_key")?,
                    since: time(row.try_get("since")?)?,
                    through: time(row.try_get("through")?)?,
                })
            })
            .collect()
    }

    /// Records a setting's progress (inserting or replacing it).
    pub async fn put_log_export(&self, p: &ExportProgress) -> Result<(), sqlx::Error> {
        let mut w = self.write().await?;
        sqlx::query("INSERT OR REPLACE INTO log_exports (setting_key, workspace_key, since, through) VALUES (?, ?, ?, ?)")
            .bind(p.setting_key.to_ascii_lowercase())
            .bind(p.workspace_key.to_ascii_lowercase())
            .bind(p.since.timestamp())
            .bind(p.through.timestamp())
            .execute(&mut *w.tx)
            .await?;
        w.commit().await
    }

    /// Forgets a setting's progress (the setting is gone or no longer exports).
    pub async fn delete_log_export(&self, setting_key: &str) -> Result<(), sqlx::Error> {
        let mut w = self.write().await?;
        sqlx::query("DELETE FROM log_exports WHERE setting_key = ?")
            .bind(setting_key.to_ascii_lowercase())
            .execute(&mut *w.tx)
            .await?;
        w.commit().await
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};

    use super::*;

    const WS: &str =
        "/subscriptions/s/resourcegroups/rg/providers/microsoft.operationalinsights/workspaces/w";

    fn record(minute: DateTime<Utc>, total: f64) -> MetricRecord {
        MetricRecord {
            workspace_key: WS.into(),
            resource_key:
                "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/loadbalancers/lb"
                    .into(),
            metric: "ByteCount".into(),
            minute,
            total,
            count: 1.0,
            minimum: total,
            maximum: total,
            average: total,
            unit: "Bytes".into(),
        }
    }

    async fn with_workspace() -> Store {
        let store = Store::in_memory().await.unwrap();
        let mut w = store.write().await.unwrap();
        let row = crate::store::Resource {
            id: WS.into(),
            subscription: "s".into(),
            resource_group: Some("rg".into()),
            type_name: "Microsoft.OperationalInsights/workspaces".into(),
            name: "w".into(),
            body: serde_json::json!({}),
            etag: "e".into(),
        };
        crate::store::resources::put(&mut w.tx, &row).await.unwrap();
        w.commit().await.unwrap();
        store
    }

    #[tokio::test]
    async fn rows_for_a_missing_workspace_are_dropped() {
        let store = Store::in_memory().await.unwrap();
        let t0 = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
        store.write_azure_metrics(&[record(t0, 1.0)]).await.unwrap();
        assert!(
            store
                .azure_metrics(WS, t0, t0 + TimeDelta::minutes(1))
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn rows_are_replaced_by_minute_and_read_by_range() {
        let store = with_workspace().await;
        let t0 = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
        let t1 = t0 + TimeDelta::minutes(1);
        store
            .write_azure_metrics(&[record(t0, 1.0), record(t1, 2.0)])
            .await
            .unwrap();
        store.write_azure_metrics(&[record(t0, 5.0)]).await.unwrap();
        let all = store
            .azure_metrics(WS, t0, t1 + TimeDelta::minutes(1))
            .await
            .unwrap();
        assert_eq!(all.iter().map(|r| r.total).collect::<Vec<_>>(), [5.0, 2.0]);
        assert_eq!(
            store
                .azure_metrics(WS, t1, t1 + TimeDelta::minutes(1))
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(store.prune_azure_metrics(WS, t1).await.unwrap(), 1);
        let mut conn = store.pool().acquire().await.unwrap();
        assert_eq!(delete_workspace_data(&mut conn, WS).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn export_progress_round_trips() {
        let store = Store::in_memory().await.unwrap();
        let t0 = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
        let p = ExportProgress {
            setting_key: "s1".into(),
            workspace_key: "w".into(),
            since: t0,
            through: t0,
        };
        store.put_log_export(&p).await.unwrap();
        let later = ExportProgress {
            through: t0 + TimeDelta::minutes(3),
            ..p.clone()
        };
        store.put_log_export(&later).await.unwrap();
        assert_eq!(store.log_exports().await.unwrap(), vec![later]);
        store.delete_log_export("S1").await.unwrap();
        assert!(store.log_exports().await.unwrap().is_empty());
    }
}
