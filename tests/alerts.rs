//! Action groups, metric alerts and the alert engine over REST: CRUD and PATCH, Azure's
//! validation with nothing stored on bad input, test notifications, and the engine on metric
//! minutes written into the store (as the metrics collector writes them): it fires, notifies
//! each receiver in its schema without waiting for slow ones, resolves, and leaves the alert in
//! Microsoft.AlertsManagement and the activity log.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use armlet::config::ServeConfig;
use armlet::metrics::series::{Aggregate, MinutePoint, dimensions};
use common::receiver::Receiver;
use common::scale_set::{network, rid};
use common::*;
use serde_json::{Value, json};

const AG_API: &str = "2023-01-01";
const ALERT_API: &str = "2018-03-01";
const AM_API: &str = "2019-05-05-preview";

fn ag_path(name: &str) -> String {
    format!(
        "{}?api-version={AG_API}",
        rid("Microsoft.Insights/actionGroups", name)
    )
}

fn alert_path(name: &str) -> String {
    format!(
        "{}?api-version={ALERT_API}",
        rid("Microsoft.Insights/metricAlerts", name)
    )
}

fn lb() -> String {
    rid("Microsoft.Network/loadBalancers", "lb")
}

/// The tutorial's rule: avg HealthProbeStatus < 100 over 5 minutes, every minute, severity 2.
fn tutorial_rule(actions: Value) -> Value {
    json!({"location": "global", "properties": {
        "description": "One or more VMSS instances failed the health probe", "severity": 2,
        "enabled": true, "scopes": [lb()], "evaluationFrequency": "PT1M", "windowSize": "PT5M",
        "criteria": {"odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
            "allOf": [{"name": "cond0", "metricName": "HealthProbeStatus", "operator": "LessThan",
                "threshold": 100, "timeAggregation": "Average", "criterionType": "StaticThresholdCriterion"}]},
        "actions": actions}})
}

#[tokio::test]
async fn action_groups_are_created_patched_listed_and_deleted() {
    let t = TestArmlet::start().await;
    t.put(&rg_path("rg"), json!({"location": "eastus"})).await;
    let body = json!({"location": "Global", "tags": {"team": "web"}, "properties": {
        "groupShortName": "ops", "enabled": true,
        "webhookReceivers": [{"name": "hook", "serviceUri": "http://127.0.0.1:9/x", "useCommonAlertSchema": true}],
        "emailReceivers": [{"name": "mail", "emailAddress": "ops@example.com"}]}});
    let (s, ag) = t.put(&ag_path("myActionGroup"), body.clone()).await;
    assert_eq!(s, 201, "{ag}");
    assert_eq!(ag["location"], "Global");
    assert_eq!(ag["type"], "Microsoft.Insights/ActionGroups");
    assert_eq!(ag["name"], "myActionGroup");
    assert_eq!(ag["properties"]["emailReceivers"][0]["status"], "Enabled");
    assert_eq!(ag["properties"]["smsReceivers"], json!([]));
    let (s, _) = t.put(&ag_path("myActionGroup"), body).await;
    assert_eq!(s, 200);
    for list in [
        format!(
            "/subscriptions/{SUB}/resourceGroups/rg/providers/microsoft.insights/actionGroups?api-version={AG_API}"
        ),
        format!(
            "/subscriptions/{SUB}/providers/Microsoft.Insights/actionGroups?api-version={AG_API}"
        ),
    ] {
        let (s, l) = t.get(&list).await;
        assert_eq!(s, 200);
        assert_eq!(l["value"][0]["name"], "myActionGroup", "{list}");
    }
    let (s, p) = t
        .patch(
            &ag_path("myactiongroup"),
            json!({"tags": {"team": "ops"}, "properties": {"enabled": false}}),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["properties"]["enabled"], false);
    assert_eq!(p["tags"]["team"], "ops");
    assert_eq!(p["properties"]["webhookReceivers"][0]["name"], "hook");

    // Bad input: Azure's codes, and nothing stored.
    for (body, code) in [
        (
            json!({"location": "eastus", "properties": {"groupShortName": "x"}}),
            "LocationNotAvailableForResourceType",
        ),
        (
            json!({"location": "Global", "properties": {"groupShortName": "a-very-long-name"}}),
            "GroupShortNameIsTooLong",
        ),
        (
            json!({"location": "Global", "properties": {"groupShortName": "x", "webhookReceivers": [{"name": "h"}]}}),
            "WebhookReceiverServiceUriIsNullOrEmpty",
        ),
        (
            json!({"location": "Global", "properties": {"groupShortName": "x", "emailReceivers": [{"name": "m", "emailAddress": "nope"}]}}),
            "EmailReceiverEmailAddressIsInvalid",
        ),
    ] {
        let (s, e) = t.put(&ag_path("bad"), body).await;
        assert_eq!((s, e["error"]["code"].as_str()), (400, Some(code)), "{e}");
    }
    assert_eq!(t.get(&ag_path("bad")).await.0, 404);
    let (s, e) = t
        .put(
            &ag_path("a:b"),
            json!({"location": "Global", "properties": {"groupShortName": "x"}}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("InvalidResourceName"))
    );

    assert_eq!(t.delete(&ag_path("myActionGroup")).await.0, 200);
    assert_eq!(t.get(&ag_path("myActionGroup")).await.0, 404);
    t.stop().await;
}

#[tokio::test]
async fn metric_alerts_are_validated_against_what_exists() {
    let t = TestArmlet::start().await;
    network(&t).await;
    let ag = rid("Microsoft.Insights/actionGroups", "myActionGroup");
    t.put(
        &ag_path("myActionGroup"),
        json!({"location": "Global", "properties": {"groupShortName": "ops"}}),
    )
    .await;
    let actions =
        json!([{"actionGroupId": ag.to_lowercase(), "webHookProperties": {"team": "web"}}]);
    let (s, r) = t
        .put(
            &alert_path("VMSS-UnhealthyInstances"),
            tutorial_rule(actions.clone()),
        )
        .await;
    // The spec declares only 200 for a metric alert's PUT, and az insists.
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["location"], "global");
    assert_eq!(r["type"], "Microsoft.Insights/metricAlerts");
    assert_eq!(
        r["properties"]["criteria"]["allOf"][0]["metricName"],
        "HealthProbeStatus"
    );
    assert_eq!(
        r["properties"]["actions"][0]["webHookProperties"]["team"],
        "web"
    );
    assert!(r["properties"]["lastUpdatedTime"].is_string());
    let (s, p) = t
        .patch(
            &alert_path("VMSS-UnhealthyInstances"),
            json!({"properties": {"severity": 1, "enabled": false}}),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(
        (
            p["properties"]["severity"].as_u64(),
            p["properties"]["enabled"].as_bool()
        ),
        (Some(1), Some(false))
    );
    assert_eq!(p["properties"]["windowSize"], "PT5M");
    let status = format!(
        "{}/status?api-version={ALERT_API}",
        rid("Microsoft.Insights/metricAlerts", "VMSS-UnhealthyInstances")
    );
    assert_eq!(t.get(&status).await, (200, json!({"value": []})));
    let (s, _) = t
        .patch(
            &alert_path("VMSS-UnhealthyInstances"),
            json!({"properties": {"severity": 9}}),
        )
        .await;
    assert_eq!(s, 400, "a PATCH is validated like a PUT");

    // Dimensions in the catalogue, with include and `*`.
    let mut with_dims = tutorial_rule(actions.clone());
    with_dims["properties"]["criteria"]["allOf"][0]["dimensions"] =
        json!([{"name": "BackendIPAddress", "operator": "Include", "values": ["*"]}]);
    assert_eq!(
        t.put(&alert_path("by-backend"), with_dims.clone()).await.0,
        200
    );

    let pip = rid("Microsoft.Network/publicIPAddresses", "ip");
    let west = rid("Microsoft.Network/publicIPAddresses", "west");
    let (s, _) = t
        .put(
            &format!("{west}?api-version=2023-04-01"),
            json!({"location": "westus", "sku": {"name": "Standard"},
            "properties": {"publicIPAllocationMethod": "Static"}}),
        )
        .await;
    assert_eq!(s, 201);
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"/properties/criteria/allOf/0/metricName": "Foo"}),
            "Couldn't find a metric named Foo.",
        ),
        (
            json!({"/properties/scopes": [rid("Microsoft.Network/loadBalancers", "nope")]}),
            "could not be found",
        ),
        (
            json!({"/properties/windowSize": "PT1M", "/properties/evaluationFrequency": "PT5M"}),
            "must be less than or equal",
        ),
        (json!({"/properties/windowSize": "PT2M"}), "isn't supported"),
        (
            json!({"/properties/evaluationFrequency": "PT2H"}),
            "isn't supported",
        ),
        (
            json!({"/properties/criteria/allOf/0/operator": "Bigger"}),
            "Invalid operator 'Bigger'",
        ),
        (
            json!({"/properties/criteria/allOf/0/timeAggregation": "Median"}),
            "Invalid time aggregation",
        ),
        (json!({"/properties/criteria": {"allOf": []}}), "odata.type"),
        (json!({"/properties/severity": 7}), "severity 7 is invalid"),
        (
            json!({"/properties/actions": [{"actionGroupId": rid("Microsoft.Insights/actionGroups", "missing")}]}),
            "is invalid or in a different subscription",
        ),
        (
            json!({"/properties/criteria/allOf/0/dimensions": [{"name": "Color", "operator": "Include", "values": ["red"]}]}),
            "isn't supported by metric",
        ),
        (
            json!({"/properties/criteria/allOf/0/dimensions": [{"name": "BackendIPAddress", "operator": "Exclude", "values": ["*"]}]}),
            "can't exclude",
        ),
        (
            json!({"/properties/criteria/odata.type": "Microsoft.Azure.Monitor.MultipleResourceMultipleMetricCriteria",
            "/properties/scopes": [lb(), pip.clone()], "/properties/targetResourceType": "Microsoft.Network/loadBalancers",
            "/properties/targetResourceRegion": "eastus"}),
            "must be of the type",
        ),
        (
            json!({"/properties/criteria/odata.type": "Microsoft.Azure.Monitor.MultipleResourceMultipleMetricCriteria",
            "/properties/scopes": [pip.clone(), west.clone()], "/properties/targetResourceType": "Microsoft.Network/publicIPAddresses",
            "/properties/targetResourceRegion": "eastus"}),
            "same type and in the same region",
        ),
    ];
    for (i, (changes, message)) in cases.into_iter().enumerate() {
        let mut body = tutorial_rule(actions.clone());
        for (pointer, value) in changes.as_object().unwrap() {
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            body.pointer_mut(parent).unwrap()[key] = value.clone();
        }
        let name = format!("bad-{i}");
        let (s, e) = t.put(&alert_path(&name), body).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (400, Some("BadRequest")),
            "{message}: {e}"
        );
        let text = e["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "expected '{message}' in '{text}'");
        assert_eq!(t.get(&alert_path(&name)).await.0, 404, "{name} was stored");
    }
    let mut eastus = tutorial_rule(actions);
    eastus["location"] = json!("eastus");
    let (s, e) = t.put(&alert_path("bad-location"), eastus).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("LocationNotAvailableForResourceType"))
    );

    assert_eq!(
        t.delete(&alert_path("VMSS-UnhealthyInstances")).await.0,
        200
    );
    assert_eq!(t.get(&status).await.0, 404);
    t.stop().await;
}

#[tokio::test]
async fn test_notifications_report_each_receiver() {
    let t = TestArmlet::start().await;
    t.put(&rg_path("rg"), json!({"location": "eastus"})).await;
    t.put(
        &ag_path("ag"),
        json!({"location": "Global", "properties": {"groupShortName": "ops"}}),
    )
    .await;
    let rx = Receiver::start().await;
    let url = t.url(&format!(
        "{}/createNotifications?api-version={AG_API}",
        rid("Microsoft.Insights/actionGroups", "ag")
    ));
    let resp = t
        .client
        .post(&url)
        .json(&json!({"alertType": "metricstaticthreshold",
            "webhookReceivers": [{"name": "good", "serviceUri": rx.url("/ok-test"), "useCommonAlertSchema": true},
                {"name": "bad", "serviceUri": rx.url("/fail-test")}],
            "emailReceivers": [{"name": "mail", "emailAddress": "ops@example.com"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("/notificationStatus/"), "{location}");
    let done = eventually(Duration::from_secs(30), || async {
        let (s, doc) = send(t.client.get(&location)).await;
        (s == 200).then_some(doc)
    })
    .await;
    assert_eq!(done["state"], "Completed");
    let status = |name: &str| {
        done["actionDetails"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["Name"] == name)
            .unwrap()["Status"]
            .clone()
    };
    assert_eq!(
        (status("good"), status("bad"), status("mail")),
        (json!("Completed"), json!("Failed"), json!("Completed"))
    );
    let sample = &rx.bodies("/ok-test")[0];
    assert_eq!(sample["schemaId"], "azureMonitorCommonAlertSchema");
    assert_eq!(
        rx.bodies("/fail-test")[0]["schemaId"],
        "AzureMonitorMetricAlert"
    );
    let (s, _) = t
        .client
        .post(&url)
        .json(&json!({"alertType": "nonsense"}))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(s, 400);
    t.stop().await;
}

/// Writes one DipAvailability sample per backend every 100 ms of real time, as the collector
/// does: 100 for a healthy backend, 0 for 10.0.0.5 while `down`.
fn collector(t: &TestArmlet, down: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    let store = t.armlet.app.store.clone();
    let clock = t.armlet.app.runtime.clock;
    let key = lb().to_lowercase();
    tokio::spawn(async move {
        let samples = |at, down: bool| -> Vec<MinutePoint> {
            ["10.0.0.4", "10.0.0.5", "10.0.0.6"]
                .iter()
                .map(|ip| {
                    let v = if down && *ip == "10.0.0.5" {
                        0.0
                    } else {
                        100.0
                    };
                    let dims = dimensions([("BackendIPAddress", *ip), ("BackendPort", "80")]);
                    MinutePoint::new(&key, "DipAvailability", dims, at, Aggregate::sample(v))
                })
                .collect()
        };
        // Ten healthy minutes of history.
        let now = clock.now_utc();
        let history: Vec<MinutePoint> = (1..=10)
            .flat_map(|m| samples(now - chrono::Duration::minutes(m), false))
            .collect();
        store.write_metric_minutes(&history).await.unwrap();
        loop {
            let at = clock.now_utc();
            store
                .write_metric_minutes(&samples(at, down.load(Ordering::SeqCst)))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_fires_notifies_and_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        time_scale: 60.0,
        ..ServeConfig::for_tests(dir.path().to_path_buf())
    };
    let t = TestArmlet::start_with(config, dir).await;
    network(&t).await;
    let rx = Receiver::start().await;
    let (s, ag) = t
        .put(&ag_path("myActionGroup"), json!({"location": "Global", "properties": {"groupShortName": "ops",
            "webhookReceivers": [
                {"name": "hang", "serviceUri": rx.url("/hang"), "useCommonAlertSchema": true},
                {"name": "failing", "serviceUri": rx.url("/fail"), "useCommonAlertSchema": true},
                {"name": "common", "serviceUri": rx.url("/ok-common"), "useCommonAlertSchema": true},
                {"name": "legacy", "serviceUri": rx.url("/ok-legacy")}],
            "emailReceivers": [{"name": "mail", "emailAddress": "ops@example.com"}]}}))
        .await;
    assert_eq!(s, 201, "{ag}");
    let down = Arc::new(AtomicBool::new(false));
    let writer = collector(&t, down.clone());
    let ag_id = ag["id"].as_str().unwrap().to_string();
    let (s, r) = t
        .put(
            &alert_path("VMSS-UnhealthyInstances"),
            tutorial_rule(json!([{"actionGroupId": ag_id, "webHookProperties": {"team": "web"}}])),
        )
        .await;
    assert_eq!(s, 200, "{r}");

    // Healthy: several evaluations, nothing fires.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(rx.bodies("/ok-common").is_empty(), "fired while healthy");

    down.store(true, Ordering::SeqCst);
    let fired = rx.wait_for("/ok-common", 1, Duration::from_secs(20)).await;
    let e = &fired[0]["data"]["essentials"];
    assert_eq!(fired[0]["schemaId"], "azureMonitorCommonAlertSchema");
    assert_eq!(e["alertRule"], "VMSS-UnhealthyInstances");
    assert_eq!(e["severity"], "Sev2");
    assert_eq!(e["monitorCondition"], "Fired");
    assert_eq!(e["alertTargetIDs"], json!([lb().to_lowercase()]));
    let cond = &fired[0]["data"]["alertContext"]["condition"]["allOf"][0];
    assert_eq!(
        (cond["metricName"].as_str(), cond["operator"].as_str()),
        (Some("HealthProbeStatus"), Some("LessThan"))
    );
    assert_eq!(cond["threshold"], "100");
    let value = cond["metricValue"].as_f64().unwrap();
    assert!(value < 100.0 && value > 0.0, "{value}");
    assert_eq!(fired[0]["data"]["customProperties"]["team"], "web");
    let legacy = rx.wait_for("/ok-legacy", 1, Duration::from_secs(5)).await;
    assert_eq!(
        (
            legacy[0]["schemaId"].as_str(),
            legacy[0]["data"]["status"].as_str()
        ),
        (Some("AzureMonitorMetricAlert"), Some("Activated"))
    );
    // A 500 is not retried; the hanging receiver delayed nobody.
    assert_eq!(
        rx.wait_for("/fail", 1, Duration::from_secs(5)).await.len(),
        1
    );

    let list = format!(
        "/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts?api-version={AM_API}"
    );
    let (s, alerts) = t.get(&list).await;
    assert_eq!(s, 200, "{alerts}");
    let a = &alerts["value"][0];
    let ess = &a["properties"]["essentials"];
    assert_eq!(
        (
            ess["monitorCondition"].as_str(),
            ess["severity"].as_str(),
            ess["alertState"].as_str()
        ),
        (Some("Fired"), Some("Sev2"), Some("New"))
    );
    assert_eq!(
        ess["targetResource"].as_str().unwrap().to_lowercase(),
        lb().to_lowercase()
    );
    let alert_id = a["id"].as_str().unwrap().to_string();
    assert_eq!(alert_id, e["alertId"].as_str().unwrap());
    let (s, one) = t.get(&format!("{alert_id}?api-version={AM_API}")).await;
    assert_eq!((s, one["id"].as_str()), (200, Some(alert_id.as_str())));
    for scoped in [
        format!(
            "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.AlertsManagement/alerts?api-version={AM_API}&monitorCondition=Fired"
        ),
        format!(
            "{}/providers/Microsoft.AlertsManagement/alerts?api-version={AM_API}",
            lb()
        ),
    ] {
        let (s, l) = t.get(&scoped).await;
        assert_eq!(
            (s, l["value"].as_array().map(Vec::len)),
            (200, Some(1)),
            "{scoped}: {l}"
        );
    }
    let status = format!(
        "{}/status?api-version={ALERT_API}",
        rid("Microsoft.Insights/metricAlerts", "VMSS-UnhealthyInstances")
    );
    assert_eq!(
        t.get(&status).await.1["value"][0]["properties"]["status"],
        "Unhealthy"
    );

    down.store(false, Ordering::SeqCst);
    let both = rx.wait_for("/ok-common", 2, Duration::from_secs(30)).await;
    let resolved = &both[1]["data"]["essentials"];
    assert_eq!(resolved["monitorCondition"], "Resolved");
    assert_eq!(resolved["alertId"], e["alertId"]);
    assert!(resolved["resolvedDateTime"].is_string());
    let (_, one) = t.get(&format!("{alert_id}?api-version={AM_API}")).await;
    let ess = &one["properties"]["essentials"];
    assert_eq!(ess["monitorCondition"], "Resolved");
    assert!(ess["monitorConditionResolvedDateTime"].is_string());

    // The user acknowledges it.
    let (s, changed) = send(t.client.post(t.url(&format!(
        "{alert_id}/changestate?api-version={AM_API}&newState=Acknowledged"
    ))))
    .await;
    assert_eq!(
        (
            s,
            changed["properties"]["essentials"]["alertState"].as_str()
        ),
        (200, Some("Acknowledged"))
    );

    // The activity log has the alert's two state changes and every notification.
    let events = t
        .get(&format!("/subscriptions/{SUB}/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01"))
        .await
        .1["value"]
        .as_array()
        .unwrap()
        .clone();
    let ops = |name: &str| {
        events
            .iter()
            .filter(|e| e["operationName"]["value"] == name)
            .cloned()
            .collect::<Vec<Value>>()
    };
    assert_eq!(
        ops("Microsoft.Insights/AlertRules/Activated/Action").len(),
        1
    );
    assert_eq!(
        ops("Microsoft.Insights/AlertRules/Resolved/Action").len(),
        1
    );
    let notes = ops("Microsoft.Insights/ActionGroups/Notify/Action");
    let of = |receiver: &str| {
        notes
            .iter()
            .filter(|e| e["properties"]["receiverName"] == receiver)
            .map(|e| e["status"]["value"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(of("mail"), ["Succeeded", "Succeeded"]);
    // Suspended after failing: the resolution was not sent to it.
    assert_eq!(of("failing"), ["Failed", "Failed"]);
    assert_eq!(rx.bodies("/fail").len(), 1);
    assert_eq!(of("common").len(), 2);

    // Nothing more while healthy.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(rx.bodies("/ok-common").len(), 2);
    writer.abort();
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fired_alert_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = |dir: &tempfile::TempDir| ServeConfig {
        in_memory: false,
        time_scale: 60.0,
        ..ServeConfig::for_tests(dir.path().to_path_buf())
    };
    let t = TestArmlet::start_with(config(&dir), dir).await;
    network(&t).await;
    let rx = Receiver::start().await;
    let (_, ag) = t
        .put(&ag_path("ag"), json!({"location": "Global", "properties": {"groupShortName": "ops",
            "webhookReceivers": [{"name": "hook", "serviceUri": rx.url("/ok"), "useCommonAlertSchema": true}]}}))
        .await;
    let down = Arc::new(AtomicBool::new(true));
    let writer = collector(&t, down.clone());
    let rule = tutorial_rule(json!([{"actionGroupId": ag["id"]}]));
    assert_eq!(t.put(&alert_path("r"), rule).await.0, 200);
    let fired = rx.wait_for("/ok", 1, Duration::from_secs(20)).await;
    writer.abort();
    let dir = t.stop().await;

    // Still failing after the restart: the stored state says it already fired.
    let t = TestArmlet::start_with(config(&dir), dir).await;
    let writer = collector(&t, down.clone());
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(rx.bodies("/ok").len(), 1, "notified again after a restart");
    let (_, alerts) = t
        .get(&format!(
            "/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts?api-version={AM_API}"
        ))
        .await;
    assert_eq!(alerts["value"].as_array().unwrap().len(), 1, "{alerts}");

    down.store(false, Ordering::SeqCst);
    let both = rx.wait_for("/ok", 2, Duration::from_secs(30)).await;
    let (a, b) = (
        &fired[0]["data"]["essentials"],
        &both[1]["data"]["essentials"],
    );
    assert_eq!(b["monitorCondition"], "Resolved");
    assert_eq!(a["alertId"], b["alertId"]);
    assert_eq!(a["firedDateTime"], b["firedDateTime"]);
    writer.abort();
    t.stop().await;
}
