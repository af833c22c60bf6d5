//! The AllMetrics export and the Log Analytics query API over HTTPS: minute aggregates written
//! to the metric store show up as AzureMetrics rows in the setting's workspace, and KQL
//! queries summarise them or fail with an error naming the problem.

mod common;

use std::time::Duration;

use armlet::metrics::series::{Aggregate, MinutePoint, dimensions};
use common::insights::{self, all_metrics_to, start_with_lb};
use common::*;
use serde_json::{Value, json};

fn lb_id() -> String {
    insights::lb_id("rg", "lb")
}

fn ws_id(name: &str) -> String {
    insights::ws_id("rg", name)
}

fn setting(name: &str) -> String {
    format!(
        "{}/providers/Microsoft.Insights/diagnosticSettings/{name}?api-version=2021-05-01-preview",
        lb_id()
    )
}

async fn start() -> TestArmlet {
    start_with_lb("rg", "lb").await
}

async fn workspace(t: &TestArmlet, name: &str) -> Value {
    insights::workspace(t, "rg", name).await
}

async fn query(t: &TestArmlet, customer: &str, kql: &str) -> (u16, Value) {
    send(
        t.client
            .post(t.url(&format!("/v1/workspaces/{customer}/query")))
            .json(&json!({"query": kql})),
    )
    .await
}

#[tokio::test]
async fn all_metrics_are_exported_as_azure_metrics_rows_and_queried() {
    let t = start().await;
    let ws = workspace(&t, "myWorkspace").await;
    let customer = ws["properties"]["customerId"].as_str().unwrap().to_string();
    assert_eq!(
        t.put(
            &setting("lb-diagnostics"),
            all_metrics_to(&ws_id("myWorkspace"))
        )
        .await
        .0,
        200
    );
    // Traffic as the collector stores it: two frontend ports in one minute, then another minute.
    let clock = t.armlet.app.runtime.clock;
    let now = clock.now_utc();
    let key = lb_id().to_ascii_lowercase();
    let point = |port: &str, at, v: f64| {
        MinutePoint::new(
            &key,
            "ByteCount",
            dimensions([("FrontendPort", port), ("Direction", "In")]),
            at,
            Aggregate::sample(v),
        )
    };
    t.armlet
        .app
        .store
        .write_metric_minutes(&[
            point("80", now, 1000.0),
            point("443", now, 500.0),
            point("80", now + chrono::TimeDelta::minutes(1), 250.0),
        ])
        .await
        .unwrap();
    let rows = eventually(Duration::from_secs(20), || async {
        let (s, v) = query(&t, &customer, "AzureMetrics | where MetricName == 'ByteCount' | project TimeGenerated, Total, Count, UnitName, ResourceId | order by TimeGenerated asc").await;
        assert_eq!(s, 200, "{v}");
        let rows = v["tables"][0]["rows"].as_array().unwrap().clone();
        (rows.len() == 2).then_some(rows)
    }).await;
    assert_eq!(
        (
            rows[0][1].as_f64(),
            rows[0][2].as_f64(),
            rows[0][3].as_str()
        ),
        (Some(1500.0), Some(2.0), Some("Bytes"))
    );
    assert_eq!(rows[0][4], lb_id().to_ascii_uppercase());
    assert_eq!(rows[1][1].as_f64(), Some(250.0));
    let (s, v) = query(
        &t,
        &customer,
        "AzureMetrics | summarize sum(Total) by bin(TimeGenerated, 1h), MetricName | take 5",
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let table = &v["tables"][0];
    assert_eq!(table["name"], "PrimaryResult");
    assert_eq!(
        table["columns"][2],
        json!({"name": "sum_Total", "type": "real"})
    );
    assert_eq!(
        table["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r[2].as_f64())
            .sum::<f64>(),
        1750.0
    );
}

#[tokio::test]
async fn query_errors_name_the_problem() {
    let t = start().await;
    let ws = workspace(&t, "myWorkspace").await;
    let customer = ws["properties"]["customerId"].as_str().unwrap();
    for (kql, inner, needle) in [
        (
            "AzureMetrics | join (AzureMetrics) on MetricName",
            "NotSupportedByArmlet",
            "'join'",
        ),
        ("AzureMetrics | where", "SyntaxError", "query ended"),
        ("Heartbeat | take 1", "SemanticError", "'Heartbeat'"),
        ("AzureMetrics | where Nope > 1", "SemanticError", "'Nope'"),
    ] {
        let (s, v) = query(&t, customer, kql).await;
        assert_eq!(
            (
                s,
                v["error"]["code"].as_str(),
                v["error"]["innererror"]["code"].as_str()
            ),
            (400, Some("BadArgumentError"), Some(inner)),
            "{kql}: {v}"
        );
        assert!(
            v["error"]["message"].as_str().unwrap().contains(needle),
            "{kql}: {v}"
        );
    }
    let (s, v) = query(&t, "00000000-0000-0000-0000-00000000ffff", "AzureMetrics").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("WorkspaceNotFoundError"))
    );
    let (s, v) = query(&t, customer, "AzureMetrics | count").await;
    assert_eq!((s, &v["tables"][0]["rows"]), (200, &json!([[0]])));
}

/// A measurement, not a check: a day of one load balancer's exported minutes (8 metrics x
/// 1440 minutes) queried through the API. Run with
/// `cargo test --test log_analytics query_cost -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn query_cost_over_a_day_of_minutes() {
    use armlet::model::log_analytics::azure_metrics::MetricRecord;
    let t = start().await;
    let ws = workspace(&t, "myWorkspace").await;
    let customer = ws["properties"]["customerId"].as_str().unwrap().to_string();
    let now = t.armlet.app.runtime.clock.now_utc();
    let metrics = [
        "ByteCount",
        "PacketCount",
        "SYNCount",
        "DipAvailability",
        "VipAvailability",
        "SnatConnectionCount",
        "AllocatedSnatPorts",
        "UsedSnatPorts",
    ];
    let records: Vec<MetricRecord> = (0..1440)
        .flat_map(|m| metrics.iter().map(move |name| (m, *name)))
        .map(|(m, name)| MetricRecord {
            workspace_key: ws_id("myWorkspace").to_ascii_lowercase(),
            resource_key: lb_id().to_ascii_lowercase(),
            metric: name.into(),
            minute: armlet::metrics::series::minute_of(now - chrono::TimeDelta::minutes(m)),
            total: m as f64,
            count: 1.0,
            minimum: m as f64,
            maximum: m as f64,
            average: m as f64,
            unit: "Count".into(),
        })
        .collect();
    let started = std::time::Instant::now();
    t.armlet
        .app
        .store
        .write_azure_metrics(&records)
        .await
        .unwrap();
    println!("write {} rows: {:?}", records.len(), started.elapsed());
    for kql in [
        "AzureMetrics | count",
        "AzureMetrics | where MetricName == 'ByteCount' | summarize avg(Average) by bin(TimeGenerated, 5m) | order by TimeGenerated asc",
        "AzureMetrics | summarize sum(Total), max(Maximum) by bin(TimeGenerated, 1h), MetricName | order by TimeGenerated desc | take 24",
    ] {
        let mut times = Vec::new();
        for _ in 0..5 {
            let started = std::time::Instant::now();
            let (s, v) = query(&t, &customer, kql).await;
            assert_eq!(s, 200, "{v}");
            times.push(started.elapsed());
        }
        times.sort();
        println!("{kql}\n  median {:?}, best {:?}", times[2], times[0]);
    }
}
