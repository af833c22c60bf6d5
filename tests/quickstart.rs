//! Templates in the style of the public Azure quickstarts for a scale set behind a load
//! balancer deploy unmodified apart from parameters, and what they build works: instances run
//! and the load balancer's NAT pool reaches each of them.
//!
//! The yardstick is `quickstarts/microsoft.compute/vmss-linux-nat/azuredeploy.json` in
//! <https://github.com/Azure/azure-quickstart-templates> (MIT licence): no SKUs (so a Basic,
//! Dynamic public IP and a Basic load balancer), a NAT pool with expression-valued ports,
//! `overprovision` as a string, `if(..., json('null'), ...)`, 2017 API versions. That file is
//! not copied here; `tests/fixtures/templates/legacy-vmss-nat.json` is armlet's own template
//! with the same features. To run the test against the real file instead, download it and set
//! `ARMLET_QUICKSTART_TEMPLATE=/path/to/azuredeploy.json` (its parameters are the ones below).

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::deploy::*;
use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

const COMPUTE: &str = "2024-07-01";
const NET: &str = "2024-05-01";

fn template() -> String {
    match std::env::var("ARMLET_QUICKSTART_TEMPLATE") {
        Ok(path) => std::fs::read_to_string(path).unwrap(),
        Err(_) => fixture("legacy-vmss-nat.json"),
    }
}

async fn list(t: &TestArmlet, rg: &str, kind: &str, api: &str) -> Vec<Value> {
    let (s, doc) = t
        .get(&format!(
            "/subscriptions/{SUB}/resourceGroups/{rg}/providers/{kind}?api-version={api}"
        ))
        .await;
    assert_eq!(s, 200, "{doc}");
    doc["value"].as_array().unwrap().clone()
}

async fn banner(addr: (std::net::Ipv4Addr, u16)) -> Option<String> {
    let s = tokio::net::TcpStream::connect(addr).await.ok()?;
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(3),
        BufReader::new(s).read_line(&mut line),
    )
    .await
    .ok()?
    .ok()?;
    Some(line)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vmss_linux_nat_quickstart_deploys_and_its_nat_pool_reaches_every_instance() {
    let t = TestArmlet::start().await;
    group(&t, "quickstart").await;
    let (done, doc) = deploy(
        &t,
        &group_deployment("quickstart", "vmss-linux-nat"),
        body(
            &template(),
            json!({
                "vmssName": {"value": "qsnat"},
                "instanceCount": {"value": 2},
                "adminUsername": {"value": "azureuser"},
                "adminPasswordOrKey": {"value": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0 test@armlet"}
            }),
            "Incremental",
        ),
    )
    .await;
    assert_eq!(done["status"], "Succeeded", "{done}\n{doc}");

    let sets = list(
        &t,
        "quickstart",
        "Microsoft.Compute/virtualMachineScaleSets",
        COMPUTE,
    )
    .await;
    assert_eq!(sets.len(), 1, "{sets:?}");
    let vmss = sets[0]["id"].as_str().unwrap().to_string();
    let vms = eventually(Duration::from_secs(30), || async {
        let (_, vms) = t
            .get(&format!("{vmss}/virtualMachines?api-version={COMPUTE}"))
            .await;
        let vms = vms["value"].as_array()?.clone();
        (vms.len() == 2).then_some(vms)
    })
    .await;
    let names: BTreeSet<String> = vms
        .iter()
        .map(|vm| vm["name"].as_str().unwrap().to_string())
        .collect();
    for vm in &vms {
        let id = vm["id"].as_str().unwrap();
        eventually(Duration::from_secs(30), || async {
            let (_, view) = t
                .get(&format!("{id}/instanceView?api-version={COMPUTE}"))
                .await;
            (view["armlet"]["process"]["state"] == "running").then_some(())
        })
        .await;
    }

    // The NAT pool maps frontend ports 50000.. to each instance's port 22.
    let ips = list(&t, "quickstart", "Microsoft.Network/publicIPAddresses", NET).await;
    assert_eq!(ips.len(), 1, "{ips:?}");
    let ip: std::net::Ipv4Addr = ips[0]["properties"]["ipAddress"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let reached = eventually(Duration::from_secs(30), || async {
        let mut reached = BTreeSet::new();
        for k in 0..2 {
            let line = banner((ip, t.armlet.app.runtime.ports.effective(50000 + k))).await?;
            reached.extend(names.iter().filter(|n| line.contains(n.as_str())).cloned());
        }
        (reached == names).then_some(reached)
    })
    .await;
    assert_eq!(reached, names);
    t.stop().await;
}
