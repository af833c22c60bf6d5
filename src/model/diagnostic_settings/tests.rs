//! Diagnostic-setting validation against the load balancer's categories.

use serde_json::{Map, Value, json};

use super::*;

const WS: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/myWorkspace";

fn lb() -> &'static Categories {
    categories_for("microsoft.network/LOADBALANCERS").unwrap()
}

fn body(props: Value) -> Map<String, Value> {
    json!({ "properties": props }).as_object().unwrap().clone()
}

fn error(props: Value) -> ArmError {
    validate(&body(props), lb()).unwrap_err()
}

#[test]
fn the_tutorial_setting_is_completed_as_azure_returns_it() {
    let s = validate(
        &body(json!({"workspaceId": WS, "metrics": [{"category": "allmetrics", "enabled": true}]})),
        lb(),
    )
    .unwrap();
    assert_eq!(s.workspace.unwrap().name(), "myWorkspace");
    let p = &s.properties;
    assert_eq!(p["storageAccountId"], Value::Null);
    assert_eq!(p["logs"], json!([]));
    assert_eq!(
        p["metrics"],
        json!([{"category": "AllMetrics", "enabled": true, "retentionPolicy": {"enabled": false, "days": 0}, "timeGrain": null}])
    );
    assert_eq!(exports_metrics_to(p), Some(WS));
}

#[test]
fn load_balancers_list_health_events_and_all_metrics() {
    let listing = lb().listing();
    assert_eq!(
        listing[0],
        ("LoadBalancerHealthEvent", "Logs", vec!["allLogs"])
    );
    assert_eq!(listing[1], ("AllMetrics", "Metrics", vec![]));
    let ok = validate(
        &body(json!({"workspaceId": WS, "logs": [{"categoryGroup": "AllLogs", "enabled": true}, {"category": "loadbalancerhealthevent", "enabled": false}]})),
        lb(),
    )
    .unwrap();
    assert_eq!(ok.properties["logs"][0]["categoryGroup"], "allLogs");
    assert_eq!(
        ok.properties["logs"][1]["category"],
        "LoadBalancerHealthEvent"
    );
    assert_eq!(exports_metrics_to(&ok.properties), None);
    let health = &lb().logs[0];
    assert_eq!(exports_log_to(&ok.properties, health), Some(WS), "allLogs");
    let off = json!({"workspaceId": WS, "logs": [{"category": "LoadBalancerHealthEvent", "enabled": false}]});
    assert_eq!(exports_log_to(&off, health), None);
    let named = json!({"workspaceId": WS, "logs": [{"category": "LoadBalancerHealthEvent", "enabled": true}]});
    assert_eq!(exports_log_to(&named, health), Some(WS));
    let elsewhere = json!({"storageAccountId": "/subscriptions/s/x", "logs": [{"categoryGroup": "allLogs", "enabled": true}]});
    assert_eq!(exports_log_to(&elsewhere, health), None, "no workspace");
}

#[test]
fn unknown_categories_get_azures_messages() {
    let e =
        error(json!({"workspaceId": WS, "metrics": [{"category": "ByteCount", "enabled": true}]}));
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "BadRequest",
            "Metric category 'ByteCount' is not supported, supported categories are: 'AllMetrics'."
        )
    );
    let e = error(
        json!({"workspaceId": WS, "logs": [{"category": "LoadBalancerAlertEvent", "enabled": true}]}),
    );
    assert_eq!(
        e.message,
        "Category 'LoadBalancerAlertEvent' is not supported."
    );
    let e =
        error(json!({"workspaceId": WS, "logs": [{"categoryGroup": "audit", "enabled": true}]}));
    assert_eq!(e.message, "Category group 'audit' is not supported.");
}

#[test]
fn a_destination_is_required_and_must_be_a_resource_id_of_the_right_type() {
    let e = error(json!({"metrics": [{"category": "AllMetrics", "enabled": true}]}));
    assert_eq!(e.code, "BadRequest");
    assert!(
        e.message.contains("at least one destination"),
        "{}",
        e.message
    );
    let e = error(json!({"workspaceId": "myWorkspace", "metrics": []}));
    assert_eq!(e.code, "LinkedInvalidPropertyId");
    assert!(
        e.message.contains("at path 'properties.workspaceId'"),
        "{}",
        e.message
    );
    for property in [
        "storageAccountId",
        "eventHubAuthorizationRuleId",
        "marketplacePartnerId",
    ] {
        let e = error(json!({ property: "not/an/id" }));
        assert_eq!(e.code, "LinkedInvalidPropertyId", "{property}");
    }
    let e = error(
        json!({"workspaceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb"}),
    );
    assert!(
        e.message
            .contains("is not of type 'Microsoft.OperationalInsights/workspaces'"),
        "{}",
        e.message
    );
}

#[test]
fn shapes_and_destination_type_are_checked() {
    for props in [
        json!({"workspaceId": WS, "logAnalyticsDestinationType": "Fancy"}),
        json!({"workspaceId": WS, "metrics": [{"category": "AllMetrics"}]}),
        json!({"workspaceId": WS, "metrics": {"category": "AllMetrics"}}),
        json!({"workspaceId": WS, "metrics": [{"category": "AllMetrics", "enabled": true, "timeGrain": "PT5M"}]}),
        json!({"workspaceId": WS, "metrics": [{"category": "AllMetrics", "enabled": true, "retentionPolicy": {"enabled": true, "days": -1}}]}),
        json!({"workspaceId": WS, "logs": [{"enabled": true}]}),
        json!({"workspaceId": WS, "eventHubName": "hub"}),
    ] {
        assert_eq!(error(props.clone()).code, "BadRequest", "{props}");
    }
    assert!(validate(&Map::new(), lb()).is_err());
    let ok = validate(
        &body(json!({"workspaceId": WS, "logAnalyticsDestinationType": "Dedicated"})),
        lb(),
    )
    .unwrap();
    assert_eq!(ok.properties["logAnalyticsDestinationType"], "Dedicated");
}

#[test]
fn types_without_diagnostic_settings_are_not_in_the_catalogue() {
    assert!(categories_for("Microsoft.Network/networkSecurityGroups").is_none());
    assert_eq!(unsupported_type("x").code, "ResourceTypeNotSupported");
    assert_eq!(
        categories_for("Microsoft.Compute/virtualMachineScaleSets")
            .unwrap()
            .logs
            .len(),
        0
    );
}
