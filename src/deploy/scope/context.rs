//! The scope as the expression language sees it: the [`EvalContext`] implementation.

use serde_json::{Value, json};

use super::{DEFERRED, FETCH, Failure, ListCall, ListFailure, Mode, Scope};
use crate::deploy::expr::{EvalContext, ExprError};
use crate::deploy::value::get_property;

impl EvalContext for Scope {
    fn parameter(&self, name: &str) -> Result<Value, ExprError> {
        if let Some(v) = self.bound(name) {
            return Ok(v);
        }
        let def = {
            let p = self.params.lock().expect("params lock");
            p.defs
                .iter()
                .find(|d| d.name.eq_ignore_ascii_case(name))
                .cloned()
        };
        match def {
            Some(def) => self.bind(&def).map_err(|e| ExprError::Other(e.0)),
            None => Err(ExprError::ParameterNotFound(name.to_string())),
        }
    }

    fn variable(&self, name: &str) -> Result<Value, ExprError> {
        if !self.vars.lock().expect("vars lock").contains(name) {
            return Err(ExprError::VariableNotFound(name.to_string()));
        }
        match self.variable_value(name) {
            Ok(v) => Ok(v),
            Err(Failure::Invalid { path, message }) => Err(ExprError::Other(format!(
                "The template variable '{name}' at '{path}' is not valid: {message}"
            ))),
            Err(other) => Err(ExprError::Other(format!("{other:?}"))),
        }
    }

    fn reference(
        &self,
        name_or_id: &str,
        api_version: Option<&str>,
        full: bool,
    ) -> Result<Value, ExprError> {
        if self.state.lock().expect("state lock").no_reference > 0 {
            return Err(ExprError::function(
                "reference",
                "is not expected at this location. It can only be used in the properties of a resource, a resource condition, or an output.",
            ));
        }
        let key = self
            .resolve_reference(name_or_id)
            .map_err(ExprError::Other)?;
        if self.mode() == Mode::Preflight {
            self.enter(|s| s.deferred += 1);
            return Err(ExprError::Other(DEFERRED.into()));
        }
        let what_if = self.what_if();
        let mut refs = self.refs.lock().expect("refs lock");
        match refs.docs.get(&key) {
            Some(Ok(doc)) => Ok(shape_reference(doc, api_version, full)),
            // What-if: a resource that does not exist yet has no state to read.
            Some(Err(_)) if what_if => {
                drop(refs);
                self.enter(|s| s.deferred += 1);
                Err(ExprError::Other(DEFERRED.into()))
            }
            Some(Err(message)) => Err(ExprError::Other(message.clone())),
            None => {
                refs.missing.push(key);
                drop(refs);
                self.enter(|s| s.fetches += 1);
                Err(ExprError::Other(FETCH.into()))
            }
        }
    }

    fn list(
        &self,
        function: &str,
        resource_id: &str,
        api_version: &str,
        body: Option<&Value>,
    ) -> Result<Value, ExprError> {
        if self.state.lock().expect("state lock").no_reference > 0 {
            return Err(ExprError::function(
                function,
                "is not expected at this location. It can only be used in the properties of a resource, a resource condition, or an output.",
            ));
        }
        let id = self
            .resolve_list_target(resource_id)
            .map_err(ExprError::Other)?;
        if self.mode() == Mode::Preflight {
            self.enter(|s| s.deferred += 1);
            return Err(ExprError::Other(DEFERRED.into()));
        }
        let call = ListCall {
            function: function.to_string(),
            id,
            api_version: api_version.to_string(),
            body: body.map(Value::to_string),
        };
        let what_if = self.what_if();
        let mut refs = self.refs.lock().expect("refs lock");
        match refs.lists.get(&call) {
            Some(Ok(v)) => Ok(v.clone()),
            Some(Err(ListFailure::Missing(_))) if what_if => {
                drop(refs);
                self.enter(|s| s.deferred += 1);
                Err(ExprError::Other(DEFERRED.into()))
            }
            Some(Err(ListFailure::Missing(m) | ListFailure::Invalid(m))) => {
                Err(ExprError::Other(m.clone()))
            }
            None => {
                refs.missing_lists.push(call);
                drop(refs);
                self.enter(|s| s.fetches += 1);
                Err(ExprError::Other(FETCH.into()))
            }
        }
    }

    fn subscription(&self) -> Value {
        self.info.subscription.clone()
    }

    fn resource_group(&self) -> Value {
        self.info.resource_group.clone()
    }

    fn deployment(&self) -> Value {
        self.info.deployment.clone()
    }

    fn environment(&self) -> Value {
        self.info.environment.clone()
    }

    fn providers(&self, namespace: &str, resource_type: Option<&str>) -> Result<Value, ExprError> {
        let provider = self
            .info
            .providers
            .iter()
            .find(|p| {
                p["namespace"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(namespace))
            })
            .ok_or_else(|| {
                ExprError::function(
                    "providers",
                    format!(
                        "failed: the resource provider namespace '{namespace}' is not registered."
                    ),
                )
            })?;
        let Some(ty) = resource_type else {
            return Ok(provider.clone());
        };
        provider["resourceTypes"]
            .as_array()
            .and_then(|types| {
                types.iter().find(|t| t["resourceType"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(ty)))
            })
            .cloned()
            .ok_or_else(|| {
                ExprError::function(
                    "providers",
                    format!("failed: the resource type '{ty}' could not be found in the namespace '{namespace}'."),
                )
            })
    }

    fn copy_index(&self, loop_name: Option<&str>) -> Result<i64, ExprError> {
        let frames = self.frames.lock().expect("frames lock");
        let frame = match loop_name {
            Some(name) => frames
                .iter()
                .rev()
                .find(|f| f.name.eq_ignore_ascii_case(name)),
            None => frames.iter().rev().find(|f| !f.property).or(frames.last()),
        };
        match (frame, loop_name) {
            (Some(f), _) => Ok(f.index),
            (None, Some(name)) => Err(ExprError::function(
                "copyIndex",
                format!("failed: the copy loop '{name}' is not in scope here."),
            )),
            (None, None) => Err(ExprError::function(
                "copyIndex",
                "is not expected at this location. The function can only be used in a resource, property, variable or output with copy specified.",
            )),
        }
    }

    fn allow_nondeterministic(&self) -> bool {
        self.state.lock().expect("state lock").in_defaults > 0
    }
}

/// What `reference()` returns for a loaded document: its `properties`, or with `'Full'` the
/// whole resource (plus `apiVersion`).
fn shape_reference(doc: &Value, api_version: Option<&str>, full: bool) -> Value {
    if full {
        let mut d = doc.clone();
        if let (Some(v), Some(o)) = (api_version, d.as_object_mut()) {
            o.insert("apiVersion".into(), json!(v));
        }
        return d;
    }
    match doc.as_object().and_then(|o| get_property(o, "properties")) {
        Some(p) => p.clone(),
        None => json!({}),
    }
}
