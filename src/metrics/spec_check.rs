//! Test support: checks a JSON answer against a definition of Azure's OpenAPI (Swagger 2.0)
//! specs in `openapi/azure/monitor/` (copied from the upstream specs) — required properties, no undeclared
//! properties, JSON types and enum values — following `$ref`s into the common types.

use std::path::PathBuf;

use serde_json::Value;

fn specs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi/azure/monitor")
}

fn load(relative: &str) -> Value {
    let path = specs_dir().join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the spec {} is needed: {e}", path.display()));
    serde_json::from_str(&text).expect("specs are JSON")
}

/// A spec file (path below `monitor/`) and the common types its `$ref`s point into.
pub struct Spec {
    doc: Value,
    common: Value,
}

impl Spec {
    pub fn load(relative: &str) -> Spec {
        Spec {
            doc: load(relative),
            common: load("common-types/v1/commonMonitoringTypes.json"),
        }
    }

    /// Panics with the JSON path of the first violation of `definition`.
    pub fn check(&self, definition: &str, value: &Value) {
        let schema = &self.doc["definitions"][definition];
        assert!(schema.is_object(), "no definition {definition}");
        self.check_schema(&self.doc, schema, value, definition);
    }

    fn resolve<'a>(&'a self, doc: &'a Value, schema: &'a Value) -> (&'a Value, &'a Value) {
        let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
            return (doc, schema);
        };
        let (file, pointer) = reference.split_once('#').expect("refs have a fragment");
        let target = if file.ends_with("commonMonitoringTypes.json") {
            &self.common
        } else {
            assert!(file.is_empty(), "unexpected $ref {reference}");
            doc
        };
        let resolved = target
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling {reference}"));
        self.resolve(target, resolved)
    }

    fn check_schema(&self, doc: &Value, schema: &Value, value: &Value, path: &str) {
        let (doc, schema) = self.resolve(doc, schema);
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            assert!(
                allowed.contains(value),
                "{path}: {value} is not one of {allowed:?}"
            );
        }
        let ty = schema.get("type").and_then(Value::as_str).unwrap_or(
            if schema.get("properties").is_some() {
                "object"
            } else {
                "any"
            },
        );
        match ty {
            "object" => {
                let object = value
                    .as_object()
                    .unwrap_or_else(|| panic!("{path}: not an object"));
                let properties = schema["properties"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                for required in schema["required"].as_array().into_iter().flatten() {
                    let name = required.as_str().unwrap();
                    assert!(object.contains_key(name), "{path}: lacks required {name}");
                }
                for (name, v) in object {
                    let declared = properties
                        .get(name)
                        .unwrap_or_else(|| panic!("{path}: {name} is not in the spec"));
                    self.check_schema(doc, declared, v, &format!("{path}.{name}"));
                }
            }
            "array" => {
                let items = value
                    .as_array()
                    .unwrap_or_else(|| panic!("{path}: not an array"));
                for (i, item) in items.iter().enumerate() {
                    self.check_schema(doc, &schema["items"], item, &format!("{path}[{i}]"));
                }
            }
            "string" => assert!(value.is_string(), "{path}: not a string"),
            "number" => assert!(value.is_number(), "{path}: not a number"),
            "integer" => assert!(value.is_i64() || value.is_u64(), "{path}: not an integer"),
            "boolean" => assert!(value.is_boolean(), "{path}: not a boolean"),
            _ => {}
        }
    }
}
