//! Network security groups through the real `az`: groups and rules with Azure's defaults and
//! validation, and references from NICs and subnets (with back-references and the in-use
//! rule).

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_security_groups_with_the_az_cli() {
    let t = TestArmlet::start().await;
    let mut az = Az::for_armlet(&t);
    let home = t.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    az.env.push(("HOME".into(), home.display().to_string()));
    az.json(&["group", "create", "-n", "rg", "-l", "eastus"])
        .await;
    let nsg = az
        .json(&["network", "nsg", "create", "-g", "rg", "-n", "web-nsg"])
        .await;
    let defaults = nsg["NewNSG"]["defaultSecurityRules"].as_array().unwrap();
    assert_eq!(defaults.len(), 6, "{nsg}");
    let rule = az
        .json(&[
            "network",
            "nsg",
            "rule",
            "create",
            "-g",
            "rg",
            "--nsg-name",
            "web-nsg",
            "-n",
            "http",
            "--priority",
            "100",
            "--destination-port-ranges",
            "80",
            "443",
            "--access",
            "Allow",
            "--protocol",
            "Tcp",
            "--direction",
            "Inbound",
        ])
        .await;
    assert_eq!(
        rule["destinationPortRanges"],
        serde_json::json!(["80", "443"]),
        "{rule}"
    );
    let err = az
        .fails(&[
            "network",
            "nsg",
            "rule",
            "create",
            "-g",
            "rg",
            "--nsg-name",
            "web-nsg",
            "-n",
            "clash",
            "--priority",
            "100",
            "--destination-port-ranges",
            "22",
        ])
        .await;
    assert!(err.contains("SecurityRuleConflict"), "{err}");
    let err = az
        .fails(&[
            "network",
            "nsg",
            "rule",
            "create",
            "-g",
            "rg",
            "--nsg-name",
            "web-nsg",
            "-n",
            "low",
            "--priority",
            "50",
            "--destination-port-ranges",
            "22",
        ])
        .await;
    assert!(err.contains("SecurityRuleInvalidPriority"), "{err}");
    let rules = az
        .json(&[
            "network",
            "nsg",
            "rule",
            "list",
            "-g",
            "rg",
            "--nsg-name",
            "web-nsg",
        ])
        .await;
    assert_eq!(rules.as_array().unwrap().len(), 1);

    // A subnet and a NIC use the group; it shows them and cannot be deleted.
    az.json(&[
        "network",
        "vnet",
        "create",
        "-g",
        "rg",
        "-n",
        "vnet",
        "--address-prefix",
        "10.0.0.0/16",
        "--subnet-name",
        "sub",
        "--subnet-prefix",
        "10.0.0.0/24",
        "--network-security-group",
        "web-nsg",
    ])
    .await;
    az.json(&[
        "network",
        "nic",
        "create",
        "-g",
        "rg",
        "-n",
        "nic",
        "--vnet-name",
        "vnet",
        "--subnet",
        "sub",
        "--network-security-group",
        "web-nsg",
    ])
    .await;
    let shown = az
        .json(&["network", "nsg", "show", "-g", "rg", "-n", "web-nsg"])
        .await;
    assert_eq!(
        shown["networkInterfaces"].as_array().unwrap().len(),
        1,
        "{shown}"
    );
    assert_eq!(shown["subnets"].as_array().unwrap().len(), 1, "{shown}");
    let err = az
        .fails(&["network", "nsg", "delete", "-g", "rg", "-n", "web-nsg"])
        .await;
    assert!(
        err.contains("InUseNetworkSecurityGroupCannotBeDeleted"),
        "{err}"
    );
    let err = az
        .fails(&[
            "network",
            "nic",
            "create",
            "-g",
            "rg",
            "-n",
            "nic2",
            "--vnet-name",
            "vnet",
            "--subnet",
            "sub",
            "--network-security-group",
            "nope",
        ])
        .await;
    assert!(
        err.contains("InvalidResourceReference") || err.contains("not found"),
        "{err}"
    );

    t.stop().await;
}
