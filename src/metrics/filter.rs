//! The metrics API's `$filter` on dimensions, e.g.
//! `FrontendPort eq '*' and (BackendIPAddress eq '10.0.0.4' or BackendIPAddress eq '10.0.0.5')`.
//!
//! Grammar, as Azure's metrics spec describes it: conditions `Name op 'value'` with `op` one of
//! `eq`, `ne`, `sw` (starts with), joined by `and` and `or`, with parentheses. `or` binds
//! tighter than `and` (`A eq 'a1' and B eq 'b1' or B eq 'b2' and C eq '*'` is Azure's own
//! example) and may only join `eq` conditions on one dimension. `eq '*'` selects every value.
//! Names may contain spaces; values are quoted with `'` (`''` is a quote). Parentheses inside
//! names or values arrive as `%28`/`%29` (Azure's `%2528` convention after URL decoding) and
//! are decoded here.
//!
//! Every dimension a filter names becomes part of the series key: the answer has one time
//! series per combination of values of those dimensions (Azure's `metadatavalues`).

use crate::model::error::{ArmError, ArmResult};

use super::catalog::MetricDefinition;
use super::series::Dimensions;

/// What one condition accepts of a dimension's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `eq '*'`: every value, one series each.
    Any,
    /// `eq 'a'`, or `eq 'a' or eq 'b'`.
    OneOf(Vec<String>),
    NotEqual(String),
    StartsWith(String),
}

impl Condition {
    /// Values compare case-insensitively, as dimension values do on Azure.
    pub fn accepts(&self, value: &str) -> bool {
        match self {
            Condition::Any => true,
            Condition::OneOf(vs) => vs.iter().any(|v| v.eq_ignore_ascii_case(value)),
            Condition::NotEqual(v) => !v.eq_ignore_ascii_case(value),
            Condition::StartsWith(p) => value
                .get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p)),
        }
    }
}

/// A parsed filter: conditions that must all hold. Dimension names are as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub clauses: Vec<(String, Condition)>,
}

/// A filter checked against one metric: dimension names in their canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionFilter {
    pub clauses: Vec<(&'static str, Condition)>,
}

impl Filter {
    /// Checks every named dimension against the metric; Azure's error names the supported ones.
    pub fn resolve(&self, metric: &MetricDefinition) -> ArmResult<DimensionFilter> {
        let mut clauses = Vec::new();
        for (name, condition) in &self.clauses {
            let Some(canonical) = metric.dimension(name) else {
                // Azure's text, e.g. in tomkerkhove/promitor#2084.
                return Err(ArmError::bad_request(
                    "BadRequest",
                    format!(
                        "Metric: {} does not support requested dimension combination: {}, supported ones are: {}",
                        metric.name,
                        name.to_ascii_lowercase(),
                        metric.dimensions.join(",")
                    ),
                ));
            };
            clauses.push((canonical, condition.clone()));
        }
        Ok(DimensionFilter { clauses })
    }
}

impl DimensionFilter {
    /// The dimensions that key the answer's series, each once, in the filter's order.
    pub fn keys(&self) -> Vec<&'static str> {
        let mut keys: Vec<&'static str> = Vec::new();
        for (d, _) in &self.clauses {
            if !keys.contains(d) {
                keys.push(d);
            }
        }
        keys
    }

    /// Whether a series with these values is selected (a missing dimension reads as `""`).
    pub fn matches(&self, dims: &Dimensions) -> bool {
        self.clauses
            .iter()
            .all(|(d, c)| c.accepts(dims.get(*d).map(String::as_str).unwrap_or_default()))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Quoted(String),
    Word(String),
}

#[derive(Debug)]
enum Node {
    Cmp {
        name: String,
        op: String,
        value: String,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
}

fn invalid(raw: &str, why: impl std::fmt::Display) -> ArmError {
    ArmError::bad_request("BadRequest", format!("Invalid $filter '{raw}': {why}."))
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn tokenize(raw: &str) -> ArmResult<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = raw.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' => {
                chars.next();
                tokens.push(if c == '(' { Token::Open } else { Token::Close });
            }
            '\'' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            value.push('\'');
                        }
                        Some('\'') => break,
                        Some(c) => value.push(c),
                        None => return Err(invalid(raw, "a quoted value is not closed")),
                    }
                }
                tokens.push(Token::Quoted(value));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '\'') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    raw: &'a str,
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser<'_> {
    fn keyword(&self, kw: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    /// expr := term ('and' term)*
    fn expr(&mut self) -> ArmResult<Node> {
        let mut items = vec![self.term()?];
        while self.keyword("and") {
            self.pos += 1;
            items.push(self.term()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::And(items)
        })
    }

    /// term := factor ('or' factor)*
    fn term(&mut self) -> ArmResult<Node> {
        let mut items = vec![self.factor()?];
        while self.keyword("or") {
            self.pos += 1;
            items.push(self.factor()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::Or(items)
        })
    }

    /// factor := '(' expr ')' | name+ op 'value'
    fn factor(&mut self) -> ArmResult<Node> {
        if self.tokens.get(self.pos) == Some(&Token::Open) {
            self.pos += 1;
            let inner = self.expr()?;
            if self.tokens.get(self.pos) != Some(&Token::Close) {
                return Err(invalid(self.raw, "a parenthesis is not closed"));
            }
            self.pos += 1;
            return Ok(inner);
        }
        let mut name = Vec::new();
        let op = loop {
            match self.tokens.get(self.pos) {
                Some(Token::Word(w))
                    if ["eq", "ne", "sw"].iter().any(|o| w.eq_ignore_ascii_case(o)) =>
                {
                    break w.to_ascii_lowercase();
                }
                Some(Token::Word(w))
                    if !(name.is_empty()
                        && (w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or"))) =>
                {
                    name.push(w.clone());
                    self.pos += 1;
                }
                _ if name.is_empty() => return Err(invalid(self.raw, "expected a dimension name")),
                _ => {
                    return Err(invalid(
                        self.raw,
                        format!("expected eq, ne or sw after '{}'", name.join(" ")),
                    ));
                }
            }
        };
        if name.is_empty() {
            return Err(invalid(self.raw, format!("'{op}' has no dimension name")));
        }
        self.pos += 1;
        let Some(Token::Quoted(value)) = self.tokens.get(self.pos).cloned() else {
            return Err(invalid(
                self.raw,
                format!("expected a quoted value after '{} {op}'", name.join(" ")),
            ));
        };
        self.pos += 1;
        Ok(Node::Cmp {
            name: decode(&name.join(" ")),
            op,
            value: decode(&value),
        })
    }
}

/// Parses `$filter`.
pub fn parse(raw: &str) -> ArmResult<Filter> {
    let mut p = Parser {
        raw,
        tokens: tokenize(raw)?,
        pos: 0,
    };
    if p.tokens.is_empty() {
        return Err(invalid(raw, "it is empty"));
    }
    let node = p.expr()?;
    if let Some(t) = p.tokens.get(p.pos) {
        return Err(invalid(
            raw,
            format!("unexpected {t:?} after a complete condition"),
        ));
    }
    let mut clauses = Vec::new();
    flatten(raw, node, &mut clauses)?;
    Ok(Filter { clauses })
}

fn flatten(raw: &str, node: Node, out: &mut Vec<(String, Condition)>) -> ArmResult<()> {
    match node {
        Node::And(items) => items.into_iter().try_for_each(|n| flatten(raw, n, out)),
        Node::Cmp { name, op, value } => {
            let condition = match (op.as_str(), value.as_str()) {
                ("eq", "*") => Condition::Any,
                ("eq", _) => Condition::OneOf(vec![value]),
                (_, "*") => return Err(invalid(raw, format!("'*' only works with eq, not {op}"))),
                ("ne", _) => Condition::NotEqual(value),
                _ => Condition::StartsWith(value),
            };
            out.push((name, condition));
            Ok(())
        }
        Node::Or(items) => {
            let mut leaves = Vec::new();
            or_leaves(raw, items, &mut leaves)?;
            let name = leaves[0].0.clone();
            if let Some((other, _)) = leaves.iter().find(|(n, _)| !n.eq_ignore_ascii_case(&name)) {
                return Err(invalid(
                    raw,
                    format!(
                        "the logical 'or' operator cannot separate two different dimension names ({name}, {other})"
                    ),
                ));
            }
            let values: Vec<String> = leaves.into_iter().map(|(_, v)| v).collect();
            let condition = if values.iter().any(|v| v == "*") {
                Condition::Any
            } else {
                Condition::OneOf(values)
            };
            out.push((name, condition));
            Ok(())
        }
    }
}

/// The `(name, value)` of every `eq` condition under an `or`; anything else is refused.
fn or_leaves(raw: &str, items: Vec<Node>, out: &mut Vec<(String, String)>) -> ArmResult<()> {
    for item in items {
        match item {
            Node::Or(inner) => or_leaves(raw, inner, out)?,
            Node::Cmp { name, op, value } if op == "eq" => out.push((name, value)),
            Node::Cmp { .. } => {
                // Azure's text (grafana/grafana#128316).
                return Err(ArmError::bad_request(
                    "BadRequest",
                    "Only 'eq' operator are supported for 'or' clause",
                ));
            }
            Node::And(_) => {
                return Err(invalid(
                    raw,
                    "the logical 'or' operator can only join conditions on one dimension",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
