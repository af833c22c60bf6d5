//! The provider catalogue over HTTP (`/providers`, `/subscriptions/{s}/providers/{ns}`,
//! `register`); the catalogue itself is [`crate::arm::providers`].

use axum::Json;
use axum::response::{IntoResponse, Response};

use crate::api::ApiState;
use crate::arm::providers::{NAMESPACES, canonical, provider};
use crate::arm::{ArmRequest, ArmResult, list};

pub async fn list(app: &ApiState, req: &ArmRequest, sub: Option<&str>) -> ArmResult<Response> {
    let items = NAMESPACES
        .iter()
        .map(|ns| provider(&app.arm, ns, sub))
        .collect();
    Ok(Json(list::page(req, items)?).into_response())
}

pub async fn get(app: &ApiState, req: &ArmRequest, sub: Option<&str>) -> ArmResult<Response> {
    let ns_index = if sub.is_some() { 3 } else { 1 };
    let ns = canonical(&req.segments[ns_index])?;
    Ok(Json(provider(&app.arm, ns, sub)).into_response())
}

/// Every namespace armlet serves is always registered; registering is a no-op that says so.
pub async fn register(app: &ApiState, req: &ArmRequest, sub: &str) -> ArmResult<Response> {
    let ns = canonical(&req.segments[3])?;
    Ok(Json(provider(&app.arm, ns, Some(sub))).into_response())
}
