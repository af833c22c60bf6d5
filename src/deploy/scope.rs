//! The evaluation scope of one deployment: the [`EvalContext`](crate::deploy::expr::EvalContext) the expression language
//! calls back into. It holds the bound parameters, the variables (evaluated lazily, once),
//! the copy-loop frames in effect, what `subscription()`/`resourceGroup()`/`deployment()`
//! return, and the resources `reference()` can see.
//!
//! `reference()` and `list*()` never do I/O: the engine evaluates, and when one names a
//! resource whose state (or list result) is not loaded yet the evaluation fails with
//! [`Failure::Fetch`]; the engine loads what [`Scope::take_missing`] and
//! [`Scope::take_missing_lists`] name and evaluates again. In preflight (before anything is
//! deployed) runtime functions are *deferred* instead: the string is kept as is and checked
//! again when the resource is deployed. What-if ([`Scope::set_what_if`]) evaluates against
//! what exists and defers what names a resource that does not exist yet.
//!
//! Interior state sits behind `Mutex`es only so the scope can be held across `.await`s of
//! the engine; evaluation itself is single-threaded and never holds a lock while calling out.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use serde_json::{Map, Value};

use super::template::{ParamDef, ParamType, Template, TemplateError};
use super::variables::{VarSource, Variables};

pub use lists::{ListCall, ListFailure};

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
    /// The id as built (its casing is what an action request carries).
    pub id: String,
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
    /// Results of `list*()` calls.
    lists: HashMap<ListCall, Result<Value, ListFailure>>,
    missing_lists: Vec<ListCall>,
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
    /// What-if: state that does not exist yet defers instead of failing.
    what_if: bool,
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
                what_if: false,
            }),
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().expect("state lock").mode = mode;
    }

    /// What-if: `reference()`/`list*()` of resources that do not exist are kept unevaluated.
    pub fn set_what_if(&self) {
        self.state.lock().expect("state lock").what_if = true;
    }

    /// How many evaluations were deferred so far (what-if: did a value keep expressions?).
    pub fn deferrals(&self) -> u64 {
        self.state.lock().expect("state lock").deferred
    }

    fn what_if(&self) -> bool {
        self.state.lock().expect("state lock").what_if
    }

    fn mode(&self) -> Mode {
        self.state.lock().expect("state lock").mode
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

mod context;
mod eval;
mod lists;
mod parameters;
#[cfg(test)]
mod tests;
