//! Evaluating template values in a scope: every string expression, `[[` escapes, and
//! property `copy` loops, with failures located by JSON path
//! (`resources[1].properties.frontendIPConfigurations[0].name`).

use serde_json::{Map, Value};

use super::{Failure, Frame, Scope};
use crate::deploy::expr::{self, ExprError};
use crate::deploy::template::ParamType;

impl Scope {
    /// Evaluates a template value: expressions, `[[` escapes, property `copy` loops.
    /// `lenient`: a string needing deployed state is kept as is (preflight).
    pub fn eval(&self, v: &Value, path: &str, lenient: bool) -> Result<Value, Failure> {
        match v {
            Value::String(s) if expr::is_expression(s) => self.eval_string(s, path, lenient),
            Value::String(s) => expr::eval_str(s, self).map_err(|e| invalid(path, e)),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| self.eval(item, &format!("{path}[{i}]"), lenient))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Object(map) => {
                let loops = property_loops(map);
                let mut out = Map::new();
                for (k, item) in map {
                    if k == "copy" && loops.is_some() {
                        continue;
                    }
                    out.insert(k.clone(), self.eval(item, &join(path, k), lenient)?);
                }
                for (i, spec) in loops.unwrap_or_default().iter().enumerate() {
                    let at = format!("{}[{i}]", join(path, "copy"));
                    let name = self.eval(&spec["name"], &format!("{at}.name"), false)?;
                    let Some(name) = name.as_str().map(str::to_string) else {
                        return Err(Failure::Invalid {
                            path: format!("{at}.name"),
                            message: "The copy name must be a string".into(),
                        });
                    };
                    let count = spec.get("count").unwrap_or(&Value::Null);
                    let items = self.copy_items(&name, count, &spec["input"], &at);
                    match items {
                        Ok(items) => out.insert(name, Value::Array(items)),
                        Err(Failure::Deferred) if lenient => return Ok(v.clone()),
                        Err(e) => return Err(e),
                    };
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    fn eval_string(&self, s: &str, path: &str, lenient: bool) -> Result<Value, Failure> {
        let (deferred, fetches) = {
            let st = self.state.lock().expect("state lock");
            (st.deferred, st.fetches)
        };
        match expr::eval_str(s, self) {
            Ok(v) => Ok(v),
            Err(e) => {
                let st = self.state.lock().expect("state lock");
                if st.fetches > fetches {
                    Err(Failure::Fetch)
                } else if st.deferred > deferred {
                    if lenient {
                        Ok(Value::String(s.to_string()))
                    } else {
                        Err(Failure::Deferred)
                    }
                } else {
                    Err(invalid(path, e))
                }
            }
        }
    }

    /// A copy loop's items: `input` evaluated `count` times with the loop `name` active.
    pub fn copy_items(
        &self,
        name: &str,
        count: &Value,
        input: &Value,
        path: &str,
    ) -> Result<Vec<Value>, Failure> {
        let n = self.copy_count(count, &format!("{path}.count"))?;
        let mut items = Vec::with_capacity(n as usize);
        for i in 0..n {
            self.frames.lock().expect("frames lock").push(Frame {
                name: name.to_string(),
                index: i,
                property: true,
            });
            let item = self.eval(input, &format!("{path}.input"), false);
            self.frames.lock().expect("frames lock").pop();
            items.push(item?);
        }
        Ok(items)
    }

    /// A copy `count`: an integer from 0 to 800.
    pub fn copy_count(&self, count: &Value, path: &str) -> Result<i64, Failure> {
        let v = self.without_reference(|| self.eval(count, path, false))?;
        ParamType::Int
            .coerce(v)
            .ok()
            .and_then(|v| v.as_i64())
            .filter(|n| (0..=800).contains(n))
            .ok_or_else(|| Failure::Invalid {
                path: path.to_string(),
                message: "The copy count must be an integer from 0 to 800".into(),
            })
    }
}

/// A property `copy` section: `[{"name", "count", "input"}, ...]`.
fn property_loops(map: &Map<String, Value>) -> Option<Vec<Value>> {
    match map.get("copy") {
        Some(Value::Array(specs))
            if !specs.is_empty()
                && specs
                    .iter()
                    .all(|s| s.get("name").is_some() && s.get("input").is_some()) =>
        {
            Some(specs.clone())
        }
        _ => None,
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn invalid(path: &str, e: ExprError) -> Failure {
    Failure::Invalid {
        path: path.to_string(),
        message: e.to_string(),
    }
}
