//! Running a parsed query: each operator is checked against the schema it receives (so
//! errors name the operator and the column, as Kusto's do) and then applied to the rows.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::KqlError;
use super::ast::{Direction, Expr, Named, Operator, Query};
use super::scalar::eval;
use super::types::{Schema, type_of};
use crate::model::log_analytics::value::{ColumnType, Table, Value};

/// The aggregate functions `summarize` takes.
pub const AGGREGATES: &[&str] = &["count", "countif", "sum", "avg", "min", "max", "dcount"];

/// Runs `query` over `source`.
pub fn run(query: &Query, source: Table, now: DateTime<Utc>) -> Result<Table, KqlError> {
    let mut table = source;
    for op in &query.operators {
        table = apply(op, table, now).map_err(|e| match e {
            KqlError::Semantic(m) => KqlError::Semantic(format!("'{}' operator: {m}", op.name())),
            other => other,
        })?;
    }
    Ok(table)
}

/// The column name Kusto gives a bare expression: a column keeps its name, `bin(c, ...)`
/// and `floor(c, ...)` are named `c`, anything else `Column{n}`.
fn derived_name(e: &Expr, n: &mut usize) -> String {
    match e {
        Expr::Column(c) => c.clone(),
        Expr::Call(f, args) if matches!(f.as_str(), "bin" | "floor") => match args.first() {
            Some(Expr::Column(c)) => c.clone(),
            _ => next_column(n),
        },
        _ => next_column(n),
    }
}

fn next_column(n: &mut usize) -> String {
    *n += 1;
    format!("Column{n}")
}

fn apply(op: &Operator, table: Table, now: DateTime<Utc>) -> Result<Table, KqlError> {
    let schema = &table.columns;
    match op {
        Operator::Where(pred) => {
            let t = type_of(pred, schema)?;
            if t != ColumnType::Bool {
                return Err(KqlError::Semantic(format!(
                    "The predicate must be a bool, not a {}.",
                    t.as_str()
                )));
            }
            let rows = table
                .rows
                .iter()
                .filter(|r| eval(pred, schema, r, now) == Value::Bool(true))
                .cloned()
                .collect();
            Ok(Table {
                columns: table.columns.clone(),
                rows,
            })
        }
        Operator::Project(items) => project(&table, items, false, now),
        Operator::Extend(items) => project(&table, items, true, now),
        Operator::ProjectAway(names) => {
            let mut drop = Vec::new();
            for name in names {
                drop.push(table.column(name).ok_or_else(|| {
                    KqlError::Semantic(format!("Failed to resolve column named '{name}'"))
                })?);
            }
            let keep: Vec<usize> = (0..schema.len()).filter(|i| !drop.contains(i)).collect();
            Ok(Table {
                columns: keep.iter().map(|&i| schema[i].clone()).collect(),
                rows: table
                    .rows
                    .iter()
                    .map(|r| keep.iter().map(|&i| r[i].clone()).collect())
                    .collect(),
            })
        }
        Operator::Summarize { aggregates, by } => summarize(&table, aggregates, by, now),
        Operator::Sort(keys) => {
            for (e, _) in keys {
                type_of(e, schema)?;
            }
            let mut rows = table.rows.clone();
            sort_rows(&mut rows, schema, keys, now);
            Ok(Table {
                columns: table.columns.clone(),
                rows,
            })
        }
        Operator::Take(n) => Ok(Table {
            columns: table.columns.clone(),
            rows: table.rows.into_iter().take(*n as usize).collect(),
        }),
        Operator::Top {
            count,
            by,
            direction,
        } => {
            type_of(by, schema)?;
            let mut rows = table.rows.clone();
            sort_rows(&mut rows, schema, &[(by.clone(), *direction)], now);
            rows.truncate(*count as usize);
            Ok(Table {
                columns: table.columns.clone(),
                rows,
            })
        }
        Operator::Count => Ok(Table {
            columns: vec![("Count".into(), ColumnType::Long)],
            rows: vec![vec![Value::Long(table.rows.len() as i64)]],
        }),
    }
}

/// `project` (only the listed columns) and `extend` (every column, plus or replacing these).
fn project(
    table: &Table,
    items: &[Named],
    extend: bool,
    now: DateTime<Utc>,
) -> Result<Table, KqlError> {
    let schema = &table.columns;
    let mut n = 0;
    let mut out: Vec<(String, ColumnType)> = if extend { schema.clone() } else { Vec::new() };
    let mut exprs: Vec<(usize, &Expr)> = Vec::new();
    for item in items {
        let t = type_of(&item.expr, schema)?;
        let name = item
            .name
            .clone()
            .unwrap_or_else(|| derived_name(&item.expr, &mut n));
        let at = match out.iter().position(|(c, _)| *c == name) {
            Some(i) if extend => {
                out[i].1 = t;
                i
            }
            Some(_) => {
                return Err(KqlError::Semantic(format!(
                    "A column named '{name}' is projected twice."
                )));
            }
            None => {
                out.push((name, t));
                out.len() - 1
            }
        };
        exprs.push((at, &item.expr));
    }
    let rows = table
        .rows
        .iter()
        .map(|r| {
            let mut new: Vec<Value> = if extend {
                r.clone()
            } else {
                vec![Value::Null; out.len()]
            };
            new.resize(out.len(), Value::Null);
            for (at, e) in &exprs {
                new[*at] = eval(e, schema, r, now);
            }
            new
        })
        .collect();
    Ok(Table { columns: out, rows })
}

fn sort_rows(
    rows: &mut [Vec<Value>],
    schema: &Schema,
    keys: &[(Expr, Direction)],
    now: DateTime<Utc>,
) {
    let mut keyed: Vec<(Vec<Value>, Vec<Value>)> = rows
        .iter()
        .map(|r| {
            (
                keys.iter().map(|(e, _)| eval(e, schema, r, now)).collect(),
                r.clone(),
            )
        })
        .collect();
    keyed.sort_by(|(a, _), (b, _)| {
        for (i, (_, dir)) in keys.iter().enumerate() {
            let o = a[i].compare(&b[i]);
            let o = if *dir == Direction::Desc {
                o.reverse()
            } else {
                o
            };
            if !o.is_eq() {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    for (slot, (_, row)) in rows.iter_mut().zip(keyed) {
        *slot = row;
    }
}

/// One aggregate of `summarize`: its function, argument and result type.
struct Aggregate<'a> {
    function: &'a str,
    arg: Option<&'a Expr>,
    output: ColumnType,
}

fn aggregate<'a>(named: &'a Named, schema: &Schema) -> Result<(String, Aggregate<'a>), KqlError> {
    let Expr::Call(function, args) = &named.expr else {
        return Err(KqlError::Semantic(
            "summarize takes aggregate functions (count(), sum(x), avg(x), ...) before 'by'."
                .into(),
        ));
    };
    if !AGGREGATES.contains(&function.as_str()) {
        return Err(KqlError::Unsupported(format!(
            "The aggregate '{function}' is outside armlet's KQL subset, which has: {}.",
            AGGREGATES.join(", ")
        )));
    }
    let want = usize::from(function != "count");
    if args.len() != want {
        return Err(KqlError::Semantic(format!(
            "{function}() expects {want} argument(s)."
        )));
    }
    let arg = args.first();
    let arg_type = arg.map(|a| type_of(a, schema)).transpose()?;
    let output = match (function.as_str(), arg_type) {
        ("count" | "dcount", _) => ColumnType::Long,
        ("countif", Some(ColumnType::Bool)) => ColumnType::Long,
        ("countif", _) => {
            return Err(KqlError::Semantic(
                "countif() takes a bool predicate.".into(),
            ));
        }
        ("sum", Some(t)) if t.is_numeric() => t,
        ("avg", Some(t)) if t.is_numeric() => ColumnType::Real,
        ("min" | "max", Some(t)) => t,
        (f, Some(t)) => {
            return Err(KqlError::Semantic(format!(
                "{f}() cannot aggregate a {}.",
                t.as_str()
            )));
        }
        (f, None) => return Err(KqlError::Semantic(format!("{f}() expects an argument."))),
    };
    let name = named.name.clone().unwrap_or_else(|| match arg {
        Some(Expr::Column(c)) if function != "countif" => format!("{function}_{c}"),
        _ => format!("{function}_"),
    });
    Ok((
        name,
        Aggregate {
            function,
            arg,
            output,
        },
    ))
}

fn summarize(
    table: &Table,
    aggregates: &[Named],
    by: &[Named],
    now: DateTime<Utc>,
) -> Result<Table, KqlError> {
    let schema = &table.columns;
    let mut n = 0;
    let mut columns = Vec::new();
    for b in by {
        let t = type_of(&b.expr, schema)?;
        columns.push((
            b.name
                .clone()
                .unwrap_or_else(|| derived_name(&b.expr, &mut n)),
            t,
        ));
    }
    let mut aggs = Vec::new();
    for a in aggregates {
        let (name, agg) = aggregate(a, schema)?;
        columns.push((name, agg.output));
        aggs.push(agg);
    }
    // Groups in order of first appearance; the key is the JSON of the group values.
    let mut groups: Vec<(Vec<Value>, Vec<&Vec<Value>>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for row in &table.rows {
        let key: Vec<Value> = by.iter().map(|b| eval(&b.expr, schema, row, now)).collect();
        let text = serde_json::to_string(&key.iter().map(Value::to_json).collect::<Vec<_>>())
            .unwrap_or_default();
        let at = *index.entry(text).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[at].1.push(row);
    }
    if by.is_empty() && groups.is_empty() {
        groups.push((Vec::new(), Vec::new()));
    }
    let rows = groups
        .into_iter()
        .map(|(mut key, rows)| {
            for agg in &aggs {
                key.push(fold(agg, schema, &rows, now));
            }
            key
        })
        .collect();
    Ok(Table { columns, rows })
}

fn fold(agg: &Aggregate<'_>, schema: &Schema, rows: &[&Vec<Value>], now: DateTime<Utc>) -> Value {
    let values: Vec<Value> = match agg.arg {
        Some(e) => rows.iter().map(|r| eval(e, schema, r, now)).collect(),
        None => Vec::new(),
    };
    let present: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
    match agg.function {
        "count" => Value::Long(rows.len() as i64),
        "countif" => Value::Long(values.iter().filter(|v| **v == Value::Bool(true)).count() as i64),
        "dcount" => {
            let mut seen: Vec<String> = present.iter().map(|v| v.to_json().to_string()).collect();
            seen.sort();
            seen.dedup();
            Value::Long(seen.len() as i64)
        }
        "sum" if agg.output == ColumnType::Long => {
            Value::Long(present.iter().filter_map(|v| v.as_f64()).sum::<f64>() as i64)
        }
        "sum" => Value::Real(present.iter().filter_map(|v| v.as_f64()).sum()),
        "avg" if present.is_empty() => Value::Null,
        "avg" => Value::Real(
            present.iter().filter_map(|v| v.as_f64()).sum::<f64>() / present.len() as f64,
        ),
        "min" => present
            .iter()
            .min_by(|a, b| a.compare(b))
            .map_or(Value::Null, |v| (*v).clone()),
        "max" => present
            .iter()
            .max_by(|a, b| a.compare(b))
            .map_or(Value::Null, |v| (*v).clone()),
        _ => Value::Null,
    }
}
