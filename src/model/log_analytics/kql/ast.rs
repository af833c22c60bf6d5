//! The syntax tree of a query: a source table and its operators, and scalar expressions.

use super::KqlError;
use crate::model::log_analytics::value::Value;

/// `Table | op | op ...`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub table: String,
    pub operators: Vec<Operator>,
}

impl Query {
    /// The first operator's name, as Kusto's errors name the operator that failed.
    pub fn first_operator_name(&self) -> &'static str {
        self.operators.first().map_or("table", Operator::name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// `name = expr`, or a bare `expr` whose name Kusto derives.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub name: Option<String>,
    pub expr: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operator {
    Where(Expr),
    Project(Vec<Named>),
    ProjectAway(Vec<String>),
    Extend(Vec<Named>),
    Summarize {
        aggregates: Vec<Named>,
        by: Vec<Named>,
    },
    Sort(Vec<(Expr, Direction)>),
    Take(u64),
    Top {
        count: u64,
        by: Expr,
        direction: Direction,
    },
    Count,
}

impl Operator {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Where(_) => "where",
            Self::Project(_) => "project",
            Self::ProjectAway(_) => "project-away",
            Self::Extend(_) => "extend",
            Self::Summarize { .. } => "summarize",
            Self::Sort(_) => "order by",
            Self::Take(_) => "take",
            Self::Top { .. } => "top",
            Self::Count => "count",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    EqCi,
    NeCi,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    NotContains,
    Has,
    NotHas,
    StartsWith,
    NotStartsWith,
    EndsWith,
    NotEndsWith,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Value),
    Column(String),
    Binary(Box<Expr>, BinaryOp, Box<Expr>),
    Negate(Box<Expr>),
    /// `x in (a, b)` / `x !in (...)` (`in~` compares without case).
    In {
        value: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
        case_insensitive: bool,
    },
    Call(String, Vec<Expr>),
}

/// The operators of the subset, and those of KQL that are recognised but refused.
pub const OPERATORS: &[&str] = &[
    "where",
    "filter",
    "project",
    "project-away",
    "extend",
    "summarize",
    "order by",
    "sort by",
    "take",
    "limit",
    "top",
    "count",
];

/// KQL operators and statements the subset recognises to refuse by name.
pub const KNOWN_UNSUPPORTED: &[&str] = &[
    "join",
    "union",
    "lookup",
    "parse",
    "parse-where",
    "mv-expand",
    "mv-apply",
    "render",
    "distinct",
    "make-series",
    "evaluate",
    "search",
    "find",
    "as",
    "invoke",
    "fork",
    "facet",
    "getschema",
    "sample",
    "sample-distinct",
    "serialize",
    "project-rename",
    "project-reorder",
    "project-keep",
    "range",
    "print",
    "datatable",
    "externaldata",
    "materialize",
    "let",
    "set",
    "declare",
    "top-nested",
    "top-hitters",
    "scan",
    "partition",
    "reduce",
];

/// The error for a KQL operator outside the subset.
pub fn unsupported_operator(name: &str) -> KqlError {
    KqlError::Unsupported(format!(
        "The '{name}' operator is outside armlet's KQL subset, which has: {}.",
        OPERATORS.join(", ")
    ))
}
