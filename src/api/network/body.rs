//! Reading typed properties out of request bodies, with the errors ARM gives when a value has
//! the wrong JSON type (`InvalidRequestContent`) or is outside what the provider accepts
//! (`InvalidRequestFormat`).

use serde_json::{Map, Value};

use super::errors;
use crate::arm::{ArmError, ArmResult};

fn wrong_type(path: &str, value: &Value, expected: &str) -> ArmError {
    ArmError::invalid_request_content(format!(
        "Error converting value {value} to type '{expected}'. Path '{path}'"
    ))
}

/// `v[key]` as an object, created if absent; an error if it is something else.
pub fn object_mut<'a>(
    v: &'a mut Value,
    key: &str,
    path: &str,
) -> ArmResult<&'a mut Map<String, Value>> {
    if v[key].is_null() {
        v[key] = Value::Object(Map::new());
    }
    let found = v[key].clone();
    v[key]
        .as_object_mut()
        .ok_or_else(|| wrong_type(path, &found, "Object"))
}

/// An integer property (absent or null: `None`).
pub fn int(props: &Value, key: &str, path: &str) -> ArmResult<Option<i64>> {
    match &props[key] {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| wrong_type(path, &props[key], "System.Int32")),
        other => Err(wrong_type(path, other, "System.Int32")),
    }
}

/// An integer property that must lie in `min..=max`; `what` names it in the error.
pub fn int_in(
    props: &Value,
    key: &str,
    path: &str,
    what: &str,
    min: i64,
    max: i64,
) -> ArmResult<Option<i64>> {
    let v = int(props, key, path)?;
    match v {
        Some(n) if n < min || n > max => Err(errors::out_of_range(what, n, min, max)),
        _ => Ok(v),
    }
}

pub fn boolean(props: &Value, key: &str, path: &str) -> ArmResult<Option<bool>> {
    match &props[key] {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        other => Err(wrong_type(path, other, "System.Boolean")),
    }
}

pub fn string<'a>(props: &'a Value, key: &str, path: &str) -> ArmResult<Option<&'a str>> {
    match &props[key] {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        other => Err(wrong_type(path, other, "System.String")),
    }
}

/// A string property from an enumeration, matched case-insensitively and returned in the
/// enumeration's casing.
pub fn one_of(
    props: &Value,
    key: &str,
    path: &str,
    allowed: &[&'static str],
) -> ArmResult<Option<&'static str>> {
    let Some(s) = string(props, key, path)? else {
        return Ok(None);
    };
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(s))
        .copied()
        .map(Some)
        .ok_or_else(|| {
            errors::invalid_format(format!(
                "Value '{s}' of property '{path}' is invalid. Allowed values: {}.",
                allowed.join(", ")
            ))
        })
}

/// An array property (absent or null: empty).
pub fn array<'a>(props: &'a Value, key: &str, path: &str) -> ArmResult<&'a [Value]> {
    match &props[key] {
        Value::Null => Ok(&[]),
        Value::Array(a) => Ok(a),
        other => Err(wrong_type(path, other, "Array")),
    }
}

/// The `id` of a SubResource property, if set; an error if it is not `{"id": "..."}`.
pub fn reference<'a>(props: &'a Value, key: &str, path: &str) -> ArmResult<Option<&'a str>> {
    match &props[key] {
        Value::Null => Ok(None),
        Value::Object(o) => match o.get("id") {
            Some(Value::String(s)) => Ok(Some(s)),
            None | Some(Value::Null) => Ok(None),
            Some(other) => Err(wrong_type(&format!("{path}.id"), other, "System.String")),
        },
        other => Err(wrong_type(path, other, "SubResource")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_reads_and_their_errors() {
        let p = json!({"n": 5, "s": "tcp", "b": true, "x": "5", "r": {"id": "/a"}});
        assert_eq!(int(&p, "n", "n").unwrap(), Some(5));
        assert_eq!(int(&p, "missing", "m").unwrap(), None);
        assert_eq!(int(&p, "x", "x").unwrap_err().code, "InvalidRequestContent");
        assert_eq!(
            int_in(&p, "n", "n", "Port", 10, 20).unwrap_err().code,
            "InvalidRequestFormat"
        );
        assert_eq!(one_of(&p, "s", "s", &["Tcp", "Udp"]).unwrap(), Some("Tcp"));
        assert_eq!(
            one_of(&p, "s", "s", &["Http"]).unwrap_err().code,
            "InvalidRequestFormat"
        );
        assert_eq!(boolean(&p, "b", "b").unwrap(), Some(true));
        assert_eq!(reference(&p, "r", "r").unwrap(), Some("/a"));
        assert!(reference(&p, "n", "n").is_err());
    }
}
