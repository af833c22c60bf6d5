//! Linked templates and `list*()` over HTTPS: `templateLink` / `parametersLink` from
//! `file://` URIs, nested links through `_artifactsLocation` and `relativePath` (with the
//! parent's query string carried over), `contentVersion` checks, the errors for remote,
//! missing and malformed links, and `list*()` on types without the action.

mod common;

use common::deploy::*;
use common::*;
use serde_json::{Value, json};

fn file_uri(relative: &str) -> String {
    format!(
        "file://{}",
        repo_root()
            .join("tests/fixtures/templates")
            .join(relative)
            .display()
    )
}

async fn put_json(t: &TestArmlet, path: &str, body: Value) -> (u16, Value) {
    t.put(&q(path), body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linked_templates_deploy_from_file_uris_through_artifacts_location_and_relative_paths() {
    let t = TestArmlet::start().await;
    group(&t, "links").await;
    let main = file_uri("linked/azuredeploy.json");
    let path = group_deployment("links", "main");
    let (done, d) = deploy(
        &t,
        &path,
        json!({"properties": {
            "mode": "Incremental",
            "templateLink": {"uri": main, "contentVersion": "1.0.0.0"},
            "parameters": {"_artifactsLocationSasToken": {"value": "?sv=2024&sig=abc"}}
        }})
        .to_string(),
    )
    .await;
    assert_eq!(done["status"], "Succeeded", "{done}\n{d}");
    let p = &d["properties"];
    assert_eq!(
        p["templateLink"],
        json!({"uri": main, "contentVersion": "1.0.0.0"})
    );
    // _artifactsLocation defaulted to deployment().properties.templateLink.uri.
    assert_eq!(p["outputs"]["artifacts"]["value"], json!(main));
    let network = file_uri("linked/nestedtemplates/network.json");
    assert_eq!(
        p["outputs"]["networkLink"]["value"],
        json!(format!("{network}?sv=2024&sig=abc"))
    );
    let rg = format!("/subscriptions/{SUB}/resourceGroups/links/providers");
    assert_eq!(
        p["outputs"]["subnetId"]["value"],
        json!(format!(
            "{rg}/Microsoft.Network/virtualNetworks/lnk-vnet/subnets/default"
        ))
    );
    assert_eq!(
        p["outputs"]["loadBalancerId"]["value"],
        json!(format!("{rg}/Microsoft.Network/loadBalancers/lnk-lb"))
    );

    // The nested deployments record their links; relativePath resolves against the
    // parent's link and keeps its query string; parametersLink is recorded too.
    let (_, frontend) = t.get(&q(&group_deployment("links", "frontend"))).await;
    assert_eq!(
        frontend["properties"]["parametersLink"],
        json!({"uri": file_uri("linked/nestedtemplates/frontend.parameters.json"), "contentVersion": "1.0.0.0"})
    );
    assert_eq!(
        frontend["properties"]["parameters"]["sku"],
        json!({"type": "String", "value": "Standard"})
    );
    let (_, balancer) = t.get(&q(&group_deployment("links", "balancer"))).await;
    assert_eq!(
        balancer["properties"]["templateLink"],
        json!({
            "uri": format!("{}?sv=2024&sig=abc", file_uri("linked/nestedtemplates/lb.json")),
            "relativePath": "lb.json",
            "contentVersion": "1.0.0.0"
        })
    );

    // What the linked templates deployed is there, wired together.
    let (s, lb) = t
        .get(&format!(
            "{rg}/Microsoft.Network/loadBalancers/lnk-lb?api-version=2024-05-01"
        ))
        .await;
    assert_eq!(s, 200, "{lb}");
    assert_eq!(lb["sku"]["name"], "Standard");
    assert!(
        lb["properties"]["frontendIPConfigurations"][0]["properties"]["publicIPAddress"]["id"]
            .as_str()
            .unwrap()
            .ends_with("/publicIPAddresses/lnk-ip")
    );

    // The same template sent inline, with _artifactsLocation given as a parameter
    // (what `az deployment group create --template-file` does).
    let inline = fixture("linked/azuredeploy.json");
    let dir = format!("{}/", file_uri("linked"));
    let (done, d) = deploy(
        &t,
        &group_deployment("links", "inline"),
        body(
            &inline,
            json!({"_artifactsLocation": {"value": dir}}),
            "Incremental",
        ),
    )
    .await;
    assert_eq!(done["status"], "Succeeded", "{done}\n{d}");
    assert!(d["properties"].get("templateLink").is_none());
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_links_content_versions_and_link_errors() {
    let t = TestArmlet::start().await;
    group(&t, "errs").await;
    let network = file_uri("linked/nestedtemplates/network.json");
    let params = t.dir.path().join("network.parameters.json");
    std::fs::write(
        &params,
        r#"{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
            "contentVersion": "2.0.0.0", "parameters": {"prefix": {"value": "pl"}}}"#,
    )
    .unwrap();
    let params_uri = format!("file://{}", params.display());

    // A template link and a parameter file, both local.
    let (done, d) = deploy(
        &t,
        &group_deployment("errs", "plink"),
        json!({"properties": {"mode": "Incremental", "templateLink": {"uri": network},
            "parametersLink": {"uri": params_uri, "contentVersion": "2.0.0.0"}}})
        .to_string(),
    )
    .await;
    assert_eq!(done["status"], "Succeeded", "{done}");
    assert_eq!(
        d["properties"]["parameters"]["prefix"]["value"],
        json!("pl")
    );
    assert_eq!(d["properties"]["parametersLink"]["uri"], json!(params_uri));

    let refused = |body: Value, code: &'static str, text: &'static str| {
        let t = &t;
        async move {
            let (s, e) = put_json(t, &group_deployment("errs", "bad"), body).await;
            assert_eq!(s, 400, "{e}");
            assert_eq!(e["error"]["code"], code, "{e}");
            let message = e["error"]["message"].as_str().unwrap();
            assert!(message.contains(text), "{message}");
        }
    };
    let remote = "https://raw.githubusercontent.com/Azure/azure-quickstart-templates/master/quickstarts/microsoft.compute/vmss-linux-nat/azuredeploy.json";
    refused(
        json!({"properties": {"mode": "Incremental", "templateLink": {"uri": remote}}}),
        "InvalidContentLink",
        "armlet has no internet access",
    )
    .await;
    refused(
        json!({"properties": {"mode": "Incremental", "templateLink": {"uri": "file:///no/such/azuredeploy.json"}}}),
        "InvalidContentLink",
        "Unable to download deployment content from 'file:///no/such/azuredeploy.json'",
    )
    .await;
    refused(
        json!({"properties": {"mode": "Incremental", "templateLink": {"uri": network, "contentVersion": "9.9.9.9"}}}),
        "InvalidTemplate",
        "does not match the content version found in the deployment object's TemplateLink property '9.9.9.9'",
    )
    .await;
    refused(
        json!({"properties": {"mode": "Incremental", "templateLink": {"uri": network},
            "parametersLink": {"uri": params_uri, "contentVersion": "1.0.0.0"}}}),
        "InvalidTemplate",
        "ParametersLink property '1.0.0.0'",
    )
    .await;
    refused(
        json!({"properties": {"mode": "Incremental", "templateLink": {"relativePath": "network.json"}}}),
        "InvalidContentLink",
        "relativePath",
    )
    .await;
    refused(
        json!({"properties": {"mode": "Incremental", "templateLink": {"uri": network}, "template": {"resources": []}}}),
        "InvalidDeployment",
        "both 'template' and 'templateLink'",
    )
    .await;
    // Without a link, deployment() has no templateLink, as in ARM.
    refused(
        json!({"properties": {"mode": "Incremental", "template": serde_json::from_str::<Value>(
            &std::fs::read_to_string(repo_root().join("tests/fixtures/templates/linked/azuredeploy.json"))
                .unwrap()
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n"),
        ).unwrap()}}),
        "InvalidTemplate",
        "The language expression property 'templateLink' doesn't exist",
    )
    .await;
    let (s, _) = t.get(&q(&group_deployment("errs", "bad"))).await;
    assert_eq!(s, 404, "a refused deployment is not stored");

    // validate reads links too.
    let (s, v) = send(
        t.client
            .post(t.url(&q(&format!("{}/validate", group_deployment("errs", "v")))))
            .json(
                &json!({"properties": {"mode": "Incremental", "templateLink": {"uri": network},
                "parameters": {"prefix": {"value": "v"}}}}),
            ),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["properties"]["validatedResources"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A nested relativePath needs a linked parent: the nested deployment fails.
    let (done, d) = deploy(
        &t,
        &group_deployment("errs", "relative"),
        body(
            &json!({"resources": [{
                "type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "child",
                "properties": {"mode": "Incremental", "templateLink": {"relativePath": "network.json"}}
            }]})
            .to_string(),
            json!({}),
            "Incremental",
        ),
    )
    .await;
    assert_eq!(done["status"], "Failed");
    let detail = &d["properties"]["error"]["details"][0];
    assert_eq!(detail["code"], "InvalidContentLink", "{d}");
    assert!(
        detail["message"]
            .as_str()
            .unwrap()
            .contains("parent's template was sent inline")
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_functions_name_the_function_when_the_type_has_no_such_action() {
    let t = TestArmlet::start().await;
    group(&t, "lists").await;
    let template = json!({
        "resources": [
            {"type": "Microsoft.Network/publicIPAddresses", "apiVersion": "2024-05-01", "name": "ip",
             "location": "eastus", "properties": {"publicIPAllocationMethod": "Static"}, "sku": {"name": "Standard"}},
            {"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "2024-05-01", "name": "nsg",
             "location": "eastus", "dependsOn": ["ip"],
             "tags": {"key": "[listKeys(resourceId('Microsoft.Network/publicIPAddresses', 'ip'), '2024-05-01').keys[0].value]"}}
        ]
    });
    let (done, d) = deploy(
        &t,
        &group_deployment("lists", "keys"),
        body(&template.to_string(), json!({}), "Incremental"),
    )
    .await;
    assert_eq!(done["status"], "Failed");
    let detail = &d["properties"]["error"]["details"][0];
    assert_eq!(detail["code"], "InvalidTemplate", "{d}");
    let message = detail["message"].as_str().unwrap();
    assert!(
        message.contains("The template function 'listKeys' is not valid: the resource type 'Microsoft.Network/publicIPAddresses' has no 'listKeys' action"),
        "{message}"
    );
    assert!(message.contains("resources[1].tags.key"), "{message}");

    // A type armlet does not serve, in an output.
    let template = json!({"outputs": {"keys": {"type": "object",
        "value": "[listKeys(resourceId('Microsoft.Storage/storageAccounts', 'sa'), '2023-01-01')]"}}});
    let (done, d) = deploy(
        &t,
        &group_deployment("lists", "storage"),
        body(&template.to_string(), json!({}), "Incremental"),
    )
    .await;
    assert_eq!(done["status"], "Failed");
    let e = d["properties"]["error"].to_string();
    assert!(
        e.contains("'listKeys'") && e.contains("armlet does not serve"),
        "{e}"
    );
    t.stop().await;
}
