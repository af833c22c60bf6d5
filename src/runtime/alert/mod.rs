//! Metric alerts at run time — the pure core; `controllers::alerts` runs it on the store and
//! the clock.
//!
//! [`evaluate`] decides, per monitored time series, whether a rule fires, stays or resolves
//! ([`series`] splits and aggregates the metric data, [`dynamic`] is armlet's approximation of
//! dynamic thresholds). [`payload`] builds what receivers get (common and older metric alert
//! schemas), [`record`] what the alert leaves in `Microsoft.AlertsManagement`, the activity log
//! and the rule's status, [`delivery`] how webhooks are called and retried, and
//! [`notification`] what armlet records of each notification.

pub mod condition;
pub mod delivery;
pub mod dynamic;
pub mod evaluate;
pub mod notification;
pub mod payload;
pub mod record;
pub mod series;

#[cfg(test)]
mod fixture;
