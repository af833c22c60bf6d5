//! What a metric alert's validation leaves to the caller, who can look things up: the scopes,
//! the metrics in their metric definitions, the action groups; and the errors for a failed
//! look-up.

use super::{MetricAlert, Scope, bad};
use crate::model::error::ArmError;
use crate::model::id::ResourceId;

/// A metric to look up in the scope's metric definitions.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricCheck {
    pub scope: String,
    pub metric_name: String,
    pub metric_namespace: Option<String>,
    /// `skipMetricValidation`: the caller accepts a metric not (yet) defined.
    pub skip_metric_validation: bool,
}

/// Everything [`parse`](super::parse) couldn't check because it needs the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Checks {
    /// Must exist (and, for several, share `targetResourceType`/`targetResourceRegion`).
    pub scopes: Vec<Scope>,
    /// For each resource scope and criterion; container scopes are expanded by the caller.
    pub metrics: Vec<MetricCheck>,
    pub action_groups: Vec<ResourceId>,
}

impl MetricAlert {
    pub fn checks(&self) -> Checks {
        let p = &self.properties;
        let mut metrics = Vec::new();
        for scope in p
            .scopes
            .iter()
            .filter(|s| matches!(Scope::parse(s), Ok(Scope::Resource(_))))
        {
            for c in p.criteria.all_of() {
                metrics.push(MetricCheck {
                    scope: scope.clone(),
                    metric_name: c.metric_name.clone(),
                    metric_namespace: c.metric_namespace.clone(),
                    skip_metric_validation: c.skip_metric_validation,
                });
            }
        }
        Checks {
            scopes: p
                .scopes
                .iter()
                .filter_map(|s| Scope::parse(s).ok())
                .collect(),
            metrics,
            action_groups: p
                .actions
                .iter()
                .map(|a| a.action_group_id.clone())
                .collect(),
        }
    }
}

/// A metric the scope doesn't define (the service's message).
pub fn metric_not_found(metric_name: &str) -> ArmError {
    bad(format!("Couldn't find a metric named {metric_name}."))
}

/// An action group that doesn't exist (the service's message, as `az` shows it).
pub fn action_group_invalid(id: &str) -> ArmError {
    bad(format!(
        "Arm resource {id} is invalid or in a different subscription as alert rule."
    ))
}

/// A scope that doesn't exist.
pub fn scope_not_found(scope: &str) -> ArmError {
    bad(format!(
        "The scope '{scope}' of the alert rule could not be found."
    ))
}

/// Scopes whose resources differ in type or region ("Alerting on multiple resources of the same
/// type from different regions is not supported").
pub fn scopes_differ(detail: &str) -> ArmError {
    bad(format!(
        "All the resources in the scope of a metric alert must be of the same type and in the same region: {detail}."
    ))
}
