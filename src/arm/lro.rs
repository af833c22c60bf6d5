//! Long-running operations the way ARM reports them.
//!
//! An operation is a row in the store (created in the same transaction as the change that
//! starts it) and a worker task. Clients poll one of two URL styles, both answerable for as
//! long as the record exists:
//! - `Azure-AsyncOperation`: `/subscriptions/{s}/providers/{ns}/locations/{loc}/operations/{id}`,
//!   answering `{"status": "InProgress" | "Succeeded" | "Failed" | "Canceled", ...}`;
//! - `Location`: `.../operationResults/{id}` (provider style) or `/subscriptions/{s}/operationresults/{id}`
//!   (resource groups), answering 202 while running and the outcome when done.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::{ArmError, ArmResult};
use crate::store::{Operation, OperationStatus, Store};

/// Seconds a client should wait between polls. Without it both `az` and the SDKs wait 30 s.
pub const RETRY_AFTER: &str = "1";

/// Where an operation is polled.
pub enum Polling<'a> {
    /// Microsoft.Resources style: only a `Location` header.
    Subscription,
    /// Provider style: `Azure-AsyncOperation` plus `Location`.
    Provider {
        namespace: &'a str,
        location: &'a str,
    },
}

/// URLs for polling operation `op` of subscription `sub`.
pub struct PollUrls {
    pub async_operation: Option<String>,
    pub location: String,
}

pub fn poll_urls(
    base: &str,
    sub: &str,
    op: &str,
    api_version: &str,
    style: &Polling<'_>,
) -> PollUrls {
    match style {
        Polling::Subscription => PollUrls {
            async_operation: None,
            location: format!(
                "{base}/subscriptions/{sub}/operationresults/{op}?api-version={api_version}"
            ),
        },
        Polling::Provider {
            namespace,
            location,
        } => {
            let prefix =
                format!("{base}/subscriptions/{sub}/providers/{namespace}/locations/{location}");
            PollUrls {
                async_operation: Some(format!(
                    "{prefix}/operations/{op}?api-version={api_version}"
                )),
                location: format!("{prefix}/operationResults/{op}?api-version={api_version}"),
            }
        }
    }
}

/// Adds the polling headers to a 201/202 response.
pub fn with_poll_headers(mut response: Response, urls: &PollUrls) -> Response {
    let h = response.headers_mut();
    if let Some(url) = &urls.async_operation
        && let Ok(v) = HeaderValue::from_str(url)
    {
        h.insert("azure-asyncoperation", v);
    }
    if let Ok(v) = HeaderValue::from_str(&urls.location) {
        h.insert("location", v);
    }
    h.insert("retry-after", HeaderValue::from_static(RETRY_AFTER));
    response
}

/// The `Azure-AsyncOperation` status document.
pub fn status_body(op: &Operation, path: &str) -> Value {
    let mut body = json!({
        "id": path,
        "name": op.id,
        "status": op.status.as_str(),
        "startTime": op.start_time,
    });
    if let Some(end) = &op.end_time {
        body["endTime"] = json!(end);
    }
    if let Some(error) = &op.error {
        body["error"] = error.clone();
    }
    body
}

/// `GET .../operations/{id}`: the status document, with Retry-After while running.
pub async fn get_status(store: &Store, sub: &str, id: &str, path: &str) -> ArmResult<Response> {
    let op = find(store, sub, id).await?;
    let mut response = axum::Json(status_body(&op, path)).into_response();
    if !op.status.is_terminal() {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from_static(RETRY_AFTER));
    }
    Ok(response)
}

/// `GET .../operationResults/{id}`: 202 while running; when done, `done` renders the outcome
/// (an empty 200 for deletes, the resource for creates), or the operation's error.
pub async fn get_result(
    store: &Store,
    sub: &str,
    id: &str,
    self_url: &str,
) -> ArmResult<Result<Operation, Response>> {
    let op = find(store, sub, id).await?;
    match op.status {
        OperationStatus::InProgress => {
            let mut response = StatusCode::ACCEPTED.into_response();
            let h = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(self_url) {
                h.insert("location", v);
            }
            h.insert("retry-after", HeaderValue::from_static(RETRY_AFTER));
            Ok(Err(response))
        }
        OperationStatus::Succeeded => Ok(Ok(op)),
        OperationStatus::Failed | OperationStatus::Canceled => {
            let error = op
                .error
                .as_ref()
                .and_then(|e| e.get("code").map(|_| e.clone()));
            let e = match error {
                Some(e) => ArmError::new(
                    StatusCode::BAD_REQUEST,
                    e["code"].as_str().unwrap_or("OperationFailed"),
                    e["message"].as_str().unwrap_or("The operation failed."),
                ),
                None => ArmError::bad_request("OperationCanceled", "The operation was canceled."),
            };
            Err(e)
        }
    }
}

async fn find(store: &Store, sub: &str, id: &str) -> ArmResult<Operation> {
    store
        .operation(id)
        .await?
        .filter(|op| op.subscription.eq_ignore_ascii_case(sub))
        .ok_or_else(|| {
            ArmError::not_found(
                "OperationNotFound",
                format!("The operation '{id}' could not be found."),
            )
        })
}
