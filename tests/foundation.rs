//! The foundation over HTTPS: resource groups, ARM errors, ETags, paging, LROs, identity,
//! providers, the generic resource list, and durability across restarts.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn resource_group_lifecycle() {
    let t = TestArmlet::start().await;
    let (s, rg) = t
        .put(
            &rg_path("My-RG"),
            json!({"location": "East US", "tags": {"env": "test"}}),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(
        rg["id"],
        format!("/subscriptions/{SUB}/resourceGroups/My-RG")
    );
    assert_eq!(rg["location"], "eastus");
    assert_eq!(rg["properties"]["provisioningState"], "Succeeded");

    // Same group, other casing: 200, the name keeps its first casing.
    let (s, rg) = t
        .put(&rg_path("my-rg"), json!({"location": "eastus"}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(rg["name"], "My-RG");

    let (s, got) = t.get(&rg_path("MY-RG")).await;
    assert_eq!(s, 200);
    assert_eq!(got["name"], "My-RG");

    let head = t
        .client
        .head(t.url(&rg_path("my-rg")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 204);
    let head = t.client.head(t.url(&rg_path("nope"))).send().await.unwrap();
    assert_eq!(head.status().as_u16(), 404);

    let (s, patched) = t
        .patch(&rg_path("my-rg"), json!({"tags": {"a": "b"}}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(patched["tags"], json!({"a": "b"}));

    let (s, list) = t
        .get(&format!(
            "/subscriptions/{SUB}/resourceGroups?api-version=2024-11-01"
        ))
        .await;
    assert_eq!(s, 200);
    assert_eq!(list["value"].as_array().unwrap().len(), 1);

    // Asynchronous delete: 202 + Location, polled to 200, then the group is gone.
    let resp = t
        .client
        .delete(t.url(&rg_path("my-rg")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    assert_eq!(resp.headers()["retry-after"], "1");
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("/operationresults/"));
    let status = eventually(Duration::from_secs(10), || async {
        let s = t
            .client
            .get(&location)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        (s != 202).then_some(s)
    })
    .await;
    assert_eq!(status, 200);
    // The status URL stays answerable after the operation ended.
    assert_eq!(
        t.client
            .get(&location)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let (s, err) = t.get(&rg_path("my-rg")).await;
    assert_eq!(s, 404);
    assert_eq!(err["error"]["code"], "ResourceGroupNotFound");
    t.stop().await;
}

#[tokio::test]
async fn bad_input_gets_arm_errors_and_changes_nothing() {
    let t = TestArmlet::start().await;
    t.put(
        &rg_path("rg"),
        json!({"location": "eastus", "tags": {"keep": "me"}}),
    )
    .await;
    let path = rg_path("rg");

    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (t.client.put(t.url(&format!("/subscriptions/{SUB}/resourcegroups/rg"))).json(&json!({"location": "eastus"})), 400, "MissingApiVersionParameter"),
        (t.client.put(t.url(&format!("/subscriptions/{SUB}/resourcegroups/rg?api-version=latest"))).json(&json!({"location": "eastus"})), 400, "InvalidApiVersionParameter"),
        (t.client.put(t.url(&path)).header("content-type", "application/json").body("{not json"), 400, "InvalidRequestContent"),
        (t.client.put(t.url(&path)).header("content-type", "application/json").body("[1]"), 400, "InvalidRequestContent"),
        (t.client.put(t.url(&path)).header("content-type", "text/plain").body("{}"), 415, "UnsupportedMediaType"),
        (t.client.put(t.url(&path)).json(&json!({"tags": {}})), 400, "LocationRequired"),
        (t.client.put(t.url(&path)).json(&json!({"location": "westus"})), 409, "InvalidResourceGroupLocation"),
        (t.client.put(t.url(&path)).json(&json!({"location": "mars"})), 400, "LocationNotAvailableForResourceGroup"),
        (t.client.put(t.url(&path)).json(&json!({"location": "eastus", "tags": {"n": 1}})), 400, "InvalidRequestContent"),
        (t.client.put(t.url(&rg_path("bad%20name"))).json(&json!({"location": "eastus"})), 400, "InvalidResourceGroup"),
        (t.client.put(t.url(&rg_path("ends."))).json(&json!({"location": "eastus"})), 400, "InvalidResourceGroup"),
        (t.client.put(t.url(&path)).header("if-match", "\"stale\"").json(&json!({"location": "eastus"})), 412, "PreconditionFailed"),
        (t.client.put(t.url(&path)).header("if-none-match", "*").json(&json!({"location": "eastus"})), 412, "PreconditionFailed"),
        (t.client.put(t.url(&path)).json(&json!({"location": "eastus"})).header("content-type", "application/json").body(vec![b' '; 5 * 1024 * 1024]), 413, "RequestContentTooLarge"),
        (t.client.get(t.url("/subscriptions/not-a-guid/resourcegroups?api-version=2024-11-01")), 400, "InvalidSubscriptionId"),
        (t.client.get(t.url("/no/such/route?api-version=2024-11-01")), 404, "NotFound"),
        (t.client.post(t.url(&path)), 405, "MethodNotAllowed"),
        (t.client.get(t.url(&format!("/subscriptions/{SUB}/resourcegroups?api-version=2024-11-01&$top=zero"))), 400, "InvalidTopValue"),
        (t.client.get(t.url(&format!("/subscriptions/{SUB}/resources?api-version=2024-11-01&$filter=name%20ne%20'x'"))), 400, "InvalidFilterInQueryString"),
        (t.client.get(t.url(&format!("/subscriptions/{SUB}/providers/Microsoft.Nope?api-version=2021-04-01"))), 404, "InvalidResourceNamespace"),
        (t.client.get(t.url(&format!("/subscriptions/{SUB}/resourcegroups/rg/providers/Microsoft.Network/nothings/x?api-version=2023-04-01"))), 400, "InvalidResourceType"),
        (t.client.get(t.url(&format!("/subscriptions/{SUB}/resourcegroups/rg/providers/Contoso.Widgets/widgets/x?api-version=2023-04-01"))), 400, "NoRegisteredProviderFound"),
    ];
    for (rb, status, code) in cases {
        let resp = rb.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "expected {code}");
        assert!(resp.headers().contains_key("x-ms-request-id"));
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let (_, rg) = t.get(&path).await;
    assert_eq!(rg["tags"], json!({"keep": "me"}), "nothing changed");
    assert_eq!(rg["location"], "eastus");
    t.stop().await;
}

#[tokio::test]
async fn etags_guard_writes() {
    let t = TestArmlet::start().await;
    let resp = t
        .client
        .put(t.url(&rg_path("rg")))
        .json(&json!({"location": "eastus"}))
        .send()
        .await
        .unwrap();
    let etag = resp
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    // Resource groups carry no ETag header in ARM; read the stored one through If-Match "*".
    assert!(etag.is_none());
    let ok = t
        .client
        .patch(t.url(&rg_path("rg")))
        .header("if-match", "*")
        .json(&json!({"tags": {"x": "1"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let created = t
        .client
        .put(t.url(&rg_path("fresh")))
        .header("if-none-match", "*")
        .json(&json!({"location": "eastus"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let missing = t
        .client
        .patch(t.url(&rg_path("ghost")))
        .header("if-match", "*")
        .json(&json!({"tags": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    t.stop().await;
}

#[tokio::test]
async fn lists_page_with_next_link() {
    let t = TestArmlet::start().await;
    for i in 0..5 {
        t.put(&rg_path(&format!("rg{i}")), json!({"location": "eastus"}))
            .await;
    }
    let mut url = t.url(&format!(
        "/subscriptions/{SUB}/resourcegroups?api-version=2024-11-01&$top=2"
    ));
    let mut names = Vec::new();
    loop {
        let (s, page) = send(t.client.get(&url)).await;
        assert_eq!(s, 200);
        assert!(page["value"].as_array().unwrap().len() <= 2);
        names.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["name"].as_str().unwrap().to_string()),
        );
        match page["nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(names, ["rg0", "rg1", "rg2", "rg3", "rg4"]);
    t.stop().await;
}

#[tokio::test]
async fn subscriptions_are_created_on_first_use() {
    let t = TestArmlet::start().await;
    let other = "11111111-2222-3333-4444-555555555555";
    let (s, _) = t
        .put(
            &format!("/subscriptions/{other}/resourcegroups/x?api-version=2024-11-01"),
            json!({"location": "westeurope"}),
        )
        .await;
    assert_eq!(s, 201);
    let (_, subs) = t.get("/subscriptions?api-version=2022-12-01").await;
    let ids: Vec<&str> = subs["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subscriptionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [SUB, other], "the default subscription lists first");
    assert_eq!(subs["value"][0]["state"], "Enabled");
    let (_, tenants) = t.get("/tenants?api-version=2022-12-01").await;
    assert_eq!(
        tenants["value"][0]["tenantId"],
        armlet::config::DEFAULT_TENANT
    );
    let (s, locs) = t
        .get(&format!(
            "/subscriptions/{SUB}/locations?api-version=2022-12-01"
        ))
        .await;
    assert_eq!(s, 200);
    assert!(
        locs["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["name"] == "eastus")
    );
    t.stop().await;
}

#[tokio::test]
async fn providers_are_listed_and_registered() {
    let t = TestArmlet::start().await;
    let (s, list) = t
        .get(&format!(
            "/subscriptions/{SUB}/providers?api-version=2021-04-01"
        ))
        .await;
    assert_eq!(s, 200);
    let namespaces: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["namespace"].as_str().unwrap())
        .collect();
    assert!(namespaces.contains(&"Microsoft.Network"));
    let (s, p) = send(t.client.post(t.url(&format!(
        "/subscriptions/{SUB}/providers/microsoft.network/register?api-version=2021-04-01"
    ))))
    .await;
    assert_eq!(s, 200);
    assert_eq!(p["registrationState"], "Registered");
    assert_eq!(p["namespace"], "Microsoft.Network");
    let (_, res) = t
        .get(&format!(
            "/subscriptions/{SUB}/providers/Microsoft.Resources?api-version=2021-04-01"
        ))
        .await;
    assert!(
        res["resourceTypes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|rt| rt["resourceType"] == "resourceGroups")
    );
    t.stop().await;
}

#[tokio::test]
async fn identity_endpoints_issue_jwts() {
    let t = TestArmlet::start().await;
    let (s, meta) = t.get("/metadata/endpoints?api-version=2022-09-01").await;
    assert_eq!(s, 200);
    assert_eq!(meta["resourceManager"], format!("{}/", t.armlet.endpoint()));
    assert!(meta["suffixes"].is_object());
    let (_, list_form) = t.get("/metadata/endpoints?api-version=2019-05-01").await;
    assert!(list_form.is_array());

    let tenant = armlet::config::DEFAULT_TENANT;
    let (s, oidc) = t
        .get(&format!("/{tenant}/v2.0/.well-known/openid-configuration"))
        .await;
    assert_eq!(s, 200);
    assert!(
        oidc["token_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/oauth2/v2.0/token")
    );

    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "c"),
        ("client_secret", "s"),
        ("scope", "https://management.core.windows.net//.default"),
    ];
    let (s, tok) = send(
        t.client
            .post(t.url(&format!("/{tenant}/oauth2/v2.0/token")))
            .form(&form),
    )
    .await;
    assert_eq!(s, 200);
    assert!(tok["expires_in"].as_i64().unwrap() > 0);
    let claims = jwt_claims(tok["access_token"].as_str().unwrap());
    assert_eq!(claims["tid"], tenant);
    assert_eq!(claims["aud"], "https://management.core.windows.net/");

    let (s, mi) = send(t.client.get(t.url("/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/")).header("Metadata", "true")).await;
    assert_eq!(s, 200);
    assert_eq!(
        jwt_claims(mi["access_token"].as_str().unwrap())["aud"],
        "https://management.azure.com/"
    );
    assert!(mi["expires_on"].as_str().unwrap().parse::<i64>().is_ok());
    t.stop().await;
}

fn jwt_claims(jwt: &str) -> Value {
    use base64::Engine;
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn generic_resource_list_filters() {
    let t = TestArmlet::start().await;
    t.put(&rg_path("rg"), json!({"location": "eastus"})).await;
    let (s, list) = t.get(&format!("/subscriptions/{SUB}/resources?api-version=2024-11-01&$filter=resourceGroup%20eq%20'rg'%20and%20name%20eq%20'ip'%20and%20resourceType%20eq%20'Microsoft.Network%2FpublicIPAddresses'")).await;
    assert_eq!(s, 200);
    assert_eq!(
        list["value"],
        json!([]),
        "groups themselves are not resources"
    );
    let (s, err) = t
        .get(&format!(
            "/subscriptions/{SUB}/resourceGroups/none/resources?api-version=2024-11-01"
        ))
        .await;
    assert_eq!(s, 404);
    assert_eq!(err["error"]["code"], "ResourceGroupNotFound");
    t.stop().await;
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestArmlet::start_on_disk(dir).await;
    t.put(
        &rg_path("durable"),
        json!({"location": "eastus", "tags": {"k": "v"}}),
    )
    .await;
    let ca = std::fs::read(t.armlet.ca_cert()).unwrap();
    let dir = t.stop().await;
    let t = TestArmlet::start_on_disk(dir).await;
    let (s, rg) = t.get(&rg_path("durable")).await;
    assert_eq!(s, 200);
    assert_eq!(rg["tags"], json!({"k": "v"}));
    assert_eq!(
        std::fs::read(t.armlet.ca_cert()).unwrap(),
        ca,
        "the CA is reused"
    );
    t.stop().await;
}
