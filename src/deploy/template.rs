//! The shape of an ARM template and of the parameters a deployment supplies: parsing the
//! template's sections, parameter declarations with their types and constraints, ARM's value
//! coercion to a declared type, and the `InvalidTemplate` error every template problem
//! becomes.

use serde_json::{Map, Value, json};

use crate::arm::ArmError;
use crate::deploy::value::{json_equals, to_arm_string, type_name};

pub use supplied::supplied_parameters;

/// A problem with the template or its parameters, worded the way ARM words it (the text
/// inside "Deployment template validation failed: '...'").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

impl TemplateError {
    /// `The template {what} '{name}' at '{path}' is not valid: {message}`
    pub fn at(what: &str, name: &str, path: &str, message: impl std::fmt::Display) -> Self {
        let message = message.to_string();
        let message = message.trim_end_matches('.');
        TemplateError(format!(
            "The template {what} '{name}' at '{path}' is not valid: {message}. Please see https://aka.ms/arm-functions for usage details."
        ))
    }

    pub fn into_arm(self) -> ArmError {
        ArmError::bad_request(
            "InvalidTemplate",
            format!("Deployment template validation failed: '{}'.", self.0),
        )
    }
}

impl From<TemplateError> for ArmError {
    fn from(e: TemplateError) -> Self {
        e.into_arm()
    }
}

/// A parameter's declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    String,
    SecureString,
    Int,
    Bool,
    Object,
    SecureObject,
    Array,
}

impl ParamType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "string" => Self::String,
            "securestring" => Self::SecureString,
            "int" => Self::Int,
            "bool" => Self::Bool,
            "object" => Self::Object,
            "secureobject" => Self::SecureObject,
            "array" => Self::Array,
            _ => return None,
        })
    }

    /// How ARM spells the type in deployment `parameters` and `outputs`.
    pub fn display(self) -> &'static str {
        match self {
            Self::String => "String",
            Self::SecureString => "SecureString",
            Self::Int => "Int",
            Self::Bool => "Bool",
            Self::Object => "Object",
            Self::SecureObject => "SecureObject",
            Self::Array => "Array",
        }
    }

    pub fn is_secure(self) -> bool {
        matches!(self, Self::SecureString | Self::SecureObject)
    }

    /// The value type names ARM uses in "Expected a value of type ..." messages.
    fn expected(self) -> &'static str {
        match self {
            Self::String | Self::SecureString => "String, Uri",
            Self::Int => "Integer",
            Self::Bool => "Boolean",
            Self::Object | Self::SecureObject => "Object",
            Self::Array => "Array",
        }
    }

    /// Converts `v` to this type the way ARM does: numeric and boolean strings become
    /// numbers and booleans, JSON text becomes objects and arrays, scalars become strings.
    pub fn coerce(self, v: Value) -> Result<Value, String> {
        let mismatch = |v: &Value| {
            format!(
                "Expected a value of type '{}', but received a value of type '{}'",
                self.expected(),
                type_name(v)
            )
        };
        match (self, v) {
            (_, Value::Null) => Ok(Value::Null),
            (Self::String | Self::SecureString, v @ (Value::Number(_) | Value::Bool(_))) => {
                Ok(Value::String(to_arm_string(&v)))
            }
            (Self::String | Self::SecureString, v @ Value::String(_)) => Ok(v),
            (Self::Int, Value::Number(n)) if n.is_i64() => Ok(Value::Number(n)),
            (Self::Int, Value::Number(n))
                if n.as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.abs() < 9.0e18) =>
            {
                Ok(json!(n.as_f64().unwrap_or_default() as i64))
            }
            (Self::Int, Value::String(s)) if s.trim().parse::<i64>().is_ok() => {
                Ok(json!(s.trim().parse::<i64>().unwrap_or_default()))
            }
            (Self::Bool, v @ Value::Bool(_)) => Ok(v),
            (Self::Bool, Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(json!(true)),
            (Self::Bool, Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(json!(false)),
            (Self::Object | Self::SecureObject, v @ Value::Object(_)) => Ok(v),
            (Self::Array, v @ Value::Array(_)) => Ok(v),
            (Self::Object | Self::SecureObject | Self::Array, Value::String(s)) => {
                match super::jsonc::parse(&s) {
                    Ok(parsed @ Value::Object(_)) if self != Self::Array => Ok(parsed),
                    Ok(parsed @ Value::Array(_)) if self == Self::Array => Ok(parsed),
                    _ => Err(mismatch(&Value::String(s))),
                }
            }
            (_, v) => Err(mismatch(&v)),
        }
    }
}

/// One entry of the template's `parameters` section.
#[derive(Debug, Clone)]
pub struct ParamDef {
    pub name: String,
    pub ty: ParamType,
    pub default: Option<Value>,
    pub allowed: Option<Vec<Value>>,
    pub min_value: Option<i64>,
    pub max_value: Option<i64>,
    pub min_length: Option<i64>,
    pub max_length: Option<i64>,
}

impl ParamDef {
    fn parse(name: &str, v: &Value) -> Result<Self, TemplateError> {
        let bad = |m: &str| TemplateError::at("parameter", name, &format!("parameters.{name}"), m);
        let def = v
            .as_object()
            .ok_or_else(|| bad("the parameter declaration must be an object"))?;
        let field = |k: &str| {
            def.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v)
        };
        let ty = field("type")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("the parameter declaration must have a 'type'"))?;
        let ty = ParamType::parse(ty).ok_or_else(|| {
            bad(&format!(
                "the type '{ty}' is not one of 'string, securestring, int, bool, object, secureobject, array'"
            ))
        })?;
        let int = |k: &str| -> Result<Option<i64>, TemplateError> {
            match field(k) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => ParamType::Int
                    .coerce(v.clone())
                    .ok()
                    .and_then(|v| v.as_i64())
                    .map(Some)
                    .ok_or_else(|| bad(&format!("'{k}' must be an integer"))),
            }
        };
        let allowed = match field("allowedValues") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(a.clone()),
            Some(_) => return Err(bad("'allowedValues' must be an array")),
        };
        Ok(ParamDef {
            name: name.to_string(),
            ty,
            default: field("defaultValue").cloned(),
            allowed,
            min_value: int("minValue")?,
            max_value: int("maxValue")?,
            min_length: int("minLength")?,
            max_length: int("maxLength")?,
        })
    }

    /// Coerces a supplied or default value to the declared type and checks the constraints.
    pub fn accept(&self, v: Value) -> Result<Value, TemplateError> {
        let name = &self.name;
        let v = self.ty.coerce(v).map_err(|m| {
            TemplateError(format!(
                "Template parameter '{name}' was provided an invalid value. {m}. Please see https://aka.ms/arm-create-parameter-file for usage details."
            ))
        })?;
        let invalid = |m: String| {
            TemplateError(format!(
                "The provided value for the template parameter '{name}' is not valid. {m}. Please see https://aka.ms/arm-parameters for usage details."
            ))
        };
        if let Some(allowed) = &self.allowed {
            let candidates: Vec<&Value> = match (&v, self.ty) {
                (Value::Array(items), ParamType::Array) => items.iter().collect(),
                (other, _) => vec![other],
            };
            for c in candidates {
                if !allowed.iter().any(|a| json_equals(a, c)) {
                    let list: Vec<String> = allowed.iter().map(to_arm_string).collect();
                    // A secure value is never echoed, not even in an error.
                    let shown = if self.ty.is_secure() {
                        "(secure value)".to_string()
                    } else {
                        to_arm_string(c)
                    };
                    return Err(invalid(format!(
                        "The value '{shown}' is not part of the allowed value(s): '{}'",
                        list.join(",")
                    )));
                }
            }
        }
        if let Some(n) = v.as_i64() {
            if let Some(min) = self.min_value.filter(|min| n < *min) {
                return Err(invalid(format!(
                    "The value '{n}' is less than the minimum value of '{min}'"
                )));
            }
            if let Some(max) = self.max_value.filter(|max| n > *max) {
                return Err(invalid(format!(
                    "The value '{n}' is greater than the maximum value of '{max}'"
                )));
            }
        }
        let length = match &v {
            Value::String(s) => Some(s.chars().count() as i64),
            Value::Array(a) => Some(a.len() as i64),
            _ => None,
        };
        if let Some(len) = length {
            if let Some(min) = self.min_length.filter(|min| len < *min) {
                return Err(invalid(format!(
                    "The length of the value is '{len}', less than the minimum length of '{min}'"
                )));
            }
            if let Some(max) = self.max_length.filter(|max| len > *max) {
                return Err(invalid(format!(
                    "The length of the value is '{len}', greater than the maximum length of '{max}'"
                )));
            }
        }
        Ok(v)
    }
}

/// A template, split into its sections. Section values stay raw JSON: they are evaluated
/// by the engine, in context.
#[derive(Debug, Clone)]
pub struct Template {
    /// The whole template as given (for `deployment()`, `exportTemplate` and nesting).
    pub raw: Value,
    pub parameters: Vec<ParamDef>,
    pub variables: Map<String, Value>,
    /// Resources with the symbolic name each had (when `resources` is an object).
    pub resources: Vec<(Option<String>, Value)>,
    pub outputs: Map<String, Value>,
}

impl Template {
    pub fn parse(raw: &Value) -> Result<Template, TemplateError> {
        let root = raw
            .as_object()
            .ok_or_else(|| TemplateError("The template must be a JSON object.".into()))?;
        let section = |name: &str| {
            root.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
                .filter(|v| !v.is_null())
        };
        let object = |name: &str| -> Result<Map<String, Value>, TemplateError> {
            match section(name) {
                None => Ok(Map::new()),
                Some(Value::Object(m)) => Ok(m.clone()),
                Some(_) => Err(TemplateError(format!(
                    "The template section '{name}' must be a JSON object."
                ))),
            }
        };
        let parameters = object("parameters")?
            .iter()
            .map(|(name, def)| ParamDef::parse(name, def))
            .collect::<Result<_, _>>()?;
        let resources = match section("resources") {
            None => Vec::new(),
            Some(Value::Array(items)) => items.iter().map(|r| (None, r.clone())).collect(),
            Some(Value::Object(by_name)) => by_name
                .iter()
                .map(|(k, r)| (Some(k.clone()), r.clone()))
                .collect(),
            Some(_) => {
                return Err(TemplateError(
                    "The template section 'resources' must be a JSON array.".into(),
                ));
            }
        };
        // User-defined functions (`namespace.member(...)`) are not evaluated; refusing the
        // template names them rather than failing later on a `.` in an expression.
        if let Some(Value::Array(functions)) = section("functions")
            && !functions.is_empty()
        {
            let namespaces: Vec<&str> = functions
                .iter()
                .filter_map(|f| f.get("namespace").and_then(Value::as_str))
                .collect();
            return Err(TemplateError(format!(
                "The template defines user-defined functions (namespace '{}'); armlet does not evaluate user-defined functions. Write their output expressions inline instead.",
                namespaces.join("', '")
            )));
        }
        for (i, (symbolic, r)) in resources.iter().enumerate() {
            if !r.is_object() {
                let path = match symbolic {
                    Some(s) => format!("resources.{s}"),
                    None => format!("resources[{i}]"),
                };
                return Err(TemplateError(format!(
                    "The template resource at '{path}' must be a JSON object."
                )));
            }
        }
        Ok(Template {
            raw: raw.clone(),
            parameters,
            variables: object("variables")?,
            resources,
            outputs: object("outputs")?,
        })
    }

    pub fn param(&self, name: &str) -> Option<&ParamDef> {
        self.parameters
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

mod supplied;
#[cfg(test)]
mod tests;
