//! `POST .../deployments/{name}/whatIf` over HTTPS: the long-running operation and its
//! `Location`, Create / NoChange / Modify (with property deltas) / Ignore / Delete /
//! Unsupported / Deploy, nested and linked templates expanded, values that need resources
//! not deployed yet kept as expressions, template and validation errors as a failed result,
//! and nothing written by any of it.

mod common;

use common::deploy::*;
use common::*;
use serde_json::{Value, json};

/// A network template: a virtual network, a public IP, a load balancer using it, and an NSG
/// that a parameter can leave out.
fn template() -> String {
    json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {
            "prefix": {"type": "string", "defaultValue": "10.10.0.0/16"},
            "port": {"type": "int", "defaultValue": 80},
            "env": {"type": "string", "defaultValue": "dev"},
            "withNsg": {"type": "bool", "defaultValue": true},
            "extraIp": {"type": "bool", "defaultValue": false}
        },
        "resources": [
            {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2024-05-01", "name": "vnet",
             "location": "[resourceGroup().location]", "tags": {"env": "[parameters('env')]"},
             "properties": {"addressSpace": {"addressPrefixes": ["[parameters('prefix')]"]},
                "subnets": [{"name": "default", "properties": {"addressPrefix": "10.10.0.0/24"}}]}},
            {"type": "Microsoft.Network/publicIPAddresses", "apiVersion": "2024-05-01", "name": "ip",
             "location": "[resourceGroup().location]", "sku": {"name": "Standard"},
             "properties": {"publicIPAllocationMethod": "Static"}},
            {"type": "Microsoft.Network/loadBalancers", "apiVersion": "2024-05-01", "name": "lb",
             "location": "[resourceGroup().location]", "sku": {"name": "Standard"}, "dependsOn": ["ip"],
             "properties": {
                "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": "[resourceId('Microsoft.Network/publicIPAddresses', 'ip')]"}}}],
                "backendAddressPools": [{"name": "pool"}],
                "probes": [{"name": "probe", "properties": {"protocol": "Tcp", "port": 80, "intervalInSeconds": 5}}],
                "loadBalancingRules": [{"name": "http", "properties": {
                    "frontendIPConfiguration": {"id": "[resourceId('Microsoft.Network/loadBalancers/frontendIPConfigurations', 'lb', 'fe')]"},
                    "backendAddressPool": {"id": "[resourceId('Microsoft.Network/loadBalancers/backendAddressPools', 'lb', 'pool')]"},
                    "probe": {"id": "[resourceId('Microsoft.Network/loadBalancers/probes', 'lb', 'probe')]"},
                    "protocol": "Tcp", "frontendPort": "[parameters('port')]", "backendPort": 80}}]}},
            {"condition": "[parameters('withNsg')]", "type": "Microsoft.Network/networkSecurityGroups",
             "apiVersion": "2024-05-01", "name": "nsg", "location": "[resourceGroup().location]",
             "properties": {"securityRules": [{"name": "http", "properties": {"protocol": "Tcp",
                "sourcePortRange": "*", "destinationPortRange": "80", "sourceAddressPrefix": "Internet",
                "destinationAddressPrefix": "*", "access": "Allow", "priority": 100, "direction": "Inbound"}}]}},
            {"condition": "[parameters('extraIp')]", "type": "Microsoft.Network/publicIPAddresses",
             "apiVersion": "2024-05-01", "name": "ip2", "location": "[resourceGroup().location]",
             "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}},
            {"condition": "[parameters('extraIp')]", "type": "Microsoft.Network/networkSecurityGroups",
             "apiVersion": "2024-05-01", "name": "nsg2", "location": "[resourceGroup().location]",
             "dependsOn": ["ip2"],
             // ARM evaluates reference() even for a resource whose condition is false
             // (conditional deployment docs), hence the if().
             "tags": {"ip": "[if(parameters('extraIp'), reference('ip2').ipAddress, '')]"}}
        ]
    })
    .to_string()
}

/// A what-if of the group deployment `wi` in `rg`.
async fn what_if(t: &TestArmlet, rg: &str, body: String) -> Value {
    what_if_at(t, &group_deployment(rg, "wi"), body).await
}

/// Every resource of the group with its ETag: what must not move during a what-if.
async fn state(t: &TestArmlet, rg: &str) -> Vec<(String, String)> {
    let (s, list) = t
        .get(&format!(
            "/subscriptions/{SUB}/resourceGroups/{rg}/resources?api-version=2024-11-01"
        ))
        .await;
    assert_eq!(s, 200);
    let mut out = Vec::new();
    for r in list["value"].as_array().unwrap() {
        let id = r["id"].as_str().unwrap();
        let (_, doc) = t.get(&format!("{id}?api-version=2024-05-01")).await;
        out.push((id.to_string(), doc["etag"].to_string()));
    }
    out.sort();
    out
}

fn params(v: Value) -> Value {
    let mut out = serde_json::Map::new();
    for (k, v) in v.as_object().unwrap() {
        out.insert(k.clone(), json!({"value": v}));
    }
    Value::Object(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_if_predicts_creates_no_changes_modifies_ignores_and_deletes_without_writing() {
    let t = TestArmlet::start().await;
    group(&t, "wi").await;

    // An empty group: everything is created; nothing is written.
    let r = what_if(&t, "wi", body(&template(), json!({}), "Incremental")).await;
    assert_eq!(r["status"], "Succeeded", "{r}");
    assert_eq!(
        changes(&r),
        [
            ("ip", "Create"),
            ("lb", "Create"),
            ("nsg", "Create"),
            ("vnet", "Create")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let lb = change(&r, "lb");
    assert_eq!(lb["after"]["apiVersion"], "2024-05-01");
    assert_eq!(lb["after"]["type"], "Microsoft.Network/loadBalancers");
    assert_eq!(
        lb["after"]["properties"]["loadBalancingRules"][0]["properties"]["frontendPort"],
        80
    );
    assert!(lb.get("before").is_none());
    let text = r.to_string();
    assert!(
        !text.contains("provisioningState") && !text.contains("\"etag\""),
        "{text}"
    );
    assert!(state(&t, "wi").await.is_empty(), "what-if wrote nothing");

    // Deployed, the same template changes nothing.
    let (done, _) = deploy(
        &t,
        &group_deployment("wi", "first"),
        body(&template(), json!({}), "Incremental"),
    )
    .await;
    assert_eq!(done["status"], "Succeeded", "{done}");
    let before = state(&t, "wi").await;
    assert_eq!(before.len(), 4);
    let r = what_if(&t, "wi", body(&template(), json!({}), "Incremental")).await;
    for (name, kind) in changes(&r) {
        assert_eq!(kind, "NoChange", "{name}: {}", change(&r, &name));
        assert_eq!(change(&r, &name)["delta"], json!([]));
    }

    // Changed parameters: modifications with their property deltas, a new resource, and
    // one that is no longer in the template.
    let changed = params(json!({"port": 8080, "env": "prod", "withNsg": false, "extraIp": true}));
    let r = what_if(&t, "wi", body(&template(), changed.clone(), "Incremental")).await;
    assert_eq!(
        changes(&r),
        [
            ("ip", "NoChange"),
            ("ip2", "Create"),
            ("lb", "Modify"),
            ("nsg", "Ignore"),
            ("nsg2", "Create"),
            ("vnet", "Modify")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(
        change(&r, "lb")["delta"],
        json!([{"path": "properties.loadBalancingRules", "propertyChangeType": "Array", "children": [
            {"path": "0", "propertyChangeType": "Modify", "children": [
                {"path": "properties.frontendPort", "propertyChangeType": "Modify", "before": 80, "after": 8080}
            ]}
        ]}])
    );
    assert_eq!(
        change(&r, "vnet")["delta"],
        json!([{"path": "tags.env", "propertyChangeType": "Modify", "before": "dev", "after": "prod"}])
    );
    // A value that needs a resource that does not exist yet stays an expression.
    assert_eq!(
        change(&r, "nsg2")["after"]["tags"]["ip"],
        "[if(parameters('extraIp'), reference('ip2').ipAddress, '')]"
    );

    // Complete mode deletes what the template leaves out.
    let r = what_if(&t, "wi", body(&template(), changed.clone(), "Complete")).await;
    let nsg = change(&r, "nsg");
    assert_eq!(nsg["changeType"], "Delete");
    assert_eq!(
        nsg["before"]["properties"]["securityRules"][0]["name"],
        "http"
    );

    // ResourceIdOnly: existing resources are Deploy, without payloads.
    let b = json!({"properties": {
        "mode": "Incremental",
        "template": serde_json::from_str::<Value>(&template()).unwrap(),
        "parameters": changed,
        "whatIfSettings": {"resultFormat": "ResourceIdOnly"}
    }});
    let r = what_if(&t, "wi", b.to_string()).await;
    assert_eq!(change(&r, "lb")["changeType"], "Deploy");
    assert_eq!(change(&r, "ip2")["changeType"], "Create");
    assert!(change(&r, "lb").get("delta").is_none());

    assert_eq!(state(&t, "wi").await, before, "what-if wrote nothing");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_if_reports_errors_unsupported_types_and_expands_linked_templates() {
    let t = TestArmlet::start().await;
    group(&t, "wie").await;

    // A template error is a failed result (200), not a failed request.
    let bad = json!({"resources": [{"type": "Microsoft.Network/publicIPAddresses",
        "apiVersion": "2024-05-01", "name": "[nope()]", "location": "eastus"}]});
    let r = what_if(&t, "wie", body(&bad.to_string(), json!({}), "Incremental")).await;
    assert_eq!(r["status"], "Failed");
    assert_eq!(r["error"]["code"], "InvalidTemplate", "{r}");

    // A write the service would refuse fails the what-if as ARM's preflight does.
    let dangling = json!({"resources": [{"type": "Microsoft.Network/loadBalancers",
        "apiVersion": "2024-05-01", "name": "lb", "location": "eastus",
        "properties": {"frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress":
            {"id": "[resourceId('Microsoft.Network/publicIPAddresses', 'missing')]"}}}]}}]});
    let r = what_if(
        &t,
        "wie",
        body(&dangling.to_string(), json!({}), "Incremental"),
    )
    .await;
    assert_eq!(r["status"], "Failed");
    assert_eq!(r["error"]["code"], "InvalidTemplateDeployment", "{r}");
    assert!(
        r["error"]["details"][0]["target"]
            .as_str()
            .unwrap()
            .ends_with("/loadBalancers/lb"),
        "{r}"
    );

    // A type armlet does not serve is Unsupported, with the reason.
    let storage = json!({"resources": [{"type": "Microsoft.Storage/storageAccounts",
        "apiVersion": "2023-01-01", "name": "sa", "location": "eastus",
        "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}]});
    let r = what_if(
        &t,
        "wie",
        body(&storage.to_string(), json!({}), "Incremental"),
    )
    .await;
    let sa = change(&r, "sa");
    assert_eq!(sa["changeType"], "Unsupported");
    assert!(
        sa["unsupportedReason"]
            .as_str()
            .unwrap()
            .contains("does not serve the resource type 'Microsoft.Storage/storageAccounts'"),
        "{sa}"
    );

    // Linked templates, two levels deep, are expanded.
    let main = format!(
        "file://{}",
        repo_root()
            .join("tests/fixtures/templates/linked/azuredeploy.json")
            .display()
    );
    let r = what_if(
        &t,
        "wie",
        json!({"properties": {"mode": "Incremental", "templateLink": {"uri": main}}}).to_string(),
    )
    .await;
    assert_eq!(
        changes(&r),
        [
            ("lnk-ip", "Create"),
            ("lnk-lb", "Create"),
            ("lnk-vnet", "Create")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );

    // Its Location stays answerable; an unknown one is 404.
    let (s, e) = t
        .get(&q(&format!(
            "{}/whatIfOperationResults/nope",
            group_deployment("wie", "wi")
        )))
        .await;
    assert_eq!(s, 404, "{e}");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_what_if_predicts_resource_groups_and_what_deploys_into_them() {
    let t = TestArmlet::start().await;
    let template = fixture("resource-groups.json");
    let run = |name: &'static str| {
        let (t, body) = (
            &t,
            body_at(
                "westeurope",
                &template,
                json!({"prefix": {"value": "wsub"}}),
            ),
        );
        async move { what_if_at(t, &sub_deployment(name), body).await }
    };
    // The groups do not exist: created, and the nested deployment into one of them is
    // expanded in the group as it will be.
    let r = run("plan").await;
    assert_eq!(r["status"], "Succeeded", "{r}");
    assert_eq!(
        changes(&r),
        [("wsub-0", "Create"), ("wsub-1", "Create")].map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(
        change(&r, "wsub-0")["after"]["tags"],
        json!({"index": "0", "by": "template"})
    );
    let (s, _) = t.get(&rg_path("wsub-0")).await;
    assert_eq!(s, 404, "what-if created no group");

    let (done, _) = deploy(
        &t,
        &sub_deployment("groups"),
        body_at(
            "westeurope",
            &template,
            json!({"prefix": {"value": "wsub"}}),
        ),
    )
    .await;
    assert_eq!(done["status"], "Succeeded");
    let r = run("plan").await;
    assert_eq!(
        changes(&r),
        [("wsub-0", "NoChange"), ("wsub-1", "NoChange")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    t.stop().await;
}
