//! A deployment interrupted by a kill -9 runs to its end after the restart.

mod common;

use std::time::Duration;

use common::process::{free_port, spawn_armlet, wait_ready};
use common::*;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_deployment_resumes_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("https://localhost:{port}");
    let mut child = spawn_armlet(dir.path(), port);
    let client = wait_ready(dir.path(), &base).await;
    let (s, _) = send(
        client
            .put(format!("{base}{}", rg_path("resume")))
            .json(&json!({"location": "eastus"})),
    )
    .await;
    assert_eq!(s, 201);

    // Many nested deployments one after the other: long enough to be killed halfway.
    let template = json!({"resources": [{
        "type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01",
        "name": "[concat('step-', copyIndex())]",
        "copy": {"name": "steps", "count": 150, "mode": "Serial", "batchSize": 1},
        "properties": {"mode": "Incremental", "template": {"resources": []}}
    }]});
    let path = format!(
        "/subscriptions/{SUB}/resourceGroups/resume/providers/Microsoft.Resources/deployments/long?api-version=2024-11-01"
    );
    let resp = client
        .put(format!("{base}{path}"))
        .json(&json!({"properties": {"mode": "Incremental", "template": template}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let poll = resp.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_string();
    eventually(Duration::from_secs(30), || async {
        let (_, d) = send(client.get(format!("{base}{path}"))).await;
        (d["properties"]["provisioningState"] == "Running").then_some(())
    })
    .await;
    child.kill().unwrap(); // SIGKILL, mid-run
    child.wait().unwrap();

    let mut child = spawn_armlet(dir.path(), port);
    let client = wait_ready(dir.path(), &base).await;
    let status: Value = eventually(Duration::from_secs(120), || async {
        let (_, s) = send(client.get(&poll)).await;
        (s["status"] != "InProgress").then_some(s)
    })
    .await;
    assert_eq!(status["status"], "Succeeded", "{status}");
    let (_, d) = send(client.get(format!("{base}{path}"))).await;
    assert_eq!(d["properties"]["provisioningState"], "Succeeded");
    let (_, ops) = send(client.get(format!(
        "{base}{}",
        path.replace("/long?", "/long/operations?$top=500&")
    )))
    .await;
    let ops = ops["value"].as_array().unwrap();
    assert_eq!(ops.len(), 150);
    assert!(
        ops.iter()
            .all(|o| o["properties"]["provisioningState"] == "Succeeded")
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
