//! The activity log: events as Azure's `EventData` documents, appended by the engines and
//! read back through the activity-log API's filter.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use super::Store;
use crate::model::activity_log::{ActivityFilter, RETENTION_DAYS};

/// A fixed-width UTC timestamp, so text order is time order.
fn sortable(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

fn lower(s: Option<&str>) -> Option<String> {
    s.map(str::to_ascii_lowercase)
}

impl Store {
    /// Appends one event (an `EventData` document with at least `eventDataId`,
    /// `subscriptionId`, `resourceId` and `eventTimestamp`). Appending the same event
    /// twice keeps one.
    pub async fn append_activity(&self, event: &Value) -> Result<(), sqlx::Error> {
        let bad = |what: &str| sqlx::Error::Protocol(format!("activity-log event without {what}"));
        let id = text(event, &["eventDataId"]).ok_or_else(|| bad("eventDataId"))?;
        let time = text(event, &["eventTimestamp"])
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .ok_or_else(|| bad("an RFC 3339 eventTimestamp"))?;
        sqlx::query(
            "INSERT INTO activity_log (event_data_id, subscription, resource_group, resource_uri,
               resource_provider, correlation_id, event_timestamp, status, caller, level, body)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(lower(text(event, &["subscriptionId"])).ok_or_else(|| bad("subscriptionId"))?)
        .bind(lower(text(event, &["resourceGroupName"])))
        .bind(lower(text(event, &["resourceId"])).ok_or_else(|| bad("resourceId"))?)
        .bind(lower(text(event, &["resourceProviderName", "value"])))
        .bind(text(event, &["correlationId"]))
        .bind(sortable(time.with_timezone(&Utc)))
        .bind(text(event, &["status", "value"]))
        .bind(text(event, &["caller"]))
        .bind(text(event, &["level"]))
        .bind(event.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The events of a subscription the filter selects, newest first.
    pub async fn activity(&self, sub: &str, f: &ActivityFilter) -> Result<Vec<Value>, sqlx::Error> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT body FROM activity_log WHERE subscription = ?1
               AND (?2 IS NULL OR event_timestamp >= ?2) AND (?3 IS NULL OR event_timestamp <= ?3)
               AND (?4 IS NULL OR resource_group = ?4) AND (?5 IS NULL OR resource_uri = ?5)
               AND (?6 IS NULL OR resource_provider = ?6) AND (?7 IS NULL OR correlation_id = ?7)
               AND (?8 IS NULL OR lower(status) = ?8) AND (?9 IS NULL OR caller = ?9)
               AND (?10 IS NULL OR lower(level) = ?10)
             ORDER BY event_timestamp DESC, event_data_id",
        )
        .bind(sub.to_ascii_lowercase())
        .bind(f.from.map(sortable))
        .bind(f.to.map(sortable))
        .bind(lower(f.resource_group.as_deref()))
        .bind(lower(f.resource_uri.as_deref()))
        .bind(lower(f.resource_provider.as_deref()))
        .bind(f.correlation_id.as_deref())
        .bind(lower(f.status.as_deref()))
        .bind(f.caller.as_deref())
        .bind(lower(f.level.as_deref()))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(b,)| serde_json::from_str(&b).ok())
            .collect())
    }

    /// Drops events older than Azure keeps them, relative to `now` (Azure time).
    pub async fn prune_activity(&self, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
        let cutoff = now - chrono::TimeDelta::days(RETENTION_DAYS);
        let done = sqlx::query("DELETE FROM activity_log WHERE event_timestamp < ?")
            .bind(sortable(cutoff))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(id: &str, at: &str, rg: &str, status: &str) -> Value {
        json!({"eventDataId": id, "subscriptionId": "S", "resourceGroupName": rg, "eventTimestamp": at,
            "resourceId": format!("/subscriptions/s/resourceGroups/{rg}/providers/Microsoft.Insights/autoscalesettings/a"),
            "resourceProviderName": {"value": "Microsoft.Insights"}, "status": {"value": status}, "correlationId": "c1"})
    }

    #[tokio::test]
    async fn events_come_back_by_time_scope_and_status() {
        let store = Store::in_memory().await.unwrap();
        store
            .append_activity(&event("1", "2026-01-01T10:00:00Z", "rg", "Started"))
            .await
            .unwrap();
        store
            .append_activity(&event(
                "2",
                "2026-01-01T10:00:05.5+00:00",
                "rg",
                "Succeeded",
            ))
            .await
            .unwrap();
        store
            .append_activity(&event("2", "2026-01-01T10:00:05.5Z", "rg", "Succeeded"))
            .await
            .unwrap();
        store
            .append_activity(&event("3", "2026-01-02T10:00:00Z", "other", "Succeeded"))
            .await
            .unwrap();
        let all = store
            .activity("s", &ActivityFilter::default())
            .await
            .unwrap();
        let ids: Vec<&str> = all
            .iter()
            .map(|e| e["eventDataId"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["3", "2", "1"], "newest first, duplicates kept once");
        let f = ActivityFilter::parse("eventTimestamp ge '2026-01-01T00:00:00Z' and eventTimestamp le '2026-01-01T23:00:00Z' and resourceUri eq '/SUBSCRIPTIONS/s/resourceGroups/rg/providers/Microsoft.Insights/autoscalesettings/a' and status eq 'succeeded'").unwrap();
        let hits = store.activity("S", &f).await.unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0]["eventDataId"], "2");
        let pruned = store
            .prune_activity("2026-04-01T12:00:00Z".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(pruned, 2);
        assert!(
            store
                .append_activity(&json!({"eventDataId": "x"}))
                .await
                .is_err()
        );
    }
}
