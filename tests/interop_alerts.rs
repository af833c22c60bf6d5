//! Metric alerts and action groups through the real `az` CLI: the tutorial's step 8 alert
//! fires when a real instance is stopped and resolves when it starts again (armlet at
//! `--time-scale 60`, a local webhook receiver in `myActionGroup`), and the action-group and
//! metric-alert commands (create, show, list, update with --add-action / --remove-actions /
//! --enabled, --disabled, dimension conditions, test notifications, delete) with Azure's
//! errors for bad input; and the same through the Python SDK's model classes.

mod common;

use std::time::Duration;

use armlet::config::ServeConfig;
use common::receiver::Receiver;
use common::scale_set::{network, rid};
use common::*;
use serde_json::{Value, json};

const RG: &str = "myResourceGroup";

/// A property of an az result, wherever az's output flattening put it.
fn prop<'a>(v: &'a Value, name: &str) -> &'a Value {
    if v.get(name).is_some() {
        &v[name]
    } else {
        &v["properties"][name]
    }
}

async fn armlet_at_60() -> TestArmlet {
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        time_scale: 60.0,
        ..ServeConfig::for_tests(dir.path().to_path_buf())
    };
    TestArmlet::start_with(config, dir).await
}

/// Whether the load balancer's health-probe minutes are all 100 for a whole 5-minute window
/// (the collector writes a minute once it has ended, so the last six minutes hold five).
async fn probes_healthy_for_a_window(t: &TestArmlet, lb_key: &str) -> bool {
    let now = t.armlet.app.runtime.clock.now_utc();
    let minutes = t
        .armlet
        .app
        .store
        .metric_minutes(
            lb_key,
            "DipAvailability",
            now - chrono::Duration::minutes(6),
            now,
        )
        .await
        .unwrap();
    let distinct: std::collections::BTreeSet<_> = minutes.iter().map(|m| m.minute).collect();
    distinct.len() >= 5 && minutes.iter().all(|m| m.value.average() == Some(100.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_an_instance_fires_the_tutorial_alert_and_starting_it_resolves_it() {
    let t = armlet_at_60().await;
    let mut az = Az::for_armlet(&t);
    let home = t.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    az.env.push(("HOME".into(), home.display().to_string()));
    let rx = Receiver::start().await;

    az.json(&["group", "create", "-n", RG, "-l", "eastus"])
        .await;
    az.json(&[
        "network",
        "public-ip",
        "create",
        "--name",
        "lb-public-ip",
        "--resource-group",
        RG,
        "--sku",
        "Standard",
        "--allocation-method",
        "Static",
    ])
    .await;
    tutorial::load_balancer_probe_and_rule(&az, RG).await;
    let vmss = az
        .json(&[
            "vmss",
            "create",
            "--name",
            "myScaleSet",
            "--resource-group",
            RG,
            "--image",
            "Ubuntu2204",
            "--vm-sku",
            "Standard_D2s_v3",
            "--instance-count",
            "3",
            "--admin-username",
            "azureuser",
            "--generate-ssh-keys",
            "--vnet-name",
            "myVNet",
            "--subnet",
            "mySubnet",
            "--lb",
            "myLoadBalancer",
            "--backend-pool-name",
            "vmssBackendPool",
            "--upgrade-policy-mode",
            "Rolling",
            "--health-probe",
            "httpHealthProbe",
            "--orchestration-mode",
            "Uniform",
        ])
        .await;
    assert_eq!(vmss["vmss"]["provisioningState"], "Succeeded", "{vmss}");
    let lb_id = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/loadBalancers/myLoadBalancer"
    );
    let lb_key = lb_id.to_lowercase();

    az.json(&[
        "monitor",
        "action-group",
        "create",
        "--name",
        "myActionGroup",
        "--resource-group",
        RG,
        "--short-name",
        "myAG",
        "--action",
        "webhook",
        "hook",
        &rx.url("/ok-hook"),
        "usecommonalertschema",
    ])
    .await;
    // All three instances healthy for a whole window before the rule exists.
    eventually(Duration::from_secs(60), || async {
        probes_healthy_for_a_window(&t, &lb_key).await.then_some(())
    })
    .await;

    // Step 8 of the tutorial, exactly.
    let rule = az
        .json(&[
            "monitor",
            "metrics",
            "alert",
            "create",
            "--name",
            "VMSS-UnhealthyInstances",
            "--resource-group",
            "myResourceGroup",
            "--scopes",
            &lb_id,
            "--condition",
            "avg HealthProbeStatus < 100",
            "--window-size",
            "5m",
            "--evaluation-frequency",
            "1m",
            "--action",
            "myActionGroup",
            "--severity",
            "2",
            "--description",
            "One or more VMSS instances failed the health probe",
        ])
        .await;
    assert_eq!(prop(&rule, "severity"), 2);
    // Healthy: a few evaluations, no notification.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        rx.bodies("/ok-hook").is_empty(),
        "fired while all instances were healthy"
    );

    let clock = t.armlet.app.runtime.clock;
    let stopped_at = clock.now_utc();
    az.json(&[
        "vmss",
        "stop",
        "-g",
        RG,
        "-n",
        "myScaleSet",
        "--instance-ids",
        "1",
    ])
    .await;
    let fired = rx.wait_for("/ok-hook", 1, Duration::from_secs(30)).await;
    let to_fire = clock.now_utc() - stopped_at;
    assert_eq!(fired.len(), 1, "{fired:?}");
    let e = &fired[0]["data"]["essentials"];
    assert_eq!(fired[0]["schemaId"], "azureMonitorCommonAlertSchema");
    assert_eq!(e["alertRule"], "VMSS-UnhealthyInstances");
    assert_eq!(e["severity"], "Sev2");
    assert_eq!(e["monitorCondition"], "Fired");
    assert_eq!(
        e["description"],
        "One or more VMSS instances failed the health probe"
    );
    let cond = &fired[0]["data"]["alertContext"]["condition"];
    assert_eq!(cond["windowSize"], "PT5M");
    let c = &cond["allOf"][0];
    assert_eq!(
        (
            c["metricName"].as_str(),
            c["operator"].as_str(),
            c["timeAggregation"].as_str()
        ),
        (Some("HealthProbeStatus"), Some("LessThan"), Some("Average"))
    );
    assert_eq!(c["threshold"], "100");
    let value = c["metricValue"].as_f64().unwrap();
    assert!(
        value > 0.0 && value < 100.0,
        "one of three backends down: {value}"
    );

    let alerts_url = format!(
        "/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts?api-version=2019-05-05-preview"
    );
    let alerts = az
        .json(&["rest", "--method", "get", "--url", &alerts_url])
        .await;
    let ess = &alerts["value"][0]["properties"]["essentials"];
    assert_eq!(
        (ess["monitorCondition"].as_str(), ess["severity"].as_str()),
        (Some("Fired"), Some("Sev2"))
    );
    assert_eq!(
        ess["targetResource"].as_str().unwrap().to_lowercase(),
        lb_key
    );
    assert!(ess["startDateTime"].is_string());

    let started_at = clock.now_utc();
    az.json(&[
        "vmss",
        "start",
        "-g",
        RG,
        "-n",
        "myScaleSet",
        "--instance-ids",
        "1",
    ])
    .await;
    let both = rx.wait_for("/ok-hook", 2, Duration::from_secs(45)).await;
    // Reported in BENCHMARKS.md: Azure time from the command to the webhook call.
    eprintln!(
        "az vmss stop -> Fired webhook: {} Azure s; az vmss start -> Resolved webhook: {} Azure s",
        to_fire.num_seconds(),
        (clock.now_utc() - started_at).num_seconds()
    );
    let r = &both[1]["data"]["essentials"];
    assert_eq!(r["monitorCondition"], "Resolved");
    assert_eq!(r["alertId"], e["alertId"]);
    let one = az
        .json(&[
            "rest",
            "--method",
            "get",
            "--url",
            &format!(
                "{}?api-version=2019-05-05-preview",
                e["alertId"].as_str().unwrap()
            ),
        ])
        .await;
    let ess = &one["properties"]["essentials"];
    assert_eq!(ess["monitorCondition"], "Resolved");
    assert!(ess["monitorConditionResolvedDateTime"].is_string());
    assert_eq!(rx.bodies("/ok-hook").len(), 2);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_manages_action_groups_and_metric_alerts() {
    let t = TestArmlet::start().await;
    let az = Az::for_armlet(&t);
    network(&t).await;
    let rx = Receiver::start().await;
    let lb = rid("Microsoft.Network/loadBalancers", "lb");

    let ag = az
        .json(&[
            "monitor",
            "action-group",
            "create",
            "-n",
            "myActionGroup",
            "-g",
            "rg",
            "--short-name",
            "myAG",
            "--action",
            "webhook",
            "hook",
            &rx.url("/ok-a"),
            "usecommonalertschema",
            "--action",
            "email",
            "mail",
            "ops@example.com",
            "--action",
            "sms",
            "oncall",
            "1",
            "5551234567",
        ])
        .await;
    assert_eq!(prop(&ag, "groupShortName"), "myAG");
    assert_eq!(
        prop(&ag, "webhookReceivers")[0]["useCommonAlertSchema"],
        true
    );
    assert_eq!(prop(&ag, "smsReceivers")[0]["phoneNumber"], "5551234567");
    let shown = az
        .json(&[
            "monitor",
            "action-group",
            "show",
            "-n",
            "myActionGroup",
            "-g",
            "rg",
        ])
        .await;
    assert_eq!(shown["location"], "Global");
    let listed = az
        .json(&["monitor", "action-group", "list", "-g", "rg"])
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let updated = az
        .json(&[
            "monitor",
            "action-group",
            "update",
            "-n",
            "myActionGroup",
            "-g",
            "rg",
            "--add-action",
            "webhook",
            "legacy",
            &rx.url("/ok-b"),
            "--remove-action",
            "mail",
        ])
        .await;
    assert_eq!(
        prop(&updated, "webhookReceivers").as_array().unwrap().len(),
        2
    );
    assert_eq!(prop(&updated, "emailReceivers"), &json!([]));
    let test = az
        .json(&[
            "monitor",
            "action-group",
            "test-notifications",
            "create",
            "--action-group",
            "myActionGroup",
            "-g",
            "rg",
            "--alert-type",
            "metricstaticthreshold",
            "--add-action",
            "webhook",
            "t1",
            &rx.url("/ok-test"),
            "usecommonalertschema",
        ])
        .await;
    assert_eq!(test["state"], "Completed", "{test}");
    assert_eq!(
        rx.bodies("/ok-test")[0]["schemaId"],
        "azureMonitorCommonAlertSchema"
    );
    az.json(&[
        "monitor",
        "action-group",
        "create",
        "-n",
        "other",
        "-g",
        "rg",
    ])
    .await;

    // A condition with dimensions, created disabled.
    let rule = az
        .json(&[
            "monitor",
            "metrics",
            "alert",
            "create",
            "-n",
            "by-backend",
            "-g",
            "rg",
            "--scopes",
            &lb,
            "--condition",
            "avg HealthProbeStatus < 100 where BackendIPAddress includes 10.0.0.4 or 10.0.0.5",
            "--window-size",
            "5m",
            "--evaluation-frequency",
            "1m",
            "--action",
            "myActionGroup",
            "--severity",
            "3",
            "--disabled",
        ])
        .await;
    assert_eq!(prop(&rule, "enabled"), false);
    let dims = &prop(&rule, "criteria")["allOf"][0]["dimensions"][0];
    assert_eq!(
        (dims["name"].as_str(), dims["operator"].as_str()),
        (Some("BackendIPAddress"), Some("Include"))
    );
    assert_eq!(dims["values"], json!(["10.0.0.4", "10.0.0.5"]));
    let rule = az
        .json(&[
            "monitor",
            "metrics",
            "alert",
            "update",
            "-n",
            "by-backend",
            "-g",
            "rg",
            "--enabled",
            "true",
            "--add-action",
            "other team=web",
        ])
        .await;
    assert_eq!(prop(&rule, "enabled"), true);
    let actions = prop(&rule, "actions").as_array().unwrap().clone();
    assert_eq!(actions.len(), 2);
    assert_eq!(actions[1]["webHookProperties"]["team"], "web");
    let rule = az
        .json(&[
            "monitor",
            "metrics",
            "alert",
            "update",
            "-n",
            "by-backend",
            "-g",
            "rg",
            "--remove-actions",
            "other",
        ])
        .await;
    assert_eq!(prop(&rule, "actions").as_array().unwrap().len(), 1);
    let shown = az
        .json(&[
            "monitor",
            "metrics",
            "alert",
            "show",
            "-n",
            "by-backend",
            "-g",
            "rg",
        ])
        .await;
    assert_eq!(prop(&shown, "severity"), 3);
    for list in [
        az.json(&["monitor", "metrics", "alert", "list", "-g", "rg"])
            .await,
        az.json(&["monitor", "metrics", "alert", "list"]).await,
    ] {
        assert_eq!(list.as_array().unwrap().len(), 1);
    }

    // Bad input: Azure's messages, nothing stored.
    for (condition, extra, message) in [
        (
            "avg NoSuchMetric < 1",
            vec![],
            "Couldn't find a metric named NoSuchMetric",
        ),
        (
            "avg HealthProbeStatus < 100",
            vec!["--action", "nope"],
            "is invalid or in a different subscription",
        ),
        (
            "avg HealthProbeStatus < 100",
            vec!["--window-size", "1m", "--evaluation-frequency", "5m"],
            "must be less than or equal",
        ),
    ] {
        let mut args = vec![
            "monitor",
            "metrics",
            "alert",
            "create",
            "-n",
            "bad",
            "-g",
            "rg",
            "--scopes",
            &lb,
            "--condition",
            condition,
        ];
        args.extend(extra);
        let err = az.fails(&args).await;
        assert!(err.contains(message), "expected '{message}' in: {err}");
    }
    let err = az
        .fails(&[
            "monitor",
            "metrics",
            "alert",
            "create",
            "-n",
            "bad",
            "-g",
            "rg",
            "--scopes",
            &rid("Microsoft.Network/loadBalancers", "nope"),
            "--condition",
            "avg HealthProbeStatus < 100",
        ])
        .await;
    assert!(err.contains("could not be found"), "{err}");
    az.fails(&[
        "monitor", "metrics", "alert", "show", "-n", "bad", "-g", "rg",
    ])
    .await;

    az.run(&[
        "monitor",
        "metrics",
        "alert",
        "delete",
        "-n",
        "by-backend",
        "-g",
        "rg",
    ])
    .await;
    let list = az
        .json(&["monitor", "metrics", "alert", "list", "-g", "rg"])
        .await;
    assert_eq!(list, json!([]));
    az.run(&[
        "monitor",
        "action-group",
        "delete",
        "-n",
        "myActionGroup",
        "-g",
        "rg",
    ])
    .await;
    az.fails(&[
        "monitor",
        "action-group",
        "show",
        "-n",
        "myActionGroup",
        "-g",
        "rg",
    ])
    .await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_manages_action_groups_and_metric_alerts() {
    let t = TestArmlet::start().await;
    network(&t).await;
    let rx = Receiver::start().await;
    let out = python_sdk(&t, "sdk_alerts.py", &[&rx.url("/ok-sdk")]).await;
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        v["ag"],
        json!({"location": "Global", "short": "sdk", "hook_common": true})
    );
    assert_eq!(
        v["patched_ag"],
        json!({"enabled": false, "tags": {"by": "sdk"}})
    );
    assert_eq!(
        v["rule"],
        json!({"location": "global", "severity": 2, "window": "0:05:00", "metric": "HealthProbeStatus", "team": "web"})
    );
    assert_eq!(
        v["patched"],
        json!({"severity": 1, "enabled": false, "window": "0:05:00"})
    );
    assert_eq!(v["got_severity"], 1);
    assert_eq!(
        (v["by_group"].clone(), v["by_sub"].clone()),
        (json!(["sdkRule"]), json!(["sdkRule"]))
    );
    assert_eq!(
        v["status"],
        json!([]),
        "no metric data, no monitored series"
    );
    assert_eq!(v["test"]["state"], "Completed");
    assert_eq!(
        v["test"]["actions"],
        json!([["m", "Completed"], ["t", "Completed"]])
    );
    assert_eq!(rx.bodies("/ok-sdk").len(), 1);
    assert_eq!(v["refused"]["status"], 400);
    assert_eq!(v["refused"]["code"], "BadRequest");
    assert_eq!(
        v["refused"]["message"],
        "Couldn't find a metric named NoSuchMetric."
    );
    assert_eq!(v["after_delete"], json!([]));
    t.stop().await;
}
