//! Helpers for template deployment tests: fixture templates, request bodies the way `az`
//! sends them, and deploying with the polling clients do.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::{Value, json};

use super::*;

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures/templates").join(name)).unwrap()
}

/// A deployment body the way `az` sends it: the template file's text spliced in as is.
pub fn body(template_text: &str, parameters: Value, mode: &str) -> String {
    format!(
        r#"{{"properties": {{"parameters": {parameters}, "mode": "{mode}", template:{template_text}}}}}"#
    )
}

/// The same, for a subscription-scope deployment (which has a location).
pub fn body_at(location: &str, template_text: &str, parameters: Value) -> String {
    format!(
        r#"{{"location": "{location}", "properties": {{"parameters": {parameters}, "mode": "Incremental", template:{template_text}}}}}"#
    )
}

pub fn group_deployment(rg: &str, name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourcegroups/{rg}/providers/Microsoft.Resources/deployments/{name}"
    )
}

pub fn sub_deployment(name: &str) -> String {
    format!("/subscriptions/{SUB}/providers/Microsoft.Resources/deployments/{name}")
}

pub fn q(path: &str) -> String {
    format!("{path}?api-version=2024-11-01")
}

pub async fn put_raw(t: &TestArmlet, path: &str, body: String) -> reqwest::Response {
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
pub async fn deploy(t: &TestArmlet, path: &str, body: String) -> (Value, Value) {
    let resp = put_raw(t, path, body).await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let accepted: Value = resp.json().await.unwrap();
    assert!(status == 201 || status == 200, "{status}: {accepted}");
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

pub async fn wait_status(t: &TestArmlet, poll: &str) -> Value {
    eventually(Duration::from_secs(30), || async {
        let (_, status) = send(t.client.get(poll)).await;
        (status["status"] != "InProgress").then_some(status)
    })
    .await
}

/// Runs a what-if the way the SDKs do: POST `{path}/whatIf`, 202 with `Location`, poll until 200.
pub async fn what_if_at(t: &TestArmlet, path: &str, body: String) -> Value {
    let resp = t
        .client
        .post(t.url(&q(&format!("{path}/whatIf"))))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 202, "{text}");
    assert_eq!(headers["retry-after"], "1");
    let location = headers["location"].to_str().unwrap().to_string();
    assert!(location.contains("/whatIfOperationResults/"), "{location}");
    eventually(Duration::from_secs(30), || async {
        let (s, doc) = send(t.client.get(&location)).await;
        assert!(s == 200 || s == 202, "{s}: {doc}");
        (s == 200).then_some(doc)
    })
    .await
}

/// A what-if result's changes as (resource name, change type), sorted.
pub fn changes(result: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = result["properties"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let id = c["resourceId"].as_str().unwrap();
            (
                id.rsplit('/').next().unwrap().to_string(),
                c["changeType"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The change of the resource named `name`.
pub fn change<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["properties"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["resourceId"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/{name}"))
        })
        .unwrap_or_else(|| panic!("no change for {name}: {result}"))
}

pub async fn group(t: &TestArmlet, rg: &str) {
    let (s, _) = t.put(&rg_path(rg), json!({"location": "eastus"})).await;
    assert!(s == 201 || s == 200);
}
