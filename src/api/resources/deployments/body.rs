//! A deployment request: its name, and its body read the lenient way ARM reads it, into the
//! [`Spec`] the engine runs.

use serde_json::{Map, Value, json};

use crate::arm::{ArmError, ArmRequest, ArmResult};
use crate::deploy::jsonc;
use crate::deploy::record::{self, Spec, Target};

/// `^[-\w._()]+$`, at most 64 characters.
pub fn validate_name(name: &str) -> ArmResult<()> {
    let len = name.chars().count();
    if len > 64 {
        return Err(ArmError::bad_request(
            "DeploymentNameLengthLimitExceeded",
            format!(
                "The provided deployment name '{name}' has a length of '{len}' which exceeds the maximum length of '64'. Please see https://aka.ms/arm-deploy for usage details."
            ),
        ));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'))
    {
        return Err(ArmError::bad_request(
            "InvalidDeploymentName",
            format!(
                "The deployment name '{name}' is invalid. It can only include alphanumeric characters, underscores, parentheses, hyphens and periods."
            ),
        ));
    }
    Ok(())
}

/// The request body, read the lenient way ARM reads it (`az` sends the template file's text
/// unquoted, comments included).
pub fn parse_body(req: &ArmRequest) -> ArmResult<Map<String, Value>> {
    let text = std::str::from_utf8(&req.body)
        .map_err(|_| ArmError::invalid_request_content("The request body is not UTF-8."))?;
    if text.trim().is_empty() {
        return Err(ArmError::invalid_request_content(
            "The request body is empty.",
        ));
    }
    match jsonc::parse(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ArmError::invalid_request_content(
            "The request body must be a JSON object.",
        )),
        Err(e) => Err(ArmError::invalid_request_content(e)),
    }
}

pub fn spec_from_body(
    req: &ArmRequest,
    target: &Target,
    body: &Map<String, Value>,
) -> ArmResult<Spec> {
    let Some(props) = body.get("properties").and_then(Value::as_object) else {
        return Err(ArmError::invalid_request_content(
            "The 'properties' of the deployment are required.",
        ));
    };
    let invalid = |m: String| ArmError::bad_request("InvalidDeployment", m);
    if props.get("templateLink").is_some_and(|v| !v.is_null())
        && props.get("template").is_none_or(Value::is_null)
    {
        return Err(invalid(format!(
            "The deployment '{}' uses 'templateLink'; armlet has no internet access: send the template inline in 'properties.template'.",
            target.name
        )));
    }
    if props.get("parametersLink").is_some_and(|v| !v.is_null()) {
        return Err(invalid("'parametersLink' is not supported: send the parameters inline in 'properties.parameters'.".into()));
    }
    let template = match props.get("template") {
        Some(t @ Value::Object(_)) => t.clone(),
        Some(Value::String(text)) => jsonc::parse(text).map_err(|e| {
            ArmError::invalid_request_content(format!("The template is not valid JSON: {e}"))
        })?,
        _ => {
            return Err(invalid(format!(
                "The deployment '{}' must have a 'template' in its properties.",
                target.name
            )));
        }
    };
    let mode = match props.get("mode").and_then(Value::as_str) {
        None => "Incremental",
        Some(m) if m.eq_ignore_ascii_case("incremental") => "Incremental",
        Some(m) if m.eq_ignore_ascii_case("complete") => "Complete",
        Some(m) => {
            return Err(ArmError::invalid_request_content(format!(
                "The deployment mode '{m}' is not valid: expected 'Incremental' or 'Complete'."
            )));
        }
    };
    let location = match &target.rg {
        Some(_) => None,
        None => {
            let l = body.get("location").and_then(Value::as_str).ok_or_else(|| {
                invalid(format!("The 'location' property must be specified for deployment '{}'. Please see https://aka.ms/arm-deploy-resources for usage details.", target.name))
            })?;
            Some(crate::arm::location::parse_for(l, record::TYPE)?)
        }
    };
    let tags = crate::arm::tags::parse_tags(body.get("tags"))?.map(Value::Object);
    Ok(Spec {
        template,
        parameters: props.get("parameters").cloned().unwrap_or(json!({})),
        mode: mode.into(),
        location,
        tags,
        base: req.base.clone(),
        correlation_id: req
            .header("x-ms-correlation-request-id")
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_names() {
        assert!(validate_name("lb_deploy_X5wm2l00Vx2bXLcqll0l4xYpP5NqytDK").is_ok());
        assert!(validate_name("a.b-(c)").is_ok());
        assert_eq!(
            validate_name("a/b").unwrap_err().code,
            "InvalidDeploymentName"
        );
        assert_eq!(
            validate_name(&"a".repeat(65)).unwrap_err().code,
            "DeploymentNameLengthLimitExceeded"
        );
    }
}
