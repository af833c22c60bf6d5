//! The tutorial's diagnostic setting through the real `az` CLI: without its workspace (refused
//! as Azure refuses it), then with `az monitor log-analytics workspace create` first;
//! `show|list|update|delete`, `categories list`, workspace commands, bad input, and exported
//! AzureMetrics rows read back with `az rest` against the query API and with az's own
//! Log Analytics client (`LogsQueryClient` at the endpoint `armlet az-env` registers).

mod common;

use std::process::Command;
use std::time::Duration;

use armlet::metrics::series::{Aggregate, MinutePoint, dimensions};
use common::insights;
use common::*;
use serde_json::{Value, json};

const RG: &str = "myResourceGroup";

fn lb_id() -> String {
    insights::lb_id(RG, "myLoadBalancer")
}

fn ws_id() -> String {
    insights::ws_id(RG, "myWorkspace")
}

const ALL_METRICS: &str = r#"[{"category": "AllMetrics", "enabled": true}]"#;

/// The tutorial's command, with `extra` arguments appended.
fn create_args<'a>(lb: &'a str, ws: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "monitor",
        "diagnostic-settings",
        "create",
        "--name",
        "lb-diagnostics",
        "--resource",
        lb,
        "--workspace",
        ws,
        "--metrics",
        ALL_METRICS,
    ];
    args.extend(extra);
    args
}

/// Runs `tests/interop/az_log_analytics.py` with the az CLI's Python and `az`'s environment.
async fn az_python(az: &Az, args: &[&str]) -> Value {
    let python = repo_root().join("target/az/bin/python");
    let script = repo_root().join("tests/interop/az_log_analytics.py");
    let env = az.env.clone();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(python)
            .arg(script)
            .args(&args)
            .envs(env)
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "az python failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_tutorial_diagnostic_setting_through_az() {
    let t = insights::start_with_lb(RG, "myLoadBalancer").await;
    let az = Az::for_armlet(&t);
    let (lb, ws) = (lb_id(), ws_id());

    // The tutorial never creates myWorkspace: Azure refuses the setting, and so does armlet.
    let err = az.fails(&create_args(&lb, &ws, &[])).await;
    assert!(
        err.contains("ResourceNotFound") && err.contains("doesn't exist"),
        "{err}"
    );
    assert_eq!(
        az.json(&["monitor", "diagnostic-settings", "list", "--resource", &lb])
            .await,
        json!([])
    );

    let created = az
        .json(&[
            "monitor",
            "log-analytics",
            "workspace",
            "create",
            "-g",
            RG,
            "-n",
            "myWorkspace",
        ])
        .await;
    assert_eq!(
        (
            created["sku"]["name"].as_str(),
            created["retentionInDays"].as_i64()
        ),
        (Some("PerGB2018"), Some(30))
    );
    let customer = created["customerId"].as_str().unwrap().to_string();

    let setting = az.json(&create_args(&lb, &ws, &[])).await;
    assert_eq!(setting["name"], "lb-diagnostics");
    assert_eq!(setting["workspaceId"], ws);
    assert_eq!(setting["metrics"][0]["category"], "AllMetrics");
    let shown = az
        .json(&[
            "monitor",
            "diagnostic-settings",
            "show",
            "--name",
            "lb-diagnostics",
            "--resource",
            &lb,
        ])
        .await;
    assert_eq!(shown["id"], setting["id"]);
    let updated = az
        .json(&[
            "monitor",
            "diagnostic-settings",
            "update",
            "--name",
            "lb-diagnostics",
            "--resource",
            &lb,
            "--logs",
            r#"[{"category": "LoadBalancerHealthEvent", "enabled": true}]"#,
        ])
        .await;
    assert_eq!(updated["logs"][0]["category"], "LoadBalancerHealthEvent");
    assert_eq!(
        updated["metrics"][0]["enabled"], true,
        "update keeps the metrics"
    );
    let categories = az
        .json(&[
            "monitor",
            "diagnostic-settings",
            "categories",
            "list",
            "--resource",
            &lb,
        ])
        .await;
    let names: Vec<&str> = categories["value"]
        .as_array()
        .or(categories.as_array())
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["LoadBalancerHealthEvent", "AllMetrics"]);

    // Bad input: Azure's codes, and nothing stored.
    let err = az
        .fails(&[
            "monitor",
            "diagnostic-settings",
            "create",
            "--name",
            "bad",
            "--resource",
            &lb,
            "--workspace",
            &ws,
            "--metrics",
            r#"[{"category": "ByteCount", "enabled": true}]"#,
        ])
        .await;
    assert!(
        err.contains(
            "Metric category 'ByteCount' is not supported, supported categories are: 'AllMetrics'."
        ),
        "{err}"
    );
    let err = az
        .fails(&[
            "monitor",
            "diagnostic-settings",
            "create",
            "--name",
            "bad",
            "--resource",
            &lb,
            "--workspace",
            &ws,
            "--logs",
            r#"[{"category": "LoadBalancerAlertEvent", "enabled": true}]"#,
        ])
        .await;
    assert!(
        err.contains("Category 'LoadBalancerAlertEvent' is not supported."),
        "{err}"
    );
    let err = az
        .fails(&[
            "monitor",
            "diagnostic-settings",
            "create",
            "--name",
            "bad",
            "--resource",
            &lb,
            "--metrics",
            ALL_METRICS,
        ])
        .await;
    assert!(
        err.contains("expected one or more"),
        "az checks for a destination itself: {err}"
    );
    let err = az
        .fails(&[
            "monitor",
            "diagnostic-settings",
            "create",
            "--name",
            "bad",
            "--resource",
            &lb,
            "--storage-account",
            "/subscriptions/x",
            "--metrics",
            ALL_METRICS,
        ])
        .await;
    assert!(err.contains("LinkedInvalidPropertyId"), "{err}");
    let err = az.fails(&create_args(&lb, &lb, &[])).await;
    assert!(
        err.contains("is not of type 'Microsoft.OperationalInsights/workspaces'"),
        "{err}"
    );
    let listed = az
        .json(&["monitor", "diagnostic-settings", "list", "--resource", &lb])
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");

    // The setting's visible effect: the load balancer's minutes arrive in the workspace.
    let now = t.armlet.app.runtime.clock.now_utc();
    let key = lb.to_ascii_lowercase();
    let point = |port: &str, v: f64| {
        MinutePoint::new(
            &key,
            "ByteCount",
            dimensions([("FrontendPort", port)]),
            now,
            Aggregate::sample(v),
        )
    };
    t.armlet
        .app
        .store
        .write_metric_minutes(&[point("80", 4000.0), point("443", 96.0)])
        .await
        .unwrap();
    let kql = "AzureMetrics | where MetricName == 'ByteCount' | summarize avg(Average), sum(Total) by bin(TimeGenerated, 1m), MetricName | order by TimeGenerated asc | take 10";
    let body = json!({ "query": kql }).to_string();
    let url = format!("{}/v1/workspaces/{customer}/query", t.armlet.endpoint());
    let endpoint = t.armlet.endpoint();
    let answer = eventually(Duration::from_secs(30), || async {
        let v = az
            .json(&[
                "rest",
                "--method",
                "post",
                "--url",
                &url,
                "--resource",
                &endpoint,
                "--body",
                &body,
            ])
            .await;
        (v["tables"][0]["rows"]
            .as_array()
            .is_some_and(|r| !r.is_empty()))
        .then_some(v)
    })
    .await;
    let table = &answer["tables"][0];
    let columns: Vec<&str> = table["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        columns,
        ["TimeGenerated", "MetricName", "avg_Average", "sum_Total"]
    );
    assert_eq!(
        (
            table["rows"][0][1].as_str(),
            table["rows"][0][2].as_f64(),
            table["rows"][0][3].as_f64()
        ),
        (Some("ByteCount"), Some(2048.0), Some(4096.0))
    );

    let via_client = az_python(
        &az,
        &[
            &customer,
            "AzureMetrics | project MetricName, Total, UnitName",
        ],
    )
    .await;
    assert_eq!(via_client["core_endpoint"], t.armlet.endpoint());
    assert_eq!(via_client["extension_endpoint"], t.armlet.endpoint());
    assert_eq!(
        via_client["columns"],
        json!(["MetricName", "Total", "UnitName"])
    );
    assert_eq!(via_client["rows"][0], json!(["ByteCount", 4096.0, "Bytes"]));

    // Workspace commands and deletes.
    let shown = az
        .json(&[
            "monitor",
            "log-analytics",
            "workspace",
            "show",
            "-g",
            RG,
            "-n",
            "myWorkspace",
        ])
        .await;
    assert_eq!(shown["customerId"], customer.as_str());
    let all = az
        .json(&["monitor", "log-analytics", "workspace", "list", "-g", RG])
        .await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    az.json(&[
        "monitor",
        "diagnostic-settings",
        "delete",
        "--name",
        "lb-diagnostics",
        "--resource",
        &lb,
    ])
    .await;
    assert_eq!(
        az.json(&["monitor", "diagnostic-settings", "list", "--resource", &lb])
            .await,
        json!([])
    );
    az.json(&[
        "monitor",
        "log-analytics",
        "workspace",
        "delete",
        "-g",
        RG,
        "-n",
        "myWorkspace",
        "--yes",
        "--force",
    ])
    .await;
    assert_eq!(
        az.json(&["monitor", "log-analytics", "workspace", "list", "-g", RG])
            .await,
        json!([])
    );
}
