//! The tutorial in `shared/seed/`, run with the real `az` CLI and its exact commands (plus the
//! `--orchestration-mode Uniform` today's az demands next to `--health-probe`), then checked
//! for real: instances are processes, traffic to the frontend reaches them, NAT ports reach
//! one instance each, stopping an instance takes it out of rotation, scaling changes what runs.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::http::{http_get, rotation};
use common::*;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const RG: &str = "myResourceGroup";

/// The cloud-init the tutorial passes with `--custom-data`.
const CLOUD_INIT: &str = "#cloud-config\nwrite_files:\n  - path: /var/www/html/index.html\n    content: |\n      hello from the tutorial\nruncmd:\n  - echo booted\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorial_runs_for_real() {
    let t = TestArmlet::start().await;
    let mut az = Az::for_armlet(&t);
    // `--generate-ssh-keys` writes to ~/.ssh: keep it in the test's directory.
    let home = t.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    az.env.push(("HOME".into(), home.display().to_string()));
    let cloud_init = t.dir.path().join("cloud-init.txt");
    std::fs::write(&cloud_init, CLOUD_INIT).unwrap();
    let cloud_init = cloud_init.display().to_string();

    az.json(&["group", "create", "-n", RG, "-l", "eastus"])
        .await;

    // Step 1: public IP and load balancer.
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
    let lb = az
        .json(&[
            "network",
            "lb",
            "create",
            "--name",
            "myLoadBalancer",
            "--resource-group",
            RG,
            "--sku",
            "Standard",
            "--public-ip-address",
            "lb-public-ip",
            "--frontend-ip-name",
            "myFrontend",
            "--backend-pool-name",
            "vmssBackendPool",
        ])
        .await;
    assert_eq!(
        lb["loadBalancer"]["frontendIPConfigurations"][0]["name"],
        "myFrontend"
    );

    // Step 2: probes.
    for (name, protocol, port) in [
        ("httpHealthProbe", "Http", "80"),
        ("httpsHealthProbe", "Https", "443"),
    ] {
        az.json(&[
            "network",
            "lb",
            "probe",
            "create",
            "--name",
            name,
            "--resource-group",
            RG,
            "--lb-name",
            "myLoadBalancer",
            "--protocol",
            protocol,
            "--port",
            port,
            "--path",
            "/health",
            "--interval",
            "15",
            "--threshold",
            "2",
        ])
        .await;
    }

    // Step 3: rules.
    for (name, probe, port) in [
        ("httpRule", "httpHealthProbe", "80"),
        ("httpsRule", "httpsHealthProbe", "443"),
    ] {
        az.json(&[
            "network",
            "lb",
            "rule",
            "create",
            "--name",
            name,
            "--resource-group",
            RG,
            "--lb-name",
            "myLoadBalancer",
            "--frontend-ip-name",
            "myFrontend",
            "--backend-pool-name",
            "vmssBackendPool",
            "--probe-name",
            probe,
            "--protocol",
            "Tcp",
            "--frontend-port",
            port,
            "--backend-port",
            port,
            "--idle-timeout",
            "15",
            "--enable-tcp-reset",
            "true",
        ])
        .await;
    }

    // Step 6 comes before the scale set here, so the NAT pool is in the model from the start.
    az.json(&[
        "network",
        "lb",
        "inbound-nat-pool",
        "create",
        "--name",
        "sshNatPool",
        "--resource-group",
        RG,
        "--lb-name",
        "myLoadBalancer",
        "--frontend-ip-name",
        "myFrontend",
        "--protocol",
        "Tcp",
        "--frontend-port-range-start",
        "50000",
        "--frontend-port-range-end",
        "50099",
        "--backend-port",
        "22",
    ])
    .await;

    // Step 4: the scale set.
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

    let instances = az
        .json(&["vmss", "list-instances", "-n", "myVMSS", "-g", RG])
        .await;
    let names: Vec<&str> = instances
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["myVMSS_0", "myVMSS_1", "myVMSS_2"]);

    // Traffic to the frontend reaches all three instances once their probes pass.
    // az's schema keeps only Azure's fields: armlet's own view (bound ports) is read over REST.
    let view_path = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachineScaleSets/myVMSS/virtualMachines/0/instanceView?api-version=2024-11-01"
    );
    let (_, view) = t.get(&view_path).await;
    let az_view = az
        .json(&[
            "vmss",
            "get-instance-view",
            "-n",
            "myVMSS",
            "-g",
            RG,
            "--instance-id",
            "0",
        ])
        .await;
    assert!(
        az_view["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["code"] == "PowerState/running"),
        "{az_view}"
    );
    let port80 = view["armlet"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["port"] == 80)
        .unwrap()["boundPort"]
        .as_u64()
        .unwrap() as u16;
    let frontend = SocketAddr::from((frontend_ip, port80));
    let all = eventually(Duration::from_secs(90), || async {
        rotation(frontend, 15).await.filter(|n| n.len() == 3)
    })
    .await;
    assert_eq!(all, ["myVMSS_0", "myVMSS_1", "myVMSS_2"]);
    // The custom data ran: in Rolling mode az replaces `--custom-data` with its own nginx
    // cloud-config, whose `write_files` page is served.
    let (_, page) = http_get(frontend, "/index.html").await.unwrap();
    assert!(page.contains("Hello, World!"), "{page}");

    // Step 6: instance k on frontend port 50000 + k.
    for k in 0..3u16 {
        let s = tokio::net::TcpStream::connect((frontend_ip, 50000 + k))
            .await
            .unwrap();
        let mut line = String::new();
        tokio::time::timeout(
            Duration::from_secs(5),
            BufReader::new(s).read_line(&mut line),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(
            line.contains(&format!("myVMSS_{k}")),
            "port {} -> {line}",
            50000 + k
        );
    }
    let info = az
        .json(&[
            "vmss",
            "list-instance-connection-info",
            "-n",
            "myVMSS",
            "-g",
            RG,
        ])
        .await;
    assert_eq!(info["instance 0"], format!("{frontend_ip}:50000"), "{info}");

    // Step 7: the rolling upgrade policy.
    let updated = az
        .json(&[
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
    let policy = &updated["upgradePolicy"]["rollingUpgradePolicy"];
    assert_eq!(policy["maxUnhealthyUpgradedInstancePercent"], 5);
    assert_eq!(policy["pauseTimeBetweenBatches"], "PT2S");
    assert_eq!(
        updated["sku"]["capacity"], 3,
        "update keeps what it does not set"
    );

    // Stopping an instance takes it out of rotation with no failed request after that.
    az.json(&[
        "vmss",
        "stop",
        "-n",
        "myVMSS",
        "-g",
        RG,
        "--instance-ids",
        "1",
    ])
    .await;
    let two = eventually(Duration::from_secs(60), || async {
        rotation(frontend, 10).await.filter(|n| n.len() == 2)
    })
    .await;
    assert_eq!(two, ["myVMSS_0", "myVMSS_2"]);
    assert_eq!(
        rotation(frontend, 20).await.expect("no failed request"),
        ["myVMSS_0", "myVMSS_2"]
    );
    az.json(&[
        "vmss",
        "start",
        "-n",
        "myVMSS",
        "-g",
        RG,
        "--instance-ids",
        "1",
    ])
    .await;
    eventually(Duration::from_secs(60), || async {
        rotation(frontend, 15).await.filter(|n| n.len() == 3)
    })
    .await;

    // Scale out and in; delete one instance.
    az.json(&[
        "vmss",
        "scale",
        "-n",
        "myVMSS",
        "-g",
        RG,
        "--new-capacity",
        "4",
    ])
    .await;
    let four = az
        .json(&["vmss", "list-instances", "-n", "myVMSS", "-g", RG])
        .await;
    assert_eq!(four.as_array().unwrap().len(), 4);
    az.json(&[
        "vmss",
        "delete-instances",
        "-n",
        "myVMSS",
        "-g",
        RG,
        "--instance-ids",
        "3",
    ])
    .await;
    let shown = az.json(&["vmss", "show", "-n", "myVMSS", "-g", RG]).await;
    assert_eq!(shown["sku"]["capacity"], 3);
    az.json(&[
        "vmss",
        "restart",
        "-n",
        "myVMSS",
        "-g",
        RG,
        "--instance-ids",
        "0",
    ])
    .await;
    az.json(&[
        "vmss",
        "reimage",
        "-n",
        "myVMSS",
        "-g",
        RG,
        "--instance-ids",
        "2",
    ])
    .await;
    az.json(&[
        "vmss",
        "deallocate",
        "-n",
        "myVMSS",
        "-g",
        RG,
        "--instance-ids",
        "2",
    ])
    .await;
    let view2 = az
        .json(&[
            "vmss",
            "get-instance-view",
            "-n",
            "myVMSS",
            "-g",
            RG,
            "--instance-id",
            "2",
        ])
        .await;
    assert!(
        view2["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["code"] == "PowerState/deallocated"),
        "{view2}"
    );
    az.json(&[
        "vmss",
        "update-instances",
        "-n",
        "myVMSS",
        "-g",
        RG,
        "--instance-ids",
        "0",
    ])
    .await;

    // Deleting the scale set stops every process.
    az.json(&["vmss", "delete", "-n", "myVMSS", "-g", RG]).await;
    eventually(Duration::from_secs(30), || async {
        rotation(frontend, 1).await.is_none().then_some(())
    })
    .await;
    let rt = &t.armlet.app.runtime;
    eventually(Duration::from_secs(30), || async {
        (!rt.supervisor
            .list()
            .iter()
            .any(|(_, s)| matches!(s, armlet::runtime::instance::InstanceStatus::Running { .. })))
        .then_some(())
    })
    .await;
    let _: Value = Value::Null;
    t.stop().await;
}
