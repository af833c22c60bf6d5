//! Load balancer health events: as the detector publishes them (`lb_health_events`), and as
//! diagnostic settings exported them to workspaces (`alb_health_events`, the `ALBHealthEvent`
//! table). Migration `0004_log_analytics.sql`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::model::network::health_events::{HealthEvent, HealthEventType};

use super::Store;
use super::log_analytics::time;

fn event(row: SqliteRow) -> Result<HealthEvent, sqlx::Error> {
    let kind: String = row.try_get("event_type")?;
    Ok(HealthEvent {
        resource_key: row.try_get("resource_key")?,
        time: time(row.try_get("time")?)?,
        event_type: kind
            .parse::<HealthEventType>()
            .map_err(|e| sqlx::Error::Decode(e.into()))?,
        frontend_ip: row.try_get("frontend_ip")?,
        description: row.try_get("description")?,
    })
}

impl Store {
    /// Records published events (an event already recorded is kept as it is).
    pub async fn publish_health_events(&self, events: &[HealthEvent]) -> Result<(), sqlx::Error> {
        if events.is_empty() {
            return Ok(());
        }
        let mut w = self.write().await?;
        for e in events {
            sqlx::query(
                "INSERT OR IGNORE INTO lb_health_events
                 (resource_key, time, event_type, frontend_ip, description) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(e.resource_key.to_ascii_lowercase())
            .bind(e.time.timestamp())
            .bind(e.event_type.as_str())
            .bind(&e.frontend_ip)
            .bind(&e.description)
            .execute(&mut *w.tx)
            .await?;
        }
        w.commit().await
    }

    /// A load balancer's published events with `from <= time < to`, oldest first.
    pub async fn health_events(
        &self,
        resource_key: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HealthEvent>, sqlx::Error> {
        sqlx::query(
            "SELECT resource_key, time, event_type, frontend_ip, description FROM lb_health_events
             WHERE resource_key = ? AND time >= ? AND time < ? ORDER BY time, event_type, frontend_ip",
        )
        .bind(resource_key.to_ascii_lowercase())
        .bind(from.timestamp())
        .bind(to.timestamp())
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(event)
        .collect()
    }

    /// When each (type, frontend IP) of a load balancer was last published.
    pub async fn last_health_events(
        &self,
        resource_key: &str,
    ) -> Result<HashMap<(HealthEventType, String), DateTime<Utc>>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT event_type, frontend_ip, MAX(time) AS time FROM lb_health_events
             WHERE resource_key = ? GROUP BY event_type, frontend_ip",
        )
        .bind(resource_key.to_ascii_lowercase())
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::new();
        for row in rows {
            let kind: String = row.try_get("event_type")?;
            if let Ok(kind) = kind.parse::<HealthEventType>() {
                out.insert(
                    (kind, row.try_get("frontend_ip")?),
                    time(row.try_get("time")?)?,
                );
            }
        }
        Ok(out)
    }

    /// Forgets published events older than `cutoff` (workspaces keep their copies).
    pub async fn prune_health_events(&self, cutoff: DateTime<Utc>) -> Result<u64, sqlx::Error> {
        let mut w = self.write().await?;
        let done = sqlx::query("DELETE FROM lb_health_events WHERE time < ?")
            .bind(cutoff.timestamp())
            .execute(&mut *w.tx)
            .await?;
        w.commit().await?;
        Ok(done.rows_affected())
    }

    /// Writes events into a workspace's `ALBHealthEvent` table, replacing the same event;
    /// nothing is written for a workspace that does not exist.
    pub async fn write_alb_health_events(
        &self,
        workspace_key: &str,
        events: &[HealthEvent],
    ) -> Result<(), sqlx::Error> {
        if events.is_empty() {
            return Ok(());
        }
        let mut w = self.write().await?;
        for e in events {
            sqlx::query(
                "INSERT OR REPLACE INTO alb_health_events
                 (workspace_key, resource_key, time, event_type, frontend_ip, description)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM resources WHERE key = ?1)",
            )
            .bind(workspace_key.to_ascii_lowercase())
            .bind(e.resource_key.to_ascii_lowercase())
            .bind(e.time.timestamp())
            .bind(e.event_type.as_str())
            .bind(&e.frontend_ip)
            .bind(&e.description)
            .execute(&mut *w.tx)
            .await?;
        }
        w.commit().await
    }

    /// A workspace's `ALBHealthEvent` rows with `from <= TimeGenerated < to`, oldest first.
    pub async fn alb_health_events(
        &self,
        workspace_key: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HealthEvent>, sqlx::Error> {
        sqlx::query(
            "SELECT resource_key, time, event_type, frontend_ip, description FROM alb_health_events
             WHERE workspace_key = ? AND time >= ? AND time < ? ORDER BY time, resource_key",
        )
        .bind(workspace_key.to_ascii_lowercase())
        .bind(from.timestamp())
        .bind(to.timestamp())
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(event)
        .collect()
    }

    /// Deletes a workspace's `ALBHealthEvent` rows older than `cutoff`; returns how many.
    pub async fn prune_alb_health_events(
        &self,
        workspace_key: &str,
        cutoff: DateTime<Utc>,
    ) -> Result<u64, sqlx::Error> {
        let mut w = self.write().await?;
        let done =
            sqlx::query("DELETE FROM alb_health_events WHERE workspace_key = ? AND time < ?")
                .bind(workspace_key.to_ascii_lowercase())
                .bind(cutoff.timestamp())
                .execute(&mut *w.tx)
                .await?;
        w.commit().await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};

    use super::*;

    const LB: &str =
        "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/loadbalancers/lb";
    const WS: &str =
        "/subscriptions/s/resourcegroups/rg/providers/microsoft.operationalinsights/workspaces/w";

    fn at(m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 4, 10, m, 0).unwrap()
    }

    fn ev(m: u32, kind: HealthEventType, ip: &str) -> HealthEvent {
        HealthEvent {
            resource_key: LB.into(),
            time: at(m),
            event_type: kind,
            frontend_ip: ip.into(),
            description: format!("{kind} at {m}"),
        }
    }

    #[tokio::test]
    async fn published_events_are_read_back_by_range_and_latest() {
        use HealthEventType::*;
        let store = Store::in_memory().await.unwrap();
        store
            .publish_health_events(&[
                ev(0, NoHealthyBackends, "1.1.1.1"),
                ev(5, DataPathAvailabilityWarning, "1.1.1.1"),
                ev(7, NoHealthyBackends, "1.1.1.1"),
            ])
            .await
            .unwrap();
        let got = store.health_events(LB, at(1), at(8)).await.unwrap();
        assert_eq!(
            got,
            [
                ev(5, DataPathAvailabilityWarning, "1.1.1.1"),
                ev(7, NoHealthyBackends, "1.1.1.1")
            ]
        );
        let last = store.last_health_events(LB).await.unwrap();
        assert_eq!(last[&(NoHealthyBackends, "1.1.1.1".to_string())], at(7));
        assert_eq!(store.prune_health_events(at(6)).await.unwrap(), 2);
        assert_eq!(
            store.health_events(LB, at(0), at(59)).await.unwrap().len(),
            1
        );
    }

    #[tokio::test]
    async fn workspace_rows_need_the_workspace() {
        let store = Store::in_memory().await.unwrap();
        let e = ev(3, HealthEventType::NoHealthyBackends, "1.1.1.1");
        store
            .write_alb_health_events(WS, std::slice::from_ref(&e))
            .await
            .unwrap();
        assert!(
            store
                .alb_health_events(WS, at(0), at(59))
                .await
                .unwrap()
                .is_empty()
        );
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
            .write_alb_health_events(WS, &[e.clone(), e.clone()])
            .await
            .unwrap();
        assert_eq!(
            store.alb_health_events(WS, at(0), at(59)).await.unwrap(),
            [e]
        );
        let cutoff = at(3) + TimeDelta::seconds(1);
        assert_eq!(store.prune_alb_health_events(WS, cutoff).await.unwrap(), 1);
    }
}
