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

mod execute;
mod info;
mod nested;
mod outputs;

pub use execute::{resolve, without_nulls};
pub use nested::{evaluates_outside, nested_spec};

use std::future::Future;
use std::pin::Pin;

use serde_json::{Value, json};

use super::plan::{self, Kind, Plan};
use super::record::{Record, Spec, Stop, Target};
use super::scope::{Scope, Seed};
use super::template::{Template, supplied_parameters};
use std::sync::Arc;

use crate::arm::Arm;
use crate::arm::operations::{Worker, Workers};
use crate::arm::{ArmError, ArmResult};
use crate::store::OperationStatus;
use async_trait::async_trait;
use execute::Run;

/// The operation kind of a deployment run.
pub const KIND: &str = "deployment";
/// The operation kind of a deployment deletion.
pub const DELETE_KIND: &str = "delete-deployment";

/// Deploying one instance: the resource's document and whether it was created.
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
    app: &Arc<Arm>,
    target: &Target,
    spec: &Spec,
    seed: Option<Seed>,
) -> ArmResult<Prepared> {
    prepare_in(app, target, spec, seed, None).await
}

/// [`prepare`], with what `resourceGroup()` returns for a group that does not exist yet.
pub async fn prepare_in(
    app: &Arc<Arm>,
    target: &Target,
    spec: &Spec,
    seed: Option<Seed>,
    planned_group: Option<Value>,
) -> ArmResult<Prepared> {
    let template = Template::parse(&spec.template)?;
    let info = info::scope_info(app, target, spec, planned_group).await?;
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
/// The worker of a top-level deployment (operation kind [`KIND`]).
pub async fn worker(app: &Arc<Arm>, deployment_id: &str) -> ArmResult<OperationStatus> {
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
pub async fn delete_worker(app: &Arc<Arm>, deployment_id: &str) -> ArmResult<()> {
    let mut w = app.store.write().await?;
    crate::store::resources::delete(&mut w.tx, &deployment_id.to_ascii_lowercase()).await?;
    w.commit().await?;
    Ok(())
}

/// Registers the deployment operations' workers.
pub fn register(workers: &mut Workers) {
    workers.register(KIND, RunWorker);
    workers.register(DELETE_KIND, DeleteWorker);
    crate::deploy::whatif::register(workers);
}

struct RunWorker;

#[async_trait]
impl Worker for RunWorker {
    async fn run(&self, arm: &Arc<Arm>, target: &str) -> ArmResult<OperationStatus> {
        worker(arm, target).await
    }
}

struct DeleteWorker;

#[async_trait]
impl Worker for DeleteWorker {
    async fn run(&self, arm: &Arc<Arm>, target: &str) -> ArmResult<OperationStatus> {
        delete_worker(arm, target)
            .await
            .map(|()| OperationStatus::Succeeded)
    }
}

/// Runs the deployment recorded in `rec` to its end (Succeeded or Failed, recorded in `rec`),
/// unless it is canceled or deleted meanwhile.
pub fn run<'a>(
    app: &'a Arc<Arm>,
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
