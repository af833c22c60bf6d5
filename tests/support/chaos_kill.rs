//! Chaos: `kill -9` of the armlet binary at random moments while clients write. Each
//! iteration starts armlet on the same data directory, checks what the previous one left,
//! then runs concurrent writers (new resource groups, updates of one public IP's tag), a
//! template deployment and a scale-out, and kills armlet after a random delay.
//!
//! After every restart: each acknowledged write is there (an unacknowledged one may or may
//! not be), no resource is half-written (every listed resource reads back, provisioning ends,
//! a scale set has exactly `capacity` instances and each instance's NICs exist), the instance
//! processes are exactly the stored model, and no process of the killed run survives.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::process::{ArmletProcess, free_port, wait_ready};
use crate::common::rng::Rng;
use crate::common::{SUB, eventually, send};

#[derive(Debug, Default)]
pub struct KillFigures {
    pub iterations: u64,
    pub acknowledged: u64,
    pub lost: Vec<String>,
    pub half_written: Vec<String>,
    pub model_mismatches: u64,
    pub orphans: u64,
}

const RG: &str = "chaos";
const Q: &str = "api-version=2024-11-01";

fn spawn(dir: &Path, port: u16) -> ArmletProcess {
    ArmletProcess(Some(
        Command::new(env!("CARGO_BIN_EXE_armlet"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args([
                "--address-block",
                "240",
                "--termination-grace",
                "1",
                "--data-dir",
            ])
            .arg(dir)
            .env("ARMLET_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ))
}

/// Live (non-zombie) instance processes whose directory is under `dir`: pid → instance name.
pub fn instance_processes(dir: &Path) -> HashMap<u32, String> {
    let marker = format!("ARMLET_INSTANCE_DIR={}", dir.join("instances").display());
    let mut out = HashMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .is_ok_and(|s| s.split(") ").nth(1).is_some_and(|r| r.starts_with('Z')));
        let vars: Vec<String> = environ
            .split(|b| *b == 0)
            .map(|kv| String::from_utf8_lossy(kv).into_owned())
            .collect();
        if !zombie && vars.iter().any(|v| v.starts_with(&marker)) {
            let name = vars
                .iter()
                .find_map(|v| v.strip_prefix("ARMLET_INSTANCE_NAME="))
                .unwrap_or_default();
            out.insert(pid, name.to_string());
        }
    }
    out
}

struct Ctx {
    client: reqwest::Client,
    base: String,
}

impl Ctx {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        send(self.client.get(self.url(path))).await
    }
}

fn rg_path(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourcegroups/{name}?{Q}")
}

fn id(kind: &str, name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{RG}/providers/{kind}/{name}")
}

/// What the writers acknowledged (and attempted, for writes whose answer never came).
#[derive(Default)]
struct Ledger {
    groups: Vec<String>,
    /// Acknowledged writes of the tag and the capacity.
    other_acks: u64,
    tag_acked: u64,
    tag_attempted: u64,
    deployments: Vec<String>,
    capacity_acked: u64,
    capacity_attempted: u64,
}

async fn setup(c: &Ctx) {
    let (s, _) = send(
        c.client
            .put(c.url(&rg_path(RG)))
            .json(&json!({"location": "eastus"})),
    )
    .await;
    assert!(s < 300);
    let vnet = format!("{}?{Q}", id("Microsoft.Network/virtualNetworks", "vnet"));
    let (s, b) = send(c.client.put(c.url(&vnet)).json(
        &json!({"location": "eastus", "properties": {
        "addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
        "subnets": [{"name": "s", "properties": {"addressPrefix": "10.9.0.0/24"}}]}}),
    ))
    .await;
    assert!(s < 300, "{b}");
    let (s, b) = send(c.client.put(c.url(&format!("{}?{Q}", id("Microsoft.Network/publicIPAddresses", "tagged"))))
        .json(&json!({"location": "eastus", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}, "tags": {"v": "0"}}))).await;
    assert!(s < 300, "{b}");
    let subnet = format!(
        "{}/subnets/s",
        id("Microsoft.Network/virtualNetworks", "vnet")
    );
    let (s, b) = send(c.client.put(c.url(&format!("{}?{Q}", id("Microsoft.Compute/virtualMachineScaleSets", "app")))).json(&json!({
        "location": "eastus", "sku": {"name": "Standard_B1s", "capacity": 1},
        "properties": {"orchestrationMode": "Uniform", "upgradePolicy": {"mode": "Manual"}, "virtualMachineProfile": {
            "networkProfile": {"networkInterfaceConfigurations": [{"name": "nic", "properties": {"primary": true,
                "ipConfigurations": [{"name": "ipc", "properties": {"subnet": {"id": subnet}}}]}}]}}}
    }))).await;
    assert!(s < 300, "{b}");
}

fn template(n: u64) -> Value {
    json!({"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0", "resources": [
        {"type": "Microsoft.Network/publicIPAddresses", "apiVersion": "2023-04-01", "name": format!("dep{n}-ip"),
         "location": "eastus", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}},
        {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "name": format!("dep{n}-vnet"),
         "location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.20.0.0/16"]}}}
    ]})
}

/// One round of writes until armlet dies.
async fn workload(c: Arc<Ctx>, ledger: Arc<Mutex<Ledger>>, iteration: u64, target_capacity: u64) {
    let mut tasks = Vec::new();
    for w in 0..3 {
        let (c, ledger) = (c.clone(), ledger.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let name = format!("i{iteration}-w{w}-{i}");
                match c
                    .client
                    .put(c.url(&rg_path(&name)))
                    .json(&json!({"location": "westus"}))
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => ledger.lock().unwrap().groups.push(name),
                    _ => return,
                }
            }
        }));
    }
    {
        let (c, ledger) = (c.clone(), ledger.clone());
        tasks.push(tokio::spawn(async move {
            let path = format!(
                "{}?{Q}",
                id("Microsoft.Network/publicIPAddresses", "tagged")
            );
            loop {
                let v = ledger.lock().unwrap().tag_attempted + 1;
                ledger.lock().unwrap().tag_attempted = v;
                let r = c
                    .client
                    .patch(c.url(&path))
                    .json(&json!({"tags": {"v": v.to_string()}}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        let mut l = ledger.lock().unwrap();
                        l.tag_acked = v;
                        l.other_acks += 1;
                    }
                    _ => return,
                }
            }
        }));
    }
    {
        let (c, ledger) = (c.clone(), ledger.clone());
        tasks.push(tokio::spawn(async move {
            let name = format!("dep{iteration}");
            let path = format!("/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Resources/deployments/{name}?{Q}");
            let body = json!({"properties": {"mode": "Incremental", "template": template(iteration)}});
            if let Ok(r) = c.client.put(c.url(&path)).json(&body).send().await
                && r.status().is_success()
            {
                ledger.lock().unwrap().deployments.push(name);
            }
        }));
    }
    {
        tasks.push(tokio::spawn(async move {
            let path = format!(
                "{}?{Q}",
                id("Microsoft.Compute/virtualMachineScaleSets", "app")
            );
            ledger.lock().unwrap().capacity_attempted = target_capacity;
            let r = c
                .client
                .patch(c.url(&path))
                .json(&json!({"sku": {"capacity": target_capacity}}))
                .send()
                .await;
            if let Ok(r) = r
                && r.status().is_success()
            {
                let mut l = ledger.lock().unwrap();
                l.capacity_acked = target_capacity;
                l.other_acks += 1;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Checks what a restarted armlet holds against the ledger; updates the figures. Returns
/// the tag version and capacity found, which the next round starts from.
async fn check(
    c: &Ctx,
    dir: &Path,
    ledger: &Ledger,
    before_kill: &HashMap<u32, String>,
    f: &mut KillFigures,
) -> (u64, u64) {
    let (s, list) = c
        .get(&format!(
            "/subscriptions/{SUB}/resourcegroups?{Q}&$top=100000"
        ))
        .await;
    assert_eq!(s, 200, "{list}");
    let groups: BTreeSet<String> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    f.lost.extend(
        ledger
            .groups
            .iter()
            .filter(|g| !groups.contains(*g))
            .cloned(),
    );
    let (_, ip) = c
        .get(&format!(
            "{}?{Q}",
            id("Microsoft.Network/publicIPAddresses", "tagged")
        ))
        .await;
    let v: u64 = ip["tags"]["v"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if v < ledger.tag_acked || v > ledger.tag_attempted {
        f.lost.push(format!(
            "tag v={v}, acknowledged {} attempted {}",
            ledger.tag_acked, ledger.tag_attempted
        ));
    }
    // Deployments resume and end; their resources exist.
    for d in &ledger.deployments {
        let path = format!(
            "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Resources/deployments/{d}?{Q}"
        );
        let state = eventually(Duration::from_secs(60), || async {
            let (s, doc) = c.get(&path).await;
            if s == 404 {
                return Some("missing".to_string());
            }
            let st = doc["properties"]["provisioningState"].as_str()?.to_string();
            matches!(st.as_str(), "Succeeded" | "Failed" | "Canceled").then_some(st)
        })
        .await;
        if state != "Succeeded" {
            f.lost.push(format!("deployment {d}: {state}"));
        }
        let n = d.trim_start_matches("dep");
        if c.get(&format!(
            "{}?api-version=2023-04-01",
            id("Microsoft.Network/publicIPAddresses", &format!("dep{n}-ip"))
        ))
        .await
        .0 != 200
        {
            f.half_written
                .push(format!("deployment {d} without its public IP"));
        }
    }
    // The scale set ends its provisioning with exactly `capacity` instances, each with its NIC.
    let vmss = format!(
        "{}?{Q}",
        id("Microsoft.Compute/virtualMachineScaleSets", "app")
    );
    let doc = eventually(Duration::from_secs(90), || async {
        let (_, doc) = c.get(&vmss).await;
        (doc["properties"]["provisioningState"] != "Creating"
            && doc["properties"]["provisioningState"] != "Updating")
            .then_some(doc)
    })
    .await;
    let capacity = doc["sku"]["capacity"].as_u64().unwrap();
    if capacity != ledger.capacity_acked && capacity != ledger.capacity_attempted {
        f.lost.push(format!(
            "capacity {capacity}, acknowledged {} attempted {}",
            ledger.capacity_acked, ledger.capacity_attempted
        ));
    }
    let (_, vms) = c
        .get(&format!(
            "{}/virtualMachines?{Q}",
            id("Microsoft.Compute/virtualMachineScaleSets", "app")
        ))
        .await;
    let vms = vms["value"].as_array().cloned().unwrap_or_default();
    if vms.len() as u64 != capacity {
        f.half_written.push(format!(
            "scale set has {} instances for capacity {capacity}",
            vms.len()
        ));
    }
    for vm in &vms {
        let vm_id = vm["id"].as_str().unwrap();
        let (_, nics) = c
            .get(&format!("{vm_id}/networkInterfaces?api-version=2023-04-01"))
            .await;
        let listed: Vec<String> = nics["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n["id"].as_str().map(str::to_ascii_lowercase))
            .collect();
        let refs = vm["properties"]["networkProfile"]["networkInterfaces"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if refs.is_empty()
            || refs.iter().any(|r| {
                !listed.contains(&r["id"].as_str().unwrap_or_default().to_ascii_lowercase())
            })
        {
            f.half_written
                .push(format!("instance {} without its NIC", vm["name"]));
        }
    }
    // Every listed resource reads back whole.
    let (_, all) = c.get(&format!("/subscriptions/{SUB}/resources?{Q}")).await;
    for r in all["value"].as_array().into_iter().flatten() {
        let rid = r["id"].as_str().unwrap_or_default();
        let v = if rid.contains("Microsoft.Compute") {
            "2024-11-01"
        } else {
            "2023-04-01"
        };
        let (s, doc) = c.get(&format!("{rid}?api-version={v}")).await;
        if s != 200 || doc["id"].as_str().is_none() || doc["name"].as_str().is_none() {
            f.half_written.push(format!("{rid}: {s}"));
        }
    }
    // Running instances are exactly the stored model; nothing of the killed run survives.
    let names: BTreeSet<String> = vms
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    let converged = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let running: BTreeSet<String> = instance_processes(dir).into_values().collect();
            if running == names && instance_processes(dir).len() == names.len() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    if converged.is_err() {
        f.model_mismatches += 1;
    }
    let now = instance_processes(dir);
    f.orphans += before_kill.keys().filter(|p| now.contains_key(p)).count() as u64;
    (v, capacity)
}

pub async fn run(iterations: u64, seed: u64) -> KillFigures {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("https://localhost:{port}");
    let mut rng = Rng::new(seed);
    let mut figures = KillFigures::default();
    let ledger = Arc::new(Mutex::new(Ledger {
        capacity_acked: 1,
        capacity_attempted: 1,
        ..Default::default()
    }));
    let mut before_kill = HashMap::new();
    for iteration in 0..=iterations {
        let mut armlet = spawn(dir.path(), port);
        let client = wait_ready(dir.path(), &base).await;
        let c = Arc::new(Ctx {
            client,
            base: base.clone(),
        });
        if iteration == 0 {
            setup(&c).await;
        } else {
            let l = ledger.lock().unwrap().clone_view();
            let (v, capacity) = check(&c, dir.path(), &l, &before_kill, &mut figures).await;
            figures.iterations += 1;
            let mut l = ledger.lock().unwrap();
            (l.tag_acked, l.tag_attempted) = (v, v);
            (l.capacity_acked, l.capacity_attempted) = (capacity, capacity);
        }
        if iteration == iterations {
            armlet.terminate();
            break;
        }
        let target = rng.range(1, 3);
        let work = tokio::spawn(workload(c.clone(), ledger.clone(), iteration, target));
        tokio::time::sleep(Duration::from_millis(rng.range(150, 1500))).await;
        before_kill = instance_processes(dir.path());
        armlet.kill_9();
        let _ = work.await;
    }
    {
        let l = ledger.lock().unwrap();
        figures.acknowledged = (l.groups.len() + l.deployments.len()) as u64 + l.other_acks;
    }
    // After the final SIGTERM nothing runs.
    for _ in 0..200 {
        if instance_processes(dir.path()).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    figures.orphans += instance_processes(dir.path()).len() as u64;
    figures
}

impl Ledger {
    fn clone_view(&self) -> Ledger {
        Ledger {
            groups: self.groups.clone(),
            other_acks: self.other_acks,
            tag_acked: self.tag_acked,
            tag_attempted: self.tag_attempted,
            deployments: self.deployments.clone(),
            capacity_acked: self.capacity_acked,
            capacity_attempted: self.capacity_attempted,
        }
    }
}
