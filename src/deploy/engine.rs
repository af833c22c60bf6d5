//! Running a deployment: preflight ([`prepare`]: parse, bind parameters, evaluate variables,
//! expand the plan, check every expression), then the run: resources whose dependencies are
//! done are deployed concurrently, each through the same internal path a direct PUT takes;
//! a failure skips what depends on it and fails the deployment with `DeploymentFailed`
//! carrying the resource's own error; Complete mode then deletes what the template does not
//! declare, and outputs are evaluated. Progress is recorded in the deployment row after
//! every step, which is also where a cancel is noticed.
//!
//! The run of a top-level deployment is a long-running operation (kind [`KIND`]); it is
//! idempotent (every step is a create-or-update), so after a restart it simply runs again.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value, json};
use tokio::task::JoinSet;

use super::actions;
use super::graph::Schedule;
use super::plan::{self, Instance, Kind, Plan};
use super::record::{Record, Spec, Stop, Target};
use super::scope::{Failure, Mode, Scope, ScopeInfo, Seed};
use super::template::{ParamType, Template, TemplateError, supplied_parameters};
use crate::api::resources::{groups, providers};
use crate::app::AppState;
use crate::arm::resources as generic;
use crate::arm::{ArmError, ArmResult, ResourceId};
use crate::store::{OperationStatus, ResourceQuery};

/// The operation kind of a deployment run.
pub const KIND: &str = "deployment";
/// The operation kind of a deployment deletion.
pub const DELETE_KIND: &str = "delete-deployment";

type Action = Pin<Box<dyn Future<Output = ArmResult<(Value, bool)>> + Send>>;

/// A template checked and expanded for one deployment.
pub struct Prepared {
    pub template: Template,
    pub scope: Scope,
    pub plan: Plan,
}

impl Prepared {
    /// Fills the parts of the deployment document known after preflight.
    pub fn describe(&self, rec: &mut Record) {
        rec.set("parameters", self.scope.parameters_view());
        rec.set("providers", self.plan.providers_view());
        rec.set("dependencies", self.plan.dependencies_view());
    }

    pub fn validated_resources(&self) -> Value {
        self.plan
            .instances
            .iter()
            .map(|i| json!({"id": i.id}))
            .collect()
    }
}

/// Preflight: everything that can be checked before deploying. `seed`: the parent scope of
/// a nested deployment that evaluates in the parent's scope.
pub async fn prepare(
    app: &AppState,
    target: &Target,
    spec: &Spec,
    seed: Option<Seed>,
) -> ArmResult<Prepared> {
    let template = Template::parse(&spec.template)?;
    let info = scope_info(app, target, spec).await?;
    let scope = match seed {
        Some(seed) => Scope::from_seed(info, seed),
        None => {
            let scope = Scope::new(
                info,
                &template,
                supplied_parameters(Some(&spec.parameters))?,
            )?;
            scope.bind_parameters()?;
            scope
        }
    };
    scope.check_variables()?;
    let plan = plan::expand(&scope, &template, &target.sub, target.rg.as_deref())?;
    Ok(Prepared {
        template,
        scope,
        plan,
    })
}

async fn scope_info(app: &AppState, target: &Target, spec: &Spec) -> ArmResult<ScopeInfo> {
    let display_name = app
        .store
        .subscriptions()
        .await?
        .into_iter()
        .find(|(id, _)| id.eq_ignore_ascii_case(&target.sub))
        .map(|(_, name)| name)
        .unwrap_or_else(|| "armlet".into());
    let resource_group = match &target.rg {
        Some(rg) => {
            let mut doc = groups::require(app, &target.sub, rg, true).await?.body;
            if doc.get("tags").is_none() {
                doc["tags"] = json!({});
            }
            doc
        }
        None => Value::Null,
    };
    let mut deployment = json!({
        "name": target.name,
        "properties": {
            "template": spec.template,
            "templateHash": super::record::template_hash(&spec.template),
            "mode": spec.mode,
            "provisioningState": "Running",
        }
    });
    if let Some(l) = &spec.location {
        deployment["location"] = json!(l);
    }
    let base = format!("{}/", spec.base.trim_end_matches('/'));
    Ok(ScopeInfo {
        subscription: json!({
            "id": format!("/subscriptions/{}", target.sub),
            "subscriptionId": target.sub,
            "tenantId": app.config.identity.tenant_id,
            "displayName": display_name,
        }),
        resource_group,
        deployment,
        environment: json!({
            "name": "AzureCloud",
            "gallery": "https://gallery.azure.com/",
            "graph": "https://graph.windows.net/",
            "portal": "https://portal.azure.com",
            "graphAudience": "https://graph.windows.net/",
            "activeDirectoryDataLake": "https://datalake.azure.net/",
            "batch": "https://batch.core.windows.net/",
            "media": "https://rest.media.azure.net",
            "sqlManagement": "https://management.core.windows.net:8443/",
            "resourceManager": base,
            "authentication": {
                "loginEndpoint": base,
                "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
                "tenant": "common",
                "identityProvider": "AAD"
            },
            "suffixes": {
                "acrLoginServer": ".azurecr.io",
                "keyvaultDns": ".vault.azure.net",
                "sqlServerHostname": ".database.windows.net",
                "storage": "core.windows.net"
            }
        }),
        providers: providers::catalog(app),
    })
}

/// The worker of a top-level deployment (operation kind [`KIND`]).
pub async fn worker(app: &AppState, deployment_id: &str) -> ArmResult<OperationStatus> {
    let target = Target::parse(deployment_id)
        .ok_or_else(|| ArmError::internal(format!("not a deployment id: {deployment_id}")))?;
    let Some(mut rec) = Record::load(app, &target).await? else {
        return Ok(OperationStatus::Canceled);
    };
    match rec.state() {
        "Succeeded" => return Ok(OperationStatus::Succeeded),
        "Failed" => return Err(rec.error()),
        "Canceled" => return Ok(OperationStatus::Canceled),
        _ => {}
    }
    match run(app, &mut rec, None).await {
        Ok(()) if rec.state() == "Succeeded" => Ok(OperationStatus::Succeeded),
        Ok(()) => Err(rec.error()),
        Err(Stop::Canceled) => {
            rec.finish("Canceled", None);
            let _ = rec.save(app).await;
            Ok(OperationStatus::Canceled)
        }
        Err(Stop::Deleted) => Ok(OperationStatus::Canceled),
        Err(Stop::Store(e)) => Err(e),
    }
}

/// The worker of a deployment deletion (operation kind [`DELETE_KIND`]).
pub async fn delete_worker(app: &AppState, deployment_id: &str) -> ArmResult<()> {
    let mut w = app.store.write().await?;
    crate::store::resources::delete(&mut w.tx, &deployment_id.to_ascii_lowercase()).await?;
    w.commit().await?;
    Ok(())
}

/// Runs the deployment recorded in `rec` to its end (Succeeded or Failed, recorded in `rec`),
/// unless it is canceled or deleted meanwhile.
pub fn run<'a>(
    app: &'a AppState,
    rec: &'a mut Record,
    seed: Option<Seed>,
) -> Pin<Box<dyn Future<Output = Result<(), Stop>> + Send + 'a>> {
    Box::pin(async move {
        let spec = rec.spec().map_err(Stop::Store)?;
        rec.set_state("Running");
        rec.save(app).await?;
        let prepared = match prepare(app, &rec.target, &spec, seed).await {
            Ok(p) => p,
            Err(e) => {
                rec.finish("Failed", Some(&e));
                return rec.save(app).await;
            }
        };
        prepared.describe(rec);
        let mut run = Run {
            app,
            rec,
            p: &prepared,
            spec: &spec,
            failures: Vec::new(),
            deployed: Vec::new(),
        };
        run.resources().await?;
        if run.failures.is_empty()
            && spec.mode.eq_ignore_ascii_case("Complete")
            && run.rec.target.rg.is_some()
        {
            run.complete_mode().await;
        }
        if !run.failures.is_empty() {
            let error = ArmError::bad_request(
                "DeploymentFailed",
                "At least one resource deployment operation failed. Please list deployment operations for details. Please see https://aka.ms/arm-deployment-operations for usage details.",
            )
            .with_target(run.rec.target.id())
            .with_details(std::mem::take(&mut run.failures));
            run.rec.finish("Failed", Some(&error));
            return run.rec.save(app).await;
        }
        run.deployed.sort_unstable();
        match run.outputs().await {
            Ok(outputs) => {
                let resources: Vec<Value> = run
                    .deployed
                    .iter()
                    .map(|n| &prepared.plan.instances[*n])
                    .filter(|i| !matches!(i.kind, Kind::Deployment { .. }))
                    .map(|i| json!({"id": i.id}))
                    .collect();
                run.rec.set("outputs", outputs);
                run.rec.set("outputResources", Value::Array(resources));
                run.rec.finish("Succeeded", None);
            }
            Err(e) => run.rec.finish("Failed", Some(&e)),
        }
        run.rec.save(app).await
    })
}

/// What starting one instance came to.
enum Start {
    Spawn(Action),
    /// Nothing to deploy (condition false, or an `existing` resource that was read).
    Skip,
    Fail(ArmError),
}

struct Run<'a> {
    app: &'a AppState,
    rec: &'a mut Record,
    p: &'a Prepared,
    spec: &'a Spec,
    /// Errors of failed resources, for the `DeploymentFailed` details.
    failures: Vec<ArmError>,
    /// Instances deployed by this run.
    deployed: Vec<usize>,
}

impl Run<'_> {
    /// Deploys every instance in dependency order, independent ones concurrently.
    async fn resources(&mut self) -> Result<(), Stop> {
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

    /// Evaluates with runtime state, loading what `reference()` needs as it goes.
    async fn resolve(&self, eval: impl Fn() -> Result<Value, Failure>) -> Result<Value, Failure> {
        loop {
            match eval() {
                Err(Failure::Fetch) => {
                    let missing = self.p.scope.take_missing();
                    if missing.is_empty() {
                        return Err(Failure::Invalid {
                            path: String::new(),
                            message: "A reference could not be resolved.".into(),
                        });
                    }
                    for key in missing {
                        let doc = actions::fetch(self.app, &key).await;
                        self.p.scope.record(&key, doc);
                    }
                }
                other => return other,
            }
        }
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
                super::schema::coerce(&inst.type_name, &mut body);
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
    async fn complete_mode(&mut self) {
        let Some(rg) = self.rec.target.rg.clone() else {
            return;
        };
        let keep: HashSet<&str> = self
            .p
            .plan
            .instances
            .iter()
            .map(|i| i.key.as_str())
            .collect();
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
                !r.type_name.eq_ignore_ascii_case(super::record::TYPE)
                    && !r.type_name.eq_ignore_ascii_case(groups::TYPE)
            })
            .filter(|r| !keep.contains(r.key().as_str()))
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

    async fn outputs(&self) -> ArmResult<Value> {
        let mut out = Map::new();
        let mut errors = Vec::new();
        for (name, def) in &self.p.template.outputs {
            match self.output(name, def).await {
                Ok(Some(v)) => {
                    out.insert(name.clone(), v);
                }
                Ok(None) => {}
                Err(message) => errors.push(
                    ArmError::bad_request("DeploymentOutputEvaluationFailed", message)
                        .with_target(name.clone()),
                ),
            }
        }
        if errors.is_empty() {
            return Ok(Value::Object(out));
        }
        let names: Vec<String> = errors.iter().filter_map(|e| e.target.clone()).collect();
        Err(ArmError::bad_request(
            "DeploymentOutputEvaluationFailed",
            format!("Unable to evaluate template outputs: '{}'. Please see error details and deployment operations. Please see https://aka.ms/arm-common-errors for usage details.", names.join(",")),
        )
        .with_details(errors))
    }

    async fn output(&self, name: &str, def: &Value) -> Result<Option<Value>, String> {
        let scope = &self.p.scope;
        let path = format!("outputs.{name}");
        let fail = |f: Failure| f.into_template_error("output", name).0;
        let field = |k: &str| {
            def.as_object()
                .and_then(|o| o.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)))
                .map(|(_, v)| v.clone())
        };
        if let Some(c) = field("condition") {
            let v = self
                .resolve(|| scope.eval(&c, &format!("{path}.condition"), false))
                .await
                .map_err(fail)?;
            if !ParamType::Bool
                .coerce(v)
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false)
            {
                return Ok(None);
            }
        }
        let ty_name = field("type")
            .and_then(|t| t.as_str().map(str::to_string))
            .unwrap_or_default();
        let ty = ParamType::parse(&ty_name).ok_or_else(|| {
            TemplateError::at(
                "output",
                name,
                &format!("{path}.type"),
                format!("the output type '{ty_name}' is not valid"),
            )
            .0
        })?;
        let value = match field("copy") {
            Some(copy) => {
                let (count, input) = (
                    copy.get("count").cloned().unwrap_or(Value::Null),
                    copy.get("input").cloned().unwrap_or(Value::Null),
                );
                self.resolve(|| {
                    scope
                        .copy_items(name, &count, &input, &format!("{path}.copy"))
                        .map(Value::Array)
                })
                .await
                .map_err(fail)?
            }
            None => {
                let raw = field("value").unwrap_or(Value::Null);
                self.resolve(|| scope.eval(&raw, &format!("{path}.value"), false))
                    .await
                    .map_err(fail)?
            }
        };
        let value = ty
            .coerce(value)
            .map_err(|m| TemplateError::at("output", name, &format!("{path}.value"), m).0)?;
        let mut out = json!({"type": ty.display()});
        if !ty.is_secure() {
            out["value"] = value;
        }
        Ok(Some(out))
    }
}

/// Whether a nested deployment's template is evaluated in the parent's scope (`outer`, the
/// ARM default) rather than its own (`inner`). Unspecified, a template that declares its own
/// parameters or variables gets its own scope.
fn evaluates_outside(inst: &Instance, template: Option<&Value>) -> bool {
    let props = inst.raw.get("properties");
    let scope = props
        .and_then(|p| p.get("expressionEvaluationOptions"))
        .and_then(|o| o.get("scope"))
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    match scope.as_deref() {
        Some("inner") => false,
        Some("outer") => true,
        _ => {
            let declares = |k: &str| {
                template
                    .and_then(|t| t.get(k))
                    .and_then(Value::as_object)
                    .is_some_and(|m| !m.is_empty())
            };
            !(declares("parameters")
                || declares("variables")
                || props.and_then(|p| p.get("parameters")).is_some())
        }
    }
}

/// A nested deployment, run inline as its own deployment record.
fn nested(
    app: AppState,
    target: Target,
    body: Map<String, Value>,
    template: Option<Value>,
    seed: Option<Seed>,
    parent: Spec,
) -> Action {
    Box::pin(async move {
        let props = body
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let invalid = |m: String| TemplateError(m).into_arm();
        if props.contains_key("templateLink") {
            return Err(invalid(format!(
                "The nested deployment '{}' uses 'templateLink'; armlet deploys inline templates only ('properties.template').",
                target.name
            )));
        }
        let template = match template {
            Some(Value::String(text)) => super::jsonc::parse(&text).map_err(|e| {
                invalid(format!(
                    "The template of nested deployment '{}' is not valid JSON: {e}.",
                    target.name
                ))
            })?,
            Some(t @ Value::Object(_)) => t,
            _ => {
                return Err(invalid(format!(
                    "The nested deployment '{}' has no 'properties.template'.",
                    target.name
                )));
            }
        };
        let mode = props
            .get("mode")
            .and_then(Value::as_str)
            .unwrap_or("Incremental");
        let spec = Spec {
            template,
            parameters: props.get("parameters").cloned().unwrap_or(json!({})),
            mode: if mode.eq_ignore_ascii_case("complete") {
                "Complete".into()
            } else {
                "Incremental".into()
            },
            location: body
                .get("location")
                .and_then(Value::as_str)
                .map(str::to_string),
            tags: body.get("tags").cloned(),
            base: parent.base,
            correlation_id: parent.correlation_id,
        };
        let mut rec = Record::new(target, spec);
        match run(&app, &mut rec, seed).await {
            Ok(()) => {}
            Err(Stop::Store(e)) => return Err(e),
            Err(Stop::Canceled | Stop::Deleted) => {
                return Err(ArmError::conflict(
                    "DeploymentCanceled",
                    format!("The nested deployment '{}' was canceled.", rec.target.name),
                ));
            }
        }
        match rec.state() {
            "Succeeded" => Ok((rec.public(), true)),
            _ => Err(rec.error()),
        }
    })
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
fn without_nulls(body: Map<String, Value>) -> Map<String, Value> {
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
