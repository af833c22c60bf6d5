//! Chaos in the data plane: many concurrent flows through two load balancers' frontends
//! while instances of the first scale set are killed (SIGKILL, then restarted through the
//! API) or frozen (SIGSTOP, then SIGCONT) at random.
//!
//! A failed flow is explained when it overlaps a detection window: from the moment an
//! instance broke to `intervalInSeconds × probeThreshold` (Azure's detection time) plus one
//! probe timeout and a margin later; a flow that fails outside every window is a failure
//! armlet caused. A flow answered by an instance of the other scale set is misrouted.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::chaos_kill::instance_processes;
use crate::common::http::{http_get, instance_name};
use crate::common::rng::Rng;
use crate::common::scale_set::{COMPUTE, NET, put_and_wait, rid};
use crate::common::{TestArmlet, eventually, rg_path};

#[derive(Debug, Default)]
pub struct FlowFigures {
    pub flows: u64,
    pub failed: u64,
    pub unexplained: u64,
    pub misrouted: u64,
    pub events: u64,
}

/// Seconds of Azure time between probes and the consecutive failures that flip a backend.
const INTERVAL: u64 = 5;
const THRESHOLD: u64 = 2;
pub const TIME_SCALE: f64 = 10.0;
const FLOW_TIMEOUT: Duration = Duration::from_secs(2);

struct Flow {
    start: Instant,
    end: Instant,
    frontend: usize,
    answer: Option<String>,
}

async fn load_balancer(t: &TestArmlet, name: &str) -> String {
    let ip = rid("Microsoft.Network/publicIPAddresses", &format!("{name}-ip"));
    let (s, ipdoc) = t
        .put(
            &format!("{ip}?api-version={NET}"),
            json!({"location": "eastus", "sku": {"name": "Standard"},
        "properties": {"publicIPAllocationMethod": "Static"}}),
        )
        .await;
    assert_eq!(s, 201, "{ipdoc}");
    let lb = rid("Microsoft.Network/loadBalancers", name);
    let fe = format!("{lb}/frontendIPConfigurations/fe");
    let (s, body) = t.put(&format!("{lb}?api-version={NET}"), json!({"location": "eastus", "sku": {"name": "Standard"}, "properties": {
        "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": ip}}}],
        "backendAddressPools": [{"name": "pool"}],
        "probes": [{"name": "hp", "properties": {"protocol": "Http", "port": 80, "requestPath": "/health",
            "intervalInSeconds": INTERVAL, "numberOfProbes": THRESHOLD, "probeThreshold": THRESHOLD}}],
        "loadBalancingRules": [{"name": "http", "properties": {"frontendIPConfiguration": {"id": fe},
            "backendAddressPool": {"id": format!("{lb}/backendAddressPools/pool")}, "probe": {"id": format!("{lb}/probes/hp")},
            "protocol": "Tcp", "frontendPort": 80, "backendPort": 80, "idleTimeoutInMinutes": 4}}]}})).await;
    assert_eq!(s, 201, "{body}");
    ipdoc["properties"]["ipAddress"]
        .as_str()
        .unwrap()
        .to_string()
}

fn scale_set(lb: &str, capacity: u64) -> Value {
    let lb = rid("Microsoft.Network/loadBalancers", lb);
    json!({"location": "eastus", "sku": {"name": "Standard_B1s", "capacity": capacity},
        "properties": {"orchestrationMode": "Uniform", "upgradePolicy": {"mode": "Manual"}, "virtualMachineProfile": {
            "networkProfile": {"healthProbe": {"id": format!("{lb}/probes/hp")}, "networkInterfaceConfigurations": [{"name": "nic", "properties": {"primary": true,
                "ipConfigurations": [{"name": "ipc", "properties": {
                    "subnet": {"id": format!("{}/subnets/sub", rid("Microsoft.Network/virtualNetworks", "vnet"))},
                    "loadBalancerBackendAddressPools": [{"id": format!("{lb}/backendAddressPools/pool")}]}}]}}]}}}})
}

async fn rotation(frontend: SocketAddr, want: usize) -> BTreeSet<String> {
    eventually(Duration::from_secs(60), || async {
        let mut seen = BTreeSet::new();
        for _ in 0..want * 6 {
            let (_, text) = http_get(frontend, "/").await?;
            seen.insert(instance_name(&text)?);
        }
        (seen.len() == want).then_some(seen)
    })
    .await
}

fn pid_of(dir: &Path, name: &str) -> Option<u32> {
    instance_processes(dir)
        .into_iter()
        .find(|(_, n)| n == name)
        .map(|(p, _)| p)
}

fn signal(pid: u32, sig: rustix::process::Signal) {
    if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(p, sig);
    }
}

pub async fn run(
    t: &TestArmlet,
    flows: u64,
    concurrency: usize,
    events: u64,
    seed: u64,
) -> FlowFigures {
    t.put(&rg_path("rg"), json!({"location": "eastus"})).await;
    let (s, _) = t.put(&format!("{}?api-version={NET}", rid("Microsoft.Network/virtualNetworks", "vnet")),
        json!({"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "sub", "properties": {"addressPrefix": "10.0.0.0/24"}}]}})).await;
    assert_eq!(s, 201);
    let port = t.armlet.app.runtime.ports.effective(80);
    let fa: SocketAddr = format!("{}:{port}", load_balancer(t, "lba").await)
        .parse()
        .unwrap();
    let fb: SocketAddr = format!("{}:{port}", load_balancer(t, "lbb").await)
        .parse()
        .unwrap();
    let a = rid("Microsoft.Compute/virtualMachineScaleSets", "a");
    assert_eq!(
        put_and_wait(
            t,
            &format!("{a}?api-version={COMPUTE}"),
            scale_set("lba", 4)
        )
        .await
        .1,
        "Succeeded"
    );
    assert_eq!(
        put_and_wait(
            t,
            &format!(
                "{}?api-version={COMPUTE}",
                rid("Microsoft.Compute/virtualMachineScaleSets", "b")
            ),
            scale_set("lbb", 2)
        )
        .await
        .1,
        "Succeeded"
    );
    let members = [rotation(fa, 4).await, rotation(fb, 2).await];

    let started = Instant::now();
    let detect = Duration::from_secs_f64((INTERVAL * THRESHOLD) as f64 / TIME_SCALE);
    // One probe timeout (0.5 s real at this scale) and a margin for the proxy's update.
    let window = detect + Duration::from_millis(500) + Duration::from_millis(700);
    let windows: Arc<Mutex<Vec<(Instant, Instant)>>> = Arc::default();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));

    // The chaos: one instance of `a` broken at a time, then mended.
    let chaos = {
        let (windows, done, dir) = (windows.clone(), done.clone(), t.dir.path().to_path_buf());
        let client = t.client.clone();
        let restart = t.url(&format!("{a}/restart?api-version={COMPUTE}"));
        let mut rng = Rng::new(seed);
        tokio::spawn(async move {
            let mut n = 0;
            while n < events && !done.load(std::sync::atomic::Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(rng.range(300, 900))).await;
                let k = rng.below(4);
                let Some(pid) = pid_of(&dir, &format!("a_{k}")) else {
                    continue;
                };
                let at = Instant::now();
                windows.lock().unwrap().push((at, at + window));
                if rng.chance(0.5) {
                    signal(pid, rustix::process::Signal::STOP);
                    tokio::time::sleep(Duration::from_millis(rng.range(800, 2000))).await;
                    signal(pid, rustix::process::Signal::CONT);
                } else {
                    signal(pid, rustix::process::Signal::KILL);
                    tokio::time::sleep(Duration::from_millis(rng.range(800, 2000))).await;
                    let at = Instant::now();
                    let _ = client
                        .post(&restart)
                        .json(&json!({"instanceIds": [k.to_string()]}))
                        .send()
                        .await;
                    windows.lock().unwrap().push((at, Instant::now() + window));
                }
                // Let it come back before the next one.
                let _ = tokio::time::timeout(Duration::from_secs(10), async {
                    while pid_of(&dir, &format!("a_{k}")).is_none() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                })
                .await;
                tokio::time::sleep(detect * 2).await;
                n += 1;
            }
            n
        })
    };

    let results: Arc<Mutex<Vec<Flow>>> = Arc::default();
    let gate = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut rng = Rng::new(seed.wrapping_add(1));
    let mut handles = Vec::new();
    // The flows are spread over the time the chaos needs (about 3 s an event).
    let gap = Duration::from_secs(3 * events.max(1)) / flows.max(1) as u32;
    for _ in 0..flows {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let frontend = if rng.chance(0.85) { 0 } else { 1 };
        let results = results.clone();
        handles.push(tokio::spawn(async move {
            let start = Instant::now();
            let addr = [fa, fb][frontend];
            let answer = tokio::time::timeout(FLOW_TIMEOUT, http_get(addr, "/"))
                .await
                .ok()
                .flatten()
                .filter(|(code, _)| *code == 200)
                .and_then(|(_, text)| instance_name(&text));
            results.lock().unwrap().push(Flow {
                start,
                end: Instant::now(),
                frontend,
                answer,
            });
            drop(permit);
        }));
        tokio::time::sleep(gap).await;
    }
    for h in handles {
        let _ = h.await;
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let events_done = chaos.await.unwrap();
    let windows = windows.lock().unwrap().clone();
    let mut f = FlowFigures {
        events: events_done,
        ..Default::default()
    };
    for flow in results.lock().unwrap().iter() {
        f.flows += 1;
        match &flow.answer {
            None => {
                f.failed += 1;
                let explained = flow.frontend == 0
                    && windows
                        .iter()
                        .any(|(from, to)| flow.start <= *to && flow.end >= *from);
                if !explained {
                    f.unexplained += 1;
                    eprintln!(
                        "unexplained failure to frontend {} at {:?}",
                        flow.frontend,
                        flow.start - started
                    );
                }
            }
            Some(name) if !members[flow.frontend].contains(name) => f.misrouted += 1,
            Some(_) => {}
        }
    }
    f
}
