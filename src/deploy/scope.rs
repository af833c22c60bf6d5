//! The evaluation scope of one deployment: the [`EvalContext`] the expression language
//! calls back into. It holds the bound parameters, the variables (evaluated lazily, once),
//! the copy-loop frames in effect, what `subscription()`/`resourceGroup()`/`deployment()`
//! return, and the resources `reference()` can see.
//!
//! `reference()` never does I/O: the engine evaluates, and when a reference names a
//! resource whose state is not loaded yet the evaluation fails with [`Failure::Fetch`]; the
//! engine loads what [`Scope::take_missing`] lists and evaluates again. In preflight (before
//! anything is deployed) runtime functions are *deferred* instead: the string is kept as is
//! and checked again when the resource is deployed.
//!
//! Interior state sits behind `Mutex`es only so the scope can be held across `.await`s of
//! the engine; evaluation itself is single-threaded and never holds a lock while calling out.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use serde_json::{Map, Value, json};

use super::expr::{self, EvalContext, ExprError};
use super::template::{ParamDef, ParamType, Template, TemplateError};
use super::value::get_property;
use super::variables::{VarSource, Variables};

/// Why an evaluation did not produce a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// A real error, at a JSON path of the template.
    Invalid { path: String, message: String },
    /// Needs deployed state (preflight only).
    Deferred,
    /// Needs resources loaded first: see [`Scope::take_missing`].
    Fetch,
}

impl Failure {
    /// The error as ARM words it for a template item (`resource`, `output`, ...).
    pub fn into_template_error(self, what: &str, name: &str) -> TemplateError {
        match self {
            Failure::Invalid { path, message } => TemplateError::at(what, name, &path, message),
            other => TemplateError(format!("internal evaluation state {other:?}")),
        }
    }
}

/// One active copy loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub name: String,
    pub index: i64,
    /// A property (or variable/output) iteration rather than a resource loop.
    pub property: bool,
}

/// What `reference()` may name: a resource of this template.
#[derive(Debug, Clone)]
pub struct Known {
    pub name: String,
    pub symbolic: Option<String>,
    /// Normalized (lower-case) id.
    pub key: String,
    /// `Some(false)`: not deployed because its condition is false.
    pub condition: Option<bool>,
}

/// The fixed parts of a scope: what the scope functions return.
#[derive(Debug, Clone)]
pub struct ScopeInfo {
    pub subscription: Value,
    /// `Null` at subscription scope.
    pub resource_group: Value,
    pub deployment: Value,
    pub environment: Value,
    /// `/providers` entries: `{namespace, resourceTypes: [{resourceType, locations, apiVersions}]}`.
    pub providers: Vec<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Preflight,
    Runtime,
}

#[derive(Debug, Default)]
struct Params {
    defs: Vec<ParamDef>,
    supplied: Map<String, Value>,
    bound: Vec<(String, ParamType, Value)>,
    binding: HashSet<String>,
}

#[derive(Debug, Default)]
struct Refs {
    known: Vec<Known>,
    /// Loaded state by normalized id: the rendered document, or why it is not available.
    docs: HashMap<String, Result<Value, String>>,
    missing: Vec<String>,
}

#[derive(Debug)]
struct State {
    mode: Mode,
    /// Nesting depth of parameter-default evaluation (`utcNow`/`newGuid` allowed).
    in_defaults: u32,
    /// Nesting depth of sections where `reference()` is not allowed.
    no_reference: u32,
    deferred: u64,
    fetches: u64,
}

/// A parent scope's parameters and variables, owned (see [`Scope::seed`]).
#[derive(Debug, Clone)]
pub struct Seed {
    params: Vec<(String, ParamType, Value)>,
    vars: Variables,
}

pub struct Scope {
    pub info: ScopeInfo,
    params: Mutex<Params>,
    vars: Mutex<Variables>,
    frames: Mutex<Vec<Frame>>,
    refs: Mutex<Refs>,
    state: Mutex<State>,
}

/// Marker messages; the counters in [`State`] are what the engine trusts.
const DEFERRED: &str = "The value is only known once resources are deployed.";
const FETCH: &str = "The referenced resource is being loaded.";

impl Scope {
    /// A scope with the template's own parameters (bound by [`Scope::bind_parameters`]) and variables.
    pub fn new(
        info: ScopeInfo,
        template: &Template,
        supplied: Map<String, Value>,
    ) -> Result<Self, TemplateError> {
        let scope = Self::empty(info, Variables::parse(&template.variables)?);
        {
            let mut p = scope.params.lock().expect("params lock");
            p.defs = template.parameters.clone();
            p.supplied = supplied;
        }
        Ok(scope)
    }

    /// What a nested deployment with `expressionEvaluationOptions.scope: outer` sees of this
    /// scope: its parameters and variables.
    pub fn seed(&self) -> Seed {
        Seed {
            params: self.bound_parameters(),
            vars: self.vars.lock().expect("vars lock").clone(),
        }
    }

    /// A scope that sees a parent's parameters and variables (see [`Scope::seed`]).
    pub fn from_seed(info: ScopeInfo, seed: Seed) -> Self {
        let scope = Self::empty(info, seed.vars);
        scope.params.lock().expect("params lock").bound = seed.params;
        scope
    }

    fn empty(info: ScopeInfo, vars: Variables) -> Self {
        Scope {
            info,
            params: Mutex::new(Params::default()),
            vars: Mutex::new(vars),
            frames: Mutex::new(Vec::new()),
            refs: Mutex::new(Refs::default()),
            state: Mutex::new(State {
                mode: Mode::Preflight,
                in_defaults: 0,
                no_reference: 0,
                deferred: 0,
                fetches: 0,
            }),
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().expect("state lock").mode = mode;
    }

    fn mode(&self) -> Mode {
        self.state.lock().expect("state lock").mode
    }

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

    fn bound(&self, name: &str) -> Option<Value> {
        let p = self.params.lock().expect("params lock");
        p.bound
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, _, v)| v.clone())
    }

    fn bind(&self, def: &ParamDef) -> Result<Value, TemplateError> {
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

    /// Evaluates every variable once, so an error is reported where the variable is.
    pub fn check_variables(&self) -> Result<(), TemplateError> {
        let names = self.vars.lock().expect("vars lock").names();
        for name in names {
            self.variable_value(&name)
                .map_err(|f| f.into_template_error("variable", &name))?;
        }
        Ok(())
    }

    fn variable_value(&self, name: &str) -> Result<Value, Failure> {
        let source = self
            .vars
            .lock()
            .expect("vars lock")
            .start(name)
            .map_err(|message| Failure::Invalid {
                path: format!("variables.{name}"),
                message,
            })?;
        let (canonical, source) = match source {
            Ok(done) => return Ok(done),
            Err(pending) => pending,
        };
        // Variables see no copy loop of the place that uses them, and cannot use reference().
        let frames = std::mem::take(&mut *self.frames.lock().expect("frames lock"));
        self.enter(|s| s.no_reference += 1);
        let path = format!("variables.{canonical}");
        let result = match &source {
            VarSource::Plain(v) => self.eval(v, &path, false),
            VarSource::Copy { count, input } => self
                .copy_items(
                    &canonical,
                    count,
                    input,
                    &format!("variables.copy[{canonical}]"),
                )
                .map(Value::Array),
        };
        self.enter(|s| s.no_reference -= 1);
        *self.frames.lock().expect("frames lock") = frames;
        self.vars
            .lock()
            .expect("vars lock")
            .finish(&canonical, result.as_ref().ok());
        result
    }

    fn enter(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().expect("state lock"));
    }

    /// Runs `f` with `frames` as the active copy loops.
    pub fn with_frames<T>(&self, frames: &[Frame], f: impl FnOnce() -> T) -> T {
        let saved = std::mem::replace(
            &mut *self.frames.lock().expect("frames lock"),
            frames.to_vec(),
        );
        let out = f();
        *self.frames.lock().expect("frames lock") = saved;
        out
    }

    /// Runs `f` where `reference()` is not allowed (names, types, dependsOn, copy counts).
    pub fn without_reference<T>(&self, f: impl FnOnce() -> T) -> T {
        self.enter(|s| s.no_reference += 1);
        let out = f();
        self.enter(|s| s.no_reference -= 1);
        out
    }

    /// Declares the resources of the template (for `reference()` by name).
    pub fn set_known(&self, known: Vec<Known>) {
        self.refs.lock().expect("refs lock").known = known;
    }

    /// Records the state of a resource (deployed, or loaded by the engine).
    pub fn record(&self, key: &str, doc: Result<Value, String>) {
        self.refs
            .lock()
            .expect("refs lock")
            .docs
            .insert(key.to_ascii_lowercase(), doc);
    }

    /// Ids (normalized) that an evaluation needed and that are not loaded yet.
    pub fn take_missing(&self) -> Vec<String> {
        let mut refs = self.refs.lock().expect("refs lock");
        let mut ids = std::mem::take(&mut refs.missing);
        ids.sort();
        ids.dedup();
        ids
    }

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

    /// The id (normalized) a `reference()`/`dependsOn` argument names: a template resource by
    /// name or symbolic name, or a resource id.
    pub fn resolve_reference(&self, name_or_id: &str) -> Result<String, String> {
        if name_or_id.starts_with('/') {
            return Ok(normalize_id(name_or_id));
        }
        let refs = self.refs.lock().expect("refs lock");
        let found: Vec<&Known> = refs
            .known
            .iter()
            .filter(|k| {
                k.symbolic.as_deref().is_some_and(|s| s == name_or_id)
                    || k.name.eq_ignore_ascii_case(name_or_id)
            })
            .collect();
        match found.as_slice() {
            [] => Err(format!(
                "The template reference '{name_or_id}' is not valid: could not find template resource or resource copy with this name. Please see https://aka.ms/arm-function-reference for usage details."
            )),
            [k] if k.condition == Some(false) => Err(format!(
                "The template resource '{name_or_id}' is not deployed: its condition evaluated to false."
            )),
            [k] => Ok(k.key.clone()),
            _ => Err(format!(
                "The template reference '{name_or_id}' is ambiguous: several resources of the template have this name; use resourceId() to name one."
            )),
        }
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

/// Lower-case id with the resource-group form used for groups.
pub fn normalize_id(id: &str) -> String {
    let lower = id.trim().trim_end_matches('/').to_ascii_lowercase();
    let parts: Vec<&str> = lower.split('/').collect();
    // /subscriptions/s/providers/microsoft.resources/resourcegroups/x -> /subscriptions/s/resourcegroups/x
    if parts.len() == 7
        && parts[3] == "providers"
        && parts[4] == "microsoft.resources"
        && parts[5] == "resourcegroups"
    {
        return format!("/subscriptions/{}/resourcegroups/{}", parts[2], parts[6]);
    }
    lower
}

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
        let mut refs = self.refs.lock().expect("refs lock");
        match refs.docs.get(&key) {
            Some(Ok(doc)) => Ok(shape_reference(doc, api_version, full)),
            Some(Err(message)) => Err(ExprError::Other(message.clone())),
            None => {
                refs.missing.push(key);
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

#[cfg(test)]
mod tests;
