//! The JSON answers of the metrics API, per the specs: `Response` (metrics_API.json,
//! 2018-01-01), `MetricDefinitionCollection` (metricDefinitions_API.json, 2018-01-01) and
//! `MetricNamespaceCollection` (metricNamespaces_API.json, 2017-12-01-preview).
//!
//! Shapes follow the specs' examples: dimension names in `metadatavalues` are lower case
//! (`GetMetric.json` answers `blobtype` for `BlobType`), a metadata query has no `cost`,
//! `interval` or `data` (`GetMetricMetadata.json`), every metric carries `errorCode: Success`
//! (`GetMetricError.json`), and definitions list `None` among the supported aggregations.

use chrono::TimeDelta;
use serde_json::{Map, Value, json};

use super::catalog::{MetricDefinition, Namespace};
use super::query::{MetricsQuery, ResultType};
use super::rollup::{MetricResult, SeriesResult, shown};
use super::timespan::{self, GRAINS};

/// The `Response` of `GET {resourceUri}/providers/Microsoft.Insights/metrics`.
/// `resource_id` is the resource's id as ARM reports it; `region` its location.
pub fn metrics_response(
    resource_id: &str,
    region: &str,
    query: &MetricsQuery,
    results: &[MetricResult],
) -> Value {
    let metadata_only = query.result_type == ResultType::Metadata;
    let value: Vec<Value> = results
        .iter()
        .map(|r| metric(resource_id, query, r, metadata_only))
        .collect();
    let mut body = Map::new();
    if !metadata_only {
        let cost: usize = results.iter().map(|r| r.minutes_read).sum();
        body.insert("cost".into(), json!(cost));
    }
    body.insert(
        "timespan".into(),
        json!(timespan::format_timespan(&query.range)),
    );
    if !metadata_only {
        body.insert(
            "interval".into(),
            json!(query.interval.to_iso(&query.range)),
        );
    }
    body.insert("value".into(), Value::Array(value));
    body.insert("namespace".into(), json!(query.namespace.name));
    body.insert("resourceregion".into(), json!(region));
    Value::Object(body)
}

fn metric(resource_id: &str, query: &MetricsQuery, r: &MetricResult, metadata_only: bool) -> Value {
    let d = r.definition;
    let timeseries: Vec<Value> = r
        .series
        .iter()
        .map(|s| series(query, s, metadata_only))
        .collect();
    json!({
        "id": format!("{resource_id}/providers/Microsoft.Insights/metrics/{}", d.name),
        "type": "Microsoft.Insights/metrics",
        "name": { "value": d.name, "localizedValue": d.display_name },
        "displayDescription": d.description,
        "unit": d.unit.as_str(),
        "timeseries": timeseries,
        "errorCode": "Success",
    })
}

fn series(query: &MetricsQuery, s: &SeriesResult, metadata_only: bool) -> Value {
    let metadata: Vec<Value> = s
        .metadata
        .iter()
        .map(|(name, value)| {
            let name = name.to_ascii_lowercase();
            json!({ "name": { "value": name, "localizedValue": name }, "value": value })
        })
        .collect();
    if metadata_only {
        return json!({ "metadatavalues": metadata });
    }
    let data: Vec<Value> = s
        .data
        .iter()
        .map(|(at, aggregate)| {
            let mut point = Map::new();
            point.insert("timeStamp".into(), json!(timespan::format_time(*at)));
            for a in &query.aggregations {
                if let Some(v) = shown(aggregate.as_ref(), *a) {
                    point.insert(a.field().into(), json!(v));
                }
            }
            Value::Object(point)
        })
        .collect();
    json!({ "metadatavalues": metadata, "data": data })
}

/// The `MetricDefinitionCollection` of a resource. `retention` is what armlet keeps
/// (reported per grain, as Azure reports `P93D`).
pub fn metric_definitions(resource_id: &str, namespace: &Namespace, retention: TimeDelta) -> Value {
    let value: Vec<Value> = namespace
        .metrics
        .iter()
        .map(|d| definition(resource_id, namespace, d, retention))
        .collect();
    json!({ "value": value })
}

fn definition(
    resource_id: &str,
    namespace: &Namespace,
    d: &MetricDefinition,
    retention: TimeDelta,
) -> Value {
    let retention = timespan::iso_duration(retention);
    let availabilities: Vec<Value> = GRAINS
        .iter()
        .map(|g| {
            json!({
                "timeGrain": timespan::iso_duration(TimeDelta::seconds(*g)),
                "retention": retention,
            })
        })
        .collect();
    let mut supported = vec!["None"];
    supported.extend(d.supported.iter().map(|a| a.as_str()));
    let mut body = json!({
        "id": format!("{resource_id}/providers/microsoft.insights/metricdefinitions/{}", d.name),
        "resourceId": resource_id,
        "namespace": namespace.name,
        "name": { "value": d.name, "localizedValue": d.display_name },
        "displayDescription": d.description,
        "isDimensionRequired": false,
        "unit": d.unit.as_str(),
        "primaryAggregationType": d.primary.as_str(),
        "supportedAggregationTypes": supported,
        "metricAvailabilities": availabilities,
    });
    if !d.dimensions.is_empty() {
        let dims: Vec<Value> = d
            .dimensions
            .iter()
            .map(|n| json!({ "value": n, "localizedValue": n }))
            .collect();
        body["dimensions"] = Value::Array(dims);
    }
    body
}

/// The `MetricNamespaceCollection` of a resource: its one platform namespace.
pub fn metric_namespaces(resource_id: &str, namespace: &Namespace) -> Value {
    let name = namespace.name.replace('/', "-");
    json!({
        "value": [{
            "id": format!("{resource_id}/providers/microsoft.insights/metricNamespaces/{name}"),
            "name": name,
            "type": "Microsoft.Insights/metricNamespaces",
            "classification": "Platform",
            "properties": { "metricNamespaceName": namespace.name },
        }]
    })
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
