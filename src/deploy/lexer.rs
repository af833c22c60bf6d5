//! Tokenizer for ARM template language expressions (the text between the
//! outer `[` and `]`). Token names follow ARM's own error messages, e.g.
//! "expected token 'RightParenthesis' and actual 'EndOfData'".

use std::fmt;

/// One lexical token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Identifier(String),
    Integer(i64),
    String(String),
    LeftParenthesis,
    RightParenthesis,
    LeftSquareBracket,
    RightSquareBracket,
    Comma,
    Dot,
    EndOfData,
}

impl TokenKind {
    /// The token type's name as it appears in ARM error messages.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            TokenKind::Identifier(_) => "Identifier",
            TokenKind::Integer(_) => "Integer",
            TokenKind::String(_) => "String",
            TokenKind::LeftParenthesis => "LeftParenthesis",
            TokenKind::RightParenthesis => "RightParenthesis",
            TokenKind::LeftSquareBracket => "LeftSquareBracket",
            TokenKind::RightSquareBracket => "RightSquareBracket",
            TokenKind::Comma => "Comma",
            TokenKind::Dot => "Dot",
            TokenKind::EndOfData => "EndOfData",
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A token and the character offset where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub position: usize,
}

/// A tokenizing failure: what went wrong and at which character offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError {
    pub message: String,
    pub position: usize,
}

/// Splits `src` into tokens; the last token is always `EndOfData`.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, LexError> {
    let chars: Vec<char> = src.chars().collect();
    let mut tokens = Vec::new();
    let mut pos = 0;
    while pos < chars.len() {
        let c = chars[pos];
        let start = pos;
        let kind = match c {
            c if c.is_whitespace() => {
                pos += 1;
                continue;
            }
            '(' => TokenKind::LeftParenthesis,
            ')' => TokenKind::RightParenthesis,
            '[' => TokenKind::LeftSquareBracket,
            ']' => TokenKind::RightSquareBracket,
            ',' => TokenKind::Comma,
            '.' => TokenKind::Dot,
            '\'' => {
                let (text, end) = string_literal(&chars, pos)?;
                pos = end;
                tokens.push(Token {
                    kind: TokenKind::String(text),
                    position: start,
                });
                continue;
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(pos + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let mut end = pos + 1;
                while chars.get(end).is_some_and(char::is_ascii_digit) {
                    end += 1;
                }
                let text: String = chars[pos..end].iter().collect();
                let value = text.parse::<i64>().map_err(|_| LexError {
                    message: format!("the integer literal '{text}' is out of range"),
                    position: start,
                })?;
                pos = end;
                tokens.push(Token {
                    kind: TokenKind::Integer(value),
                    position: start,
                });
                continue;
            }
            c if is_identifier_start(c) => {
                let mut end = pos + 1;
                while chars.get(end).is_some_and(|&c| is_identifier_part(c)) {
                    end += 1;
                }
                let text: String = chars[pos..end].iter().collect();
                pos = end;
                tokens.push(Token {
                    kind: TokenKind::Identifier(text),
                    position: start,
                });
                continue;
            }
            other => {
                return Err(LexError {
                    message: format!("unexpected character '{other}'"),
                    position: start,
                });
            }
        };
        tokens.push(Token {
            kind,
            position: start,
        });
        pos += 1;
    }
    tokens.push(Token {
        kind: TokenKind::EndOfData,
        position: chars.len(),
    });
    Ok(tokens)
}

fn is_identifier_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

fn is_identifier_part(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// Reads a single-quoted string starting at `start` (which holds the opening
/// quote); `''` is an escaped quote. Returns the text and the offset after
/// the closing quote.
fn string_literal(chars: &[char], start: usize) -> Result<(String, usize), LexError> {
    let mut text = String::new();
    let mut pos = start + 1;
    loop {
        match chars.get(pos) {
            None => {
                return Err(LexError {
                    message: "the string literal is not terminated".to_string(),
                    position: start,
                });
            }
            Some('\'') if chars.get(pos + 1) == Some(&'\'') => {
                text.push('\'');
                pos += 2;
            }
            Some('\'') => return Ok((text, pos + 1)),
            Some(&c) => {
                text.push(c);
                pos += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        tokenize(src).unwrap().into_iter().map(|t| t.kind).collect()
    }

    fn ident(s: &str) -> TokenKind {
        TokenKind::Identifier(s.to_string())
    }

    #[test]
    fn tokenizes_calls_and_punctuation() {
        assert_eq!(
            kinds("concat('a', -12)[0].id"),
            vec![
                ident("concat"),
                TokenKind::LeftParenthesis,
                TokenKind::String("a".into()),
                TokenKind::Comma,
                TokenKind::Integer(-12),
                TokenKind::RightParenthesis,
                TokenKind::LeftSquareBracket,
                TokenKind::Integer(0),
                TokenKind::RightSquareBracket,
                TokenKind::Dot,
                ident("id"),
                TokenKind::EndOfData,
            ]
        );
    }

    #[test]
    fn records_positions() {
        let tokens = tokenize("  f( 'x')").unwrap();
        let positions: Vec<usize> = tokens.iter().map(|t| t.position).collect();
        assert_eq!(positions, vec![2, 3, 5, 8, 9]);
    }

    #[test]
    fn doubled_quote_is_an_escaped_quote() {
        assert_eq!(
            kinds("'it''s'''"),
            vec![TokenKind::String("it's'".into()), TokenKind::EndOfData]
        );
        assert_eq!(
            kinds("''"),
            vec![TokenKind::String(String::new()), TokenKind::EndOfData]
        );
    }

    #[test]
    fn strings_keep_brackets_and_unicode() {
        assert_eq!(
            kinds("'[x], (y) — ü'"),
            vec![
                TokenKind::String("[x], (y) — ü".into()),
                TokenKind::EndOfData
            ]
        );
    }

    #[test]
    fn unterminated_string_is_an_error() {
        let err = tokenize("concat('abc").unwrap_err();
        assert_eq!(err.position, 7);
        assert!(err.message.contains("not terminated"));
    }

    #[test]
    fn unexpected_character_is_an_error() {
        let err = tokenize("a + b").unwrap_err();
        assert_eq!(err.position, 2);
        assert_eq!(err.message, "unexpected character '+'");
        assert!(tokenize("\"x\"").is_err());
    }

    #[test]
    fn integer_overflow_is_an_error() {
        let err = tokenize("99999999999999999999").unwrap_err();
        assert!(err.message.contains("out of range"));
        assert_eq!(
            kinds("-9223372036854775808")[0],
            TokenKind::Integer(i64::MIN)
        );
    }

    #[test]
    fn minus_without_digit_is_an_error() {
        assert!(tokenize("-a").is_err());
    }

    #[test]
    fn token_names_match_arm() {
        assert_eq!(TokenKind::RightParenthesis.to_string(), "RightParenthesis");
        assert_eq!(TokenKind::EndOfData.name(), "EndOfData");
        assert_eq!(ident("x").name(), "Identifier");
    }
}
