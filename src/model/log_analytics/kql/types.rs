//! The static type of a scalar expression against a schema, so a query naming a column
//! that does not exist, comparing a string with a number or calling a function outside the
//! subset fails before it runs, as in Kusto.

use super::KqlError;
use super::ast::{BinaryOp, Expr};
use crate::model::log_analytics::value::{ColumnType, Value};

pub type Schema = [(String, ColumnType)];

/// The scalar functions of the subset.
pub const SCALAR_FUNCTIONS: &[&str] = &[
    "bin",
    "floor",
    "ago",
    "now",
    "tolower",
    "toupper",
    "strcat",
    "strlen",
    "isnull",
    "isnotnull",
    "isempty",
    "isnotempty",
    "not",
    "round",
    "abs",
    "todouble",
    "toreal",
    "tolong",
    "toint",
    "tostring",
    "iff",
    "iif",
];

fn semantic(msg: String) -> KqlError {
    KqlError::Semantic(msg)
}

fn column_index(schema: &Schema, name: &str) -> Result<usize, KqlError> {
    schema.iter().position(|(n, _)| n == name).ok_or_else(|| {
        semantic(format!(
            "Failed to resolve scalar expression named '{name}'"
        ))
    })
}

/// The type `e` has on rows of `schema`.
pub fn type_of(e: &Expr, schema: &Schema) -> Result<ColumnType, KqlError> {
    use ColumnType::*;
    Ok(match e {
        Expr::Literal(v) => literal_type(v),
        Expr::Column(name) => schema[column_index(schema, name)?].1,
        Expr::Negate(inner) => match type_of(inner, schema)? {
            t @ (Long | Real | TimeSpan) => t,
            t => {
                return Err(semantic(format!(
                    "Cannot negate a value of type {}.",
                    t.as_str()
                )));
            }
        },
        Expr::In { value, list, .. } => {
            type_of(value, schema)?;
            for item in list {
                type_of(item, schema)?;
            }
            Bool
        }
        Expr::Binary(l, op, r) => binary_type(*op, type_of(l, schema)?, type_of(r, schema)?)?,
        Expr::Call(f, args) => call_type(f, args, schema)?,
    })
}

fn literal_type(v: &Value) -> ColumnType {
    match v {
        Value::Bool(_) => ColumnType::Bool,
        Value::Long(_) => ColumnType::Long,
        Value::Real(_) | Value::Null => ColumnType::Real,
        Value::String(_) => ColumnType::String,
        Value::DateTime(_) => ColumnType::DateTime,
        Value::TimeSpan(_) => ColumnType::TimeSpan,
    }
}

fn binary_type(op: BinaryOp, l: ColumnType, r: ColumnType) -> Result<ColumnType, KqlError> {
    use BinaryOp::*;
    use ColumnType::*;
    let mismatch = || {
        semantic(format!(
            "Cannot apply operator '{}' to operands of types {} and {}.",
            op_text(op),
            l.as_str(),
            r.as_str()
        ))
    };
    Ok(match op {
        Or | And if l == Bool && r == Bool => Bool,
        Eq | Ne | Lt | Le | Gt | Ge if l == r || (l.is_numeric() && r.is_numeric()) => Bool,
        EqCi | NeCi | Contains | NotContains | Has | NotHas | StartsWith | NotStartsWith
        | EndsWith | NotEndsWith
            if l == String && r == String =>
        {
            Bool
        }
        Add | Sub | Mul | Div | Mod if l == Long && r == Long => Long,
        Add | Sub | Mul | Div if l.is_numeric() && r.is_numeric() => Real,
        Add if (l, r) == (DateTime, TimeSpan) || (l, r) == (TimeSpan, DateTime) => DateTime,
        Sub if (l, r) == (DateTime, TimeSpan) => DateTime,
        Sub if (l, r) == (DateTime, DateTime) => TimeSpan,
        Add | Sub if (l, r) == (TimeSpan, TimeSpan) => TimeSpan,
        Mul | Div if l == TimeSpan && r.is_numeric() => TimeSpan,
        Div if (l, r) == (TimeSpan, TimeSpan) => Real,
        _ => return Err(mismatch()),
    })
}

fn op_text(op: BinaryOp) -> &'static str {
    use BinaryOp::*;
    match op {
        Or => "or",
        And => "and",
        Eq => "==",
        Ne => "!=",
        EqCi => "=~",
        NeCi => "!~",
        Lt => "<",
        Le => "<=",
        Gt => ">",
        Ge => ">=",
        Contains => "contains",
        NotContains => "!contains",
        Has => "has",
        NotHas => "!has",
        StartsWith => "startswith",
        NotStartsWith => "!startswith",
        EndsWith => "endswith",
        NotEndsWith => "!endswith",
        Add => "+",
        Sub => "-",
        Mul => "*",
        Div => "/",
        Mod => "%",
    }
}

fn call_type(f: &str, args: &[Expr], schema: &Schema) -> Result<ColumnType, KqlError> {
    use ColumnType::*;
    let types = args
        .iter()
        .map(|a| type_of(a, schema))
        .collect::<Result<Vec<_>, _>>()?;
    let arity = |n: std::ops::RangeInclusive<usize>| {
        if n.contains(&types.len()) {
            Ok(())
        } else {
            Err(semantic(format!(
                "Function '{f}' expects {} argument(s), got {}.",
                if n.start() == n.end() {
                    n.start().to_string()
                } else {
                    format!("{}..{}", n.start(), n.end())
                },
                types.len()
            )))
        }
    };
    Ok(match f {
        "bin" | "floor" => {
            arity(2..=2)?;
            match (types[0], types[1]) {
                (DateTime, TimeSpan) | (TimeSpan, TimeSpan) => types[0],
                (a, b) if a.is_numeric() && b.is_numeric() => a,
                (a, b) => {
                    return Err(semantic(format!(
                        "{f}(): cannot round a {} to a {}.",
                        a.as_str(),
                        b.as_str()
                    )));
                }
            }
        }
        "ago" => {
            arity(1..=1)?;
            expect(f, types[0], TimeSpan)?;
            DateTime
        }
        "now" => {
            arity(0..=1)?;
            DateTime
        }
        "tolower" | "toupper" => {
            arity(1..=1)?;
            String
        }
        "strcat" => {
            arity(1..=64)?;
            String
        }
        "strlen" => {
            arity(1..=1)?;
            Long
        }
        "isnull" | "isnotnull" | "isempty" | "isnotempty" => {
            arity(1..=1)?;
            Bool
        }
        "not" => {
            arity(1..=1)?;
            expect(f, types[0], Bool)?;
            Bool
        }
        "round" => {
            arity(1..=2)?;
            Real
        }
        "abs" => {
            arity(1..=1)?;
            types[0]
        }
        "todouble" | "toreal" => {
            arity(1..=1)?;
            Real
        }
        "tolong" | "toint" => {
            arity(1..=1)?;
            Long
        }
        "tostring" => {
            arity(1..=1)?;
            String
        }
        "iff" | "iif" => {
            arity(3..=3)?;
            expect(f, types[0], Bool)?;
            if types[1] != types[2] && !(types[1].is_numeric() && types[2].is_numeric()) {
                return Err(semantic(format!(
                    "{f}(): both branches must have one type."
                )));
            }
            types[1]
        }
        _ if super::eval::AGGREGATES.contains(&f) => {
            return Err(semantic(format!(
                "Function '{f}' is an aggregate: use it in 'summarize'."
            )));
        }
        _ => {
            return Err(KqlError::Unsupported(format!(
                "The function '{f}' is outside armlet's KQL subset, which has: {}.",
                SCALAR_FUNCTIONS.join(", ")
            )));
        }
    })
}

fn expect(f: &str, got: ColumnType, want: ColumnType) -> Result<(), KqlError> {
    if got == want {
        Ok(())
    } else {
        Err(semantic(format!(
            "{f}(): expected a {} argument, got a {}.",
            want.as_str(),
            got.as_str()
        )))
    }
}
