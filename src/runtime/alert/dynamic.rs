//! Dynamic thresholds — **armlet's approximation**, not Azure's machine-learning model.
//!
//! Azure learns hourly/daily/weekly seasonality from up to 10 days of history and doesn't alert
//! before it has "three days and at least 30 samples of metric data" (Azure docs, "Create a
//! metric alert with dynamic thresholds"). armlet keeps the parts it can state simply:
//!
//! * history: the metric aggregated over consecutive windows of `windowSize` before the
//!   evaluated periods, back at most 10 days and never before `ignoreDataBefore`;
//! * no alert until the history has at least 30 window values (the three-day rule is dropped
//!   so that dynamic thresholds can be exercised on a scaled clock);
//! * bounds = mean ± k·σ of those values, with k = 2 (High), 3 (Medium), 4 (Low) — no
//!   seasonality;
//! * `failingPeriods`: the last `numberOfEvaluationPeriods` windows are checked and the
//!   condition holds when at least `minFailingPeriodsToAlert` of them violate the bounds.

use chrono::{DateTime, Duration, Utc};

use super::series::Minutes;
use crate::model::metric_alert::criteria::{Operator, Sensitivity, TimeAggregation};

/// How far back the history reaches.
pub const HISTORY_DAYS: i64 = 10;
/// Window values needed before a dynamic threshold can alert.
pub const MIN_SAMPLES: usize = 30;

/// How many standard deviations the bounds lie from the mean.
pub fn deviations(s: Sensitivity) -> f64 {
    match s {
        Sensitivity::High => 2.0,
        Sensitivity::Medium => 3.0,
        Sensitivity::Low => 4.0,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub lower: f64,
    pub upper: f64,
}

impl Bounds {
    pub fn violated(&self, operator: Operator, value: f64) -> bool {
        match operator {
            Operator::GreaterThan => value > self.upper,
            Operator::LessThan => value < self.lower,
            _ => value > self.upper || value < self.lower,
        }
    }

    /// The bound a payload reports as `threshold`: the one the operator watches, or for
    /// `GreaterOrLessThan` the one on the value's side of the mean.
    pub fn reported(&self, operator: Operator, value: Option<f64>) -> f64 {
        match operator {
            Operator::GreaterThan => self.upper,
            Operator::LessThan => self.lower,
            _ if value.is_some_and(|v| v < (self.lower + self.upper) / 2.0) => self.lower,
            _ => self.upper,
        }
    }
}

/// The value of each window `[end - (k+1)·w, end - k·w)` for k = 0.. while the window starts
/// at or after `earliest`; windows without samples are skipped.
pub fn window_values(
    minutes: &Minutes,
    aggregation: TimeAggregation,
    end: DateTime<Utc>,
    window: Duration,
    earliest: DateTime<Utc>,
) -> Vec<f64> {
    let mut out = Vec::new();
    let mut hi = end;
    while hi - window >= earliest {
        if let Some(v) = minutes
            .window(hi - window, hi)
            .and_then(|a| a.value(aggregation))
        {
            out.push(v);
        }
        hi -= window;
    }
    out
}

/// The bounds learnt from the history ending at `history_end`, or `None` while there are fewer
/// than [`MIN_SAMPLES`] window values.
pub fn bounds(
    minutes: &Minutes,
    aggregation: TimeAggregation,
    history_end: DateTime<Utc>,
    window: Duration,
    ignore_data_before: Option<DateTime<Utc>>,
    sensitivity: Sensitivity,
) -> Option<Bounds> {
    let mut earliest = history_end - Duration::days(HISTORY_DAYS);
    if let Some(t) = ignore_data_before {
        earliest = earliest.max(t);
    }
    let values = window_values(minutes, aggregation, history_end, window, earliest);
    if values.len() < MIN_SAMPLES {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sigma = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let k = deviations(sensitivity) * sigma;
    Some(Bounds {
        lower: mean - k,
        upper: mean + k,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::metric_alert::criteria::{Criterion, Threshold};
    use crate::runtime::alert::series::{MinutePoint, Series, split};
    use chrono::TimeZone;

    fn minutes(values: impl Iterator<Item = (i64, f64)>) -> Minutes {
        let t0 = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        let s = Series {
            resource_id: "/r".into(),
            dimensions: Default::default(),
            points: values
                .map(|(m, v)| MinutePoint::single(t0 + Duration::minutes(m), v))
                .collect(),
        };
        let c = Criterion {
            name: "c".into(),
            metric_name: "m".into(),
            metric_namespace: None,
            time_aggregation: TimeAggregation::Average,
            dimensions: vec![],
            skip_metric_validation: false,
            threshold: Threshold::Static {
                operator: Operator::GreaterThan,
                threshold: 0.0,
            },
        };
        split(&c, &[s], true).remove(0).minutes
    }

    fn at(m: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(m)
    }

    #[test]
    fn bounds_are_mean_plus_minus_k_sigma() {
        // Alternating 10 and 20: mean 15, σ 5.
        let m = minutes((0..40).map(|i| (i, if i % 2 == 0 { 10.0 } else { 20.0 })));
        let b = bounds(
            &m,
            TimeAggregation::Average,
            at(40),
            Duration::minutes(1),
            None,
            Sensitivity::Medium,
        )
        .unwrap();
        assert_eq!((b.lower, b.upper), (0.0, 30.0));
        let high = bounds(
            &m,
            TimeAggregation::Average,
            at(40),
            Duration::minutes(1),
            None,
            Sensitivity::High,
        )
        .unwrap();
        assert_eq!((high.lower, high.upper), (5.0, 25.0));
    }

    #[test]
    fn needs_thirty_window_values() {
        let m = minutes((0..29).map(|i| (i, 1.0)));
        assert_eq!(
            bounds(
                &m,
                TimeAggregation::Average,
                at(29),
                Duration::minutes(1),
                None,
                Sensitivity::Low
            ),
            None
        );
        let m = minutes((0..30).map(|i| (i, 1.0)));
        assert!(
            bounds(
                &m,
                TimeAggregation::Average,
                at(30),
                Duration::minutes(1),
                None,
                Sensitivity::Low
            )
            .is_some()
        );
    }

    #[test]
    fn ignore_data_before_cuts_the_history() {
        let m = minutes((0..60).map(|i| (i, 1.0)));
        let b = bounds(
            &m,
            TimeAggregation::Average,
            at(60),
            Duration::minutes(1),
            Some(at(40)),
            Sensitivity::Low,
        );
        assert_eq!(b, None);
    }

    #[test]
    fn operators_watch_their_bound() {
        let b = Bounds {
            lower: 5.0,
            upper: 25.0,
        };
        assert!(b.violated(Operator::GreaterThan, 26.0) && !b.violated(Operator::GreaterThan, 1.0));
        assert!(b.violated(Operator::LessThan, 1.0) && !b.violated(Operator::LessThan, 26.0));
        assert!(
            b.violated(Operator::GreaterOrLessThan, 1.0)
                && b.violated(Operator::GreaterOrLessThan, 26.0)
        );
        assert!(!b.violated(Operator::GreaterOrLessThan, 15.0));
        assert_eq!(b.reported(Operator::GreaterOrLessThan, Some(1.0)), 5.0);
        assert_eq!(b.reported(Operator::GreaterOrLessThan, Some(30.0)), 25.0);
    }
}
