//! Rolling upgrades over REST: a model change rolls through a Rolling scale set in batches
//! behind a loaded frontend, maxSurge replaces instances, an OS upgrade reimages them and
//! lands in the history, and bad requests get Azure's errors. (The tutorial's version with
//! the real `az` is `interop_rolling.rs`.)

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use common::http::http_get;
use common::load::Load;
use common::scale_set::*;
use common::*;
use serde_json::{Value, json};

const SCALE: f64 = 20.0;

async fn start() -> TestArmlet {
    let dir = tempfile::tempdir().unwrap();
    let config = armlet::config::ServeConfig {
        time_scale: SCALE,
        ..armlet::config::ServeConfig::for_tests(dir.path().to_path_buf())
    };
    TestArmlet::start_with(config, dir).await
}

fn vmss() -> String {
    rid("Microsoft.Compute/virtualMachineScaleSets", "web")
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A Rolling scale set of `n` behind the fixture's load balancer, with `policy`; returns
/// the frontend once every instance answers through it.
async fn rolling_set(t: &TestArmlet, n: u32, policy: Value) -> SocketAddr {
    let ip = network(t).await;
    let mut body = vmss_body(n);
    body["properties"]["upgradePolicy"]["rollingUpgradePolicy"] = policy;
    let (_, end) = put_and_wait(t, &format!("{}?api-version={COMPUTE}", vmss()), body).await;
    assert_eq!(end, "Succeeded");
    let (_, view) = t
        .get(&format!(
            "{}/virtualMachines/0/instanceView?api-version={COMPUTE}",
            vmss()
        ))
        .await;
    let frontend = SocketAddr::from((ip.parse::<std::net::Ipv4Addr>().unwrap(), bound(&view, 80)));
    eventually(Duration::from_secs(60), || async {
        (names_behind(frontend, 12).await.len() == n as usize).then_some(())
    })
    .await;
    frontend
}

async fn latest(t: &TestArmlet) -> (u16, Value) {
    t.get(&format!(
        "{}/rollingUpgrades/latest?api-version={COMPUTE}",
        vmss()
    ))
    .await
}

/// Polls `latest` until its code is `code`, recording the largest in-progress count seen.
async fn wait_for(t: &TestArmlet, code: &str, limit: Duration) -> (Value, u64) {
    let most_in_flight = std::sync::atomic::AtomicU64::new(0);
    let body = eventually(limit, || async {
        let (s, body) = latest(t).await;
        if s != 200 {
            return None;
        }
        let p = &body["properties"]["progress"];
        most_in_flight.fetch_max(
            p["inProgressInstanceCount"].as_u64().unwrap_or(0),
            std::sync::atomic::Ordering::Relaxed,
        );
        (body["properties"]["runningStatus"]["code"] == code).then_some(body)
    })
    .await;
    (body, most_in_flight.into_inner())
}

async fn instances(t: &TestArmlet) -> Vec<Value> {
    let (_, list) = t
        .get(&format!("{}/virtualMachines?api-version={COMPUTE}", vmss()))
        .await;
    list["value"].as_array().unwrap().clone()
}

/// The model change: new custom data (a cloud-config page) in the same PUT shape az sends.
async fn change_model(t: &TestArmlet, custom_data: &str) {
    let body = json!({"location": "eastus", "properties": {"virtualMachineProfile": {"osProfile": {"customData": b64(custom_data)}}}});
    let (s, end) = put_and_wait(t, &format!("{}?api-version={COMPUTE}", vmss()), body).await;
    assert_eq!((s, end.as_str()), (200, "Succeeded"));
}

const V2: &str =
    "#cloud-config\nwrite_files:\n  - path: /var/www/html/version.html\n    content: v2\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_change_rolls_through_one_instance_at_a_time_with_no_failed_request() {
    let t = start().await;
    let (s, _) = latest(&t).await;
    assert_eq!(s, 404, "no upgrade before the first one");
    let policy = json!({"maxBatchInstancePercent": 20, "maxUnhealthyInstancePercent": 20,
        "maxUnhealthyUpgradedInstancePercent": 5, "pauseTimeBetweenBatches": "PT2S"});
    let frontend = rolling_set(&t, 3, policy).await;
    let load = Load::start(frontend, "/", 3);
    change_model(&t, V2).await;
    let (_, running) = latest(&t).await;
    assert_eq!(
        running["properties"]["runningStatus"]["code"], "RollingForward",
        "{running}"
    );
    let (done, most_in_flight) = wait_for(&t, "Completed", Duration::from_secs(120)).await;
    let report = load.stop().await;
    assert_eq!(
        most_in_flight, 1,
        "batches of one instance at 20 % of three"
    );
    assert_eq!(
        done["properties"]["progress"],
        json!({"successfulInstanceCount": 3, "failedInstanceCount": 0, "inProgressInstanceCount": 0, "pendingInstanceCount": 0})
    );
    assert_eq!(report.failed, 0, "failed requests: {:?}", report.failures);
    assert!(report.ok > 50, "{report:?}");
    for i in instances(&t).await {
        assert_eq!(i["properties"]["latestModelApplied"], true, "{i}");
    }
    // Every instance serves the new model's page.
    let served = eventually(Duration::from_secs(10), || async {
        let mut n = 0;
        for _ in 0..12 {
            let (code, body) = http_get(frontend, "/version.html").await?;
            if code == 200 && body.ends_with("v2") {
                n += 1;
            }
        }
        (n == 12).then_some(n)
    })
    .await;
    assert_eq!(served, 12);
    t.stop().await;
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_never_passes_its_probe_faults_after_the_first_batch() {
    let t = start().await;
    let policy = json!({"maxBatchInstancePercent": 20, "maxUnhealthyInstancePercent": 20,
        "maxUnhealthyUpgradedInstancePercent": 5, "pauseTimeBetweenBatches": "PT2S"});
    let frontend = rolling_set(&t, 3, policy).await;
    let load = Load::start(frontend, "/", 2);
    change_model(&t, BROKEN).await;
    // The batch waits up to five minutes (15 s here) for the instance to turn healthy.
    let (faulted, _) = wait_for(&t, "Faulted", Duration::from_secs(90)).await;
    let report = load.stop().await;
    let props = &faulted["properties"];
    assert_eq!(
        props["error"]["code"], "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade",
        "{faulted}"
    );
    assert_eq!(
        props["progress"],
        json!({"successfulInstanceCount": 0, "failedInstanceCount": 1, "inProgressInstanceCount": 0, "pendingInstanceCount": 2})
    );
    assert_eq!(report.failed, 0, "failed requests: {:?}", report.failures);
    // The two instances not upgraded still serve; the broken one is out of rotation.
    let names = names_behind(frontend, 20).await;
    assert_eq!(names.len(), 2, "{names:?}");
    let latest_applied: Vec<bool> = instances(&t)
        .await
        .iter()
        .map(|i| i["properties"]["latestModelApplied"] == true)
        .collect();
    assert_eq!(latest_applied.iter().filter(|b| **b).count(), 1);
    // Nothing is running any more.
    let (s, e) = send(t.client.post(t.url(&format!(
        "{}/rollingUpgrades/cancel?api-version={COMPUTE}",
        vmss()
    ))))
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("OperationNotAllowed"))
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_surge_replaces_instances_and_an_os_upgrade_reimages_them() {
    let t = start().await;
    let policy = json!({"maxBatchInstancePercent": 50, "maxSurge": true});
    let frontend = rolling_set(&t, 2, policy).await;
    let load = Load::start(frontend, "/", 2);
    change_model(&t, V2).await;
    wait_for(&t, "Completed", Duration::from_secs(120)).await;
    let report = load.stop().await;
    assert_eq!(report.failed, 0, "failed requests: {:?}", report.failures);
    let ids: Vec<String> = instances(&t)
        .await
        .iter()
        .map(|i| i["instanceId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["2", "3"], "new instances replaced the old ones");
    let (_, doc) = t.get(&format!("{}?api-version={COMPUTE}", vmss())).await;
    assert_eq!(doc["sku"]["capacity"], 2);

    // An OS image upgrade: an LRO that ends with the upgrade, listed in the history.
    let resp = t
        .client
        .post(t.url(&format!(
            "{}/osRollingUpgrade?api-version={COMPUTE}",
            vmss()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let op = resp.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_string();
    let (s, e) = send(t.client.post(t.url(&format!(
        "{}/osRollingUpgrade?api-version={COMPUTE}",
        vmss()
    ))))
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("OperationNotAllowed")),
        "one at a time"
    );
    let end = eventually(Duration::from_secs(120), || async {
        let (_, s) = send(t.client.get(&op)).await;
        (s["status"] != "InProgress").then_some(s)
    })
    .await;
    assert_eq!(end["status"], "Succeeded", "{end}");
    let (_, history) = t
        .get(&format!(
            "{}/osUpgradeHistory?api-version={COMPUTE}",
            vmss()
        ))
        .await;
    let entries = history["value"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        1,
        "model upgrades are not OS upgrades: {history}"
    );
    assert_eq!(
        entries[0]["properties"]["runningStatus"]["code"],
        "Completed"
    );
    assert_eq!(entries[0]["properties"]["startedBy"], "User");
    assert_eq!(
        entries[0]["properties"]["targetImageReference"]["publisher"],
        "Canonical"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_azures_errors() {
    let t = start().await;
    network(&t).await;
    let path = format!("{}?api-version={COMPUTE}", vmss());
    let mut body = vmss_body(1);
    body["properties"]["upgradePolicy"]["rollingUpgradePolicy"] =
        json!({"maxBatchInstancePercent": 101});
    let (s, e) = t.put(&path, body).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("InvalidParameter")),
        "{e}"
    );
    let mut body = vmss_body(1);
    body["properties"]["automaticRepairsPolicy"] = json!({"enabled": true, "gracePeriod": "PT5M"});
    let (s, e) = t.put(&path, body).await;
    assert_eq!(
        (s, e["error"]["target"].as_str()),
        (400, Some("gracePeriod")),
        "{e}"
    );
    let mut body = vmss_body(1);
    body["properties"]["virtualMachineProfile"]["scheduledEventsProfile"] =
        json!({"terminateNotificationProfile": {"enable": true, "notBeforeTimeout": "PT20M"}});
    let (s, e) = t.put(&path, body).await;
    assert_eq!(s, 400, "{e}");
    // A Manual scale set refuses an OS rolling upgrade.
    let mut body = vmss_body(1);
    body["properties"]["upgradePolicy"] = json!({"mode": "Manual"});
    let (_, end) = put_and_wait(&t, &path, body).await;
    assert_eq!(end, "Succeeded");
    let (s, e) = send(t.client.post(t.url(&format!(
        "{}/osRollingUpgrade?api-version={COMPUTE}",
        vmss()
    ))))
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("OperationNotAllowed")),
        "{e}"
    );
    let (s, e) = send(t.client.post(t.url(&format!(
        "{}/rollingUpgrades/cancel?api-version={COMPUTE}",
        vmss()
    ))))
    .await;
    assert_eq!(s, 409, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no ongoing Rolling Upgrade")
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_resumes_after_a_restart() {
    let on_disk = |dir: &tempfile::TempDir| armlet::config::ServeConfig {
        time_scale: SCALE,
        in_memory: false,
        ..armlet::config::ServeConfig::for_tests(dir.path().to_path_buf())
    };
    let dir = tempfile::tempdir().unwrap();
    let t = TestArmlet::start_with(on_disk(&dir), dir).await;
    // Two batches of one with a 3-minute pause (9 s here) between them.
    let policy = json!({"maxBatchInstancePercent": 50, "pauseTimeBetweenBatches": "PT3M"});
    rolling_set(&t, 2, policy).await;
    change_model(&t, V2).await;
    eventually(Duration::from_secs(60), || async {
        let (_, l) = latest(&t).await;
        (l["properties"]["progress"]["successfulInstanceCount"] == 1).then_some(())
    })
    .await;
    let dir = t.stop().await;

    let t = TestArmlet::start_with(on_disk(&dir), dir).await;
    let (_, resumed) = latest(&t).await;
    assert_eq!(
        resumed["properties"]["runningStatus"]["code"], "RollingForward",
        "{resumed}"
    );
    assert_eq!(
        resumed["properties"]["progress"]["successfulInstanceCount"],
        1
    );
    let (done, _) = wait_for(&t, "Completed", Duration::from_secs(90)).await;
    assert_eq!(done["properties"]["progress"]["successfulInstanceCount"], 2);
    for i in instances(&t).await {
        assert_eq!(i["properties"]["latestModelApplied"], true, "{i}");
    }
    t.stop().await;
}
