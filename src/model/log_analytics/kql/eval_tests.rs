//! Running queries over a small AzureMetrics table.

use chrono::{DateTime, TimeZone, Utc};

use super::{KqlError, run};
use crate::model::log_analytics::azure_metrics::{self, MetricRecord};
use crate::model::log_analytics::value::{ColumnType, Table, Value};

fn at(minute: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 10, minute, second)
        .unwrap()
}

fn record(metric: &str, minute: u32, total: f64, count: f64) -> MetricRecord {
    MetricRecord {
        workspace_key: "w".into(),
        resource_key:
            "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/loadbalancers/lb".into(),
        metric: metric.into(),
        minute: at(minute, 0),
        total,
        count,
        minimum: 0.0,
        maximum: total,
        average: total / count,
        unit: "Count".into(),
    }
}

fn metrics() -> Table {
    azure_metrics::table(
        &[
            record("ByteCount", 0, 100.0, 2.0),
            record("ByteCount", 1, 300.0, 3.0),
            record("PacketCount", 0, 4.0, 2.0),
            record("PacketCount", 1, 6.0, 2.0),
            record("ByteCount", 2, 50.0, 1.0),
        ],
        "cust",
    )
}

fn query(text: &str) -> Result<Table, KqlError> {
    run(
        text,
        |name| (name == "AzureMetrics").then(metrics),
        at(3, 30),
    )
}

fn column(t: &Table, name: &str) -> Vec<Value> {
    let i = t
        .column(name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", t.columns));
    t.rows.iter().map(|r| r[i].clone()).collect()
}

#[test]
fn where_project_order_and_take() {
    let t = query(
        "AzureMetrics | where MetricName == 'ByteCount' | project TimeGenerated, Total | order by Total desc | take 2",
    )
    .unwrap();
    assert_eq!(
        t.columns,
        vec![
            ("TimeGenerated".into(), ColumnType::DateTime),
            ("Total".into(), ColumnType::Real)
        ]
    );
    assert_eq!(
        column(&t, "Total"),
        vec![Value::Real(300.0), Value::Real(100.0)]
    );
}

#[test]
fn summarize_by_bin_and_metric_names_columns_as_kusto_does() {
    let t = query(
        "AzureMetrics | summarize avg(Average), sum(Total), count() by bin(TimeGenerated, 2m), MetricName | order by TimeGenerated asc, MetricName asc",
    )
    .unwrap();
    let names: Vec<&str> = t.columns.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "TimeGenerated",
            "MetricName",
            "avg_Average",
            "sum_Total",
            "count_"
        ]
    );
    assert_eq!(t.columns[4].1, ColumnType::Long);
    // Minutes 0 and 1 share the 2-minute bin starting at 10:00; minute 2 starts the next.
    assert_eq!(
        column(&t, "TimeGenerated"),
        vec![
            Value::DateTime(at(0, 0)),
            Value::DateTime(at(0, 0)),
            Value::DateTime(at(2, 0)),
        ]
    );
    assert_eq!(
        column(&t, "sum_Total"),
        vec![Value::Real(400.0), Value::Real(10.0), Value::Real(50.0)]
    );
    assert_eq!(
        column(&t, "avg_Average"),
        vec![Value::Real(75.0), Value::Real(2.5), Value::Real(50.0)]
    );
    assert_eq!(
        column(&t, "count_"),
        vec![Value::Long(2), Value::Long(2), Value::Long(1)]
    );
}

#[test]
fn ago_and_datetime_compare_against_now() {
    let recent = query("AzureMetrics | where TimeGenerated > ago(3m) | count").unwrap();
    assert_eq!(recent.rows, vec![vec![Value::Long(3)]]);
    let since =
        query("AzureMetrics | where TimeGenerated >= datetime(2024-05-01 10:02) | count").unwrap();
    assert_eq!(since.rows, vec![vec![Value::Long(1)]]);
}

#[test]
fn extend_top_and_string_operators() {
    let t = query(
        "AzureMetrics | extend KB = Total / 1000 | where MetricName startswith 'byte' and ResourceId has 'LB' | top 1 by KB",
    )
    .unwrap();
    assert_eq!(column(&t, "KB"), vec![Value::Real(0.3)]);
    let t = query(
        "AzureMetrics | where MetricName in ('PacketCount') | summarize n = count(), max(Total)",
    )
    .unwrap();
    assert_eq!(t.rows, vec![vec![Value::Long(2), Value::Real(6.0)]]);
    let t =
        query("AzureMetrics | where MetricName !in~ ('bytecount') | project-away TenantId | count")
            .unwrap();
    assert_eq!(t.rows, vec![vec![Value::Long(2)]]);
}

#[test]
fn summarize_without_rows_still_counts_zero() {
    let t = query("AzureMetrics | where Total < 0 | summarize count(), avg(Total)").unwrap();
    assert_eq!(t.rows, vec![vec![Value::Long(0), Value::Null]]);
}

#[test]
fn unknown_tables_columns_and_type_mismatches_are_semantic_errors() {
    for (q, needle) in [
        ("Heartbeat | take 1", "'Heartbeat'"),
        ("AzureMetrics | where Nope == 1", "'Nope'"),
        ("AzureMetrics | where MetricName == 1", "string and long"),
        (
            "AzureMetrics | summarize avg(MetricName)",
            "avg() cannot aggregate a string",
        ),
        ("AzureMetrics | where Total", "must be a bool"),
        ("AzureMetrics | project Total, Total", "twice"),
        ("AzureMetrics | project sum(Total)", "aggregate"),
    ] {
        match query(q) {
            Err(KqlError::Semantic(m)) => assert!(m.contains(needle), "{q}: {m}"),
            other => panic!("{q}: {other:?}"),
        }
    }
}

#[test]
fn functions_and_aggregates_outside_the_subset_are_named() {
    for (q, needle) in [
        (
            "AzureMetrics | extend x = parse_json(MetricName)",
            "'parse_json'",
        ),
        (
            "AzureMetrics | summarize percentile(Total, 95)",
            "'percentile'",
        ),
    ] {
        match query(q) {
            Err(KqlError::Unsupported(m)) => assert!(m.contains(needle), "{q}: {m}"),
            other => panic!("{q}: {other:?}"),
        }
    }
}
