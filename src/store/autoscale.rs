//! The autoscale engine's state per autoscale setting (`autoscale_state`): read and written
//! by the engine every evaluation, read by the setting's GET, deleted with the setting; and
//! how far back a resource's metrics go (what predictive autoscale learns from).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::SqliteConnection;

use super::{Store, now};

impl Store {
    /// The engine state of a setting (`setting_key` is its lower-case id), if any.
    pub async fn autoscale_state(&self, setting_key: &str) -> Result<Option<Value>, sqlx::Error> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT body FROM autoscale_state WHERE setting_key = ?")
                .bind(setting_key.to_ascii_lowercase())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(b,)| serde_json::from_str(&b).ok()))
    }

    /// Writes the engine state of a setting, only while the setting exists: a pass that
    /// evaluated a setting the user deleted meanwhile leaves nothing behind. Returns whether
    /// it was written.
    pub async fn put_autoscale_state(
        &self,
        setting_key: &str,
        body: &Value,
    ) -> Result<bool, sqlx::Error> {
        let key = setting_key.to_ascii_lowercase();
        let mut w = self.write().await?;
        let done = sqlx::query(
            "INSERT INTO autoscale_state (setting_key, body, updated_at)
             SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM resources WHERE key = ?1)
             ON CONFLICT (setting_key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(&key)
        .bind(body.to_string())
        .bind(now())
        .execute(&mut *w.tx)
        .await?;
        w.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes the state of settings that no longer exist (a resource group deletion removes
    /// settings without their type's delete hook); returns how many went.
    pub async fn prune_autoscale_states(&self) -> Result<u64, sqlx::Error> {
        let mut w = self.write().await?;
        let done = sqlx::query(
            "DELETE FROM autoscale_state
             WHERE NOT EXISTS (SELECT 1 FROM resources WHERE key = autoscale_state.setting_key)",
        )
        .execute(&mut *w.tx)
        .await?;
        w.commit().await?;
        Ok(done.rows_affected())
    }
}

impl Store {
    /// The first stored minute of a metric of a resource: how much history predictive
    /// autoscale has to learn from.
    pub async fn first_metric_minute(
        &self,
        resource_key: &str,
        metric: &str,
    ) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        let row: Option<(Option<i64>,)> = sqlx::query_as(
            "SELECT MIN(minute) FROM metric_minutes WHERE resource_key = ? AND metric = ?",
        )
        .bind(resource_key.to_ascii_lowercase())
        .bind(metric)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .and_then(|(m,)| m)
            .and_then(|m| DateTime::from_timestamp(m, 0)))
    }
}

/// Deletes a setting's state inside the write transaction that deletes the setting.
pub async fn delete_state(
    conn: &mut SqliteConnection,
    setting_key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM autoscale_state WHERE setting_key = ?")
        .bind(setting_key.to_ascii_lowercase())
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Resource, resources};
    use serde_json::json;

    const SETTING: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/autoscaleSettings/a";

    async fn with_setting() -> Store {
        let store = Store::in_memory().await.unwrap();
        let mut w = store.write().await.unwrap();
        let row = Resource {
            id: SETTING.into(),
            subscription: "s".into(),
            resource_group: Some("rg".into()),
            type_name: "Microsoft.Insights/autoscaleSettings".into(),
            name: "a".into(),
            body: json!({}),
            etag: "e".into(),
        };
        resources::put(&mut w.tx, &row).await.unwrap();
        w.commit().await.unwrap();
        store
    }

    #[tokio::test]
    async fn state_is_kept_only_for_settings_that_exist() {
        let store = with_setting().await;
        assert!(store.autoscale_state(SETTING).await.unwrap().is_none());
        assert!(
            store
                .put_autoscale_state(SETTING, &json!({"n": 1}))
                .await
                .unwrap()
        );
        assert!(
            store
                .put_autoscale_state(&SETTING.to_uppercase(), &json!({"n": 2}))
                .await
                .unwrap()
        );
        assert_eq!(
            store.autoscale_state(SETTING).await.unwrap(),
            Some(json!({"n": 2}))
        );
        let gone = format!("{SETTING}x");
        assert!(!store.put_autoscale_state(&gone, &json!({})).await.unwrap());
        assert!(store.autoscale_state(&gone).await.unwrap().is_none());

        let mut w = store.write().await.unwrap();
        resources::delete(&mut w.tx, &SETTING.to_ascii_lowercase())
            .await
            .unwrap();
        w.commit().await.unwrap();
        assert_eq!(store.prune_autoscale_states().await.unwrap(), 1);
        assert!(store.autoscale_state(SETTING).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn deleting_in_a_transaction_removes_the_state() {
        let store = with_setting().await;
        store
            .put_autoscale_state(SETTING, &json!({}))
            .await
            .unwrap();
        let mut w = store.write().await.unwrap();
        delete_state(&mut w.tx, SETTING).await.unwrap();
        w.commit().await.unwrap();
        assert!(store.autoscale_state(SETTING).await.unwrap().is_none());
    }
}
