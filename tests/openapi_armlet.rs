//! `openapi/armlet.yaml` is the source of truth for armlet's own endpoints: every operation
//! it documents is called over HTTPS on a running armlet (with the documented example
//! body), answers with a status the document lists, in the shape of that status's schema;
//! every method it does not document on those paths answers 405 in armlet's error shape.

mod common;

use std::time::Duration;

use common::scale_set::{COMPUTE, network, put_and_wait, rid, vmss_body};
use common::{TestArmlet, eventually, send};
use reqwest::Method;
use serde_json::{Value, json};

fn document() -> Value {
    let path = common::repo_root().join("openapi/armlet.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.strip_prefix('#').expect("local references only");
            resolve(
                doc,
                doc.pointer(pointer)
                    .unwrap_or_else(|| panic!("{r} is missing")),
            )
        }
        None => v,
    }
}

/// Checks `v` against the OpenAPI 3.1 schema `schema` for the keywords the document uses
/// (`$ref`, `type`, `required`, `properties`, `additionalProperties`, `items`, `enum`,
/// `allOf`, `oneOf`, `minimum`, `maximum`, `format: date-time`); returns what is wrong.
fn check(doc: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    let mut fail = |m: String| errors.push(format!("{at}: {m}"));
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            other => panic!("type {other} is not checked"),
        };
        if !ok {
            return fail(format!("{v} is not of type {t}"));
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        fail(format!("{v} is not one of {e:?}"));
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64())
        && n < min
    {
        fail(format!("{n} < {min}"));
    }
    if let (Some(max), Some(n)) = (schema.get("maximum").and_then(Value::as_f64), v.as_f64())
        && n > max
    {
        fail(format!("{n} > {max}"));
    }
    if schema.get("format").and_then(Value::as_str) == Some("date-time")
        && let Some(s) = v.as_str()
        && chrono::DateTime::parse_from_rfc3339(s).is_err()
    {
        fail(format!("'{s}' is not an RFC 3339 date-time"));
    }
    if let Some(obj) = v.as_object() {
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().unwrap();
            if !obj.contains_key(r) {
                fail(format!("'{r}' is missing from {v}"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, x) in obj {
            match (
                props.and_then(|p| p.get(k)),
                schema.get("additionalProperties"),
            ) {
                (Some(s), _) => check(doc, s, x, &format!("{at}.{k}"), errors),
                (None, Some(Value::Bool(false))) => {
                    errors.push(format!("{at}: '{k}' is not a documented property"))
                }
                (None, Some(s @ Value::Object(_))) => {
                    check(doc, s, x, &format!("{at}.{k}"), errors)
                }
                (None, _) => {}
            }
        }
    }
    if let (Some(items), Some(a)) = (schema.get("items"), v.as_array()) {
        for (i, x) in a.iter().enumerate() {
            check(doc, items, x, &format!("{at}[{i}]"), errors);
        }
    }
    for s in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        check(doc, s, v, at, errors);
    }
    if let Some(any) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = any
            .iter()
            .filter(|s| {
                let mut e = Vec::new();
                check(doc, s, v, at, &mut e);
                e.is_empty()
            })
            .count();
        if matching != 1 {
            errors.push(format!("{at}: {v} matches {matching} of oneOf"));
        }
    }
}

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

struct Operation {
    path: String,
    method: String,
    spec: Value,
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            if let Some(spec) = item.get(m) {
                ops.push(Operation {
                    path: path.clone(),
                    method: m.into(),
                    spec: spec.clone(),
                });
            }
        }
    }
    // What destroys state goes last: clearing the fault, then the reset.
    ops.sort_by_key(|o| (o.path.ends_with("/reset"), o.method == "delete"));
    ops
}

#[test]
fn the_document_is_openapi_3_1_and_its_schemas_resolve() {
    let doc = document();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let ops = operations(&doc);
    assert!(ops.len() >= 8, "{} operations", ops.len());
    for o in &ops {
        assert!(o.path.starts_with("/_armlet/"), "{}", o.path);
        assert!(o.spec["operationId"].is_string(), "{} {}", o.method, o.path);
        for (status, r) in o.spec["responses"].as_object().unwrap() {
            let r = resolve(&doc, r);
            let content = r["content"].as_object().unwrap();
            assert_eq!(content.len(), 1, "{} {} {status}", o.method, o.path);
            let schema = &content.values().next().unwrap()["schema"];
            assert!(schema.is_object(), "{} {} {status}", o.method, o.path);
            // Every reference in the schema resolves (`resolve` panics otherwise).
            check(&doc, schema, &json!({}), "", &mut Vec::new());
        }
        let body = &o.spec["requestBody"]["content"]["application/json"];
        if let Some(example) = body.get("example") {
            let mut errors = Vec::new();
            check(&doc, &body["schema"], example, "example", &mut errors);
            assert!(errors.is_empty(), "{} {}: {errors:?}", o.method, o.path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served_in_its_documented_shape() {
    let doc = document();
    let t = TestArmlet::start().await;
    // The document's examples name the test fixtures' scale set and instance 0.
    network(&t).await;
    let vmss = rid("Microsoft.Compute/virtualMachineScaleSets", "web");
    let (_, end) = put_and_wait(&t, &format!("{vmss}?api-version={COMPUTE}"), vmss_body(1)).await;
    assert_eq!(end, "Succeeded");
    let (s, fault) = send(
        t.client
            .post(t.url("/_armlet/faults"))
            .json(&json!({"kind": "probeFailure", "target": format!("{vmss}/virtualMachines/0")})),
    )
    .await;
    assert_eq!(s, 201, "{fault}");
    let fault_id = fault["id"].as_str().unwrap();

    let mut served = Vec::new();
    for o in operations(&doc) {
        let path = o.path.replace("{id}", fault_id);
        let method = Method::from_bytes(o.method.to_uppercase().as_bytes()).unwrap();
        let mut rb = t.client.request(method, t.url(&path));
        if let Some(example) = o.spec["requestBody"]["content"]["application/json"].get("example") {
            rb = rb.json(example);
        }
        let response = rb.send().await.unwrap();
        let status = response.status().as_u16();
        let media = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = response.bytes().await.unwrap();
        let what = format!("{} {path}", o.method.to_uppercase());
        let documented = o.spec["responses"]
            .get(status.to_string())
            .unwrap_or_else(|| {
                panic!(
                    "{what}: status {status} is not documented: {}",
                    String::from_utf8_lossy(&bytes)
                )
            });
        assert!(status < 300, "{what}: the example request failed: {status}");
        let content = resolve(&doc, documented)["content"].as_object().unwrap();
        let (documented_media, spec) = content.iter().next().unwrap();
        assert!(
            media.starts_with(documented_media.as_str()),
            "{what}: {media}"
        );
        if documented_media == "application/json" {
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            let mut errors = Vec::new();
            check(&doc, &spec["schema"], &body, "body", &mut errors);
            assert!(errors.is_empty(), "{what}: {errors:?}\n{body}");
        } else {
            assert_eq!(documented_media, "application/vnd.sqlite3");
            assert!(bytes.starts_with(b"SQLite format 3\0"), "{what}");
        }
        served.push(what);
    }
    assert_eq!(served.len(), operations(&doc).len());

    // The reset ran last: the documented state is back to empty.
    let (_, listed) = t.get("/_armlet/faults").await;
    assert_eq!(listed["value"], json!([]));

    // Methods a documented path does not list are refused in armlet's error shape, and so
    // is any path the document does not have.
    let error = json!({"$ref": "#/components/schemas/Error"});
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS.iter().filter(|m| item.get(**m).is_none()) {
            let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            let (s, body) = send(t.client.request(method, t.url(&path.replace("{id}", "x")))).await;
            assert_eq!(s, 405, "{m} {path}: {body}");
            let mut errors = Vec::new();
            check(&doc, &error, &body, "body", &mut errors);
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(body["error"]["code"], "MethodNotAllowed");
        }
    }
    for path in ["/_armlet/", "/_armlet/status", "/_armlet/faults/x/y"] {
        let (s, body) = t.get(path).await;
        assert_eq!(
            (s, body["error"]["code"].as_str()),
            (404, Some("UnknownManagementRoute")),
            "{path}"
        );
    }
    // The reset stopped the instance; armlet reports it.
    eventually(Duration::from_secs(5), || async {
        let (_, h) = t.get("/_armlet/health").await;
        (h["instances"] == 0).then_some(())
    })
    .await;
}
