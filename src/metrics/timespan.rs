//! The metrics API's `timespan` and `interval`, and the intervals a timespan splits into.
//!
//! - `timespan` takes the ISO 8601 interval forms Azure lists in its error message:
//!   `Datetime/Datetime`, `Datetime/Duration`, `Duration/Datetime` and `Duration` (ending now);
//!   absent, it is the hour before now. Datetimes without an offset are UTC. The az CLI
//!   URL-encodes the timespan twice (`quote_plus` before its own encoding), so a value that
//!   still holds `%xx` escapes is decoded once more. `+` must arrive encoded: a `+` decoded to
//!   a space is a malformed input, as on Azure.
//! - `interval` is one of Azure's grains (`PT1M` ... `P1D`, as listed in `metricAvailabilities`)
//!   or `FULL` (one value for the whole timespan); absent, it is `PT1M`.
//! - Intervals start at multiples of the grain since the Unix epoch (so `PT1H` starts on the
//!   hour and `P1D` at midnight UTC); the first interval is the one containing the start.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};

use crate::model::duration;
use crate::model::error::{ArmError, ArmResult};

/// The grains Azure accepts for `interval`, in seconds.
pub const GRAINS: [i64; 8] = [60, 300, 900, 1800, 3600, 21600, 43200, 86400];

/// Azure's platform-metric retention (`P93D` in `metricAvailabilities`).
pub const DEFAULT_RETENTION: TimeDelta = TimeDelta::days(93);

/// The half-open time range `[start, end)` of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The interval (time grain) of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Grain(TimeDelta),
    /// `FULL`: one data point for the whole timespan.
    Full,
}

/// One interval of the answer: values of minutes in `[start, end)` land in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

fn invalid_timespan(input: &str) -> ArmError {
    // Azure's text, e.g. in Azure/azure-sdk-for-net#40047.
    ArmError::bad_request(
        "BadRequest",
        format!(
            "Detected invalid time interval input: {input}, supported Iso 8601 time interval format: (Datetime/Datetime, Datetime/Duration, Duration/Datetime, Duration)"
        ),
    )
}

/// Parses `timespan` (see the module docs). `retention` bounds how far back a query may
/// reach and how long it may be.
pub fn parse_timespan(
    raw: Option<&str>,
    now: DateTime<Utc>,
    retention: TimeDelta,
) -> ArmResult<TimeRange> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(TimeRange {
            start: now - TimeDelta::hours(1),
            end: now,
        });
    };
    let text = if raw.contains('%') {
        percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| invalid_timespan(raw))?
            .into_owned()
    } else {
        raw.to_string()
    };
    let bad = || invalid_timespan(raw);
    let (start, end) = match text.split_once('/') {
        None => (now - parse_span(&text).ok_or_else(bad)?, now),
        Some((a, b)) => match (parse_time(a), parse_time(b)) {
            (Some(s), Some(e)) => (s, e),
            (Some(s), None) => (s, s + parse_span(b).ok_or_else(bad)?),
            (None, Some(e)) => (e - parse_span(a).ok_or_else(bad)?, e),
            (None, None) => return Err(bad()),
        },
    };
    if start >= end {
        return Err(ArmError::bad_request(
            "BadRequest",
            format!(
                "Invalid timespan {raw}: the start time {} must be earlier than the end time {}.",
                format_time(start),
                format_time(end)
            ),
        ));
    }
    if end < now - retention {
        // Azure's text, e.g. in Azure/azure-sdk-for-python#13547.
        return Err(ArmError::bad_request(
            "BadRequest",
            format!(
                "Query endTime: {} is out of the Max metrics retention period: {}",
                end.format("%-m/%-d/%Y %-I:%M:%S %p"),
                dotnet_timespan(retention)
            ),
        ));
    }
    if end - start > retention {
        return Err(ArmError::bad_request(
            "BadRequest",
            format!(
                "Invalid timespan {raw}: it is longer than the Max metrics retention period: {}",
                dotnet_timespan(retention)
            ),
        ));
    }
    Ok(TimeRange { start, end })
}

fn parse_span(s: &str) -> Option<TimeDelta> {
    let d = duration::parse(&s.trim().to_ascii_uppercase()).ok()?;
    let d = TimeDelta::from_std(d).ok()?;
    (d > TimeDelta::zero()).then_some(d)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
}

/// Parses `interval`: a grain of [`GRAINS`] (any ISO 8601 spelling of it, any case) or
/// `FULL`; absent, `PT1M`.
pub fn parse_interval(raw: Option<&str>) -> ArmResult<Interval> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(Interval::Grain(TimeDelta::minutes(1)));
    };
    if raw.eq_ignore_ascii_case("FULL") {
        return Ok(Interval::Full);
    }
    match parse_span(raw) {
        Some(d) if GRAINS.contains(&d.num_seconds()) && d.subsec_nanos() == 0 => {
            Ok(Interval::Grain(d))
        }
        _ => {
            let grains: Vec<String> = GRAINS
                .iter()
                .map(|s| dotnet_timespan(TimeDelta::seconds(*s)))
                .collect();
            // Azure's text, e.g. in Azure/azure-libraries-for-net#495.
            Err(ArmError::bad_request(
                "BadRequest",
                format!(
                    "Invalid time grain duration: {raw}, supported ones are: {}",
                    grains.join(",")
                ),
            ))
        }
    }
}

impl Interval {
    /// The `interval` of the response: the grain, or for `FULL` the length of the timespan
    /// (Azure answers `FULL` over four hours with `PT4H`).
    pub fn to_iso(self, range: &TimeRange) -> String {
        match self {
            Interval::Grain(d) => iso_duration(d),
            Interval::Full => iso_duration(range.end - range.start),
        }
    }
}

/// The intervals of a query, in order, covering the whole timespan.
pub fn buckets(range: &TimeRange, interval: Interval) -> Vec<Bucket> {
    let grain = match interval {
        Interval::Full => {
            return vec![Bucket {
                start: range.start,
                end: range.end,
            }];
        }
        Interval::Grain(g) => g,
    };
    let g = grain.num_seconds();
    let first = range.start.timestamp().div_euclid(g) * g;
    let mut out = Vec::new();
    let mut t = first;
    // `first <= start < end`, so there is at least one interval.
    while t < range.end.timestamp() {
        let start = DateTime::from_timestamp(t, 0).expect("in range");
        out.push(Bucket {
            start,
            end: start + grain,
        });
        t += g;
    }
    out
}

/// `2024-05-01T10:03:27Z`: how the metrics API writes times (whole seconds, UTC).
pub fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `start/end`, as the response's `timespan`.
pub fn format_timespan(range: &TimeRange) -> String {
    format!("{}/{}", format_time(range.start), format_time(range.end))
}

/// `PT1M`, `PT4H`, `P1D`, `P93D`, `P1DT12H`.
pub fn iso_duration(d: TimeDelta) -> String {
    let secs = d.num_seconds().max(0);
    let (days, rest) = (secs / 86400, secs % 86400);
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if rest > 0 || days == 0 {
        // `duration::format` writes `PT..`; keep its time part.
        out.push_str(&duration::format(std::time::Duration::from_secs(rest as u64))[1..]);
    }
    out
}

/// .NET's `TimeSpan` text, which Azure's messages use: `00:01:00`, `1.00:00:00`, `93.00:00:00`.
pub fn dotnet_timespan(d: TimeDelta) -> String {
    let secs = d.num_seconds().max(0);
    let (days, h, m, s) = (
        secs / 86400,
        (secs % 86400) / 3600,
        (secs % 3600) / 60,
        secs % 60,
    );
    let hms = format!("{h:02}:{m:02}:{s:02}");
    if days > 0 {
        format!("{days}.{hms}")
    } else {
        hms
    }
}

#[cfg(test)]
#[path = "timespan_tests.rs"]
mod tests;
