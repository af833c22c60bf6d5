//! A lenient JSON reader for template deployment bodies.
//!
//! ARM reads requests with Json.NET, which accepts more than JSON, and the `az` CLI relies on
//! it: `az deployment group create --template-file` splices the template file's text into
//! the request unchanged, as `{"properties": {..., template:{...file text...}}}` — an
//! unquoted key, and whatever the file holds: `//` and `/* */` comments, trailing commas.
//! This reader accepts exactly those extensions (plus single-quoted strings) and produces
//! an ordinary [`serde_json::Value`].

use serde_json::{Map, Number, Value};

/// Where and why the input is not (lenient) JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}, line {line}, position {column}")]
pub struct JsoncError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// Nesting deeper than this is refused, so hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 256;

/// Parses one lenient-JSON document (nothing but whitespace and comments may follow it).
pub fn parse(text: &str) -> Result<Value, JsoncError> {
    let mut r = Reader {
        chars: text.chars().collect(),
        pos: 0,
        depth: 0,
    };
    let v = r.value()?;
    r.skip_trivia()?;
    if r.pos < r.chars.len() {
        return Err(r.error("Additional text found after the end of the JSON content"));
    }
    Ok(v)
}

struct Reader {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl Reader {
    fn error(&self, message: &str) -> JsoncError {
        let before = &self.chars[..self.pos.min(self.chars.len())];
        let line = before.iter().filter(|c| **c == '\n').count() + 1;
        let column = before.iter().rev().take_while(|c| **c != '\n').count() + 1;
        JsoncError {
            message: message.to_string(),
            line,
            column,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// Skips whitespace and comments.
    fn skip_trivia(&mut self) -> Result<(), JsoncError> {
        loop {
            match (self.peek(), self.chars.get(self.pos + 1)) {
                (Some(c), _) if c.is_whitespace() || c == '\u{feff}' => self.pos += 1,
                (Some('/'), Some('/')) => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.pos += 1;
                    }
                }
                (Some('/'), Some('*')) => {
                    let start = self.pos;
                    self.pos += 2;
                    loop {
                        match self.peek() {
                            None => {
                                self.pos = start;
                                return Err(self.error("Unterminated comment"));
                            }
                            Some('*') if self.chars.get(self.pos + 1) == Some(&'/') => {
                                self.pos += 2;
                                break;
                            }
                            Some(_) => self.pos += 1,
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self) -> Result<Value, JsoncError> {
        self.skip_trivia()?;
        match self.peek() {
            None => Err(self.error("Unexpected end of content")),
            Some('{') => self.nested(Self::object),
            Some('[') => self.nested(Self::array),
            Some(q @ ('"' | '\'')) => self.string(q).map(Value::String),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            Some(c) if is_word(c) => match self.word().as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                "null" => Ok(Value::Null),
                w => Err(self.error(&format!("Unexpected value '{w}'"))),
            },
            Some(c) => Err(self.error(&format!("Unexpected character '{c}'"))),
        }
    }

    fn nested(
        &mut self,
        f: fn(&mut Self) -> Result<Value, JsoncError>,
    ) -> Result<Value, JsoncError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("The JSON content is nested too deeply"));
        }
        let v = f(self);
        self.depth -= 1;
        v
    }

    fn object(&mut self) -> Result<Value, JsoncError> {
        self.pos += 1; // '{'
        let mut map = Map::new();
        loop {
            self.skip_trivia()?;
            let key = match self.peek() {
                Some('}') => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                Some(q @ ('"' | '\'')) => self.string(q)?,
                Some(c) if is_word(c) => self.word(),
                Some(c) => {
                    return Err(self.error(&format!("Invalid property identifier character '{c}'")));
                }
                None => return Err(self.error("Unexpected end of content while reading an object")),
            };
            self.skip_trivia()?;
            if self.peek() != Some(':') {
                return Err(self.error(&format!("Expected ':' after property '{key}'")));
            }
            self.pos += 1;
            let v = self.value()?;
            map.insert(key, v);
            self.skip_trivia()?;
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {}
                _ => return Err(self.error("Expected ',' or '}' after a property value")),
            }
        }
    }

    fn array(&mut self) -> Result<Value, JsoncError> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        loop {
            self.skip_trivia()?;
            if self.peek() == Some(']') {
                self.pos += 1;
                return Ok(Value::Array(items));
            }
            items.push(self.value()?);
            self.skip_trivia()?;
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(']') => {}
                _ => return Err(self.error("Expected ',' or ']' after an array item")),
            }
        }
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_word) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn string(&mut self, quote: char) -> Result<String, JsoncError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                self.pos = start;
                return Err(self.error("Unterminated string"));
            };
            self.pos += 1;
            match c {
                c if c == quote => return Ok(out),
                '\\' => {
                    let Some(e) = self.peek() else { continue };
                    self.pos += 1;
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'u' => out.push(self.unicode_escape()?),
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
    }

    /// `\uXXXX`, joining UTF-16 surrogate pairs.
    fn unicode_escape(&mut self) -> Result<char, JsoncError> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi)
            && self.peek() == Some('\\')
            && self.chars.get(self.pos + 1) == Some(&'u')
        {
            self.pos += 2;
            let lo = self.hex4()?;
            let c = 0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF);
            return Ok(char::from_u32(c).unwrap_or('\u{fffd}'));
        }
        Ok(char::from_u32(hi).unwrap_or('\u{fffd}'))
    }

    fn hex4(&mut self) -> Result<u32, JsoncError> {
        let digits: String = self.chars.iter().skip(self.pos).take(4).collect();
        let v = u32::from_str_radix(&digits, 16)
            .ok()
            .filter(|_| digits.len() == 4)
            .ok_or_else(|| self.error("Invalid Unicode escape sequence"))?;
        self.pos += 4;
        Ok(v)
    }

    fn number(&mut self) -> Result<Value, JsoncError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.'))
        {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        let n = if let Ok(i) = text.parse::<i64>() {
            Some(Number::from(i))
        } else if let Ok(u) = text.parse::<u64>() {
            Some(Number::from(u))
        } else {
            text.parse::<f64>().ok().and_then(Number::from_f64)
        };
        match n {
            Some(n) => Ok(Value::Number(n)),
            None => {
                self.pos = start;
                Err(self.error(&format!("Invalid number '{text}'")))
            }
        }
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '$')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_json_reads_like_serde_json() {
        let text = r#"{"a": [1, -2, 3.5, 1e3, true, false, null], "s": "x\"\\\n\u00e9\ud83d\ude00", "big": 18446744073709551615}"#;
        assert_eq!(
            parse(text).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn the_body_az_cli_sends_for_template_files() {
        // JsonCTemplatePolicy: the file text follows an unquoted `template:` key.
        let body = r#"{"properties": {"parameters": {"n": {"value": 2}}, "mode": "Incremental", template:{
            // a line comment with "quotes" and a url https://x/y
            "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
            /* a block
               comment */
            "resources": [ { "name": "a//b", }, ],
        }}}"#;
        let v = parse(body).unwrap();
        assert_eq!(v["properties"]["mode"], "Incremental");
        assert_eq!(
            v["properties"]["template"]["resources"],
            json!([{"name": "a//b"}])
        );
        assert_eq!(v["properties"]["parameters"]["n"]["value"], 2);
    }

    #[test]
    fn single_quotes_and_bare_keys() {
        assert_eq!(
            parse("{a_1: 'it''s'}").unwrap_err().message,
            "Expected ',' or '}' after a property value"
        );
        assert_eq!(
            parse(r"{a_1: 'it\'s', $b: 1}").unwrap(),
            json!({"a_1": "it's", "$b": 1})
        );
    }

    #[test]
    fn errors_say_where() {
        let e = parse("{\n  \"a\": tru\n}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 11));
        assert!(e.message.contains("'tru'"), "{e}");
        assert!(parse("{\"a\": 1} x").is_err());
        assert!(parse("[1, 2").is_err());
        assert!(parse("\"open").is_err());
        assert!(parse("/* open").is_err());
        assert!(parse("").is_err());
        assert!(parse(&"[".repeat(10_000)).is_err());
    }
}
