//! Template deployments with the real `az` CLI: `az deployment group|sub ...`,
//! `az deployment operation group list`, and the commands that deploy templates behind the
//! scenes (`az network lb create` with an existing and a new public IP, `az vmss create`).

mod common;

use common::*;
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    repo_root()
        .join("tests/fixtures/templates")
        .join(name)
        .display()
        .to_string()
}

fn names(list: &Value) -> Vec<String> {
    let mut n: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_deployment_group_create_show_list_validate_operations_delete() {
    let t = TestArmlet::start().await;
    let az = Az::for_armlet(&t);
    az.json(&["group", "create", "-n", "iac", "-l", "eastus"])
        .await;
    let template = fixture("parameters.json");
    let params = format!("@{}", fixture("parameters.parameters.json"));
    let create = |name: &'static str| {
        vec![
            "deployment",
            "group",
            "create",
            "-g",
            "iac",
            "-n",
            name,
            "--template-file",
            &template,
            "--parameters",
            &params,
            "count=2",
            "tier=Standard",
        ]
    };

    let mut validate = create("svc");
    validate[2] = "validate";
    let v = az.json(&validate).await;
    assert_eq!(v["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        v["properties"]["validatedResources"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A parameter file (with its deploymentParameters wrapper) plus inline key=value overrides.
    let d = az.json(&create("svc")).await;
    let outputs = &d["properties"]["outputs"];
    assert_eq!(d["properties"]["provisioningState"], "Succeeded");
    assert_eq!(outputs["ports"]["value"], json!([50000, 50001]));
    assert_eq!(outputs["tier"]["value"], "Standard");
    assert_eq!(outputs["passwordLength"]["value"], 13);
    assert_eq!(outputs["settings"]["value"], json!({"retries": 2}));
    assert_eq!(
        d["properties"]["parameters"]["password"],
        json!({"type": "SecureString"})
    );

    let shown = az
        .json(&["deployment", "group", "show", "-g", "iac", "-n", "svc"])
        .await;
    assert_eq!(shown["properties"]["outputs"], d["properties"]["outputs"]);
    let list = az.json(&["deployment", "group", "list", "-g", "iac"]).await;
    assert_eq!(names(&list), vec!["svc", "svc-0", "svc-1"]);
    let ops = az
        .json(&[
            "deployment",
            "operation",
            "group",
            "list",
            "-g",
            "iac",
            "-n",
            "svc",
        ])
        .await;
    let ops = ops.as_array().unwrap();
    assert_eq!(ops.len(), 2);
    for op in ops {
        assert_eq!(op["properties"]["provisioningState"], "Succeeded");
        assert_eq!(op["properties"]["provisioningOperation"], "Create");
        assert_eq!(
            op["properties"]["targetResource"]["resourceType"],
            "Microsoft.Resources/deployments"
        );
    }
    let exported = az
        .json(&["deployment", "group", "export", "-g", "iac", "-n", "svc"])
        .await;
    assert_eq!(
        exported["parameters"]["tier"]["allowedValues"],
        json!(["Basic", "Standard"])
    );

    // A template file with comments and trailing commas goes through az as is.
    let f = az
        .json(&[
            "deployment",
            "group",
            "create",
            "-g",
            "iac",
            "-n",
            "fns",
            "--template-file",
            &fixture("functions.json"),
        ])
        .await;
    assert_eq!(
        f["properties"]["outputs"]["looped"]["value"],
        json!(["item-0", "item-1", "item-2"])
    );

    // Failures: preflight (a parameter constraint), and a resource the deployment cannot create.
    let err = az
        .fails(&[
            "deployment",
            "group",
            "create",
            "-g",
            "iac",
            "-n",
            "bad",
            "--template-file",
            &template,
            "--parameters",
            "prefix=x",
            "password=p",
        ])
        .await;
    assert!(
        err.contains("InvalidTemplate") && err.contains("minimum length of '2'"),
        "{err}"
    );
    let err = az
        .fails(&[
            "deployment",
            "group",
            "create",
            "-g",
            "iac",
            "-n",
            "broken",
            "--template-file",
            &fixture("unknown-types.json"),
        ])
        .await;
    assert!(err.contains("DeploymentFailed"), "{err}");
    assert!(
        err.contains("InvalidResourceType") && err.contains("frobnicators"),
        "{err}"
    );
    let broken = az
        .json(&["deployment", "group", "show", "-g", "iac", "-n", "broken"])
        .await;
    assert_eq!(broken["properties"]["provisioningState"], "Failed");

    az.json(&["deployment", "group", "delete", "-g", "iac", "-n", "svc"])
        .await;
    let err = az
        .fails(&["deployment", "group", "show", "-g", "iac", "-n", "svc"])
        .await;
    assert!(err.contains("DeploymentNotFound"), "{err}");
    // `az resource list` never shows deployments.
    let resources = az.json(&["resource", "list", "-g", "iac"]).await;
    assert_eq!(resources, json!([]));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_deployment_sub_create_makes_resource_groups() {
    let t = TestArmlet::start().await;
    let az = Az::for_armlet(&t);
    let d = az
        .json(&[
            "deployment",
            "sub",
            "create",
            "-l",
            "eastus",
            "-n",
            "groups",
            "--template-file",
            &fixture("resource-groups.json"),
            "--parameters",
            "prefix=azsub",
            "count=3",
        ])
        .await;
    assert_eq!(d["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        d["properties"]["outputs"]["nestedGreeting"]["value"],
        "hello azsub"
    );
    assert_eq!(
        d["properties"]["outputs"]["groupIds"]["value"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let g = az.json(&["group", "show", "-n", "azsub-2"]).await;
    assert_eq!(g["tags"]["index"], "2");
    let shown = az
        .json(&["deployment", "sub", "show", "-n", "groups"])
        .await;
    assert_eq!(shown["location"], "eastus");
    let ops = az
        .json(&["deployment", "operation", "sub", "list", "-n", "groups"])
        .await;
    assert_eq!(ops.as_array().unwrap().len(), 4);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_network_lb_create_and_vmss_create_deploy_their_templates() {
    let t = TestArmlet::start().await;
    let az = Az::for_armlet(&t);
    az.json(&["group", "create", "-n", "lb-rg", "-l", "eastus"])
        .await;
    az.json(&[
        "network",
        "public-ip",
        "create",
        "-g",
        "lb-rg",
        "-n",
        "ip",
        "--sku",
        "Standard",
        "--allocation-method",
        "Static",
    ])
    .await;
    // Existing public IP: the template holds only the load balancer.
    let lb = az
        .json(&[
            "network",
            "lb",
            "create",
            "-g",
            "lb-rg",
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
    let fe = &lb["loadBalancer"]["frontendIPConfigurations"][0];
    assert_eq!(fe["name"], "fe");
    assert!(
        fe["properties"]["publicIPAddress"]["id"]
            .as_str()
            .unwrap()
            .ends_with("/publicIPAddresses/ip")
    );
    assert_eq!(lb["loadBalancer"]["backendAddressPools"][0]["name"], "pool");
    // New public IP: the template creates it first (dependsOn).
    let lb2 = az
        .json(&[
            "network",
            "lb",
            "create",
            "-g",
            "lb-rg",
            "-n",
            "lb2",
            "--sku",
            "Standard",
            "--public-ip-address",
            "ip2",
            "--frontend-ip-name",
            "fe",
            "--backend-pool-name",
            "pool",
        ])
        .await;
    assert!(
        lb2["loadBalancer"]["frontendIPConfigurations"][0]["properties"]["publicIPAddress"]["id"]
            .as_str()
            .unwrap()
            .ends_with("/publicIPAddresses/ip2")
    );
    az.json(&["network", "public-ip", "show", "-g", "lb-rg", "-n", "ip2"])
        .await;
    let shown = az
        .json(&["network", "lb", "show", "-g", "lb-rg", "-n", "lb2"])
        .await;
    assert_eq!(shown["provisioningState"], "Succeeded");
    let deployments = az
        .json(&["deployment", "group", "list", "-g", "lb-rg"])
        .await;
    assert!(
        names(&deployments)
            .iter()
            .all(|n| n.starts_with("lb_deploy_"))
    );
    assert_eq!(names(&deployments).len(), 2);

    // `az vmss create` into the load balancer's pool: a template with a new virtual network
    // and the scale set (Uniform, so the health probe and upgrade policy apply).
    let vmss = az
        .json(&[
            "vmss",
            "create",
            "-g",
            "lb-rg",
            "-n",
            "web",
            "--image",
            "Ubuntu2204",
            "--orchestration-mode",
            "Uniform",
            "--instance-count",
            "2",
            "--admin-username",
            "azureuser",
            "--authentication-type",
            "password",
            "--admin-password",
            "Armlet-Passw0rd!",
            "--lb",
            "lb",
            "--backend-pool-name",
            "pool",
            "--vnet-name",
            "vnet",
            "--subnet",
            "sub",
            "--upgrade-policy-mode",
            "Manual",
        ])
        .await;
    assert_eq!(vmss["vmss"]["provisioningState"], "Succeeded", "{vmss}");
    let deployments = az
        .json(&["deployment", "group", "list", "-g", "lb-rg"])
        .await;
    let vmss_deploy = names(&deployments)
        .into_iter()
        .find(|n| n.starts_with("vmss_deploy_"))
        .unwrap();
    let ops = az
        .json(&[
            "deployment",
            "operation",
            "group",
            "list",
            "-g",
            "lb-rg",
            "-n",
            &vmss_deploy,
        ])
        .await;
    let mut types: Vec<&str> = ops
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            o["properties"]["targetResource"]["resourceType"]
                .as_str()
                .unwrap()
        })
        .collect();
    types.sort();
    assert_eq!(
        types,
        vec![
            "Microsoft.Compute/virtualMachineScaleSets",
            "Microsoft.Network/virtualNetworks"
        ]
    );
    t.stop().await;
}
