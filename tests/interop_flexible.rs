//! `az vmss create` in its default orchestration mode (Flexible) behind a load balancer:
//! instances are virtual machines that run as processes and take traffic.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flexible_scale_set_with_the_az_cli() {
    let t = TestArmlet::start().await;
    let mut az = Az::for_armlet(&t);
    let home = t.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    az.env.push(("HOME".into(), home.display().to_string()));
    az.json(&["group", "create", "-n", "flex", "-l", "eastus"])
        .await;
    let ip = az
        .json(&[
            "network",
            "public-ip",
            "create",
            "-g",
            "flex",
            "-n",
            "ip",
            "--sku",
            "Standard",
        ])
        .await;
    let frontend = ip["publicIp"]["ipAddress"].as_str().unwrap().to_string();
    az.json(&[
        "network",
        "lb",
        "create",
        "-g",
        "flex",
        "-n",
        "lb",
        "--sku",
        "Standard",
        "--public-ip-address",
        "ip",
        "--frontend-ip-name",
        "fe",
        "--backend-pool-name",
        "pool",
    ])
    .await;
    az.json(&[
        "network",
        "lb",
        "probe",
        "create",
        "-g",
        "flex",
        "--lb-name",
        "lb",
        "-n",
        "tcp",
        "--protocol",
        "Tcp",
        "--port",
        "80",
    ])
    .await;
    az.json(&[
        "network",
        "lb",
        "rule",
        "create",
        "-g",
        "flex",
        "--lb-name",
        "lb",
        "-n",
        "web",
        "--protocol",
        "Tcp",
        "--frontend-port",
        "80",
        "--backend-port",
        "80",
        "--frontend-ip-name",
        "fe",
        "--backend-pool-name",
        "pool",
        "--probe-name",
        "tcp",
    ])
    .await;
    let vmss = az
        .json(&[
            "vmss",
            "create",
            "-g",
            "flex",
            "-n",
            "flex",
            "--image",
            "Ubuntu2204",
            "--instance-count",
            "2",
            "--admin-username",
            "azureuser",
            "--generate-ssh-keys",
            "--lb",
            "lb",
            "--backend-pool-name",
            "pool",
            "--vnet-name",
            "vnet",
            "--subnet",
            "sub",
        ])
        .await;
    assert_eq!(vmss["vmss"]["orchestrationMode"], "Flexible", "{vmss}");
    assert_eq!(vmss["vmss"]["provisioningState"], "Succeeded");

    // The instances are virtual machines of the group.
    let vms = az.json(&["vm", "list", "-g", "flex"]).await;
    let names: Vec<&str> = vms
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{vms}");
    assert!(names.iter().all(|n| n.starts_with("flex_")), "{names:?}");
    let instances = az
        .json(&["vmss", "list-instances", "-g", "flex", "-n", "flex"])
        .await;
    assert_eq!(instances.as_array().unwrap().len(), 2);

    // Both answer through the load balancer.
    let port = t.armlet.app.runtime.ports.effective(80);
    let seen = eventually(Duration::from_secs(60), || async {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..12 {
            let mut s = tokio::net::TcpStream::connect((frontend.as_str(), port))
                .await
                .ok()?;
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .ok()?;
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await.ok()?;
            seen.insert(
                String::from_utf8_lossy(&buf)
                    .split("\"name\":\"")
                    .nth(1)?
                    .split('"')
                    .next()?
                    .to_string(),
            );
        }
        (seen.len() == 2).then_some(seen)
    })
    .await;
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        names
            .iter()
            .map(|n| n.to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );

    // Deleting one VM lowers the capacity; scaling adds one back.
    az.json(&["vm", "delete", "-g", "flex", "-n", names[0], "--yes"])
        .await;
    let shown = az.json(&["vmss", "show", "-g", "flex", "-n", "flex"]).await;
    assert_eq!(shown["sku"]["capacity"], 1);
    az.json(&[
        "vmss",
        "scale",
        "-g",
        "flex",
        "-n",
        "flex",
        "--new-capacity",
        "2",
    ])
    .await;
    let vms = az.json(&["vm", "list", "-g", "flex"]).await;
    assert_eq!(vms.as_array().unwrap().len(), 2);
    t.stop().await;
}
