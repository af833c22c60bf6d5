//! JSON value helpers for ARM template expressions: ARM's type names, the
//! case-insensitive property and index access used by `.prop` / `[expr]`,
//! ARM's `string()` conversion and the deep equality used by `equals`,
//! `contains`, `union` and friends.

use serde_json::{Map, Value};

use super::expr::ExprError;

/// The ARM name of a value's type, as used in error messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(n) if n.is_i64() => "Integer",
        Value::Number(_) => "Float",
        Value::String(_) => "String",
        Value::Array(_) => "Array",
        Value::Object(_) => "Object",
    }
}

/// Compares two strings ignoring case (Unicode-aware, like .NET's `OrdinalIgnoreCase`).
pub fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// Looks a property up the way ARM does: an exact match wins, otherwise the
/// first key that matches ignoring case.
pub fn get_property<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(key, _)| eq_ignore_case(key, name))
            .map(|(_, value)| value)
    })
}

/// Evaluates `target.name`.
pub fn property(target: &Value, name: &str) -> Result<Value, ExprError> {
    match target {
        Value::Object(map) => {
            get_property(map, name)
                .cloned()
                .ok_or_else(|| ExprError::PropertyNotFound {
                    property: name.to_string(),
                    available: map.keys().cloned().collect::<Vec<_>>().join(", "),
                })
        }
        other => Err(ExprError::InvalidPropertyAccess {
            property: name.to_string(),
            actual: type_name(other),
        }),
    }
}

/// Evaluates `target[index]`: an integer index into an array, or a property
/// name (case-insensitive) of an object.
pub fn index(target: &Value, index: &Value) -> Result<Value, ExprError> {
    match (target, index) {
        (Value::Array(items), Value::Number(n)) => {
            let i = n.as_i64().ok_or_else(|| ExprError::InvalidPropertyAccess {
                property: n.to_string(),
                actual: "Array",
            })?;
            usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i))
                .cloned()
                .ok_or(ExprError::IndexOutOfBounds {
                    index: i,
                    length: items.len(),
                })
        }
        (Value::Object(_), Value::String(name)) => property(target, name),
        (_, key) => Err(ExprError::InvalidPropertyAccess {
            property: to_arm_string(key),
            actual: type_name(target),
        }),
    }
}

/// Converts a value to a string the way ARM's `string()` does: strings are
/// returned as-is, booleans become `True`/`False`, null becomes the empty
/// string and arrays/objects are serialized as compact JSON.
pub fn to_arm_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Null => String::new(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// Deep equality as ARM's `equals` sees it: strings compare case-sensitively,
/// numbers by value (so `1` equals `1.0`), objects ignore key order.
pub fn json_equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equals(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, p)| y.get(key).is_some_and(|q| json_equals(p, q)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn type_names_match_arm() {
        assert_eq!(type_name(&json!(null)), "Null");
        assert_eq!(type_name(&json!(true)), "Boolean");
        assert_eq!(type_name(&json!(-3)), "Integer");
        assert_eq!(type_name(&json!(1.5)), "Float");
        assert_eq!(type_name(&json!("x")), "String");
        assert_eq!(type_name(&json!([])), "Array");
        assert_eq!(type_name(&json!({})), "Object");
    }

    #[test]
    fn property_lookup_prefers_exact_case_then_ignores_case() {
        let v = json!({"True": 1, "true": 2, "ipAddress": "10.0.0.4"});
        assert_eq!(property(&v, "True").unwrap(), json!(1));
        assert_eq!(property(&v, "true").unwrap(), json!(2));
        assert_eq!(property(&v, "IPADDRESS").unwrap(), json!("10.0.0.4"));
    }

    #[test]
    fn missing_property_lists_available_ones() {
        let err = property(&json!({"a": 1, "b": 2}), "foo").unwrap_err();
        assert_eq!(
            err.to_string(),
            "The language expression property 'foo' doesn't exist, available properties are 'a, b'."
        );
    }

    #[test]
    fn property_of_non_object_is_an_error() {
        let err = property(&json!("text"), "length").unwrap_err();
        assert!(err.to_string().contains("'length'"), "{err}");
        assert!(err.to_string().contains("'String'"), "{err}");
    }

    #[test]
    fn index_into_arrays_and_objects() {
        let arr = json!(["a", "b"]);
        assert_eq!(index(&arr, &json!(1)).unwrap(), json!("b"));
        assert_eq!(
            index(&arr, &json!(2)).unwrap_err(),
            ExprError::IndexOutOfBounds {
                index: 2,
                length: 2
            }
        );
        assert!(index(&arr, &json!(-1)).is_err());
        assert!(index(&arr, &json!("0")).is_err());
        let obj = json!({"Key": [1]});
        assert_eq!(index(&obj, &json!("key")).unwrap(), json!([1]));
        assert!(index(&obj, &json!(0)).is_err());
        assert!(index(&json!(null), &json!(0)).is_err());
    }

    #[test]
    fn arm_string_conversion() {
        assert_eq!(to_arm_string(&json!("s")), "s");
        assert_eq!(to_arm_string(&json!(true)), "True");
        assert_eq!(to_arm_string(&json!(false)), "False");
        assert_eq!(to_arm_string(&json!(null)), "");
        assert_eq!(to_arm_string(&json!(42)), "42");
        assert_eq!(to_arm_string(&json!({"a": [1, "b"]})), r#"{"a":[1,"b"]}"#);
    }

    #[test]
    fn deep_equality() {
        assert!(json_equals(&json!(1), &json!(1.0)));
        assert!(!json_equals(&json!("a"), &json!("A")));
        assert!(json_equals(
            &json!({"a": [1, {"b": null}], "c": true}),
            &json!({"c": true, "a": [1, {"b": null}]})
        ));
        assert!(!json_equals(&json!([1, 2]), &json!([2, 1])));
        assert!(!json_equals(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!json_equals(&json!(1), &json!("1")));
    }

    #[test]
    fn case_insensitive_comparison_is_unicode_aware() {
        assert!(eq_ignore_case("ÄbC", "äBc"));
        assert!(!eq_ignore_case("abc", "abd"));
    }
}
