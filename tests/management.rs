//! armlet's own management surface over HTTPS: health, clock, reset, unknown routes, and
//! each injected fault's effect on traffic through a load-balancer frontend.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use base64::Engine;
use common::http::{http_get, instance_name, rotation};
use common::scale_set::{COMPUTE, bound, network, put_and_wait, rid, vmss_body};
use common::{TestArmlet, client_for, eventually, rg_path, send};
use serde_json::{Value, json};

async fn post(t: &TestArmlet, path: &str, body: Value) -> (u16, Value) {
    send(t.client.post(t.url(path)).json(&body)).await
}

#[tokio::test]
async fn health_answers_ready_with_the_clock() {
    let t = TestArmlet::start().await;
    let (s, h) = t.get("/_armlet/health").await;
    assert_eq!(s, 200, "{h}");
    assert_eq!(h["status"], "ready");
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));
    assert!(h["now"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn unknown_routes_methods_and_bodies_get_armlets_error_shape() {
    let t = TestArmlet::start().await;
    let (s, e) = t.get("/_armlet/nope").await;
    assert_eq!(s, 404);
    assert_eq!(e["error"]["code"], "UnknownManagementRoute", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'GET /_armlet/nope'"),
        "{e}"
    );
    let (s, e) = t.get("/_armlet").await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("UnknownManagementRoute"))
    );
    let (s, e) = t.delete("/_armlet/health").await;
    assert_eq!(s, 405);
    assert_eq!(e["error"]["code"], "MethodNotAllowed", "{e}");
    let (s, e) = send(
        t.client
            .post(t.url("/_armlet/clock/advance"))
            .body("{not json"),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(e["error"]["code"], "InvalidRequestBody", "{e}");
    // ARM routes are untouched by the prefix.
    let (s, _) = t.get("/subscriptions?api-version=2022-12-01").await;
    assert_eq!(s, 200);
    // Like ARM routes, everything but readiness needs a token.
    let plain = client_for(&t.armlet.ca_cert());
    let (s, _) = send(plain.get(t.url("/_armlet/health"))).await;
    assert_eq!(s, 200);
    for (method, path) in [
        ("POST", "/_armlet/reset"),
        ("GET", "/_armlet/clock"),
        ("POST", "/_armlet/clock/advance"),
        ("GET", "/_armlet/faults"),
        ("GET", "/_armlet/snapshot"),
    ] {
        let rb = plain.request(method.parse().unwrap(), t.url(path));
        let (s, e) = send(rb.json(&json!({"duration": "PT1M"}))).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (401, Some("AuthenticationFailed")),
            "{method} {path}: {e}"
        );
    }
    let (_, clock) = t.get("/_armlet/clock").await;
    assert!(clock["now"].is_string(), "{clock}");
}

#[tokio::test]
async fn the_clock_moves_forward_only() {
    let t = TestArmlet::start().await;
    let (_, before) = t.get("/_armlet/clock").await;
    let (s, a) = post(&t, "/_armlet/clock/advance", json!({"duration": "PT10M"})).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["advancedBy"], "PT10M");
    assert!(a["advancedSeconds"].as_f64().unwrap() >= 600.0);
    let parse = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert!((parse(&a["now"]) - parse(&before["now"])).num_seconds() >= 600);
    let (s, a) = post(&t, "/_armlet/clock/advance", json!({"seconds": 30})).await;
    assert_eq!(s, 200);
    assert!(a["advancedSeconds"].as_f64().unwrap() >= 630.0);
    for bad in [
        json!({"seconds": -5}),
        json!({"duration": "-PT1M"}),
        json!({"duration": "soon"}),
        json!({}),
        json!({"seconds": 1, "duration": "PT1S"}),
    ] {
        let (s, e) = post(&t, "/_armlet/clock/advance", bad.clone()).await;
        assert_eq!(s, 400, "{bad}");
        assert_eq!(e["error"]["code"], "InvalidClockAdvance", "{bad}: {e}");
    }
    let (_, after) = t.get("/_armlet/clock").await;
    assert_eq!(
        after["advancedSeconds"], a["advancedSeconds"],
        "refusals moved nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_removes_everything_and_stops_instances() {
    let t = TestArmlet::start().await;
    let ip = network(&t).await;
    let vmss = rid("Microsoft.Compute/virtualMachineScaleSets", "web");
    let (_, end) = put_and_wait(&t, &format!("{vmss}?api-version={COMPUTE}"), vmss_body(2)).await;
    assert_eq!(end, "Succeeded");
    let (_, view) = t
        .get(&format!(
            "{vmss}/virtualMachines/0/instanceView?api-version={COMPUTE}"
        ))
        .await;
    let frontend = SocketAddr::from((ip.parse::<std::net::Ipv4Addr>().unwrap(), bound(&view, 80)));
    eventually(Duration::from_secs(30), || async {
        http_get(frontend, "/").await.filter(|(c, _)| *c == 200)
    })
    .await;

    // An operation in progress: refused, nothing changes.
    sqlx::query("INSERT INTO operations (id, subscription, kind, target, status, start_time) VALUES ('busy', 's', 'deployment', '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Resources/deployments/d', 'InProgress', 'x')")
        .execute(t.armlet.app.store.pool())
        .await
        .unwrap();
    let (s, e) = post(&t, "/_armlet/reset", json!({})).await;
    assert_eq!(s, 409, "{e}");
    assert_eq!(e["error"]["code"], "ResetDuringOperation");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("deployments/d")
    );
    assert_eq!(t.get(&rg_path("rg")).await.0, 200);
    sqlx::query("UPDATE operations SET status = 'Succeeded' WHERE id = 'busy'")
        .execute(t.armlet.app.store.pool())
        .await
        .unwrap();

    let (s, r) = post(&t, "/_armlet/reset", json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["instancesStopped"], 2);
    assert!(r["removed"]["resources"].as_u64().unwrap() >= 5, "{r}");
    assert!(t.armlet.app.runtime.supervisor.list().is_empty());
    assert_eq!(t.get(&rg_path("rg")).await.0, 404);
    let (_, groups) = t
        .get(&format!(
            "/subscriptions/{}/resourcegroups?api-version=2024-11-01",
            common::SUB
        ))
        .await;
    assert_eq!(groups["value"], json!([]));
    assert!(
        http_get(frontend, "/").await.is_none(),
        "the frontend is gone"
    );
    // armlet is usable again at once.
    let (s, _) = t
        .put(&rg_path("again"), json!({"location": "eastus"}))
        .await;
    assert_eq!(s, 201);
}

/// A load balancer with a two-instance scale set behind it, both in rotation.
struct Lab {
    t: TestArmlet,
    vmss: String,
    frontend: SocketAddr,
    /// Each instance's own HTTP address (not through the load balancer).
    direct: [SocketAddr; 2],
}

impl Lab {
    async fn start() -> Lab {
        Lab::with(vmss_body(2)).await
    }

    /// The same with the scale set `body` (of two instances).
    async fn with(body: Value) -> Lab {
        let t = TestArmlet::start().await;
        let ip = network(&t).await;
        let vmss = rid("Microsoft.Compute/virtualMachineScaleSets", "web");
        let (_, end) = put_and_wait(&t, &format!("{vmss}?api-version={COMPUTE}"), body).await;
        assert_eq!(end, "Succeeded");
        let mut direct = Vec::new();
        let mut frontend = None;
        for i in 0..2 {
            let (_, view) = t
                .get(&format!(
                    "{vmss}/virtualMachines/{i}/instanceView?api-version={COMPUTE}"
                ))
                .await;
            let addr: Ipv4Addr = view["armlet"]["bindAddress"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            direct.push(SocketAddr::from((addr, bound(&view, 80))));
            frontend = Some(SocketAddr::from((
                ip.parse::<Ipv4Addr>().unwrap(),
                bound(&view, 80),
            )));
        }
        let lab = Lab {
            t,
            vmss,
            frontend: frontend.unwrap(),
            direct: [direct[0], direct[1]],
        };
        lab.rotation_is(&["web_0", "web_1"]).await;
        lab
    }

    fn instance(&self, i: u32) -> String {
        format!("{}/virtualMachines/{i}", self.vmss)
    }

    /// Injects a fault; returns its id.
    async fn inject(&self, kind: &str, target: &str, extra: Value) -> String {
        let mut body = json!({"kind": kind, "target": target});
        if let (Some(b), Some(x)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(x.clone());
        }
        let (s, f) = post(&self.t, "/_armlet/faults", body).await;
        assert_eq!(s, 201, "{f}");
        assert_eq!(f["kind"], kind);
        f["id"].as_str().unwrap().to_string()
    }

    async fn clear(&self, id: &str) {
        let (s, f) = self.t.delete(&format!("/_armlet/faults/{id}")).await;
        assert_eq!(s, 200, "{f}");
        assert_eq!(f["id"], id);
    }

    /// Waits until every one of 12 requests through the frontend succeeds and exactly
    /// `names` answer.
    async fn rotation_is(&self, names: &[&str]) {
        let want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        eventually(Duration::from_secs(40), || async {
            (rotation(self.frontend, 12).await.as_ref() == Some(&want)).then_some(())
        })
        .await;
    }

    async fn process_state(&self, i: u32) -> Value {
        let (_, view) = self
            .t
            .get(&format!(
                "{}/instanceView?api-version={COMPUTE}",
                self.instance(i)
            ))
            .await;
        view["armlet"]["process"]["state"].clone()
    }

    /// `n` fresh requests through the frontend: who answered (`None`: refused or reset)
    /// and how long each took.
    async fn sample(&self, n: usize) -> Vec<(Option<String>, Duration)> {
        let mut out = Vec::new();
        for _ in 0..n {
            let start = Instant::now();
            let name = http_get(self.frontend, "/")
                .await
                .filter(|(c, _)| *c == 200)
                .and_then(|(_, text)| instance_name(&text));
            out.push((name, start.elapsed()));
        }
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_failure_and_freeze_take_an_instance_out_of_rotation_until_cleared() {
    let lab = Lab::start().await;
    let web0 = lab.instance(0);

    // probeFailure: web_0 still answers directly, but its probe fails and it leaves rotation.
    let id = lab.inject("probeFailure", &web0, json!({})).await;
    lab.rotation_is(&["web_1"]).await;
    assert_eq!(
        http_get(lab.direct[0], "/health").await.map(|r| r.0),
        Some(200)
    );
    let (_, listed) = lab.t.get("/_armlet/faults").await;
    assert_eq!(listed["value"][0]["id"], id.as_str());
    assert_eq!(listed["value"][0]["target"], web0.as_str());
    // Recorded in the activity log, where `az monitor activity-log list` reads.
    let (_, events) = lab
        .t
        .get(&format!(
            "/subscriptions/{}/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01",
            common::SUB
        ))
        .await;
    let ops: Vec<&str> = events["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["operationName"]["value"].as_str())
        .collect();
    assert!(
        ops.contains(&"armlet/faults/probeFailure/action"),
        "{ops:?}"
    );
    lab.clear(&id).await;
    lab.rotation_is(&["web_0", "web_1"]).await;
    assert_eq!(lab.t.get(&format!("/_armlet/faults/{id}")).await.0, 404);

    // freeze: the process is stopped (SIGSTOP); a connection to it stalls, its probe times
    // out and it leaves rotation; cleared, it continues where it was.
    let id = lab.inject("freeze", &web0, json!({})).await;
    assert_eq!(
        http_get(lab.direct[0], "/").await,
        None,
        "a frozen instance does not answer"
    );
    lab.rotation_is(&["web_1"]).await;
    assert_eq!(lab.process_state(0).await, "running", "frozen, not exited");
    let (_, view) = lab
        .t
        .get(&format!("{}/instanceView?api-version={COMPUTE}", web0))
        .await;
    assert_eq!(
        view["armlet"]["faults"],
        json!([{"id": id, "kind": "freeze"}])
    );
    lab.clear(&id).await;
    assert_eq!(
        http_get(lab.direct[0], "/health").await.map(|r| r.0),
        Some(200)
    );
    lab.rotation_is(&["web_0", "web_1"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_and_scale_set_down_stop_processes_until_cleared() {
    let lab = Lab::start().await;

    // kill: the process dies (SIGKILL) and stays down like a crash; cleared, it restarts.
    let id = lab.inject("kill", &lab.instance(0), json!({})).await;
    eventually(Duration::from_secs(10), || async {
        (lab.process_state(0).await == "exited").then_some(())
    })
    .await;
    lab.rotation_is(&["web_1"]).await;
    // A second kill of the same instance is refused while the first is active.
    let (s, e) = post(
        &lab.t,
        "/_armlet/faults",
        json!({"kind": "kill", "target": lab.instance(0)}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("FaultAlreadyActive")),
        "{e}"
    );
    lab.clear(&id).await;
    lab.rotation_is(&["web_0", "web_1"]).await;
    assert_eq!(lab.process_state(0).await, "running");

    // scaleSetDown: every instance stops and the frontend has no backend left.
    let id = lab.inject("scaleSetDown", &lab.vmss, json!({})).await;
    eventually(Duration::from_secs(20), || async {
        let states = [lab.process_state(0).await, lab.process_state(1).await];
        (states.iter().all(|s| s == "stopped")).then_some(())
    })
    .await;
    assert!(
        lab.sample(4).await.iter().all(|(n, _)| n.is_none()),
        "nothing answers through the frontend"
    );
    // Freezing a stopped instance is refused: there is no process.
    let (s, e) = post(
        &lab.t,
        "/_armlet/faults",
        json!({"kind": "freeze", "target": lab.instance(1)}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("FaultTargetNotRunning")),
        "{e}"
    );
    lab.clear(&id).await;
    lab.rotation_is(&["web_0", "web_1"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_and_dropped_connections_affect_only_new_flows_to_that_backend() {
    let lab = Lab::start().await;
    let latency = Duration::from_millis(1500);

    // latency: every flow web_0 answers took at least the latency; web_1 is not slowed.
    let id = lab
        .inject("latency", &lab.instance(0), json!({"latencyMs": 1500}))
        .await;
    let (_, f) = lab.t.get(&format!("/_armlet/faults/{id}")).await;
    assert_eq!(f["latencyMs"], 1500);
    let samples = lab.sample(10).await;
    let slow: Vec<_> = samples
        .iter()
        .filter(|(n, _)| n.as_deref() == Some("web_0"))
        .collect();
    let fast: Vec<_> = samples
        .iter()
        .filter(|(n, _)| n.as_deref() == Some("web_1"))
        .collect();
    assert_eq!(slow.len() + fast.len(), samples.len(), "{samples:?}");
    assert!(!slow.is_empty() && !fast.is_empty(), "{samples:?}");
    assert!(slow.iter().all(|(_, d)| *d >= latency), "{samples:?}");
    assert!(fast.iter().all(|(_, d)| *d < latency), "{samples:?}");
    lab.clear(&id).await;
    let samples = lab.sample(10).await;
    assert!(
        samples.iter().all(|(n, d)| n.is_some() && *d < latency),
        "{samples:?}"
    );

    // dropConnections: new flows that pick web_0 are reset; web_1 answers the rest.
    let id = lab
        .inject("dropConnections", &lab.instance(0), json!({}))
        .await;
    let samples = lab.sample(20).await;
    assert!(samples.iter().any(|(n, _)| n.is_none()), "{samples:?}");
    assert!(
        samples
            .iter()
            .all(|(n, _)| n.is_none() || n.as_deref() == Some("web_1")),
        "{samples:?}"
    );
    // web_0 itself is fine: only the load balancer's path to it drops.
    assert_eq!(
        http_get(lab.direct[0], "/health").await.map(|r| r.0),
        Some(200)
    );
    lab.clear(&id).await;
    lab.rotation_is(&["web_0", "web_1"]).await;
    assert!(lab.sample(20).await.iter().all(|(n, _)| n.is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_fault_requests_get_clear_errors_and_change_nothing() {
    let lab = Lab::start().await;
    let missing = format!("{}/virtualMachines/7", lab.vmss);
    for (body, status, code) in [
        (
            json!({"kind": "probeFailure", "target": missing}),
            404,
            "FaultTargetNotFound",
        ),
        (
            json!({"kind": "scaleSetDown", "target": rid("Microsoft.Compute/virtualMachineScaleSets", "nope")}),
            404,
            "FaultTargetNotFound",
        ),
        (
            json!({"kind": "explode", "target": lab.instance(0)}),
            400,
            "InvalidFault",
        ),
        (
            json!({"kind": "latency", "target": lab.instance(0)}),
            400,
            "InvalidFault",
        ),
        (
            json!({"kind": "latency", "target": lab.instance(0), "latencyMs": 0}),
            400,
            "InvalidFault",
        ),
        (
            json!({"kind": "freeze", "target": "web_0"}),
            400,
            "InvalidFaultTarget",
        ),
        (json!({"kind": "freeze"}), 400, "InvalidRequestBody"),
        (
            json!({"kind": "freeze", "target": lab.instance(0), "extra": 1}),
            400,
            "InvalidRequestBody",
        ),
    ] {
        let (s, e) = post(&lab.t, "/_armlet/faults", body.clone()).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {e}"
        );
        assert!(
            e["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let (s, e) = lab.t.delete("/_armlet/faults/no-such-fault").await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("FaultNotFound"))
    );
    let (_, listed) = lab.t.get("/_armlet/faults").await;
    assert_eq!(listed["value"], json!([]));
    lab.rotation_is(&["web_0", "web_1"]).await;

    // A fault whose instance is deleted goes with it: a later instance of the same name
    // does not inherit it.
    lab.inject("probeFailure", &lab.instance(1), json!({}))
        .await;
    let (s, b) = lab
        .t
        .delete(&format!("{}?api-version={COMPUTE}", lab.instance(1)))
        .await;
    assert!(s < 300, "{s}: {b}");
    eventually(Duration::from_secs(30), || async {
        let (_, listed) = lab.t.get("/_armlet/faults").await;
        (listed["value"] == json!([])).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_advance_makes_an_hourly_probe_happen_now() {
    let lab = Lab::start().await;
    let t = &lab.t;
    // The probe now runs once an hour (it runs once at once when its interval changes).
    let lb = rid("Microsoft.Network/loadBalancers", "lb");
    let (_, mut body) = t.get(&format!("{lb}?api-version=2023-04-01")).await;
    body["properties"]["probes"][0]["properties"]["intervalInSeconds"] = json!(3600);
    let (s, b) = t.put(&format!("{lb}?api-version=2023-04-01"), body).await;
    assert!(s < 300, "{b}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    lab.rotation_is(&["web_0", "web_1"]).await;

    // A probe failure is only seen by the next probe, an hour away...
    let id = lab
        .inject("probeFailure", &lab.instance(0), json!({}))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        rotation(lab.frontend, 12).await,
        Some(vec!["web_0".to_string(), "web_1".to_string()]),
        "no probe ran yet"
    );
    // ...which an hour's jump of the clock brings now.
    let start = Instant::now();
    let (s, a) = post(t, "/_armlet/clock/advance", json!({"duration": "PT1H"})).await;
    assert_eq!(s, 200, "{a}");
    lab.rotation_is(&["web_1"]).await;
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    // Cleared, web_0 passes the probe after the next jump.
    lab.clear(&id).await;
    post(t, "/_armlet/clock/advance", json!({"seconds": 3600})).await;
    lab.rotation_is(&["web_0", "web_1"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_advance_ends_a_rolling_upgrade_pause_and_reset_waits_for_the_upgrade() {
    let mut body = vmss_body(2);
    body["properties"]["upgradePolicy"]["rollingUpgradePolicy"] =
        json!({"maxBatchInstancePercent": 50, "pauseTimeBetweenBatches": "PT1H"});
    let lab = Lab::with(body).await;
    let t = &lab.t;
    let latest = || async {
        t.get(&format!(
            "{}/rollingUpgrades/latest?api-version={COMPUTE}",
            lab.vmss
        ))
        .await
        .1["properties"]
            .clone()
    };
    // A model change rolls one instance, then pauses for an hour.
    let custom = base64::engine::general_purpose::STANDARD.encode("#cloud-config\n");
    let change = json!({"location": "eastus", "properties": {"virtualMachineProfile": {"osProfile": {"customData": custom}}}});
    let (_, end) = put_and_wait(t, &format!("{}?api-version={COMPUTE}", lab.vmss), change).await;
    assert_eq!(end, "Succeeded");
    eventually(Duration::from_secs(60), || async {
        (latest().await["progress"]["successfulInstanceCount"] == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let paused = latest().await;
    assert_eq!(
        paused["runningStatus"]["code"], "RollingForward",
        "{paused}"
    );
    assert_eq!(paused["progress"]["successfulInstanceCount"], 1, "{paused}");

    // A reset now would leave the upgrade writing into an empty store: refused.
    let (s, e) = post(t, "/_armlet/reset", json!({})).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("ResetDuringOperation")),
        "{e}"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rolling upgrade"),
        "{e}"
    );
    assert_eq!(
        t.armlet.app.runtime.supervisor.list().len(),
        2,
        "nothing stopped"
    );

    // An hour later, at once: the second batch runs.
    let start = Instant::now();
    let (s, _) = post(t, "/_armlet/clock/advance", json!({"duration": "PT1H"})).await;
    assert_eq!(s, 200);
    eventually(Duration::from_secs(40), || async {
        (latest().await["progress"]["successfulInstanceCount"] == 2).then_some(())
    })
    .await;
    assert!(start.elapsed() < Duration::from_secs(40));
    // armlet pauses after the last batch too; one more hour and the upgrade is over.
    let (s, _) = post(t, "/_armlet/clock/advance", json!({"seconds": 3600})).await;
    assert_eq!(s, 200);
    eventually(Duration::from_secs(20), || async {
        (latest().await["runningStatus"]["code"] == "Completed").then_some(())
    })
    .await;
    let (s, r) = post(t, "/_armlet/reset", json!({})).await;
    assert_eq!(s, 200, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_instance_does_not_hold_up_shutdown() {
    let lab = Lab::start().await;
    lab.inject("freeze", &lab.instance(0), json!({})).await;
    lab.inject("freeze", &lab.instance(1), json!({})).await;
    // Continued before they are stopped, they end on SIGTERM rather than after the grace
    // period (3 s in tests) and SIGKILL.
    let start = Instant::now();
    lab.t.stop().await;
    assert!(
        start.elapsed() < Duration::from_millis(2500),
        "{:?}",
        start.elapsed()
    );
}
