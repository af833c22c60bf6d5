//! The HTTP surface: identity routes, and one ARM dispatcher that matches ARM URL shapes
//! case-insensitively and hands each request to its provider.

pub mod alerts_management;
pub mod auth;
pub mod compute;
pub mod guard;
pub mod identity;
pub mod imds;
pub mod insights;
pub mod network;
pub mod operational_insights;
pub mod operations;
pub mod provider;
pub mod resources;
pub mod throttle;

use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Method, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use std::sync::Arc;

use crate::arm::resource_type::Registry;
use crate::arm::{Arm, ArmError, ArmRequest, ArmResult};
use crate::runtime::Runtime;
use identity::Tokens;

/// What the HTTP handlers read: the ARM service, the runtime (instance views, rule health),
/// the token issuer, and what every ARM request passes ([`guard`]).
pub struct Api {
    pub arm: Arc<Arm>,
    pub runtime: Arc<Runtime>,
    pub tokens: Tokens,
    /// Whether ARM requests need a token (`--auth`).
    pub auth: auth::AuthMode,
    /// ARM's throttling and the per-client in-flight cap.
    pub throttle: throttle::Throttle,
}

pub type ApiState = Arc<Api>;

/// Every resource type armlet serves. `address_block` is this armlet's `--address-block`.
pub fn registry(runtime: &Arc<Runtime>, address_block: u8) -> Registry {
    let mut r = Registry::default();
    network::register(&mut r, runtime, address_block);
    r.register(compute::scale_set::ScaleSets {
        runtime: runtime.clone(),
        address_block,
    });
    r.register(compute::virtual_machine::VirtualMachines {
        runtime: runtime.clone(),
    });
    insights::register(&mut r, runtime);
    r.register(operational_insights::workspace::Workspaces);
    r.register(insights::autoscale::AutoscaleSettings {
        clock: runtime.clock,
    });
    r
}

pub fn router(app: ApiState) -> Router {
    Router::new()
        .merge(identity::router())
        .merge(operational_insights::router())
        .route(
            "/armlet/vm-image-aliases.json",
            axum::routing::get(compute::images::alias_doc),
        )
        .fallback(arm)
        .layer(middleware::from_fn(request_log))
        .with_state(app)
}

/// Request ids, correlation ids and one log line per request.
async fn request_log(req: Request<Body>, next: Next) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let correlation = req
        .headers()
        .get("x-ms-correlation-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| request_id.clone());
    let client_request_id = req.headers().get("x-ms-client-request-id").cloned();
    let method = req.method().clone();
    // The path only: query strings and bodies may carry secrets.
    let path = req.uri().path().to_string();
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    for (name, value) in [
        ("x-ms-request-id", &request_id),
        ("x-ms-correlation-request-id", &correlation),
        ("x-ms-routing-request-id", &format!("LOCAL:{request_id}")),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    }
    if let Some(v) = client_request_id {
        h.insert("x-ms-client-request-id", v);
    }
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        request_id,
        "request"
    );
    response
}

/// Every ARM route: admit (sizes, token, throttle), read the request once, dispatch, render
/// errors as ARM errors.
async fn arm(State(app): State<ApiState>, req: Request<Body>) -> Response {
    let admission = match guard::admit(&app, &req) {
        Ok(a) => a,
        Err(refused) => return *refused,
    };
    let req = match ArmRequest::read(req).await {
        Ok(r) => r,
        Err(e) => return admission.finish(e.into_response()),
    };
    admission.finish(match dispatch(&app, &req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    })
}

async fn dispatch(app: &ApiState, req: &ArmRequest) -> ArmResult<Response> {
    let s: Vec<&str> = req.lower.iter().map(String::as_str).collect();
    if s.is_empty() {
        return Err(no_route(req));
    }
    req.api_version()?;
    match s.as_slice() {
        ["subscriptions"] => only(req, &[Method::GET]).map(|_| ())?,
        ["tenants"] => only(req, &[Method::GET]).map(|_| ())?,
        ["providers", ..] => {}
        ["subscriptions", ..] => {}
        _ => return Err(no_route(req)),
    }
    match s.as_slice() {
        ["subscriptions"] => resources::subscriptions::list(app, req).await,
        ["tenants"] => resources::subscriptions::tenants(app, req).await,
        ["providers"] => resources::providers::list(app, req, None).await,
        ["providers", "microsoft.resources", "calculatetemplatehash"] => {
            only(req, &[Method::POST])?;
            resources::deployments::calculate_template_hash(req)
        }
        ["providers", _] => resources::providers::get(app, req, None).await,
        ["providers", "microsoft.resources", "deployments", ..] => {
            Err(resources::deployments::scope_not_served(req, "tenant"))
        }
        [
            "providers",
            "microsoft.management",
            "managementgroups",
            _,
            "providers",
            "microsoft.resources",
            "deployments",
            ..,
        ] => Err(resources::deployments::scope_not_served(
            req,
            "management-group",
        )),
        ["subscriptions", _, rest @ ..] => {
            let sub = resources::subscriptions::resolve(app, &req.segments[1]).await?;
            subscription_scope(app, req, &sub, rest).await
        }
        _ => Err(no_route(req)),
    }
}

/// Routes below `/subscriptions/{sub}`.
async fn subscription_scope(
    app: &ApiState,
    req: &ArmRequest,
    sub: &str,
    rest: &[&str],
) -> ArmResult<Response> {
    use resources::{deployments, generic, groups, providers, subscriptions};
    match rest {
        [] => {
            only(req, &[Method::GET])?;
            subscriptions::get(app, req, sub).await
        }
        ["locations"] => {
            only(req, &[Method::GET])?;
            subscriptions::locations(req, sub)
        }
        ["resources"] => {
            only(req, &[Method::GET])?;
            generic::list(app, req, sub, None).await
        }
        ["resourcegroups"] => {
            only(req, &[Method::GET])?;
            groups::list(app, req, sub).await
        }
        ["resourcegroups", _] => groups::handle(app, req, sub, &req.segments[3]).await,
        ["resourcegroups", _, "resources"] => {
            only(req, &[Method::GET])?;
            generic::list(app, req, sub, Some(&req.segments[3])).await
        }
        ["operationresults", id] => {
            only(req, &[Method::GET])?;
            operations::subscription_result(app, req, sub, id).await
        }
        ["providers"] => {
            only(req, &[Method::GET])?;
            providers::list(app, req, Some(sub)).await
        }
        ["providers", _] => {
            only(req, &[Method::GET])?;
            providers::get(app, req, Some(sub)).await
        }
        ["providers", _, "register" | "unregister"] => {
            only(req, &[Method::POST])?;
            providers::register(app, req, sub).await
        }
        // Deployments are Microsoft.Resources' own, not a registered provider type.
        [
            "resourcegroups",
            _,
            "providers",
            "microsoft.resources",
            "deployments",
            rest @ ..,
        ] => {
            let rg = req.segments[3].clone();
            deployments::handle(app, req, sub, Some(&rg), 7, rest).await
        }
        ["resourcegroups", _, "deployments", _, "operations", ..] => {
            let rg = req.segments[3].clone();
            deployments::handle(app, req, sub, Some(&rg), 5, &rest[3..]).await
        }
        ["providers", "microsoft.resources", "deployments", rest @ ..] => {
            deployments::handle(app, req, sub, None, 5, rest).await
        }
        [
            "resourcegroups",
            _,
            "providers",
            "microsoft.alertsmanagement",
            "alerts",
            rest @ ..,
        ] => {
            let scope = alerts_management::AlertScope::ResourceGroup(req.segments[3].clone());
            alerts_management::handle(app, req, sub, scope, rest).await
        }
        ["resourcegroups", _, "providers", _, _, ..] => {
            let rg = req.segments[3].clone();
            provider::handle(app, req, sub, Some(&rg), 5).await
        }
        [
            "providers",
            "microsoft.insights",
            "eventtypes",
            "management",
            "values",
        ] => insights::activity_log::list(app, req, sub).await,
        [
            "providers",
            _,
            "locations",
            _,
            kind @ ("operations" | "operationresults" | "operationstatuses"),
            id,
        ] => {
            only(req, &[Method::GET])?;
            operations::provider_operation(app, req, sub, kind, id).await
        }
        ["providers", "microsoft.compute", "locations", _, "usages"] => {
            compute::limits::usages(app, req, sub, &req.segments[5]).await
        }
        [
            "providers",
            "microsoft.compute",
            "locations",
            location,
            rest @ ..,
        ] if !rest.is_empty() => compute::images::route(req, sub, location, rest).await,
        [
            "providers",
            "microsoft.alertsmanagement",
            "alerts",
            rest @ ..,
        ] => {
            let scope = alerts_management::AlertScope::Subscription;
            alerts_management::handle(app, req, sub, scope, rest).await
        }
        ["providers", _, _, ..] => provider::handle(app, req, sub, None, 3).await,
        _ => Err(no_route(req)),
    }
}

/// 405 for a method the route does not support.
pub fn only(req: &ArmRequest, methods: &[Method]) -> ArmResult<()> {
    if methods.contains(&req.method)
        || (req.method == Method::HEAD && methods.contains(&Method::GET))
    {
        Ok(())
    } else {
        Err(method_not_allowed(req))
    }
}

pub fn method_not_allowed(req: &ArmRequest) -> ArmError {
    ArmError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!(
            "The requested resource does not support http method '{}'.",
            req.method
        ),
    )
}

fn no_route(req: &ArmRequest) -> ArmError {
    ArmError::not_found(
        "NotFound",
        format!(
            "The requested resource path '{}' does not exist.",
            req.uri.path()
        ),
    )
}
