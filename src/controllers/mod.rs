//! Reconcilers that act on stored desired state through the ARM layer and the runtime:
//! [`alerts`] evaluates metric alert rules on the stored metrics and notifies action groups.

pub mod alerts;
