//! The polling endpoints of long-running operations (the operations themselves are
//! [`crate::arm::operations`]).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::api::ApiState;
use crate::arm::{ArmRequest, ArmResult, lro};
use crate::store::Operation;

/// `GET /subscriptions/{s}/operationresults/{id}`: 202 while running, 200 when done.
pub async fn subscription_result(
    app: &ApiState,
    req: &ArmRequest,
    sub: &str,
    id: &str,
) -> ArmResult<Response> {
    let self_url = format!(
        "{}{}?api-version={}",
        req.base,
        req.uri.path(),
        req.api_version()?
    );
    match lro::get_result(&app.arm.store, sub, id, &self_url).await? {
        Ok(_) => Ok(StatusCode::OK.into_response()),
        Err(pending) => Ok(pending),
    }
}

/// `GET /subscriptions/{s}/providers/{ns}/locations/{loc}/operations|operationResults/{id}`.
pub async fn provider_operation(
    app: &ApiState,
    req: &ArmRequest,
    sub: &str,
    kind: &str,
    id: &str,
) -> ArmResult<Response> {
    if kind == "operationresults" {
        let self_url = format!(
            "{}{}?api-version={}",
            req.base,
            req.uri.path(),
            req.api_version()?
        );
        return match lro::get_result(&app.arm.store, sub, id, &self_url).await? {
            Ok(op) => final_result(app, &op).await,
            Err(pending) => Ok(pending),
        };
    }
    lro::get_status(&app.arm.store, sub, id, req.uri.path()).await
}

/// The outcome a `Location` poll ends with: the resource if it still exists, else no content.
async fn final_result(app: &ApiState, op: &Operation) -> ArmResult<Response> {
    match app.arm.store.get(&op.target).await? {
        Some(r) if !op.kind.starts_with("delete") => Ok(Json(r.body).into_response()),
        _ => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}
