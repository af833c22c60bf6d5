//! Scale-set lifecycle records (migration 0005): rolling upgrades, orchestration service
//! states and Scheduled Events documents. The store keeps them as JSON; their types and
//! rules live in the runtime (`runtime::upgrade`).

use serde_json::Value;
use sqlx::{Row, SqliteConnection};

use super::{Store, now};

/// One stored rolling upgrade.
#[derive(Debug, Clone, PartialEq)]
pub struct UpgradeRow {
    pub id: i64,
    pub scale_set: String,
    pub kind: String,
    pub active: bool,
    /// What a write must name to replace this record.
    pub version: i64,
    pub record: Value,
    pub target_image: Option<Value>,
}

/// `SELECT <every column> FROM rolling_upgrades <tail>`, as a static query.
macro_rules! select_upgrades {
    ($tail:literal) => {
        concat!(
            "SELECT id, scale_set, kind, active, version, record, target_image FROM rolling_upgrades ",
            $tail
        )
    };
}

fn upgrade_row(row: &sqlx::sqlite::SqliteRow) -> Result<UpgradeRow, sqlx::Error> {
    let record: String = row.try_get("record")?;
    let image: Option<String> = row.try_get("target_image")?;
    let json = |s: &str| serde_json::from_str(s).map_err(|e| sqlx::Error::Decode(Box::new(e)));
    Ok(UpgradeRow {
        id: row.try_get("id")?,
        scale_set: row.try_get("scale_set")?,
        kind: row.try_get("kind")?,
        active: row.try_get::<i64, _>("active")? != 0,
        version: row.try_get("version")?,
        record: json(&record)?,
        target_image: image.as_deref().map(json).transpose()?,
    })
}

/// Records a new upgrade (inside the write that starts it); returns its id.
pub async fn insert_upgrade(
    conn: &mut SqliteConnection,
    scale_set: &str,
    kind: &str,
    record: &Value,
    target_image: Option<&Value>,
) -> Result<i64, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO rolling_upgrades (scale_set, kind, active, version, record, target_image)
         VALUES (?, ?, 1, 1, ?, ?)",
    )
    .bind(scale_set.to_ascii_lowercase())
    .bind(kind)
    .bind(record.to_string())
    .bind(target_image.map(Value::to_string))
    .execute(conn)
    .await?;
    Ok(done.last_insert_rowid())
}

/// The newest upgrade of a scale set, read inside a transaction.
pub async fn latest_upgrade(
    conn: &mut SqliteConnection,
    scale_set: &str,
) -> Result<Option<UpgradeRow>, sqlx::Error> {
    let row = sqlx::query(select_upgrades!(
        "WHERE scale_set = ? ORDER BY id DESC LIMIT 1"
    ))
    .bind(scale_set.to_ascii_lowercase())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(upgrade_row).transpose()
}

/// Replaces an upgrade's record if it is still at `version` (nobody wrote in between);
/// returns whether it did.
pub async fn save_upgrade(
    conn: &mut SqliteConnection,
    id: i64,
    version: i64,
    active: bool,
    record: &Value,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE rolling_upgrades SET record = ?, active = ?, version = version + 1
         WHERE id = ? AND version = ?",
    )
    .bind(record.to_string())
    .bind(active as i64)
    .bind(id)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets everything lifecycle about a scale set (it was deleted).
pub async fn forget_scale_set(
    conn: &mut SqliteConnection,
    scale_set: &str,
) -> Result<(), sqlx::Error> {
    let key = scale_set.to_ascii_lowercase();
    for sql in [
        "DELETE FROM rolling_upgrades WHERE scale_set = ?",
        "DELETE FROM orchestration_services WHERE scale_set = ?",
        "DELETE FROM scheduled_events WHERE scale_set = ?",
    ] {
        sqlx::query(sql).bind(&key).execute(&mut *conn).await?;
    }
    Ok(())
}

impl Store {
    pub async fn latest_upgrade(&self, scale_set: &str) -> Result<Option<UpgradeRow>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        latest_upgrade(&mut conn, scale_set).await
    }

    /// Every upgrade of a scale set, oldest first.
    pub async fn upgrades(&self, scale_set: &str) -> Result<Vec<UpgradeRow>, sqlx::Error> {
        let rows = sqlx::query(select_upgrades!("WHERE scale_set = ? ORDER BY id"))
            .bind(scale_set.to_ascii_lowercase())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(upgrade_row).collect()
    }

    /// The upgrades the controller has work on, oldest first.
    pub async fn active_upgrades(&self) -> Result<Vec<UpgradeRow>, sqlx::Error> {
        let rows = sqlx::query(select_upgrades!("WHERE active = 1 ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(upgrade_row).collect()
    }

    /// [`save_upgrade`] in its own write.
    pub async fn save_upgrade(
        &self,
        id: i64,
        version: i64,
        active: bool,
        record: &Value,
    ) -> Result<bool, sqlx::Error> {
        let mut w = self.write().await?;
        let saved = save_upgrade(&mut w.tx, id, version, active, record).await?;
        w.commit().await?;
        Ok(saved)
    }

    /// Whether the scale set's orchestration `service` is suspended.
    pub async fn service_suspended(
        &self,
        scale_set: &str,
        service: &str,
    ) -> Result<bool, sqlx::Error> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT suspended FROM orchestration_services WHERE scale_set = ? AND service = ?",
        )
        .bind(scale_set.to_ascii_lowercase())
        .bind(service)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some_and(|(s,)| s != 0))
    }

    pub async fn set_service_suspended(
        &self,
        scale_set: &str,
        service: &str,
        suspended: bool,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO orchestration_services (scale_set, service, suspended, changed_at)
             VALUES (?, ?, ?, ?)
             ON CONFLICT (scale_set, service) DO UPDATE SET suspended = excluded.suspended,
               changed_at = excluded.changed_at",
        )
        .bind(scale_set.to_ascii_lowercase())
        .bind(service)
        .bind(suspended as i64)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The Scheduled Events document of a scale set, if it has one.
    pub async fn scheduled_events(&self, scale_set: &str) -> Result<Option<Value>, sqlx::Error> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT document FROM scheduled_events WHERE scale_set = ?")
                .bind(scale_set.to_ascii_lowercase())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(d,)| serde_json::from_str(&d).map_err(|e| sqlx::Error::Decode(Box::new(e))))
            .transpose()
    }

    /// Every scale set that has a Scheduled Events document, with it.
    pub async fn all_scheduled_events(&self) -> Result<Vec<(String, Value)>, sqlx::Error> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT scale_set, document FROM scheduled_events ORDER BY scale_set")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(s, d)| {
                serde_json::from_str(&d)
                    .map(|v| (s, v))
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))
            })
            .collect()
    }

    pub async fn save_scheduled_events(
        &self,
        scale_set: &str,
        document: &Value,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO scheduled_events (scale_set, document) VALUES (?, ?)
             ON CONFLICT (scale_set) DO UPDATE SET document = excluded.document",
        )
        .bind(scale_set.to_ascii_lowercase())
        .bind(document.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn upgrades_are_versioned_and_listed() {
        let store = Store::in_memory().await.unwrap();
        let mut w = store.write().await.unwrap();
        let first = insert_upgrade(&mut w.tx, "/S/VMSS/web", "Model", &json!({"n": 1}), None)
            .await
            .unwrap();
        let image = json!({"publisher": "Canonical"});
        let second = insert_upgrade(
            &mut w.tx,
            "/s/vmss/web",
            "OsImage",
            &json!({"n": 2}),
            Some(&image),
        )
        .await
        .unwrap();
        w.commit().await.unwrap();
        let latest = store.latest_upgrade("/s/vmss/web").await.unwrap().unwrap();
        assert_eq!((latest.id, latest.kind.as_str()), (second, "OsImage"));
        assert_eq!(latest.target_image, Some(image));
        assert_eq!(store.active_upgrades().await.unwrap().len(), 2);
        // A write that names the version it read wins once; a stale one loses.
        assert!(
            store
                .save_upgrade(first, 1, false, &json!({"n": 3}))
                .await
                .unwrap()
        );
        assert!(
            !store
                .save_upgrade(first, 1, true, &json!({"n": 4}))
                .await
                .unwrap()
        );
        let all = store.upgrades("/s/vmss/web").await.unwrap();
        assert_eq!(all[0].record, json!({"n": 3}));
        assert!(!all[0].active);
        assert_eq!(store.active_upgrades().await.unwrap().len(), 1);
        let mut w = store.write().await.unwrap();
        forget_scale_set(&mut w.tx, "/s/vmss/web").await.unwrap();
        w.commit().await.unwrap();
        assert!(store.upgrades("/s/vmss/web").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn services_and_scheduled_events_round_trip() {
        let store = Store::in_memory().await.unwrap();
        assert!(
            !store
                .service_suspended("/s/v", "AutomaticRepairs")
                .await
                .unwrap()
        );
        store
            .set_service_suspended("/s/v", "AutomaticRepairs", true)
            .await
            .unwrap();
        assert!(
            store
                .service_suspended("/S/V", "AutomaticRepairs")
                .await
                .unwrap()
        );
        store
            .set_service_suspended("/s/v", "AutomaticRepairs", false)
            .await
            .unwrap();
        assert!(
            !store
                .service_suspended("/s/v", "AutomaticRepairs")
                .await
                .unwrap()
        );
        assert!(store.scheduled_events("/s/v").await.unwrap().is_none());
        store
            .save_scheduled_events("/s/v", &json!({"incarnation": 2}))
            .await
            .unwrap();
        assert_eq!(
            store.all_scheduled_events().await.unwrap(),
            [("/s/v".to_string(), json!({"incarnation": 2}))]
        );
    }
}
