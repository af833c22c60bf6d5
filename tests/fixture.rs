//! `armlet serve --deploy FILE [--parameters FILE]`: the walk-through template from
//! `examples/` deployed at start, `/_armlet/health` ready only once it is, and a fixture
//! that fails or does not read reported clearly.

mod common;

use std::time::Duration;

use armlet::config::ServeConfig;
use common::http::rotation;
use common::{SUB, TestArmlet, eventually};
use serde_json::{Value, json};

fn config(dir: &tempfile::TempDir, template: std::path::PathBuf) -> ServeConfig {
    ServeConfig {
        deploy: Some(template),
        deploy_group: "ci".into(),
        ..ServeConfig::for_tests(dir.path().to_path_buf())
    }
}

/// Polls health until it leaves `starting`; returns every status seen and the last answer.
async fn settle(t: &TestArmlet) -> (Vec<String>, u16, Value) {
    let mut seen: Vec<String> = Vec::new();
    let start = std::time::Instant::now();
    loop {
        let (s, h) = t.get("/_armlet/health").await;
        let status = h["status"].as_str().unwrap_or_default().to_string();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status != "starting" {
            return (seen, s, h);
        }
        assert_eq!(s, 503, "{h}");
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "still starting: {h}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walkthrough_template_is_deployed_before_armlet_reports_ready() {
    let dir = tempfile::tempdir().unwrap();
    let params = dir.path().join("params.json");
    // A parameter file as az writes it, with the deploymentParameters wrapper.
    std::fs::write(
        &params,
        json!({"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
            "contentVersion": "1.0.0.0", "parameters": {"instanceCount": {"value": 2}}})
        .to_string(),
    )
    .unwrap();
    let config = ServeConfig {
        parameters: Some(params),
        ..config(
            &dir,
            common::repo_root().join("examples/lb-vmss.template.json"),
        )
    };
    let t = TestArmlet::start_with(config, dir).await;
    let (seen, s, h) = settle(&t).await;
    assert_eq!((s, h["status"].as_str()), (200, Some("ready")), "{h}");
    assert!(
        seen.iter().all(|s| s == "starting" || s == "ready"),
        "{seen:?}"
    );
    // Ready means deployed: the deployment succeeded in the named group and both instances
    // run and answer through the frontend its output names.
    let (_, d) = t
        .get(&format!("/subscriptions/{SUB}/resourcegroups/ci/providers/Microsoft.Resources/deployments/armlet-fixture?api-version=2024-03-01"))
        .await;
    assert_eq!(d["properties"]["provisioningState"], "Succeeded", "{d}");
    assert_eq!(h["instances"], 2, "{h}");
    let ip: std::net::Ipv4Addr = d["properties"]["outputs"]["frontend"]["value"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let frontend = std::net::SocketAddr::from((ip, t.armlet.app.runtime.ports.effective(80)));
    eventually(Duration::from_secs(60), || async {
        (rotation(frontend, 12).await? == ["web_0", "web_1"]).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_template_that_fails_to_deploy_leaves_armlet_serving_but_failed() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("bad.json");
    // The probe's port is out of range: the load balancer's PUT is refused.
    std::fs::write(
        &template,
        json!({"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0",
            "resources": [{"type": "Microsoft.Network/loadBalancers", "apiVersion": "2023-04-01", "name": "lb",
                "location": "[resourceGroup().location]",
                "properties": {"probes": [{"name": "p", "properties": {"protocol": "Tcp", "port": 70000}}]}}]})
        .to_string(),
    )
    .unwrap();
    let t = TestArmlet::start_with(config(&dir, template), dir).await;
    let (_, s, h) = settle(&t).await;
    assert_eq!((s, h["status"].as_str()), (503, Some("failed")), "{h}");
    let detail = h["detail"].as_str().unwrap();
    assert!(
        detail.contains("bad.json") && detail.contains("port"),
        "{detail}"
    );
    // armlet still serves, so the failure can be looked at.
    let (s, d) = t
        .get(&format!("/subscriptions/{SUB}/resourcegroups/ci/providers/Microsoft.Resources/deployments/armlet-fixture?api-version=2024-03-01"))
        .await;
    assert_eq!(
        (s, d["properties"]["provisioningState"].as_str()),
        (200, Some("Failed")),
        "{d}"
    );
}

#[tokio::test]
async fn a_fixture_that_does_not_read_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let e = armlet::Armlet::start(config(&dir, missing))
        .await
        .err()
        .unwrap();
    assert!(format!("{e:#}").contains("missing.json"), "{e:#}");
    let not_json = dir.path().join("template.json");
    std::fs::write(&not_json, "{ not json").unwrap();
    let e = armlet::Armlet::start(config(&dir, not_json))
        .await
        .err()
        .unwrap();
    assert!(format!("{e:#}").contains("is not JSON"), "{e:#}");
    let only_params = ServeConfig {
        parameters: Some(dir.path().join("p.json")),
        ..ServeConfig::for_tests(dir.path().to_path_buf())
    };
    let e = armlet::Armlet::start(only_params).await.err().unwrap();
    assert!(format!("{e:#}").contains("--deploy"), "{e:#}");
}
