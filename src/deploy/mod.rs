//! ARM template deployments: the expression language (lexer, parser, evaluator, function
//! library), and the engine built on it.
//!
//! - [`expr`], [`functions`], [`value`]: the template expression language.
//! - [`jsonc`]: the lenient JSON ARM (and therefore `az`) uses for deployment bodies.
//! - [`template`]: template sections, parameter declarations, value coercion, `InvalidTemplate`.
//! - [`variables`], [`scope`]: the evaluation scope: parameters, variables, copy loops, `reference()`.
//! - [`plan`]: a template expanded into resource instances (copy loops, conditions, nesting) and
//!   their dependency [`graph`].
//! - [`engine`]: running a deployment: preflight, concurrent deployment of ready resources
//!   through the same path a direct PUT takes, nested deployments, Complete mode, outputs.
//! - [`schema`]: ARM's coercion of string values to the integers and booleans a resource
//!   type's schema wants.
//! - [`record`]: the stored deployment document and its deployment operations.
//! - [`link`]: `templateLink` / `parametersLink` read from local files.
//! - [`list`]: `list*()` functions performed as the resource's POST action.
//! - [`whatif`]: what a deployment would change, by a dry run of the engine.

mod actions;
pub mod engine;
pub mod expr;
pub mod functions;
pub mod graph;
pub mod jsonc;
mod lexer;
pub mod link;
pub mod list;
mod parser;
pub mod plan;
pub mod record;
pub mod schema;
pub mod scope;
pub mod template;
#[cfg(test)]
mod test_support;
pub mod value;
pub mod variables;
pub mod whatif;
