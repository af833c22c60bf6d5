//! Microsoft.Insights (Azure Monitor): the extension routes every resource has
//! (`{resource id}/providers/Microsoft.Insights/...`: metrics, metric definitions and
//! namespaces, diagnostic settings) and the subscription-level ones (the activity log), and
//! its resource types ([`autoscale`]).

pub mod activity_log;
pub mod autoscale;
pub mod predictive_metrics;

use axum::response::Response;

use super::ApiState;
use crate::arm::{ArmError, ArmRequest, ArmResult, ResourceId};

/// `{target}/providers/{namespace}/{rest...}` below any resource; `rest` is lower case and
/// starts at the extension's namespace.
pub async fn extension(
    app: &ApiState,
    req: &ArmRequest,
    target: &ResourceId,
    rest: &[&str],
) -> ArmResult<Response> {
    let _ = (app, target);
    match rest {
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
