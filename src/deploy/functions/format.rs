//! .NET-style formatting for template functions: `format()` with composite
//! format strings (`{0}`, `{1,-5}`, `{2:D3}`), and the date functions
//! `utcNow`, `dateTimeAdd`, `dateTimeToEpoch` and `dateTimeFromEpoch`, which
//! take .NET date format strings (`yyyyMMddTHHmmssZ`, `u`, `o`, ...).

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, Timelike, Utc};
use serde_json::Value;

use super::{Call, Handler};
use crate::deploy::expr::ExprError;
use crate::deploy::value::to_arm_string;

/// The widest alignment / precision a format item may ask for.
const MAX_WIDTH: usize = 1 << 16;

pub(super) const FUNCTIONS: &[(&str, Handler)] = &[
    ("format", format),
    ("utcNow", utc_now),
    ("dateTimeAdd", date_time_add),
    ("dateTimeToEpoch", |c| {
        c.exact(1)?;
        Ok(Value::from(parse_date_time(c, 0)?.timestamp()))
    }),
    ("dateTimeFromEpoch", |c| {
        c.exact(1)?;
        let date = DateTime::from_timestamp(c.int(0)?, 0)
            .ok_or_else(|| c.error("was given an epoch value out of range."))?;
        Ok(Value::String(date.format("%Y-%m-%dT%H:%M:%SZ").to_string()))
    }),
];

/// `format(formatString, arg0, arg1, ...)`
fn format(c: &Call) -> Result<Value, ExprError> {
    c.arity(1, None)?;
    let template = c.string(0)?;
    let values = &c.args[1..];
    let bad = || c.error(format!("was given an invalid format string: '{template}'."));
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '}' => return Err(bad()),
            '{' => {
                let item: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let (head, spec) = item.split_once(':').unwrap_or((&item, ""));
                let (index, alignment) = head.split_once(',').unwrap_or((head, "0"));
                let index: usize = index.trim().parse().map_err(|_| bad())?;
                let alignment: i64 = alignment.trim().parse().map_err(|_| bad())?;
                let value = values.get(index).ok_or_else(|| {
                    c.error(format!(
                        "refers to argument {{{index}}}, but only {} value(s) were given.",
                        values.len()
                    ))
                })?;
                let text = format_value(c, value, spec)?;
                let width = (alignment.unsigned_abs() as usize).min(MAX_WIDTH);
                let padding = " ".repeat(width.saturating_sub(text.chars().count()));
                if alignment < 0 {
                    out.push_str(&text);
                    out.push_str(&padding);
                } else {
                    out.push_str(&padding);
                    out.push_str(&text);
                }
            }
            other => out.push(other),
        }
    }
    Ok(Value::String(out))
}

/// Formats one value with a .NET numeric format specifier (`D3`, `N2`, `X`,
/// `F1`, `000`, ...); non-numbers ignore the specifier.
fn format_value(c: &Call, value: &Value, spec: &str) -> Result<String, ExprError> {
    let Value::Number(n) = value else {
        return Ok(to_arm_string(value));
    };
    if spec.is_empty() {
        return Ok(n.to_string());
    }
    let unsupported = || c.error(format!("does not support the format specifier '{spec}'."));
    if spec.chars().all(|ch| ch == '0' || ch == '#') {
        let digits = spec.chars().filter(|&ch| ch == '0').count();
        let rounded = n.as_f64().unwrap_or(0.0).round() as i64;
        return Ok(pad_digits(rounded, digits));
    }
    let (kind, precision) = spec.split_at(1);
    let precision: Option<usize> = if precision.is_empty() {
        None
    } else {
        Some(precision.parse().map_err(|_| unsupported())?)
    };
    let precision = precision.map(|p| p.min(MAX_WIDTH));
    let int = n.as_i64();
    let float = n.as_f64().unwrap_or(0.0);
    Ok(match (kind, int) {
        ("D" | "d", Some(i)) => pad_digits(i, precision.unwrap_or(0)),
        ("X", Some(i)) => format!("{i:0width$X}", width = precision.unwrap_or(0)),
        ("x", Some(i)) => format!("{i:0width$x}", width = precision.unwrap_or(0)),
        ("F" | "f", _) => format!("{float:.p$}", p = precision.unwrap_or(2)),
        ("N" | "n", _) => group_thousands(&format!("{float:.p$}", p = precision.unwrap_or(2))),
        ("G" | "g", _) => n.to_string(),
        _ => return Err(unsupported()),
    })
}

/// An integer with at least `digits` digits (the sign is not counted).
fn pad_digits(i: i64, digits: usize) -> String {
    let sign = if i < 0 { "-" } else { "" };
    format!("{sign}{:0digits$}", i.unsigned_abs())
}

/// Inserts `,` thousands separators into a plain decimal number.
fn group_thousands(number: &str) -> String {
    let (sign, rest) = number
        .strip_prefix('-')
        .map_or(("", number), |rest| ("-", rest));
    let (int, frac) = rest
        .split_once('.')
        .map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, digit) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match frac {
        Some(frac) => format!("{sign}{grouped}.{frac}"),
        None => format!("{sign}{grouped}"),
    }
}

/// `utcNow(format?)`: only allowed where the context permits
/// non-deterministic functions (parameter default values).
fn utc_now(c: &Call) -> Result<Value, ExprError> {
    c.arity(0, Some(1))?;
    c.require_nondeterministic()?;
    let pattern = c.opt_string(0)?.unwrap_or("yyyyMMddTHHmmssZ");
    Ok(Value::String(format_date(c, c.cx.utc_now(), pattern)?))
}

/// `dateTimeAdd(base, duration, format?)` with an ISO 8601 duration.
fn date_time_add(c: &Call) -> Result<Value, ExprError> {
    c.arity(2, Some(3))?;
    let base = parse_date_time(c, 0)?;
    let duration = c.string(1)?;
    let result = add_duration(base, duration).ok_or_else(|| {
        c.error(format!(
            "was given an invalid ISO 8601 duration '{duration}' or the result is out of range."
        ))
    })?;
    let pattern = c.opt_string(2)?.unwrap_or("G");
    Ok(Value::String(format_date(c, result, pattern)?))
}

/// Argument `i` as a date-time: RFC 3339, or a zone-less date/time taken as UTC.
fn parse_date_time(c: &Call, i: usize) -> Result<DateTime<Utc>, ExprError> {
    let s = c.string(i)?.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            [
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%d %H:%M:%SZ",
            ]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
            .or_else(|| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .ok()?
                    .and_hms_opt(0, 0, 0)
            })
            .map(|naive| naive.and_utc())
        })
        .ok_or_else(|| c.error(format!("was given an invalid date-time value '{s}'.")))
}

/// Adds an ISO 8601 duration (`P1Y2M3W4DT5H6M7.5S`, optionally negated with
/// a leading `-`) to `base`.
fn add_duration(base: DateTime<Utc>, duration: &str) -> Option<DateTime<Utc>> {
    let (negative, rest) = match duration.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, duration),
    };
    let rest = rest.strip_prefix('P')?;
    let (date_part, time_part) = rest.split_once('T').unwrap_or((rest, ""));
    if rest.is_empty() || rest.ends_with('T') {
        return None;
    }
    let (mut months, mut exact) = (0u32, Duration::zero());
    for (part, is_time) in [(date_part, false), (time_part, true)] {
        let mut number = String::new();
        for ch in part.chars() {
            if ch.is_ascii_digit() || ch == '.' {
                number.push(ch);
                continue;
            }
            let n: f64 = number.parse().ok()?;
            number.clear();
            let seconds_per_unit = match (ch, is_time) {
                ('Y', false) => {
                    months = months.checked_add((n as u32).checked_mul(12)?)?;
                    continue;
                }
                ('M', false) => {
                    months = months.checked_add(n as u32)?;
                    continue;
                }
                ('W', false) => 604_800.0,
                ('D', false) => 86_400.0,
                ('H', true) => 3_600.0,
                ('M', true) => 60.0,
                ('S', true) => 1.0,
                _ => return None,
            };
            let millis = (n * seconds_per_unit * 1000.0).round();
            // Far beyond any representable date, and keeps the cast exact.
            if millis >= 1e17 {
                return None;
            }
            exact = exact.checked_add(&Duration::try_milliseconds(millis as i64)?)?;
        }
        if !number.is_empty() {
            return None;
        }
    }
    if negative {
        base.checked_sub_months(Months::new(months))?
            .checked_sub_signed(exact)
    } else {
        base.checked_add_months(Months::new(months))?
            .checked_add_signed(exact)
    }
}

/// Formats a UTC date-time with a .NET standard (`u`, `o`, `s`, `d`, ...) or
/// custom (`yyyy-MM-dd HH:mm`) date format string, using en-US names.
fn format_date(c: &Call, date: DateTime<Utc>, pattern: &str) -> Result<String, ExprError> {
    let custom = match pattern {
        "d" => "M/d/yyyy",
        "D" => "dddd, MMMM d, yyyy",
        "f" => "dddd, MMMM d, yyyy h:mm tt",
        "F" | "U" => "dddd, MMMM d, yyyy h:mm:ss tt",
        "g" => "M/d/yyyy h:mm tt",
        "G" => "M/d/yyyy h:mm:ss tt",
        "m" | "M" => "MMMM d",
        "o" | "O" => "yyyy-MM-ddTHH:mm:ss.fffffffK",
        "r" | "R" => "ddd, dd MMM yyyy HH:mm:ss 'GMT'",
        "s" => "yyyy-MM-ddTHH:mm:ss",
        "t" => "h:mm tt",
        "T" => "h:mm:ss tt",
        "u" => "yyyy-MM-dd HH:mm:ssZ",
        "y" | "Y" => "MMMM yyyy",
        p if p.chars().count() == 1 => {
            return Err(c.error(format!("does not support the date format '{p}'.")));
        }
        p => p,
    };
    Ok(format_custom_date(date, custom))
}

fn format_custom_date(date: DateTime<Utc>, pattern: &str) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let weekday = date.weekday().num_days_from_sunday() as usize;
    const DAYS: [&str; 7] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        let run = chars[i..].iter().take_while(|&&c| c == ch).count();
        let hour12 = (date.hour() + 11) % 12 + 1;
        let piece = match ch {
            'y' if run <= 2 => format!("{:0run$}", date.year() % 100),
            'y' => format!("{:0run$}", date.year()),
            'M' if run >= 4 => MONTHS[date.month0() as usize].to_string(),
            'M' if run == 3 => MONTHS[date.month0() as usize][..3].to_string(),
            'M' => format!("{:0run$}", date.month()),
            'd' if run >= 4 => DAYS[weekday].to_string(),
            'd' if run == 3 => DAYS[weekday][..3].to_string(),
            'd' => format!("{:0run$}", date.day()),
            'H' => format!("{:0w$}", date.hour(), w = run.min(2)),
            'h' => format!("{:0w$}", hour12, w = run.min(2)),
            'm' => format!("{:0w$}", date.minute(), w = run.min(2)),
            's' => format!("{:0w$}", date.second(), w = run.min(2)),
            'f' | 'F' => {
                let digits = format!("{:09}", date.nanosecond() % 1_000_000_000);
                let digits = &digits[..run.min(7)];
                if ch == 'F' {
                    digits.trim_end_matches('0')
                } else {
                    digits
                }
                .to_string()
            }
            't' => {
                let designator = if date.hour() < 12 { "AM" } else { "PM" };
                designator[..run.min(2)].to_string()
            }
            'K' => "Z".repeat(run),
            'z' if run >= 3 => "+00:00".to_string(),
            'z' => format!("+{:0run$}", 0),
            '\'' | '"' => {
                let literal: String = chars[i + 1..].iter().take_while(|&&c| c != ch).collect();
                i += literal.chars().count() + 2;
                out.push_str(&literal);
                continue;
            }
            '\\' | '%' => {
                if ch == '\\' {
                    if let Some(&next) = chars.get(i + 1) {
                        out.push(next);
                    }
                    i += 2;
                } else {
                    i += 1;
                }
                continue;
            }
            other => other.to_string().repeat(run),
        };
        out.push_str(&piece);
        i += run;
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::deploy::test_support::{TestContext, eval_in, run, run_err};
    use serde_json::json;

    #[test]
    fn composite_format_strings() {
        assert_eq!(run("format('{0}-{1}', 'a', 2)"), json!("a-2"));
        assert_eq!(run("format('{0:D3}', 7)"), json!("007"));
        assert_eq!(run("format('{0:d3}', -7)"), json!("-007"));
        assert_eq!(run("format('{0:N0}', 8175133)"), json!("8,175,133"));
        assert_eq!(run("format('{0:N2}', -1234)"), json!("-1,234.00"));
        assert_eq!(run("format('{0:F1}', 2)"), json!("2.0"));
        assert_eq!(run("format('{0:X}', 255)"), json!("FF"));
        assert_eq!(run("format('{0:x4}', 255)"), json!("00ff"));
        assert_eq!(run("format('{0:000}', 5)"), json!("005"));
        assert_eq!(run("format('{0,4}|{1,-4}|', 1, 'ab')"), json!("   1|ab  |"));
        assert_eq!(
            run("format('{{literal}} {0}', true())"),
            json!("{literal} True")
        );
        assert_eq!(run("format('{0} {0}', 'x')"), json!("x x"));
        assert_eq!(run("format('no items')"), json!("no items"));
    }

    #[test]
    fn format_errors() {
        assert!(
            run_err("format('{1}', 'a')")
                .contains("'format' refers to argument {1}, but only 1 value(s) were given.")
        );
        assert!(run_err("format('{x}', 'a')").contains("invalid format string"));
        assert!(run_err("format('a } b')").contains("invalid format string"));
        assert!(
            run_err("format('{0:Q}', 1)").contains("does not support the format specifier 'Q'")
        );
        assert!(run_err("format(1)").contains("argument 1"));
    }

    #[test]
    fn utc_now_is_only_allowed_in_parameter_defaults() {
        let err = run_err("utcNow()");
        assert_eq!(
            err,
            "The template function 'utcNow' is not expected at this location. It can only be used in the default value of a parameter."
        );
        let cx = TestContext {
            allow_nondeterministic: true,
            ..TestContext::default()
        };
        assert_eq!(eval_in("utcNow()", &cx).unwrap(), json!("20240102T030405Z"));
        assert_eq!(
            eval_in("utcNow('u')", &cx).unwrap(),
            json!("2024-01-02 03:04:05Z")
        );
        assert_eq!(
            eval_in("utcNow('o')", &cx).unwrap(),
            json!("2024-01-02T03:04:05.6780000Z")
        );
        assert_eq!(eval_in("utcNow('d')", &cx).unwrap(), json!("1/2/2024"));
        assert_eq!(
            eval_in("utcNow('dddd, MMM dd yyyy h:mm tt ''at'' \\Z')", &cx).unwrap(),
            json!("Tuesday, Jan 02 2024 3:04 AM at Z")
        );
        assert!(
            eval_in("utcNow('q')", &cx)
                .unwrap_err()
                .to_string()
                .contains("date format 'q'")
        );
    }

    #[test]
    fn date_time_add() {
        assert_eq!(
            run("dateTimeAdd('2020-04-07 14:53:14Z', 'P3Y')"),
            json!("4/7/2023 2:53:14 PM")
        );
        assert_eq!(
            run("dateTimeAdd('2020-04-07T14:53:14Z', '-PT9H', 's')"),
            json!("2020-04-07T05:53:14")
        );
        assert_eq!(
            run("dateTimeAdd('2020-01-31T00:00:00Z', 'P1M1DT1H30M0.5S', 'o')"),
            json!("2020-03-01T01:30:00.5000000Z")
        );
        assert_eq!(
            run("dateTimeAdd('2020-01-01', 'P2W', 'yyyy-MM-dd')"),
            json!("2020-01-15")
        );
        assert!(
            run_err("dateTimeAdd('2020-01-01', '3 days')").contains("invalid ISO 8601 duration")
        );
        assert!(run_err("dateTimeAdd('2020-01-01', 'PT')").contains("invalid ISO 8601 duration"));
        assert!(
            run_err("dateTimeAdd('yesterday', 'P1D')")
                .contains("invalid date-time value 'yesterday'")
        );
    }

    #[test]
    fn epoch_conversion() {
        assert_eq!(
            run("dateTimeToEpoch('2023-02-16T00:00:00Z')"),
            json!(1676505600)
        );
        assert_eq!(
            run("dateTimeFromEpoch(1676505600)"),
            json!("2023-02-16T00:00:00Z")
        );
        assert!(run_err("dateTimeFromEpoch('x')").contains("argument 1"));
    }
}
