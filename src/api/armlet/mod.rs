//! armlet's own management surface under `/_armlet/` (a prefix no ARM path can have: ARM
//! paths start with `/subscriptions`, `/providers`, `/tenants` or the identity routes).
//! Described in `openapi/armlet.yaml`; errors use the ARM envelope
//! `{"error": {"code", "message"}}` with armlet's own codes, including for unknown routes,
//! methods and malformed bodies.
//!
//! - [`health`]: readiness (`GET /_armlet/health`);
//! - [`reset`]: everything removed, instances stopped (`POST /_armlet/reset`);
//! - [`snapshot`]: a consistent copy of the store (`GET /_armlet/snapshot`);
//! - [`clock`]: the runtime clock, moved forward on request (`/_armlet/clock[/advance]`);
//! - [`faults`]: fault injection (`/_armlet/faults[/{id}]`);
//! - [`fixture`]: the template `serve --deploy` deploys at start.

pub mod clock;
pub mod faults;
pub mod fixture;
pub mod health;
pub mod reset;
pub mod snapshot;

use axum::Router;
use axum::body::Bytes;
use axum::extract::OriginalUri;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;

use super::ApiState;
use crate::arm::ArmError;

pub use health::{Management, Readiness};

/// The routes below `/_armlet` (nested by [`super::router`]). Like ARM routes they need a
/// token and are throttled ([`super::guard`]); readiness alone is open, so a CI job can wait
/// for armlet before it signs in.
pub fn router(app: ApiState) -> Router<ApiState> {
    Router::new()
        .route("/reset", post(reset::post))
        .route("/snapshot", get(snapshot::get))
        .route("/clock", get(clock::get))
        .route("/clock/advance", post(clock::advance))
        .route("/faults", get(faults::list).post(faults::inject))
        .route("/faults/{id}", get(faults::get).delete(faults::clear))
        .route_layer(axum::middleware::from_fn_with_state(app, admitted))
        .route("/health", get(health::get))
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
}

/// Admits a management request as an ARM request is admitted: sizes, token, throttle.
async fn admitted(
    axum::extract::State(app): axum::extract::State<ApiState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match super::guard::admit(&app, &req) {
        Ok(admission) => admission.finish(next.run(req).await),
        Err(refused) => *refused,
    }
}

/// Paths as the client sent them ([`OriginalUri`]: inside the nest `uri` lacks the prefix).
pub async fn unknown_route(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    ArmError::not_found(
        "UnknownManagementRoute",
        format!(
            "armlet has no management route '{method} {}'; its routes are described in openapi/armlet.yaml.",
            uri.path()
        ),
    )
    .into_response()
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    ArmError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!(
            "The management route '{}' does not support http method '{method}'.",
            uri.path()
        ),
    )
    .into_response()
}

/// A JSON body, parsed so that a malformed one is armlet's `InvalidRequestBody` rather
/// than axum's plain-text rejection. An empty body reads as `{}`.
pub fn json_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ArmError> {
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(text).map_err(|e| {
        ArmError::bad_request(
            "InvalidRequestBody",
            format!("The request body is not valid for this route: {e}."),
        )
    })
}
