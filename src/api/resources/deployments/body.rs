//! A deployment request: its name, and its body read the lenient way ARM reads it, into the
//! [`Spec`] the engine runs (linked templates and parameter files read from their links).

use serde_json::{Map, Value, json};

use crate::arm::{ArmError, ArmRequest, ArmResult};
use crate::deploy::record::{self, Spec, Target};
use crate::deploy::{jsonc, link};

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
    let given = |k: &str| props.get(k).filter(|v| !v.is_null());
    let template_link = given("templateLink").cloned();
    let parameters_link = given("parametersLink").cloned();
    if template_link.is_some() && given("template").is_some() {
        return Err(invalid(format!(
            "The deployment '{}' specifies both 'template' and 'templateLink'; use either one, not both.",
            target.name
        )));
    }
    let has_parameters =
        given("parameters").is_some_and(|p| p.as_object().is_none_or(|o| !o.is_empty()));
    if parameters_link.is_some() && has_parameters {
        return Err(invalid(format!(
            "The deployment '{}' specifies both 'parameters' and 'parametersLink'; use either one, not both.",
            target.name
        )));
    }
    let template = match (given("template"), &template_link) {
        (_, Some(_)) => Value::Null,
        (Some(t @ Value::Object(_)), None) => t.clone(),
        (Some(Value::String(text)), None) => jsonc::parse(text).map_err(|e| {
            ArmError::invalid_request_content(format!("The template is not valid JSON: {e}"))
        })?,
        _ => {
            return Err(invalid(format!(
                "The deployment '{}' must have a 'template' or a 'templateLink' in its properties.",
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
        template_link,
        parameters_link,
    })
}

/// The deployment's [`Spec`] with linked content read: the template a `templateLink` names
/// and the parameters a `parametersLink` names (ARM reads them before answering, so an
/// unreachable link is this request's `InvalidContentLink`).
pub async fn spec_with_links(
    req: &ArmRequest,
    target: &Target,
    body: &Map<String, Value>,
) -> ArmResult<Spec> {
    let mut spec = spec_from_body(req, target, body)?;
    if let Some(link) = spec.template_link.take() {
        let linked = link::template(&link, None, &target.name).await?;
        spec.template = linked.content;
        spec.template_link = Some(linked.link);
    }
    if let Some(link) = spec.parameters_link.take() {
        let linked = link::parameters(&link, &target.name).await?;
        spec.parameters = linked.content;
        spec.parameters_link = Some(linked.link);
    }
    Ok(spec)
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
