//! What-if's property changes (`WhatIfPropertyChange`): the difference between a resource
//! as stored and as the deployment would leave it. Pure.
//!
//! Paths are dotted property paths (`properties.frontendPort`); an array with changes is one
//! `Array` change whose children are indexed by position (`"0"`, `"1"`), elements matched by
//! equality (longest common subsequence), a changed object element being a `Modify` with
//! children relative to the element: the shapes `az deployment group what-if` prints.
//! Read-only, server-computed properties ([`READ_ONLY`]) are not compared; when the template
//! sets one to a value that differs from the stored one, the change is `NoEffect`, as ARM
//! reports properties the service ignores.

use serde_json::{Map, Value, json};

/// Properties the service computes and a deployment cannot change: left out of what-if's
/// comparison and of the `before`/`after` snapshots.
pub const READ_ONLY: &[&str] = &["etag", "provisioningState", "resourceGuid"];

fn is_read_only(key: &str) -> bool {
    READ_ONLY.iter().any(|k| k.eq_ignore_ascii_case(key)) || key.starts_with("_armlet")
}

/// A copy of `v` without read-only properties, at any depth.
pub fn without_read_only(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !is_read_only(k))
                .map(|(k, v)| (k.clone(), without_read_only(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_read_only).collect()),
        other => other.clone(),
    }
}

/// The property changes from `before` to `after` (both without read-only properties).
pub fn delta(before: &Value, after: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    diff(before, after, "", &mut out);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn change(path: &str, kind: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("path".into(), json!(path));
    m.insert("propertyChangeType".into(), json!(kind));
    m
}

fn created(path: &str, after: &Value) -> Value {
    let mut c = change(path, "Create");
    c.insert("after".into(), after.clone());
    Value::Object(c)
}

fn deleted(path: &str, before: &Value) -> Value {
    let mut c = change(path, "Delete");
    c.insert("before".into(), before.clone());
    Value::Object(c)
}

fn modified(path: &str, before: &Value, after: &Value) -> Value {
    let mut c = change(path, "Modify");
    c.insert("before".into(), before.clone());
    c.insert("after".into(), after.clone());
    Value::Object(c)
}

fn diff(before: &Value, after: &Value, path: &str, out: &mut Vec<Value>) {
    if before == after {
        return;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, bv) in b {
                match get_ci(a, k) {
                    Some(av) => diff(bv, av, &join(path, k), out),
                    None => out.push(deleted(&join(path, k), bv)),
                }
            }
            for (k, av) in a {
                if get_ci(b, k).is_none() {
                    out.push(created(&join(path, k), av));
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            let mut c = change(path, "Array");
            c.insert("children".into(), Value::Array(array_changes(b, a)));
            out.push(Value::Object(c));
        }
        _ => out.push(modified(path, before, after)),
    }
}

fn get_ci<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Element changes of an array: equal elements matched in order (LCS); between matches,
/// removed and added elements are paired as `Modify` when both are objects, otherwise they
/// are a `Delete` (indexed in `before`) and a `Create` (indexed in `after`).
fn array_changes(before: &[Value], after: &[Value]) -> Vec<Value> {
    let (n, m) = (before.len(), after.len());
    // lcs[i][j]: length of the LCS of before[i..] and after[j..].
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if before[i] == after[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    let mut removed: Vec<usize> = Vec::new();
    let mut added: Vec<usize> = Vec::new();
    let flush = |removed: &mut Vec<usize>, added: &mut Vec<usize>, out: &mut Vec<Value>| {
        for k in 0..removed.len().max(added.len()) {
            match (removed.get(k), added.get(k)) {
                (Some(&bi), Some(&aj)) if before[bi].is_object() && after[aj].is_object() => {
                    let mut children = Vec::new();
                    diff(&before[bi], &after[aj], "", &mut children);
                    let mut c = change(&aj.to_string(), "Modify");
                    c.insert("children".into(), Value::Array(children));
                    out.push(Value::Object(c));
                }
                (b, a) => {
                    if let Some(&bi) = b {
                        out.push(deleted(&bi.to_string(), &before[bi]));
                    }
                    if let Some(&aj) = a {
                        out.push(created(&aj.to_string(), &after[aj]));
                    }
                }
            }
        }
        removed.clear();
        added.clear();
    };
    while i < n || j < m {
        if i < n && j < m && before[i] == after[j] {
            flush(&mut removed, &mut added, &mut out);
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            added.push(j);
            j += 1;
        } else {
            removed.push(i);
            i += 1;
        }
    }
    flush(&mut removed, &mut added, &mut out);
    out
}

/// `NoEffect` changes: read-only properties the template sets (`template`: the resource as
/// the template gives it) to values other than the stored ones (`stored`: as stored).
pub fn no_effect(template: &Value, stored: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    walk_read_only(template, stored, "", &mut out);
    out
}

fn walk_read_only(template: &Value, stored: &Value, path: &str, out: &mut Vec<Value>) {
    let Value::Object(t) = template else {
        return;
    };
    for (k, tv) in t {
        let sv = stored.as_object().and_then(|s| get_ci(s, k));
        if is_read_only(k) {
            if sv != Some(tv) {
                let mut c = change(&join(path, k), "NoEffect");
                c.insert("before".into(), sv.cloned().unwrap_or(Value::Null));
                c.insert("after".into(), tv.clone());
                out.push(Value::Object(c));
            }
        } else if let Some(sv) = sv {
            walk_read_only(tv, sv, &join(path, k), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_documents_have_no_delta() {
        let d = json!({"properties": {"a": [1, {"b": 2}], "c": "x"}});
        assert!(delta(&d, &d).is_empty());
    }

    #[test]
    fn leaf_and_object_changes_have_dotted_paths() {
        let before = json!({"tags": {"env": "dev"}, "properties": {"idle": 4, "sku": {"name": "Basic"}, "old": true}});
        let after = json!({"tags": {"env": "prod"}, "properties": {"idle": 4, "sku": "Standard", "new": {"x": 1}}});
        assert_eq!(
            delta(&before, &after),
            // (serde_json maps iterate in key order)
            vec![
                json!({"path": "properties.old", "propertyChangeType": "Delete", "before": true}),
                json!({"path": "properties.sku", "propertyChangeType": "Modify", "before": {"name": "Basic"}, "after": "Standard"}),
                json!({"path": "properties.new", "propertyChangeType": "Create", "after": {"x": 1}}),
                json!({"path": "tags.env", "propertyChangeType": "Modify", "before": "dev", "after": "prod"}),
            ]
        );
    }

    #[test]
    fn arrays_match_equal_elements_and_pair_changed_objects() {
        let before = json!({"p": [
            {"name": "a", "port": 80},
            {"name": "b", "port": 81},
            {"name": "c", "port": 82}
        ]});
        let after = json!({"p": [
            {"name": "a", "port": 80},
            {"name": "b", "port": 8081},
            {"name": "d", "port": 83},
            {"name": "c", "port": 82}
        ]});
        let d = delta(&before, &after);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0]["path"], "p");
        assert_eq!(d[0]["propertyChangeType"], "Array");
        assert_eq!(
            d[0]["children"],
            json!([
                {"path": "1", "propertyChangeType": "Modify", "children": [
                    {"path": "port", "propertyChangeType": "Modify", "before": 81, "after": 8081}
                ]},
                {"path": "2", "propertyChangeType": "Create", "after": {"name": "d", "port": 83}}
            ])
        );
    }

    #[test]
    fn scalar_arrays_are_deletes_and_creates() {
        let d = delta(
            &json!({"prefixes": ["10.0.0.0/16"]}),
            &json!({"prefixes": ["10.0.0.0/15", "10.1.0.0/16"]}),
        );
        assert_eq!(
            d[0]["children"],
            json!([
                {"path": "0", "propertyChangeType": "Delete", "before": "10.0.0.0/16"},
                {"path": "0", "propertyChangeType": "Create", "after": "10.0.0.0/15"},
                {"path": "1", "propertyChangeType": "Create", "after": "10.1.0.0/16"}
            ])
        );
        let removed = delta(&json!({"a": [1, 2, 3]}), &json!({"a": [1, 3]}));
        assert_eq!(
            removed[0]["children"],
            json!([{"path": "1", "propertyChangeType": "Delete", "before": 2}])
        );
    }

    #[test]
    fn read_only_properties_are_dropped_and_reported_as_no_effect_when_set() {
        let stored = json!({"etag": "W/\"1\"", "properties": {"provisioningState": "Succeeded", "resourceGuid": "g1", "x": 1, "subnets": [{"etag": "e", "name": "s"}]}, "_armlet": {}});
        assert_eq!(
            without_read_only(&stored),
            json!({"properties": {"x": 1, "subnets": [{"name": "s"}]}})
        );
        let template =
            json!({"properties": {"resourceGuid": "g2", "provisioningState": "Succeeded", "x": 2}});
        assert_eq!(
            no_effect(&template, &stored),
            vec![
                json!({"path": "properties.resourceGuid", "propertyChangeType": "NoEffect", "before": "g1", "after": "g2"})
            ]
        );
    }
}
