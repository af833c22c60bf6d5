//! Scalar expressions on one row.
//!
//! Nulls propagate through arithmetic and functions; a comparison with a null is null, and
//! `where` keeps only rows whose predicate is `true`.

use chrono::{DateTime, TimeDelta, Utc};

use super::ast::{BinaryOp, Expr};
use super::types::Schema;
use crate::model::log_analytics::value::Value;

/// The value of `e` on `row` (already type-checked against the row's schema).
pub fn eval(e: &Expr, schema: &Schema, row: &[Value], now: DateTime<Utc>) -> Value {
    match e {
        Expr::Literal(v) => v.clone(),
        Expr::Column(name) => schema
            .iter()
            .position(|(n, _)| n == name)
            .map_or(Value::Null, |i| row[i].clone()),
        Expr::Negate(inner) => match eval(inner, schema, row, now) {
            Value::Long(v) => Value::Long(-v),
            Value::Real(v) => Value::Real(-v),
            Value::TimeSpan(d) => Value::TimeSpan(-d),
            _ => Value::Null,
        },
        Expr::In {
            value,
            list,
            negated,
            case_insensitive,
        } => {
            let v = eval(value, schema, row, now);
            if v.is_null() {
                return Value::Bool(*negated);
            }
            let found = list.iter().any(|item| {
                let item = eval(item, schema, row, now);
                match (&v, &item, case_insensitive) {
                    (Value::String(a), Value::String(b), true) => a.eq_ignore_ascii_case(b),
                    _ => v.compare(&item).is_eq() && !item.is_null(),
                }
            });
            Value::Bool(found != *negated)
        }
        Expr::Binary(l, op, r) => binary(*op, eval(l, schema, row, now), eval(r, schema, row, now)),
        Expr::Call(f, args) => {
            let args: Vec<Value> = args.iter().map(|a| eval(a, schema, row, now)).collect();
            call(f, &args, now)
        }
    }
}

fn has_term(haystack: &str, term: &str) -> bool {
    let term = term.to_lowercase();
    haystack
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .any(|t| t == term)
}

fn binary(op: BinaryOp, l: Value, r: Value) -> Value {
    use BinaryOp::*;
    use Value as V;
    if matches!(op, And | Or) {
        let (a, b) = (l.as_bool().unwrap_or(false), r.as_bool().unwrap_or(false));
        return V::Bool(if op == And { a && b } else { a || b });
    }
    if l.is_null() || r.is_null() {
        return V::Null;
    }
    let strings = match (&l, &r) {
        (V::String(a), V::String(b)) => Some((a.as_str(), b.as_str())),
        _ => None,
    };
    let ord = l.compare(&r);
    match op {
        Eq => V::Bool(ord.is_eq()),
        Ne => V::Bool(!ord.is_eq()),
        Lt => V::Bool(ord.is_lt()),
        Le => V::Bool(ord.is_le()),
        Gt => V::Bool(ord.is_gt()),
        Ge => V::Bool(ord.is_ge()),
        EqCi | NeCi | Contains | NotContains | Has | NotHas | StartsWith | NotStartsWith
        | EndsWith | NotEndsWith => {
            let Some((a, b)) = strings else {
                return V::Null;
            };
            let (la, lb) = (a.to_lowercase(), b.to_lowercase());
            V::Bool(match op {
                EqCi => la == lb,
                NeCi => la != lb,
                Contains => la.contains(&lb),
                NotContains => !la.contains(&lb),
                Has => has_term(a, b),
                NotHas => !has_term(a, b),
                StartsWith => la.starts_with(&lb),
                NotStartsWith => !la.starts_with(&lb),
                EndsWith => la.ends_with(&lb),
                _ => !la.ends_with(&lb),
            })
        }
        Add | Sub | Mul | Div | Mod => arithmetic(op, l, r),
        And | Or => unreachable!("handled above"),
    }
}

fn arithmetic(op: BinaryOp, l: Value, r: Value) -> Value {
    use BinaryOp::*;
    use Value as V;
    match (op, l, r) {
        (_, V::Long(a), V::Long(b)) => match op {
            Add => a.checked_add(b).map_or(V::Null, V::Long),
            Sub => a.checked_sub(b).map_or(V::Null, V::Long),
            Mul => a.checked_mul(b).map_or(V::Null, V::Long),
            Div => a.checked_div(b).map_or(V::Null, V::Long),
            _ => a.checked_rem(b).map_or(V::Null, V::Long),
        },
        (Add, V::DateTime(t), V::TimeSpan(d)) | (Add, V::TimeSpan(d), V::DateTime(t)) => {
            V::DateTime(t + d)
        }
        (Sub, V::DateTime(t), V::TimeSpan(d)) => V::DateTime(t - d),
        (Sub, V::DateTime(a), V::DateTime(b)) => V::TimeSpan(a - b),
        (Add, V::TimeSpan(a), V::TimeSpan(b)) => V::TimeSpan(a + b),
        (Sub, V::TimeSpan(a), V::TimeSpan(b)) => V::TimeSpan(a - b),
        (Div, V::TimeSpan(a), V::TimeSpan(b)) => match (a.num_nanoseconds(), b.num_nanoseconds()) {
            (Some(x), Some(y)) if y != 0 => V::Real(x as f64 / y as f64),
            _ => V::Null,
        },
        (Mul | Div, V::TimeSpan(d), n) => match (d.num_nanoseconds(), n.as_f64()) {
            (Some(ns), Some(f)) if !(op == Div && f == 0.0) => {
                let scaled = if op == Mul {
                    ns as f64 * f
                } else {
                    ns as f64 / f
                };
                V::TimeSpan(TimeDelta::nanoseconds(scaled as i64))
            }
            _ => V::Null,
        },
        (_, a, b) => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => V::Real(match op {
                Add => x + y,
                Sub => x - y,
                Mul => x * y,
                Div => x / y,
                _ => x % y,
            }),
            _ => V::Null,
        },
    }
}

/// `bin(value, size)`: `value` rounded down to a multiple of `size` (datetimes from the Unix
/// epoch, which puts minutes, hours and days on their boundaries).
pub fn bin(value: &Value, size: &Value) -> Value {
    match (value, size) {
        (Value::DateTime(t), Value::TimeSpan(d)) => {
            let (Some(ns), Some(step)) = (t.timestamp_nanos_opt(), d.num_nanoseconds()) else {
                return Value::Null;
            };
            if step <= 0 {
                return Value::Null;
            }
            Value::DateTime(DateTime::from_timestamp_nanos(ns - ns.rem_euclid(step)))
        }
        (Value::TimeSpan(v), Value::TimeSpan(d)) => {
            match (v.num_nanoseconds(), d.num_nanoseconds()) {
                (Some(ns), Some(step)) if step > 0 => {
                    Value::TimeSpan(TimeDelta::nanoseconds(ns - ns.rem_euclid(step)))
                }
                _ => Value::Null,
            }
        }
        (Value::Long(v), Value::Long(s)) if *s > 0 => Value::Long(v - v.rem_euclid(*s)),
        (v, s) => match (v.as_f64(), s.as_f64()) {
            (Some(x), Some(step)) if step > 0.0 => {
                let floored = (x / step).floor() * step;
                if matches!(v, Value::Long(_)) {
                    Value::Long(floored as i64)
                } else {
                    Value::Real(floored)
                }
            }
            _ => Value::Null,
        },
    }
}

fn call(f: &str, args: &[Value], now: DateTime<Utc>) -> Value {
    use Value as V;
    let text = |v: &Value| match v {
        V::Null => String::new(),
        V::String(s) => s.clone(),
        other => other.to_json().to_string().trim_matches('"').to_string(),
    };
    match f {
        "bin" | "floor" => bin(&args[0], &args[1]),
        "ago" => match &args[0] {
            V::TimeSpan(d) => V::DateTime(now - *d),
            _ => V::Null,
        },
        "now" => match args.first() {
            Some(V::TimeSpan(d)) => V::DateTime(now + *d),
            _ => V::DateTime(now),
        },
        "tolower" => V::String(text(&args[0]).to_lowercase()),
        "toupper" => V::String(text(&args[0]).to_uppercase()),
        "strcat" => V::String(args.iter().map(text).collect()),
        "strlen" => V::Long(text(&args[0]).chars().count() as i64),
        "isnull" => V::Bool(args[0].is_null()),
        "isnotnull" => V::Bool(!args[0].is_null()),
        "isempty" => V::Bool(text(&args[0]).is_empty()),
        "isnotempty" => V::Bool(!text(&args[0]).is_empty()),
        "not" => args[0].as_bool().map_or(V::Null, |b| V::Bool(!b)),
        "round" => {
            let digits = args.get(1).and_then(Value::as_f64).unwrap_or(0.0) as i32;
            let scale = 10f64.powi(digits);
            args[0]
                .as_f64()
                .map_or(V::Null, |x| V::Real((x * scale).round() / scale))
        }
        "abs" => match &args[0] {
            V::Long(v) => V::Long(v.abs()),
            V::Real(v) => V::Real(v.abs()),
            V::TimeSpan(d) => V::TimeSpan(d.abs()),
            _ => V::Null,
        },
        "todouble" | "toreal" => match &args[0] {
            V::String(s) => s.trim().parse().map_or(V::Null, V::Real),
            v => v.as_f64().map_or(V::Null, V::Real),
        },
        "tolong" | "toint" => match &args[0] {
            V::String(s) => s.trim().parse().map_or(V::Null, V::Long),
            v => v.as_f64().map_or(V::Null, |x| V::Long(x as i64)),
        },
        "tostring" => V::String(text(&args[0])),
        "iff" | "iif" => {
            if args[0].as_bool() == Some(true) {
                args[1].clone()
            } else {
                args[2].clone()
            }
        }
        _ => V::Null,
    }
}
