//! Kusto's scalar types and values, and result tables in the query API's JSON shape:
//! `{"name": "PrimaryResult", "columns": [{"name", "type"}], "rows": [[...]]}`.
//!
//! The query API writes `datetime` as ISO 8601 UTC strings, `timespan` as .NET `[d.]hh:mm:ss`
//! strings, numbers as JSON numbers and a missing value as `null`.

use std::cmp::Ordering;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{Value as Json, json};

/// A column's scalar type, named as Kusto names it in `columns[].type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Bool,
    Long,
    Real,
    String,
    DateTime,
    TimeSpan,
}

impl ColumnType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bool => "bool",
            Self::Long => "long",
            Self::Real => "real",
            Self::String => "string",
            Self::DateTime => "datetime",
            Self::TimeSpan => "timespan",
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Long | Self::Real)
    }
}

/// One scalar value; `Null` is Kusto's null of any type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Long(i64),
    Real(f64),
    String(String),
    DateTime(DateTime<Utc>),
    TimeSpan(TimeDelta),
}

impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Long(v) => Some(*v as f64),
            Value::Real(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The query API's JSON for this value.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Bool(b) => json!(b),
            Value::Long(v) => json!(v),
            Value::Real(v) if v.is_finite() => json!(v),
            Value::Real(_) => Json::Null,
            Value::String(s) => json!(s),
            Value::DateTime(t) => json!(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            Value::TimeSpan(d) => json!(format_timespan(*d)),
        }
    }

    /// Kusto's ordering of two values of one column: nulls first, numbers by value (long and
    /// real compare with each other), strings ordinally.
    pub fn compare(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Null, _) => Ordering::Less,
            (_, Value::Null) => Ordering::Greater,
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::String(a), Value::String(b)) => a.cmp(b),
            (Value::DateTime(a), Value::DateTime(b)) => a.cmp(b),
            (Value::TimeSpan(a), Value::TimeSpan(b)) => a.cmp(b),
            (a, b) => match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
                _ => Ordering::Equal,
            },
        }
    }
}

/// .NET's timespan text, as Kusto writes it: `hh:mm:ss[.fffffff]`, with `d.` before it for
/// a day or more and a leading `-` when negative.
pub fn format_timespan(d: TimeDelta) -> String {
    let negative = d < TimeDelta::zero();
    let d = d.abs();
    let secs = d.num_seconds();
    let (days, h, m, s) = (
        secs / 86_400,
        (secs % 86_400) / 3600,
        (secs % 3600) / 60,
        secs % 60,
    );
    let ticks = d.subsec_nanos() / 100;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!("{h:02}:{m:02}:{s:02}"));
    if ticks > 0 {
        out.push_str(&format!(".{ticks:07}"));
    }
    out
}

/// A result (or source) table: named, typed columns and rows of values in column order.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<(String, ColumnType)>,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// The index of a column, matched exactly (Kusto names are case-sensitive).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|(n, _)| n == name)
    }

    /// The query API's JSON for this table under `name` (the first is `PrimaryResult`).
    pub fn to_json(&self, name: &str) -> Json {
        json!({
            "name": name,
            "columns": self.columns.iter().map(|(n, t)| json!({"name": n, "type": t.as_str()})).collect::<Vec<_>>(),
            "rows": self.rows.iter().map(|r| r.iter().map(Value::to_json).collect::<Vec<_>>()).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn values_render_as_the_query_api_writes_them() {
        let t = Utc.with_ymd_and_hms(2024, 5, 1, 10, 2, 0).unwrap();
        assert_eq!(Value::DateTime(t).to_json(), json!("2024-05-01T10:02:00Z"));
        assert_eq!(
            Value::TimeSpan(TimeDelta::minutes(5)).to_json(),
            json!("00:05:00")
        );
        assert_eq!(
            Value::TimeSpan(TimeDelta::hours(36)).to_json(),
            json!("1.12:00:00")
        );
        assert_eq!(Value::Real(f64::NAN).to_json(), Json::Null);
        assert_eq!(Value::Long(3).to_json(), json!(3));
    }

    #[test]
    fn nulls_sort_first_and_numbers_compare_across_types() {
        assert_eq!(Value::Null.compare(&Value::Long(1)), Ordering::Less);
        assert_eq!(Value::Long(2).compare(&Value::Real(1.5)), Ordering::Greater);
        assert_eq!(
            Value::String("a".into()).compare(&Value::String("b".into())),
            Ordering::Less
        );
    }
}
