//! The parameter values a deployment supplies, in the forms clients send them.

use serde_json::{Map, Value};

use super::TemplateError;

/// The values a deployment supplies: `{"name": {"value": v}}`, optionally wrapped in a
/// parameter file (`{"$schema": ".../deploymentParameters.json#", "parameters": {...}}`),
/// given as an object or as JSON text.
pub fn supplied_parameters(raw: Option<&Value>) -> Result<Map<String, Value>, TemplateError> {
    let raw = match raw {
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(Value::String(text)) => crate::deploy::jsonc::parse(text).map_err(|e| {
            TemplateError(format!(
                "The deployment parameters are not valid JSON: {e}."
            ))
        })?,
        Some(v) => v.clone(),
    };
    let Value::Object(mut map) = raw else {
        return Err(TemplateError(
            "The deployment parameters must be a JSON object.".into(),
        ));
    };
    let is_file = map.keys().any(|k| k.eq_ignore_ascii_case("$schema"))
        || map.keys().any(|k| k.eq_ignore_ascii_case("contentVersion"));
    if is_file {
        map = match map.remove("parameters") {
            Some(Value::Object(inner)) => inner,
            None => Map::new(),
            Some(_) => {
                return Err(TemplateError(
                    "The 'parameters' of the parameter file must be a JSON object.".into(),
                ));
            }
        };
    }
    let mut out = Map::new();
    for (name, entry) in map {
        let value = match entry {
            Value::Object(mut o) if o.contains_key("value") => {
                o.remove("value").unwrap_or_default()
            }
            Value::Object(o) if o.contains_key("reference") => {
                return Err(TemplateError(format!(
                    "The template parameter '{name}' is a Key Vault reference; armlet has no Key Vault. Pass the value instead."
                )));
            }
            _ => {
                return Err(TemplateError(format!(
                    "The value of deployment parameter '{name}' is not valid: expected an object with a 'value' property, e.g. {{\"{name}\": {{\"value\": ...}}}}."
                )));
            }
        };
        out.insert(name, value);
    }
    Ok(out)
}
