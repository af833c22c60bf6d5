//! One evaluation of a metric alert rule: [`evaluate`] (rule, metric data, previous state, now)
//! → per monitored time series `Fired` / `Resolved` / `Unchanged`, with the observed values.
//!
//! Semantics (Azure docs "Types of Azure Monitor alerts", "What are Azure Monitor alerts?",
//! "Troubleshoot Azure Monitor metric alerts"):
//! * each evaluation looks back `windowSize` from `now` and aggregates with `timeAggregation`;
//! * one monitored series per resource and combination of the split dimensions; with several
//!   conditions the rule fires only when all of them hold (per resource);
//! * stateful (`autoMitigate`, the default): a fired series doesn't notify again while the
//!   condition holds, and resolves when the condition "isn't met for three consecutive checks";
//! * stateless (`autoMitigate: false`): fires on every evaluation the condition holds, at most
//!   once per throttle period (Azure: "between one and six minutes" below a 5-minute frequency,
//!   "between the configured frequency and double the frequency" otherwise; armlet uses 5
//!   minutes and the frequency), and never resolves;
//! * no data — the store has nothing for the metric or the window has no samples — is armlet's
//!   reading of Azure's behaviour: the condition is not met, so nothing fires, and a fired series
//!   that stops reporting counts towards resolution (as an alert on a stopped VM resolves).
//!
//! The caller runs it every `evaluationFrequency` ([`due`]) with data covering [`lookback`].

#[cfg(test)]
mod tests;
#[cfg(test)]
mod transitions;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::condition::{condition, webtest};
use super::dynamic;
use super::series::{Group, Series, SeriesKey, split};
use crate::model::metric_alert::MetricAlertProperties;
use crate::model::metric_alert::criteria::{Criteria, Criterion, Threshold};

pub use super::condition::ConditionResult;

/// Consecutive unmet evaluations that resolve a fired (stateful) series.
pub const RESOLVE_AFTER: u32 = 3;

/// What the caller fetched for one criterion (in `allOf` order; for a web test, one entry of
/// availability series, one per location). `None`: the store has no data for the metric.
pub type CriterionData = Option<Vec<Series>>;

/// What is kept between evaluations for a series that has fired (and not resolved).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FiredState {
    pub fired_at: DateTime<Utc>,
    pub last_notified: DateTime<Utc>,
    pub unmet_evaluations: u32,
}

pub type State = BTreeMap<SeriesKey, FiredState>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transition {
    Fired,
    Resolved,
    Unchanged,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesOutcome {
    pub key: SeriesKey,
    /// The target resource as the data named it.
    pub resource_id: String,
    pub transition: Transition,
    /// All conditions held in this evaluation.
    pub met: bool,
    pub conditions: Vec<ConditionResult>,
    /// When the series' current (or just resolved) alert fired.
    pub fired_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub series: Vec<SeriesOutcome>,
    /// The state to pass to the next evaluation.
    pub state: State,
}

fn chrono(d: std::time::Duration) -> Duration {
    Duration::from_std(d).unwrap_or(Duration::MAX)
}

/// Whether a rule evaluated last at `last` is due at `now`.
pub fn due(rule: &MetricAlertProperties, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last.is_none_or(|l| now - l >= chrono(rule.evaluation_frequency))
}

/// How much history the caller must fetch: the window, all failing periods, and for dynamic
/// thresholds the learning history.
pub fn lookback(rule: &MetricAlertProperties) -> Duration {
    let w = chrono(rule.window_size);
    rule.criteria
        .all_of()
        .iter()
        .map(|c| match &c.threshold {
            Threshold::Static { .. } => w,
            Threshold::Dynamic {
                failing_periods, ..
            } => {
                w * failing_periods.number_of_evaluation_periods as i32
                    + Duration::days(dynamic::HISTORY_DAYS)
            }
        })
        .max()
        .unwrap_or(w)
}

/// Stateless rules notify at most this often per series.
fn throttle(rule: &MetricAlertProperties) -> Duration {
    chrono(rule.evaluation_frequency).max(Duration::minutes(5))
}

/// The dimensions a criterion reports for a series that has no data now.
fn unseen_dimensions(c: &Criterion, key: &SeriesKey, split_series: bool) -> Vec<(String, String)> {
    if split_series {
        key.dimensions.clone()
    } else {
        c.dimensions
            .iter()
            .map(|d| (d.name.clone(), d.values[0].clone()))
            .collect()
    }
}

struct Unit {
    resource_id: String,
    conditions: Vec<ConditionResult>,
}

fn threshold_units(
    all: &[Criterion],
    data: &[CriterionData],
    previous: &State,
    now: DateTime<Utc>,
    w: Duration,
) -> BTreeMap<SeriesKey, Unit> {
    let split_series = all.len() == 1;
    let groups: Vec<Vec<Group>> = all
        .iter()
        .enumerate()
        .map(|(i, c)| {
            data.get(i)
                .and_then(Option::as_ref)
                .map_or_else(Vec::new, |d| split(c, d, split_series))
        })
        .collect();
    let mut keys: BTreeMap<SeriesKey, (String, Vec<(String, String)>)> = BTreeMap::new();
    for g in groups.iter().flatten() {
        let dims = if split_series {
            g.dimensions.clone()
        } else {
            Vec::new()
        };
        keys.entry(SeriesKey::new(&g.resource_id, &dims))
            .or_insert((g.resource_id.clone(), dims));
    }
    for k in previous.keys() {
        keys.entry(k.clone())
            .or_insert((k.resource_id.clone(), k.dimensions.clone()));
    }
    keys.into_iter()
        .map(|(key, (resource_id, _))| {
            let conditions = all
                .iter()
                .zip(&groups)
                .map(|(c, gs)| {
                    let g = gs.iter().find(|g| {
                        let dims = if split_series {
                            g.dimensions.as_slice()
                        } else {
                            &[]
                        };
                        SeriesKey::new(&g.resource_id, dims) == key
                    });
                    condition(c, g, unseen_dimensions(c, &key, split_series), now, w)
                })
                .collect();
            (
                key,
                Unit {
                    resource_id,
                    conditions,
                },
            )
        })
        .collect()
}

/// Web-test rules: one series, the component, with the failed-locations condition.
fn webtest_unit(
    web_test_id: &str,
    component_id: &str,
    count: f64,
    data: &[CriterionData],
    now: DateTime<Utc>,
    w: Duration,
) -> (SeriesKey, Unit) {
    let series = data
        .first()
        .and_then(Option::as_ref)
        .map_or(&[][..], Vec::as_slice);
    let result = webtest(web_test_id, count, series, now, w);
    let unit = Unit {
        resource_id: component_id.to_string(),
        conditions: vec![result],
    };
    (SeriesKey::new(component_id, &[]), unit)
}

/// The state machine of one series.
fn step(
    prev: Option<&FiredState>,
    met: bool,
    stateful: bool,
    throttle: Duration,
    now: DateTime<Utc>,
) -> (Transition, Option<FiredState>) {
    let fire = FiredState {
        fired_at: now,
        last_notified: now,
        unmet_evaluations: 0,
    };
    match (prev, stateful) {
        (None, _) if met => (Transition::Fired, Some(fire)),
        (None, _) => (Transition::Unchanged, None),
        (Some(s), true) if met => (
            Transition::Unchanged,
            Some(FiredState {
                unmet_evaluations: 0,
                ..*s
            }),
        ),
        (Some(s), true) if s.unmet_evaluations + 1 >= RESOLVE_AFTER => (Transition::Resolved, None),
        (Some(s), true) => (
            Transition::Unchanged,
            Some(FiredState {
                unmet_evaluations: s.unmet_evaluations + 1,
                ..*s
            }),
        ),
        (Some(s), false) if now - s.last_notified >= throttle => {
            if met {
                (Transition::Fired, Some(fire))
            } else {
                (Transition::Unchanged, None)
            }
        }
        (Some(s), false) => (Transition::Unchanged, Some(*s)),
    }
}

/// Evaluates `rule` at `now`. `data` is indexed like `rule.criteria.all_of()` (one entry for a
/// web test); `previous` is the `state` the last evaluation returned (empty at first).
pub fn evaluate(
    rule: &MetricAlertProperties,
    data: &[CriterionData],
    previous: &State,
    now: DateTime<Utc>,
) -> Evaluation {
    let w = chrono(rule.window_size);
    let units = match &rule.criteria {
        Criteria::WebtestLocationAvailability {
            web_test_id,
            component_id,
            failed_location_count,
        } => BTreeMap::from([webtest_unit(
            web_test_id,
            component_id,
            *failed_location_count,
            data,
            now,
            w,
        )]),
        other => threshold_units(other.all_of(), data, previous, now, w),
    };
    let throttle = throttle(rule);
    let mut state = State::new();
    let series = units
        .into_iter()
        .map(|(key, unit)| {
            let met = !unit.conditions.is_empty() && unit.conditions.iter().all(|c| c.met);
            let prev = previous.get(&key);
            let (transition, next) = step(prev, met, rule.auto_mitigate, throttle, now);
            let fired_at = next.map(|s| s.fired_at).or(prev.map(|s| s.fired_at));
            if let Some(s) = next {
                state.insert(key.clone(), s);
            }
            SeriesOutcome {
                key,
                resource_id: unit.resource_id,
                transition,
                met,
                conditions: unit.conditions,
                fired_at,
            }
        })
        .collect();
    Evaluation {
        window_start: now - w,
        window_end: now,
        series,
        state,
    }
}
