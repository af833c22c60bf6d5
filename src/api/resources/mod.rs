//! Microsoft.Resources: subscriptions and tenants, resource groups, the generic resource
//! listings and the provider catalogue.

pub mod generic;
pub mod groups;
pub mod providers;
pub mod subscriptions;
