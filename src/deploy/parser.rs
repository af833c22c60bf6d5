//! Recursive-descent parser for ARM template language expressions, turning
//! the tokens from [`super::lexer`] into an [`Expr`] tree. Errors carry the
//! character position and ARM's wording ("expected token 'RightParenthesis'
//! and actual 'EndOfData'").

use super::expr::{Expr, ExprError};
use super::lexer::{Token, TokenKind, tokenize};

/// Deepest nesting of calls/accessors the parser accepts, so hostile input
/// can't overflow the stack.
const MAX_DEPTH: usize = 128;

/// Parses the text inside the outer `[` `]` of an expression.
pub(crate) fn parse(src: &str) -> Result<Expr, ExprError> {
    let tokens = tokenize(src).map_err(|e| ExprError::Parse {
        expression: src.to_string(),
        position: e.position,
        message: e.message,
    })?;
    let mut parser = Parser {
        src,
        tokens,
        pos: 0,
        depth: 0,
    };
    let node = parser.expression()?;
    parser.expect(&TokenKind::EndOfData)?;
    Ok(node.expr)
}

/// Recursive-descent parser:
///
/// ```text
/// expression := primary
///             | call accessor*
/// call       := Identifier '(' [expression (',' expression)*] ')'
/// primary    := String | Integer | 'true' | 'false' | 'null'
/// accessor   := '.' Identifier | '[' expression ']'
/// ```
struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

/// A parsed subtree and its height (1 for a leaf).
struct Node {
    expr: Expr,
    height: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos]
    }

    fn advance(&mut self) -> Token {
        let token = self.tokens[self.pos].clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        token
    }

    fn error(&self, position: usize, message: String) -> ExprError {
        ExprError::Parse {
            expression: self.src.to_string(),
            position,
            message,
        }
    }

    fn unexpected(&self, expected: &str) -> ExprError {
        let actual = self.peek();
        self.error(
            actual.position,
            format!(
                "expected token '{expected}' and actual '{}'",
                actual.kind.name()
            ),
        )
    }

    /// Consumes a token of the given kind (payloads are ignored).
    fn expect(&mut self, kind: &TokenKind) -> Result<Token, ExprError> {
        if std::mem::discriminant(&self.peek().kind) == std::mem::discriminant(kind) {
            Ok(self.advance())
        } else {
            Err(self.unexpected(kind.name()))
        }
    }

    fn too_deep(&self) -> ExprError {
        let position = self.peek().position;
        self.error(
            position,
            format!("the expression is nested more than {MAX_DEPTH} levels deep"),
        )
    }

    /// Wraps a finished node, rejecting trees taller than `MAX_DEPTH` (long
    /// accessor chains nest too, and evaluation recurses over the tree).
    fn node(&self, expr: Expr, height: usize) -> Result<Node, ExprError> {
        if height > MAX_DEPTH {
            return Err(self.too_deep());
        }
        Ok(Node { expr, height })
    }

    fn expression(&mut self) -> Result<Node, ExprError> {
        self.depth += 1;
        let result = if self.depth > MAX_DEPTH {
            Err(self.too_deep())
        } else {
            self.expression_inner()
        };
        self.depth -= 1;
        result
    }

    fn expression_inner(&mut self) -> Result<Node, ExprError> {
        let kind = self.peek().kind.clone();
        let leaf = match kind {
            TokenKind::String(s) => Expr::String(s),
            TokenKind::Integer(i) => Expr::Integer(i),
            TokenKind::Identifier(name) => {
                self.advance();
                return match self.peek().kind {
                    TokenKind::LeftParenthesis => {
                        let call = self.call_arguments(name)?;
                        self.accessors(call)
                    }
                    _ if name.eq_ignore_ascii_case("true") => self.node(Expr::Bool(true), 1),
                    _ if name.eq_ignore_ascii_case("false") => self.node(Expr::Bool(false), 1),
                    _ if name.eq_ignore_ascii_case("null") => self.node(Expr::Null, 1),
                    _ => Err(self.unexpected("LeftParenthesis")),
                };
            }
            _ => return Err(self.unexpected("Identifier")),
        };
        self.advance();
        self.node(leaf, 1)
    }

    /// Parses `( args )` after a function name.
    fn call_arguments(&mut self, name: String) -> Result<Node, ExprError> {
        self.expect(&TokenKind::LeftParenthesis)?;
        let mut args = Vec::new();
        let mut height = 0;
        if self.peek().kind == TokenKind::RightParenthesis {
            self.advance();
            return self.node(Expr::Call { name, args }, 1);
        }
        loop {
            let arg = self.expression()?;
            height = height.max(arg.height);
            args.push(arg.expr);
            match self.peek().kind {
                TokenKind::Comma => {
                    self.advance();
                }
                TokenKind::RightParenthesis => {
                    self.advance();
                    return self.node(Expr::Call { name, args }, height + 1);
                }
                _ => return Err(self.unexpected("RightParenthesis")),
            }
        }
    }

    /// Parses any `.name` / `[index]` chain following a call.
    fn accessors(&mut self, mut target: Node) -> Result<Node, ExprError> {
        loop {
            target = match self.peek().kind {
                TokenKind::Dot => {
                    self.advance();
                    let TokenKind::Identifier(name) = self.peek().kind.clone() else {
                        return Err(self.unexpected("Identifier"));
                    };
                    self.advance();
                    let property = Expr::Property {
                        target: Box::new(target.expr),
                        name,
                    };
                    self.node(property, target.height + 1)?
                }
                TokenKind::LeftSquareBracket => {
                    self.advance();
                    let index = self.expression()?;
                    self.expect(&TokenKind::RightSquareBracket)?;
                    let height = target.height.max(index.height) + 1;
                    let indexed = Expr::Index {
                        target: Box::new(target.expr),
                        index: Box::new(index.expr),
                    };
                    self.node(indexed, height)?
                }
                _ => return Ok(target),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: Vec<Expr>) -> Expr {
        Expr::Call {
            name: name.to_string(),
            args,
        }
    }

    fn s(text: &str) -> Expr {
        Expr::String(text.to_string())
    }

    fn parse_err(src: &str) -> (usize, String) {
        match parse(src) {
            Err(ExprError::Parse {
                position, message, ..
            }) => (position, message),
            other => panic!("{src}: expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn parses_nested_calls_and_literals() {
        assert_eq!(
            parse("concat('a', toUpper('b'), -3, 42)").unwrap(),
            call(
                "concat",
                vec![
                    s("a"),
                    call("toUpper", vec![s("b")]),
                    Expr::Integer(-3),
                    Expr::Integer(42)
                ]
            )
        );
        assert_eq!(
            parse("  resourceGroup( )  ").unwrap(),
            call("resourceGroup", vec![])
        );
        assert_eq!(parse("'it''s'").unwrap(), s("it's"));
        assert_eq!(parse("TRUE").unwrap(), Expr::Bool(true));
        assert_eq!(parse("false").unwrap(), Expr::Bool(false));
        assert_eq!(parse("null").unwrap(), Expr::Null);
    }

    #[test]
    fn parses_property_and_index_chains() {
        let expr = parse("reference('lb').frontendIPConfigurations[0].id").unwrap();
        let expected = Expr::Property {
            target: Box::new(Expr::Index {
                target: Box::new(Expr::Property {
                    target: Box::new(call("reference", vec![s("lb")])),
                    name: "frontendIPConfigurations".to_string(),
                }),
                index: Box::new(Expr::Integer(0)),
            }),
            name: "id".to_string(),
        };
        assert_eq!(expr, expected);
        let expr = parse("parameters('x')[variables('k')]").unwrap();
        assert!(matches!(expr, Expr::Index { .. }));
    }

    #[test]
    fn display_round_trips() {
        for src in [
            "concat('a', 'it''s', -1, true, null)",
            "reference('lb', '2023-01-01', 'Full').properties.frontendIPConfigurations[0].id",
            "parameters('x')[add(1, 2)]['key']",
        ] {
            let expr = parse(src).unwrap();
            assert_eq!(expr.to_string(), src);
            assert_eq!(parse(&expr.to_string()).unwrap(), expr);
        }
    }

    #[test]
    fn parse_errors_name_the_expected_token_and_position() {
        let err = parse("concat('a'").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unable to parse language expression 'concat('a'': expected token 'RightParenthesis' and actual 'EndOfData' (at position 10)."
        );
        assert_eq!(
            parse_err("concat('a' 'b')"),
            (
                11,
                "expected token 'RightParenthesis' and actual 'String'".to_string()
            )
        );
        assert_eq!(
            parse_err("concat('a',)"),
            (
                11,
                "expected token 'Identifier' and actual 'RightParenthesis'".to_string()
            )
        );
        assert_eq!(
            parse_err("foo"),
            (
                3,
                "expected token 'LeftParenthesis' and actual 'EndOfData'".to_string()
            )
        );
        assert_eq!(
            parse_err("f() g()"),
            (
                4,
                "expected token 'EndOfData' and actual 'Identifier'".to_string()
            )
        );
        assert_eq!(
            parse_err("f().[0]"),
            (
                4,
                "expected token 'Identifier' and actual 'LeftSquareBracket'".to_string()
            )
        );
        assert_eq!(
            parse_err("f()[0"),
            (
                5,
                "expected token 'RightSquareBracket' and actual 'EndOfData'".to_string()
            )
        );
        assert_eq!(
            parse_err("'a'.length"),
            (3, "expected token 'EndOfData' and actual 'Dot'".to_string())
        );
        assert_eq!(parse_err("").0, 0);
        assert_eq!(parse_err("f('x)").0, 2);
        assert_eq!(parse_err("f(#)").0, 2);
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let src = format!("{}1{}", "f(".repeat(200), ")".repeat(200));
        let (_, message) = parse_err(&src);
        assert!(message.contains("nested more than"), "{message}");
        let ok = format!("{}1{}", "f(".repeat(100), ")".repeat(100));
        assert!(parse(&ok).is_ok());
        let long_chain = format!("f(){}", ".a".repeat(1000));
        assert!(parse_err(&long_chain).1.contains("nested more than"));
        let nested_chains = format!("{}1{}", "f(".repeat(60), ").a.a".repeat(60));
        assert!(parse_err(&nested_chains).1.contains("nested more than"));
        assert!(parse(&format!("f(){}", "[0]".repeat(100))).is_ok());
    }
}
