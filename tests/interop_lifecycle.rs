//! Application health and automatic repairs with the real `az`: the Application Health
//! extension with Rich Health States (`az vmss extension set|list|show|delete`), `vmHealth`
//! in instance views, `az vmss update --enable-automatic-repairs`, an instance reporting
//! Unhealthy is replaced, a crashed one is replaced after the grace period, but not while
//! `az vmss set-orchestration-service-state` has suspended repairs; and
//! `az vmss simulate-eviction` of a Regular instance is refused.

mod common;

use std::time::Duration;

use base64::Engine;
use common::scale_set::*;
use common::*;
use serde_json::{Value, json};

/// At 60×, the shortest repair grace period (PT10M) lasts 10 s.
const SCALE: f64 = 60.0;

/// An app reporting Rich Health States on /state: instance 1 says it is unhealthy.
const APP: &str = r#"#!/usr/bin/env python3
import http.server, json, os
NAME = os.environ['ARMLET_INSTANCE_NAME']
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == '/state':
            state = 'Unhealthy' if NAME.endswith('_1') else 'Healthy'
            body = json.dumps({'ApplicationHealthState': state}).encode()
        else:
            body = NAME.encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((os.environ['ARMLET_BIND_ADDRESS'], int(os.environ['PORT'])), H).serve_forever()
"#;

async fn ids(az: &Az) -> Vec<String> {
    az.json(&["vmss", "list-instances", "-g", "rg", "-n", "web"])
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["instanceId"].as_str().unwrap().to_string())
        .collect()
}

async fn vm_health(az: &Az, id: &str) -> Value {
    let view = az
        .json(&[
            "vmss",
            "get-instance-view",
            "-g",
            "rg",
            "-n",
            "web",
            "--instance-id",
            id,
        ])
        .await;
    view["vmHealth"]["status"]["code"].clone()
}

async fn service_state(az: &Az) -> Value {
    let view = az
        .json(&["vmss", "get-instance-view", "-g", "rg", "-n", "web"])
        .await;
    view["orchestrationServices"][0]["serviceState"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rich_health_states_and_automatic_repairs_with_the_az_cli() {
    let dir = tempfile::tempdir().unwrap();
    let config = armlet::config::ServeConfig {
        time_scale: SCALE,
        ..armlet::config::ServeConfig::for_tests(dir.path().to_path_buf())
    };
    let t = TestArmlet::start_with(config, dir).await;
    let az = Az::for_armlet(&t);
    network(&t).await;
    let vmss = rid("Microsoft.Compute/virtualMachineScaleSets", "web");
    let mut body = vmss_body(2);
    body["properties"]["upgradePolicy"] = json!({"mode": "Manual"});
    let profile = &mut body["properties"]["virtualMachineProfile"];
    profile["osProfile"]["customData"] =
        json!(base64::engine::general_purpose::STANDARD.encode(APP));
    profile["networkProfile"]
        .as_object_mut()
        .unwrap()
        .remove("healthProbe");
    let (_, end) = put_and_wait(&t, &format!("{vmss}?api-version={COMPUTE}"), body).await;
    assert_eq!(end, "Succeeded");
    let err = az
        .fails(&[
            "vmss",
            "update",
            "-g",
            "rg",
            "-n",
            "web",
            "--enable-automatic-repairs",
            "true",
            "--automatic-repairs-grace-period",
            "10",
        ])
        .await;
    assert!(
        err.contains("health"),
        "repairs need a health source: {err}"
    );

    // The Application Health extension, Rich Health States (2.0), in the model.
    let settings = r#"{"protocol": "http", "port": 80, "requestPath": "/state", "intervalInSeconds": 5, "numberOfProbes": 1}"#;
    az.json(&[
        "vmss",
        "extension",
        "set",
        "-g",
        "rg",
        "--vmss-name",
        "web",
        "--name",
        "ApplicationHealthLinux",
        "--publisher",
        "Microsoft.ManagedServices",
        "--version",
        "2.0",
        "--settings",
        settings,
    ])
    .await;
    let list = az
        .json(&[
            "vmss",
            "extension",
            "list",
            "-g",
            "rg",
            "--vmss-name",
            "web",
        ])
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let ext = az
        .json(&[
            "vmss",
            "extension",
            "show",
            "-g",
            "rg",
            "--vmss-name",
            "web",
            "--name",
            "ApplicationHealthLinux",
        ])
        .await;
    assert_eq!(ext["typeHandlerVersion"], "2.0", "{ext}");
    assert_eq!(ext["settings"]["requestPath"], "/state");
    // Manual mode: the instances run it once they take the latest model.
    az.json(&[
        "vmss",
        "update-instances",
        "-g",
        "rg",
        "-n",
        "web",
        "--instance-ids",
        "*",
    ])
    .await;
    eventually(Duration::from_secs(60), || async {
        let healthy = vm_health(&az, "0").await == "HealthState/healthy";
        let unhealthy = vm_health(&az, "1").await == "HealthState/unhealthy";
        (healthy && unhealthy).then_some(())
    })
    .await;

    // Automatic repairs replace the instance that reports itself unhealthy.
    az.json(&[
        "vmss",
        "update",
        "-g",
        "rg",
        "-n",
        "web",
        "--enable-automatic-repairs",
        "true",
        "--automatic-repairs-grace-period",
        "10",
    ])
    .await;
    let shown = az.json(&["vmss", "show", "-g", "rg", "-n", "web"]).await;
    assert_eq!(
        shown["automaticRepairsPolicy"],
        json!({"enabled": true, "gracePeriod": "PT10M"}),
        "{shown}"
    );
    assert_eq!(service_state(&az).await, "Running");
    eventually(Duration::from_secs(90), || async {
        (ids(&az).await == ["0", "2"]).then_some(())
    })
    .await;
    eventually(Duration::from_secs(30), || async {
        (vm_health(&az, "2").await == "HealthState/healthy").then_some(())
    })
    .await;

    // Suspended repairs leave a crashed instance alone; resumed, they replace it.
    az.json(&[
        "vmss",
        "set-orchestration-service-state",
        "-g",
        "rg",
        "-n",
        "web",
        "--service-name",
        "AutomaticRepairs",
        "--action",
        "Suspend",
    ])
    .await;
    assert_eq!(service_state(&az).await, "Suspended");
    let (_, view) = t
        .get(&format!(
            "{vmss}/virtualMachines/0/instanceView?api-version={COMPUTE}"
        ))
        .await;
    let pid = view["armlet"]["process"]["pid"].as_u64().unwrap();
    assert!(
        std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    eventually(Duration::from_secs(30), || async {
        (vm_health(&az, "0").await == "HealthState/unknown").then_some(())
    })
    .await;
    // Two grace periods (20 s here) later, it is still there.
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(ids(&az).await, ["0", "2"]);
    az.json(&[
        "vmss",
        "set-orchestration-service-state",
        "-g",
        "rg",
        "-n",
        "web",
        "--service-name",
        "AutomaticRepairs",
        "--action",
        "Resume",
    ])
    .await;
    eventually(Duration::from_secs(60), || async {
        (ids(&az).await == ["2", "3"]).then_some(())
    })
    .await;

    // Eviction is for Spot instances.
    let err = az
        .fails(&[
            "vmss",
            "simulate-eviction",
            "-g",
            "rg",
            "-n",
            "web",
            "--instance-id",
            "2",
        ])
        .await;
    assert!(err.contains("only supported for Spot"), "{err}");

    // Without repairs, the extension can go.
    az.json(&[
        "vmss",
        "update",
        "-g",
        "rg",
        "-n",
        "web",
        "--enable-automatic-repairs",
        "false",
    ])
    .await;
    az.run(&[
        "vmss",
        "extension",
        "delete",
        "-g",
        "rg",
        "--vmss-name",
        "web",
        "--name",
        "ApplicationHealthLinux",
    ])
    .await;
    let list = az
        .json(&[
            "vmss",
            "extension",
            "list",
            "-g",
            "rg",
            "--vmss-name",
            "web",
        ])
        .await;
    assert!(list.as_array().is_none_or(|a| a.is_empty()), "{list}");
    t.stop().await;
}
