//! Diagnostic settings, Log Analytics workspaces, the AllMetrics export and the query API over
//! HTTPS: Azure's shapes and errors (each leaving nothing stored), and minute aggregates
//! written to the metric store showing up as AzureMetrics rows a KQL query summarises.

mod common;

use std::time::Duration;

use armlet::config::ServeConfig;
use armlet::metrics::series::{Aggregate, MinutePoint, dimensions};
use common::*;
use serde_json::{Value, json};

const DIAG: &str = "api-version=2021-05-01-preview";
const WS_API: &str = "api-version=2025-02-01";

fn lb_id() -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb")
}

fn ws_id(name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/{name}"
    )
}

fn setting(name: &str) -> String {
    format!(
        "{}/providers/Microsoft.Insights/diagnosticSettings/{name}?{DIAG}",
        lb_id()
    )
}

fn settings() -> String {
    format!(
        "{}/providers/microsoft.insights/diagnosticSettings?{DIAG}",
        lb_id()
    )
}

/// armlet at `--time-scale 60` with a group and a load balancer.
async fn start() -> TestArmlet {
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        time_scale: 60.0,
        ..ServeConfig::for_tests(dir.path().to_path_buf())
    };
    let t = TestArmlet::start_with(config, dir).await;
    assert_eq!(
        t.put(&rg_path("rg"), json!({"location": "eastus"})).await.0,
        201
    );
    let (s, v) = t
        .put(
            &format!("{}?api-version=2024-05-01", lb_id()),
            json!({"location": "eastus", "sku": {"name": "Standard"}, "properties": {}}),
        )
        .await;
    assert!(s == 200 || s == 201, "{v}");
    t
}

async fn workspace(t: &TestArmlet, name: &str) -> Value {
    let (s, v) = t
        .put(
            &format!("{}?{WS_API}", ws_id(name)),
            json!({"location": "eastus"}),
        )
        .await;
    assert!(s == 200 || s == 201, "{v}");
    v
}

fn all_metrics_to(ws: &str) -> Value {
    json!({"properties": {"workspaceId": ws, "metrics": [{"category": "AllMetrics", "enabled": true}]}})
}

async fn stored_settings(t: &TestArmlet) -> Vec<Value> {
    let (s, v) = t.get(&settings()).await;
    assert_eq!(s, 200, "{v}");
    v["value"].as_array().unwrap().clone()
}

#[tokio::test]
async fn workspaces_get_a_customer_id_and_azures_defaults() {
    let t = start().await;
    let ws = workspace(&t, "myWorkspace").await;
    let p = &ws["properties"];
    assert_eq!(
        (p["sku"]["name"].as_str(), p["retentionInDays"].as_i64()),
        (Some("PerGB2018"), Some(30))
    );
    let customer = p["customerId"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&customer).is_ok());
    // An update keeps the customer id.
    let (_, again) = t
        .put(
            &format!("{}?{WS_API}", ws_id("myWorkspace")),
            json!({"location": "eastus", "properties": {"retentionInDays": 90}}),
        )
        .await;
    assert_eq!(
        (
            again["properties"]["customerId"].as_str(),
            again["properties"]["retentionInDays"].as_i64()
        ),
        (Some(customer.as_str()), Some(90))
    );
    for (body, code) in [
        (
            json!({"location": "eastus", "properties": {"retentionInDays": 5}}),
            "InvalidParameter",
        ),
        (
            json!({"location": "eastus", "properties": {"sku": {"name": "Gold"}}}),
            "InvalidParameter",
        ),
    ] {
        let (s, v) = t.put(&format!("{}?{WS_API}", ws_id("other")), body).await;
        assert_eq!((s, v["error"]["code"].as_str()), (400, Some(code)), "{v}");
    }
    let (s, v) = t
        .put(
            &format!("{}?{WS_API}", ws_id("ab")),
            json!({"location": "eastus"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("InvalidWorkspaceName"))
    );
    let (s, _) = t.get(&format!("{}?{WS_API}", ws_id("other"))).await;
    assert_eq!(s, 404, "nothing stored for a refused workspace");
    let (_, providers) = t
        .get(&format!(
            "/subscriptions/{SUB}/providers/Microsoft.OperationalInsights?api-version=2021-04-01"
        ))
        .await;
    assert_eq!(providers["resourceTypes"][0]["resourceType"], "workspaces");
}

#[tokio::test]
async fn settings_are_validated_as_azure_does_and_refusals_store_nothing() {
    let t = start().await;
    // The tutorial's workspace does not exist yet: Azure answers 404 ResourceNotFound.
    let (s, v) = t
        .put(
            &setting("lb-diagnostics"),
            all_metrics_to(&ws_id("myWorkspace")),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("ResourceNotFound")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("workspaces/myworkspace' doesn't exist"),
        "{v}"
    );
    workspace(&t, "myWorkspace").await;
    let ws = ws_id("myWorkspace");
    for (props, code, needle) in [
        (
            json!({"workspaceId": ws, "metrics": [{"category": "ByteCount", "enabled": true}]}),
            "BadRequest",
            "Metric category 'ByteCount' is not supported, supported categories are: 'AllMetrics'.",
        ),
        (
            json!({"workspaceId": ws, "logs": [{"category": "LoadBalancerProbeHealthStatus", "enabled": true}]}),
            "BadRequest",
            "Category 'LoadBalancerProbeHealthStatus' is not supported.",
        ),
        (
            json!({"metrics": [{"category": "AllMetrics", "enabled": true}]}),
            "BadRequest",
            "at least one destination",
        ),
        (
            json!({"workspaceId": "myWorkspace"}),
            "LinkedInvalidPropertyId",
            "at path 'properties.workspaceId'",
        ),
        (
            json!({"storageAccountId": "/subscriptions/x/storage"}),
            "LinkedInvalidPropertyId",
            "properties.storageAccountId",
        ),
        (
            json!({"eventHubAuthorizationRuleId": "rule"}),
            "LinkedInvalidPropertyId",
            "eventHubAuthorizationRuleId",
        ),
        (
            json!({"marketplacePartnerId": "partner"}),
            "LinkedInvalidPropertyId",
            "marketplacePartnerId",
        ),
        (
            json!({"workspaceId": ws, "logAnalyticsDestinationType": "Elsewhere"}),
            "BadRequest",
            "logAnalyticsDestinationType",
        ),
    ] {
        let (s, v) = t.put(&setting("bad"), json!({"properties": props})).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some(code)),
            "{props}: {v}"
        );
        assert!(
            v["error"]["message"].as_str().unwrap().contains(needle),
            "{v}"
        );
    }
    assert!(
        stored_settings(&t).await.is_empty(),
        "no refused setting is stored"
    );
    // A resource that does not exist, and a type without diagnostic settings.
    let missing = format!(
        "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/nope/providers/Microsoft.Insights/diagnosticSettings/d?{DIAG}"
    );
    let (s, v) = t.put(&missing, all_metrics_to(&ws)).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("ResourceNotFound")),
        "{v}"
    );
}

#[tokio::test]
async fn crud_categories_and_the_five_settings_limit() {
    let t = start().await;
    workspace(&t, "myWorkspace").await;
    let ws = ws_id("myWorkspace");
    let (s, v) = t.put(&setting("lb-diagnostics"), all_metrics_to(&ws)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["type"], "Microsoft.Insights/diagnosticSettings");
    assert_eq!(
        v["id"],
        format!(
            "{}/providers/microsoft.insights/diagnosticSettings/lb-diagnostics",
            lb_id()
        )
    );
    assert_eq!(
        v["properties"]["metrics"][0]["retentionPolicy"],
        json!({"enabled": false, "days": 0})
    );
    let (s, got) = t.get(&setting("LB-DIAGNOSTICS")).await;
    assert_eq!((s, &got), (200, &v));
    let (_, categories) = t
        .get(&format!(
            "{}/providers/microsoft.insights/diagnosticSettingsCategories?{DIAG}",
            lb_id()
        ))
        .await;
    let names: Vec<(&str, &str)> = categories["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["properties"]["categoryType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("LoadBalancerHealthEvent", "Logs"),
            ("AllMetrics", "Metrics")
        ]
    );
    let (s, one) = t
        .get(&format!(
            "{}/providers/microsoft.insights/diagnosticSettingsCategories/allmetrics?{DIAG}",
            lb_id()
        ))
        .await;
    assert_eq!((s, one["name"].as_str()), (200, Some("AllMetrics")));
    for i in 1..5 {
        assert_eq!(
            t.put(&setting(&format!("s{i}")), all_metrics_to(&ws))
                .await
                .0,
            200
        );
    }
    let (s, v) = t.put(&setting("sixth"), all_metrics_to(&ws)).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("BadRequest")),
        "{v}"
    );
    assert_eq!(stored_settings(&t).await.len(), 5);
    assert_eq!(t.delete(&setting("s4")).await.0, 200);
    assert_eq!(t.delete(&setting("s4")).await.0, 204);
    let (s, v) = t.get(&setting("s4")).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("ResourceNotFound"))
    );
    // Extension resources are not listed with the group's resources.
    let (_, listed) = t
        .get(&format!(
            "/subscriptions/{SUB}/resourceGroups/rg/resources?api-version=2021-04-01"
        ))
        .await;
    assert!(
        listed["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["type"] != "Microsoft.Insights/diagnosticSettings"),
        "{listed}"
    );
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
/// `cargo test --test diagnostics query_cost -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn query_cost_over_a_day_of_minutes() {
    use armlet::model::log_analytics::azure_metrics::MetricRecord;
    let t = start().await;
    let ws = workspace(&t, "myWorkspace").await;
    let customer = ws["properties"]["customerId"].as_str().unwrap().to_string();
    let now = t.armlet.app.runtime.clock.now_utc();
    let metrics = ["ByteCount", "PacketCount", "SYNCount", "DipAvailability", "VipAvailability", "SnatConnectionCount", "AllocatedSnatPorts", "UsedSnatPorts"];
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
    t.armlet.app.store.write_azure_metrics(&records).await.unwrap();
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
