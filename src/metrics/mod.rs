//! Azure Monitor metrics: the catalog of platform metrics armlet emits, the stored form of
//! their time series (one-minute aggregates), and the metrics API's query language and
//! answers (`metrics`, `metricDefinitions`, `metricNamespaces`).
//!
//! Everything here is pure: the store ([`crate::store::metrics`]) keeps minute aggregates,
//! the runtime measures them, and the API layer calls [`query::parse`], reads the minutes,
//! then [`rollup::run`] and [`render`].
//!
//! Files: [`catalog`] (metric definitions and name/alias resolution), [`series`] (minute
//! aggregates), [`timespan`] (`timespan`, `interval`, intervals), [`filter`] (`$filter`),
//! [`query`] (the whole query, defaults and errors), [`rollup`] (intervals, splitting,
//! `top`/`orderby`), [`render`] (the JSON answers).

pub mod catalog;
pub mod filter;
pub mod query;
pub mod render;
pub mod rollup;
pub mod series;
pub mod timespan;

#[cfg(test)]
mod spec_check;
