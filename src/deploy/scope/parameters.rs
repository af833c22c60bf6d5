//! Binding a template's parameters: supplied values (no unknown names), else defaults
//! evaluated in order (where `utcNow()` and `newGuid()` are allowed), each coerced to its
//! declared type and checked against its constraints; and the redacted view ARM shows.

use serde_json::{Map, Value, json};

use super::Scope;
use crate::deploy::template::{ParamDef, ParamType, TemplateError};

impl Scope {
    /// Binds every parameter: supplied values, else defaults; coerced and checked.
    pub fn bind_parameters(&self) -> Result<(), TemplateError> {
        let (defs, supplied) = {
            let p = self.params.lock().expect("params lock");
            (p.defs.clone(), p.supplied.clone())
        };
        let unknown: Vec<&str> = supplied
            .keys()
            .filter(|k| !defs.iter().any(|d| d.name.eq_ignore_ascii_case(k)))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            let known: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
            return Err(TemplateError(format!(
                "The template parameters '{}' in the parameters file are not valid; they are not present in the original template and can therefore not be provided at deployment time. The only supported parameters for this template are '{}'. Please see https://aka.ms/arm-pass-parameter-values for usage details.",
                unknown.join(", "),
                known.join(", ")
            )));
        }
        for def in &defs {
            if self.bound(&def.name).is_none() {
                self.bind(def)?;
            }
        }
        Ok(())
    }

    pub(super) fn bound(&self, name: &str) -> Option<Value> {
        let p = self.params.lock().expect("params lock");
        p.bound
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, _, v)| v.clone())
    }

    pub(super) fn bind(&self, def: &ParamDef) -> Result<Value, TemplateError> {
        let key = def.name.to_ascii_lowercase();
        let supplied = {
            let mut p = self.params.lock().expect("params lock");
            if !p.binding.insert(key.clone()) {
                return Err(TemplateError(format!(
                    "The template parameter '{}' is referenced circularly by its own default value.",
                    def.name
                )));
            }
            p.supplied
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&def.name))
                .map(|(_, v)| v.clone())
        };
        let result = match (supplied, &def.default) {
            (Some(v), _) => def.accept(v),
            (None, Some(default)) => {
                self.enter(|s| s.in_defaults += 1);
                let path = format!("parameters.{}.defaultValue", def.name);
                let v = self.eval(default, &path, false);
                self.enter(|s| s.in_defaults -= 1);
                v.map_err(|f| f.into_template_error("parameter", &def.name))
                    .and_then(|v| def.accept(v))
            }
            (None, None) => Err(TemplateError(format!(
                "The value for the template parameter '{}' at 'parameters.{}' is not provided. Please see https://aka.ms/arm-create-parameter-file for usage details.",
                def.name, def.name
            ))),
        };
        let mut p = self.params.lock().expect("params lock");
        p.binding.remove(&key);
        if let Ok(v) = &result {
            p.bound.push((def.name.clone(), def.ty, v.clone()));
        }
        result
    }

    /// `(name, type, value)` of every bound parameter.
    pub fn bound_parameters(&self) -> Vec<(String, ParamType, Value)> {
        self.params.lock().expect("params lock").bound.clone()
    }

    /// The deployment's `properties.parameters` as ARM shows them: secure values left out.
    pub fn parameters_view(&self) -> Value {
        let mut out = Map::new();
        for (name, ty, value) in self.bound_parameters() {
            let mut entry = json!({"type": ty.display()});
            if !ty.is_secure() {
                entry["value"] = value;
            }
            out.insert(name, entry);
        }
        Value::Object(out)
    }
}
