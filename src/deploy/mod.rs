//! Template deployment support: the ARM template expression language.

pub mod expr;
pub mod functions;
mod lexer;
mod parser;
#[cfg(test)]
mod test_support;
pub mod value;
