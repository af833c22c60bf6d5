//! From stored minutes to the time series of an answer: filtering and splitting by
//! dimensions, merging minutes into intervals, `top` and `orderby`.
//!
//! - Minutes from the one containing the timespan's start up to (not including) its end
//!   count; each lands in the interval that contains it.
//! - Without `$filter` the answer is one series (empty `metadatavalues`) aggregated over every
//!   dimension value, present even when nothing was recorded. With `$filter`, there is one
//!   series per combination of values of the dimensions it names that has data, sorted by
//!   `orderby` over the whole timespan (ties by dimension values), cut to `top`.
//! - Every interval of the timespan has a data point; an interval without values carries no
//!   aggregate, and the renderer writes Azure's `total`/`count` of 0 and leaves `average`,
//!   `minimum` and `maximum` out (as in the spec's `GetMetric` example).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::catalog::{Aggregation, MetricDefinition};
use super::query::{MetricSelection, MetricsQuery, OrderBy};
use super::series::{Aggregate, MinutePoint, minute_of};
use super::timespan::{self, Interval};

/// One time series of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesResult {
    /// `(canonical dimension name, value)` for each dimension the filter names.
    pub metadata: Vec<(&'static str, String)>,
    /// One entry per interval: its timestamp and the aggregate of its values, if any.
    pub data: Vec<(DateTime<Utc>, Option<Aggregate>)>,
}

impl SeriesResult {
    /// The aggregate over the whole timespan.
    pub fn overall(&self) -> Option<Aggregate> {
        self.data
            .iter()
            .filter_map(|(_, a)| *a)
            .reduce(|a, b| a.merged(&b))
    }
}

/// The answer for one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricResult {
    pub definition: &'static MetricDefinition,
    pub series: Vec<SeriesResult>,
    /// How many stored minutes contributed (the answer's `cost`).
    pub minutes_read: usize,
}

/// Computes one metric's series. `points` are the stored minutes of the resource; minutes of
/// other metrics or outside the timespan are ignored.
pub fn run(
    query: &MetricsQuery,
    selection: &MetricSelection,
    points: &[MinutePoint],
) -> MetricResult {
    let buckets = timespan::buckets(&query.range, query.interval);
    let from = minute_of(query.range.start);
    let keys = selection
        .filter
        .as_ref()
        .map(|f| f.keys())
        .unwrap_or_default();
    let mut groups: BTreeMap<Vec<String>, Vec<Option<Aggregate>>> = BTreeMap::new();
    if selection.filter.is_none() {
        groups.insert(Vec::new(), vec![None; buckets.len()]);
    }
    let mut minutes_read = 0;
    for p in points {
        if p.metric != selection.definition.name || p.minute < from || p.minute >= query.range.end {
            continue;
        }
        if selection
            .filter
            .as_ref()
            .is_some_and(|f| !f.matches(&p.dimensions))
        {
            continue;
        }
        let index = match query.interval {
            Interval::Full => 0,
            Interval::Grain(g) => {
                ((p.minute - buckets[0].start).num_seconds() / g.num_seconds()) as usize
            }
        };
        let key: Vec<String> = keys
            .iter()
            .map(|k| p.dimensions.get(*k).cloned().unwrap_or_default())
            .collect();
        let slots = groups
            .entry(key)
            .or_insert_with(|| vec![None; buckets.len()]);
        if let Some(slot) = slots.get_mut(index) {
            *slot = Some(match slot {
                Some(a) => a.merged(&p.value),
                None => p.value,
            });
            minutes_read += 1;
        }
    }
    let mut series: Vec<SeriesResult> = groups
        .into_iter()
        .map(|(values, slots)| SeriesResult {
            metadata: keys.iter().copied().zip(values).collect(),
            data: buckets
                .iter()
                .zip(slots)
                .map(|(b, a)| {
                    let at = match query.interval {
                        Interval::Full => query.range.start,
                        Interval::Grain(_) => b.start,
                    };
                    (at, a)
                })
                .collect(),
        })
        .collect();
    if selection.filter.is_some() {
        let order = query.order_by.unwrap_or(OrderBy {
            aggregation: query.aggregations[0],
            descending: true,
        });
        series.sort_by(|a, b| compare(a, b, order));
        series.truncate(query.top);
    }
    MetricResult {
        definition: selection.definition,
        series,
        minutes_read,
    }
}

/// Orders by the overall value of one aggregation; series without one go last either way.
fn compare(a: &SeriesResult, b: &SeriesResult, order: OrderBy) -> Ordering {
    let value = |s: &SeriesResult| s.overall().and_then(|o| o.value(order.aggregation));
    let by_value = match (value(a), value(b)) {
        (Some(x), Some(y)) => {
            let o = x.partial_cmp(&y).unwrap_or(Ordering::Equal);
            if order.descending { o.reverse() } else { o }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    by_value.then_with(|| a.metadata.cmp(&b.metadata))
}

/// Every metric of a query, each from the minutes `points_for` returns for its name.
pub fn run_all<'a>(
    query: &MetricsQuery,
    mut points_for: impl FnMut(&str) -> &'a [MinutePoint],
) -> Vec<MetricResult> {
    query
        .metrics
        .iter()
        .map(|m| run(query, m, points_for(m.definition.name)))
        .collect()
}

/// The value one aggregation shows for an interval: Azure shows `total` and `count` as 0 where
/// nothing was recorded and leaves the others out.
pub fn shown(aggregate: Option<&Aggregate>, aggregation: Aggregation) -> Option<f64> {
    match aggregate {
        Some(a) => a.value(aggregation),
        None => matches!(aggregation, Aggregation::Total | Aggregation::Count).then_some(0.0),
    }
}

#[cfg(test)]
#[path = "rollup_tests.rs"]
mod tests;
