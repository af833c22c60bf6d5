//! The template's `outputs`, evaluated once every resource is deployed: conditions, copy
//! loops, coercion to the declared type, secure outputs without their value.

use serde_json::{Map, Value, json};

use super::execute::Run;
use crate::arm::{ArmError, ArmResult};
use crate::deploy::scope::Failure;
use crate::deploy::template::{ParamType, TemplateError};

impl Run<'_> {
    pub async fn outputs(&self) -> ArmResult<Value> {
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
