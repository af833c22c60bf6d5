//! No instance process outlives armlet: SIGTERM stops them all; after a `kill -9` the next
//! start stops what the previous run left and brings back exactly the stored model.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::process::{free_port, wait_ready};
use common::*;
use serde_json::json;

fn spawn(dir: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_armlet"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--address-block",
            "200",
            "--termination-grace",
            "2",
            "--data-dir",
        ])
        .arg(dir)
        .env("ARMLET_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Pids of live instance processes whose directory is under `dir` (from /proc).
fn instance_pids(dir: &Path) -> Vec<u32> {
    let marker = format!("ARMLET_INSTANCE_DIR={}", dir.join("instances").display());
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .is_ok_and(|s| s.split(") ").nth(1).is_some_and(|r| r.starts_with('Z')));
        if !zombie
            && environ
                .split(|b| *b == 0)
                .any(|kv| String::from_utf8_lossy(kv).starts_with(&marker))
        {
            pids.push(pid);
        }
    }
    pids.sort();
    pids
}

async fn create_scale_set(client: &reqwest::Client, base: &str) {
    let rg = format!("{base}/subscriptions/{SUB}/resourceGroups/life");
    let q = "api-version=2024-11-01";
    send(
        client
            .put(format!("{rg}?{q}"))
            .json(&json!({"location": "eastus"})),
    )
    .await;
    let vnet = format!("{rg}/providers/Microsoft.Network/virtualNetworks/vnet");
    let (s, _) = send(client.put(format!("{vnet}?{q}")).json(&json!({"location": "eastus", "properties": {
        "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]}, "subnets": [{"name": "s", "properties": {"addressPrefix": "10.1.0.0/24"}}]}}))).await;
    assert_eq!(s, 201);
    let subnet = format!(
        "/subscriptions/{SUB}/resourceGroups/life/providers/Microsoft.Network/virtualNetworks/vnet/subnets/s"
    );
    let (s, body) = send(client.put(format!("{rg}/providers/Microsoft.Compute/virtualMachineScaleSets/app?{q}")).json(&json!({
        "location": "eastus", "sku": {"name": "Standard_D2s_v3", "capacity": 2},
        "properties": {"orchestrationMode": "Uniform", "upgradePolicy": {"mode": "Manual"}, "virtualMachineProfile": {
            "networkProfile": {"networkInterfaceConfigurations": [{"name": "nic", "properties": {"primary": true,
                "ipConfigurations": [{"name": "ipc", "properties": {"subnet": {"id": subnet}}}]}}]}}}
    }))).await;
    assert_eq!(s, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_never_outlive_armlet() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("https://localhost:{port}");
    let mut armlet = spawn(dir.path(), port);
    let client = wait_ready(dir.path(), &base).await;
    create_scale_set(&client, &base).await;
    let first = eventually(Duration::from_secs(30), || async {
        let p = instance_pids(dir.path());
        (p.len() == 2).then_some(p)
    })
    .await;

    // SIGTERM: armlet stops every instance before it exits.
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(armlet.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = tokio::task::spawn_blocking(move || armlet.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        status.success(),
        "armlet exits cleanly on SIGTERM: {status:?}"
    );
    assert_eq!(
        instance_pids(dir.path()),
        Vec::<u32>::new(),
        "no instance outlives a SIGTERM of armlet"
    );

    // Restart: the stored model comes back.
    let mut armlet = spawn(dir.path(), port);
    wait_ready(dir.path(), &base).await;
    let second = eventually(Duration::from_secs(30), || async {
        let p = instance_pids(dir.path());
        (p.len() == 2).then_some(p)
    })
    .await;
    assert!(second.iter().all(|p| !first.contains(p)), "new processes");

    // kill -9: the instances may linger until the next start, which stops them and starts
    // exactly the model again: nothing orphaned, nothing missing.
    armlet.kill().unwrap();
    armlet.wait().unwrap();
    let mut armlet = spawn(dir.path(), port);
    wait_ready(dir.path(), &base).await;
    let third = eventually(Duration::from_secs(30), || async {
        let p = instance_pids(dir.path());
        (p.len() == 2 && p.iter().all(|x| !second.contains(x))).then_some(p)
    })
    .await;
    assert_eq!(third.len(), 2);
    armlet.kill().unwrap();
    armlet.wait().unwrap();
    // Leave nothing behind for the next test binary.
    let mut cleanup = spawn(dir.path(), port);
    wait_ready(dir.path(), &base).await;
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(cleanup.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    cleanup.wait().unwrap();
    eventually(Duration::from_secs(10), || async {
        instance_pids(dir.path()).is_empty().then_some(())
    })
    .await;
}
