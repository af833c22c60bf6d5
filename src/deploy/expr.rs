//! The ARM template expression language: the AST, errors, the
//! [`EvalContext`] through which a deployment supplies everything
//! deployment-specific (parameters, resources, ...), and the evaluator
//! producing `serde_json::Value`s. A template string is an expression when it
//! starts with `[` and ends with `]`; a leading `[[` escapes a literal `[`.
//! Parsing lives in `parser.rs`, the built-in functions in
//! [`super::functions`].

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{functions, parser, value};

/// An error parsing or evaluating an expression. Messages follow the wording
/// of ARM's `InvalidTemplate` errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    #[error(
        "Unable to parse language expression '{expression}': {message} (at position {position})."
    )]
    Parse {
        expression: String,
        /// Character offset into `expression`.
        position: usize,
        message: String,
    },
    #[error(
        "The template function '{0}' is not valid. Please see https://aka.ms/arm-template-expressions for usage details."
    )]
    UnknownFunction(String),
    /// A built-in function was misused; `message` completes the sentence
    /// "The template function 'NAME' ...".
    #[error("The template function '{function}' {message}")]
    Function { function: String, message: String },
    #[error(
        "The language expression property '{property}' doesn't exist, available properties are '{available}'."
    )]
    PropertyNotFound { property: String, available: String },
    #[error(
        "The language expression property '{property}' can't be evaluated on a value of type '{actual}'."
    )]
    InvalidPropertyAccess {
        property: String,
        actual: &'static str,
    },
    #[error(
        "The language expression property array index '{index}' is out of bounds: the array has {length} element(s)."
    )]
    IndexOutOfBounds { index: i64, length: usize },
    #[error(
        "The template parameter '{0}' is not found. Please see https://aka.ms/arm-syntax-parameters for usage details."
    )]
    ParameterNotFound(String),
    #[error(
        "The template variable '{0}' is not found. Please see https://aka.ms/arm-syntax-variables for usage details."
    )]
    VariableNotFound(String),
    /// Any other failure, typically raised by an [`EvalContext`].
    #[error("{0}")]
    Other(String),
}

impl ExprError {
    /// An error about the use of the template function `function`; `message`
    /// completes "The template function 'NAME' ...".
    pub fn function(function: &str, message: impl Into<String>) -> Self {
        ExprError::Function {
            function: function.to_string(),
            message: message.into(),
        }
    }
}

/// The AST of a template language expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `'text'`
    String(String),
    /// `42`, `-1`
    Integer(i64),
    /// Bare `true` / `false` (ARM proper spells these `true()` / `false()`).
    Bool(bool),
    /// Bare `null`.
    Null,
    /// `name(arg, ...)`; `name` keeps its original spelling.
    Call { name: String, args: Vec<Expr> },
    /// `target.name`
    Property { target: Box<Expr>, name: String },
    /// `target[index]`
    Index { target: Box<Expr>, index: Box<Expr> },
}

impl fmt::Display for Expr {
    /// Renders the expression back as template language text (without the
    /// outer brackets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Expr::Integer(i) => write!(f, "{i}"),
            Expr::Bool(b) => write!(f, "{b}"),
            Expr::Null => f.write_str("null"),
            Expr::Call { name, args } => {
                write!(f, "{name}(")?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{arg}")?;
                }
                f.write_str(")")
            }
            Expr::Property { target, name } => write!(f, "{target}.{name}"),
            Expr::Index { target, index } => write!(f, "{target}[{index}]"),
        }
    }
}

/// What the template engine supplies; everything deployment-specific goes
/// through here.
pub trait EvalContext {
    fn parameter(&self, name: &str) -> Result<Value, ExprError>;
    fn variable(&self, name: &str) -> Result<Value, ExprError>;
    /// `reference(resourceNameOrId, apiVersion?, 'Full'?)`
    fn reference(
        &self,
        name_or_id: &str,
        api_version: Option<&str>,
        full: bool,
    ) -> Result<Value, ExprError>;
    /// `{id, subscriptionId, tenantId, displayName}`
    fn subscription(&self) -> Value;
    /// `{id, name, location, properties: {provisioningState}, type, tags}`
    fn resource_group(&self) -> Value;
    /// `{name, properties: {templateLink?, parameters, mode, ...}}`
    fn deployment(&self) -> Value;
    /// `{name, resourceManager, ...}`
    fn environment(&self) -> Value;
    fn providers(&self, namespace: &str, resource_type: Option<&str>) -> Result<Value, ExprError>;
    /// `copyIndex(loopName?, offset?)` support: the current index of the named
    /// or innermost copy loop.
    fn copy_index(&self, loop_name: Option<&str>) -> Result<i64, ExprError>;
    /// True only while evaluating parameter defaults (`utcNow` / `newGuid`
    /// are only allowed there).
    fn allow_nondeterministic(&self) -> bool;
    /// `list*(resourceNameOrId, apiVersion, functionValues?)`, e.g. `listKeys`.
    /// `function` is the name as written in the template.
    fn list(
        &self,
        function: &str,
        resource_id: &str,
        api_version: &str,
        body: Option<&Value>,
    ) -> Result<Value, ExprError> {
        let _ = (resource_id, api_version, body);
        Err(ExprError::function(
            function,
            "is not supported by this deployment engine.",
        ))
    }
    /// The clock used by `utcNow()`.
    fn utc_now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    /// The source of `newGuid()` values.
    fn new_guid(&self) -> Uuid {
        Uuid::new_v4()
    }
}

/// Whether a template string is a language expression (`[...]` but not `[[...`).
pub fn is_expression(s: &str) -> bool {
    s.len() >= 2 && s.starts_with('[') && s.ends_with(']') && !s.starts_with("[[")
}

/// Parses the text inside the outer `[` `]` of an expression.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    parser::parse(src)
}

/// Evaluates a parsed expression.
pub fn evaluate(expr: &Expr, cx: &dyn EvalContext) -> Result<Value, ExprError> {
    match expr {
        Expr::String(s) => Ok(Value::String(s.clone())),
        Expr::Integer(i) => Ok(Value::from(*i)),
        Expr::Bool(b) => Ok(Value::Bool(*b)),
        Expr::Null => Ok(Value::Null),
        Expr::Call { name, args } => functions::call(name, args, cx),
        Expr::Property { target, name } => value::property(&evaluate(target, cx)?, name),
        Expr::Index { target, index } => {
            value::index(&evaluate(target, cx)?, &evaluate(index, cx)?)
        }
    }
}

/// Evaluates one template string: an expression is parsed and evaluated, a
/// `[[`-escaped string loses its first `[`, anything else is returned as-is.
pub fn eval_str(s: &str, cx: &dyn EvalContext) -> Result<Value, ExprError> {
    if is_expression(s) {
        evaluate(&parse(&s[1..s.len() - 1])?, cx)
    } else if s.starts_with("[[") && s.ends_with(']') {
        Ok(Value::String(s[1..].to_string()))
    } else {
        Ok(Value::String(s.to_string()))
    }
}

/// Evaluates a JSON template value: strings that are expressions are
/// evaluated, `[[` unescaped, objects and arrays recursed (object keys are
/// left alone).
pub fn eval_value(v: &Value, cx: &dyn EvalContext) -> Result<Value, ExprError> {
    match v {
        Value::String(s) => eval_str(s, cx),
        Value::Array(items) => items
            .iter()
            .map(|item| eval_value(item, cx))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(map) => map
            .iter()
            .map(|(k, item)| Ok((k.clone(), eval_value(item, cx)?)))
            .collect::<Result<serde_json::Map<_, _>, ExprError>>()
            .map(Value::Object),
        other => Ok(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::test_support::{TestContext, run, run_err};
    use serde_json::json;

    #[test]
    fn expression_detection_and_escaping() {
        assert!(is_expression("[parameters('a')]"));
        assert!(!is_expression("[[parameters('a')]"));
        assert!(!is_expression("plain"));
        assert!(!is_expression("[not closed"));
        assert!(!is_expression("["));
        let cx = TestContext::default();
        assert_eq!(eval_str("[[literal]", &cx).unwrap(), json!("[literal]"));
        assert_eq!(eval_str("[[[x]]", &cx).unwrap(), json!("[[x]]"));
        assert_eq!(
            eval_str("[[not an expression", &cx).unwrap(),
            json!("[[not an expression")
        );
        assert_eq!(eval_str("plain text", &cx).unwrap(), json!("plain text"));
        assert_eq!(eval_str("[concat('[', ']')]", &cx).unwrap(), json!("[]"));
        assert_eq!(eval_str("[ parameters('count') ]", &cx).unwrap(), json!(3));
        assert!(matches!(eval_str("[]", &cx), Err(ExprError::Parse { .. })));
    }

    #[test]
    fn eval_value_recurses_into_objects_and_arrays() {
        let template = json!({
            "name": "[concat(variables('prefix'), '-', parameters('name'))]",
            "[notEvaluated()]": ["[[escaped]", "[parameters('count')]", 5, true, null],
            "nested": {"location": "[resourceGroup().location]"},
        });
        let result = eval_value(&template, &TestContext::default()).unwrap();
        assert_eq!(
            result,
            json!({
                "name": "app-web",
                "[notEvaluated()]": ["[escaped]", 3, 5, true, null],
                "nested": {"location": "westus"},
            })
        );
        let err = eval_value(&json!({"a": ["[div(1, 0)]"]}), &TestContext::default());
        assert!(err.is_err());
    }

    #[test]
    fn evaluates_literals_and_accessors() {
        assert_eq!(run("'x'"), json!("x"));
        assert_eq!(run("-5"), json!(-5));
        assert_eq!(run("null"), json!(null));
        assert_eq!(run("parameters('list')[1]"), json!("b"));
        assert_eq!(run("parameters('tags')['owner']"), json!("me"));
        assert_eq!(run("createArray(createArray(1, 2))[0][1]"), json!(2));
    }

    #[test]
    fn accessor_errors() {
        assert_eq!(
            run_err("variables('nested').missing"),
            "The language expression property 'missing' doesn't exist, available properties are 'Inner'."
        );
        assert!(run_err("parameters('list')[5]").contains("array index '5' is out of bounds"));
        assert!(
            run_err("parameters('name').length")
                .contains("can't be evaluated on a value of type 'String'")
        );
        assert!(
            run_err("parameters('list')['a']")
                .contains("'a' can't be evaluated on a value of type 'Array'")
        );
    }

    #[test]
    fn errors_are_reported_from_nested_calls() {
        assert_eq!(
            run_err("concat('a', add(1, 'x'))"),
            "The template function 'add' expects argument 2 to be of type 'Integer', but it is of type 'String'."
        );
    }
}
