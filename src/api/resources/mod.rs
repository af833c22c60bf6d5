//! Microsoft.Resources: subscriptions and tenants, resource groups, template deployments,
//! the generic resource listings and the provider catalogue.

pub mod deployments;
pub mod generic;
pub mod groups;
pub mod providers;
pub mod subscriptions;
