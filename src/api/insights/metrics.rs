//! Azure Monitor's metrics API below a resource: `GET {resourceUri}/providers/
//! Microsoft.Insights/metrics`, `metricDefinitions` and `metricNamespaces`, for every
//! resource type with a metric catalogue (load balancers, scale sets, scale-set VMs,
//! Flexible VMs).
//!
//! The resource must exist (404 as ARM words it, resource group first); its stored minutes
//! are read per requested metric ([`crate::store::metrics`]) and the pure layer does the
//! rest: [`query::parse`] (Azure's errors for bad input), [`rollup::run_all`] and
//! [`render`]. Time is armlet's Azure time (the scaled clock); retention is the runtime's
//! `--metrics-retention-days`. Nothing here writes.

use std::collections::HashMap;

use axum::Json;
use axum::http::Method;
use axum::response::{IntoResponse, Response};

use crate::api::{ApiState, only};
use crate::arm::providers::INSIGHTS_EXTENSION_TYPES;
use crate::arm::resources::get_stored;
use crate::arm::{ArmError, ArmRequest, ArmResult, ResourceId};
use crate::metrics::catalog::{self, Namespace};
use crate::metrics::query::{self, RawQuery};
use crate::metrics::series::MinutePoint;
use crate::metrics::{render, rollup};
use crate::store::Resource;

/// Which of the three routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Metrics,
    Definitions,
    Namespaces,
}

impl Route {
    /// The extension type's name as the provider catalogue lists it.
    fn type_name(self) -> &'static str {
        match self {
            Route::Metrics => "metrics",
            Route::Definitions => "metricDefinitions",
            Route::Namespaces => "metricNamespaces",
        }
    }
}

/// Serves one of the routes for the resource `target`.
pub async fn handle(
    app: &ApiState,
    req: &ArmRequest,
    target: &ResourceId,
    route: Route,
) -> ArmResult<Response> {
    only(req, &[Method::GET])?;
    let row = get_stored(&app.arm, target).await?;
    check_api_version(req, route, &row)?;
    let namespace = catalog::for_resource_type(&row.type_name);
    let retention = app.runtime.metrics_retention;
    let body = match (route, namespace) {
        (Route::Metrics, Some(ns)) => metrics(app, req, &row, ns).await?,
        (Route::Metrics, None) => return Err(no_metrics(&row.type_name, req)),
        (Route::Definitions, Some(ns)) => {
            query::check_namespace(ns, req.query("metricnamespace"))?;
            render::metric_definitions(&row.id, ns, retention)
        }
        (Route::Namespaces, Some(ns)) => render::metric_namespaces(&row.id, ns),
        // A resource type without platform metrics has no definitions or namespaces.
        (Route::Definitions | Route::Namespaces, None) => serde_json::json!({ "value": [] }),
    };
    Ok(Json(body).into_response())
}

async fn metrics(
    app: &ApiState,
    req: &ArmRequest,
    row: &Resource,
    namespace: &'static Namespace,
) -> ArmResult<serde_json::Value> {
    let raw = RawQuery::from_pairs(req.query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let rt = &app.runtime;
    let q = query::parse(namespace, &raw, rt.clock.now_utc(), rt.metrics_retention)?;
    let (from, to) = q.minutes();
    let key = row.key();
    let mut minutes: HashMap<&str, Vec<MinutePoint>> = HashMap::new();
    for m in &q.metrics {
        let name = m.definition.name;
        let points = app.arm.store.metric_minutes(&key, name, from, to).await?;
        minutes.insert(name, points);
    }
    let results = rollup::run_all(&q, |name| minutes.get(name).map_or(&[], Vec::as_slice));
    let region = row.body["location"].as_str().unwrap_or_default();
    Ok(render::metrics_response(&row.id, region, &q, &results))
}

/// The api-versions Azure serves for the route; others are refused as ARM refuses them.
fn check_api_version(req: &ArmRequest, route: Route, row: &Resource) -> ArmResult<()> {
    let version = req.api_version()?;
    let supported = INSIGHTS_EXTENSION_TYPES
        .iter()
        .find(|(t, _)| *t == route.type_name())
        .map_or(&[][..], |(_, v)| *v);
    if supported.iter().any(|v| v.eq_ignore_ascii_case(version)) {
        return Ok(());
    }
    let location = row.body["location"].as_str().unwrap_or_default();
    Err(ArmError::bad_request(
        "NoRegisteredProviderFound",
        format!(
            "No registered resource provider found for location '{location}' and API version '{version}' for type '{}'. The supported api-versions are '{}'.",
            route.type_name(),
            supported.join(", ")
        ),
    ))
}

/// Azure's answer for metrics of a resource type that has none (the text of its unknown
/// metric error, with an empty list of valid metrics).
fn no_metrics(type_name: &str, req: &ArmRequest) -> ArmError {
    let (provider, ty) = type_name.split_once('/').unwrap_or((type_name, ""));
    let names = req.query("metricnames").unwrap_or_default();
    ArmError::bad_request(
        "BadRequest",
        format!(
            "Failed to find metric configuration for provider: {}, resource Type: {}, metric: {names}, Valid metrics: ",
            provider.to_ascii_lowercase(),
            ty.to_ascii_lowercase()
        ),
    )
}
