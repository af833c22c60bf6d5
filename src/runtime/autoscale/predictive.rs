//! Predictive autoscale: whether a forecast exists yet, and the `predictiveMetrics` answer.
//!
//! Azure's facts (autoscale-predictive): predictive autoscale "needs a minimum of seven days
//! of history to provide predictions"; the sampling period is a rolling window of at most
//! 15 days; it forecasts the scale set's total `Percentage CPU` and only scales out. Until
//! seven days have passed the portal says "Predictive data is being trained...", and the
//! `predictiveMetrics` API answers 200 with no data points, the metric name suffixed `;-1`
//! (azure-cli's recording `test_monitor_autoscale_show_predictive_metric`, a scale set created
//! minutes before: `{"timespan": <as asked>, "interval": "PT1H",
//! "metricName": "PercentageCPU;-1", "targetResourceId": <scale set>, "data": []}`).
//!
//! Azure's model is not published; once there is enough history armlet forecasts each
//! interval as the mean of the same interval one and two weeks earlier (a weekly seasonal
//! naive forecast over the 15-day window), which follows the cyclical weekly load
//! predictive autoscale is meant for.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::model::autoscale::{PredictivePolicy, PredictiveScaleMode};

/// "A minimum of seven days of history."
pub const MIN_HISTORY: Duration = Duration::days(7);
/// "The maximum sampling period is a rolling window of 15 days."
pub const MAX_HISTORY: Duration = Duration::days(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForecastStatus {
    /// `scaleMode` is `Disabled`.
    Disabled,
    /// Not enough history yet; a forecast exists from `ready_at` on.
    Training {
        ready_at: DateTime<Utc>,
    },
    Ready,
}

/// Whether a forecast exists for a scale set whose metrics start at `history_since`.
pub fn forecast_status(
    policy: &PredictivePolicy,
    history_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> ForecastStatus {
    if policy.scale_mode == PredictiveScaleMode::Disabled {
        return ForecastStatus::Disabled;
    }
    let since = history_since.unwrap_or(now);
    let ready_at = since + MIN_HISTORY;
    if now < ready_at {
        ForecastStatus::Training { ready_at }
    } else {
        ForecastStatus::Ready
    }
}

/// One point of a metric: the start of its interval and its value.
pub type Point = (DateTime<Utc>, f64);

/// The forecast for each interval of `[from, to)`: the mean of the values one and two weeks
/// earlier that `history` has (intervals with neither are left out).
pub fn seasonal_forecast(
    history: &[Point],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    interval: Duration,
) -> Vec<Point> {
    if interval <= Duration::zero() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut t = from;
    while t < to {
        let past: Vec<f64> = [Duration::weeks(1), Duration::weeks(2)]
            .iter()
            .filter_map(|lag| history.iter().find(|(at, _)| *at == t - *lag).map(|p| p.1))
            .collect();
        if !past.is_empty() {
            out.push((t, past.iter().sum::<f64>() / past.len() as f64));
        }
        t += interval;
    }
    out
}

/// The `PredictiveResponse` body of `GET .../autoscalesettings/{name}/predictiveMetrics`.
/// `timespan` and `interval` are echoed as the client sent them; `forecast` is `None` while
/// there is no model (disabled or still training).
pub fn predictive_response(
    target_resource_id: &str,
    metric_name: &str,
    timespan: &str,
    interval: &str,
    forecast: Option<&[Point]>,
) -> Value {
    let (name, data) = match forecast {
        None => (format!("{metric_name};-1"), Vec::new()),
        Some(points) => (
            metric_name.to_string(),
            points
                .iter()
                .map(|(t, v)| json!({ "timeStamp": t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "value": v }))
                .collect(),
        ),
    };
    json!({
        "timespan": timespan,
        "interval": interval,
        "metricName": name,
        "targetResourceId": target_resource_id,
        "data": data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::autoscale::fixtures::at;

    fn policy(mode: PredictiveScaleMode) -> PredictivePolicy {
        PredictivePolicy {
            scale_mode: mode,
            scale_look_ahead_time: None,
        }
    }

    #[test]
    fn a_forecast_needs_seven_days_of_history() {
        let created = at("2024-06-01T00:00:00Z");
        let enabled = policy(PredictiveScaleMode::Enabled);
        assert_eq!(
            forecast_status(&enabled, Some(created), at("2024-06-07T23:59:00Z")),
            ForecastStatus::Training {
                ready_at: at("2024-06-08T00:00:00Z")
            }
        );
        assert_eq!(
            forecast_status(&enabled, Some(created), at("2024-06-08T00:00:00Z")),
            ForecastStatus::Ready
        );
        let forecast_only = policy(PredictiveScaleMode::ForecastOnly);
        assert!(matches!(
            forecast_status(&forecast_only, None, created),
            ForecastStatus::Training { .. }
        ));
        let disabled = policy(PredictiveScaleMode::Disabled);
        assert_eq!(
            forecast_status(&disabled, Some(created), at("2025-01-01T00:00:00Z")),
            ForecastStatus::Disabled
        );
    }

    #[test]
    fn while_training_the_answer_has_no_data_as_azure_answers() {
        let body = predictive_response(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/vmss1",
            "PercentageCPU",
            "2022-01-14T22:00:00.000Z/2022-01-16T22:00:00.000Z",
            "PT1H",
            None,
        );
        assert_eq!(
            body,
            json!({
                "timespan": "2022-01-14T22:00:00.000Z/2022-01-16T22:00:00.000Z",
                "interval": "PT1H",
                "metricName": "PercentageCPU;-1",
                "targetResourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/vmss1",
                "data": [],
            })
        );
    }

    #[test]
    fn the_forecast_repeats_the_weekly_pattern() {
        let h = Duration::hours(1);
        let start = at("2024-06-15T10:00:00Z");
        let history = vec![
            (start - Duration::weeks(1), 60.0),
            (start - Duration::weeks(2), 40.0),
            (start + h - Duration::weeks(1), 90.0),
        ];
        let f = seasonal_forecast(&history, start, start + h * 3, h);
        assert_eq!(f, vec![(start, 50.0), (start + h, 90.0)]);
        let body = predictive_response("/t", "PercentageCPU", "x/y", "PT1H", Some(&f));
        assert_eq!(body["metricName"], "PercentageCPU");
        assert_eq!(
            body["data"][0],
            json!({"timeStamp": "2024-06-15T10:00:00Z", "value": 50.0})
        );
    }
}
