//! The metric alert engine: a level-triggered reconciler over the stored
//! `Microsoft.Insights/metricAlerts` rules.
//!
//! Each pass evaluates every enabled rule that is due (`evaluationFrequency` after its last
//! evaluation, on armlet's scaled clock) over its `windowSize` of stored metric minutes
//! ([`data`]) with the pure [`evaluate`], then, in one store transaction, keeps the rule's new
//! state (which series are fired; it survives restarts) and status, and writes each alert that
//! fired or resolved (`Microsoft.AlertsManagement/alerts`). Afterwards every state change gets
//! an activity-log record and the rule's action groups are notified ([`notify`], in the
//! background). The pass then sleeps until the next rule is due, or until a rule changes.

pub mod data;
pub mod notify;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::arm::{Arm, ResourceId};
use crate::model::action_group;
use crate::model::metric_alert::{self, MetricAlertProperties};
use crate::runtime::Runtime;
use crate::runtime::alert::evaluate::{FiredState, State, Transition, due, evaluate};
use crate::runtime::alert::notification::Subject;
use crate::runtime::alert::payload::AlertInstance;
use crate::runtime::alert::record::status_list;
use crate::runtime::alert::series::SeriesKey;
use crate::runtime::clock::Clock;
use crate::store::alerts::{FiredAlert, RuleState};
use notify::{Message, Notifier};

/// The longest a pass sleeps (Azure time) when no rule is due sooner.
const IDLE: Duration = Duration::from_secs(60);

pub struct AlertEngine {
    arm: Arc<Arm>,
    clock: Clock,
    notifier: Notifier,
}

impl AlertEngine {
    pub fn new(arm: Arc<Arm>, runtime: &Runtime) -> Self {
        AlertEngine {
            arm,
            clock: runtime.clock,
            notifier: Notifier::new(runtime),
        }
    }
}

/// Runs passes until shutdown: after each, sleeps until the next rule is due or a stored
/// resource changes (a new or updated rule is evaluated at once).
pub async fn run(
    engine: Arc<AlertEngine>,
    mut changes: watch::Receiver<u64>,
    shutdown: CancellationToken,
) {
    loop {
        changes.borrow_and_update();
        let wait = match engine.pass().await {
            Ok(wait) => wait,
            Err(e) => {
                tracing::warn!(error = %e, "metric alert pass failed");
                IDLE
            }
        };
        tokio::select! {
            _ = engine.clock.sleep(wait) => {}
            _ = changes.changed() => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl AlertEngine {
    /// Evaluates the rules that are due; returns how long (Azure time) until the next is.
    pub async fn pass(&self) -> anyhow::Result<Duration> {
        let store = &self.arm.store;
        let now = self.clock.now_utc();
        let rules = store.list_types(&[metric_alert::RESOURCE_TYPE]).await?;
        let keys: Vec<String> = rules.iter().map(|r| r.key()).collect();
        store.forget_alert_rules_except(&keys).await?;
        let states: HashMap<String, RuleState> = store
            .alert_rule_states()
            .await?
            .into_iter()
            .map(|s| (s.rule_key.clone(), s))
            .collect();
        let mut wait = IDLE;
        for row in rules {
            let Ok(rule) = metric_alert::parse(&row.body) else {
                tracing::warn!(rule = row.id, "stored metric alert does not parse; skipped");
                continue;
            };
            let props = rule.properties;
            if !props.enabled {
                continue;
            }
            let state = states.get(&row.key());
            // A last evaluation after now means the clock restarted behind it (armlet restarted
            // after running faster than the wall clock): evaluate afresh.
            let last = state.map(|s| s.last_evaluated).filter(|l| *l <= now);
            let next = if due(&props, last, now) {
                let id = ResourceId::parse(&row.id)?;
                if let Err(e) = self.evaluate_rule(&id, &props, state, now).await {
                    tracing::warn!(rule = row.id, error = %e, "metric alert evaluation failed");
                }
                chrono(props.evaluation_frequency)
            } else {
                last.map_or(chrono::Duration::zero(), |l| {
                    l + chrono(props.evaluation_frequency) - now
                })
            };
            wait = wait.min(next.to_std().unwrap_or(Duration::ZERO));
        }
        Ok(wait)
    }

    async fn evaluate_rule(
        &self,
        rule_id: &ResourceId,
        props: &MetricAlertProperties,
        stored: Option<&RuleState>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let store = &self.arm.store;
        let previous = stored.map_or_else(State::new, |s| decode_state(&s.fired));
        let targets = data::targets(store, props).await?;
        let metric_data = data::fetch(store, props, &targets, now).await?;
        let e = evaluate(props, &metric_data, &previous, now);
        let changed: Vec<AlertInstance<'_>> = e
            .series
            .iter()
            .filter(|s| s.transition != Transition::Unchanged)
            .map(|outcome| AlertInstance {
                rule_id,
                rule: props,
                outcome,
                window_start: e.window_start,
                window_end: e.window_end,
            })
            .collect();
        let alerts: Vec<FiredAlert> = changed.iter().map(fired_alert).collect();
        store
            .save_alert_evaluation(
                &RuleState {
                    rule_key: rule_id.key(),
                    subscription: rule_id.subscription.clone(),
                    last_evaluated: now,
                    fired: encode_state(&e.state),
                    status: status_list(rule_id, &e),
                },
                &alerts,
            )
            .await?;
        let unit = data::unit(props, &targets);
        for a in &changed {
            tracing::info!(rule = %rule_id, target = a.outcome.resource_id,
                condition = a.monitor_condition(), "metric alert changed");
            if let Err(e) = store.append_activity(&a.activity_log(unit)).await {
                tracing::warn!(rule = %rule_id, error = %e, "recording an alert in the activity log failed");
            }
            self.notify(a).await?;
        }
        tracing::debug!(rule = %rule_id, series = e.series.len(), fired = e.state.len(),
            "metric alert evaluated");
        Ok(())
    }

    /// Notifies every enabled action group of the rule's actions about one alert.
    async fn notify(&self, a: &AlertInstance<'_>) -> anyhow::Result<()> {
        for action in &a.rule.actions {
            let group_id = &action.action_group_id;
            let Some(row) = self.arm.store.get(&group_id.key()).await? else {
                tracing::warn!(group = %group_id, "action group of a metric alert is gone");
                continue;
            };
            let Ok(group) = action_group::parse(&row.body) else {
                continue;
            };
            if !group.properties.enabled {
                continue;
            }
            let common = a.common_alert_schema(&action.web_hook_properties);
            let legacy = a.metric_alert_schema(&action.web_hook_properties);
            let group_id = ResourceId::parse(&row.id)?;
            let target = a.target();
            let subject = Subject {
                correlation_id: a.alert_id(),
                summary: format!(
                    "{} alert '{}' on '{}'",
                    a.monitor_condition(),
                    a.rule_id.name(),
                    target
                        .as_ref()
                        .map_or(a.outcome.resource_id.as_str(), |t| t.name())
                ),
                properties: Map::from_iter([
                    ("alertId".to_string(), json!(a.alert_id())),
                    ("alertRule".to_string(), json!(a.rule_id.to_string())),
                    ("monitorCondition".to_string(), json!(a.monitor_condition())),
                    ("severity".to_string(), json!(a.severity())),
                ]),
            };
            self.notifier.notify(
                &group_id,
                &a.rule_id.to_string(),
                &group.properties.receivers.deliveries(),
                Message {
                    common: &common,
                    legacy: &legacy,
                    subject,
                },
                None,
            );
        }
        Ok(())
    }
}

/// The `Microsoft.AlertsManagement` row of an alert that just fired or resolved.
fn fired_alert(a: &AlertInstance<'_>) -> FiredAlert {
    FiredAlert {
        alert_id: a.alert_guid().to_string(),
        subscription: a.rule_id.subscription.clone(),
        resource_group: a.target().and_then(|t| t.resource_group),
        target_resource: a.outcome.resource_id.clone(),
        alert_rule: a.rule_id.to_string(),
        monitor_condition: a.monitor_condition().to_string(),
        alert_state: "New".to_string(),
        last_modified: a.changed_at(),
        body: a.alerts_management("New", true),
    }
}

/// The stored form of the evaluation state: `[{key, firedAt, lastNotified, unmetEvaluations}]`.
pub fn encode_state(state: &State) -> Value {
    let time = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    Value::Array(
        state
            .iter()
            .map(|(k, s)| {
                json!({"key": k, "firedAt": time(s.fired_at), "lastNotified": time(s.last_notified),
                    "unmetEvaluations": s.unmet_evaluations})
            })
            .collect(),
    )
}

/// Reads [`encode_state`]'s form; entries that do not read are dropped (their series start over).
pub fn decode_state(v: &Value) -> State {
    let time = |v: &Value| {
        v.as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let key: SeriesKey = serde_json::from_value(e["key"].clone()).ok()?;
            let state = FiredState {
                fired_at: time(&e["firedAt"])?,
                last_notified: time(&e["lastNotified"])?,
                unmet_evaluations: e["unmetEvaluations"].as_u64()? as u32,
            };
            Some((key, state))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn state_survives_its_stored_form() {
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let state = State::from([
            (
                SeriesKey::new("/LB", &[("BackendIPAddress".into(), "10.0.0.5".into())]),
                FiredState {
                    fired_at: t,
                    last_notified: t + chrono::Duration::minutes(1),
                    unmet_evaluations: 2,
                },
            ),
            (
                SeriesKey::new("/lb2", &[]),
                FiredState {
                    fired_at: t,
                    last_notified: t,
                    unmet_evaluations: 0,
                },
            ),
        ]);
        let stored = encode_state(&state);
        assert_eq!(decode_state(&stored), state);
        let text = serde_json::to_string(&stored).unwrap();
        assert_eq!(decode_state(&serde_json::from_str(&text).unwrap()), state);
        assert!(decode_state(&json!([{"key": 1}])).is_empty());
        assert!(decode_state(&Value::Null).is_empty());
    }
}
