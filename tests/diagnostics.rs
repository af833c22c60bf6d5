//! Diagnostic settings and Log Analytics workspaces over HTTPS: Azure's shapes, categories
//! and errors, each refusal leaving nothing stored.

mod common;

use common::insights::{self, WS_API, all_metrics_to, start_with_lb};
use common::*;
use serde_json::{Value, json};

const DIAG: &str = "api-version=2021-05-01-preview";

fn lb_id() -> String {
    insights::lb_id("rg", "lb")
}

fn ws_id(name: &str) -> String {
    insights::ws_id("rg", name)
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

async fn start() -> TestArmlet {
    start_with_lb("rg", "lb").await
}

async fn workspace(t: &TestArmlet, name: &str) -> Value {
    insights::workspace(t, "rg", name).await
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
