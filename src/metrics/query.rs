//! The metrics API's query string, parsed into a [`MetricsQuery`] or Azure's error.
//!
//! Defaults when a parameter is absent (from the 2018-01-01 spec and Azure's docs):
//! `timespan` the hour before now, `interval` `PT1M`, `metricnames` the resource type's first
//! metric, `aggregation` the primary aggregation of the first metric named ("the service will
//! pick the Primary aggregation type of the first metrics to be used as the default
//! aggregation type for all the metrics", Metrics_List description), `top` 10 (only applied
//! when `$filter` is given), `resultType` `Data`.
//!
//! `orderby` takes `<aggregation> [asc|desc]`, also `sum`/`avg`/`min`/`max` (Azure's own
//! example is `sum asc`); without a direction it is ascending. Without `orderby`, a split
//! answer lists the largest series first by the first requested aggregation (armlet's choice).

use chrono::{DateTime, TimeDelta, Utc};

use crate::model::error::{ArmError, ArmResult};

use super::catalog::{Aggregation, MetricDefinition, Namespace};
use super::filter::{self, DimensionFilter};
use super::series::minute_of;
use super::timespan::{self, Interval, TimeRange};

/// The query parameters as received (URL-decoded once by the HTTP layer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawQuery {
    pub timespan: Option<String>,
    pub interval: Option<String>,
    pub metricnames: Option<String>,
    pub aggregation: Option<String>,
    pub filter: Option<String>,
    pub top: Option<String>,
    pub orderby: Option<String>,
    pub result_type: Option<String>,
    pub metricnamespace: Option<String>,
}

impl RawQuery {
    /// From decoded query-string pairs; names match case-insensitively (clients send both
    /// `resultType` and `resulttype`), unknown names (`api-version`, ...) are ignored.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut q = RawQuery::default();
        for (k, v) in pairs {
            let slot = match k.to_ascii_lowercase().as_str() {
                "timespan" => &mut q.timespan,
                "interval" => &mut q.interval,
                "metricnames" => &mut q.metricnames,
                "aggregation" => &mut q.aggregation,
                "$filter" => &mut q.filter,
                "top" => &mut q.top,
                "orderby" => &mut q.orderby,
                "resulttype" => &mut q.result_type,
                "metricnamespace" => &mut q.metricnamespace,
                _ => continue,
            };
            *slot = Some(v.to_string());
        }
        q
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultType {
    Data,
    /// Only the series (their dimension values), no data points.
    Metadata,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderBy {
    pub aggregation: Aggregation,
    pub descending: bool,
}

/// One requested metric and the `$filter` checked against its dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSelection {
    pub definition: &'static MetricDefinition,
    pub filter: Option<DimensionFilter>,
}

/// A valid metrics query.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsQuery {
    pub namespace: &'static Namespace,
    pub range: TimeRange,
    pub interval: Interval,
    pub metrics: Vec<MetricSelection>,
    pub aggregations: Vec<Aggregation>,
    /// How many series a split answer keeps.
    pub top: usize,
    pub order_by: Option<OrderBy>,
    pub result_type: ResultType,
}

impl MetricsQuery {
    /// The stored minutes the answer needs, `[from, to)`: from the minute that contains the
    /// start up to the end (what to read from the store).
    pub fn minutes(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (minute_of(self.range.start), self.range.end)
    }
}

fn bad(message: String) -> ArmError {
    ArmError::bad_request("BadRequest", message)
}

/// Parses the query for a resource whose metrics are `namespace`. `now` is Azure time;
/// `retention` is how long minutes are kept.
pub fn parse(
    namespace: &'static Namespace,
    raw: &RawQuery,
    now: DateTime<Utc>,
    retention: TimeDelta,
) -> ArmResult<MetricsQuery> {
    check_namespace(namespace, raw.metricnamespace.as_deref())?;
    let definitions = metric_names(namespace, raw.metricnames.as_deref())?;
    let aggregations = aggregations(&definitions, raw.aggregation.as_deref())?;
    let interval = timespan::parse_interval(raw.interval.as_deref())?;
    let range = timespan::parse_timespan(raw.timespan.as_deref(), now, retention)?;
    let parsed_filter = match raw.filter.as_deref().map(str::trim) {
        Some(f) if !f.is_empty() => Some(filter::parse(f)?),
        _ => None,
    };
    let metrics = definitions
        .into_iter()
        .map(|definition| {
            let filter = parsed_filter
                .as_ref()
                .map(|f| f.resolve(definition))
                .transpose()?;
            Ok(MetricSelection { definition, filter })
        })
        .collect::<ArmResult<Vec<_>>>()?;
    Ok(MetricsQuery {
        namespace,
        range,
        interval,
        metrics,
        aggregations,
        top: top(raw.top.as_deref())?,
        order_by: order_by(raw.orderby.as_deref())?,
        result_type: result_type(raw.result_type.as_deref())?,
    })
}

/// `metricnamespace`, when given, must be the resource type's (also for `metricDefinitions`).
pub fn check_namespace(namespace: &Namespace, raw: Option<&str>) -> ArmResult<()> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        Some(ns) if !ns.eq_ignore_ascii_case(namespace.name) => Err(bad(format!(
            "Metric namespace '{ns}' is not valid for this resource. Valid metric namespaces: {}",
            namespace.name
        ))),
        _ => Ok(()),
    }
}

/// `metricnames`: comma-separated, `%2` standing for a comma inside a name; names or
/// aliases, each metric once.
fn metric_names(
    namespace: &'static Namespace,
    raw: Option<&str>,
) -> ArmResult<Vec<&'static MetricDefinition>> {
    let mut out: Vec<&'static MetricDefinition> = Vec::new();
    for name in raw.unwrap_or_default().split(',') {
        let name = name.trim().replace("%2", ",");
        if name.is_empty() {
            continue;
        }
        let Some(d) = namespace.resolve(&name) else {
            let valid: Vec<&str> = namespace.metrics.iter().map(|m| m.name).collect();
            // Azure's text, e.g. in Azure/azure-sdk-for-net#29584.
            return Err(bad(format!(
                "Failed to find metric configuration for provider: {}, resource Type: {}, metric: {name}, Valid metrics: {}",
                namespace.provider().to_ascii_lowercase(),
                namespace.resource_type().to_ascii_lowercase(),
                valid.join(",")
            )));
        };
        if !out.iter().any(|m| std::ptr::eq(*m, d)) {
            out.push(d);
        }
    }
    if out.is_empty() {
        out.push(namespace.default_metric());
    }
    Ok(out)
}

fn aggregations(
    metrics: &[&'static MetricDefinition],
    raw: Option<&str>,
) -> ArmResult<Vec<Aggregation>> {
    let mut out = Vec::new();
    for name in raw.unwrap_or_default().split(',').map(str::trim) {
        if name.is_empty() {
            continue;
        }
        // Azure's text (Azure/azure-sdk-for-python#19585) names the value in lower case.
        let a = Aggregation::parse(name).ok_or_else(|| {
            bad(format!(
                "Detected invalid Aggregation type: {}",
                name.to_ascii_lowercase()
            ))
        })?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    if out.is_empty() {
        out.push(metrics[0].primary);
    }
    for m in metrics {
        if let Some(a) = out.iter().find(|a| !m.supported.contains(a)) {
            let supported: Vec<&str> = m.supported.iter().map(|a| a.as_str()).collect();
            return Err(bad(format!(
                "Metric: {} does not support requested aggregation type: {}, supported ones are: {}",
                m.name,
                a.as_str(),
                supported.join(",")
            )));
        }
    }
    Ok(out)
}

fn top(raw: Option<&str>) -> ArmResult<usize> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(10),
        Some(t) => match t.parse::<i32>() {
            Ok(n) if n > 0 => Ok(n as usize),
            _ => Err(bad(format!(
                "Invalid top '{t}': it must be a positive 32-bit integer."
            ))),
        },
    }
}

fn order_by(raw: Option<&str>) -> ArmResult<Option<OrderBy>> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let invalid = || {
        bad(format!(
            "Invalid orderby '{raw}': expected an aggregation (Average, Count, Minimum, Maximum, Total or Sum) and optionally asc or desc, e.g. 'sum desc'."
        ))
    };
    let words: Vec<&str> = raw.split_whitespace().collect();
    let (name, direction) = match words.as_slice() {
        [name] => (*name, None),
        [name, direction] => (*name, Some(*direction)),
        _ => return Err(invalid()),
    };
    let aggregation = match name.to_ascii_lowercase().as_str() {
        "sum" => Aggregation::Total,
        "avg" => Aggregation::Average,
        "min" => Aggregation::Minimum,
        "max" => Aggregation::Maximum,
        _ => Aggregation::parse(name).ok_or_else(invalid)?,
    };
    let descending = match direction.map(str::to_ascii_lowercase).as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(invalid()),
    };
    Ok(Some(OrderBy {
        aggregation,
        descending,
    }))
}

fn result_type(raw: Option<&str>) -> ArmResult<ResultType> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(ResultType::Data),
        Some(r) if r.eq_ignore_ascii_case("data") => Ok(ResultType::Data),
        Some(r) if r.eq_ignore_ascii_case("metadata") => Ok(ResultType::Metadata),
        Some(r) => Err(bad(format!(
            "Invalid resultType '{r}'. Allowed values are: Data, Metadata."
        ))),
    }
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
