//! The public Azure quickstart templates for load balancers and scale sets, deployed
//! unmodified (parameters only) from `tests/fixtures/templates/quickstarts/` (MIT licence,
//! see its README) through a `file://` template link, as "Deploy to Azure" links them.
//!
//! Each deployment either succeeds or fails only on resource types armlet does not serve
//! yet; any other failure (a template-language gap, a validation error) fails the test. The
//! outcome table is printed (`cargo test --test quickstart_templates -- --nocapture`) and
//! recorded in the README. A deployed template's what-if is all `NoChange`.

mod common;

use std::collections::BTreeSet;

use common::deploy::*;
use common::*;
use serde_json::{Value, json};

/// The error codes ARM gives a resource of a type its provider does not serve.
const UNSERVED: &[&str] = &["InvalidResourceType", "NoRegisteredProviderFound"];

/// Types armlet serves only in part today, and the error their unserved part answers with:
/// standalone virtual machines (armlet's VMs are Flexible scale-set instances).
const PARTLY_SERVED: &[(&str, &str)] =
    &[("Microsoft.Compute/virtualMachines", "OperationNotAllowed")];

const SSH_KEY: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0 test@armlet";

struct Outcome {
    template: &'static str,
    state: String,
    deployed: BTreeSet<String>,
    blocked: BTreeSet<String>,
    other: Vec<Value>,
}

fn link(name: &str) -> String {
    format!(
        "file://{}",
        repo_root()
            .join("tests/fixtures/templates/quickstarts")
            .join(name)
            .join("azuredeploy.json")
            .display()
    )
}

async fn deploy_quickstart(t: &TestArmlet, template: &'static str, parameters: Value) -> Outcome {
    let rg = format!("qs-{}", &template[..template.len().min(20)]);
    group(t, &rg).await;
    let path = group_deployment(&rg, "quickstart");
    let body = json!({"properties": {
        "mode": "Incremental",
        "templateLink": {"uri": link(template), "contentVersion": "1.0.0.0"},
        "parameters": parameters
    }});
    let (done, d) = deploy(t, &path, body.to_string()).await;
    let (s, ops) = t.get(&q(&format!("{path}/operations"))).await;
    assert_eq!(s, 200, "{ops}");
    let mut outcome = Outcome {
        template,
        state: done["status"].as_str().unwrap_or_default().to_string(),
        deployed: BTreeSet::new(),
        blocked: BTreeSet::new(),
        other: Vec::new(),
    };
    for op in ops["value"].as_array().unwrap() {
        let p = &op["properties"];
        let ty = p["targetResource"]["resourceType"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match p["provisioningState"].as_str() {
            Some("Succeeded") => {
                outcome.deployed.insert(ty);
            }
            _ => {
                let code = p["statusMessage"]["error"]["code"]
                    .as_str()
                    .unwrap_or_default();
                let partly = PARTLY_SERVED
                    .iter()
                    .any(|(t, c)| t.eq_ignore_ascii_case(&ty) && *c == code);
                if UNSERVED.contains(&code) || partly {
                    outcome.blocked.insert(ty);
                } else {
                    outcome.other.push(op.clone());
                }
            }
        }
    }
    if outcome.state != "Succeeded" && outcome.blocked.is_empty() && outcome.other.is_empty() {
        outcome.other.push(d["properties"]["error"].clone());
    }
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_templates_deploy_unmodified_or_fail_only_on_types_armlet_does_not_serve() {
    let t = TestArmlet::start().await;
    let password = "Armlet-Passw0rd!";
    let mut outcomes = Vec::new();
    outcomes.push(
        deploy_quickstart(
            &t,
            "vmss-linux-nat",
            json!({"vmssName": {"value": "qsnat"}, "instanceCount": {"value": 2},
                "adminUsername": {"value": "azureuser"}, "adminPasswordOrKey": {"value": SSH_KEY}}),
        )
        .await,
    );
    outcomes.push(
        deploy_quickstart(
            &t,
            "vmss-automatic-repairs-slb-health-probe",
            json!({"vmssName": {"value": "qsrepair"}, "instanceCount": {"value": 2},
                "adminUsername": {"value": "azureuser"}, "adminPassword": {"value": password}}),
        )
        .await,
    );
    outcomes.push(
        deploy_quickstart(
            &t,
            "vmss-ubuntu-autoscale",
            json!({"vmssName": {"value": "qsauto"}, "instanceCount": {"value": 5},
                "adminUsername": {"value": "azureuser"}, "adminPasswordOrKey": {"value": SSH_KEY}}),
        )
        .await,
    );
    outcomes.push(
        deploy_quickstart(
            &t,
            "load-balancer-standard-create",
            json!({"projectName": {"value": "qslb"}, "adminUsername": {"value": "azureuser"},
                "adminPassword": {"value": password}}),
        )
        .await,
    );
    outcomes.push(
        deploy_quickstart(
            &t,
            "2-vms-internal-load-balancer",
            json!({"adminUsername": {"value": "azureuser"}, "adminPassword": {"value": password}}),
        )
        .await,
    );

    println!("| template | result | deployed types | blocked by (not served) |");
    println!("|---|---|---|---|");
    for o in &outcomes {
        let list = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
        println!(
            "| {} | {} | {} | {} |",
            o.template,
            o.state,
            list(&o.deployed),
            list(&o.blocked)
        );
    }
    for o in &outcomes {
        assert!(
            o.other.is_empty(),
            "{} failed for a reason other than an unserved type: {}",
            o.template,
            serde_json::to_string_pretty(&o.other).unwrap()
        );
        assert!(
            o.state == "Succeeded" || !o.blocked.is_empty(),
            "{}: {}",
            o.template,
            o.state
        );
    }
    assert_eq!(outcomes[0].state, "Succeeded", "vmss-linux-nat deploys");
    assert_eq!(
        outcomes[1].state, "Succeeded",
        "vmss-automatic-repairs deploys"
    );

    // Deployed again as a what-if, nothing changes.
    let started = std::time::Instant::now();
    let body = json!({"properties": {"mode": "Incremental",
        "templateLink": {"uri": link("vmss-linux-nat")},
        "parameters": {"vmssName": {"value": "qsnat"}, "instanceCount": {"value": 2},
            "adminUsername": {"value": "azureuser"}, "adminPasswordOrKey": {"value": SSH_KEY}}}});
    let path = group_deployment("qs-vmss-linux-nat", "again");
    let r = what_if_at(&t, &path, body.to_string()).await;
    println!(
        "what-if of vmss-linux-nat (POST to result, polled every 50 ms): {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(r["status"], "Succeeded", "{r}");
    for c in r["properties"]["changes"].as_array().unwrap() {
        assert_eq!(c["changeType"], "NoChange", "{c}");
    }
    assert_eq!(r["properties"]["changes"].as_array().unwrap().len(), 4);
    t.stop().await;
}

/// What `load-balancer-standard-create` does with its two subnets: children of one virtual
/// network deployed as resources of their own, at the same time. None may be lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_resources_of_one_parent_deployed_together_all_survive() {
    let t = TestArmlet::start().await;
    group(&t, "subnets").await;
    let mut resources = vec![json!({
        "type": "Microsoft.Network/virtualNetworks", "apiVersion": "2024-05-01", "name": "vnet",
        "location": "[resourceGroup().location]",
        "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}
    })];
    for k in 0..8 {
        resources.push(json!({
            "type": "Microsoft.Network/virtualNetworks/subnets", "apiVersion": "2024-05-01",
            "name": format!("vnet/s{k}"), "dependsOn": ["vnet"],
            "properties": {"addressPrefix": format!("10.0.{k}.0/24")}
        }));
    }
    let template = json!({"resources": resources});
    let (done, d) = deploy(
        &t,
        &group_deployment("subnets", "children"),
        body(&template.to_string(), json!({}), "Incremental"),
    )
    .await;
    assert_eq!(done["status"], "Succeeded", "{d}");
    let (_, vnet) = t
        .get(&format!(
            "/subscriptions/{SUB}/resourceGroups/subnets/providers/Microsoft.Network/virtualNetworks/vnet?api-version=2024-05-01"
        ))
        .await;
    let mut names: Vec<&str> = vnet["properties"]["subnets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"]);
    t.stop().await;
}
