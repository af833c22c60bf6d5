//! The bottom layer: plain types shared by the ARM layer, the providers and the runtime,
//! parsed once (parse, don't validate). Nothing here does I/O or imports another layer.
//!
//! - [`id`], [`error`]: ARM resource ids and the ARM error envelope.
//! - [`network`]: typed views of load balancers, public IPs and NICs, and the one
//!   resolution of a load balancer that the API and the runtime share.
//! - [`compute`]: instance state, scale-set rules, the image catalogue.
//! - [`duration`], [`merge`], [`enums`]: ISO 8601 durations, JSON merge, ARM enums.
//! - [`log_analytics`]: workspace tables, query results and the KQL subset.

pub mod action_group;
pub mod activity_log;
pub mod alerts_management;
pub mod autoscale;
pub mod compute;
pub mod diagnostic_settings;
pub mod duration;
pub mod enums;
pub mod error;
pub mod global;
pub mod id;
pub mod log_analytics;
pub mod merge;
pub mod metric_alert;
pub mod network;
pub mod time;
pub mod vm_size;
