//! Interop with the real clients for Microsoft.Network: the tutorial's `az network` commands
//! (exactly as the tutorial writes them) on a load balancer the Azure SDK for Python creates
//! (`az network lb create` is a template deployment, served elsewhere), and the public IP,
//! virtual network, subnet and NIC commands, including the errors Azure gives.

mod common;

use common::*;
use serde_json::Value;

const RG: &str = "myResourceGroup";

fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_load_balancer_with_az_and_the_python_sdk() {
    let t = TestArmlet::start().await;
    let az = Az::for_armlet(&t);
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
    assert_eq!(ip["publicIp"]["ipAddress"], public_ip_n(&t, 1));
    assert_eq!(ip["publicIp"]["sku"]["name"], "Standard");

    // The SDK creates the load balancer `az network lb create` would, and a NIC in its pool.
    let out = python_sdk(&t, "sdk_network.py", &["setup", RG, "lb-public-ip"]).await;
    let setup: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(setup["lb_status"], "Succeeded");
    assert_eq!(setup["pools"], serde_json::json!(["vmssBackendPool"]));
    assert_eq!(setup["nic_ip"], "10.0.0.4");

    let lb = ["--resource-group", RG, "--lb-name", "myLoadBalancer"];
    let with = |args: &[&'static str]| -> Vec<&'static str> {
        let mut v: Vec<&str> = args.to_vec();
        v.extend(lb);
        v
    };
    // Tutorial step 2: health probes.
    for (name, protocol, port) in [
        ("httpHealthProbe", "Http", "80"),
        ("httpsHealthProbe", "Https", "443"),
    ] {
        let probe = az
            .json(&[
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
        assert_eq!(probe["requestPath"], "/health");
        assert_eq!(probe["numberOfProbes"], 2);
        assert_eq!(probe["intervalInSeconds"], 15);
        assert_eq!(probe["provisioningState"], "Succeeded");
    }
    // Tutorial step 3: load-balancing rules.
    for (name, probe, port) in [
        ("httpRule", "httpHealthProbe", "80"),
        ("httpsRule", "httpsHealthProbe", "443"),
    ] {
        let rule = az
            .json(&[
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
        assert_eq!(rule["idleTimeoutInMinutes"], 15);
        assert_eq!(rule["enableTcpReset"], true);
        assert_eq!(
            rule["type"],
            "Microsoft.Network/loadBalancers/loadBalancingRules"
        );
    }
    // Tutorial step 6: the SSH NAT pool.
    let pool = az
        .json(&[
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
    assert_eq!(pool["frontendPortRangeStart"], 50000);
    assert_eq!(pool["backendPort"], 22);

    // The other child commands.
    let shown = az
        .json(&with(&[
            "network",
            "lb",
            "probe",
            "show",
            "-n",
            "httpHealthProbe",
        ]))
        .await;
    assert_eq!(
        shown["loadBalancingRules"][0]["id"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next(),
        Some("httpRule")
    );
    assert_eq!(
        names(&az.json(&with(&["network", "lb", "probe", "list"])).await),
        ["httpHealthProbe", "httpsHealthProbe"]
    );
    let updated = az
        .json(&with(&[
            "network",
            "lb",
            "probe",
            "update",
            "-n",
            "httpsHealthProbe",
            "--interval",
            "10",
        ]))
        .await;
    assert_eq!(updated["intervalInSeconds"], 10);
    az.json(&with(&[
        "network",
        "lb",
        "probe",
        "create",
        "-n",
        "tcpProbe",
        "--protocol",
        "Tcp",
        "--port",
        "8080",
    ]))
    .await;
    az.json(&with(&[
        "network", "lb", "probe", "delete", "-n", "tcpProbe",
    ]))
    .await;
    let nat = az
        .json(&with(&[
            "network",
            "lb",
            "inbound-nat-rule",
            "create",
            "-n",
            "rdp",
            "--frontend-ip",
            "myFrontend",
            "--protocol",
            "Tcp",
            "--backend-port",
            "3389",
            "--backend-pool-name",
            "vmssBackendPool",
            "--frontend-port-range-start",
            "60000",
            "--frontend-port-range-end",
            "60099",
        ]))
        .await;
    assert_eq!(nat["frontendPortRangeStart"], 60000);
    let err = az
        .fails(&with(&[
            "network",
            "lb",
            "inbound-nat-rule",
            "create",
            "-n",
            "clash",
            "--frontend-ip",
            "myFrontend",
            "--protocol",
            "Tcp",
            "--backend-port",
            "22",
            "--frontend-port",
            "50050",
        ]))
        .await;
    assert!(err.contains("InboundNatFrontendPortConflict"), "{err}");
    az.json(&with(&[
        "network",
        "lb",
        "address-pool",
        "create",
        "-n",
        "pool2",
    ]))
    .await;
    az.json(&with(&[
        "network",
        "lb",
        "address-pool",
        "delete",
        "-n",
        "pool2",
    ]))
    .await;
    az.json(&[
        "network",
        "public-ip",
        "create",
        "-g",
        RG,
        "-n",
        "outboundIp",
        "--sku",
        "Standard",
    ])
    .await;
    az.json(&with(&[
        "network",
        "lb",
        "frontend-ip",
        "create",
        "-n",
        "outboundFrontend",
        "--public-ip-address",
        "outboundIp",
    ]))
    .await;
    let outbound = az
        .json(&with(&[
            "network",
            "lb",
            "outbound-rule",
            "create",
            "-n",
            "outbound",
            "--frontend-ip-configs",
            "outboundFrontend",
            "--address-pool",
            "vmssBackendPool",
            "--protocol",
            "All",
        ]))
        .await;
    assert_eq!(outbound["protocol"], "All");

    let shown = az
        .json(&["network", "lb", "show", "-g", RG, "-n", "myLoadBalancer"])
        .await;
    assert_eq!(
        names(&shown["frontendIPConfigurations"]),
        ["myFrontend", "outboundFrontend"]
    );
    assert_eq!(
        names(&shown["loadBalancingRules"]),
        ["httpRule", "httpsRule"]
    );
    assert_eq!(names(&shown["inboundNatPools"]), ["sshNatPool"]);
    assert_eq!(names(&shown["inboundNatRules"]), ["rdp"]);
    assert_eq!(names(&shown["outboundRules"]), ["outbound"]);
    assert_eq!(
        shown["backendAddressPools"][0]["backendIPConfigurations"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The SDK reads it back, queries NAT port mappings and rule health, deletes its NIC.
    let out = python_sdk(&t, "sdk_network.py", &["query", RG]).await;
    let seen: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        seen["backend_ip_configurations"].as_array().unwrap().len(),
        1
    );
    assert_eq!(
        seen["pool_rules"],
        serde_json::json!(["httpRule", "httpsRule"])
    );
    assert_eq!(
        seen["probe"],
        serde_json::json!({"protocol": "Http", "port": 80, "path": "/health", "interval": 15, "number": 2, "rules": ["httpRule"]})
    );
    assert_eq!(seen["nat_pools"], serde_json::json!(["sshNatPool"]));
    assert_eq!(
        seen["mappings"],
        serde_json::json!([{"inboundNatRuleName": "rdp", "protocol": "Tcp", "frontendPort": 60000, "backendPort": 3389}])
    );
    assert_eq!(
        seen["health"]["loadBalancerBackendAddresses"][0]["state"],
        "Unknown"
    );
    assert_eq!(
        seen["health"]["loadBalancerBackendAddresses"][0]["ipAddress"],
        "10.0.0.4"
    );
    assert!(
        seen["ip_configuration"]
            .as_str()
            .unwrap()
            .ends_with("/frontendIPConfigurations/myFrontend")
    );
    assert_eq!(seen["nics_after"], serde_json::json!([]));

    let err = az
        .fails(&[
            "network",
            "public-ip",
            "delete",
            "-g",
            RG,
            "-n",
            "lb-public-ip",
        ])
        .await;
    assert!(err.contains("PublicIPAddressCannotBeDeleted"), "{err}");
    az.json(&["network", "lb", "delete", "-g", RG, "-n", "myLoadBalancer"])
        .await;
    az.json(&[
        "network",
        "public-ip",
        "delete",
        "-g",
        RG,
        "-n",
        "lb-public-ip",
    ])
    .await;
    assert_eq!(
        az.json(&["network", "lb", "list", "-g", RG]).await,
        serde_json::json!([])
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_public_ips_virtual_networks_subnets_and_nics() {
    let t = TestArmlet::start().await;
    let az = Az::for_armlet(&t);
    az.json(&["group", "create", "-n", RG, "-l", "eastus"])
        .await;

    let ip = az
        .json(&[
            "network",
            "public-ip",
            "create",
            "-g",
            RG,
            "-n",
            "web",
            "--sku",
            "Standard",
            "--dns-name",
            "tutorialweb",
        ])
        .await;
    assert_eq!(
        ip["publicIp"]["dnsSettings"]["fqdn"],
        "tutorialweb.eastus.cloudapp.azure.com"
    );
    assert_eq!(ip["publicIp"]["ipAddress"], public_ip_n(&t, 1));
    let updated = az
        .json(&[
            "network",
            "public-ip",
            "update",
            "-g",
            RG,
            "-n",
            "web",
            "--idle-timeout",
            "10",
        ])
        .await;
    assert_eq!(updated["idleTimeoutInMinutes"], 10);
    assert_eq!(updated["ipAddress"], public_ip_n(&t, 1));
    let shown = az
        .json(&["network", "public-ip", "show", "-g", RG, "-n", "web"])
        .await;
    assert_eq!(shown["idleTimeoutInMinutes"], 10);
    let err = az
        .fails(&[
            "network",
            "public-ip",
            "create",
            "-g",
            RG,
            "-n",
            "dyn",
            "--sku",
            "Standard",
            "--allocation-method",
            "Dynamic",
        ])
        .await;
    assert!(
        err.contains("StandardSkuPublicIPAddressesMustBeStatic"),
        "{err}"
    );
    assert_eq!(
        names(&az.json(&["network", "public-ip", "list", "-g", RG]).await),
        ["web"]
    );
    az.json(&["network", "public-ip", "delete", "-g", RG, "-n", "web"])
        .await;

    let vnet = az
        .json(&[
            "network",
            "vnet",
            "create",
            "-g",
            RG,
            "-n",
            "vnet",
            "--address-prefixes",
            "10.0.0.0/16",
            "--subnet-name",
            "default",
            "--subnet-prefixes",
            "10.0.0.0/24",
        ])
        .await;
    assert_eq!(
        vnet["newVNet"]["subnets"][0]["addressPrefix"],
        "10.0.0.0/24"
    );
    let shown = az
        .json(&["network", "vnet", "show", "-g", RG, "-n", "vnet"])
        .await;
    assert_eq!(shown["addressSpace"]["addressPrefixes"][0], "10.0.0.0/16");
    let subnet = az
        .json(&[
            "network",
            "vnet",
            "subnet",
            "create",
            "-g",
            RG,
            "--vnet-name",
            "vnet",
            "-n",
            "apps",
            "--address-prefixes",
            "10.0.1.0/24",
        ])
        .await;
    assert_eq!(subnet["addressPrefix"], "10.0.1.0/24");
    let err = az
        .fails(&[
            "network",
            "vnet",
            "subnet",
            "create",
            "-g",
            RG,
            "--vnet-name",
            "vnet",
            "-n",
            "clash",
            "--address-prefixes",
            "10.0.1.0/25",
        ])
        .await;
    assert!(err.contains("NetcfgSubnetRangesOverlap"), "{err}");
    assert_eq!(
        names(
            &az.json(&[
                "network",
                "vnet",
                "subnet",
                "list",
                "-g",
                RG,
                "--vnet-name",
                "vnet"
            ])
            .await
        ),
        ["default", "apps"]
    );

    let nic = az
        .json(&[
            "network",
            "nic",
            "create",
            "-g",
            RG,
            "-n",
            "nic",
            "--vnet-name",
            "vnet",
            "--subnet",
            "apps",
        ])
        .await;
    assert_eq!(
        nic["NewNIC"]["ipConfigurations"][0]["privateIPAddress"],
        "10.0.1.4"
    );
    let shown = az
        .json(&["network", "nic", "show", "-g", RG, "-n", "nic"])
        .await;
    assert_eq!(
        shown["ipConfigurations"][0]["privateIPAllocationMethod"],
        "Dynamic"
    );
    let apps = az
        .json(&[
            "network",
            "vnet",
            "subnet",
            "show",
            "-g",
            RG,
            "--vnet-name",
            "vnet",
            "-n",
            "apps",
        ])
        .await;
    assert!(
        apps["ipConfigurations"][0]["id"]
            .as_str()
            .unwrap()
            .ends_with("/networkInterfaces/nic/ipConfigurations/ipconfig1")
    );
    let err = az
        .fails(&[
            "network",
            "vnet",
            "subnet",
            "delete",
            "-g",
            RG,
            "--vnet-name",
            "vnet",
            "-n",
            "apps",
        ])
        .await;
    assert!(err.contains("InUseSubnetCannotBeDeleted"), "{err}");
    az.json(&["network", "nic", "delete", "-g", RG, "-n", "nic"])
        .await;
    az.json(&[
        "network",
        "vnet",
        "subnet",
        "delete",
        "-g",
        RG,
        "--vnet-name",
        "vnet",
        "-n",
        "apps",
    ])
    .await;
    assert_eq!(
        names(
            &az.json(&[
                "network",
                "vnet",
                "subnet",
                "list",
                "-g",
                RG,
                "--vnet-name",
                "vnet"
            ])
            .await
        ),
        ["default"]
    );
    t.stop().await;
}
