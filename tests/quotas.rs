//! Quotas and limits: the regional vCPU quota is listed by `usages` (`az vm list-usage`) and
//! a create or scale-out past it fails with Azure's `OperationNotAllowed` message, storing
//! nothing and starting no process; so does growing past one placement group's 100
//! instances; a load balancer keeps Azure's per-resource limits.

mod common;

use std::time::Duration;

use armlet::config::ServeConfig;
use common::scale_set::*;
use common::*;
use serde_json::{Value, json};

async fn with_quota(vcpus: u64) -> TestArmlet {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::for_tests(dir.path().to_path_buf());
    config.limits.vcpu_quota = Some(vcpus);
    TestArmlet::start_with(config, dir).await
}

fn usages_path() -> String {
    format!(
        "/subscriptions/{SUB}/providers/Microsoft.Compute/locations/eastus/usages?api-version=2024-11-01"
    )
}

fn cores(usages: &Value) -> (u64, u64) {
    let c = usages["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"]["value"] == "cores")
        .unwrap();
    (
        c["currentValue"].as_u64().unwrap(),
        c["limit"].as_u64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_outs_past_the_regional_vcpu_quota_fail_and_store_nothing() {
    let t = with_quota(8).await;
    network(&t).await;
    let web = format!(
        "{}?api-version={COMPUTE}",
        rid("Microsoft.Compute/virtualMachineScaleSets", "web")
    );
    // Standard_D2s_v3: two vCPUs per instance.
    assert_eq!(put_and_wait(&t, &web, vmss_body(2)).await.1, "Succeeded");
    let (s, u) = t.get(&usages_path()).await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(cores(&u), (4, 8));
    assert!(
        u["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["name"]["value"] == "standardDSv3Family" && x["currentValue"] == 4)
    );

    let (s, e) = t.patch(&web, json!({"sku": {"capacity": 5}})).await;
    assert_eq!(s, 409, "{e}");
    assert_eq!(e["error"]["code"], "OperationNotAllowed");
    assert!(e["error"]["message"].as_str().unwrap().starts_with(
        "Operation could not be completed as it results in exceeding approved Total Regional Cores quota. Additional details - Deployment Model: Resource Manager, Location: eastus, Current Limit: 8, Current Usage: 4, Additional Required: 6, (Minimum) New Limit Required: 10."
    ));
    let (_, doc) = t.get(&web).await;
    assert_eq!(doc["sku"]["capacity"], 2, "nothing stored");
    let instances = format!(
        "{}/virtualMachines?api-version={COMPUTE}",
        rid("Microsoft.Compute/virtualMachineScaleSets", "web")
    );
    assert_eq!(
        t.get(&instances).await.1["value"].as_array().unwrap().len(),
        2
    );
    // One placement group (Azure's default for Uniform) holds at most 100 instances; without
    // it the quota is what stops the scale-out.
    let (s, e) = t.patch(&web, json!({"sku": {"capacity": 101}})).await;
    assert_eq!(s, 409, "{e}");
    assert_eq!(
        e["error"]["message"],
        "Unable to create or update VirtualMachineScaleSet 'web' as it exceeds the total limit of '100' Virtual Machine instances."
    );
    let spread = json!({"sku": {"capacity": 101}, "properties": {"singlePlacementGroup": false}});
    let (s, e) = t.patch(&web, spread).await;
    assert_eq!(s, 409, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Total Regional Cores quota"),
        "{e}"
    );
    assert_eq!(t.get(&web).await.1["sku"]["capacity"], 2, "nothing stored");

    // A second scale set counts against the same region.
    let other = format!(
        "{}?api-version={COMPUTE}",
        rid("Microsoft.Compute/virtualMachineScaleSets", "other")
    );
    let mut body = vmss_body(3);
    body["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]
        [0]["properties"]["ipConfigurations"][0]["properties"]
        .as_object_mut()
        .unwrap()
        .remove("loadBalancerInboundNatPools");
    let (s, e) = t.put(&other, body.clone()).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("OperationNotAllowed"))
    );
    assert_eq!(t.get(&other).await.0, 404);
    // Within the quota it is created; scaling in is always allowed.
    body["sku"]["capacity"] = json!(2);
    assert_eq!(put_and_wait(&t, &other, body).await.1, "Succeeded");
    assert_eq!(cores(&t.get(&usages_path()).await.1), (8, 8));
    let (s, _) = t.patch(&web, json!({"sku": {"capacity": 1}})).await;
    assert!(s < 300);
    eventually(Duration::from_secs(30), || async {
        (cores(&t.get(&usages_path()).await.1) == (6, 8)).then_some(())
    })
    .await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_lists_usage_and_reports_the_quota_error() {
    let t = with_quota(6).await;
    network(&t).await;
    let web = format!(
        "{}?api-version={COMPUTE}",
        rid("Microsoft.Compute/virtualMachineScaleSets", "web")
    );
    assert_eq!(put_and_wait(&t, &web, vmss_body(1)).await.1, "Succeeded");
    let az = Az::for_armlet(&t);
    let usage = az.json(&["vm", "list-usage", "--location", "eastus"]).await;
    let total = usage
        .as_array()
        .unwrap()
        .iter()
        .find(|u| {
            u["localName"] == "Total Regional vCPUs"
                || u["name"]["localizedValue"] == "Total Regional vCPUs"
        })
        .unwrap_or_else(|| panic!("{usage}"));
    assert_eq!(
        (
            total["currentValue"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| total["currentValue"].to_string()),
            total["limit"].to_string().trim_matches('"').to_string()
        ),
        ("2".to_string(), "6".to_string())
    );
    let err = az
        .fails(&[
            "vmss",
            "scale",
            "-g",
            "rg",
            "-n",
            "web",
            "--new-capacity",
            "4",
        ])
        .await;
    assert!(
        err.contains("OperationNotAllowed") && err.contains("Total Regional Cores quota"),
        "{err}"
    );
    let err = az
        .fails(&[
            "vmss",
            "scale",
            "-g",
            "rg",
            "-n",
            "web",
            "--new-capacity",
            "150",
        ])
        .await;
    assert!(
        err.contains("exceeds the total limit of '100' Virtual Machine instances"),
        "{err}"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancers_keep_azures_rule_limit() {
    let t = TestArmlet::start().await;
    network(&t).await;
    let lb = rid("Microsoft.Network/loadBalancers", "lb");
    let (_, mut doc) = t.get(&format!("{lb}?api-version={NET}")).await;
    let template = doc["properties"]["loadBalancingRules"][0].clone();
    let rules: Vec<Value> = (0..1501)
        .map(|i| {
            let mut r = template.clone();
            r["name"] = json!(format!("r{i}"));
            r["properties"]["frontendPort"] = json!(2000 + i);
            r["properties"]["backendPort"] = json!(2000 + i);
            r
        })
        .collect();
    doc["properties"]["loadBalancingRules"] = json!(rules);
    let (s, e) = t.put(&format!("{lb}?api-version={NET}"), doc).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("LoadBalancerRuleCountLimitReached")),
        "{e}"
    );
    let (_, now) = t.get(&format!("{lb}?api-version={NET}")).await;
    assert_eq!(
        now["properties"]["loadBalancingRules"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    t.stop().await;
}
