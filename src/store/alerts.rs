//! Metric alerts at run time: each rule's evaluation state and status, the alerts rules fired
//! (what `Microsoft.AlertsManagement/alerts` lists), and action-group test notifications.
//! Documents are JSON; the alerts controller and the API give them their meaning.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sqlx::{Row, SqliteConnection};

use super::Store;

/// A fixed-width UTC timestamp, so text order is time order.
fn sortable(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn time(text: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn json(text: &str) -> Result<Value, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// What a rule's last evaluation left.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleState {
    /// The rule's lower-case id.
    pub rule_key: String,
    pub subscription: String,
    pub last_evaluated: DateTime<Utc>,
    /// The state the next evaluation starts from.
    pub fired: Value,
    /// The `metricAlerts/{rule}/status` list.
    pub status: Value,
}

/// One alert a rule fired.
#[derive(Debug, Clone, PartialEq)]
pub struct FiredAlert {
    /// The alert's GUID (the last segment of its id).
    pub alert_id: String,
    pub subscription: String,
    pub resource_group: Option<String>,
    pub target_resource: String,
    pub alert_rule: String,
    /// `Fired` or `Resolved`.
    pub monitor_condition: String,
    /// The user's state: `New`, `Acknowledged` or `Closed`.
    pub alert_state: String,
    pub last_modified: DateTime<Utc>,
    /// The alert document with its context.
    pub body: Value,
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

impl FiredAlert {
    fn from_row(row: sqlx::sqlite::SqliteRow) -> Result<Self, sqlx::Error> {
        let mut body = json(row.try_get("body")?)?;
        let alert_state: String = row.try_get("alert_state")?;
        // The user's state lives in its column; the document carries the one it was written with.
        body["properties"]["essentials"]["alertState"] = Value::String(alert_state.clone());
        Ok(FiredAlert {
            alert_id: row.try_get("alert_id")?,
            subscription: row.try_get("subscription")?,
            resource_group: row.try_get("resource_group")?,
            target_resource: row.try_get("target_resource")?,
            alert_rule: row.try_get("alert_rule")?,
            monitor_condition: row.try_get("monitor_condition")?,
            alert_state,
            last_modified: time(row.try_get("last_modified")?)?,
            body,
        })
    }
}

impl Store {
    /// The state of every rule evaluated so far.
    pub async fn alert_rule_states(&self) -> Result<Vec<RuleState>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT rule_key, subscription, last_evaluated, fired, status FROM alert_rule_state",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(RuleState {
                    rule_key: r.try_get("rule_key")?,
                    subscription: r.try_get("subscription")?,
                    last_evaluated: time(r.try_get("last_evaluated")?)?,
                    fired: json(r.try_get("fired")?)?,
                    status: json(r.try_get("status")?)?,
                })
            })
            .collect()
    }

    /// The status list of a rule's last evaluation, if it has been evaluated.
    pub async fn alert_rule_status(&self, rule_key: &str) -> Result<Option<Value>, sqlx::Error> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT status FROM alert_rule_state WHERE rule_key = ?")
                .bind(lower(rule_key))
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(s,)| json(&s)).transpose()
    }

    /// Records one evaluation in one transaction: the rule's new state and the alerts that
    /// fired or resolved in it. A rewritten alert keeps the user's `alertState`.
    pub async fn save_alert_evaluation(
        &self,
        state: &RuleState,
        alerts: &[FiredAlert],
    ) -> Result<(), sqlx::Error> {
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO alert_rule_state (rule_key, subscription, last_evaluated, fired, status)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (rule_key) DO UPDATE SET last_evaluated = excluded.last_evaluated,
                 fired = excluded.fired, status = excluded.status",
        )
        .bind(lower(&state.rule_key))
        .bind(lower(&state.subscription))
        .bind(sortable(state.last_evaluated))
        .bind(state.fired.to_string())
        .bind(state.status.to_string())
        .execute(&mut *w.tx)
        .await?;
        for a in alerts {
            sqlx::query(
                "INSERT INTO fired_alerts (alert_id, subscription, resource_group, target_resource,
                   alert_rule, monitor_condition, alert_state, last_modified, body)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (alert_id) DO UPDATE SET monitor_condition = excluded.monitor_condition,
                     last_modified = excluded.last_modified, body = excluded.body",
            )
            .bind(lower(&a.alert_id))
            .bind(lower(&a.subscription))
            .bind(a.resource_group.as_deref().map(lower))
            .bind(lower(&a.target_resource))
            .bind(lower(&a.alert_rule))
            .bind(&a.monitor_condition)
            .bind(&a.alert_state)
            .bind(sortable(a.last_modified))
            .bind(a.body.to_string())
            .execute(&mut *w.tx)
            .await?;
        }
        w.commit().await
    }

    /// Drops the state of rules that no longer exist (`keep` are the lower-case ids of those
    /// that do); returns how many went.
    pub async fn forget_alert_rules_except(&self, keep: &[String]) -> Result<u64, sqlx::Error> {
        let stored = self.alert_rule_states().await?;
        let gone: Vec<_> = stored
            .iter()
            .filter(|s| !keep.contains(&s.rule_key))
            .collect();
        if gone.is_empty() {
            return Ok(0);
        }
        let mut w = self.write().await?;
        for s in &gone {
            delete_alert_rule_state(&mut w.tx, &s.rule_key).await?;
        }
        w.commit().await?;
        Ok(gone.len() as u64)
    }

    /// The alerts of a subscription modified at or after `since`, most recently modified first.
    pub async fn fired_alerts(
        &self,
        subscription: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<FiredAlert>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT * FROM fired_alerts WHERE subscription = ? AND last_modified >= ?
             ORDER BY last_modified DESC, alert_id",
        )
        .bind(lower(subscription))
        .bind(sortable(since))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(FiredAlert::from_row).collect()
    }

    pub async fn fired_alert(
        &self,
        subscription: &str,
        alert_id: &str,
    ) -> Result<Option<FiredAlert>, sqlx::Error> {
        let row = sqlx::query("SELECT * FROM fired_alerts WHERE subscription = ? AND alert_id = ?")
            .bind(lower(subscription))
            .bind(lower(alert_id))
            .fetch_optional(&self.pool)
            .await?;
        row.map(FiredAlert::from_row).transpose()
    }

    /// A user's change of an alert's state (`changestate`), with the document it now has.
    pub async fn set_alert_state(
        &self,
        alert: &FiredAlert,
        alert_state: &str,
        at: DateTime<Utc>,
        body: &Value,
    ) -> Result<(), sqlx::Error> {
        let mut w = self.write().await?;
        sqlx::query(
            "UPDATE fired_alerts SET alert_state = ?, last_modified = ?, body = ?
             WHERE subscription = ? AND alert_id = ?",
        )
        .bind(alert_state)
        .bind(sortable(at))
        .bind(body.to_string())
        .bind(lower(&alert.subscription))
        .bind(lower(&alert.alert_id))
        .execute(&mut *w.tx)
        .await?;
        w.commit().await
    }

    /// Records a test notification request with its actions (each `{.., "outcome": ...}`).
    pub async fn insert_action_group_test(
        &self,
        notification_id: &str,
        action_group_key: &str,
        alert_type: &str,
        created_at: DateTime<Utc>,
        actions: &Value,
    ) -> Result<(), sqlx::Error> {
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO action_group_tests (notification_id, action_group, alert_type, created_at, actions)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(notification_id)
        .bind(lower(action_group_key))
        .bind(alert_type)
        .bind(sortable(created_at))
        .bind(actions.to_string())
        .execute(&mut *w.tx)
        .await?;
        w.commit().await
    }

    /// `(action group key, alert type, created at, actions)` of a test notification.
    pub async fn action_group_test(
        &self,
        notification_id: &str,
    ) -> Result<Option<(String, String, DateTime<Utc>, Value)>, sqlx::Error> {
        let row: Option<(String, String, String, String)> = sqlx::query_as(
            "SELECT action_group, alert_type, created_at, actions FROM action_group_tests
             WHERE notification_id = ?",
        )
        .bind(notification_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(ag, t, c, a)| Ok((ag, t, time(&c)?, json(&a)?)))
            .transpose()
    }

    /// Sets the `outcome` of action `index` of a test notification.
    pub async fn set_action_group_test_outcome(
        &self,
        notification_id: &str,
        index: usize,
        outcome: Value,
    ) -> Result<(), sqlx::Error> {
        let mut w = self.write().await?;
        let row: Option<(String,)> =
            sqlx::query_as("SELECT actions FROM action_group_tests WHERE notification_id = ?")
                .bind(notification_id)
                .fetch_optional(&mut *w.tx)
                .await?;
        let Some((actions,)) = row else {
            return Ok(());
        };
        let mut actions = json(&actions)?;
        if let Some(a) = actions.get_mut(index) {
            a["outcome"] = outcome;
        }
        sqlx::query("UPDATE action_group_tests SET actions = ? WHERE notification_id = ?")
            .bind(actions.to_string())
            .bind(notification_id)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await
    }
}

/// Deletes a rule's state inside a write transaction (the rule's delete).
pub async fn delete_alert_rule_state(
    conn: &mut SqliteConnection,
    rule_key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM alert_rule_state WHERE rule_key = ?")
        .bind(lower(rule_key))
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
