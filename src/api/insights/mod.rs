//! Microsoft.Insights (Azure Monitor): the extension routes every resource has
//! (`{resource id}/providers/Microsoft.Insights/...`: metrics, metric definitions and
//! namespaces, diagnostic settings) and the subscription-level ones (the activity log), and
//! its resource types (action groups, metric alerts, [`autoscale`]).

pub mod action_groups;
pub mod activity_log;
pub mod autoscale;
pub mod diagnostic_settings;
pub mod metric_alerts;
pub mod metrics;
pub mod predictive_metrics;

use std::sync::Arc;

use axum::response::Response;

use super::ApiState;
use crate::arm::resource_type::Registry;
use crate::arm::{ArmError, ArmRequest, ArmResult, ResourceId};
use crate::controllers::alerts::notify::Notifier;
use crate::runtime::Runtime;

/// The Microsoft.Insights resource types.
pub fn register(r: &mut Registry, runtime: &Arc<Runtime>) {
    r.register(action_groups::ActionGroups {
        notifier: Notifier::new(runtime),
        clock: runtime.clock,
    });
    r.register(metric_alerts::MetricAlerts {
        clock: runtime.clock,
    });
}

/// `{target}/providers/{namespace}/{rest...}` below any resource; `rest` is lower case and
/// starts at the extension's namespace.
pub async fn extension(
    app: &ApiState,
    req: &ArmRequest,
    target: &ResourceId,
    rest: &[&str],
) -> ArmResult<Response> {
    use metrics::Route;
    match rest {
        ["microsoft.insights", "metrics"] => {
            metrics::handle(app, req, target, Route::Metrics).await
        }
        ["microsoft.insights", "metricdefinitions"] => {
            metrics::handle(app, req, target, Route::Definitions).await
        }
        ["microsoft.insights", "metricnamespaces"] => {
            metrics::handle(app, req, target, Route::Namespaces).await
        }
        ["microsoft.alertsmanagement", "alerts", rest @ ..] => {
            let scope = super::alerts_management::AlertScope::Resource(target.clone());
            super::alerts_management::handle(app, req, &target.subscription, scope, rest).await
        }
        ["microsoft.insights", rest @ ..]
            if rest
                .first()
                .is_some_and(|c| c.starts_with("diagnosticsettings")) =>
        {
            diagnostic_settings::route(app, req, target, rest).await
        }
        ["microsoft.insights", ..] => Err(not_served(req)),
        _ => Err(not_served(req)),
    }
}

/// An extension of a resource that armlet does not serve.
pub fn not_served(req: &ArmRequest) -> ArmError {
    ArmError::bad_request(
        "NotSupportedByArmlet",
        format!(
            "armlet does not serve the extension path '{}'.",
            req.uri.path()
        ),
    )
}
