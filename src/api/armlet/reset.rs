//! `POST /_armlet/reset`: every resource, operation, metric and activity-log record
//! removed, every instance process stopped and removed, every injected fault cleared —
//! armlet as freshly started. Refused with 409 `ResetDuringOperation` while a long-running
//! operation (a deployment, a provisioning, a rolling upgrade) is in progress, since its
//! worker would write again into the emptied store; nothing changes then.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::api::ApiState;
use crate::arm::ArmError;
use crate::store::reset::BusyError;

/// Beyond the termination grace, how long the reconciler gets to remove every process.
const REMOVAL_SLACK: Duration = Duration::from_secs(20);

pub async fn post(State(app): State<ApiState>) -> Response {
    match reset(&app).await {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn reset(app: &ApiState) -> Result<Value, ArmError> {
    let _one_at_a_time = app.management.reset_lock.lock().await;
    let instances = app.runtime.supervisor.list().len();
    let removed = match app.arm.store.reset_all(&app.arm.default_subscription).await {
        Ok(r) => r,
        Err(BusyError::Busy(ops)) => {
            let list: Vec<String> = ops.iter().map(|(k, t)| format!("{k} of {t}")).collect();
            return Err(ArmError::conflict(
                "ResetDuringOperation",
                format!(
                    "armlet cannot reset while {} long-running operation(s) are in progress ({}); wait for them to end and retry.",
                    ops.len(),
                    list.join(", ")
                ),
            ));
        }
        Err(BusyError::Store(e)) => return Err(ArmError::internal(e)),
    };
    let faults = app.runtime.clear_all_faults().await;
    app.arm.notify_change();
    let rt = &app.runtime;
    let limit = rt.grace + REMOVAL_SLACK;
    let stopped = rt
        .wait_until(limit, || async { rt.supervisor.list().is_empty() })
        .await;
    if !stopped {
        return Err(ArmError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ResetIncomplete",
            format!(
                "The store was emptied but {} instance process(es) were still being removed after {} s; GET /_armlet/health shows how many remain.",
                rt.supervisor.list().len(),
                limit.as_secs()
            ),
        ));
    }
    let tables: Map<String, Value> = removed
        .tables
        .iter()
        .map(|(t, n)| (t.clone(), json!(n)))
        .collect();
    tracing::info!(instances, faults, "armlet reset");
    Ok(json!({
        "removed": tables,
        "instancesStopped": instances,
        "faultsCleared": faults,
    }))
}
