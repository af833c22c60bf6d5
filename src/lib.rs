//! armlet: a local Azure Load Balancer + VM Scale Sets cloud behind the real ARM REST API.
//!
//! Components:
//! - [`config`]: command line and `ARMLET_*` environment.
//! - [`app`]: builds the [`app::App`] (store, TLS, identity, background tasks) and runs the HTTPS API.
//! - [`arm`]: the generic ARM layer (ids, api-version, errors, LROs, listings, ETags, locations).
//! - [`api`]: routers per provider: identity, Microsoft.Resources, ...
//! - [`store`]: SQLite through sqlx: resources as JSON documents, operation records.
//! - [`model`]: value types shared by providers and runtime (durations, merge).
//! - [`runtime`]: the clock and the runtime that runs instances and carries traffic.
//! - [`tls`]: the local CA and server certificate.
//! - [`controllers`]: reconcilers that act through ARM (the metric alert and autoscale engines).
//! - [`deploy`]: ARM template deployments: the expression language and (as it lands) the engine.
//! - [`az_env`]: the `az` CLI configuration `armlet az-env` points a shell at.
//! - [`embedded`]: start armlet inside a test or another program.

pub mod api;
pub mod app;
pub mod arm;
pub mod az_env;
pub mod config;
pub mod controllers;
pub mod deploy;
pub mod embedded;
pub mod metrics;
pub mod model;
pub mod runtime;
pub mod store;
pub mod tls;

pub use embedded::Armlet;
