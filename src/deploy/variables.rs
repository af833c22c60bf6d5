//! The template's `variables`: their sources (plain values, and the arrays a top-level
//! `copy` section defines), evaluated lazily and at most once, with circular references
//! reported instead of recursing forever. Evaluation itself is done by the scope.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::template::TemplateError;

/// How a variable's value is produced.
#[derive(Debug, Clone)]
pub enum VarSource {
    Plain(Value),
    /// From `"copy": [{"name", "count", "input"}]`: `input` evaluated `count` times.
    Copy {
        count: Value,
        input: Value,
    },
}

#[derive(Debug, Clone, Default)]
pub struct Variables {
    /// Canonical names in template order.
    order: Vec<String>,
    /// By lower-case name: canonical name and source.
    sources: HashMap<String, (String, VarSource)>,
    memo: HashMap<String, Value>,
    in_progress: HashSet<String>,
}

impl Variables {
    pub fn parse(section: &Map<String, Value>) -> Result<Self, TemplateError> {
        let mut vars = Variables::default();
        for (name, v) in section {
            if name == "copy" && v.is_array() {
                for (i, spec) in v.as_array().into_iter().flatten().enumerate() {
                    let bad = || {
                        TemplateError(format!(
                            "The template variable copy at 'variables.copy[{i}]' is not valid: it must be an object with 'name', 'count' and 'input'."
                        ))
                    };
                    let name = spec.get("name").and_then(Value::as_str).ok_or_else(bad)?;
                    let (Some(count), Some(input)) = (spec.get("count"), spec.get("input")) else {
                        return Err(bad());
                    };
                    vars.add(
                        name,
                        VarSource::Copy {
                            count: count.clone(),
                            input: input.clone(),
                        },
                    )?;
                }
            } else {
                vars.add(name, VarSource::Plain(v.clone()))?;
            }
        }
        Ok(vars)
    }

    fn add(&mut self, name: &str, source: VarSource) -> Result<(), TemplateError> {
        let key = name.to_ascii_lowercase();
        if self.sources.contains_key(&key) {
            return Err(TemplateError(format!(
                "The template variable '{name}' is defined more than once."
            )));
        }
        self.order.push(name.to_string());
        self.sources.insert(key, (name.to_string(), source));
        Ok(())
    }

    pub fn names(&self) -> Vec<String> {
        self.order.clone()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.sources.contains_key(&name.to_ascii_lowercase())
    }

    /// `Ok(Ok(value))` when already evaluated; `Ok(Err((name, source)))` when the caller
    /// must evaluate it now (and then call [`Variables::finish`]); `Err` on a cycle.
    #[allow(clippy::type_complexity)]
    pub fn start(&mut self, name: &str) -> Result<Result<Value, (String, VarSource)>, String> {
        let key = name.to_ascii_lowercase();
        if let Some(v) = self.memo.get(&key) {
            return Ok(Ok(v.clone()));
        }
        let Some((canonical, source)) = self.sources.get(&key).cloned() else {
            return Err(format!("The template variable '{name}' is not found."));
        };
        if !self.in_progress.insert(key) {
            return Err(format!(
                "The template variable '{canonical}' is circularly referenced by its own value."
            ));
        }
        Ok(Err((canonical, source)))
    }

    pub fn finish(&mut self, name: &str, value: Option<&Value>) {
        let key = name.to_ascii_lowercase();
        self.in_progress.remove(&key);
        if let Some(v) = value {
            self.memo.insert(key, v.clone());
        }
    }
}
