//! Nested deployments (`Microsoft.Resources/deployments` resources): run inline as
//! deployments of their own, in their own scope or in the parent's. A linked one
//! (`templateLink`, `parametersLink`) reads its template and parameters through
//! [`crate::deploy::link`], relative to the parent's link for `relativePath`.

use serde_json::{Map, Value, json};

use super::{Action, run};
use std::sync::Arc;

use crate::arm::Arm;
use crate::arm::{ArmError, ArmResult};
use crate::deploy::link;
use crate::deploy::plan::Instance;
use crate::deploy::record::{Record, Spec, Stop, Target};
use crate::deploy::scope::Seed;
use crate::deploy::template::TemplateError;

/// Whether a nested deployment's template is evaluated in the parent's scope (`outer`, the
/// ARM default) rather than its own (`inner`). Unspecified, a template that declares its own
/// parameters or variables gets its own scope.
pub fn evaluates_outside(inst: &Instance, template: Option<&Value>) -> bool {
    let props = inst.raw.get("properties");
    // `expressionEvaluationOptions` applies to inline templates only; a linked template
    // always has its own scope.
    if props
        .and_then(|p| p.get("templateLink"))
        .is_some_and(|l| !l.is_null())
    {
        return false;
    }
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
pub(super) fn nested(
    app: Arc<Arm>,
    target: Target,
    body: Map<String, Value>,
    template: Option<Value>,
    seed: Option<Seed>,
    parent: Spec,
) -> Action {
    Box::pin(async move {
        let spec = nested_spec(&target.name, &body, template, &parent).await?;
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

/// What a nested deployment resource asks for: its evaluated `body`, its `template` as
/// written (inline templates are evaluated in their own scope, not the parent's), linked
/// content read relative to the parent's link.
pub async fn nested_spec(
    name: &str,
    body: &Map<String, Value>,
    template: Option<Value>,
    parent: &Spec,
) -> ArmResult<Spec> {
    let props = body
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let invalid = |m: String| TemplateError(m).into_arm();
    let given = |k: &str| props.get(k).filter(|v| !v.is_null());
    let mut template_link = None;
    let template = match (given("templateLink"), template) {
        (Some(link), _) => {
            let parent_uri = link::uri_of(parent.template_link.as_ref());
            let linked = link::template(link, parent_uri, name).await?;
            template_link = Some(linked.link);
            linked.content
        }
        (None, Some(Value::String(text))) => crate::deploy::jsonc::parse(&text).map_err(|e| {
            invalid(format!(
                "The template of nested deployment '{name}' is not valid JSON: {e}."
            ))
        })?,
        (None, Some(t @ Value::Object(_))) => t,
        _ => {
            return Err(invalid(format!(
                "The nested deployment '{name}' has neither 'properties.template' nor 'properties.templateLink'."
            )));
        }
    };
    let (parameters, parameters_link) = match given("parametersLink") {
        Some(link) => {
            let linked = link::parameters(link, name).await?;
            (linked.content, Some(linked.link))
        }
        None => (props.get("parameters").cloned().unwrap_or(json!({})), None),
    };
    let mode = props
        .get("mode")
        .and_then(Value::as_str)
        .unwrap_or("Incremental");
    Ok(Spec {
        template,
        parameters,
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
        base: parent.base.clone(),
        correlation_id: parent.correlation_id.clone(),
        template_link,
        parameters_link,
    })
}
