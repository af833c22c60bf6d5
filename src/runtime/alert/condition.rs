//! One condition observed on one monitored series: the static comparison, the dynamic
//! threshold's failing periods, and a web test's failed locations.

use chrono::{DateTime, Duration, Utc};

use super::dynamic;
use super::series::{Group, Minutes, Series};
use crate::model::metric_alert::criteria::{Criterion, Operator, Threshold, TimeAggregation};

/// One condition as observed on one series.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionResult {
    pub criterion_name: String,
    pub metric_name: String,
    pub metric_namespace: Option<String>,
    pub operator: Operator,
    /// The static threshold, the dynamic bound in force, or `None` while a dynamic threshold
    /// is still learning.
    pub threshold: Option<f64>,
    pub time_aggregation: TimeAggregation,
    pub dimensions: Vec<(String, String)>,
    /// The aggregated value of the window; `None` without data.
    pub metric_value: Option<f64>,
    pub met: bool,
    /// The web test's name, for web-test rules.
    pub web_test_name: Option<String>,
}

pub fn compare(operator: Operator, value: f64, threshold: f64) -> bool {
    match operator {
        Operator::Equals => value == threshold,
        Operator::NotEquals => value != threshold,
        Operator::GreaterThan => value > threshold,
        Operator::GreaterThanOrEqual => value >= threshold,
        Operator::LessThan => value < threshold,
        Operator::LessThanOrEqual => value <= threshold,
        Operator::GreaterOrLessThan => value != threshold,
    }
}

pub fn condition(
    c: &Criterion,
    g: Option<&Group>,
    dims: Vec<(String, String)>,
    now: DateTime<Utc>,
    w: Duration,
) -> ConditionResult {
    let empty = Minutes::default();
    let minutes = g.map_or(&empty, |g| &g.minutes);
    let value = minutes
        .window(now - w, now)
        .and_then(|a| a.value(c.time_aggregation));
    let (met, threshold) = match &c.threshold {
        Threshold::Static {
            operator,
            threshold,
        } => (
            value.is_some_and(|v| compare(*operator, v, *threshold)),
            Some(*threshold),
        ),
        Threshold::Dynamic {
            operator,
            sensitivity,
            failing_periods,
            ignore_data_before,
        } => {
            let n = failing_periods.number_of_evaluation_periods as i32;
            let bounds = dynamic::bounds(
                minutes,
                c.time_aggregation,
                now - w * n,
                w,
                *ignore_data_before,
                *sensitivity,
            );
            let recent = dynamic::window_values(minutes, c.time_aggregation, now, w, now - w * n);
            let failing = bounds.map_or(0, |b| {
                recent.iter().filter(|v| b.violated(*operator, **v)).count()
            });
            (
                bounds.is_some()
                    && failing >= failing_periods.min_failing_periods_to_alert as usize,
                bounds.map(|b| b.reported(*operator, value)),
            )
        }
    };
    ConditionResult {
        criterion_name: c.name.clone(),
        metric_name: c.metric_name.clone(),
        metric_namespace: c.metric_namespace.clone(),
        operator: c.operator(),
        threshold,
        time_aggregation: c.time_aggregation,
        dimensions: g.map_or(dims, |g| g.dimensions.clone()),
        metric_value: value,
        met,
        web_test_name: None,
    }
}

/// The failed-locations condition of a web-test rule: each series is one test location's
/// availability (percent); a location fails when its average availability over the window is
/// below 100, and the condition holds when at least `count` locations fail.
pub fn webtest(
    web_test_id: &str,
    count: f64,
    series: &[Series],
    now: DateTime<Utc>,
    w: Duration,
) -> ConditionResult {
    let values: Vec<f64> = series
        .iter()
        .filter_map(|s| {
            let mut m = Minutes::default();
            m.merge(&s.points);
            m.window(now - w, now)
                .and_then(|a| a.value(TimeAggregation::Average))
        })
        .collect();
    let failed = values.iter().filter(|v| **v < 100.0).count() as f64;
    ConditionResult {
        criterion_name: "WebtestLocationAvailability".into(),
        metric_name: "Failed Location".into(),
        metric_namespace: None,
        operator: Operator::GreaterThanOrEqual,
        threshold: Some(count),
        time_aggregation: TimeAggregation::Total,
        dimensions: Vec::new(),
        metric_value: (!values.is_empty()).then_some(failed),
        met: !values.is_empty() && failed >= count,
        web_test_name: Some(
            web_test_id
                .rsplit('/')
                .next()
                .unwrap_or(web_test_id)
                .to_string(),
        ),
    }
}
