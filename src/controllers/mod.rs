//! Controllers: reconcilers that act on the cloud through ARM, the way a client would, so
//! every rule of the resource they change applies (the autoscale engine scales a scale set
//! with the same PUT as `az vmss scale`).
//!
//! - [`alerts`]: evaluates metric alert rules on the stored metrics and notifies action groups.
//! - [`autoscale`]: evaluates every enabled `Microsoft.Insights/autoscalesettings` each Azure
//!   minute and changes the capacity of its scale set.

pub mod alerts;
pub mod autoscale;
