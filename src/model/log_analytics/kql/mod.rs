//! The subset of the Kusto Query Language (KQL) armlet's Log Analytics answers.
//!
//! A query is one tabular expression: a table name, then `|`-separated operators:
//! `where`, `project`, `project-away`, `extend`, `summarize <aggregates> [by <groups>]`,
//! `order by` / `sort by`, `take` / `limit`, `top N by`, `count`. Scalar expressions have
//! literals (numbers, strings, `true`/`false`, timespans such as `5m`, `datetime(...)`),
//! columns, arithmetic, comparisons, `and`/`or`, the string operators `==`, `!=`, `=~`,
//! `!~`, `contains`, `has`, `startswith`, `endswith` (and their `!` forms), `in`/`!in`, and
//! the functions of [`types::SCALAR_FUNCTIONS`]; `summarize` takes the aggregates of
//! [`eval::AGGREGATES`]. Anything else (`let`, `join`, `union`, `parse`, `render`, other
//! functions...) is refused with [`KqlError::Unsupported`], naming what was found and what
//! the subset has, rather than guessed at.
//!
//! [`lexer`] turns text into tokens, [`parse`] tokens into an [`ast::Query`], [`types`]
//! gives expressions their types against a schema, [`scalar`] evaluates them, and
//! [`eval`] checks it against the table's schema and runs it. Semantics follow Kusto's
//! documentation (learn.microsoft.com/kusto/query): `order by` sorts descending unless told
//! `asc`, `bin(TimeGenerated, 1m)` floors to whole minutes and keeps the column's name,
//! an aggregate `avg(Average)` is named `avg_Average` and `count()` is `count_`.

pub mod ast;
pub mod eval;
pub mod lexer;
pub mod parse;
pub mod scalar;
pub mod types;

#[cfg(test)]
mod eval_tests;
#[cfg(test)]
mod parse_tests;

use chrono::{DateTime, Utc};

use super::value::Table;

/// Why a query was refused; each maps to one of the query API's error codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KqlError {
    /// The text is not a query (Kusto's `SyntaxError`).
    #[error("{0}")]
    Syntax(String),
    /// A well-formed query naming what does not exist, or mixing types (`SemanticError`).
    #[error("{0}")]
    Semantic(String),
    /// Valid KQL outside armlet's subset.
    #[error("{0}")]
    Unsupported(String),
}

/// Parses and runs `text` over the table `lookup` returns for a name (`None`: no such
/// table); `now` is what `now()` and `ago()` see.
pub fn run(
    text: &str,
    lookup: impl FnOnce(&str) -> Option<Table>,
    now: DateTime<Utc>,
) -> Result<Table, KqlError> {
    let query = parse::parse(text)?;
    let source = lookup(&query.table).ok_or_else(|| {
        KqlError::Semantic(format!(
            "'{}' operator: Failed to resolve table or column expression named '{}'",
            query.first_operator_name(),
            query.table
        ))
    })?;
    eval::run(&query, source, now)
}

/// The table a query reads, so a caller can load only that table.
pub fn source_table(text: &str) -> Result<String, KqlError> {
    Ok(parse::parse(text)?.table)
}
