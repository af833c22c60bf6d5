//! Nested deployments (`Microsoft.Resources/deployments` resources): run inline as
//! deployments of their own, in their own scope or in the parent's.

use serde_json::{Map, Value, json};

use super::{Action, run};
use std::sync::Arc;

use crate::arm::Arm;
use crate::arm::ArmError;
use crate::deploy::plan::Instance;
use crate::deploy::record::{Record, Spec, Stop, Target};
use crate::deploy::scope::Seed;
use crate::deploy::template::TemplateError;

/// Whether a nested deployment's template is evaluated in the parent's scope (`outer`, the
/// ARM default) rather than its own (`inner`). Unspecified, a template that declares its own
/// parameters or variables gets its own scope.
pub(super) fn evaluates_outside(inst: &Instance, template: Option<&Value>) -> bool {
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
pub(super) fn nested(
    app: Arc<Arm>,
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
            Some(Value::String(text)) => crate::deploy::jsonc::parse(&text).map_err(|e| {
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
