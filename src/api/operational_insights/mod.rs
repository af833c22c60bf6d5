//! Microsoft.OperationalInsights: Log Analytics workspaces as ARM resources ([`workspace`])
//! and the query API that answers KQL over their tables ([`query`], served at
//! `/v1/workspaces/{customerId}/query` beside ARM, as `api.loganalytics.io` does).

pub mod query;
pub mod workspace;

use axum::Router;
use axum::routing::post;

use super::ApiState;

/// The query API's routes.
pub fn router() -> Router<ApiState> {
    Router::new().route(
        "/v1/workspaces/{workspace}/query",
        post(query::post).get(query::get),
    )
}
