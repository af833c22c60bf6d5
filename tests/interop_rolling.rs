//! The tutorial's step 7 with the real `az`: a Rolling scale set of three behind the load
//! balancer ships new custom data with `az vmss update` under continuous load through the
//! frontend — batches of one instance at 20 %, `rolling-upgrade get-latest` RollingForward
//! then Completed, every instance on the latest model, and no failed request. Then an OS
//! upgrade with `rolling-upgrade start` and its history, a model whose app never passes the
//! probe (Faulted after the first batch, the others still serving), and a cancel.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use common::http::http_get;
use common::load::Load;
use common::*;
use serde_json::Value;

const RG: &str = "myResourceGroup";
const SCALE: f64 = 20.0;
const CLOUD_INIT: &str = "#cloud-config\nwrite_files:\n  - path: /var/www/html/index.html\n    content: |\n      hello from the tutorial\n";
const V2: &str =
    "#cloud-config\nwrite_files:\n  - path: /var/www/html/version.html\n    content: v2\n";
const V3: &str =
    "#cloud-config\nwrite_files:\n  - path: /var/www/html/version.html\n    content: v3\n";
/// An app that serves everything but its health endpoint.
const BROKEN: &str = r#"#!/usr/bin/env python3
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'broken'
        self.send_response(500 if self.path == '/health' else 200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((os.environ['ARMLET_BIND_ADDRESS'], int(os.environ['PORT'])), H).serve_forever()
"#;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Steps 1–4 and 7 of the tutorial with its exact commands; returns the HTTP frontend.
async fn tutorial(t: &TestArmlet, az: &Az) -> SocketAddr {
    let cloud_init = t.dir.path().join("cloud-init.txt");
    std::fs::write(&cloud_init, CLOUD_INIT).unwrap();
    let cloud_init = cloud_init.display().to_string();
    az.json(&["group", "create", "-n", RG, "-l", "eastus"])
        .await;
    let ip = az
        .json(&[
            "network",
            "public-ip",
            "create",
            "--name",
            "lb-public-ip",
            "--resource-group",
            RG,
            "--location",
            "eastus",
            "--sku",
            "Standard",
            "--allocation-method",
            "Static",
        ])
        .await;
    let frontend_ip: Ipv4Addr = ip["publicIp"]["ipAddress"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    tutorial::load_balancer_probe_and_rule(az, RG).await;
    let vmss = az
        .json(&[
            "vmss",
            "create",
            "--name",
            "myVMSS",
            "--resource-group",
            RG,
            "--location",
            "eastus",
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
            "--custom-data",
            &cloud_init,
            "--orchestration-mode",
            "Uniform",
        ])
        .await;
    assert_eq!(vmss["vmss"]["provisioningState"], "Succeeded", "{vmss}");
    // Step 7.
    az.json(&[
        "vmss",
        "update",
        "--name",
        "myVMSS",
        "--resource-group",
        RG,
        "--set",
        "upgradePolicy.rollingUpgradePolicy.maxBatchInstancePercent=20",
        "--set",
        "upgradePolicy.rollingUpgradePolicy.maxUnhealthyInstancePercent=20",
        "--set",
        "upgradePolicy.rollingUpgradePolicy.maxUnhealthyUpgradedInstancePercent=5",
        "--set",
        "upgradePolicy.rollingUpgradePolicy.pauseTimeBetweenBatches=PT2S",
    ])
    .await;
    let port = t.armlet.app.runtime.ports.effective(80);
    let frontend = SocketAddr::from((frontend_ip, port));
    eventually(Duration::from_secs(90), || async {
        (common::scale_set::names_behind(frontend, 15).await.len() == 3).then_some(())
    })
    .await;
    frontend
}

/// Watches `rollingUpgrades/latest` over REST (finer than az's pace) and keeps the largest
/// number of instances seen upgrading at once.
fn watch_batches(t: &TestArmlet) -> (Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
    let most = Arc::new(AtomicU64::new(0));
    let url = t.url(&format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachineScaleSets/myVMSS/rollingUpgrades/latest?api-version=2024-11-01"
    ));
    let (client, seen) = (t.client.clone(), most.clone());
    let task = tokio::spawn(async move {
        loop {
            let (_, body) = send(client.get(&url)).await;
            let n = body["properties"]["progress"]["inProgressInstanceCount"].as_u64();
            seen.fetch_max(n.unwrap_or(0), Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    (most, task)
}

async fn get_latest(az: &Az) -> Value {
    az.json(&[
        "vmss",
        "rolling-upgrade",
        "get-latest",
        "-n",
        "myVMSS",
        "-g",
        RG,
    ])
    .await
}

/// Polls `az vmss rolling-upgrade get-latest` until its running status is `code`.
async fn until_code(az: &Az, code: &str, limit: Duration) -> Value {
    eventually(limit, || async {
        let latest = get_latest(az).await;
        (latest["runningStatus"]["code"] == code).then_some(latest)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorial_rolls_a_new_version_with_no_failed_request() {
    let dir = tempfile::tempdir().unwrap();
    let config = armlet::config::ServeConfig {
        time_scale: SCALE,
        ..armlet::config::ServeConfig::for_tests(dir.path().to_path_buf())
    };
    let t = TestArmlet::start_with(config, dir).await;
    let mut az = Az::for_armlet(&t);
    let home = t.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    az.env.push(("HOME".into(), home.display().to_string()));
    let frontend = tutorial(&t, &az).await;
    let err = az
        .fails(&[
            "vmss",
            "rolling-upgrade",
            "get-latest",
            "-n",
            "myVMSS",
            "-g",
            RG,
        ])
        .await;
    assert!(err.contains("NotFound"), "{err}");

    // Ship v2 under load.
    let load = Load::start(frontend, "/", 3);
    let (most, watcher) = watch_batches(&t);
    let set = format!("virtualMachineProfile.osProfile.customData={}", b64(V2));
    az.json(&["vmss", "update", "-n", "myVMSS", "-g", RG, "--set", &set])
        .await;
    let first = get_latest(&az).await;
    let done = until_code(&az, "Completed", Duration::from_secs(120)).await;
    watcher.abort();
    let report = load.stop().await;
    assert!(
        matches!(
            first["runningStatus"]["code"].as_str(),
            Some("RollingForward" | "Completed")
        ),
        "{first}"
    );
    assert_eq!(first["policy"]["maxUnhealthyUpgradedInstancePercent"], 5);
    assert_eq!(done["progress"]["successfulInstanceCount"], 3, "{done}");
    assert_eq!(
        most.load(Ordering::Relaxed),
        1,
        "one instance per batch at 20 % of three"
    );
    assert_eq!(report.failed, 0, "failed requests: {:?}", report.failures);
    assert!(report.ok > 50, "{report:?}");
    let instances = az
        .json(&["vmss", "list-instances", "-n", "myVMSS", "-g", RG])
        .await;
    for i in instances.as_array().unwrap() {
        assert_eq!(i["latestModelApplied"], true, "{i}");
    }
    let (code, page) = http_get(frontend, "/version.html").await.unwrap();
    assert_eq!((code, page.ends_with("v2")), (200, true), "{page}");

    // An OS image upgrade reimages every instance and lands in the history.
    az.run(&["vmss", "rolling-upgrade", "start", "-n", "myVMSS", "-g", RG])
        .await;
    let os = until_code(&az, "Completed", Duration::from_secs(120)).await;
    assert_eq!(os["progress"]["successfulInstanceCount"], 3);
    let history = az
        .json(&["vmss", "get-os-upgrade-history", "-n", "myVMSS", "-g", RG])
        .await;
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(
        history[0]["properties"]["runningStatus"]["code"],
        "Completed"
    );

    // A version whose app never passes the probe stops after the first batch.
    let load = Load::start(frontend, "/", 2);
    let set = format!("virtualMachineProfile.osProfile.customData={}", b64(BROKEN));
    az.json(&["vmss", "update", "-n", "myVMSS", "-g", RG, "--set", &set])
        .await;
    let faulted = until_code(&az, "Faulted", Duration::from_secs(120)).await;
    let report = load.stop().await;
    assert_eq!(
        faulted["error"]["code"], "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade",
        "{faulted}"
    );
    assert_eq!(faulted["progress"]["failedInstanceCount"], 1);
    assert_eq!(faulted["progress"]["pendingInstanceCount"], 2);
    assert_eq!(report.failed, 0, "failed requests: {:?}", report.failures);
    assert_eq!(common::scale_set::names_behind(frontend, 20).await.len(), 2);
    let err = az
        .fails(&[
            "vmss",
            "rolling-upgrade",
            "cancel",
            "-n",
            "myVMSS",
            "-g",
            RG,
        ])
        .await;
    assert!(err.contains("no ongoing Rolling Upgrade"), "{err}");

    // A fix, unhealthy instance first, paused long enough to cancel it.
    let set = format!("virtualMachineProfile.osProfile.customData={}", b64(V3));
    az.json(&[
        "vmss",
        "update",
        "-n",
        "myVMSS",
        "-g",
        RG,
        "--set",
        &set,
        "--set",
        "upgradePolicy.rollingUpgradePolicy.prioritizeUnhealthyInstances=true",
        "--set",
        "upgradePolicy.rollingUpgradePolicy.maxUnhealthyInstancePercent=50",
        "--set",
        "upgradePolicy.rollingUpgradePolicy.pauseTimeBetweenBatches=PT10M",
    ])
    .await;
    eventually(Duration::from_secs(60), || async {
        let l = get_latest(&az).await;
        (l["progress"]["successfulInstanceCount"] == 1).then_some(())
    })
    .await;
    az.run(&[
        "vmss",
        "rolling-upgrade",
        "cancel",
        "-n",
        "myVMSS",
        "-g",
        RG,
    ])
    .await;
    let cancelled = get_latest(&az).await;
    assert_eq!(
        cancelled["runningStatus"]["code"], "Cancelled",
        "{cancelled}"
    );
    assert_eq!(cancelled["runningStatus"]["lastAction"], "Cancel");
    // The once-broken instance was upgraded first and serves again: three in rotation.
    eventually(Duration::from_secs(30), || async {
        (common::scale_set::names_behind(frontend, 20).await.len() == 3).then_some(())
    })
    .await;
    t.stop().await;
}
