//! Array and object template functions (several also accept strings):
//! `concat`, `length`, `contains`, `empty`, `first`/`last`, `skip`/`take`,
//! `range`, `union`, `intersection`, `createArray`, `createObject`,
//! `coalesce`, `array`, `items`, `objectKeys` and `flatten`.

use serde_json::{Map, Value};

use super::{Call, Handler};
use crate::deploy::expr::ExprError;
use crate::deploy::value::{eq_ignore_case, json_equals, to_arm_string, type_name};

/// ARM's limit on the number of elements `range` may produce.
const MAX_RANGE: i64 = 10_000;

pub(super) const FUNCTIONS: &[(&str, Handler)] = &[
    ("concat", concat),
    ("length", length),
    ("contains", contains),
    ("empty", empty),
    ("first", |c| first_last(c, false)),
    ("last", |c| first_last(c, true)),
    ("skip", |c| skip_take(c, true)),
    ("take", |c| skip_take(c, false)),
    ("range", range),
    ("union", union),
    ("intersection", intersection),
    ("createArray", |c| Ok(Value::Array(c.args.clone()))),
    ("createObject", create_object),
    ("coalesce", |c| {
        c.arity(1, None)?;
        Ok(c.args
            .iter()
            .find(|v| !v.is_null())
            .cloned()
            .unwrap_or(Value::Null))
    }),
    ("array", |c| {
        c.exact(1)?;
        Ok(match &c.args[0] {
            Value::Array(_) => c.args[0].clone(),
            other => Value::Array(vec![other.clone()]),
        })
    }),
    ("items", items),
    ("objectKeys", |c| {
        c.exact(1)?;
        Ok(c.object(0)?.keys().cloned().map(Value::String).collect())
    }),
    ("flatten", flatten),
];

/// `concat(...)`: all arrays → one array; otherwise strings (integers,
/// booleans and null are converted) → one string.
fn concat(c: &Call) -> Result<Value, ExprError> {
    c.arity(1, None)?;
    if c.args[0].is_array() {
        let mut result = Vec::new();
        for i in 0..c.args.len() {
            result.extend(c.array(i)?.iter().cloned());
        }
        return Ok(Value::Array(result));
    }
    let mut result = String::new();
    for (i, arg) in c.args.iter().enumerate() {
        match arg {
            Value::Array(_) | Value::Object(_) => return Err(c.type_error(i, "String")),
            other => result.push_str(&to_arm_string(other)),
        }
    }
    Ok(Value::String(result))
}

/// `length(arg)`: characters of a string, elements of an array, or
/// properties of an object.
fn length(c: &Call) -> Result<Value, ExprError> {
    c.exact(1)?;
    let n = match &c.args[0] {
        Value::String(s) => s.chars().count(),
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        _ => return Err(c.type_error(0, "String, Array or Object")),
    };
    Ok(Value::from(n as i64))
}

/// `contains(container, itemToFind)`: substring (case-sensitive), array
/// element (deep equality) or object key (case-insensitive), as in ARM.
fn contains(c: &Call) -> Result<Value, ExprError> {
    c.exact(2)?;
    let item = &c.args[1];
    let scalar = || match item {
        Value::Array(_) | Value::Object(_) => Err(c.type_error(1, "String")),
        other => Ok(to_arm_string(other)),
    };
    let found = match &c.args[0] {
        Value::String(s) => s.contains(&scalar()?),
        Value::Array(items) => items.iter().any(|v| json_equals(v, item)),
        Value::Object(map) => {
            let key = scalar()?;
            map.keys().any(|k| eq_ignore_case(k, &key))
        }
        _ => return Err(c.type_error(0, "String, Array or Object")),
    };
    Ok(Value::Bool(found))
}

/// `empty(itemToTest)`: null, or an empty string/array/object.
fn empty(c: &Call) -> Result<Value, ExprError> {
    c.exact(1)?;
    let is_empty = match &c.args[0] {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => return Err(c.type_error(0, "String, Array or Object")),
    };
    Ok(Value::Bool(is_empty))
}

/// `first` / `last` of an array (null when empty) or a string ("" when empty).
fn first_last(c: &Call, last: bool) -> Result<Value, ExprError> {
    c.exact(1)?;
    match &c.args[0] {
        Value::Array(items) => {
            let item = if last { items.last() } else { items.first() };
            Ok(item.cloned().unwrap_or(Value::Null))
        }
        Value::String(s) => {
            let ch = if last {
                s.chars().last()
            } else {
                s.chars().next()
            };
            Ok(Value::String(ch.map(String::from).unwrap_or_default()))
        }
        _ => Err(c.type_error(0, "Array or String")),
    }
}

/// `skip(original, n)` / `take(original, n)` over an array or a string;
/// `n` is clamped to the valid range.
fn skip_take(c: &Call, skip: bool) -> Result<Value, ExprError> {
    c.exact(2)?;
    let n = c.int(1)?.max(0) as usize;
    let pick = |len: usize| {
        let n = n.min(len);
        if skip { n..len } else { 0..n }
    };
    match &c.args[0] {
        Value::Array(items) => Ok(Value::Array(items[pick(items.len())].to_vec())),
        Value::String(s) => {
            let chars: Vec<char> = s.chars().collect();
            Ok(Value::String(chars[pick(chars.len())].iter().collect()))
        }
        _ => Err(c.type_error(0, "Array or String")),
    }
}

/// `range(startIndex, count)`
fn range(c: &Call) -> Result<Value, ExprError> {
    c.exact(2)?;
    let (start, count) = (c.int(0)?, c.int(1)?);
    if !(0..=MAX_RANGE).contains(&count) {
        return Err(c.error(format!(
            "expects a count between 0 and {MAX_RANGE}, but was given {count}."
        )));
    }
    if start.saturating_add(count) > i64::from(i32::MAX) {
        return Err(
            c.error("expects the sum of the start index and count to be at most 2147483647.")
        );
    }
    Ok((start..start + count).map(Value::from).collect())
}

/// Checks that every argument is an array or that every one is an object.
fn all_arrays_or_objects(c: &Call) -> Result<bool, ExprError> {
    let arrays = c.args[0].is_array();
    for (i, arg) in c.args.iter().enumerate() {
        if !(arg.is_array() && arrays || arg.is_object() && !arrays) {
            return Err(c.error(format!(
                "expects all arguments to be arrays or all to be objects, but argument {} is of type '{}'.",
                i + 1,
                type_name(arg)
            )));
        }
    }
    Ok(arrays)
}

/// `union(...)`: arrays → distinct elements in order of appearance; objects →
/// merged, later values winning, nested objects merged recursively.
fn union(c: &Call) -> Result<Value, ExprError> {
    c.arity(2, None)?;
    if all_arrays_or_objects(c)? {
        let mut result: Vec<Value> = Vec::new();
        for item in c
            .args
            .iter()
            .flat_map(|a| a.as_array().into_iter().flatten())
        {
            if !result.iter().any(|r| json_equals(r, item)) {
                result.push(item.clone());
            }
        }
        Ok(Value::Array(result))
    } else {
        let mut result = Map::new();
        for object in c.args.iter().filter_map(Value::as_object) {
            merge_into(&mut result, object);
        }
        Ok(Value::Object(result))
    }
}

fn merge_into(target: &mut Map<String, Value>, source: &Map<String, Value>) {
    for (key, value) in source {
        match (target.get_mut(key), value) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => {
                merge_into(existing, incoming)
            }
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

/// `intersection(...)`: arrays → distinct elements present in every array;
/// objects → properties with equal values in every object.
fn intersection(c: &Call) -> Result<Value, ExprError> {
    c.arity(2, None)?;
    let rest = &c.args[1..];
    if all_arrays_or_objects(c)? {
        let in_all = |item: &Value| {
            rest.iter()
                .filter_map(Value::as_array)
                .all(|a| a.iter().any(|v| json_equals(v, item)))
        };
        let mut result: Vec<Value> = Vec::new();
        for item in c.array(0)? {
            if in_all(item) && !result.iter().any(|r| json_equals(r, item)) {
                result.push(item.clone());
            }
        }
        Ok(Value::Array(result))
    } else {
        let result = c
            .object(0)?
            .iter()
            .filter(|(key, value)| {
                rest.iter()
                    .filter_map(Value::as_object)
                    .all(|o| o.get(*key).is_some_and(|v| json_equals(v, value)))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Value::Object(result))
    }
}

/// `createObject(key1, value1, key2, value2, ...)`
fn create_object(c: &Call) -> Result<Value, ExprError> {
    if !c.args.len().is_multiple_of(2) {
        return Err(c.error(format!(
            "expects an even number of arguments (key/value pairs), but was given {}.",
            c.args.len()
        )));
    }
    let mut object = Map::new();
    for i in (0..c.args.len()).step_by(2) {
        object.insert(c.string(i)?.to_string(), c.args[i + 1].clone());
    }
    Ok(Value::Object(object))
}

/// `items(object)`: `[{key, value}, ...]` sorted by key.
fn items(c: &Call) -> Result<Value, ExprError> {
    c.exact(1)?;
    let mut entries: Vec<(&String, &Value)> = c.object(0)?.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    Ok(entries
        .into_iter()
        .map(|(key, value)| serde_json::json!({"key": key, "value": value}))
        .collect())
}

/// `flatten(arrayOfArrays)`
fn flatten(c: &Call) -> Result<Value, ExprError> {
    c.exact(1)?;
    let mut result = Vec::new();
    for item in c.array(0)? {
        match item {
            Value::Array(inner) => result.extend(inner.iter().cloned()),
            other => {
                return Err(c.error(format!(
                    "expects an array of arrays, but found an element of type '{}'.",
                    type_name(other)
                )));
            }
        }
    }
    Ok(Value::Array(result))
}

#[cfg(test)]
mod tests {
    use crate::deploy::test_support::{run, run_err};
    use serde_json::json;

    #[test]
    fn concat_strings_and_arrays() {
        assert_eq!(run("concat('a', 'b', 1, true())"), json!("ab1True"));
        assert_eq!(
            run("concat(createArray(1), createArray(2, 3), createArray())"),
            json!([1, 2, 3])
        );
        assert_eq!(
            run("concat(parameters('list'), createArray('d'))[3]"),
            json!("d")
        );
        assert!(
            run_err("concat()").contains("'concat' expects at least 1 argument, but was given 0.")
        );
        assert!(run_err("concat('a', createArray())").contains(
            "'concat' expects argument 2 to be of type 'String', but it is of type 'Array'."
        ));
        assert!(run_err("concat(createArray(), 'a')").contains("argument 2 to be of type 'Array'"));
    }

    #[test]
    fn length_contains_empty() {
        assert_eq!(run("length('héllo')"), json!(5));
        assert_eq!(run("length(parameters('list'))"), json!(3));
        assert_eq!(run("length(parameters('tags'))"), json!(2));
        assert!(
            run_err("length(1)")
                .contains("'length' expects argument 1 to be of type 'String, Array or Object'")
        );
        assert_eq!(run("contains('OneTwo', 'Two')"), json!(true));
        assert_eq!(run("contains('OneTwo', 'two')"), json!(false));
        assert_eq!(run("contains(parameters('list'), 'b')"), json!(true));
        assert_eq!(run("contains(parameters('list'), 'B')"), json!(false));
        assert_eq!(run("contains(parameters('tags'), 'ENV')"), json!(true));
        assert_eq!(run("contains(parameters('tags'), 'x')"), json!(false));
        assert_eq!(run("contains('a1', 1)"), json!(true));
        assert!(run_err("contains(1, 1)").contains("'contains' expects argument 1"));
        assert_eq!(run("empty('')"), json!(true));
        assert_eq!(run("empty(createArray())"), json!(true));
        assert_eq!(run("empty(json('{}'))"), json!(true));
        assert_eq!(run("empty(null())"), json!(true));
        assert_eq!(run("empty(parameters('list'))"), json!(false));
        assert!(run_err("empty(0)").contains("'empty' expects argument 1"));
    }

    #[test]
    fn first_last_skip_take() {
        assert_eq!(run("first(parameters('list'))"), json!("a"));
        assert_eq!(run("last(parameters('list'))"), json!("c"));
        assert_eq!(run("first('xyz')"), json!("x"));
        assert_eq!(run("last('xyz')"), json!("z"));
        assert_eq!(run("first(createArray())"), json!(null));
        assert_eq!(run("last('')"), json!(""));
        assert!(run_err("first(1)").contains("'first'"));
        assert_eq!(run("skip(parameters('list'), 1)"), json!(["b", "c"]));
        assert_eq!(run("skip('abcdef', 4)"), json!("ef"));
        assert_eq!(run("skip('abc', 10)"), json!(""));
        assert_eq!(run("skip(parameters('list'), -1)"), json!(["a", "b", "c"]));
        assert_eq!(run("take(parameters('list'), 2)"), json!(["a", "b"]));
        assert_eq!(run("take('abc', 10)"), json!("abc"));
        assert_eq!(run("take('abc', -2)"), json!(""));
        assert!(
            run_err("take(json('{}'), 1)")
                .contains("'take' expects argument 1 to be of type 'Array or String'")
        );
        assert!(run_err("skip('abc', '1')").contains("argument 2"));
    }

    #[test]
    fn range_limits() {
        assert_eq!(run("range(1, 3)"), json!([1, 2, 3]));
        assert_eq!(run("range(-1, 2)"), json!([-1, 0]));
        assert_eq!(run("range(5, 0)"), json!([]));
        assert!(run_err("range(0, -1)").contains("count between 0 and 10000"));
        assert!(run_err("range(0, 10001)").contains("count between 0 and 10000"));
        assert!(run_err("range(2147483647, 1)").contains("at most 2147483647"));
    }

    #[test]
    fn union_and_intersection() {
        assert_eq!(
            run("union(createArray(1, 2, 2), createArray(2, 3))"),
            json!([1, 2, 3])
        );
        assert_eq!(
            run(
                "union(json('{\"a\": 1, \"n\": {\"x\": 1, \"y\": 1}, \"l\": [1]}'), json('{\"b\": 2, \"n\": {\"y\": 2}, \"l\": [2]}'))"
            ),
            json!({"a": 1, "b": 2, "n": {"x": 1, "y": 2}, "l": [2]})
        );
        assert!(
            run_err("union(createArray(), json('{}'))").contains("argument 2 is of type 'Object'")
        );
        assert!(run_err("union(createArray())").contains("at least 2 arguments"));
        assert_eq!(
            run("intersection(createArray(1, 2, 3, 2), createArray(2, 3, 4), createArray(3, 2))"),
            json!([2, 3])
        );
        assert_eq!(
            run(
                "intersection(json('{\"a\": 1, \"b\": 2, \"c\": 3}'), json('{\"a\": 1, \"b\": 5, \"c\": 3}'))"
            ),
            json!({"a": 1, "c": 3})
        );
        assert!(run_err("intersection('a', 'b')").contains("all to be objects"));
    }

    #[test]
    fn constructors() {
        assert_eq!(run("createArray()"), json!([]));
        assert_eq!(
            run("createArray(1, 'a', createArray())"),
            json!([1, "a", []])
        );
        assert_eq!(
            run("createObject('a', 1, 'b', createArray())"),
            json!({"a": 1, "b": []})
        );
        assert_eq!(run("createObject()"), json!({}));
        assert!(run_err("createObject('a')").contains("even number of arguments"));
        assert!(
            run_err("createObject(1, 2)")
                .contains("'createObject' expects argument 1 to be of type 'String'")
        );
        assert_eq!(run("array('x')"), json!(["x"]));
        assert_eq!(run("array(createArray(1))"), json!([1]));
        assert_eq!(run("array(json('{\"a\": 1}'))"), json!([{"a": 1}]));
    }

    #[test]
    fn coalesce_items_keys_flatten() {
        assert_eq!(run("coalesce(null(), null(), 'x', 'y')"), json!("x"));
        assert_eq!(run("coalesce(null())"), json!(null));
        assert!(run_err("coalesce()").contains("at least 1 argument"));
        assert_eq!(
            run("items(json('{\"b\": 2, \"a\": 1}'))"),
            json!([{"key": "a", "value": 1}, {"key": "b", "value": 2}])
        );
        assert!(
            run_err("items(createArray())")
                .contains("'items' expects argument 1 to be of type 'Object'")
        );
        assert_eq!(run("length(objectKeys(parameters('tags')))"), json!(2));
        assert_eq!(
            run("flatten(createArray(createArray(1), createArray(2, 3)))"),
            json!([1, 2, 3])
        );
        assert!(run_err("flatten(createArray(1))").contains("array of arrays"));
    }
}
