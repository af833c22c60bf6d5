//! The merge a PUT on an existing scale set performs: `az vmss scale` PUTs only location and
//! sku, `az vmss update --set` PUTs the whole object with nulls for what it keeps.

use serde_json::Value;

/// Merges `patch` into `base`: objects recursively, arrays and scalars replaced, `null` keeps
/// what `base` has.
pub fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (_, Value::Null) => {}
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None if v.is_null() => {}
                    None => {
                        b.insert(k, strip_nulls(v));
                    }
                }
            }
        }
        (b, p) => *b = strip_nulls(p),
    }
}

/// Removes `null` members of objects (a null means "not set").
pub fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scale_keeps_everything_but_the_sku() {
        let mut vmss = json!({"location": "eastus", "sku": {"name": "S", "capacity": 3}, "properties": {"upgradePolicy": {"mode": "Rolling"}}});
        merge(
            &mut vmss,
            json!({"location": "eastus", "sku": {"capacity": 5}}),
        );
        assert_eq!(vmss["sku"], json!({"name": "S", "capacity": 5}));
        assert_eq!(vmss["properties"]["upgradePolicy"]["mode"], "Rolling");
    }

    #[test]
    fn nulls_keep_and_arrays_replace() {
        let mut v = json!({"a": {"b": 1, "c": [1, 2]}, "d": 1});
        merge(
            &mut v,
            json!({"a": {"b": null, "c": [3]}, "d": null, "e": {"f": null, "g": 2}}),
        );
        assert_eq!(v, json!({"a": {"b": 1, "c": [3]}, "d": 1, "e": {"g": 2}}));
    }
}
