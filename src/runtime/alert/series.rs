//! Metric data as the evaluation reads it, and the two things done to it: splitting into the
//! monitored time series a criterion's dimensions select, and aggregating a time window.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::metric_alert::criteria::{Criterion, DimensionOperator, TimeAggregation};

/// One minute of a metric as the metrics store keeps it (`time` is the minute's start).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinutePoint {
    pub time: DateTime<Utc>,
    pub total: f64,
    pub count: f64,
    pub minimum: f64,
    pub maximum: f64,
}

impl MinutePoint {
    /// A minute with one sample of `value`.
    pub fn single(time: DateTime<Utc>, value: f64) -> Self {
        MinutePoint {
            time,
            total: value,
            count: 1.0,
            minimum: value,
            maximum: value,
        }
    }
}

/// A metric on one resource for one combination of dimension values, as fine-grained as the
/// store has it; [`split`] regroups it as a criterion asks.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub resource_id: String,
    pub dimensions: BTreeMap<String, String>,
    pub points: Vec<MinutePoint>,
}

/// Samples combined over some minutes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aggregate {
    pub total: f64,
    pub count: f64,
    pub minimum: f64,
    pub maximum: f64,
}

impl Aggregate {
    fn of(p: &MinutePoint) -> Self {
        Aggregate {
            total: p.total,
            count: p.count,
            minimum: p.minimum,
            maximum: p.maximum,
        }
    }

    fn add(&mut self, o: &Aggregate) {
        self.total += o.total;
        self.count += o.count;
        self.minimum = self.minimum.min(o.minimum);
        self.maximum = self.maximum.max(o.maximum);
    }

    /// The value a time aggregation reads; `Average` is total / count over the raw samples, as
    /// Azure Monitor computes it, so it has no value without samples.
    pub fn value(&self, aggregation: TimeAggregation) -> Option<f64> {
        match aggregation {
            TimeAggregation::Average => (self.count > 0.0).then(|| self.total / self.count),
            TimeAggregation::Count => Some(self.count),
            TimeAggregation::Total => Some(self.total),
            TimeAggregation::Minimum => Some(self.minimum),
            TimeAggregation::Maximum => Some(self.maximum),
        }
    }
}

/// The minutes of one monitored series, merged from the store's series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Minutes(BTreeMap<DateTime<Utc>, Aggregate>);

impl Minutes {
    pub fn merge(&mut self, points: &[MinutePoint]) {
        for p in points {
            let a = Aggregate::of(p);
            self.0.entry(p.time).and_modify(|e| e.add(&a)).or_insert(a);
        }
    }

    /// The minutes starting in `[start, end)`, combined; `None` when there are none.
    pub fn window(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Option<Aggregate> {
        let mut it = self.0.range(start..end).map(|(_, a)| *a);
        let first = it.next()?;
        Some(it.fold(first, |mut acc, a| {
            acc.add(&a);
            acc
        }))
    }
}

/// One monitored series of a criterion: a resource and the values of the dimensions the
/// criterion splits by (in the criterion's order, with the casing first seen).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Group {
    pub resource_id: String,
    pub dimensions: Vec<(String, String)>,
    pub minutes: Minutes,
}

fn dimension_value<'a>(s: &'a Series, name: &str) -> &'a str {
    s.dimensions
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map_or("", |(_, v)| v.as_str())
}

fn selected(c: &Criterion, s: &Series) -> bool {
    c.dimensions.iter().all(|d| {
        let v = dimension_value(s, &d.name);
        let listed = d
            .values
            .iter()
            .any(|x| x == "*" || x.eq_ignore_ascii_case(v));
        match d.operator {
            DimensionOperator::Include => listed,
            DimensionOperator::Exclude => !listed,
        }
    })
}

/// The monitored series of criterion `c`: the store's series it selects (`Include` listed
/// values or `*`, `Exclude` listed values), one per resource and combination of values of the
/// criterion's dimensions. With `split == false` (rules with several conditions, where each
/// dimension has exactly one value) there is one series per resource.
pub fn split(c: &Criterion, data: &[Series], split: bool) -> Vec<Group> {
    let mut groups: BTreeMap<(String, Vec<String>), Group> = BTreeMap::new();
    for s in data.iter().filter(|s| selected(c, s)) {
        let dims: Vec<(String, String)> = c
            .dimensions
            .iter()
            .map(|d| {
                (
                    d.name.clone(),
                    if split {
                        dimension_value(s, &d.name).to_string()
                    } else {
                        d.values[0].clone()
                    },
                )
            })
            .collect();
        let key = (
            s.resource_id.to_lowercase(),
            dims.iter().map(|(_, v)| v.to_lowercase()).collect(),
        );
        let g = groups.entry(key).or_insert_with(|| Group {
            resource_id: s.resource_id.clone(),
            dimensions: dims,
            minutes: Minutes::default(),
        });
        g.minutes.merge(&s.points);
    }
    groups.into_values().collect()
}

/// Identifies a monitored series across evaluations (lower-cased: ids and dimension values
/// compare without case in Azure).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SeriesKey {
    pub resource_id: String,
    pub dimensions: Vec<(String, String)>,
}

impl SeriesKey {
    pub fn new(resource_id: &str, dimensions: &[(String, String)]) -> Self {
        SeriesKey {
            resource_id: resource_id.to_lowercase(),
            dimensions: dimensions
                .iter()
                .map(|(k, v)| (k.to_lowercase(), v.to_lowercase()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::metric_alert::criteria::{Dimension, Operator, Threshold};
    use chrono::TimeZone;

    fn t(m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 12, m, 0).unwrap()
    }

    fn series(ip: &str, values: &[f64]) -> Series {
        Series {
            resource_id: "/lb".into(),
            dimensions: BTreeMap::from([("BackendIPAddress".into(), ip.into())]),
            points: values
                .iter()
                .enumerate()
                .map(|(i, v)| MinutePoint::single(t(i as u32), *v))
                .collect(),
        }
    }

    fn criterion(dims: Vec<Dimension>) -> Criterion {
        Criterion {
            name: "c".into(),
            metric_name: "HealthProbeStatus".into(),
            metric_namespace: None,
            time_aggregation: TimeAggregation::Average,
            dimensions: dims,
            skip_metric_validation: false,
            threshold: Threshold::Static {
                operator: Operator::LessThan,
                threshold: 100.0,
            },
        }
    }

    fn dim(op: DimensionOperator, values: &[&str]) -> Vec<Dimension> {
        vec![Dimension {
            name: "backendipaddress".into(),
            operator: op,
            values: values.iter().map(|s| s.to_string()).collect(),
        }]
    }

    #[test]
    fn each_aggregation_reads_its_statistic() {
        let mut m = Minutes::default();
        m.merge(&[
            MinutePoint {
                time: t(0),
                total: 10.0,
                count: 4.0,
                minimum: 1.0,
                maximum: 5.0,
            },
            MinutePoint {
                time: t(1),
                total: 2.0,
                count: 1.0,
                minimum: 2.0,
                maximum: 2.0,
            },
        ]);
        let a = m.window(t(0), t(2)).unwrap();
        assert_eq!(a.value(TimeAggregation::Average), Some(12.0 / 5.0));
        assert_eq!(a.value(TimeAggregation::Total), Some(12.0));
        assert_eq!(a.value(TimeAggregation::Count), Some(5.0));
        assert_eq!(a.value(TimeAggregation::Minimum), Some(1.0));
        assert_eq!(a.value(TimeAggregation::Maximum), Some(5.0));
        assert_eq!(
            m.window(t(1), t(2)).unwrap().value(TimeAggregation::Total),
            Some(2.0)
        );
        assert_eq!(m.window(t(2), t(5)), None);
    }

    #[test]
    fn no_dimensions_merge_everything_into_one_series() {
        let g = split(
            &criterion(vec![]),
            &[series("10.0.0.4", &[100.0]), series("10.0.0.5", &[0.0])],
            true,
        );
        assert_eq!(g.len(), 1);
        assert_eq!(
            g[0].minutes
                .window(t(0), t(1))
                .unwrap()
                .value(TimeAggregation::Average),
            Some(50.0)
        );
    }

    #[test]
    fn include_star_splits_by_every_value() {
        let data = [
            series("10.0.0.4", &[100.0]),
            series("10.0.0.5", &[0.0]),
            series("10.0.0.6", &[100.0]),
        ];
        let g = split(
            &criterion(dim(DimensionOperator::Include, &["*"])),
            &data,
            true,
        );
        let ips: Vec<_> = g.iter().map(|g| g.dimensions[0].1.as_str()).collect();
        assert_eq!(ips, ["10.0.0.4", "10.0.0.5", "10.0.0.6"]);
        assert_eq!(g[0].dimensions[0].0, "backendipaddress");
    }

    #[test]
    fn include_and_exclude_select_values() {
        let data = [
            series("10.0.0.4", &[1.0]),
            series("10.0.0.5", &[1.0]),
            series("10.0.0.6", &[1.0]),
        ];
        let inc = split(
            &criterion(dim(DimensionOperator::Include, &["10.0.0.5", "10.0.0.6"])),
            &data,
            true,
        );
        assert_eq!(
            inc.iter()
                .map(|g| g.dimensions[0].1.as_str())
                .collect::<Vec<_>>(),
            ["10.0.0.5", "10.0.0.6"]
        );
        let exc = split(
            &criterion(dim(DimensionOperator::Exclude, &["10.0.0.5"])),
            &data,
            true,
        );
        assert_eq!(
            exc.iter()
                .map(|g| g.dimensions[0].1.as_str())
                .collect::<Vec<_>>(),
            ["10.0.0.4", "10.0.0.6"]
        );
    }

    #[test]
    fn without_splitting_the_selected_values_form_one_series_per_resource() {
        let data = [series("10.0.0.4", &[1.0]), series("10.0.0.5", &[1.0])];
        let g = split(
            &criterion(dim(DimensionOperator::Include, &["10.0.0.4"])),
            &data,
            false,
        );
        assert_eq!(g.len(), 1);
        assert_eq!(
            g[0].dimensions,
            vec![("backendipaddress".to_string(), "10.0.0.4".to_string())]
        );
    }
}
