//! The stored form of metrics: one-minute aggregates per (resource, metric, dimension values).
//!
//! Azure's time-series store keeps, per minute, the sum, count, minimum and maximum of the
//! values emitted in that minute; the average is derived (`total / count`), and coarser
//! intervals merge minutes the same way. Timestamps are Azure time (armlet's scaled clock), UTC,
//! truncated to the minute.

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use super::catalog::Aggregation;

/// Dimension values of a series: canonical dimension name → value. Sorted, so one set of
/// values has one [`dimension_key`].
pub type Dimensions = BTreeMap<String, String>;

/// The aggregate of the values emitted in one interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aggregate {
    pub total: f64,
    /// How many values were emitted.
    pub count: u64,
    pub minimum: f64,
    pub maximum: f64,
}

impl Aggregate {
    /// One value, e.g. a gauge (CPU, available memory, probe status) sampled once a minute.
    pub fn sample(value: f64) -> Self {
        Aggregate {
            total: value,
            count: 1,
            minimum: value,
            maximum: value,
        }
    }

    /// Several values emitted in one minute; `None` when there are none.
    pub fn from_samples(values: &[f64]) -> Option<Self> {
        let (first, rest) = values.split_first()?;
        let mut a = Aggregate::sample(*first);
        for v in rest {
            a.merge(&Aggregate::sample(*v));
        }
        Some(a)
    }

    /// What a monotonic counter (bytes, packets, CPU ticks) adds between two readings,
    /// emitted as one value: a reading below the previous one means the counter restarted
    /// (a new process, a new proxy), so everything it counted since is the delta.
    pub fn counter_delta(previous: u64, current: u64) -> Self {
        let delta = if current >= previous {
            current - previous
        } else {
            current
        };
        Aggregate::sample(delta as f64)
    }

    /// Folds another aggregate of the same series into this one (a later flush of the same
    /// minute, or another minute of the same interval).
    pub fn merge(&mut self, other: &Aggregate) {
        self.total += other.total;
        self.count += other.count;
        self.minimum = self.minimum.min(other.minimum);
        self.maximum = self.maximum.max(other.maximum);
    }

    pub fn merged(mut self, other: &Aggregate) -> Self {
        self.merge(other);
        self
    }

    pub fn average(&self) -> Option<f64> {
        (self.count > 0).then(|| self.total / self.count as f64)
    }

    /// The value of one aggregation; `None` where Azure leaves the field out (no values).
    pub fn value(&self, aggregation: Aggregation) -> Option<f64> {
        match aggregation {
            Aggregation::Total => Some(self.total),
            Aggregation::Count => Some(self.count as f64),
            Aggregation::Average => self.average(),
            Aggregation::Minimum => (self.count > 0).then_some(self.minimum),
            Aggregation::Maximum => (self.count > 0).then_some(self.maximum),
        }
    }
}

/// One stored row: the aggregate of one series in one minute.
#[derive(Debug, Clone, PartialEq)]
pub struct MinutePoint {
    /// The resource's case-folded id ([`crate::model::id::ResourceId::key`]).
    pub resource_key: String,
    /// Azure's metric name (`ByteCount`, `Percentage CPU`), never an alias.
    pub metric: String,
    pub dimensions: Dimensions,
    /// The start of the minute (seconds and below are zero).
    pub minute: DateTime<Utc>,
    pub value: Aggregate,
}

impl MinutePoint {
    /// A point for the minute that contains `at`.
    pub fn new(
        resource_key: &str,
        metric: &str,
        dimensions: Dimensions,
        at: DateTime<Utc>,
        value: Aggregate,
    ) -> Self {
        MinutePoint {
            resource_key: resource_key.to_ascii_lowercase(),
            metric: metric.to_string(),
            dimensions,
            minute: minute_of(at),
            value,
        }
    }
}

/// Builds [`Dimensions`] from `(name, value)` pairs.
pub fn dimensions<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Dimensions {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The start of the minute that contains `t`.
pub fn minute_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::minutes(1)).unwrap_or(t)
}

/// The storage form of dimension values: a JSON object with sorted keys (`{}` for none).
pub fn dimension_key(d: &Dimensions) -> String {
    serde_json::to_string(d).expect("a map of strings serialises")
}

/// Reads [`dimension_key`]'s form back; anything else is an empty set.
pub fn parse_dimension_key(key: &str) -> Dimensions {
    serde_json::from_str(key).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn samples_aggregate_to_total_count_min_max_and_average() {
        let a = Aggregate::from_samples(&[3.0, 1.0, 8.0]).unwrap();
        assert_eq!(
            (a.total, a.count, a.minimum, a.maximum),
            (12.0, 3, 1.0, 8.0)
        );
        assert_eq!(a.average(), Some(4.0));
        assert_eq!(a.value(Aggregation::Count), Some(3.0));
        assert!(Aggregate::from_samples(&[]).is_none());
    }

    #[test]
    fn merging_adds_totals_and_counts_and_keeps_extremes() {
        let mut a = Aggregate::sample(10.0);
        a.merge(&Aggregate::from_samples(&[2.0, 30.0]).unwrap());
        assert_eq!(
            (a.total, a.count, a.minimum, a.maximum),
            (42.0, 3, 2.0, 30.0)
        );
        assert_eq!(a.average(), Some(14.0));
    }

    #[test]
    fn counter_deltas_survive_restarts() {
        assert_eq!(Aggregate::counter_delta(100, 250).total, 150.0);
        assert_eq!(Aggregate::counter_delta(100, 100).total, 0.0);
        // The counter restarted at 0 and has counted 40 since.
        assert_eq!(Aggregate::counter_delta(100, 40).total, 40.0);
        assert_eq!(Aggregate::counter_delta(0, 7).count, 1);
    }

    #[test]
    fn empty_aggregates_have_no_average_minimum_or_maximum() {
        let empty = Aggregate {
            total: 0.0,
            count: 0,
            minimum: f64::INFINITY,
            maximum: f64::NEG_INFINITY,
        };
        assert_eq!(empty.value(Aggregation::Total), Some(0.0));
        assert_eq!(empty.value(Aggregation::Count), Some(0.0));
        for a in [
            Aggregation::Average,
            Aggregation::Minimum,
            Aggregation::Maximum,
        ] {
            assert_eq!(empty.value(a), None);
        }
    }

    #[test]
    fn points_are_keyed_by_minute_and_folded_resource_id() {
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 10, 3, 27).unwrap();
        let p = MinutePoint::new(
            "/Subscriptions/S/X",
            "ByteCount",
            Dimensions::new(),
            at,
            Aggregate::sample(1.0),
        );
        assert_eq!(
            p.minute,
            Utc.with_ymd_and_hms(2024, 5, 1, 10, 3, 0).unwrap()
        );
        assert_eq!(p.resource_key, "/subscriptions/s/x");
    }

    #[test]
    fn dimension_keys_are_canonical_and_round_trip() {
        let a = dimensions([("FrontendPort", "80"), ("Direction", "In")]);
        let b = dimensions([("Direction", "In"), ("FrontendPort", "80")]);
        assert_eq!(dimension_key(&a), dimension_key(&b));
        assert_eq!(
            dimension_key(&a),
            r#"{"Direction":"In","FrontendPort":"80"}"#
        );
        assert_eq!(parse_dimension_key(&dimension_key(&a)), a);
        assert_eq!(dimension_key(&Dimensions::new()), "{}");
        assert!(parse_dimension_key("garbage").is_empty());
    }
}
