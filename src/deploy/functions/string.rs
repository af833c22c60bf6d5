//! String template functions: case conversion, searching, slicing,
//! splitting/joining, `string`/`json` conversion, base64, data URIs and URI
//! helpers. Indexes and lengths count Unicode characters.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use super::{Call, Handler};
use crate::deploy::expr::ExprError;
use crate::deploy::value::{json_equals, to_arm_string};

/// The longest string `padLeft` will build.
const MAX_PADDED_LENGTH: i64 = 1 << 20;

pub(super) const FUNCTIONS: &[(&str, Handler)] = &[
    ("toLower", |c| map_string(c, str::to_lowercase)),
    ("toUpper", |c| map_string(c, str::to_uppercase)),
    ("trim", |c| map_string(c, |s| s.trim().to_string())),
    ("substring", substring),
    ("replace", replace),
    ("split", split),
    ("join", join),
    ("startsWith", |c| affix(c, |s, p| s.starts_with(p))),
    ("endsWith", |c| affix(c, |s, p| s.ends_with(p))),
    ("indexOf", |c| index_of(c, false)),
    ("lastIndexOf", |c| index_of(c, true)),
    ("padLeft", pad_left),
    ("string", |c| {
        c.exact(1).map(|_| Value::String(to_arm_string(&c.args[0])))
    }),
    ("json", json),
    ("base64", |c| map_string(c, |s| BASE64.encode(s))),
    ("base64ToString", |c| {
        c.exact(1)?;
        decode_base64(c, c.string(0)?).map(Value::String)
    }),
    ("base64ToJson", |c| {
        c.exact(1)?;
        let text = decode_base64(c, c.string(0)?)?;
        parse_json(&text).ok_or_else(|| c.error("was given base64 data that is not valid JSON."))
    }),
    ("dataUri", |c| {
        map_string(c, |s| {
            format!("data:text/plain;charset=utf8;base64,{}", BASE64.encode(s))
        })
    }),
    ("dataUriToString", data_uri_to_string),
    ("uri", uri),
    ("uriComponent", |c| map_string(c, uri_component)),
    ("uriComponentToString", |c| {
        c.exact(1)?;
        percent_decode(c.string(0)?)
            .map(Value::String)
            .ok_or_else(|| c.error("was given a string that does not decode to valid UTF-8."))
    }),
];

/// A one-string-argument function returning a string.
fn map_string(c: &Call, f: impl Fn(&str) -> String) -> Result<Value, ExprError> {
    c.exact(1)?;
    Ok(Value::String(f(c.string(0)?)))
}

fn chars_eq_ignore_case(a: char, b: char) -> bool {
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

/// Character index of `needle` in `haystack` (first or last occurrence),
/// ignoring case.
fn find_ignore_case(haystack: &str, needle: &str, last: bool) -> Option<usize> {
    let (h, n): (Vec<char>, Vec<char>) = (haystack.chars().collect(), needle.chars().collect());
    if n.len() > h.len() {
        return None;
    }
    let matches = |i: &usize| {
        h[*i..*i + n.len()]
            .iter()
            .zip(&n)
            .all(|(&a, &b)| chars_eq_ignore_case(a, b))
    };
    let mut starts = 0..=h.len() - n.len();
    if last {
        starts.rfind(matches)
    } else {
        starts.find(matches)
    }
}

/// `substring(stringToParse, startIndex, length?)`
fn substring(c: &Call) -> Result<Value, ExprError> {
    c.arity(2, Some(3))?;
    let chars: Vec<char> = c.string(0)?.chars().collect();
    let start = c.int(1)?;
    let length = match c.args.get(2) {
        Some(_) => c.int(2)?,
        None => (chars.len() as i64).saturating_sub(start),
    };
    if start < 0 || length < 0 || start.saturating_add(length) > chars.len() as i64 {
        return Err(c.error(format!(
            "failed: the index and length parameters must refer to a location within the string. \
             The index parameter: '{start}', the length parameter: '{length}', the length of the string parameter: '{}'.",
            chars.len()
        )));
    }
    let (start, length) = (start as usize, length as usize);
    Ok(Value::String(chars[start..start + length].iter().collect()))
}

/// `replace(originalString, oldString, newString)`
fn replace(c: &Call) -> Result<Value, ExprError> {
    c.exact(3)?;
    let (original, old, new) = (c.string(0)?, c.string(1)?, c.string(2)?);
    if old.is_empty() {
        return Err(c.error("expects a non-empty string to replace (argument 2)."));
    }
    Ok(Value::String(original.replace(old, new)))
}

/// `split(inputString, delimiter)`: the delimiter is a string or an array of
/// strings; at each position the first matching delimiter wins.
fn split(c: &Call) -> Result<Value, ExprError> {
    c.exact(2)?;
    let input = c.string(0)?;
    let delimiters: Vec<&str> = match &c.args[1] {
        Value::String(d) => vec![d.as_str()],
        Value::Array(items) => items
            .iter()
            .map(|d| {
                d.as_str()
                    .ok_or_else(|| c.error("expects the delimiter array to contain only strings."))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(c.type_error(1, "String or Array")),
    };
    let delimiters: Vec<&str> = delimiters.into_iter().filter(|d| !d.is_empty()).collect();
    let mut parts = Vec::new();
    let (mut part_start, mut pos) = (0, 0);
    while pos < input.len() {
        if let Some(d) = delimiters.iter().find(|d| input[pos..].starts_with(**d)) {
            parts.push(Value::String(input[part_start..pos].to_string()));
            pos += d.len();
            part_start = pos;
        } else {
            pos += input[pos..].chars().next().map_or(1, char::len_utf8);
        }
    }
    parts.push(Value::String(input[part_start..].to_string()));
    Ok(Value::Array(parts))
}

/// `join(inputArray, delimiter)`
fn join(c: &Call) -> Result<Value, ExprError> {
    c.exact(2)?;
    let delimiter = c.string(1)?;
    let parts = c
        .array(0)?
        .iter()
        .map(|item| match item {
            Value::Array(_) | Value::Object(_) => {
                Err(c.error("expects an array of strings, integers or booleans to join."))
            }
            other => Ok(to_arm_string(other)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::String(parts.join(delimiter)))
}

/// `startsWith` / `endsWith`, ignoring case as ARM does.
fn affix(c: &Call, test: fn(&str, &str) -> bool) -> Result<Value, ExprError> {
    c.exact(2)?;
    let (s, affix) = (c.string(0)?.to_lowercase(), c.string(1)?.to_lowercase());
    Ok(Value::Bool(test(&s, &affix)))
}

/// `indexOf` / `lastIndexOf` over a string (ignoring case) or an array
/// (deep equality); -1 when not found.
fn index_of(c: &Call, last: bool) -> Result<Value, ExprError> {
    c.exact(2)?;
    let found = match &c.args[0] {
        Value::Array(items) => {
            let target = &c.args[1];
            if last {
                items.iter().rposition(|item| json_equals(item, target))
            } else {
                items.iter().position(|item| json_equals(item, target))
            }
        }
        Value::String(s) => find_ignore_case(s, c.string(1)?, last),
        _ => return Err(c.type_error(0, "String or Array")),
    };
    Ok(Value::from(found.map_or(-1, |i| i as i64)))
}

/// `padLeft(valueToPad, totalLength, paddingCharacter?)`
fn pad_left(c: &Call) -> Result<Value, ExprError> {
    c.arity(2, Some(3))?;
    let value = match &c.args[0] {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_i64() => n.to_string(),
        _ => return Err(c.type_error(0, "String or Integer")),
    };
    let total = c.int(1)?;
    if !(0..=MAX_PADDED_LENGTH).contains(&total) {
        return Err(c.error(format!(
            "expects a total length between 0 and {MAX_PADDED_LENGTH}, but was given {total}."
        )));
    }
    let pad = match c.opt_string(2)? {
        None => ' ',
        Some(p) if p.chars().count() == 1 => p.chars().next().unwrap_or(' '),
        Some(p) => {
            return Err(c.error(format!(
                "expects a single padding character, but was given '{p}'."
            )));
        }
    };
    let missing = (total as usize).saturating_sub(value.chars().count());
    Ok(Value::String(
        std::iter::repeat_n(pad, missing)
            .chain(value.chars())
            .collect(),
    ))
}

/// `json(arg)`: parses JSON text (single-quoted strings are accepted, as in ARM).
fn json(c: &Call) -> Result<Value, ExprError> {
    c.exact(1)?;
    let text = c.string(0)?;
    parse_json(text).ok_or_else(|| {
        c.error(format!(
            "was given a string that is not valid JSON: '{text}'."
        ))
    })
}

/// Parses JSON, falling back to treating single-quoted strings as strings.
fn parse_json(text: &str) -> Option<Value> {
    serde_json::from_str(text)
        .ok()
        .or_else(|| serde_json::from_str(&requote(text)?).ok())
}

/// Rewrites single-quoted JSON strings as double-quoted ones.
fn requote(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '"' => {
                out.push('"');
                loop {
                    let ch = chars.next()?;
                    out.push(ch);
                    match ch {
                        '\\' => out.push(chars.next()?),
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' => {
                out.push('"');
                loop {
                    match chars.next()? {
                        '\\' => match chars.next()? {
                            '\'' => out.push('\''),
                            escaped => {
                                out.push('\\');
                                out.push(escaped);
                            }
                        },
                        '"' => out.push_str("\\\""),
                        '\'' => break,
                        other => out.push(other),
                    }
                }
                out.push('"');
            }
            other => out.push(other),
        }
    }
    Some(out)
}

fn decode_base64(c: &Call, text: &str) -> Result<String, ExprError> {
    let bytes = BASE64
        .decode(text.trim())
        .map_err(|e| c.error(format!("was given a string that is not valid base64: {e}.")))?;
    String::from_utf8(bytes).map_err(|_| c.error("was given base64 data that is not valid UTF-8."))
}

/// `dataUriToString(dataUriToConvert)`
fn data_uri_to_string(c: &Call) -> Result<Value, ExprError> {
    c.exact(1)?;
    let uri = c.string(0)?;
    let invalid = || {
        c.error(format!(
            "was given a value that is not a valid data URI: '{uri}'."
        ))
    };
    let rest = uri.strip_prefix("data:").ok_or_else(invalid)?;
    let (media_type, data) = rest.split_once(',').ok_or_else(invalid)?;
    let text = if media_type.to_ascii_lowercase().ends_with(";base64") {
        decode_base64(c, data)?
    } else {
        percent_decode(data).ok_or_else(invalid)?
    };
    Ok(Value::String(text))
}

/// `uri(baseUri, relativeUri)`
fn uri(c: &Call) -> Result<Value, ExprError> {
    c.exact(2)?;
    let (base, relative) = (c.string(0)?, c.string(1)?);
    let Some(scheme_end) = base.find("://") else {
        return Err(c.error(format!(
            "expects an absolute base URI, but was given '{base}'."
        )));
    };
    if relative.contains("://") {
        return Ok(Value::String(relative.to_string()));
    }
    let authority_end = base[scheme_end + 3..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + 3 + i);
    let result = if let Some(absolute_path) = relative.strip_prefix('/') {
        format!("{}/{absolute_path}", &base[..authority_end])
    } else if authority_end == base.len() {
        format!("{base}/{relative}")
    } else {
        let last_slash = base.rfind('/').unwrap_or(authority_end);
        format!("{}{relative}", &base[..=last_slash])
    };
    Ok(Value::String(result))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn uri_component(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Decodes `%XX` escapes (invalid escapes are kept as-is); `None` if the
/// result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use crate::deploy::test_support::{run, run_err};
    use serde_json::json;

    #[test]
    fn case_conversion_and_trim() {
        assert_eq!(run("toLower('MiXeD')"), json!("mixed"));
        assert_eq!(run("toUpper('MiXeD')"), json!("MIXED"));
        assert_eq!(run("trim('  a b \t')"), json!("a b"));
        assert!(run_err("toLower(1)").contains(
            "'toLower' expects argument 1 to be of type 'String', but it is of type 'Integer'."
        ));
        assert!(run_err("toUpper()").contains("exactly 1 argument, but was given 0"));
    }

    #[test]
    fn substring_bounds() {
        assert_eq!(run("substring('hello world', 6)"), json!("world"));
        assert_eq!(run("substring('hello world', 0, 5)"), json!("hello"));
        assert_eq!(run("substring('héllo', 1, 1)"), json!("é"));
        assert_eq!(run("substring('abc', 3, 0)"), json!(""));
        let err = run_err("substring('abc', 2, 5)");
        assert!(
            err.starts_with("The template function 'substring' failed: the index and length"),
            "{err}"
        );
        assert!(
            err.contains("'2'") && err.contains("'5'") && err.contains("'3'"),
            "{err}"
        );
        assert!(run_err("substring('abc', -1)").contains("index parameter: '-1'"));
        assert!(run_err("substring('abc', '1')").contains("argument 2"));
    }

    #[test]
    fn replace_split_join() {
        assert_eq!(run("replace('a-b-c', '-', '+')"), json!("a+b+c"));
        assert!(run_err("replace('abc', '', 'x')").contains("non-empty"));
        assert_eq!(run("split('a,b,,c', ',')"), json!(["a", "b", "", "c"]));
        assert_eq!(
            run("split('a,b;c', createArray(',', ';'))"),
            json!(["a", "b", "c"])
        );
        assert_eq!(run("split('10.0.0.0/16', '/')[0]"), json!("10.0.0.0"));
        assert_eq!(run("split('abc', '')"), json!(["abc"]));
        assert_eq!(run("split('', ',')"), json!([""]));
        assert_eq!(run("split('é,ü', ',')"), json!(["é", "ü"]));
        assert!(
            run_err("split('a', 1)")
                .contains("'split' expects argument 2 to be of type 'String or Array'")
        );
        assert!(run_err("split('a', createArray(1))").contains("only strings"));
        assert_eq!(
            run("join(createArray('a', 1, true()), '-')"),
            json!("a-1-True")
        );
        assert!(run_err("join(createArray(createArray()), ',')").contains("'join'"));
    }

    #[test]
    fn starts_ends_and_index_of_ignore_case() {
        assert_eq!(
            run("startsWith('Microsoft.Network', 'microsoft.')"),
            json!(true)
        );
        assert_eq!(run("endsWith('abcDEF', 'def')"), json!(true));
        assert_eq!(run("endsWith('abc', 'x')"), json!(false));
        assert_eq!(run("indexOf('abcdef', 'CD')"), json!(2));
        assert_eq!(run("indexOf('abc', 'z')"), json!(-1));
        assert_eq!(run("lastIndexOf('test', 'T')"), json!(3));
        assert_eq!(run("indexOf('ab', 'abc')"), json!(-1));
        assert_eq!(run("indexOf('abc', '')"), json!(0));
        assert_eq!(run("indexOf(createArray('a', 'b', 'a'), 'a')"), json!(0));
        assert_eq!(
            run("lastIndexOf(createArray('a', 'b', 'a'), 'a')"),
            json!(2)
        );
        assert_eq!(run("indexOf(createArray('a'), 'A')"), json!(-1));
        assert!(run_err("indexOf(1, 'a')").contains("'indexOf' expects argument 1"));
        assert!(run_err("startsWith('a', 1)").contains("argument 2"));
    }

    #[test]
    fn pad_left() {
        assert_eq!(run("padLeft('7', 3, '0')"), json!("007"));
        assert_eq!(run("padLeft(42, 5)"), json!("   42"));
        assert_eq!(run("padLeft('long', 2, '0')"), json!("long"));
        assert!(run_err("padLeft('7', 3, '00')").contains("single padding character"));
        assert!(run_err("padLeft('7', 99999999)").contains("total length"));
        assert!(run_err("padLeft(createArray(), 2)").contains("'padLeft' expects argument 1"));
    }

    #[test]
    fn string_conversion() {
        assert_eq!(run("string(1)"), json!("1"));
        assert_eq!(run("string(true())"), json!("True"));
        assert_eq!(
            run("string(createObject('a', createArray(1, 'b')))"),
            json!(r#"{"a":[1,"b"]}"#)
        );
        assert_eq!(run("string('x')"), json!("x"));
        assert_eq!(run("string(null())"), json!(""));
    }

    #[test]
    fn json_parsing() {
        assert_eq!(run("json('{\"a\": [1, true]}').a[1]"), json!(true));
        assert_eq!(run("json('null')"), json!(null));
        assert_eq!(run("json('3')"), json!(3));
        assert_eq!(run("json('{''a'': ''it\"s''}').a"), json!("it\"s"));
        assert!(run_err("json('{')").contains("'json' was given a string that is not valid JSON"));
        assert!(run_err("json(1)").contains("argument 1"));
    }

    #[test]
    fn base64_round_trips() {
        assert_eq!(
            run("base64('one, two, three')"),
            json!("b25lLCB0d28sIHRocmVl")
        );
        assert_eq!(
            run("base64ToString('b25lLCB0d28sIHRocmVl')"),
            json!("one, two, three")
        );
        assert_eq!(
            run("base64ToJson(base64('{''one'': ''a'', ''two'': ''b''}'))"),
            json!({"one": "a", "two": "b"})
        );
        assert!(run_err("base64ToString('***')").contains("not valid base64"));
        assert!(run_err("base64ToString('/w==')").contains("not valid UTF-8"));
        assert!(run_err("base64ToJson(base64('nope'))").contains("not valid JSON"));
    }

    #[test]
    fn data_uris() {
        assert_eq!(
            run("dataUri('Hello')"),
            json!("data:text/plain;charset=utf8;base64,SGVsbG8=")
        );
        assert_eq!(
            run("dataUriToString('data:;base64,SGVsbG8sIFdvcmxkIQ==')"),
            json!("Hello, World!")
        );
        assert_eq!(
            run("dataUriToString('data:text/plain,a%20b')"),
            json!("a b")
        );
        assert!(run_err("dataUriToString('http://x')").contains("not a valid data URI"));
    }

    #[test]
    fn uris() {
        assert_eq!(
            run("uri('http://contoso.org/firstpath', 'myscript.sh')"),
            json!("http://contoso.org/myscript.sh")
        );
        assert_eq!(
            run("uri('http://contoso.org/firstpath/', 'myscript.sh')"),
            json!("http://contoso.org/firstpath/myscript.sh")
        );
        assert_eq!(
            run("uri('http://contoso.org', 'a/b')"),
            json!("http://contoso.org/a/b")
        );
        assert_eq!(
            run("uri('http://contoso.org/x/y', '/root')"),
            json!("http://contoso.org/root")
        );
        assert_eq!(
            run("uri('http://a/b', 'https://c/d')"),
            json!("https://c/d")
        );
        assert!(run_err("uri('relative', 'x')").contains("absolute base URI"));
        assert_eq!(
            run("uriComponent('http://contoso.com/a b?c=ü')"),
            json!("http%3A%2F%2Fcontoso.com%2Fa%20b%3Fc%3D%C3%BC")
        );
        assert_eq!(
            run("uriComponentToString('http%3A%2F%2Fcontoso.com%2Fa%20b%3Fc%3D%C3%BC')"),
            json!("http://contoso.com/a b?c=ü")
        );
        assert_eq!(run("uriComponentToString('100%')"), json!("100%"));
        assert!(run_err("uriComponentToString('%FF')").contains("UTF-8"));
    }
}
