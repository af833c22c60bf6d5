//! The run of a prepared deployment: instances whose dependencies are done are started
//! (their bodies evaluated with runtime state) and deployed concurrently; results are
//! recorded as deployment operations after each step; Complete mode clean-up.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};
use tokio::task::JoinSet;

use super::nested::{evaluates_outside, nested};
use super::{Action, Prepared};
use std::sync::Arc;

use crate::arm::Arm;
use crate::arm::resources as generic;
use crate::arm::{ArmError, ArmResult, ResourceId};
use crate::deploy::actions;
use crate::deploy::graph::Schedule;
use crate::deploy::plan::{Instance, Kind};
use crate::deploy::record::{Record, Spec, Stop, Target};
use crate::deploy::scope::{Failure, Mode, Scope};
use crate::deploy::template::{ParamType, TemplateError};
use crate::store::ResourceQuery;

/// What starting one instance came to.
enum Start {
    Spawn(Action),
    /// Nothing to deploy (condition false, or an `existing` resource that was read).
    Skip,
    Fail(ArmError),
}

pub(super) struct Run<'a> {
    pub app: &'a Arc<Arm>,
    pub rec: &'a mut Record,
    pub p: &'a Prepared,
    pub spec: &'a Spec,
    /// Errors of failed resources, for the `DeploymentFailed` details.
    pub failures: Vec<ArmError>,
    /// Instances deployed by this run.
    pub deployed: Vec<usize>,
}

impl Run<'_> {
    /// Deploys every instance in dependency order, independent ones concurrently.
    pub async fn resources(&mut self) -> Result<(), Stop> {
        let p = self.p;
        p.scope.set_mode(Mode::Runtime);
        let mut schedule = Schedule::new(p.plan.graph.clone());
        let mut tasks: JoinSet<(usize, ArmResult<(Value, bool)>)> = JoinSet::new();
        let mut ops: HashMap<usize, usize> = HashMap::new();
        let mut stopped: Option<Stop> = None;
        loop {
            if stopped.is_none() {
                loop {
                    let ready = schedule.take_ready();
                    if ready.is_empty() {
                        break;
                    }
                    for n in ready {
                        let inst = &p.plan.instances[n];
                        match self.start(inst).await {
                            Start::Spawn(action) => {
                                ops.insert(n, self.rec.op_begin(target_resource(inst), "Create"));
                                tasks.spawn(async move { (n, action.await) });
                            }
                            Start::Skip => schedule.succeed(n),
                            Start::Fail(e) => {
                                let op = self.rec.op_begin(target_resource(inst), "Create");
                                self.rec.op_end(op, Err(&e));
                                self.failures.push(detail(e, inst));
                                schedule.fail(n);
                            }
                        }
                    }
                }
                if let Err(stop) = self.rec.save(self.app).await {
                    stopped = Some(stop);
                    schedule.stop();
                }
            }
            if schedule.finished() {
                break;
            }
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            let (n, result) = joined.map_err(|e| Stop::Store(ArmError::internal(e)))?;
            let inst = &p.plan.instances[n];
            match result {
                Ok((doc, created)) => {
                    p.scope.record(&inst.key, Ok(doc));
                    self.rec
                        .op_end(ops[&n], Ok(if created { "Created" } else { "OK" }));
                    self.deployed.push(n);
                    schedule.succeed(n);
                }
                Err(e) => {
                    self.rec.op_end(ops[&n], Err(&e));
                    self.failures.push(detail(e, inst));
                    schedule.fail(n);
                }
            }
            if stopped.is_none()
                && let Err(stop) = self.rec.save(self.app).await
            {
                stopped = Some(stop);
                schedule.stop();
            }
        }
        match stopped {
            Some(stop) => Err(stop),
            None => Ok(()),
        }
    }

    /// Evaluates with runtime state, loading what `reference()` and `list*()` need.
    pub async fn resolve(
        &self,
        eval: impl Fn() -> Result<Value, Failure>,
    ) -> Result<Value, Failure> {
        resolve(self.app, &self.p.scope, &self.spec.base, eval).await
    }

    async fn eval_instance(
        &self,
        inst: &Instance,
        v: &Value,
        path: &str,
    ) -> Result<Value, ArmError> {
        let scope = &self.p.scope;
        self.resolve(|| scope.with_frames(&inst.frames, || scope.eval(v, path, false)))
            .await
            .map_err(|f| f.into_template_error("resource", &inst.name).into_arm())
    }

    async fn start(&mut self, inst: &Instance) -> Start {
        if inst.existing {
            return match actions::fetch(self.app, &inst.key).await {
                Ok(doc) => {
                    self.p.scope.record(&inst.key, Ok(doc));
                    Start::Skip
                }
                Err(message) => Start::Fail(ArmError::not_found("ResourceNotFound", message)),
            };
        }
        let condition = match inst.condition {
            Some(c) => c,
            None => {
                let raw = inst.raw.get("condition").cloned().unwrap_or(Value::Null);
                match self
                    .eval_instance(inst, &raw, &format!("{}.condition", inst.path))
                    .await
                {
                    Ok(v) => ParamType::Bool
                        .coerce(v)
                        .ok()
                        .and_then(|v| v.as_bool())
                        .unwrap_or(false),
                    Err(e) => return Start::Fail(e),
                }
            }
        };
        if !condition {
            return Start::Skip;
        }
        let body = match self
            .eval_instance(inst, &inst.body_source(), &inst.path)
            .await
        {
            Ok(Value::Object(body)) => {
                let mut body = without_nulls(body);
                crate::deploy::schema::coerce(&inst.type_name, &mut body);
                body
            }
            Ok(_) => {
                return Start::Fail(
                    TemplateError::at(
                        "resource",
                        &inst.name,
                        &inst.path,
                        "The resource must be a JSON object",
                    )
                    .into_arm(),
                );
            }
            Err(e) => return Start::Fail(e),
        };
        let app = self.app.clone();
        let (id, api_version) = (inst.id.clone(), inst.api_version.clone());
        match &inst.kind {
            Kind::Resource => Start::Spawn(Box::pin(async move {
                actions::put_resource(&app, &id, &api_version, body).await
            })),
            Kind::ResourceGroup => {
                let (sub, name) = (self.rec.target.sub.clone(), inst.name.clone());
                Start::Spawn(Box::pin(async move {
                    actions::put_group(&app, &sub, &name, &body).await
                }))
            }
            Kind::Deployment { sub, rg } => {
                let target = Target {
                    sub: sub.clone(),
                    rg: rg.clone(),
                    name: inst.name.clone(),
                };
                let template = inst
                    .raw
                    .get("properties")
                    .and_then(|p| p.get("template"))
                    .cloned();
                let seed = evaluates_outside(inst, template.as_ref()).then(|| self.p.scope.seed());
                Start::Spawn(nested(app, target, body, template, seed, self.spec.clone()))
            }
        }
    }

    /// Complete mode: deletes the group's resources the template does not declare. A resource
    /// still in use by another one being deleted is retried once that one is gone.
    pub async fn complete_mode(&mut self) {
        let Some(rg) = self.rec.target.rg.clone() else {
            return;
        };
        let mut keep: HashSet<String> = self
            .p
            .plan
            .instances
            .iter()
            .map(|i| i.key.clone())
            .collect();
        // "the resources deployed in the linked or nested template are included in the
        // evaluation for complete mode deployment" (ARM docs, linked-templates).
        let nested: Vec<Target> = self
            .p
            .plan
            .instances
            .iter()
            .filter_map(|i| Target::parse(&i.id))
            .collect();
        if let Err(e) = nested_resources(self.app, nested, &mut keep).await {
            return self.failures.push(e);
        }
        let q = ResourceQuery {
            subscription: self.rec.target.sub.clone(),
            resource_group: Some(rg),
            type_name: None,
        };
        let rows = match self.app.store.list(&q).await {
            Ok(rows) => rows,
            Err(e) => return self.failures.push(e.into()),
        };
        let mut doomed: Vec<ResourceId> = rows
            .iter()
            .filter(|r| {
                !r.type_name
                    .eq_ignore_ascii_case(crate::deploy::record::TYPE)
                    && !r.type_name.eq_ignore_ascii_case(crate::arm::groups::TYPE)
            })
            .filter(|r| !keep.contains(&r.key()))
            .filter_map(|r| ResourceId::parse(&r.id).ok())
            .filter(|id| id.segments.len() == 1)
            .collect();
        loop {
            let mut failed = Vec::new();
            let before = doomed.len();
            for id in doomed.drain(..) {
                match generic::delete(self.app, &id, None).await {
                    Ok(_) => {
                        let op = self.rec.op_begin(resource_ref(&id), "Delete");
                        self.rec.op_end(op, Ok("OK"));
                    }
                    Err(e) => failed.push((id, e)),
                }
            }
            if failed.is_empty() || failed.len() == before {
                for (id, e) in failed {
                    let op = self.rec.op_begin(resource_ref(&id), "Delete");
                    self.rec.op_end(op, Err(&e));
                    self.failures.push(e.with_target(id.to_string()));
                }
                return;
            }
            doomed = failed.into_iter().map(|(id, _)| id).collect();
        }
    }
}

/// Adds the keys of every resource the nested deployments `targets` deployed (at any depth),
/// as their deployment operations record them.
async fn nested_resources(
    app: &Arc<Arm>,
    mut targets: Vec<Target>,
    keep: &mut HashSet<String>,
) -> ArmResult<()> {
    let mut seen = HashSet::new();
    while let Some(target) = targets.pop() {
        if !seen.insert(target.key()) {
            continue;
        }
        let Some(rec) = Record::load(app, &target).await? else {
            continue;
        };
        for op in rec.operations() {
            let Some(id) = op["properties"]["targetResource"]["id"].as_str() else {
                continue;
            };
            keep.insert(crate::deploy::scope::normalize_id(id));
            if let Some(t) = Target::parse(id) {
                targets.push(t);
            }
        }
    }
    Ok(())
}

/// The resource's own error, pointing at the resource when it does not point elsewhere.
fn detail(mut e: ArmError, inst: &Instance) -> ArmError {
    if e.target.is_none() {
        e.target = Some(inst.id.clone());
    }
    e
}

fn target_resource(inst: &Instance) -> Value {
    json!({
        "id": inst.id,
        "resourceType": inst.type_name,
        "resourceName": inst.name,
        "apiVersion": inst.api_version,
    })
}

fn resource_ref(id: &ResourceId) -> Value {
    json!({"id": id.to_string(), "resourceType": id.type_name(), "resourceName": id.name()})
}

/// ARM sends resource providers no `null` members: a null is "not specified".
pub fn without_nulls(body: Map<String, Value>) -> Map<String, Value> {
    fn clean(v: Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(without_nulls(m)),
            Value::Array(items) => Value::Array(items.into_iter().map(clean).collect()),
            other => other,
        }
    }
    body.into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k, clean(v)))
        .collect()
}

/// Evaluates with runtime state: whenever the evaluation needs resource state or `list*()`
/// results that are not loaded, loads them and evaluates again.
pub async fn resolve(
    app: &Arc<Arm>,
    scope: &Scope,
    base: &str,
    eval: impl Fn() -> Result<Value, Failure>,
) -> Result<Value, Failure> {
    loop {
        match eval() {
            Err(Failure::Fetch) => {
                let missing = scope.take_missing();
                let calls = scope.take_missing_lists();
                if missing.is_empty() && calls.is_empty() {
                    return Err(Failure::Invalid {
                        path: String::new(),
                        message: "A reference could not be resolved.".into(),
                    });
                }
                for key in missing {
                    let doc = actions::fetch(app, &key).await;
                    scope.record(&key, doc);
                }
                for call in calls {
                    let result = crate::deploy::list::perform(app, &call, base).await;
                    scope.record_list(call, result);
                }
            }
            other => return other,
        }
    }
}
