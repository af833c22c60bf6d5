//! Autoscale: the pure decisions behind `Microsoft.Insights/autoscalesettings`.
//!
//! - [`profile`]: which profile applies at a moment (fixed date, recurrence, default);
//! - [`aggregate`]: a rule's metric reduced to the one value compared with its threshold;
//! - [`evaluate`]: one evaluation: the new capacity (or none), why, and the events;
//! - [`notify`]: the webhook payload and its retry schedule, the emails to record;
//! - [`activity_log`]: the activity-log records of scale actions, flapping and metric failures;
//! - [`predictive`]: what predictive autoscale answers before it has enough history.
//!
//! Everything here takes `now` (Azure time from the scaled clock) as an argument and does no
//! I/O; the engine that fetches metrics, calls the scale-set path and posts webhooks wires it,
//! every [`EVALUATION_INTERVAL`] for each enabled setting:
//! 1. [`profile::active_profile`] picks the profile;
//! 2. per rule, fetch a [`aggregate::MetricSeries`] of its metric over [`aggregate::window`] at
//!    its `timeGrain`, keeping the series that pass [`aggregate::dimensions_match`];
//! 3. [`evaluate::evaluate`] decides; on a new capacity record
//!    [`activity_log::Activity::ScaleInitiated`], scale as `az vmss scale` does, record
//!    `ScaleCompleted`, remember an [`evaluate::LastScaleAction`] with the decision's cooldown,
//!    and post [`notify::webhook_calls`] under [`notify::WEBHOOK_RETRY`] off the engine's path;
//! 4. record the decision's [`evaluate::Event`]s (flapping, metric failure and recovery).

pub mod activity_log;
pub mod aggregate;
pub mod evaluate;
pub mod notify;
pub mod predictive;
pub mod profile;

use std::time::Duration;

/// How often the engine evaluates a setting, in Azure time. "The autoscale job runs every
/// 30 to 60 seconds, depending on the resource type" (Azure Monitor docs,
/// autoscale-understanding-settings, "Autoscale evaluation"); armlet uses the 60 s end, which
/// also matches the PT1M time grain of platform metrics such as `Percentage CPU`.
pub const EVALUATION_INTERVAL: Duration = Duration::from_secs(60);

#[cfg(test)]
mod fixtures;
