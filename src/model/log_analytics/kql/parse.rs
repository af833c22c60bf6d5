//! Tokens → a [`Query`]: a recursive-descent parser for the subset in the module docs.
//!
//! Precedence, loosest first: `or`, `and`, comparisons and string operators, `+ -`,
//! `* / %`, unary `-`, then literals, columns, calls and parentheses.

use super::KqlError;
use super::ast::{
    BinaryOp, Direction, Expr, KNOWN_UNSUPPORTED, Named, OPERATORS, Operator, Query,
    unsupported_operator,
};
use super::lexer::{Token, describe, parse_datetime, tokenize};
use crate::model::log_analytics::value::Value;

pub fn parse(text: &str) -> Result<Query, KqlError> {
    let tokens = tokenize(text)?;
    let mut p = Parser { tokens, at: 0 };
    let query = p.query()?;
    // A trailing `;` ends the statement; anything after it would be a second statement.
    p.eat_symbol(";");
    if let Some(t) = p.peek() {
        return Err(KqlError::Syntax(format!(
            "Unexpected {} after the end of the query.",
            describe(t)
        )));
    }
    Ok(query)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn peek_ident(&self) -> Option<&str> {
        match self.peek() {
            Some(Token::Ident(s)) => Some(s),
            _ => None,
        }
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn eat_symbol(&mut self, s: &str) -> bool {
        if matches!(self.peek(), Some(Token::Symbol(x)) if *x == s) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn eat_keyword(&mut self, k: &str) -> bool {
        if self.peek_ident() == Some(k) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect_symbol(&mut self, s: &str) -> Result<(), KqlError> {
        if self.eat_symbol(s) {
            Ok(())
        } else {
            Err(self.expected(&format!("'{s}'")))
        }
    }

    fn expected(&self, what: &str) -> KqlError {
        match self.peek() {
            Some(t) => KqlError::Syntax(format!("Expected {what} but found {}.", describe(t))),
            None => KqlError::Syntax(format!("Expected {what} but the query ended.")),
        }
    }

    fn ident(&mut self) -> Result<String, KqlError> {
        match self.next() {
            Some(Token::Ident(s)) => Ok(s),
            _ => {
                self.at -= 1;
                Err(self.expected("a name"))
            }
        }
    }

    fn query(&mut self) -> Result<Query, KqlError> {
        let table = match self.peek_ident() {
            Some(first) if KNOWN_UNSUPPORTED.contains(&first) => {
                return Err(KqlError::Unsupported(format!(
                    "'{first}' is outside armlet's KQL subset: a query starts with a table name (AzureMetrics) followed by operators: {}.",
                    OPERATORS.join(", ")
                )));
            }
            Some(_) => self.ident()?,
            None => return Err(self.expected("a table name")),
        };
        let mut operators = Vec::new();
        while self.eat_symbol("|") {
            operators.push(self.operator()?);
        }
        Ok(Query { table, operators })
    }

    fn operator(&mut self) -> Result<Operator, KqlError> {
        let name = self
            .ident()
            .map_err(|_| self.expected("an operator after '|'"))?;
        Ok(match name.as_str() {
            "where" | "filter" => Operator::Where(self.expr()?),
            "project" => Operator::Project(self.named_list()?),
            "extend" => Operator::Extend(self.named_list()?),
            "project-away" => {
                let mut names = vec![self.ident()?];
                while self.eat_symbol(",") {
                    names.push(self.ident()?);
                }
                Operator::ProjectAway(names)
            }
            "summarize" => {
                let aggregates = if self.peek_ident() == Some("by") {
                    Vec::new()
                } else {
                    self.named_list()?
                };
                let by = if self.eat_keyword("by") {
                    self.named_list()?
                } else {
                    Vec::new()
                };
                if aggregates.is_empty() && by.is_empty() {
                    return Err(self.expected("an aggregate or 'by' after 'summarize'"));
                }
                Operator::Summarize { aggregates, by }
            }
            "order" | "sort" => {
                if !self.eat_keyword("by") {
                    return Err(self.expected(&format!("'by' after '{name}'")));
                }
                let mut keys = vec![self.sort_key()?];
                while self.eat_symbol(",") {
                    keys.push(self.sort_key()?);
                }
                Operator::Sort(keys)
            }
            "take" | "limit" => Operator::Take(self.count()?),
            "top" => {
                let count = self.count()?;
                if !self.eat_keyword("by") {
                    return Err(self.expected("'by' after 'top N'"));
                }
                let (by, direction) = self.sort_key()?;
                Operator::Top {
                    count,
                    by,
                    direction,
                }
            }
            "count" => Operator::Count,
            other => return Err(unsupported_operator(other)),
        })
    }

    fn count(&mut self) -> Result<u64, KqlError> {
        match self.next() {
            Some(Token::Long(n)) if n >= 0 => Ok(n as u64),
            _ => {
                self.at -= 1;
                Err(self.expected("a row count"))
            }
        }
    }

    fn sort_key(&mut self) -> Result<(Expr, Direction), KqlError> {
        let e = self.expr()?;
        let direction = if self.eat_keyword("asc") {
            Direction::Asc
        } else {
            self.eat_keyword("desc");
            Direction::Desc
        };
        // `nulls first|last` is accepted and ignored only when it matches Kusto's default.
        if self.eat_keyword("nulls") {
            let which = self.ident()?;
            let default = if direction == Direction::Asc {
                "first"
            } else {
                "last"
            };
            if which != default {
                return Err(KqlError::Unsupported(format!(
                    "'nulls {which}' is outside armlet's KQL subset (only each direction's default, nulls {default} here)."
                )));
            }
        }
        Ok((e, direction))
    }

    fn named_list(&mut self) -> Result<Vec<Named>, KqlError> {
        let mut out = vec![self.named()?];
        while self.eat_symbol(",") {
            out.push(self.named()?);
        }
        Ok(out)
    }

    fn named(&mut self) -> Result<Named, KqlError> {
        if let (Some(Token::Ident(name)), Some(Token::Symbol("="))) =
            (self.tokens.get(self.at), self.tokens.get(self.at + 1))
        {
            let name = name.clone();
            self.at += 2;
            return Ok(Named {
                name: Some(name),
                expr: self.expr()?,
            });
        }
        Ok(Named {
            name: None,
            expr: self.expr()?,
        })
    }

    fn expr(&mut self) -> Result<Expr, KqlError> {
        let mut left = self.and()?;
        while self.eat_keyword("or") {
            left = Expr::Binary(Box::new(left), BinaryOp::Or, Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, KqlError> {
        let mut left = self.comparison()?;
        while self.eat_keyword("and") {
            left = Expr::Binary(Box::new(left), BinaryOp::And, Box::new(self.comparison()?));
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Expr, KqlError> {
        let left = self.additive()?;
        let symbolic = [
            ("==", BinaryOp::Eq),
            ("!=", BinaryOp::Ne),
            ("=~", BinaryOp::EqCi),
            ("!~", BinaryOp::NeCi),
            ("<=", BinaryOp::Le),
            (">=", BinaryOp::Ge),
            ("<", BinaryOp::Lt),
            (">", BinaryOp::Gt),
        ];
        for (sym, op) in symbolic {
            if self.eat_symbol(sym) {
                return Ok(Expr::Binary(Box::new(left), op, Box::new(self.additive()?)));
            }
        }
        // `!contains`, `!in`, ... arrive as `!` followed by a word.
        let negated = matches!(self.peek(), Some(Token::Symbol("!")))
            && matches!(self.tokens.get(self.at + 1), Some(Token::Ident(_)));
        let word = match (negated, self.tokens.get(self.at + usize::from(negated))) {
            (_, Some(Token::Ident(w))) => w.clone(),
            _ => return Ok(left),
        };
        let op = match (word.as_str(), negated) {
            ("contains", false) => BinaryOp::Contains,
            ("contains", true) => BinaryOp::NotContains,
            ("has", false) => BinaryOp::Has,
            ("has", true) => BinaryOp::NotHas,
            ("startswith", false) => BinaryOp::StartsWith,
            ("startswith", true) => BinaryOp::NotStartsWith,
            ("endswith", false) => BinaryOp::EndsWith,
            ("endswith", true) => BinaryOp::NotEndsWith,
            ("in", _) => {
                self.at += 1 + usize::from(negated);
                let case_insensitive = self.eat_symbol("~");
                return self.in_list(left, negated, case_insensitive);
            }
            (
                "between" | "matches" | "has_any" | "has_all" | "contains_cs" | "has_cs"
                | "startswith_cs" | "endswith_cs",
                _,
            ) => {
                return Err(KqlError::Unsupported(format!(
                    "The '{}{word}' operator is outside armlet's KQL subset; string operators: ==, !=, =~, !~, contains, has, startswith, endswith, in (each with a ! form).",
                    if negated { "!" } else { "" }
                )));
            }
            _ if negated => return Err(self.expected("an operator")),
            _ => return Ok(left),
        };
        self.at += 1 + usize::from(negated);
        Ok(Expr::Binary(Box::new(left), op, Box::new(self.additive()?)))
    }

    fn in_list(
        &mut self,
        value: Expr,
        negated: bool,
        case_insensitive: bool,
    ) -> Result<Expr, KqlError> {
        self.expect_symbol("(")?;
        let mut list = vec![self.expr()?];
        while self.eat_symbol(",") {
            list.push(self.expr()?);
        }
        self.expect_symbol(")")?;
        Ok(Expr::In {
            value: Box::new(value),
            list,
            negated,
            case_insensitive,
        })
    }

    fn additive(&mut self) -> Result<Expr, KqlError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = if self.eat_symbol("+") {
                BinaryOp::Add
            } else if self.eat_symbol("-") {
                BinaryOp::Sub
            } else {
                return Ok(left);
            };
            left = Expr::Binary(Box::new(left), op, Box::new(self.multiplicative()?));
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, KqlError> {
        let mut left = self.unary()?;
        loop {
            let op = if self.eat_symbol("*") {
                BinaryOp::Mul
            } else if self.eat_symbol("/") {
                BinaryOp::Div
            } else if self.eat_symbol("%") {
                BinaryOp::Mod
            } else {
                return Ok(left);
            };
            left = Expr::Binary(Box::new(left), op, Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, KqlError> {
        if self.eat_symbol("-") {
            return Ok(Expr::Negate(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, KqlError> {
        let Some(token) = self.next() else {
            return Err(KqlError::Syntax(
                "Expected an expression but the query ended.".into(),
            ));
        };
        Ok(match token {
            Token::Long(v) => Expr::Literal(Value::Long(v)),
            Token::Real(v) => Expr::Literal(Value::Real(v)),
            Token::String(s) => Expr::Literal(Value::String(s)),
            Token::TimeSpan(d) => Expr::Literal(Value::TimeSpan(d)),
            Token::DateTime(raw) => Expr::Literal(Value::DateTime(parse_datetime(&raw)?)),
            Token::Symbol("(") => {
                let e = self.expr()?;
                self.expect_symbol(")")?;
                e
            }
            Token::Ident(name) => match name.as_str() {
                "true" => Expr::Literal(Value::Bool(true)),
                "false" => Expr::Literal(Value::Bool(false)),
                _ if self.eat_symbol("(") => {
                    let mut args = Vec::new();
                    if !self.eat_symbol(")") {
                        args.push(self.expr()?);
                        while self.eat_symbol(",") {
                            args.push(self.expr()?);
                        }
                        self.expect_symbol(")")?;
                    }
                    Expr::Call(name, args)
                }
                _ => Expr::Column(name),
            },
            other => {
                self.at -= 1;
                return Err(KqlError::Syntax(format!(
                    "Expected an expression but found {}.",
                    describe(&other)
                )));
            }
        })
    }
}
