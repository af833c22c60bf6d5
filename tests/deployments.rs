//! Template deployments over HTTPS: the fixture templates in `tests/fixtures/templates/`,
//! each checked for what it deploys and outputs, and the bodies `az` generates.

mod common;

use common::deploy::*;
use common::*;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_and_construct_in_outputs() {
    let t = TestArmlet::start().await;
    group(&t, "fn-rg").await;
    let path = group_deployment("fn-rg", "functions");
    let (status, d) = deploy(
        &t,
        &path,
        body(&fixture("functions.json"), json!({}), "Incremental"),
    )
    .await;
    assert_eq!(status["status"], "Succeeded", "{status}");
    let p = &d["properties"];
    assert_eq!(p["provisioningState"], "Succeeded");
    let out = |k: &str| p["outputs"][k]["value"].clone();
    assert_eq!(out("logical"), json!([true, false, "yes", true, false]));
    assert_eq!(out("comparison"), json!([true, true, true, false, true]));
    assert_eq!(out("numeric"), json!([3, -2, 12, 3, 1, 42, 1, 9, 1.5]));
    assert_eq!(
        out("strings"),
        json!([
            "web-3",
            "AB",
            "x",
            "ell",
            "a.b.c",
            ["a", "b", "c"],
            "x+y",
            true,
            true,
            2,
            5,
            "007"
        ])
    );
    assert_eq!(
        out("encodings"),
        json!(["aGk=", "hi", {"a": 1}, "data:text/plain;charset=utf8;base64,aGk=", "hi", "https://x.org/a/b", "a%20b%26c", "a b", "{\"k\":true}", [1, 2]])
    );
    assert_eq!(
        out("collections"),
        json!({
            "length": 2, "contains": true, "empty": true, "first": "1", "last": "z",
            "skip": [2, 3], "take": "ab", "range": [5, 6, 7],
            "union": {"env": "dev", "team": "edge"}, "intersection": [2, 3],
            "coalesce": "fallback", "array": ["x"],
            "items": [{"key": "a", "value": 1}, {"key": "b", "value": 2}],
            "keys": ["env", "team"], "flatten": [1, 2, 3]
        })
    );
    assert_eq!(
        out("dates"),
        json!([
            "2/29/2024 12:00:00 AM",
            1704067200,
            "1970-01-02T00:00:00Z",
            "0007-x"
        ])
    );
    let hashes = out("hashes");
    assert_eq!(hashes["unique"].as_str().unwrap().len(), 13);
    assert_eq!(hashes["guid"].as_str().unwrap().len(), 36);
    assert_eq!(hashes["stampLength"], 4);
    assert_eq!(hashes["idLength"], 36);
    let rg_id = format!("/subscriptions/{SUB}/resourceGroups/fn-rg");
    assert_eq!(
        out("ids"),
        json!([
            format!("{rg_id}/providers/Microsoft.Network/loadBalancers/lb"),
            format!("{rg_id}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/sub"),
            format!("/subscriptions/{SUB}/providers/Microsoft.Resources/resourceGroups/other"),
            "/providers/Microsoft.Management/managementGroups/mg",
            format!("{rg_id}/providers/Microsoft.Authorization/locks/lock"),
        ])
    );
    assert_eq!(
        out("scope"),
        json!({"sub": SUB, "rg": "fn-rg", "location": "eastus", "deployment": "functions", "cloud": "AzureCloud", "provider": "deployments"})
    );
    assert_eq!(
        out("variables"),
        json!({"ports": [8080, 8081, 8082], "disks": {"items": [{"lun": 0, "name": "disk1"}, {"lun": 1, "name": "disk2"}]}})
    );
    assert_eq!(out("escaped"), json!("[not an expression]"));
    assert_eq!(out("looped"), json!(["item-0", "item-1", "item-2"]));
    assert!(
        p["outputs"].get("skipped").is_none(),
        "a false condition leaves the output out"
    );
    assert_eq!(p["outputs"]["coerced"], json!({"type": "Int", "value": 42}));
    // Secure values are never echoed back: not in outputs, not in parameters.
    assert_eq!(p["outputs"]["secret"], json!({"type": "SecureString"}));
    assert_eq!(p["parameters"]["secret"], json!({"type": "SecureString"}));
    assert_eq!(p["parameters"]["count"], json!({"type": "Int", "value": 3}));
    assert!(!d.to_string().contains("s3cret"));
    for field in ["correlationId", "timestamp", "duration", "templateHash"] {
        assert!(p[field].is_string(), "{field} in {p}");
    }
    assert_eq!(p["mode"], "Incremental");
    assert_eq!(p["outputResources"], json!([]));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_scope_creates_resource_groups_and_deploys_into_them() {
    let t = TestArmlet::start().await;
    let path = sub_deployment("groups");
    let b = body_at(
        "westeurope",
        &fixture("resource-groups.json"),
        json!({"prefix": {"value": "tpl"}}),
    );
    let (status, d) = deploy(&t, &path, b).await;
    assert_eq!(status["status"], "Succeeded", "{status}");
    assert_eq!(d["location"], "westeurope");
    let outputs = &d["properties"]["outputs"];
    assert_eq!(
        outputs["groupIds"]["value"],
        json!([
            format!("/subscriptions/{SUB}/providers/Microsoft.Resources/resourceGroups/tpl-0"),
            format!("/subscriptions/{SUB}/providers/Microsoft.Resources/resourceGroups/tpl-1"),
        ])
    );
    assert_eq!(
        outputs["firstGroupTags"]["value"],
        json!({"index": "0", "by": "template"})
    );
    assert_eq!(outputs["nestedGreeting"]["value"], "hello tpl");
    assert_eq!(outputs["nestedWhere"]["value"], "tpl-0");
    for rg in ["tpl-0", "tpl-1"] {
        let (s, g) = t.get(&rg_path(rg)).await;
        assert_eq!(s, 200);
        assert_eq!(g["location"], "westeurope");
    }
    let (s, _) = t.get(&rg_path("tpl-extra")).await;
    assert_eq!(s, 404, "condition false: not deployed");
    // The nested deployment is a deployment of its own, in the group it targeted.
    let (s, nested) = t
        .get(&q(&group_deployment("tpl-0", "into-first-group")))
        .await;
    assert_eq!(s, 200);
    assert_eq!(nested["properties"]["outputs"]["where"]["value"], "tpl-0");
    let resources: Vec<&str> = d["properties"]["outputResources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        resources,
        vec![
            format!("/subscriptions/{SUB}/resourceGroups/tpl-0"),
            format!("/subscriptions/{SUB}/resourceGroups/tpl-1")
        ]
    );
    let (_, list) = t
        .get(&q(&format!(
            "/subscriptions/{SUB}/providers/Microsoft.Resources/deployments/"
        )))
        .await;
    let names: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["groups"],
        "subscription-scope list holds subscription deployments only"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_deployments_copy_loops_and_references() {
    let t = TestArmlet::start().await;
    group(&t, "nest").await;
    let path = group_deployment("nest", "pipeline");
    let (status, d) = deploy(
        &t,
        &path,
        body(
            &fixture("nested.json"),
            json!({"suffix": {"value": "7"}}),
            "Incremental",
        ),
    )
    .await;
    assert_eq!(status["status"], "Succeeded", "{status}");
    let outputs = &d["properties"]["outputs"];
    assert_eq!(outputs["joined"]["value"], "0:BUILD 1:TEST 2:SHIP");
    assert_eq!(
        outputs["label"]["value"], "stage-7",
        "outer scope sees the parent's variables"
    );
    assert_eq!(outputs["collectorState"]["value"], "Succeeded");
    // Serial copy: each stage depends on the one before; the collector on all of them.
    let deps = d["properties"]["dependencies"].as_array().unwrap();
    let depends = |name: &str| -> Vec<String> {
        deps.iter()
            .find(|e| e["resourceName"] == name)
            .map(|e| {
                e["dependsOn"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x["resourceName"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(depends("stage-test"), vec!["stage-build"]);
    assert_eq!(depends("collector").len(), 4);
    let (_, ops) = t.get(&q(&format!("{path}/operations"))).await;
    let ops = ops["value"].as_array().unwrap();
    assert_eq!(ops.len(), 5, "one operation per resource");
    assert!(
        ops.iter()
            .all(|o| o["properties"]["provisioningState"] == "Succeeded")
    );
    // az's spelling of the operations URL has no providers segment.
    let (s, same) = t
        .get(&q(&format!(
            "/subscriptions/{SUB}/resourcegroups/nest/deployments/pipeline/operations"
        )))
        .await;
    assert_eq!(s, 200);
    assert_eq!(same["value"].as_array().unwrap().len(), 5);
    let op_id = ops[0]["operationId"].as_str().unwrap();
    let (s, one) = t.get(&q(&format!("{path}/operations/{op_id}"))).await;
    assert_eq!(s, 200);
    assert_eq!(
        one["properties"]["targetResource"]["resourceType"],
        "Microsoft.Resources/deployments"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_resources_fail_the_deployment_with_their_own_errors() {
    let t = TestArmlet::start().await;
    group(&t, "bad").await;
    let path = group_deployment("bad", "unknown");
    let (status, d) = deploy(
        &t,
        &path,
        body(&fixture("unknown-types.json"), json!({}), "Incremental"),
    )
    .await;
    assert_eq!(status["status"], "Failed");
    assert_eq!(status["error"]["code"], "DeploymentFailed");
    let p = &d["properties"];
    assert_eq!(p["provisioningState"], "Failed");
    assert_eq!(p["error"]["code"], "DeploymentFailed");
    assert!(
        p.get("outputs").is_none_or(Value::is_null),
        "outputs are not evaluated after a failure"
    );
    let mut details: Vec<(String, String)> = p["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap().to_string(),
                e["target"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    details.sort();
    let rg_id = format!("/subscriptions/{SUB}/resourceGroups/bad");
    assert_eq!(
        details,
        vec![
            (
                "InvalidResourceType".to_string(),
                format!("{rg_id}/providers/Microsoft.Network/frobnicators/frob")
            ),
            (
                "NoRegisteredProviderFound".to_string(),
                format!("{rg_id}/providers/Contoso.Widgets/widgets/widget")
            ),
        ]
    );
    assert!(p["error"]["details"].to_string().contains(
        "The resource type 'frobnicators' could not be found in the namespace 'Microsoft.Network'"
    ));
    let (_, ops) = t.get(&q(&format!("{path}/operations"))).await;
    let by_name = |n: &str| {
        ops["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["properties"]["targetResource"]["resourceName"] == n)
            .cloned()
    };
    let frob = by_name("frob").unwrap();
    assert_eq!(frob["properties"]["provisioningState"], "Failed");
    assert_eq!(frob["properties"]["statusCode"], "BadRequest");
    assert_eq!(
        frob["properties"]["statusMessage"]["error"]["code"],
        "InvalidResourceType"
    );
    assert_eq!(
        by_name("independent").unwrap()["properties"]["provisioningState"],
        "Succeeded"
    );
    assert!(
        by_name("after-frob").is_none(),
        "what depends on a failed resource is not attempted"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bodies_az_generates_for_lb_and_vmss_create_deploy() {
    let t = TestArmlet::start().await;
    group(&t, "rg3").await;
    let ip = format!(
        "/subscriptions/{SUB}/resourceGroups/rg3/providers/Microsoft.Network/publicIPAddresses/ip?api-version=2025-09-01"
    );
    let (s, _) = t
        .put(&ip, json!({"location": "eastus", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}}))
        .await;
    assert_eq!(s, 201);

    // `az network lb create` with an existing public IP: the body it PUTs, as recorded.
    let (status, lb) = deploy(
        &t,
        &group_deployment("rg3", "lb_deploy_recorded"),
        fixture("lb-create.deployment.json"),
    )
    .await;
    assert_eq!(status["status"], "Succeeded", "{status}");
    let out = &lb["properties"]["outputs"]["loadBalancer"];
    assert_eq!(out["type"], "Object");
    assert_eq!(out["value"]["frontendIPConfigurations"][0]["name"], "fe");
    assert_eq!(out["value"]["backendAddressPools"][0]["name"], "pool");
    assert_eq!(
        lb["properties"]["outputResources"],
        json!([{"id": format!("/subscriptions/{SUB}/resourceGroups/rg3/providers/Microsoft.Network/loadBalancers/lb")}])
    );

    // `az vmss create`: a virtual network and a Flexible scale set in its subnet and the load
    // balancer's pool. Its template writes `"primary": "true"`, which ARM reads as a boolean.
    // (The recorded nginx cloud-config is left out: it would run systemctl on this host.)
    let mut recorded: Value =
        serde_json::from_str(&fixture("vmss-create.deployment.json")).unwrap();
    let vmss = &mut recorded["properties"]["template"]["resources"][1];
    vmss["properties"]["virtualMachineProfile"]["osProfile"]
        .as_object_mut()
        .unwrap()
        .remove("customData");
    let (status, d) = deploy(
        &t,
        &group_deployment("rg3", "vmss_deploy_recorded"),
        recorded.to_string(),
    )
    .await;
    assert_eq!(status["status"], "Succeeded", "{status}");
    let scale_set = &d["properties"]["outputs"]["vmss"]["value"];
    assert_eq!(scale_set["orchestrationMode"], "Flexible");
    assert_eq!(
        scale_set["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]["properties"]
            ["primary"],
        true
    );
    let (_, ops) = t
        .get(&q(&format!(
            "{}/operations",
            group_deployment("rg3", "vmss_deploy_recorded")
        )))
        .await;
    let kinds: Vec<&str> = ops["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            o["properties"]["targetResource"]["resourceType"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "Microsoft.Network/virtualNetworks",
            "Microsoft.Compute/virtualMachineScaleSets"
        ],
        "the vnet first: the scale set depends on it"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_mode_deletes_what_the_template_does_not_declare() {
    let t = TestArmlet::start().await;
    group(&t, "cm").await;
    let ips = |names: &[&str]| {
        let resources: Vec<Value> = names
            .iter()
            .map(|n| json!({"type": "Microsoft.Network/publicIPAddresses", "apiVersion": "2024-05-01", "name": n,
                "location": "[resourceGroup().location]", "sku": {"name": "Standard"},
                "properties": {"publicIPAllocationMethod": "Static", "idleTimeoutInMinutes": "10"}}))
            .collect();
        json!({"resources": resources}).to_string()
    };
    let (status, _) = deploy(
        &t,
        &group_deployment("cm", "both"),
        body(&ips(&["a", "b"]), json!({}), "Incremental"),
    )
    .await;
    assert_eq!(status["status"], "Succeeded", "{status}");
    let (_, a) = t.get(&format!("/subscriptions/{SUB}/resourceGroups/cm/providers/Microsoft.Network/publicIPAddresses/a?api-version=2024-05-01")).await;
    assert_eq!(
        a["properties"]["idleTimeoutInMinutes"], 10,
        "coerced to the integer the schema wants"
    );

    // Incremental leaves b alone; Complete deletes it.
    let (status, _) = deploy(
        &t,
        &group_deployment("cm", "only-a"),
        body(&ips(&["a"]), json!({}), "Incremental"),
    )
    .await;
    assert_eq!(status["status"], "Succeeded");
    let (_, list) = t
        .get(&format!(
            "/subscriptions/{SUB}/resourceGroups/cm/resources?api-version=2024-11-01"
        ))
        .await;
    assert_eq!(list["value"].as_array().unwrap().len(), 2);
    let path = group_deployment("cm", "complete");
    let (status, d) = deploy(&t, &path, body(&ips(&["a"]), json!({}), "Complete")).await;
    assert_eq!(status["status"], "Succeeded", "{status}");
    assert_eq!(d["properties"]["mode"], "Complete");
    let (_, list) = t
        .get(&format!(
            "/subscriptions/{SUB}/resourceGroups/cm/resources?api-version=2024-11-01"
        ))
        .await;
    let names: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["a"]);
    let (_, ops) = t.get(&q(&format!("{path}/operations"))).await;
    let delete = ops["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["properties"]["provisioningOperation"] == "Delete")
        .unwrap();
    assert_eq!(delete["properties"]["targetResource"]["resourceName"], "b");
    assert_eq!(delete["properties"]["provisioningState"], "Succeeded");
    // Deployment records survive: Complete mode deletes resources, not deployments.
    let (s, _) = t.get(&q(&group_deployment("cm", "both"))).await;
    assert_eq!(s, 200);
    t.stop().await;
}
