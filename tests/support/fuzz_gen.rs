//! Requests generated from the Azure REST API specs in `openapi/azure/`: every operation
//! (path template, method, parameters, body schema) of the compute, network, resources and
//! monitor files, filled with values drawn from the schemas, mostly well-formed (to reach
//! the deep validation) and sometimes wrong (types, enums, ranges, names, api-versions).
//!
//! `$ref`s resolve within a file and, by file name, to the other files present; a reference
//! to a file not copied here (compute's `common-types/v1`) is guessed from its name
//! (`ApiVersionParameter`, `SubscriptionIdParameter`, ...) or left as "any value".

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::common::SUB;
use crate::common::rng::Rng;

/// One operation of the specs.
pub struct Operation {
    pub method: String,
    pub path: String,
    pub api_version: String,
    /// `(name, in)` of each parameter, with its schema where there is one.
    pub params: Vec<(String, String, Value)>,
}

pub struct Specs {
    files: HashMap<String, Value>,
    pub operations: Vec<Operation>,
}

impl Specs {
    pub fn load(root: &Path) -> Specs {
        let mut files = HashMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "json") {
                    let name = p.file_name().unwrap().to_string_lossy().to_string();
                    let doc: Value =
                        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                    files.insert(name, doc);
                }
            }
        }
        let mut specs = Specs {
            files,
            operations: Vec::new(),
        };
        let mut names: Vec<&String> = specs.files.keys().collect();
        names.sort();
        let mut ops = Vec::new();
        for name in names {
            let doc = &specs.files[name];
            let version = doc["info"]["version"]
                .as_str()
                .unwrap_or("2024-11-01")
                .to_string();
            for (path, item) in doc["paths"].as_object().into_iter().flatten() {
                let shared = item["parameters"].as_array().cloned().unwrap_or_default();
                for (method, op) in item.as_object().unwrap() {
                    if method == "parameters" {
                        continue;
                    }
                    let mut params = Vec::new();
                    for p in shared
                        .iter()
                        .chain(op["parameters"].as_array().into_iter().flatten())
                    {
                        if let Some(p) = specs.parameter(name, p) {
                            params.push(p);
                        }
                    }
                    ops.push(Operation {
                        method: method.to_uppercase(),
                        path: path.clone(),
                        api_version: version.clone(),
                        params,
                    });
                }
            }
        }
        specs.operations = ops;
        specs
    }

    /// Follows a `$ref` (`file.json#/a/b` or `#/a/b`) from `file`.
    fn resolve(&self, file: &str, reference: &str) -> Option<(String, Value)> {
        let (target, pointer) = reference.split_once('#').unwrap_or((reference, ""));
        let target_file = if target.is_empty() {
            file.to_string()
        } else {
            target.rsplit('/').next().unwrap_or(target).to_string()
        };
        let doc = self.files.get(&target_file)?;
        Some((target_file, doc.pointer(pointer)?.clone()))
    }

    fn parameter(&self, file: &str, p: &Value) -> Option<(String, String, Value)> {
        if let Some(r) = p["$ref"].as_str() {
            return match self.resolve(file, r) {
                Some((f, v)) => self
                    .parameter(&f, &v)
                    .map(|(n, i, s)| (n, i, with_file(s, &f))),
                None => {
                    let name = r.rsplit('/').next().unwrap_or_default();
                    let (n, i) = if name.contains("ApiVersion") {
                        ("api-version", "query")
                    } else if name.contains("SubscriptionId") {
                        ("subscriptionId", "path")
                    } else if name.contains("ResourceGroupName") {
                        ("resourceGroupName", "path")
                    } else {
                        return None;
                    };
                    Some((n.into(), i.into(), json!({})))
                }
            };
        }
        let schema = if p["in"] == "body" {
            p["schema"].clone()
        } else {
            p.clone()
        };
        Some((
            p["name"].as_str()?.to_string(),
            p["in"].as_str()?.to_string(),
            with_file(schema, file),
        ))
    }

    /// A value for `schema` (`depth` bounds recursion through self-referencing models).
    pub fn value(&self, rng: &mut Rng, schema: &Value, depth: u32) -> Value {
        let file = schema["x-file"].as_str().unwrap_or_default().to_string();
        if rng.chance(0.04) || depth > 7 {
            return wild(rng);
        }
        if let Some(r) = schema["$ref"].as_str() {
            return match self.resolve(&file, r) {
                Some((f, s)) => self.value(rng, &with_file(s, &f), depth + 1),
                None => wild(rng),
            };
        }
        let mut obj = Map::new();
        for part in schema["allOf"].as_array().into_iter().flatten() {
            if let Value::Object(m) = self.value(rng, &with_file(part.clone(), &file), depth + 1) {
                obj.extend(m);
            }
        }
        if let Some(values) = schema["enum"].as_array().filter(|v| !v.is_empty()) {
            let v = rng.pick(values).clone();
            return match (v.as_str(), rng.below(6)) {
                (Some(s), 0) => json!(s.to_lowercase()),
                (Some(_), 1) => json!("NotAnAllowedValue"),
                _ => v,
            };
        }
        let ty = schema["type"]
            .as_str()
            .unwrap_or(if schema["properties"].is_object() {
                "object"
            } else {
                ""
            });
        match ty {
            "object" | "" if schema["properties"].is_object() || !obj.is_empty() => {
                let required: Vec<&str> = schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                for (k, s) in schema["properties"].as_object().into_iter().flatten() {
                    let readonly = s["readOnly"] == true;
                    let keep = if required.contains(&k.as_str()) {
                        0.95
                    } else if readonly {
                        0.1
                    } else {
                        0.6
                    };
                    if rng.chance(keep) {
                        obj.insert(
                            k.clone(),
                            self.value(rng, &with_file(s.clone(), &file), depth + 1),
                        );
                    }
                }
                Value::Object(obj)
            }
            "object" => {
                let extra = &schema["additionalProperties"];
                let mut m = Map::new();
                for i in 0..rng.below(3) {
                    let v = if extra.is_object() {
                        self.value(rng, &with_file(extra.clone(), &file), depth + 1)
                    } else {
                        wild(rng)
                    };
                    m.insert(format!("key{i}"), v);
                }
                Value::Object(m)
            }
            "array" => {
                let n = rng.below(4);
                Value::Array(
                    (0..n)
                        .map(|_| {
                            self.value(rng, &with_file(schema["items"].clone(), &file), depth + 1)
                        })
                        .collect(),
                )
            }
            "string" => string(rng, schema),
            "integer" => json!(*rng.pick(&[
                0i64,
                1,
                2,
                4,
                5,
                15,
                80,
                443,
                65535,
                65536,
                -1,
                100000,
                i64::MAX
            ])),
            "number" => json!(*rng.pick(&[0.0, 0.5, 1.0, 70.0, -3.5, 1e300])),
            "boolean" => {
                if rng.chance(0.9) {
                    json!(rng.chance(0.5))
                } else {
                    json!("true")
                }
            }
            _ => wild(rng),
        }
    }
}

fn with_file(mut schema: Value, file: &str) -> Value {
    if let Value::Object(m) = &mut schema
        && !m.contains_key("x-file")
    {
        m.insert("x-file".into(), json!(file));
    }
    schema
}

fn string(rng: &mut Rng, schema: &Value) -> Value {
    match schema["format"].as_str() {
        Some("date-time") => {
            return json!(*rng.pick(&[
                "2026-01-01T00:00:00Z",
                "yesterday",
                "2026-13-45T99:00:00Z"
            ]));
        }
        Some("duration") => {
            return json!(*rng.pick(&["PT5M", "PT1H", "P1D", "PT0S", "5 minutes", "PT-1M"]));
        }
        Some("uuid") => {
            return json!(*rng.pick(&["00000000-0000-0000-0000-000000000001", "not-a-guid"]));
        }
        _ => {}
    }
    let ids = [
        format!(
            "/subscriptions/{SUB}/resourceGroups/fuzz/providers/Microsoft.Network/virtualNetworks/vnet/subnets/s"
        ),
        format!(
            "/subscriptions/{SUB}/resourceGroups/fuzz/providers/Microsoft.Network/loadBalancers/lb/backendAddressPools/pool"
        ),
        format!(
            "/subscriptions/{SUB}/resourceGroups/fuzz/providers/Microsoft.Network/publicIPAddresses/ip"
        ),
        format!(
            "/subscriptions/{SUB}/resourceGroups/fuzz/providers/Microsoft.Network/loadBalancers/lb/probes/hp"
        ),
        "/subscriptions/x/../../etc/passwd".to_string(),
    ];
    if schema["x-ms-arm-id-details"].is_object() || schema["format"] == "arm-id" || rng.chance(0.15)
    {
        return json!(rng.pick(&ids));
    }
    json!(*rng.pick(&[
        "fuzz", "eastus", "Standard", "10.0.0.0/24", "10.0.0.4", "Tcp", "", " ", "ä€𝄞", "a\u{0}b",
        "x'; DROP TABLE resources; --", "../../..", "%2F%2e%2e", "Standard_D2s_v5", "/health", "*",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    ]))
}

/// A value of any shape: what a careless or hostile client sends where the schema says otherwise.
pub fn wild(rng: &mut Rng) -> Value {
    match rng.below(9) {
        0 => Value::Null,
        1 => json!(rng.next_u64()),
        2 => json!(-1),
        3 => json!("wild"),
        4 => json!([1, "two", null, {"three": 3}]),
        5 => json!({"nested": {"deeper": [true, false]}}),
        6 => json!(true),
        7 => json!(1.7976931348623157e308),
        _ => json!({}),
    }
}

/// A name for a path segment: mostly valid, sometimes a trick.
pub fn name(rng: &mut Rng) -> String {
    if rng.chance(0.75) {
        return rng
            .pick(&[
                "fuzz1", "web", "lb", "ip", "vnet", "pool", "hp", "s", "0", "1",
            ])
            .to_string();
    }
    rng.pick(&[
        "..",
        ".",
        "%2F",
        "a%2Fb",
        "%2e%2e",
        "%00",
        "-bad",
        "bad-",
        "con",
        "ü",
        "%F0%9F%92%A5",
        "a%20b",
        &"n".repeat(81),
        &"n".repeat(300),
        "*",
        "%",
        "a;b",
        "a?b=c",
    ])
    .to_string()
}

/// A concrete request for `op`: method, path and query, body.
pub fn request(specs: &Specs, op: &Operation, rng: &mut Rng) -> (String, String, Option<Value>) {
    let mut path = op.path.clone();
    let mut query = Vec::new();
    let mut body = None;
    for (pname, place, schema) in &op.params {
        match place.as_str() {
            "path" => {
                let v = match pname.as_str() {
                    "subscriptionId" if rng.chance(0.95) => SUB.to_string(),
                    "resourceGroupName" if rng.chance(0.85) => "fuzz".to_string(),
                    "location" if rng.chance(0.8) => "eastus".to_string(),
                    _ => match schema["enum"].as_array() {
                        Some(e) if !e.is_empty() && rng.chance(0.8) => {
                            rng.pick(e).as_str().unwrap_or("x").to_string()
                        }
                        _ => name(rng),
                    },
                };
                path = path.replace(&format!("{{{pname}}}"), &v);
            }
            "query" => {
                if pname == "api-version" {
                    match rng.below(20) {
                        0 => {}
                        1 => query.push("api-version=latest".to_string()),
                        2 => query.push("api-version=2015-01-01".to_string()),
                        _ => query.push(format!("api-version={}", op.api_version)),
                    }
                } else if rng.chance(0.3) {
                    let v = specs.value(rng, schema, 5);
                    let v = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    query.push(format!(
                        "{}={}",
                        pname,
                        percent_encoding::utf8_percent_encode(
                            &v,
                            percent_encoding::NON_ALPHANUMERIC
                        )
                    ));
                }
            }
            "body" => body = Some(specs.value(rng, schema, 0)),
            _ => {}
        }
    }
    // Path parameters the template names but the parameter list did not resolve.
    while let Some(start) = path.find('{') {
        let end = path[start..]
            .find('}')
            .map_or(path.len(), |e| start + e + 1);
        path.replace_range(start..end, &name(rng));
    }
    let q = if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    };
    (op.method.clone(), format!("{path}{q}"), body)
}
