//! Built-in ARM template functions: name lookup (case-insensitive), argument
//! checking, and the logical, comparison and numeric functions. The other
//! families live in the submodules: strings, `format`/dates, collections,
//! resources/deployment, and the hashing functions `uniqueString`/`guid`.

mod collection;
mod format;
mod hash;
mod resource;
mod string;

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::expr::{self, EvalContext, Expr, ExprError};
use super::value::{json_equals, type_name};

/// The implementation of one function, given its evaluated arguments.
pub(crate) type Handler = fn(&Call<'_>) -> Result<Value, ExprError>;

/// One invocation of a built-in function, with helpers that check arity and
/// argument types and report misuse in ARM's words.
pub(crate) struct Call<'a> {
    /// The function's canonical spelling, used in error messages.
    pub name: &'static str,
    pub args: Vec<Value>,
    pub cx: &'a dyn EvalContext,
}

impl Call<'_> {
    pub fn error(&self, message: impl Into<String>) -> ExprError {
        ExprError::function(self.name, message)
    }

    /// Checks that there are between `min` and `max` (inclusive) arguments.
    pub fn arity(&self, min: usize, max: Option<usize>) -> Result<(), ExprError> {
        let n = self.args.len();
        if n >= min && max.is_none_or(|max| n <= max) {
            return Ok(());
        }
        let plural = |k: usize| if k == 1 { "argument" } else { "arguments" };
        let expected = match max {
            Some(max) if max == min => format!("exactly {min} {}", plural(min)),
            Some(max) => format!("between {min} and {max} arguments"),
            None => format!("at least {min} {}", plural(min)),
        };
        Err(self.error(format!("expects {expected}, but was given {n}.")))
    }

    pub fn exact(&self, n: usize) -> Result<(), ExprError> {
        self.arity(n, Some(n))
    }

    pub fn type_error(&self, i: usize, expected: &str) -> ExprError {
        self.error(format!(
            "expects argument {} to be of type '{expected}', but it is of type '{}'.",
            i + 1,
            type_name(&self.args[i])
        ))
    }

    pub fn string(&self, i: usize) -> Result<&str, ExprError> {
        self.args[i]
            .as_str()
            .ok_or_else(|| self.type_error(i, "String"))
    }

    pub fn int(&self, i: usize) -> Result<i64, ExprError> {
        self.args[i]
            .as_i64()
            .ok_or_else(|| self.type_error(i, "Integer"))
    }

    pub fn bool(&self, i: usize) -> Result<bool, ExprError> {
        self.args[i]
            .as_bool()
            .ok_or_else(|| self.type_error(i, "Boolean"))
    }

    pub fn array(&self, i: usize) -> Result<&Vec<Value>, ExprError> {
        self.args[i]
            .as_array()
            .ok_or_else(|| self.type_error(i, "Array"))
    }

    pub fn object(&self, i: usize) -> Result<&Map<String, Value>, ExprError> {
        self.args[i]
            .as_object()
            .ok_or_else(|| self.type_error(i, "Object"))
    }

    /// Fails unless the context allows non-deterministic functions
    /// (`utcNow`, `newGuid`), i.e. outside parameter default values.
    pub fn require_nondeterministic(&self) -> Result<(), ExprError> {
        if self.cx.allow_nondeterministic() {
            Ok(())
        } else {
            Err(self.error(
                "is not expected at this location. \
                 It can only be used in the default value of a parameter.",
            ))
        }
    }

    /// Argument `i` as a string, or `None` when it was not given.
    pub fn opt_string(&self, i: usize) -> Result<Option<&str>, ExprError> {
        if i < self.args.len() {
            self.string(i).map(Some)
        } else {
            Ok(None)
        }
    }
}

const FUNCTIONS: &[(&str, Handler)] = &[
    ("true", |c| c.exact(0).map(|_| Value::Bool(true))),
    ("false", |c| c.exact(0).map(|_| Value::Bool(false))),
    ("null", |c| c.exact(0).map(|_| Value::Null)),
    ("if", |c| if_(c.cx, c.args.len(), |i| Ok(c.args[i].clone()))),
    ("and", |c| {
        and_or("and", c.cx, c.args.len(), |i| Ok(c.args[i].clone()))
    }),
    ("or", |c| {
        and_or("or", c.cx, c.args.len(), |i| Ok(c.args[i].clone()))
    }),
    ("not", not),
    ("bool", bool_),
    ("equals", equals),
    ("less", |c| compare(c, Ordering::is_lt)),
    ("lessOrEquals", |c| compare(c, Ordering::is_le)),
    ("greater", |c| compare(c, Ordering::is_gt)),
    ("greaterOrEquals", |c| compare(c, Ordering::is_ge)),
    ("add", |c| arithmetic(c, i64::checked_add)),
    ("sub", |c| arithmetic(c, i64::checked_sub)),
    ("mul", |c| arithmetic(c, i64::checked_mul)),
    ("div", |c| division(c, i64::checked_div)),
    ("mod", |c| division(c, i64::checked_rem)),
    ("int", int),
    ("float", float),
    ("min", |c| min_max(c, Ordering::is_lt)),
    ("max", |c| min_max(c, Ordering::is_gt)),
];

/// Finds a built-in function by case-insensitive name.
fn lookup(name: &str) -> Option<(&'static str, Handler)> {
    [
        FUNCTIONS,
        string::FUNCTIONS,
        format::FUNCTIONS,
        collection::FUNCTIONS,
        resource::FUNCTIONS,
        hash::FUNCTIONS,
    ]
    .into_iter()
    .flatten()
    .find(|(canonical, _)| canonical.eq_ignore_ascii_case(name))
    .copied()
}

/// Whether `name` is one of the `list*` resource functions (`listKeys`, ...).
fn is_list_function(name: &str) -> bool {
    name.len() > 4
        && name
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("list"))
}

/// Evaluates a call expression. `if`, `and` and `or` evaluate their
/// arguments lazily (only the taken branch / until the result is known);
/// everything else evaluates all arguments first.
pub fn call(name: &str, args: &[Expr], cx: &dyn EvalContext) -> Result<Value, ExprError> {
    let lazy = |i: usize| expr::evaluate(&args[i], cx);
    if name.eq_ignore_ascii_case("if") {
        return if_(cx, args.len(), lazy);
    }
    for logical in ["and", "or"] {
        if name.eq_ignore_ascii_case(logical) {
            return and_or(logical, cx, args.len(), lazy);
        }
    }
    if lookup(name).is_none() && !is_list_function(name) {
        return Err(ExprError::UnknownFunction(name.to_string()));
    }
    let values = args
        .iter()
        .map(|arg| expr::evaluate(arg, cx))
        .collect::<Result<Vec<_>, _>>()?;
    invoke(name, values, cx)
}

/// Invokes a built-in function on already-evaluated arguments.
pub fn invoke(name: &str, args: Vec<Value>, cx: &dyn EvalContext) -> Result<Value, ExprError> {
    match lookup(name) {
        Some((canonical, handler)) => handler(&Call {
            name: canonical,
            args,
            cx,
        }),
        None if is_list_function(name) => resource::list(name, args, cx),
        None => Err(ExprError::UnknownFunction(name.to_string())),
    }
}

/// `if(condition, trueValue, falseValue)`; `arg(i)` produces argument `i`,
/// and only the condition and the taken branch are produced.
fn if_(
    cx: &dyn EvalContext,
    count: usize,
    mut arg: impl FnMut(usize) -> Result<Value, ExprError>,
) -> Result<Value, ExprError> {
    let mut c = Call {
        name: "if",
        args: vec![Value::Null; count],
        cx,
    };
    c.exact(3)?;
    c.args[0] = arg(0)?;
    arg(if c.bool(0)? { 1 } else { 2 })
}

/// `and(...)` / `or(...)`; `arg(i)` produces argument `i`, and arguments are
/// only produced until the result is known.
fn and_or(
    name: &'static str,
    cx: &dyn EvalContext,
    count: usize,
    mut arg: impl FnMut(usize) -> Result<Value, ExprError>,
) -> Result<Value, ExprError> {
    let is_and = name == "and";
    let mut c = Call {
        name,
        args: vec![Value::Null; count],
        cx,
    };
    c.arity(2, None)?;
    for i in 0..count {
        c.args[i] = arg(i)?;
        if c.bool(i)? != is_and {
            return Ok(Value::Bool(!is_and));
        }
    }
    Ok(Value::Bool(is_and))
}

fn not(c: &Call) -> Result<Value, ExprError> {
    c.exact(1)?;
    Ok(Value::Bool(!c.bool(0)?))
}

/// `bool(value)`: booleans, the strings `true`/`false` (any case), and
/// integers (non-zero is true).
fn bool_(c: &Call) -> Result<Value, ExprError> {
    c.exact(1)?;
    let result = match &c.args[0] {
        Value::Bool(b) => *b,
        Value::String(s) if s.eq_ignore_ascii_case("true") => true,
        Value::String(s) if s.eq_ignore_ascii_case("false") => false,
        Value::String(s) => {
            return Err(c.error(format!(
                "cannot convert the string '{s}' to a boolean: expected 'true' or 'false'."
            )));
        }
        Value::Number(n) if n.is_i64() => n.as_i64() != Some(0),
        _ => return Err(c.type_error(0, "Boolean, String or Integer")),
    };
    Ok(Value::Bool(result))
}

/// `equals(a, b)`: deep equality; strings compare case-sensitively, as ARM does.
fn equals(c: &Call) -> Result<Value, ExprError> {
    c.exact(2)?;
    Ok(Value::Bool(json_equals(&c.args[0], &c.args[1])))
}

/// `less`, `greater`, ...: both integers/numbers, or both strings (ordinal).
fn compare(c: &Call, accept: fn(Ordering) -> bool) -> Result<Value, ExprError> {
    c.exact(2)?;
    let ordering = match (&c.args[0], &c.args[1]) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => {
                let (a, b) = (
                    a.as_f64().unwrap_or(f64::NAN),
                    b.as_f64().unwrap_or(f64::NAN),
                );
                a.partial_cmp(&b)
                    .ok_or_else(|| c.error("cannot compare these numbers."))?
            }
        },
        (Value::String(a), Value::String(b)) => a.cmp(b),
        (a, b) => {
            return Err(c.error(format!(
                "expects two integers or two strings, but was given '{}' and '{}'.",
                type_name(a),
                type_name(b)
            )));
        }
    };
    Ok(Value::Bool(accept(ordering)))
}

fn arithmetic(c: &Call, op: fn(i64, i64) -> Option<i64>) -> Result<Value, ExprError> {
    c.exact(2)?;
    let (a, b) = (c.int(0)?, c.int(1)?);
    op(a, b)
        .map(Value::from)
        .ok_or_else(|| c.error(format!("overflowed computing the result for {a} and {b}.")))
}

fn division(c: &Call, op: fn(i64, i64) -> Option<i64>) -> Result<Value, ExprError> {
    c.exact(2)?;
    if c.int(1)? == 0 {
        c.int(0)?;
        return Err(c.error("cannot divide by zero."));
    }
    arithmetic(c, op)
}

/// `int(value)`: integers, numeric strings, and floats (truncated).
fn int(c: &Call) -> Result<Value, ExprError> {
    c.exact(1)?;
    match &c.args[0] {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Value::from)
            .ok_or_else(|| c.error(format!("cannot convert '{n}' to an integer."))),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| c.error(format!("cannot convert the string '{s}' to an integer."))),
        _ => Err(c.type_error(0, "Integer or String")),
    }
}

/// `float(value)`: integers, floats and numeric strings.
fn float(c: &Call) -> Result<Value, ExprError> {
    c.exact(1)?;
    let f = match &c.args[0] {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => return Err(c.type_error(0, "Integer, Float or String")),
    };
    f.and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| {
            c.error(format!(
                "cannot convert '{}' to a floating point number.",
                super::value::to_arm_string(&c.args[0])
            ))
        })
}

/// `min`/`max`: over integer arguments, or the integers of array arguments.
fn min_max(c: &Call, better: fn(Ordering) -> bool) -> Result<Value, ExprError> {
    c.arity(1, None)?;
    let mut best: Option<i64> = None;
    for (i, arg) in c.args.iter().enumerate() {
        let items = match arg {
            Value::Array(items) => items.as_slice(),
            other => std::slice::from_ref(other),
        };
        for item in items {
            let n = item.as_i64().ok_or_else(|| {
                c.error(format!(
                    "expects integers or arrays of integers, but argument {} contains a value of type '{}'.",
                    i + 1,
                    type_name(item)
                ))
            })?;
            if best.is_none_or(|b| better(n.cmp(&b))) {
                best = Some(n);
            }
        }
    }
    best.map(Value::from)
        .ok_or_else(|| c.error("expects at least one integer, but was given an empty array."))
}

#[cfg(test)]
mod tests {
    use super::invoke;
    use crate::deploy::expr::ExprError;
    use crate::deploy::test_support::{TestContext, run, run_err};
    use serde_json::json;

    #[test]
    fn invoke_takes_evaluated_arguments() {
        let cx = TestContext::default();
        let args = vec![json!(false), json!(1), json!(2)];
        assert_eq!(invoke("IF", args, &cx).unwrap(), json!(2));
        let args = vec![json!(true), json!(false)];
        assert_eq!(invoke("and", args.clone(), &cx).unwrap(), json!(false));
        assert_eq!(invoke("or", args, &cx).unwrap(), json!(true));
        assert_eq!(
            invoke("concat", vec![json!("a"), json!("b")], &cx).unwrap(),
            json!("ab")
        );
        assert_eq!(
            invoke("nope", vec![], &cx),
            Err(ExprError::UnknownFunction("nope".to_string()))
        );
        assert!(invoke("and", vec![json!(true), json!(1)], &cx).is_err());
    }

    #[test]
    fn non_ascii_names_are_unknown_functions() {
        assert!(run_err("lisé()").contains("'lisé' is not valid"));
        assert!(run_err("é()").contains("'é' is not valid"));
    }

    #[test]
    fn literal_functions() {
        assert_eq!(run("true()"), json!(true));
        assert_eq!(run("FALSE()"), json!(false));
        assert_eq!(run("null()"), json!(null));
        assert!(
            run_err("true(1)").contains("'true' expects exactly 0 arguments, but was given 1.")
        );
    }

    #[test]
    fn unknown_function() {
        assert_eq!(
            run_err("frobnicate(1)"),
            "The template function 'frobnicate' is not valid. Please see https://aka.ms/arm-template-expressions for usage details."
        );
    }

    #[test]
    fn function_names_are_case_insensitive() {
        assert_eq!(run("EQUALS(1, 1)"), json!(true));
        assert_eq!(run("toupper('a')"), json!("A"));
        assert_eq!(run("ResourceGroup().name"), json!("rg1"));
    }

    #[test]
    fn if_is_lazy() {
        assert_eq!(run("if(true(), 'yes', div(1, 0))"), json!("yes"));
        assert_eq!(run("if(equals(1, 2), div(1, 0), 'no')"), json!("no"));
        assert!(run_err("if('x', 1, 2)").contains("expects argument 1 to be of type 'Boolean'"));
        assert!(run_err("if(true(), 1)").contains("exactly 3 arguments"));
    }

    #[test]
    fn and_or_short_circuit() {
        assert_eq!(run("and(true(), true(), true())"), json!(true));
        assert_eq!(run("and(true(), false(), div(1, 0))"), json!(false));
        assert_eq!(run("or(false(), true(), div(1, 0))"), json!(true));
        assert_eq!(run("or(false(), false())"), json!(false));
        assert!(run_err("and(true())").contains("'and' expects at least 2 arguments"));
        assert!(
            run_err("or(false(), 'x')").contains("'or' expects argument 2 to be of type 'Boolean'")
        );
    }

    #[test]
    fn not_and_bool() {
        assert_eq!(run("not(false())"), json!(true));
        assert!(run_err("not(1)").contains(
            "'not' expects argument 1 to be of type 'Boolean', but it is of type 'Integer'."
        ));
        assert_eq!(run("bool('TRUE')"), json!(true));
        assert_eq!(run("bool('false')"), json!(false));
        assert_eq!(run("bool(0)"), json!(false));
        assert_eq!(run("bool(5)"), json!(true));
        assert!(run_err("bool('yes')").contains("cannot convert the string 'yes'"));
        assert!(run_err("bool(createArray())").contains("'bool'"));
    }

    #[test]
    fn equals_is_deep_and_case_sensitive() {
        assert_eq!(run("equals('a', 'a')"), json!(true));
        assert_eq!(run("equals('a', 'A')"), json!(false));
        assert_eq!(run("equals(1, '1')"), json!(false));
        assert_eq!(
            run("equals(createArray(1, 'b'), createArray(1, 'b'))"),
            json!(true)
        );
        assert_eq!(
            run("equals(createObject('a', 1, 'b', 2), json('{\"b\": 2, \"a\": 1}'))"),
            json!(true)
        );
        assert_eq!(run("equals(null(), null())"), json!(true));
        assert!(run_err("equals(1)").contains("exactly 2 arguments"));
    }

    #[test]
    fn ordering_comparisons() {
        assert_eq!(run("less(1, 2)"), json!(true));
        assert_eq!(run("less(2, 2)"), json!(false));
        assert_eq!(run("lessOrEquals(2, 2)"), json!(true));
        assert_eq!(run("greater(3, -1)"), json!(true));
        assert_eq!(run("greaterOrEquals(-1, 3)"), json!(false));
        assert_eq!(run("less('a', 'b')"), json!(true));
        assert_eq!(run("greater('B', 'a')"), json!(false));
        assert_eq!(run("less(float('1.5'), 2)"), json!(true));
        assert!(run_err("less(1, 'a')").contains(
            "'less' expects two integers or two strings, but was given 'Integer' and 'String'."
        ));
    }

    #[test]
    fn arithmetic() {
        assert_eq!(run("add(2, 3)"), json!(5));
        assert_eq!(run("sub(2, 3)"), json!(-1));
        assert_eq!(run("mul(-4, 3)"), json!(-12));
        assert_eq!(run("div(7, 2)"), json!(3));
        assert_eq!(run("div(-7, 2)"), json!(-3));
        assert_eq!(run("mod(7, 3)"), json!(1));
        assert_eq!(run("mod(-7, 3)"), json!(-1));
        assert_eq!(
            run_err("div(1, 0)"),
            "The template function 'div' cannot divide by zero."
        );
        assert!(run_err("mod(1, 0)").contains("cannot divide by zero"));
        assert!(run_err("add(9223372036854775807, 1)").contains("'add' overflowed"));
        assert!(run_err("add('1', 2)").contains(
            "'add' expects argument 1 to be of type 'Integer', but it is of type 'String'."
        ));
        assert!(run_err("div(1, 'x')").contains("argument 2"));
        assert!(run_err("mul(1)").contains("exactly 2 arguments, but was given 1"));
    }

    #[test]
    fn int_and_float() {
        assert_eq!(run("int('42')"), json!(42));
        assert_eq!(run("int(' -7 ')"), json!(-7));
        assert_eq!(run("int(7)"), json!(7));
        assert_eq!(run("int(float('2.9'))"), json!(2));
        assert!(run_err("int('4x')").contains("cannot convert the string '4x' to an integer"));
        assert!(run_err("int(true())").contains("'int' expects argument 1"));
        assert_eq!(run("float('1.25')"), json!(1.25));
        assert_eq!(run("float(2)"), json!(2.0));
        assert!(run_err("float('abc')").contains("'float' cannot convert 'abc'"));
        assert!(run_err("float(null())").contains("'float' expects argument 1"));
    }

    #[test]
    fn min_and_max() {
        assert_eq!(run("min(3, 1, 2)"), json!(1));
        assert_eq!(run("max(3, 1, 2)"), json!(3));
        assert_eq!(run("min(createArray(0, -3, 7))"), json!(-3));
        assert_eq!(run("max(createArray(0, 3), 9)"), json!(9));
        assert!(run_err("max(createArray())").contains("empty array"));
        assert!(run_err("min(1, 'a')").contains("argument 2 contains a value of type 'String'"));
        assert!(run_err("min()").contains("at least 1 argument,"));
    }
}
