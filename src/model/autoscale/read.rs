//! Reading request JSON the way Azure's reader (Newtonsoft) does: property names match
//! case-insensitively, `null` counts as absent, numbers may come as numeric strings.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Weekday};
use serde_json::{Map, Value};

use super::errors::{self, malformed};
use crate::model::error::ArmResult;

pub(super) type Obj = Map<String, Value>;

/// A property by name, exact spelling first, then case-insensitively; `null` is absent.
pub(super) fn field<'a>(obj: &'a Obj, key: &str) -> Option<&'a Value> {
    obj.get(key)
        .or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

pub(super) fn required<'a>(obj: &'a Obj, key: &str) -> ArmResult<&'a Value> {
    field(obj, key).ok_or_else(malformed)
}

pub(super) fn object(v: &Value) -> ArmResult<&Obj> {
    v.as_object().ok_or_else(malformed)
}

pub(super) fn array(v: &Value) -> ArmResult<&Vec<Value>> {
    v.as_array().ok_or_else(malformed)
}

pub(super) fn string(v: &Value) -> ArmResult<&str> {
    v.as_str().ok_or_else(malformed)
}

pub(super) fn optional_string(obj: &Obj, key: &str) -> ArmResult<Option<String>> {
    field(obj, key)
        .map(|v| string(v).map(str::to_string))
        .transpose()
}

pub(super) fn number(v: &Value) -> ArmResult<f64> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(malformed),
        Value::String(s) => s.trim().parse().map_err(|_| malformed()),
        _ => Err(malformed()),
    }
}

pub(super) fn boolean(v: &Value) -> ArmResult<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(malformed()),
    }
}

/// An instance count: a string on the wire ("2"), a number from ARM templates.
pub(super) fn count(v: &Value) -> ArmResult<u32> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(malformed()),
    };
    text.trim()
        .parse::<u32>()
        .map_err(|_| errors::invalid_capacity(&text))
}

pub(super) fn enumeration<T>(v: &Value, parse: fn(&str) -> Option<T>) -> ArmResult<T> {
    parse(string(v)?).ok_or_else(malformed)
}

pub(super) fn duration(text: &str) -> ArmResult<Duration> {
    crate::model::duration::parse(text).map_err(|_| malformed())
}

/// RFC 3339 with an offset is normalised to UTC (Azure answers it with `Z`); a bare
/// date-time is taken as written.
pub(super) fn date_time(text: &str) -> ArmResult<NaiveDateTime> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.naive_utc());
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").map_err(|_| malformed())
}

pub(super) fn weekday(name: &str) -> Option<Weekday> {
    use Weekday::*;
    [Mon, Tue, Wed, Thu, Fri, Sat, Sun]
        .into_iter()
        .find(|d| super::json::weekday_name(*d).eq_ignore_ascii_case(name))
}
