//! Long-running operations: the workers behind them, resuming unfinished ones at boot, and
//! the polling endpoints.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::arm::{ArmError, ArmRequest, ArmResult, lro};
use crate::store::{Operation, OperationStatus};

use super::resources::groups;
use crate::deploy::engine;

/// Runs the worker of operation `id` in the background and records its outcome.
pub fn spawn(app: &AppState, id: String) {
    let app = app.clone();
    app.tasks.clone().spawn(async move {
        let op = match app.store.operation(&id).await {
            Ok(Some(op)) => op,
            Ok(None) => return,
            Err(e) => return tracing::error!(operation = id, error = %e, "loading operation"),
        };
        let outcome = work(&app, &op).await;
        let (status, error) = match outcome {
            Ok(status) => (status, None),
            // The whole error, details included: a failed deployment's details name the
            // resources that failed.
            Err(e) => (OperationStatus::Failed, Some(e.body()["error"].clone())),
        };
        if let Err(e) = app
            .store
            .finish_operation(&op.id, status, error.as_ref())
            .await
        {
            tracing::error!(operation = op.id, error = %e, "recording operation outcome");
        }
    });
}

async fn work(app: &AppState, op: &Operation) -> ArmResult<OperationStatus> {
    let done = |r: ArmResult<()>| r.map(|()| OperationStatus::Succeeded);
    match op.kind.as_str() {
        groups::DELETE_KIND => done(groups::delete_worker(app, &op.target).await),
        engine::KIND => engine::worker(app, &op.target).await,
        engine::DELETE_KIND => done(engine::delete_worker(app, &op.target).await),
        crate::arm::resources::PROVISION_KIND => {
            done(crate::arm::resources::provision_worker(app, &op.target).await)
        }
        other => Err(ArmError::internal(format!(
            "unknown operation kind {other}"
        ))),
    }
}

/// Restarts the operations a previous run left unfinished (their workers are idempotent).
pub async fn resume(app: &AppState) -> anyhow::Result<()> {
    for op in app.store.unfinished_operations().await? {
        tracing::info!(
            operation = op.id,
            kind = op.kind,
            target = op.target,
            "resuming operation"
        );
        spawn(app, op.id);
    }
    Ok(())
}

/// `GET /subscriptions/{s}/operationresults/{id}`: 202 while running, 200 when done.
pub async fn subscription_result(
    app: &AppState,
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
    match lro::get_result(&app.store, sub, id, &self_url).await? {
        Ok(_) => Ok(StatusCode::OK.into_response()),
        Err(pending) => Ok(pending),
    }
}

/// `GET /subscriptions/{s}/providers/{ns}/locations/{loc}/operations|operationResults/{id}`.
pub async fn provider_operation(
    app: &AppState,
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
        return match lro::get_result(&app.store, sub, id, &self_url).await? {
            Ok(op) => final_result(app, &op).await,
            Err(pending) => Ok(pending),
        };
    }
    lro::get_status(&app.store, sub, id, req.uri.path()).await
}

/// The outcome a `Location` poll ends with: the resource if it still exists, else no content.
async fn final_result(app: &AppState, op: &Operation) -> ArmResult<Response> {
    match app.store.get(&op.target).await? {
        Some(r) if !op.kind.starts_with("delete") => Ok(Json(r.body).into_response()),
        _ => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}
