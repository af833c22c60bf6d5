//! Template deployments over HTTPS: the fixture templates in `tests/fixtures/templates/`,
//! each checked for what it deploys and outputs; the deployment API (validate, list,
//! operations, export, cancel, delete); and failures that point at their cause.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures/templates").join(name)).unwrap()
}

/// A deployment body the way `az` sends it: the template file's text spliced in as is.
fn body(template_text: &str, parameters: Value, mode: &str) -> String {
    format!(
        r#"{{"properties": {{"parameters": {parameters}, "mode": "{mode}", template:{template_text}}}}}"#
    )
}

/// The same, for a subscription-scope deployment (which has a location).
fn body_at(location: &str, template_text: &str, parameters: Value) -> String {
    format!(
        r#"{{"location": "{location}", "properties": {{"parameters": {parameters}, "mode": "Incremental", template:{template_text}}}}}"#
    )
}

fn group_deployment(rg: &str, name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourcegroups/{rg}/providers/Microsoft.Resources/deployments/{name}"
    )
}

fn sub_deployment(name: &str) -> String {
    format!("/subscriptions/{SUB}/providers/Microsoft.Resources/deployments/{name}")
}

fn q(path: &str) -> String {
    format!("{path}?api-version=2024-11-01")
}

async fn put_raw(t: &TestArmlet, path: &str, body: String) -> reqwest::Response {
    t.client
        .put(t.url(&q(path)))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// PUTs a deployment, checks it is accepted asynchronously, polls its operation status the
/// way clients do, and returns the final status document and the deployment.
async fn deploy(t: &TestArmlet, path: &str, body: String) -> (Value, Value) {
    let resp = put_raw(t, path, body).await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let accepted: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "{accepted}");
    assert_eq!(accepted["properties"]["provisioningState"], "Accepted");
    assert_eq!(headers["retry-after"], "1");
    let poll = headers["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        poll.contains("/providers/Microsoft.Resources/deployments/")
            && poll.contains("/operationStatuses/"),
        "{poll}"
    );
    let done = wait_status(t, &poll).await;
    let (s, doc) = t.get(&q(path)).await;
    assert_eq!(s, 200);
    (done, doc)
}

async fn wait_status(t: &TestArmlet, poll: &str) -> Value {
    eventually(Duration::from_secs(30), || async {
        let (_, status) = send(t.client.get(poll)).await;
        (status["status"] != "InProgress").then_some(status)
    })
    .await
}

async fn group(t: &TestArmlet, rg: &str) {
    let (s, _) = t.put(&rg_path(rg), json!({"location": "eastus"})).await;
    assert!(s == 201 || s == 200);
}

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
async fn template_errors_are_rejected_before_anything_is_deployed() {
    let t = TestArmlet::start().await;
    group(&t, "tpl").await;
    let cases: Vec<(Value, Value, &str)> = vec![
        (
            json!({"resources": [{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "n",
                "properties": {"mode": "Incremental", "template": {}, "parameters": {"x": {"value": ["ok", "[concat('a', add(1, 'b'))]"]}}}}]}),
            json!({}),
            "The template resource 'n' at 'resources[0].properties.parameters.x.value[1]' is not valid: The template function 'add' expects argument 2 to be of type 'Integer'",
        ),
        (
            json!({"parameters": {"n": {"type": "int"}}, "resources": []}),
            json!({}),
            "The value for the template parameter 'n' at 'parameters.n' is not provided",
        ),
        (
            json!({"parameters": {"sku": {"type": "string", "allowedValues": ["Basic", "Standard"]}}, "resources": []}),
            json!({"sku": {"value": "Premium"}}),
            "The value 'Premium' is not part of the allowed value(s): 'Basic,Standard'",
        ),
        (
            json!({"parameters": {"n": {"type": "int"}}, "resources": []}),
            json!({"n": {"value": "many"}}),
            "Template parameter 'n' was provided an invalid value. Expected a value of type 'Integer', but received a value of type 'String'",
        ),
        (
            json!({"resources": [
                {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "a", "dependsOn": ["b"], "properties": {"mode": "Incremental", "template": {}}},
                {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "b", "dependsOn": ["a"], "properties": {"mode": "Incremental", "template": {}}}
            ]}),
            json!({}),
            "Circular dependency detected on resource",
        ),
        (
            json!({"resources": [{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "a", "dependsOn": ["ghost"], "properties": {"mode": "Incremental", "template": {}}}]}),
            json!({}),
            "The resource 'ghost' is not defined in the template",
        ),
        (
            json!({"variables": {"v": "[utcNow()]"}, "resources": []}),
            json!({}),
            "The template function 'utcNow' is not expected at this location",
        ),
    ];
    for (i, (template, params, expected)) in cases.into_iter().enumerate() {
        let path = group_deployment("tpl", &format!("bad-{i}"));
        let resp = put_raw(&t, &path, json!({"properties": {"mode": "Incremental", "template": template, "parameters": params}}).to_string()).await;
        assert_eq!(resp.status().as_u16(), 400, "case {i}");
        let e: Value = resp.json().await.unwrap();
        assert_eq!(e["error"]["code"], "InvalidTemplate", "case {i}: {e}");
        let message = e["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("Deployment template validation failed: '"),
            "{message}"
        );
        assert!(message.contains(expected), "case {i}: {message}");
        let (s, _) = t.get(&q(&path)).await;
        assert_eq!(s, 404, "case {i}: nothing stored");
    }
    // Malformed bodies are ARM errors too.
    let resp = put_raw(
        &t,
        &group_deployment("tpl", "garbage"),
        "{\"properties\": ".into(),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 400);
    let resp = put_raw(
        &t,
        &group_deployment("nope", "x"),
        body("{}", json!({}), "Incremental"),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 404);
    let resp = put_raw(
        &t,
        &sub_deployment("no-location"),
        body("{}", json!({}), "Incremental"),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 400);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_list_export_cancel_and_delete() {
    let t = TestArmlet::start().await;
    group(&t, "ops").await;
    let template = fixture("parameters.json");
    let params =
        json!({"prefix": {"value": "job"}, "count": {"value": "2"}, "password": {"value": "pw"}});

    let resp = t
        .client
        .post(t.url(&q(&format!("{}/validate", group_deployment("ops", "v")))))
        .header("content-type", "application/json")
        .body(body(&template, params.clone(), "Incremental"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        v["properties"]["validatedResources"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        v["properties"]["parameters"]["count"]["value"], 2,
        "coerced from \"2\""
    );
    let (s, _) = t.get(&q(&group_deployment("ops", "v"))).await;
    assert_eq!(s, 404, "validation stores nothing");

    let path = group_deployment("ops", "d1");
    let (status, d) = deploy(&t, &path, body(&template, params.clone(), "Incremental")).await;
    assert_eq!(status["status"], "Succeeded", "{status}");
    assert_eq!(
        d["properties"]["outputs"]["ports"]["value"],
        json!([50000, 50001])
    );
    assert_eq!(d["properties"]["outputs"]["passwordLength"]["value"], 2);
    assert_eq!(
        d["properties"]["parameters"]["password"],
        json!({"type": "SecureString"})
    );

    let (_, list) = t
        .get(&q(&format!(
            "/subscriptions/{SUB}/resourcegroups/ops/providers/Microsoft.Resources/deployments/"
        )))
        .await;
    let mut names: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["d1", "job-0", "job-1"]);
    let (_, failed) = t
        .get(&format!("{}&$filter=provisioningState%20eq%20'Failed'", q("/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/ops/providers/Microsoft.Resources/deployments")))
        .await;
    assert_eq!(failed["value"], json!([]));
    // Deployments are not resources.
    let (_, resources) = t
        .get(&format!(
            "/subscriptions/{SUB}/resources?api-version=2024-11-01"
        ))
        .await;
    assert_eq!(resources["value"], json!([]));

    let exported = send(t.client.post(t.url(&q(&format!("{path}/exportTemplate")))))
        .await
        .1;
    assert_eq!(
        exported["template"]["parameters"]["prefix"]["maxLength"],
        10
    );
    let (s, e) = send(t.client.post(t.url(&q(&format!("{path}/cancel"))))).await;
    assert_eq!(s, 409, "{e}");
    let head = t.client.head(t.url(&q(&path))).send().await.unwrap();
    assert_eq!(head.status().as_u16(), 204);

    let resp = t.client.delete(t.url(&q(&path))).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    eventually(Duration::from_secs(10), || async {
        (t.client
            .get(&location)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
            == 200)
            .then_some(())
    })
    .await;
    let (s, e) = t.get(&q(&path)).await;
    assert_eq!(s, 404);
    assert_eq!(e["error"]["code"], "DeploymentNotFound");
    let (s, _) = t.get(&q(&group_deployment("ops", "job-0"))).await;
    assert_eq!(s, 200, "deleting a deployment deletes only that record");

    let (s, hash) =
        send(
            t.client
                .post(t.url(
                    "/providers/Microsoft.Resources/calculateTemplateHash?api-version=2024-11-01",
                ))
                .json(&json!({"resources": []})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(hash["minifiedTemplate"], "{\"resources\":[]}");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_deployment_can_be_canceled() {
    let t = TestArmlet::start().await;
    group(&t, "slow").await;
    let template = json!({
        "resources": [{
            "type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01",
            "name": "[concat('step-', copyIndex())]",
            "copy": {"name": "steps", "count": 800, "mode": "Serial", "batchSize": 1},
            "properties": {"mode": "Incremental", "template": {"resources": []}}
        }]
    });
    let path = group_deployment("slow", "long");
    let resp = put_raw(
        &t,
        &path,
        json!({"properties": {"mode": "Incremental", "template": template}}).to_string(),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 201);
    let poll = resp.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_string();
    let resp = put_raw(
        &t,
        &path,
        json!({"properties": {"mode": "Incremental", "template": {}}}).to_string(),
    )
    .await;
    assert_eq!(
        resp.status().as_u16(),
        409,
        "a running deployment cannot be replaced"
    );
    let (s, _) = send(t.client.post(t.url(&q(&format!("{path}/cancel"))))).await;
    assert_eq!(s, 204);
    let status = wait_status(&t, &poll).await;
    assert_eq!(status["status"], "Canceled");
    let (_, d) = t.get(&q(&path)).await;
    assert_eq!(d["properties"]["provisioningState"], "Canceled");
    let (_, ops) = t.get(&q(&format!("{path}/operations"))).await;
    assert!(ops["value"].as_array().unwrap().len() < 800);
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
    let scale_set = &d["properties"]["outputs"]["VMSS"]["value"];
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
