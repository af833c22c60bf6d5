//! What the autoscale engine remembers of a setting between evaluations (and across
//! restarts, in the store's `autoscale_state`), and what the setting's GET shows of it under
//! `armlet`: the last evaluation, the last scale action and a scale still in progress.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::autoscale::xml_duration;
use crate::runtime::autoscale::evaluate::{Direction, LastScaleAction};

/// The engine's record of one setting.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineState {
    /// The last scale action; its cooldown holds the next one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_action: Option<ScaleRecord>,
    /// A capacity change whose operation had not ended at the last look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_in_progress: Option<PendingScale>,
    /// Whether the last evaluation could not read a metric, so the next good one logs the
    /// recovery.
    #[serde(default)]
    pub metric_failure: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_evaluation: Option<Evaluation>,
}

/// A scale action the engine started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleRecord {
    /// Azure time, RFC 3339.
    pub time: String,
    /// `Increase` or `Decrease`, as the rules say it.
    pub direction: String,
    /// The cooldown this action started (`PT5M`).
    pub cooldown: String,
    pub old_capacity: u32,
    pub new_capacity: u32,
    pub profile: String,
    pub reason: String,
    /// Shared by the action's activity-log events.
    pub correlation_id: String,
    /// Who was told: webhook URIs POSTed to, e-mail addresses recorded (not sent).
    pub notified: Notified,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notified {
    pub webhooks: Vec<String>,
    pub emails: Vec<String>,
}

/// A capacity change in flight: the scale set's provisioning operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingScale {
    pub operation_id: String,
    pub correlation_id: String,
    pub old_capacity: u32,
    pub new_capacity: u32,
    pub profile: String,
    pub started: String,
}

/// One evaluation, as the engine saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// Azure time, RFC 3339.
    pub time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_capacity: Option<u32>,
    /// The capacity decided, when it differs from the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_capacity: Option<u32>,
    /// Why, in the words of Azure's evaluation logs.
    pub decision: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleView>,
}

/// What one rule of the active profile saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleView {
    pub metric_name: String,
    pub metric_resource_uri: String,
    pub direction: String,
    pub operator: String,
    pub threshold: f64,
    /// The aggregated value compared with the threshold; absent when the metric had no data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<f64>,
    pub fired: bool,
}

impl EngineState {
    /// Reads a stored state; a missing or unreadable one is a fresh start.
    pub fn from_stored(value: Option<Value>) -> Self {
        value
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("engine state serializes")
    }

    /// The last action in the form [`crate::runtime::autoscale::evaluate`] takes.
    pub fn last_action(&self) -> Option<LastScaleAction> {
        let a = self.last_scale_action.as_ref()?;
        Some(LastScaleAction {
            at: parse_time(&a.time)?,
            direction: if a.new_capacity >= a.old_capacity {
                Direction::Out
            } else {
                Direction::In
            },
            cooldown: crate::model::duration::parse(&a.cooldown).ok()?,
        })
    }
}

pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub fn cooldown(d: Duration) -> String {
    xml_duration(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_action_round_trips_through_the_stored_form() {
        let at: DateTime<Utc> = "2024-05-01T10:00:00.5Z".parse().unwrap();
        let state = EngineState {
            last_scale_action: Some(ScaleRecord {
                time: time(at),
                direction: "Decrease".into(),
                cooldown: cooldown(Duration::from_secs(300)),
                old_capacity: 3,
                new_capacity: 2,
                profile: "default".into(),
                reason: "Scale down action triggered".into(),
                correlation_id: "c".into(),
                notified: Notified::default(),
            }),
            metric_failure: true,
            ..Default::default()
        };
        let back = EngineState::from_stored(Some(state.to_value()));
        assert_eq!(back, state);
        let last = back.last_action().unwrap();
        assert_eq!(
            (last.at, last.direction, last.cooldown),
            (at, Direction::In, Duration::from_secs(300))
        );
        assert_eq!(state.to_value()["lastScaleAction"]["cooldown"], "PT5M");
    }

    #[test]
    fn a_missing_or_unreadable_state_is_a_fresh_start() {
        assert_eq!(EngineState::from_stored(None), EngineState::default());
        assert_eq!(
            EngineState::from_stored(Some(serde_json::json!({"lastScaleAction": 7}))),
            EngineState::default()
        );
        assert_eq!(EngineState::default().last_action(), None);
    }
}
