//! `what-if` (`POST .../deployments/{name}/whatIf`): what a deployment would change, computed
//! the way the deployment itself would run and without writing anything.
//!
//! 1. [`expand`]: preflight and every resource's body, nested deployments included,
//!    evaluated against what exists.
//! 2. [`simulate`]: the writes staged in dependency order in a transaction that is rolled
//!    back, so each `after` is exactly what a PUT would store.
//! 3. Each resource classified against what is stored ([`delta`]): `Create`, `Modify` (with
//!    property changes), `NoChange`, `Unsupported` (a type armlet does not serve); the
//!    group's other resources are `Ignore` (Incremental) or `Delete` (Complete). With
//!    `resultFormat: ResourceIdOnly`, `Modify`/`NoChange` are `Deploy` and no payloads are
//!    returned (the `ChangeType` descriptions of the Microsoft.Resources spec).
//!
//! It runs as a long-running operation (kind [`KIND`]) whose result is stored in a row of
//! type [`RESULT_TYPE`] below the deployment's id (listed nowhere). Like ARM, a template error
//! is a successful operation whose result has `status: Failed` and the `error`.

mod delta;
mod expand;
mod simulate;

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::arm::operations::{Worker, Workers};
use crate::arm::resource_type::ResourceType;
use crate::arm::resources::resolve_type;
use crate::arm::{Arm, ArmError, ArmResult, ResourceId, groups};
use crate::deploy::record::{self, Spec, Target};
use crate::deploy::scope::normalize_id;
use crate::store::{OperationStatus, ResourceQuery, resources};
use expand::{Expansion, Predicted};
use simulate::{After, Simulated};

/// The operation kind of a what-if.
pub const KIND: &str = "deployment-what-if";
/// The type of the stored what-if results (`{deploymentId}/whatIfOperationResults/{op}`).
pub const RESULT_TYPE: &str = "Microsoft.Resources/deployments/whatIfOperationResults";

/// `whatIfSettings.resultFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFormat {
    FullResourcePayloads,
    ResourceIdOnly,
}

impl ResultFormat {
    /// From a what-if request's `properties`; `FullResourcePayloads` by default.
    pub fn of(props: Option<&Value>) -> ArmResult<Self> {
        let format = props
            .and_then(|p| p.get("whatIfSettings"))
            .and_then(|s| s.get("resultFormat"))
            .and_then(Value::as_str);
        match format {
            None => Ok(Self::FullResourcePayloads),
            Some(f) if f.eq_ignore_ascii_case("FullResourcePayloads") => {
                Ok(Self::FullResourcePayloads)
            }
            Some(f) if f.eq_ignore_ascii_case("ResourceIdOnly") => Ok(Self::ResourceIdOnly),
            Some(f) => Err(ArmError::invalid_request_content(format!(
                "The what-if result format '{f}' is not valid: expected 'FullResourcePayloads' or 'ResourceIdOnly'."
            ))),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::FullResourcePayloads => "FullResourcePayloads",
            Self::ResourceIdOnly => "ResourceIdOnly",
        }
    }
}

/// The id of the row holding what-if `op`'s request and result.
pub fn result_id(target: &Target, op: &str) -> String {
    format!("{}/whatIfOperationResults/{op}", target.id())
}

/// The stored body of a what-if about to run.
pub fn pending(target: &Target, spec: &Spec, format: ResultFormat) -> ArmResult<Value> {
    Ok(json!({"armlet": {
        "deployment": target.id(),
        "spec": serde_json::to_value(spec).map_err(ArmError::internal)?,
        "resultFormat": format.as_str(),
    }}))
}

/// The `WhatIfOperationResult` of a finished what-if, if it has finished.
pub fn result_of(body: &Value) -> Option<&Value> {
    body.get("result")
}

pub fn register(workers: &mut Workers) {
    workers.register(KIND, WhatIfWorker);
}

struct WhatIfWorker;

#[async_trait]
impl Worker for WhatIfWorker {
    async fn run(&self, arm: &Arc<Arm>, row_id: &str) -> ArmResult<OperationStatus> {
        let Some(mut row) = arm.store.get(row_id).await? else {
            return Ok(OperationStatus::Canceled);
        };
        if result_of(&row.body).is_some() {
            return Ok(OperationStatus::Succeeded);
        }
        let state = &row.body["armlet"];
        let target = state["deployment"]
            .as_str()
            .and_then(Target::parse)
            .ok_or_else(|| ArmError::internal(format!("what-if {row_id} has no deployment")))?;
        let spec: Spec =
            serde_json::from_value(state["spec"].clone()).map_err(ArmError::internal)?;
        let format = match state["resultFormat"].as_str() {
            Some("ResourceIdOnly") => ResultFormat::ResourceIdOnly,
            _ => ResultFormat::FullResourcePayloads,
        };
        let result = what_if(arm, &target, &spec, format).await?;
        // Only the result is kept: the request held the parameters, secure ones included.
        row.body = json!({"result": result});
        let mut w = arm.store.write().await?;
        resources::put(&mut w.tx, &row).await?;
        w.commit().await?;
        Ok(OperationStatus::Succeeded)
    }
}

/// The `WhatIfOperationResult` of deploying `spec` at `target`.
pub async fn what_if(
    app: &Arc<Arm>,
    target: &Target,
    spec: &Spec,
    format: ResultFormat,
) -> ArmResult<Value> {
    match predict(app, target, spec, format).await {
        Ok(properties) => Ok(json!({"status": "Succeeded", "properties": properties})),
        // A template or validation error is the result, not a failure of the operation.
        Err(e) if e.status.is_client_error() => {
            Ok(json!({"status": "Failed", "error": e.body()["error"]}))
        }
        Err(e) => Err(e),
    }
}

async fn predict(
    app: &Arc<Arm>,
    target: &Target,
    spec: &Spec,
    format: ResultFormat,
) -> ArmResult<Value> {
    let mut exp = Expansion::default();
    expand::expand(app, target, spec, None, None, 0, &mut exp).await?;
    let simulated = simulate::simulate(app, &exp.resources).await?;
    let mut changes = Vec::new();
    let mut failures = Vec::new();
    for (p, s) in exp.resources.iter().zip(simulated) {
        match change(app, p, s, format).await? {
            Ok(c) => changes.push(c),
            Err(e) => failures.push(e),
        }
    }
    if !failures.is_empty() {
        return Err(ArmError::bad_request(
            "InvalidTemplateDeployment",
            format!(
                "The template deployment '{}' is not valid according to the validation procedure. The tracking id is '{}'. See inner errors for details.",
                target.name,
                uuid::Uuid::new_v4()
            ),
        )
        .with_details(failures));
    }
    changes.extend(leftovers(app, target, spec, &exp, format).await?);
    Ok(json!({"changes": changes, "diagnostics": exp.diagnostics}))
}

/// The rendered document as clients see it (for a child resource: the child in its parent).
async fn view(app: &Arc<Arm>, s: &Simulated, doc: Value) -> ArmResult<Option<Value>> {
    let rendered = match &s.ty {
        Some(ty) => ty.render(app, doc).await?,
        None => doc,
    };
    Ok(match &s.child {
        None => Some(rendered),
        Some((child, name)) => rendered["properties"][child.property]
            .as_array()
            .and_then(|items| {
                items.iter().find(|c| {
                    c["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
            })
            .cloned(),
    })
}

/// A snapshot as what-if shows it: without read-only properties, with the api-version.
fn snapshot(doc: &Value, api_version: &str) -> Value {
    let mut v = delta::without_read_only(doc);
    if let Some(o) = v.as_object_mut() {
        o.insert("apiVersion".into(), json!(api_version));
    }
    v
}

/// One predicted resource's change, or the error its write would fail with.
async fn change(
    app: &Arc<Arm>,
    p: &Predicted,
    s: Simulated,
    format: ResultFormat,
) -> ArmResult<Result<Value, ArmError>> {
    let mut c = json!({"resourceId": p.id});
    if let Some(sym) = &p.symbolic {
        c["symbolicName"] = json!(sym);
    }
    let after = match &s.after {
        After::Unsupported(reason) => {
            c["changeType"] = json!("Unsupported");
            c["unsupportedReason"] = json!(reason);
            return Ok(Ok(c));
        }
        // A body that still holds expressions may not validate yet: show it as written.
        After::Failed(_) if p.unevaluated => Some(as_written(p)),
        After::Failed(e) => return Ok(Err(e.clone())),
        After::Doc(doc) => view(app, &s, doc.clone()).await?,
    };
    let before = match &s.before {
        Some(doc) => view(app, &s, doc.clone()).await?,
        None => None,
    };
    let Some(after) = after else {
        return Err(ArmError::internal(format!(
            "what-if: {} is missing from its parent after the write",
            p.id
        )));
    };
    let after_snapshot = snapshot(&after, &p.api_version);
    let (kind, before_snapshot, delta) = match &before {
        None => ("Create", None, Vec::new()),
        Some(before) => {
            let before_snapshot = snapshot(before, &p.api_version);
            let mut d = delta::delta(&before_snapshot, &after_snapshot);
            let modifies = !d.is_empty();
            d.extend(delta::no_effect(&json!(p.body), before));
            let kind = if modifies { "Modify" } else { "NoChange" };
            (kind, Some(before_snapshot), d)
        }
    };
    if format == ResultFormat::ResourceIdOnly {
        c["changeType"] = json!(if kind == "Create" { kind } else { "Deploy" });
        return Ok(Ok(c));
    }
    c["changeType"] = json!(kind);
    if let Some(b) = before_snapshot {
        c["before"] = b;
    }
    c["after"] = after_snapshot;
    c["delta"] = Value::Array(delta);
    Ok(Ok(c))
}

/// A resource as the template gives it (what what-if shows when it cannot be validated
/// before the resources it reads exist).
fn as_written(p: &Predicted) -> Value {
    let mut doc = json!(p.body);
    doc["id"] = json!(p.id);
    doc["name"] = json!(p.id.rsplit('/').next().unwrap_or_default());
    doc["type"] = json!(p.type_name);
    doc
}

/// The target group's resources the template does not deploy: `Delete` in Complete mode,
/// `Ignore` otherwise. Resources deployed by nested deployments into the same group count
/// as deployed (as ARM's Complete mode counts them).
async fn leftovers(
    app: &Arc<Arm>,
    target: &Target,
    spec: &Spec,
    exp: &Expansion,
    format: ResultFormat,
) -> ArmResult<Vec<Value>> {
    let Some(rg) = &target.rg else {
        return Ok(Vec::new());
    };
    let planned: HashSet<String> = exp.resources.iter().map(|p| normalize_id(&p.id)).collect();
    let q = ResourceQuery {
        subscription: target.sub.clone(),
        resource_group: Some(rg.clone()),
        type_name: None,
    };
    let complete = spec.mode.eq_ignore_ascii_case("Complete");
    let mut out = Vec::new();
    for r in app.store.list(&q).await? {
        let skipped = [record::TYPE, groups::TYPE, RESULT_TYPE]
            .iter()
            .any(|t| r.type_name.eq_ignore_ascii_case(t));
        let Ok(id) = ResourceId::parse(&r.id) else {
            continue;
        };
        if skipped || id.segments.len() != 1 || planned.contains(&r.key()) {
            continue;
        }
        let mut c = json!({"resourceId": r.id});
        if !complete {
            c["changeType"] = json!("Ignore");
            out.push(c);
            continue;
        }
        c["changeType"] = json!("Delete");
        if format == ResultFormat::FullResourcePayloads {
            let ty = resolve_type(app, &id, "")?;
            let api_version = latest_api_version(ty.as_ref());
            c["before"] = snapshot(&ty.render(app, r.body).await?, &api_version);
        }
        out.push(c);
    }
    Ok(out)
}

fn latest_api_version(ty: &dyn ResourceType) -> String {
    ty.api_versions()
        .iter()
        .max()
        .copied()
        .unwrap_or_default()
        .to_string()
}
