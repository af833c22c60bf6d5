//! Snapshots: `armlet snapshot save FILE` on a running armlet, then `serve --from-snapshot
//! FILE` gives the same resources with their instances running and serving again; a busy
//! store, a file that is not a snapshot and a data directory that already has a store are
//! refused clearly, with nothing half-written.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use armlet::config::ServeConfig;
use common::http::rotation;
use common::scale_set::{COMPUTE, bound, network, put_and_wait, rid, vmss_body};
use common::{SUB, TestArmlet, eventually};
use serde_json::{Value, json};
use tokio::process::Command;

/// `armlet snapshot save FILE` against `t`: exit status and output.
async fn save(t: &TestArmlet, file: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_armlet"))
        .args(["snapshot", "save"])
        .arg(file)
        .arg("--data-dir")
        .arg(t.dir.path())
        .args(["--endpoint", &t.armlet.endpoint()])
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn resource_ids(t: &TestArmlet) -> Vec<String> {
    let (s, list) = t
        .get(&format!(
            "/subscriptions/{SUB}/resourceGroups/rg/resources?api-version=2021-04-01"
        ))
        .await;
    assert_eq!(s, 200, "{list}");
    let mut ids: Vec<String> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

async fn frontend_of(t: &TestArmlet, ip: Ipv4Addr) -> SocketAddr {
    let vmss = rid("Microsoft.Compute/virtualMachineScaleSets", "web");
    // The ports are in the view once the runtime has planned the instance.
    let port = eventually(Duration::from_secs(20), || async {
        let (_, view) = t
            .get(&format!(
                "{vmss}/virtualMachines/0/instanceView?api-version={COMPUTE}"
            ))
            .await;
        view["armlet"]["ports"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
            .then(|| bound(&view, 80))
    })
    .await;
    SocketAddr::from((ip, port))
}

async fn both_serve(frontend: SocketAddr) {
    eventually(Duration::from_secs(40), || async {
        (rotation(frontend, 12).await? == ["web_0", "web_1"]).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_restores_the_same_resources_and_running_instances() {
    let t = TestArmlet::start().await;
    let ip: Ipv4Addr = network(&t).await.parse().unwrap();
    let vmss = rid("Microsoft.Compute/virtualMachineScaleSets", "web");
    let (_, end) = put_and_wait(&t, &format!("{vmss}?api-version={COMPUTE}"), vmss_body(2)).await;
    assert_eq!(end, "Succeeded");
    both_serve(frontend_of(&t, ip).await).await;
    let before = resource_ids(&t).await;
    assert!(before.len() >= 4, "{before:?}");

    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("state.db");
    // A busy store is refused, and no file is left behind.
    sqlx::query("INSERT INTO operations (id, subscription, kind, target, status, start_time) VALUES ('busy', 's', 'deployment', '/x/deployments/d', 'InProgress', 'x')")
        .execute(t.armlet.app.store.pool())
        .await
        .unwrap();
    let (ok, text) = save(&t, &file).await;
    assert!(!ok && text.contains("SnapshotDuringOperation"), "{text}");
    assert!(std::fs::read_dir(out.path()).unwrap().next().is_none());
    sqlx::query("UPDATE operations SET status = 'Succeeded' WHERE id = 'busy'")
        .execute(t.armlet.app.store.pool())
        .await
        .unwrap();
    let (ok, text) = save(&t, &file).await;
    assert!(ok, "{text}");
    assert!(std::fs::metadata(&file).unwrap().len() > 0);
    t.stop().await;

    // A new armlet from the snapshot: the same resources, and the instances run again and
    // answer through the same frontend.
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        from_snapshot: Some(file.clone()),
        ..ServeConfig::for_tests(dir.path().to_path_buf())
    };
    let t = TestArmlet::start_with(config, dir).await;
    assert_eq!(resource_ids(&t).await, before);
    both_serve(frontend_of(&t, ip).await).await;
    let (_, h) = t.get("/_armlet/health").await;
    assert_eq!(
        (h["status"].as_str(), h["instances"].as_u64()),
        (Some("ready"), Some(2)),
        "{h}"
    );
    // It is a working armlet, not a read-only view: a scale-out adds an instance.
    let (_, end) = put_and_wait(&t, &format!("{vmss}?api-version={COMPUTE}"), {
        let mut b = vmss_body(3);
        b["properties"]["upgradePolicy"] = json!({"mode": "Manual"});
        b
    })
    .await;
    assert_eq!(end, "Succeeded");
    eventually(Duration::from_secs(20), || async {
        (t.armlet.app.runtime.supervisor.list().len() == 3).then_some(())
    })
    .await;
    t.stop().await;
}

#[tokio::test]
async fn what_is_not_a_snapshot_or_would_overwrite_a_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "not a database at all").unwrap();
    let config = ServeConfig {
        from_snapshot: Some(junk),
        ..ServeConfig::for_tests(dir.path().to_path_buf())
    };
    let e = armlet::Armlet::start(config).await.err().unwrap();
    assert!(format!("{e:#}").contains("not an armlet snapshot"), "{e:#}");

    // A real snapshot, restored on disk into a data directory that already has a store.
    let t = TestArmlet::start().await;
    let file = dir.path().join("state.db");
    let (ok, text) = save(&t, &file).await;
    assert!(ok, "{text}");
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("armlet.db"), "existing").unwrap();
    let config = ServeConfig {
        from_snapshot: Some(file.clone()),
        in_memory: false,
        ..ServeConfig::for_tests(data.path().to_path_buf())
    };
    let e = armlet::Armlet::start(config).await.err().unwrap();
    assert!(format!("{e:#}").contains("already holds a store"), "{e:#}");
    assert_eq!(
        std::fs::read_to_string(data.path().join("armlet.db")).unwrap(),
        "existing",
        "untouched"
    );
    // Into an empty one it works, and the restored store is on disk there.
    let fresh = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        from_snapshot: Some(file),
        in_memory: false,
        ..ServeConfig::for_tests(fresh.path().to_path_buf())
    };
    let restored = TestArmlet::start_with(config, fresh).await;
    let (s, _): (u16, Value) = restored.get("/_armlet/health").await;
    assert_eq!(s, 200);
    assert!(restored.dir.path().join("armlet.db").exists());
}
