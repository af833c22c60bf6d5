//! KQL text → tokens: identifiers (with `-` inside operator names such as `project-away`),
//! numbers, timespan literals (`5m`, `1.5h`, `100ms`), string literals (`'...'`, `"..."`,
//! verbatim `@'...'`), `datetime(...)` literals, and punctuation. `//` comments run to the
//! end of the line.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};

use super::KqlError;

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Ident(String),
    Long(i64),
    Real(f64),
    String(String),
    TimeSpan(TimeDelta),
    /// The raw text inside `datetime(...)`.
    DateTime(String),
    /// Punctuation and symbolic operators: `|`, `,`, `(`, `)`, `==`, `!=`, `=~`, `!~`, `<`,
    /// `<=`, `>`, `>=`, `=`, `+`, `-`, `*`, `/`, `%`, `;`, `!`, `[`, `]`, `.`, `~`.
    Symbol(&'static str),
}

/// Kusto's timespan suffixes and how long one unit is, in nanoseconds.
const SPAN_UNITS: &[(&str, i64)] = &[
    ("d", 86_400_000_000_000),
    ("day", 86_400_000_000_000),
    ("days", 86_400_000_000_000),
    ("h", 3_600_000_000_000),
    ("hr", 3_600_000_000_000),
    ("hrs", 3_600_000_000_000),
    ("hour", 3_600_000_000_000),
    ("hours", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("min", 60_000_000_000),
    ("minute", 60_000_000_000),
    ("minutes", 60_000_000_000),
    ("s", 1_000_000_000),
    ("sec", 1_000_000_000),
    ("second", 1_000_000_000),
    ("seconds", 1_000_000_000),
    ("ms", 1_000_000),
    ("milli", 1_000_000),
    ("millis", 1_000_000),
    ("millisecond", 1_000_000),
    ("milliseconds", 1_000_000),
    ("tick", 100),
    ("ticks", 100),
];

const SYMBOLS: &[&str] = &[
    "==", "!=", "=~", "!~", "<=", ">=", "|", ",", "(", ")", "<", ">", "=", "+", "-", "*", "/", "%",
    ";", "!", "[", "]", ".", "~",
];

pub fn tokenize(text: &str) -> Result<Vec<Token>, KqlError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '\''
            || c == '"'
            || (c == '@' && matches!(chars.get(i + 1), Some('\'' | '"')))
        {
            let verbatim = c == '@';
            if verbatim {
                i += 1;
            }
            let (s, next) = string_literal(&chars, i, verbatim)?;
            out.push(Token::String(s));
            i = next;
        } else if c.is_ascii_digit() {
            let (token, next) = number(&chars, i)?;
            out.push(token);
            i = next;
        } else if c.is_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            // Operator names with dashes: project-away, project-rename, mv-expand...
            while i + 1 < chars.len() && chars[i] == '-' && chars[i + 1].is_alphabetic() {
                let word: String = chars[start..i].iter().collect();
                if !word.starts_with("project") && !word.starts_with("mv") {
                    break;
                }
                i += 1;
                while i < chars.len() && chars[i].is_alphanumeric() {
                    i += 1;
                }
            }
            let word: String = chars[start..i].iter().collect();
            if word == "datetime" && next_non_space(&chars, i) == Some('(') {
                let open = chars[i..].iter().position(|c| *c == '(').unwrap() + i;
                let close = chars[open..]
                    .iter()
                    .position(|c| *c == ')')
                    .map(|p| p + open)
                    .ok_or_else(|| KqlError::Syntax("datetime( is not closed".into()))?;
                let raw: String = chars[open + 1..close].iter().collect();
                out.push(Token::DateTime(raw.trim().to_string()));
                i = close + 1;
            } else {
                out.push(Token::Ident(word));
            }
        } else if let Some(sym) = SYMBOLS
            .iter()
            .find(|s| chars[i..].iter().take(s.len()).copied().eq(s.chars()))
        {
            out.push(Token::Symbol(sym));
            i += sym.len();
        } else {
            return Err(KqlError::Syntax(format!(
                "Unexpected character '{c}' at position {i}."
            )));
        }
    }
    Ok(out)
}

fn next_non_space(chars: &[char], mut i: usize) -> Option<char> {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    chars.get(i).copied()
}

/// A quoted string starting at `chars[start]` (the quote); returns it and the index after.
fn string_literal(
    chars: &[char],
    start: usize,
    verbatim: bool,
) -> Result<(String, usize), KqlError> {
    let quote = chars[start];
    let mut s = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == quote {
            return Ok((s, i + 1));
        }
        if c == '\\' && !verbatim {
            let escaped = chars
                .get(i + 1)
                .ok_or_else(|| KqlError::Syntax("A string literal ends in '\\'.".into()))?;
            s.push(match escaped {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                other => *other,
            });
            i += 2;
        } else {
            s.push(c);
            i += 1;
        }
    }
    Err(KqlError::Syntax("A string literal is not closed.".into()))
}

/// A number, or a timespan when a unit suffix follows it directly.
fn number(chars: &[char], start: usize) -> Result<(Token, usize), KqlError> {
    let mut i = start;
    let mut real = false;
    while i < chars.len()
        && (chars[i].is_ascii_digit()
            || (chars[i] == '.' && !real && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
    {
        real |= chars[i] == '.';
        i += 1;
    }
    if i < chars.len()
        && matches!(chars[i], 'e' | 'E')
        && chars
            .get(i + 1)
            .is_some_and(|c| c.is_ascii_digit() || *c == '-' || *c == '+')
    {
        real = true;
        i += 2;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
    }
    let digits: String = chars[start..i].iter().collect();
    let suffix_end = chars[i..]
        .iter()
        .position(|c| !c.is_ascii_alphabetic())
        .map_or(chars.len(), |p| p + i);
    let suffix: String = chars[i..suffix_end].iter().collect();
    if !suffix.is_empty() {
        let (_, nanos) = SPAN_UNITS
            .iter()
            .find(|(u, _)| *u == suffix)
            .ok_or_else(|| {
                KqlError::Syntax(format!(
                    "'{digits}{suffix}' is not a number or a timespan literal."
                ))
            })?;
        let amount: f64 = digits
            .parse()
            .map_err(|_| KqlError::Syntax(format!("'{digits}' is not a number.")))?;
        let span = TimeDelta::nanoseconds((amount * *nanos as f64).round() as i64);
        return Ok((Token::TimeSpan(span), suffix_end));
    }
    let token = if real {
        Token::Real(
            digits
                .parse()
                .map_err(|_| KqlError::Syntax(format!("'{digits}' is not a number.")))?,
        )
    } else {
        Token::Long(
            digits
                .parse()
                .map_err(|_| KqlError::Syntax(format!("'{digits}' is out of range.")))?,
        )
    };
    Ok((token, i))
}

/// A token as error messages name it.
pub fn describe(t: &Token) -> String {
    match t {
        Token::Ident(s) => format!("'{s}'"),
        Token::Symbol(s) => format!("'{s}'"),
        Token::String(s) => format!("string '{s}'"),
        Token::Long(v) => format!("number {v}"),
        Token::Real(v) => format!("number {v}"),
        Token::TimeSpan(d) => format!("timespan {d}"),
        Token::DateTime(s) => format!("datetime({s})"),
    }
}

/// The text of a `datetime(...)` literal: an ISO 8601 date or date-time (UTC unless it says
/// otherwise), or a date with a space before the time.
pub fn parse_datetime(raw: &str) -> Result<DateTime<Utc>, KqlError> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw.trim_end_matches('Z'), format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    Err(KqlError::Syntax(format!(
        "'{raw}' is not a datetime literal."
    )))
}
