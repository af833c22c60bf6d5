//! What-if, step one: the template expanded exactly as a deployment would expand it
//! (preflight, then every resource in dependency order with its condition and body
//! evaluated against what exists), nested deployments (inline and linked) expanded in
//! place, in their own scope or the parent's. Nothing is written. A value that needs the
//! state of a resource that does not exist yet keeps its expression, as ARM's what-if shows
//! it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::arm::{Arm, ArmError, ArmResult, groups};
use crate::deploy::engine::{self, evaluates_outside, nested_spec, resolve, without_nulls};
use crate::deploy::graph::Graph;
use crate::deploy::graph::Schedule;
use crate::deploy::plan::{Instance, Kind};
use crate::deploy::record::{Spec, Target};
use crate::deploy::scope::{Failure, Mode, Scope, Seed};
use crate::deploy::template::ParamType;

/// How deep nested deployments are expanded (ARM expands nested templates to a limit too and
/// reports what lies beyond as not evaluated).
const MAX_DEPTH: usize = 8;

/// One resource the deployment would write.
#[derive(Debug, Clone)]
pub struct Predicted {
    pub id: String,
    pub type_name: String,
    pub api_version: String,
    pub symbolic: Option<String>,
    /// The body as it would be sent (nulls removed, schema coercions applied).
    pub body: Map<String, Value>,
    /// Some value keeps an expression that needs deployed state.
    pub unevaluated: bool,
    pub is_group: bool,
}

#[derive(Debug, Default)]
pub struct Expansion {
    pub resources: Vec<Predicted>,
    /// `{level, code, message, target}` entries of the what-if result.
    pub diagnostics: Vec<Value>,
}

/// The instances of a plan in an order that respects every dependency.
fn order(graph: &Graph) -> Vec<usize> {
    let mut schedule = Schedule::new(graph.clone());
    let mut out = Vec::new();
    loop {
        let ready = schedule.take_ready();
        if ready.is_empty() {
            return out;
        }
        for n in ready {
            out.push(n);
            schedule.succeed(n);
        }
    }
}

/// Expands the deployment `spec` at `target` into `out`. `planned_group`: the group's
/// document when it does not exist yet but is created earlier in this what-if.
pub fn expand<'a>(
    app: &'a Arc<Arm>,
    target: &'a Target,
    spec: &'a Spec,
    seed: Option<Seed>,
    planned_group: Option<Value>,
    depth: usize,
    out: &'a mut Expansion,
) -> Pin<Box<dyn Future<Output = ArmResult<()>> + Send + 'a>> {
    Box::pin(async move {
        let p = engine::prepare_in(app, target, spec, seed, planned_group).await?;
        let scope = &p.scope;
        scope.set_mode(Mode::Runtime);
        scope.set_what_if();
        for n in order(&p.plan.graph) {
            let inst = &p.plan.instances[n];
            if inst.existing || !condition(app, scope, &spec.base, inst).await? {
                continue;
            }
            let deferrals = scope.deferrals();
            let body = resolve(app, scope, &spec.base, || {
                scope.with_frames(&inst.frames, || {
                    scope.eval(&inst.body_source(), &inst.path, true)
                })
            })
            .await
            .map_err(|f| f.into_template_error("resource", &inst.name).into_arm())?;
            let unevaluated = scope.deferrals() > deferrals;
            let Value::Object(body) = body else {
                return Err(ArmError::bad_request(
                    "InvalidTemplate",
                    format!(
                        "The template resource '{}' must be a JSON object.",
                        inst.name
                    ),
                ));
            };
            let mut body = without_nulls(body);
            crate::deploy::schema::coerce(&inst.type_name, &mut body);
            let predicted = |is_group: bool, body: Map<String, Value>| Predicted {
                id: inst.id.clone(),
                type_name: inst.type_name.clone(),
                api_version: inst.api_version.clone(),
                symbolic: inst.symbolic.clone(),
                body,
                unevaluated,
                is_group,
            };
            match &inst.kind {
                Kind::Resource => out.resources.push(predicted(false, body)),
                Kind::ResourceGroup => out.resources.push(predicted(true, body)),
                Kind::Deployment { sub, rg } => {
                    let nested = Target {
                        sub: sub.clone(),
                        rg: rg.clone(),
                        name: inst.name.clone(),
                    };
                    if depth >= MAX_DEPTH {
                        out.diagnostics.push(diagnostic(
                            "NestedDeploymentNotExpanded",
                            format!("The nested deployment is more than {MAX_DEPTH} levels deep; what-if does not predict its resources."),
                            &nested.id(),
                        ));
                        continue;
                    }
                    let template = inst
                        .raw
                        .get("properties")
                        .and_then(|p| p.get("template"))
                        .cloned();
                    let seed = evaluates_outside(inst, template.as_ref()).then(|| scope.seed());
                    let nested_spec = nested_spec(&inst.name, &body, template, spec).await?;
                    let planned = group_of(app, &out.resources, &nested).await?;
                    let before = out.resources.len();
                    match expand(app, &nested, &nested_spec, seed, planned, depth + 1, out).await {
                        Ok(()) => {}
                        // Its parameters need deployed state: ARM cannot predict it either.
                        Err(e) if unevaluated => {
                            out.resources.truncate(before);
                            out.diagnostics.push(diagnostic(
                                "NestedDeploymentNotExpanded",
                                format!("The parameters of the nested deployment are only known once the resources it depends on are deployed, so what-if does not predict its resources ({}: {}).", e.code, e.message),
                                &nested.id(),
                            ));
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(())
    })
}

/// A resource's condition; one that needs state that does not exist yet counts as true.
async fn condition(app: &Arc<Arm>, scope: &Scope, base: &str, inst: &Instance) -> ArmResult<bool> {
    if let Some(c) = inst.condition {
        return Ok(c);
    }
    let raw = inst.raw.get("condition").cloned().unwrap_or(Value::Null);
    let path = format!("{}.condition", inst.path);
    match resolve(app, scope, base, || {
        scope.with_frames(&inst.frames, || scope.eval(&raw, &path, false))
    })
    .await
    {
        Ok(v) => Ok(ParamType::Bool
            .coerce(v)
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false)),
        Err(Failure::Deferred) => Ok(true),
        Err(f) => Err(f.into_template_error("resource", &inst.name).into_arm()),
    }
}

/// What `resourceGroup()` is for a nested deployment into a group this what-if creates.
async fn group_of(
    app: &Arc<Arm>,
    planned: &[Predicted],
    nested: &Target,
) -> ArmResult<Option<Value>> {
    let Some(rg) = &nested.rg else {
        return Ok(None);
    };
    if groups::find(app, &nested.sub, rg).await?.is_some() {
        return Ok(None);
    }
    let id = format!("/subscriptions/{}/resourceGroups/{rg}", nested.sub);
    Ok(planned
        .iter()
        .find(|p| p.is_group && p.id.eq_ignore_ascii_case(&id))
        .map(|p| {
            json!({
                "id": id,
                "name": rg,
                "type": groups::TYPE,
                "location": p.body.get("location").cloned().unwrap_or(Value::Null),
                "tags": p.body.get("tags").cloned().unwrap_or(json!({})),
                "properties": {"provisioningState": "Succeeded"},
            })
        }))
}

pub fn diagnostic(code: &str, message: String, target: &str) -> Value {
    json!({"level": "Warning", "code": code, "message": message, "target": target})
}
