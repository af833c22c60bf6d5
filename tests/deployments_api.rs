//! The deployment API over HTTPS: preflight errors that point at their cause, validate,
//! list, operations, export, cancel and delete.

mod common;

use std::time::Duration;

use common::deploy::*;
use common::*;
use serde_json::{Value, json};

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
        (
            json!({"functions": [{"namespace": "contoso", "members": {"prefixed": {
                "parameters": [{"name": "n", "type": "string"}],
                "output": {"type": "string", "value": "[concat('c-', parameters('n'))]"}}}}],
                "resources": [], "outputs": {"o": {"type": "string", "value": "[contoso.prefixed('x')]"}}}),
            json!({}),
            "The template defines user-defined functions (namespace 'contoso'); armlet does not evaluate user-defined functions",
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

    // Tenant and management-group scopes are named as unsupported, not a 404.
    let tenant = "/providers/Microsoft.Resources/deployments/t";
    let mg = "/providers/Microsoft.Management/managementGroups/mg/providers/Microsoft.Resources/deployments/m";
    for (path, scope) in [
        (tenant.to_string(), "tenant"),
        (format!("{tenant}/validate"), "tenant"),
        (format!("{mg}/whatIf"), "management-group"),
        (mg.to_string(), "management-group"),
    ] {
        let resp = if path.ends_with("validate") || path.ends_with("whatIf") {
            t.client.post(t.url(&q(&path)))
        } else {
            t.client.put(t.url(&q(&path)))
        }
        .header("content-type", "application/json")
        .body(body_at("eastus", "{}", json!({})))
        .send()
        .await
        .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{path}");
        let e: Value = resp.json().await.unwrap();
        assert_eq!(e["error"]["code"], "NotSupportedByArmlet", "{e}");
        let message = e["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("not at {scope} scope")),
            "{message}"
        );
    }
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

    // The same name again replaces the deployment: 200, and it runs again.
    let resp = put_raw(&t, &path, body(&template, params.clone(), "Incremental")).await;
    assert_eq!(resp.status().as_u16(), 200);
    let poll = resp.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(wait_status(&t, &poll).await["status"], "Succeeded");

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
async fn runtime_expression_errors_name_the_resource_or_output_and_path() {
    let t = TestArmlet::start().await;
    group(&t, "rt").await;
    let nested = |name: &str, extra: Value| {
        let mut r = json!({"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": name,
            "properties": {"mode": "Incremental", "template": {"resources": [], "outputs": {"port": {"type": "int", "value": 80}}}}});
        r.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        r
    };
    // A body that reads a property the referenced resource does not have.
    let template = json!({"resources": [
        nested("first", json!({})),
        nested("second", json!({"properties": {"mode": "Incremental", "parameters": {"p": {"value": "[reference('first').outputs.missing.value]"}},
            "template": {"parameters": {"p": {"type": "string"}}, "resources": []}}}))
    ]});
    let (status, d) = deploy(
        &t,
        &group_deployment("rt", "body"),
        json!({"properties": {"mode": "Incremental", "template": template}}).to_string(),
    )
    .await;
    assert_eq!(status["status"], "Failed");
    let detail = &d["properties"]["error"]["details"][0];
    assert_eq!(detail["code"], "InvalidTemplate");
    let message = detail["message"].as_str().unwrap();
    assert!(
        message.contains("The template resource 'second' at 'resources[1].properties.parameters.p.value' is not valid: The language expression property 'missing' doesn't exist, available properties are 'port'"),
        "{message}"
    );

    // An output that cannot be evaluated fails the deployment after its resources.
    let template = json!({"resources": [nested("only", json!({}))],
        "outputs": {"good": {"type": "int", "value": "[reference('only').outputs.port.value]"},
                    "bad": {"type": "int", "value": "[div(reference('only').outputs.port.value, 0)]"}}});
    let (status, d) = deploy(
        &t,
        &group_deployment("rt", "outputs"),
        json!({"properties": {"mode": "Incremental", "template": template}}).to_string(),
    )
    .await;
    assert_eq!(status["status"], "Failed");
    let e = &d["properties"]["error"];
    assert_eq!(e["code"], "DeploymentOutputEvaluationFailed");
    assert_eq!(e["details"][0]["target"], "bad");
    assert!(e["details"][0]["message"].as_str().unwrap().contains("The template output 'bad' at 'outputs.bad.value' is not valid: The template function 'div' cannot divide by zero"), "{e}");
    t.stop().await;
}
