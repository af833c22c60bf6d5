//! A template expanded into what will be deployed: one [`Instance`] per resource copy
//! (copy loops unrolled, nested child resources flattened with `parent/child` names and
//! types, names/types/api-versions/conditions evaluated, ids built for the deployment's
//! scope) and the dependency [`Graph`] between them (`dependsOn`, parents, serial copy
//! batches, and resources a body `reference()`s). Every body is evaluated once here in
//! preflight, so expression errors are found before anything is deployed.

use serde_json::{Map, Value, json};

use super::graph::Graph;
use super::scope::{Failure, Frame, Known, Scope, normalize_id};
use super::template::{Template, TemplateError};

pub const DEPLOYMENTS: &str = "Microsoft.Resources/deployments";
pub const RESOURCE_GROUPS: &str = "Microsoft.Resources/resourceGroups";

/// Keys of a template resource that are instructions to ARM, not part of the resource body.
const TEMPLATE_KEYS: &[&str] = &[
    "type",
    "name",
    "apiVersion",
    "dependsOn",
    "condition",
    "copy",
    "comments",
    "resources",
    "existing",
    "scope",
    "metadata",
    "subscriptionId",
    "resourceGroup",
];

/// How an instance is deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A provider resource, through the generic resource layer.
    Resource,
    /// A resource group (subscription scope).
    ResourceGroup,
    /// A nested deployment into this scope (`rg` None: subscription scope).
    Deployment { sub: String, rg: Option<String> },
}

#[derive(Debug, Clone)]
pub struct Instance {
    /// Where it is in the template, e.g. `resources[0].resources[1]`.
    pub path: String,
    pub symbolic: Option<String>,
    pub raw: Map<String, Value>,
    /// Copy loops in effect (the parents' and its own).
    pub frames: Vec<Frame>,
    /// The resource copy loop it belongs to.
    pub loop_name: Option<String>,
    /// Full name (`vnet/subnet`) and type (`Microsoft.Network/virtualNetworks/subnets`).
    pub name: String,
    pub type_name: String,
    pub api_version: String,
    pub id: String,
    /// Normalized id.
    pub key: String,
    pub kind: Kind,
    pub parent: Option<usize>,
    /// `existing: true`: only read, never written.
    pub existing: bool,
    /// Decided in preflight; `None` when it needs deployed state.
    pub condition: Option<bool>,
}

impl Instance {
    /// The part of the resource that is evaluated and sent (a nested deployment's template
    /// is left out: it is evaluated in its own scope).
    pub fn body_source(&self) -> Value {
        let mut body: Map<String, Value> = self
            .raw
            .iter()
            .filter(|(k, _)| !TEMPLATE_KEYS.iter().any(|t| t.eq_ignore_ascii_case(k)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if matches!(self.kind, Kind::Deployment { .. })
            && let Some(Value::Object(p)) = body.get_mut("properties")
        {
            p.remove("template");
        }
        Value::Object(body)
    }

    /// `Microsoft.Network/virtualNetworks/vnet/subnets/sub`: how `dependsOn` names it.
    fn interleaved(&self) -> String {
        let types: Vec<&str> = self.type_name.split('/').collect();
        let mut out = types[0].to_string();
        for (t, n) in types[1..].iter().zip(self.name.split('/')) {
            out.push_str(&format!("/{t}/{n}"));
        }
        out.to_ascii_lowercase()
    }

    fn reference(&self) -> Value {
        json!({"id": self.id, "resourceType": self.type_name, "resourceName": self.name})
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub instances: Vec<Instance>,
    pub graph: Graph,
}

/// Expands `template` for a deployment at `sub` / `rg` (None: subscription scope).
pub fn expand(
    scope: &Scope,
    template: &Template,
    sub: &str,
    rg: Option<&str>,
) -> Result<Plan, TemplateError> {
    let mut b = Builder {
        scope,
        sub,
        rg,
        instances: Vec::new(),
        serial: Vec::new(),
    };
    for (i, (symbolic, r)) in template.resources.iter().enumerate() {
        let path = match symbolic {
            Some(s) => format!("resources.{s}"),
            None => format!("resources[{i}]"),
        };
        b.resource(r, &path, symbolic.clone(), None, &[])?;
    }
    scope.set_known(
        b.instances
            .iter()
            .map(|i| Known {
                name: i.name.clone(),
                id: i.id.clone(),
                symbolic: i.symbolic.clone(),
                key: i.key.clone(),
                condition: i.condition,
            })
            .collect(),
    );
    for (i, inst) in b.instances.iter().enumerate() {
        if b.instances[..i].iter().any(|o| o.key == inst.key) {
            return Err(TemplateError(format!(
                "The resource '{}' at '{}' is defined multiple times in a template. Please see https://aka.ms/arm-template/#resources for usage details.",
                inst.id, inst.path
            )));
        }
    }
    let graph = b.dependencies()?;
    if let Some(cycle) = graph.find_cycle() {
        let ids: Vec<&str> = cycle.iter().map(|n| b.instances[*n].id.as_str()).collect();
        return Err(TemplateError(format!(
            "Circular dependency detected on resource: '{}'. The cycle is: {}. Please see https://aka.ms/arm-template/#resources for usage details.",
            ids[0],
            ids.join(" -> ")
        )));
    }
    for inst in &b.instances {
        scope
            .with_frames(&inst.frames, || {
                scope.eval(&inst.body_source(), &inst.path, true)
            })
            .map_err(|f| f.into_template_error("resource", &inst.name))?;
    }
    Ok(Plan {
        instances: b.instances,
        graph,
    })
}

struct Builder<'a> {
    scope: &'a Scope,
    sub: &'a str,
    rg: Option<&'a str>,
    instances: Vec<Instance>,
    /// `(later, earlier)` pairs from serial copy batches.
    serial: Vec<(usize, usize)>,
}

impl Builder<'_> {
    fn fail(&self, display: &str, f: Failure) -> TemplateError {
        f.into_template_error("resource", display)
    }

    /// Evaluates a name-like field: a string, no `reference()`.
    fn string(
        &self,
        raw: &Value,
        path: &str,
        display: &str,
        frames: &[Frame],
    ) -> Result<String, TemplateError> {
        let v = self
            .scope
            .with_frames(frames, || {
                self.scope
                    .without_reference(|| self.scope.eval(raw, path, false))
            })
            .map_err(|f| self.fail(display, f))?;
        match v {
            Value::String(s) if !s.is_empty() => Ok(s),
            other => Err(TemplateError::at(
                "resource",
                display,
                path,
                format!("expected a non-empty string, but the value is '{other}'"),
            )),
        }
    }

    fn resource(
        &mut self,
        r: &Value,
        path: &str,
        symbolic: Option<String>,
        parent: Option<usize>,
        frames: &[Frame],
    ) -> Result<(), TemplateError> {
        let raw = r.as_object().ok_or_else(|| {
            TemplateError(format!(
                "The template resource at '{path}' must be a JSON object."
            ))
        })?;
        let display = raw
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(path)
            .to_string();
        let Some(copy) = raw.get("copy").filter(|c| !c.is_null()) else {
            self.one(raw, path, symbolic, parent, frames.to_vec(), None)?;
            return Ok(());
        };
        let copy_path = format!("{path}.copy");
        let loop_name = self.string(
            &copy["name"],
            &format!("{copy_path}.name"),
            &display,
            frames,
        )?;
        let count = self
            .scope
            .with_frames(frames, || {
                self.scope.copy_count(
                    copy.get("count").unwrap_or(&Value::Null),
                    &format!("{copy_path}.count"),
                )
            })
            .map_err(|f| self.fail(&display, f))?;
        let serial = copy
            .get("mode")
            .and_then(Value::as_str)
            .is_some_and(|m| m.eq_ignore_ascii_case("serial"));
        let batch = match copy.get("batchSize") {
            None | Some(Value::Null) => 1,
            Some(b) => self
                .scope
                .with_frames(frames, || {
                    self.scope.copy_count(b, &format!("{copy_path}.batchSize"))
                })
                .map_err(|f| self.fail(&display, f))?
                .max(1) as usize,
        };
        let mut own = Vec::new();
        for index in 0..count {
            let mut f = frames.to_vec();
            f.push(Frame {
                name: loop_name.clone(),
                index,
                property: false,
            });
            own.push(self.one(
                raw,
                path,
                symbolic.clone(),
                parent,
                f,
                Some(loop_name.clone()),
            )?);
        }
        if serial {
            for (k, later) in own.iter().enumerate().skip(batch) {
                let batch_start = (k / batch - 1) * batch;
                for earlier in &own[batch_start..batch_start + batch] {
                    self.serial.push((*later, *earlier));
                }
            }
        }
        Ok(())
    }

    fn one(
        &mut self,
        raw: &Map<String, Value>,
        path: &str,
        symbolic: Option<String>,
        parent: Option<usize>,
        frames: Vec<Frame>,
        loop_name: Option<String>,
    ) -> Result<usize, TemplateError> {
        let display = raw
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(path)
            .to_string();
        let field = |k: &str| raw.get(k).cloned().unwrap_or(Value::Null);
        let mut name = self.string(&field("name"), &format!("{path}.name"), &display, &frames)?;
        let mut type_name = self.string(&field("type"), &format!("{path}.type"), &name, &frames)?;
        let api_version = self.string(
            &field("apiVersion"),
            &format!("{path}.apiVersion"),
            &name,
            &frames,
        )?;
        if let Some(p) = parent.map(|p| &self.instances[p]) {
            if !type_name.contains('/') {
                type_name = format!("{}/{type_name}", p.type_name);
                name = format!("{}/{name}", p.name);
            } else if name.split('/').count() + 2 == type_name.split('/').count() {
                name = format!("{}/{name}", p.name);
            }
        }
        let type_segments = type_name.split('/').count();
        let name_segments = name.split('/').count();
        if type_segments < 2
            || name_segments + 1 != type_segments
            || name.split('/').any(str::is_empty)
        {
            return Err(TemplateError::at(
                "resource",
                &name,
                path,
                format!(
                    "The resource type '{type_name}' and name '{name}' have incorrect segment lengths. A nested resource type must have identical number of segments as its resource name. A root resource type must have segment length one greater than its resource name"
                ),
            ));
        }
        let scope_prefix = match self.rg {
            Some(rg) => format!("/subscriptions/{}/resourceGroups/{rg}", self.sub),
            None => format!("/subscriptions/{}", self.sub),
        };
        let (kind, id) = if type_name.eq_ignore_ascii_case(RESOURCE_GROUPS) {
            if self.rg.is_some() {
                return Err(TemplateError::at(
                    "resource",
                    &name,
                    path,
                    "Resource groups can only be deployed by a subscription-scope deployment",
                ));
            }
            (
                Kind::ResourceGroup,
                format!("/subscriptions/{}/resourceGroups/{name}", self.sub),
            )
        } else if type_name.eq_ignore_ascii_case(DEPLOYMENTS) {
            let sub = match raw.get("subscriptionId") {
                Some(v) => self.string(v, &format!("{path}.subscriptionId"), &name, &frames)?,
                None => self.sub.to_string(),
            };
            let rg = match raw.get("resourceGroup") {
                Some(v) => {
                    Some(self.string(v, &format!("{path}.resourceGroup"), &name, &frames)?)
                }
                None => self.rg.map(str::to_string),
            };
            let id = match &rg {
                Some(rg) => format!(
                    "/subscriptions/{sub}/resourceGroups/{rg}/providers/{DEPLOYMENTS}/{name}"
                ),
                None => format!("/subscriptions/{sub}/providers/{DEPLOYMENTS}/{name}"),
            };
            (Kind::Deployment { sub, rg }, id)
        } else {
            let mut id = format!(
                "{scope_prefix}/providers/{}",
                type_name.split('/').next().unwrap_or_default()
            );
            for (t, n) in type_name.split('/').skip(1).zip(name.split('/')) {
                id.push_str(&format!("/{t}/{n}"));
            }
            (Kind::Resource, id)
        };
        let condition = match raw.get("condition") {
            None | Some(Value::Null) => Some(true),
            Some(c) => match self.scope.with_frames(&frames, || {
                self.scope.eval(c, &format!("{path}.condition"), false)
            }) {
                Ok(v) => Some(condition_value(&v).ok_or_else(|| {
                    TemplateError::at(
                        "resource",
                        &name,
                        &format!("{path}.condition"),
                        format!("The condition must be a boolean, but it is '{v}'"),
                    )
                })?),
                Err(Failure::Deferred) => None,
                Err(f) => return Err(self.fail(&name, f)),
            },
        };
        let index = self.instances.len();
        self.instances.push(Instance {
            path: path.to_string(),
            symbolic,
            raw: raw.clone(),
            frames: frames.clone(),
            loop_name,
            key: normalize_id(&id),
            id,
            name,
            type_name,
            api_version,
            kind,
            parent,
            existing: raw
                .get("existing")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            condition,
        });
        if let Some(children) = raw.get("resources").and_then(Value::as_array) {
            for (j, child) in children.iter().enumerate() {
                self.resource(
                    child,
                    &format!("{path}.resources[{j}]"),
                    None,
                    Some(index),
                    &frames,
                )?;
            }
        }
        Ok(index)
    }
}

fn condition_value(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

mod dependencies;
#[cfg(test)]
mod tests;
mod views;
