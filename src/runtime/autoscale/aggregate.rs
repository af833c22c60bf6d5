//! A rule's metric reduced to the single value Azure compares with the threshold.
//!
//! Azure's two stages (autoscale-best-practices, "Choose the appropriate statistic and time
//! aggregation"): `statistic` combines the values of all instances within each time grain
//! into one sample, then `timeAggregation` combines the samples of the time window. With
//! `dividePerInstance` the result is divided by the current instance count
//! (autoscale-understanding-settings).

use std::time::Duration;

use chrono::{DateTime, Utc};

use std::collections::BTreeMap;

use crate::model::autoscale::{
    Dimension, DimensionOperator, MetricTrigger, Statistic, TimeAggregation,
};

/// One time grain of a metric: the value each instance reported (a resource that is not
/// instanced, such as a load balancer, reports one value), or `None` when the metrics store
/// has no data for the grain.
pub type Grain = Option<Vec<f64>>;

/// A rule's metric over its time window: one entry per time grain, oldest first, filtered
/// by the rule's dimensions. The caller fetches it for [`window`] at `timeGrain`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricSeries {
    pub grains: Vec<Grain>,
}

impl MetricSeries {
    pub fn new(grains: Vec<Grain>) -> Self {
        MetricSeries { grains }
    }

    /// A series where every grain has the same per-instance values.
    pub fn steady(grains: usize, values: &[f64]) -> Self {
        MetricSeries::new(vec![Some(values.to_vec()); grains])
    }
}

/// Whether a time series with these dimension values counts for a rule: each filter must
/// pass, `Equals` matching any of its values and `NotEquals` none of them (spec,
/// `ScaleRuleMetricDimension`). Names and values compare case-insensitively, as Azure
/// Monitor's dimension filters do; a series without the dimension has the value "".
pub fn dimensions_match(filters: Option<&[Dimension]>, series: &BTreeMap<String, String>) -> bool {
    filters.unwrap_or_default().iter().all(|f| {
        let value = series
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&f.dimension_name))
            .map_or("", |(_, v)| v.as_str());
        let listed = f.values.iter().any(|v| v.eq_ignore_ascii_case(value));
        match f.operator {
            DimensionOperator::Equals => listed,
            DimensionOperator::NotEquals => !listed,
        }
    })
}

/// The interval a rule looks at: the last `timeWindow` before `now`.
pub fn window(trigger: &MetricTrigger, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let span = chrono::Duration::from_std(trigger.time_window).unwrap_or(chrono::Duration::zero());
    (now - span, now)
}

/// How many grains of `time_grain` fit in `time_window` (at least one).
pub fn grain_count(trigger: &MetricTrigger) -> usize {
    let grain = trigger.time_grain.max(Duration::from_secs(1)).as_secs();
    (trigger.time_window.as_secs() / grain).max(1) as usize
}

/// Combines one grain's per-instance values. `None` when there is nothing to combine;
/// `Sum` and `Count` of no values are 0.
pub fn combine_instances(values: &[f64], statistic: Statistic) -> Option<f64> {
    match statistic {
        Statistic::Sum => Some(values.iter().sum()),
        Statistic::Count => Some(values.len() as f64),
        _ if values.is_empty() => None,
        Statistic::Average => Some(values.iter().sum::<f64>() / values.len() as f64),
        Statistic::Min => values.iter().copied().reduce(f64::min),
        Statistic::Max => values.iter().copied().reduce(f64::max),
    }
}

/// Combines the grain samples of the window (oldest first). `None` when there are none.
pub fn combine_grains(samples: &[f64], aggregation: TimeAggregation) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    Some(match aggregation {
        TimeAggregation::Average => samples.iter().sum::<f64>() / samples.len() as f64,
        TimeAggregation::Minimum => samples.iter().copied().fold(f64::INFINITY, f64::min),
        TimeAggregation::Maximum => samples.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        TimeAggregation::Total => samples.iter().sum(),
        TimeAggregation::Count => samples.len() as f64,
        TimeAggregation::Last => *samples.last().expect("non-empty"),
    })
}

/// The value a rule compares with its threshold, or `None` when the metric has no data in
/// the window (Azure's "metric failure").
pub fn observed_value(
    series: &MetricSeries,
    trigger: &MetricTrigger,
    instances: u32,
) -> Option<f64> {
    let samples: Vec<f64> = series
        .grains
        .iter()
        .flatten()
        .filter_map(|values| combine_instances(values, trigger.statistic))
        .collect();
    let value = combine_grains(&samples, trigger.time_aggregation)?;
    Some(if trigger.divide_per_instance {
        // No instances means nothing to share the load among; keep the total.
        value / f64::from(instances.max(1))
    } else {
        value
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::autoscale::ComparisonOperator;

    fn trigger(statistic: Statistic, aggregation: TimeAggregation, divide: bool) -> MetricTrigger {
        MetricTrigger {
            metric_name: "Percentage CPU".into(),
            metric_namespace: String::new(),
            metric_resource_uri: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/v".into(),
            metric_resource_location: None,
            time_grain: Duration::from_secs(60),
            statistic,
            time_window: Duration::from_secs(300),
            time_aggregation: aggregation,
            operator: ComparisonOperator::GreaterThan,
            threshold: 70.0,
            dimensions: None,
            divide_per_instance: divide,
        }
    }

    #[test]
    fn each_statistic_combines_instances_within_a_grain() {
        let v = [10.0, 40.0, 70.0];
        assert_eq!(combine_instances(&v, Statistic::Average), Some(40.0));
        assert_eq!(combine_instances(&v, Statistic::Min), Some(10.0));
        assert_eq!(combine_instances(&v, Statistic::Max), Some(70.0));
        assert_eq!(combine_instances(&v, Statistic::Sum), Some(120.0));
        assert_eq!(combine_instances(&v, Statistic::Count), Some(3.0));
        assert_eq!(combine_instances(&[], Statistic::Average), None);
        assert_eq!(combine_instances(&[], Statistic::Count), Some(0.0));
        assert_eq!(combine_instances(&[], Statistic::Sum), Some(0.0));
    }

    #[test]
    fn each_time_aggregation_combines_the_window() {
        let s = [30.0, 90.0, 60.0, 20.0];
        assert_eq!(combine_grains(&s, TimeAggregation::Average), Some(50.0));
        assert_eq!(combine_grains(&s, TimeAggregation::Minimum), Some(20.0));
        assert_eq!(combine_grains(&s, TimeAggregation::Maximum), Some(90.0));
        assert_eq!(combine_grains(&s, TimeAggregation::Total), Some(200.0));
        assert_eq!(combine_grains(&s, TimeAggregation::Count), Some(4.0));
        assert_eq!(combine_grains(&s, TimeAggregation::Last), Some(20.0));
        assert_eq!(combine_grains(&[], TimeAggregation::Average), None);
    }

    #[test]
    fn statistic_first_then_time_aggregation() {
        // Max per grain is 80 then 20; the average of those is 50 (not the average of all).
        let series = MetricSeries::new(vec![Some(vec![80.0, 0.0]), Some(vec![20.0, 10.0])]);
        let t = trigger(Statistic::Max, TimeAggregation::Average, false);
        assert_eq!(observed_value(&series, &t, 2), Some(50.0));
        // Average per grain is 40 then 15; the maximum of those is 40.
        let t = trigger(Statistic::Average, TimeAggregation::Maximum, false);
        assert_eq!(observed_value(&series, &t, 2), Some(40.0));
    }

    #[test]
    fn divide_per_instance_divides_by_the_current_count() {
        // A load balancer's ByteCount: one value per grain, shared by 4 instances.
        let series = MetricSeries::new(vec![Some(vec![1000.0]), Some(vec![3000.0])]);
        let t = trigger(Statistic::Sum, TimeAggregation::Average, true);
        assert_eq!(observed_value(&series, &t, 4), Some(500.0));
        let t = trigger(Statistic::Sum, TimeAggregation::Average, false);
        assert_eq!(observed_value(&series, &t, 4), Some(2000.0));
    }

    #[test]
    fn grains_without_data_are_skipped_and_no_data_at_all_is_none() {
        let t = trigger(Statistic::Average, TimeAggregation::Average, false);
        let gappy = MetricSeries::new(vec![None, Some(vec![50.0]), None, Some(vec![70.0])]);
        assert_eq!(observed_value(&gappy, &t, 1), Some(60.0));
        let empty = MetricSeries::new(vec![None, None]);
        assert_eq!(observed_value(&empty, &t, 1), None);
        assert_eq!(observed_value(&MetricSeries::default(), &t, 1), None);
        let t_last = trigger(Statistic::Average, TimeAggregation::Last, false);
        assert_eq!(observed_value(&gappy, &t_last, 1), Some(70.0));
    }

    #[test]
    fn dimension_filters_select_series() {
        let dim = |op, values: &[&str]| Dimension {
            dimension_name: "VMName".into(),
            operator: op,
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        let series = |vm: &str| BTreeMap::from([("vmname".to_string(), vm.to_string())]);
        let equals = [dim(DimensionOperator::Equals, &["vmss_0", "VMSS_1"])];
        assert!(dimensions_match(Some(&equals), &series("vmss_1")));
        assert!(!dimensions_match(Some(&equals), &series("vmss_2")));
        let not_equals = [dim(DimensionOperator::NotEquals, &["vmss_0"])];
        assert!(dimensions_match(Some(&not_equals), &series("vmss_2")));
        assert!(!dimensions_match(Some(&not_equals), &series("vmss_0")));
        assert!(dimensions_match(Some(&not_equals), &BTreeMap::new()));
        assert!(!dimensions_match(Some(&equals), &BTreeMap::new()));
        assert!(dimensions_match(None, &series("anything")));
        let both = [equals[0].clone(), not_equals[0].clone()];
        assert!(!dimensions_match(Some(&both), &series("vmss_0")));
        assert!(dimensions_match(Some(&both), &series("vmss_1")));
    }

    #[test]
    fn the_window_and_grain_count_follow_the_trigger() {
        let t = trigger(Statistic::Average, TimeAggregation::Average, false);
        let now = "2024-01-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let (from, to) = window(&t, now);
        assert_eq!((to - from).num_minutes(), 5);
        assert_eq!(grain_count(&t), 5);
    }
}
