//! The dependency graph of a plan: `dependsOn` entries (names, copy loop names, symbolic
//! names, `type/name` forms, resource ids), parents, serial copy batches, and the implicit
//! dependency of a body on the resources it `reference()`s or `list*()`s.

use serde_json::Value;

use super::Builder;
use crate::deploy::expr::{self, Expr};
use crate::deploy::graph::Graph;
use crate::deploy::scope::normalize_id;
use crate::deploy::template::TemplateError;

impl Builder<'_> {
    /// The instances a `dependsOn` entry names.
    fn resolve(&self, dep: &str) -> Vec<usize> {
        let lower = dep.trim().to_ascii_lowercase();
        let key = normalize_id(dep);
        (0..self.instances.len())
            .filter(|i| {
                let inst = &self.instances[*i];
                if dep.starts_with('/') {
                    return inst.key == key;
                }
                inst.loop_name
                    .as_deref()
                    .is_some_and(|l| l.eq_ignore_ascii_case(&lower))
                    || inst.symbolic.as_deref().is_some_and(|s| s == dep)
                    || inst.name.eq_ignore_ascii_case(&lower)
                    || inst.interleaved() == lower
                    || format!("{}/{}", inst.type_name, inst.name).eq_ignore_ascii_case(&lower)
            })
            .collect()
    }

    pub(super) fn dependencies(&self) -> Result<Graph, TemplateError> {
        let mut graph = Graph::new(self.instances.len());
        for (later, earlier) in &self.serial {
            graph.depend(*later, *earlier);
        }
        for (i, inst) in self.instances.iter().enumerate() {
            if let Some(p) = inst.parent {
                graph.depend(i, p);
            }
            let deps = inst.raw.get("dependsOn").cloned().unwrap_or(Value::Null);
            let deps = match deps {
                Value::Null => Vec::new(),
                Value::Array(a) => a,
                other => vec![other],
            };
            for (k, d) in deps.iter().enumerate() {
                let at = format!("{}.dependsOn[{k}]", inst.path);
                let dep = self.string(d, &at, &inst.name, &inst.frames)?;
                let targets = self.resolve(&dep);
                if targets.is_empty() {
                    return Err(TemplateError(format!(
                        "The resource '{dep}' is not defined in the template (named by '{at}'). Please see https://aka.ms/arm-syntax for usage details."
                    )));
                }
                for t in targets {
                    graph.depend(i, t);
                }
            }
            // Implicit: resources the body reads with reference() / list*().
            for arg in referenced(&inst.body_source()) {
                let target = self.scope.with_frames(&inst.frames, || {
                    self.scope
                        .without_reference(|| expr::evaluate(&arg, self.scope))
                });
                if let Ok(Value::String(s)) = target
                    && let Ok(key) = self.scope.resolve_reference(&s)
                {
                    for (t, other) in self.instances.iter().enumerate() {
                        if other.key == key {
                            graph.depend(i, t);
                        }
                    }
                }
            }
        }
        Ok(graph)
    }
}

/// The first arguments of every `reference(...)` and `list*(...)` call in a template value.
pub fn referenced(v: &Value) -> Vec<Expr> {
    fn walk(e: &Expr, out: &mut Vec<Expr>) {
        match e {
            Expr::Call { name, args } => {
                let lower = name.to_ascii_lowercase();
                if (lower == "reference" || (lower.starts_with("list") && lower.len() > 4))
                    && !args.is_empty()
                {
                    out.push(args[0].clone());
                }
                for a in args {
                    walk(a, out);
                }
            }
            Expr::Property { target, .. } => walk(target, out),
            Expr::Index { target, index } => {
                walk(target, out);
                walk(index, out);
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    match v {
        Value::String(s) if expr::is_expression(s) => {
            if let Ok(e) = expr::parse(&s[1..s.len() - 1]) {
                walk(&e, &mut out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| out.extend(referenced(i))),
        Value::Object(map) => map.values().for_each(|i| out.extend(referenced(i))),
        _ => {}
    }
    out
}
