//! The template's `outputs`, evaluated once every resource is deployed: conditions, copy
//! loops, coercion to the declared type, secure outputs without their value. ARM serializes
//! the outputs dictionary with Json.NET's camel-case naming, so an output declared `VMSS`
//! comes back as `vmss` (which is what `az vmss create` prints).

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
                    out.insert(camel_case(name), v);
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

/// Json.NET's `ToCamelCase`: the leading run of capitals is lower-cased, except the last one
/// when a lower-case letter follows it (`VMSS` → `vmss`, `ResourceID` → `resourceID`,
/// `URLValue` → `urlValue`).
pub fn camel_case(s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    if !chars.first().is_some_and(|c| c.is_uppercase()) {
        return s.to_string();
    }
    for i in 0..chars.len() {
        if i == 1 && !chars[i].is_uppercase() {
            break;
        }
        let next = chars.get(i + 1).copied();
        if i > 0 && next.is_some_and(|n| !n.is_uppercase()) {
            if next.is_some_and(char::is_whitespace) {
                chars[i] = chars[i].to_lowercase().next().unwrap_or(chars[i]);
            }
            break;
        }
        chars[i] = chars[i].to_lowercase().next().unwrap_or(chars[i]);
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::camel_case;

    #[test]
    fn output_names_are_camel_cased_like_json_net_does() {
        for (given, shown) in [
            ("VMSS", "vmss"),
            ("loadBalancer", "loadBalancer"),
            ("ResourceID", "resourceID"),
            ("URLValue", "urlValue"),
            ("X", "x"),
            ("Name", "name"),
            ("already_fine", "already_fine"),
            ("", ""),
        ] {
            assert_eq!(camel_case(given), shown, "{given}");
        }
    }
}
