//! Fault injection over HTTP: `GET/POST /_armlet/faults`, `GET/DELETE /_armlet/faults/{id}`.
//! The effects are the runtime's ([`crate::runtime::fault`]); this module parses requests,
//! wakes the reconciler, and records each injection and clearing in the activity log of the
//! target's subscription (category `Administrative`, caller `armlet`), where
//! `az monitor activity-log list` shows it.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::SecondsFormat;
use serde::Deserialize;
use serde_json::{Value, json};

use super::json_body;
use crate::api::ApiState;
use crate::arm::{ArmError, ResourceId};
use crate::runtime::fault::{Fault, FaultError, FaultKind, MAX_LATENCY};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Inject {
    kind: String,
    target: String,
    latency_ms: Option<u64>,
}

/// The kind a request names (pure).
fn kind_of(req: &Inject) -> Result<FaultKind, ArmError> {
    let invalid = |m: String| ArmError::bad_request("InvalidFault", m);
    let kind = match req.kind.as_str() {
        "probeFailure" => FaultKind::ProbeFailure,
        "freeze" => FaultKind::Freeze,
        "kill" => FaultKind::Kill,
        "dropConnections" => FaultKind::DropConnections,
        "scaleSetDown" => FaultKind::ScaleSetDown,
        "latency" => {
            let ms = req
                .latency_ms
                .ok_or_else(|| invalid("A latency fault needs 'latencyMs'.".into()))?;
            let d = Duration::from_millis(ms);
            if d.is_zero() || d > MAX_LATENCY {
                return Err(invalid(format!(
                    "'latencyMs' must be between 1 and {}.",
                    MAX_LATENCY.as_millis()
                )));
            }
            FaultKind::Latency(d)
        }
        other => {
            return Err(invalid(format!(
                "Unknown fault kind '{other}'; the kinds are probeFailure, freeze, kill, latency, dropConnections and scaleSetDown."
            )));
        }
    };
    if req.latency_ms.is_some() && !matches!(kind, FaultKind::Latency(_)) {
        return Err(invalid("'latencyMs' is only for latency faults.".into()));
    }
    Ok(kind)
}

fn error(e: FaultError) -> ArmError {
    let message = e.to_string();
    match e {
        FaultError::NoTarget(..) => ArmError::not_found("FaultTargetNotFound", message),
        FaultError::NoFault(_) => ArmError::not_found("FaultNotFound", message),
        FaultError::NotRunning(..) => ArmError::conflict("FaultTargetNotRunning", message),
        FaultError::Duplicate(..) => ArmError::conflict("FaultAlreadyActive", message),
        FaultError::Signal(_) => ArmError::internal(message),
    }
}

pub fn render(f: &Fault) -> Value {
    let mut v = json!({
        "id": f.id,
        "kind": f.kind.name(),
        "target": f.target,
        "since": f.since.to_rfc3339_opts(SecondsFormat::Millis, true),
    });
    if let FaultKind::Latency(d) = f.kind {
        v["latencyMs"] = json!(d.as_millis() as u64);
    }
    v
}

pub async fn list(State(app): State<ApiState>) -> Json<Value> {
    let set = app.runtime.faults.load();
    Json(json!({ "value": set.faults.iter().map(render).collect::<Vec<_>>() }))
}

pub async fn get(State(app): State<ApiState>, Path(id): Path<String>) -> Response {
    let set = app.runtime.faults.load();
    match set.faults.iter().find(|f| f.id == id) {
        Some(f) => Json(render(f)).into_response(),
        None => error(FaultError::NoFault(id)).into_response(),
    }
}

pub async fn inject(State(app): State<ApiState>, body: Bytes) -> Response {
    let result = async {
        let req: Inject = json_body(&body)?;
        let kind = kind_of(&req)?;
        let id = ResourceId::parse(&req.target).map_err(|_| {
            ArmError::bad_request(
                "InvalidFaultTarget",
                format!("'{}' is not a resource id.", req.target),
            )
        })?;
        let fault = app.runtime.inject_fault(kind, &req.target).map_err(error)?;
        applied(&app).await;
        record(&app, &fault, &id, "action").await;
        Ok::<_, ArmError>(fault)
    }
    .await;
    match result {
        Ok(f) => (StatusCode::CREATED, Json(render(&f))).into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn clear(State(app): State<ApiState>, Path(id): Path<String>) -> Response {
    match app.runtime.clear_fault(&id).await {
        Ok(f) => {
            applied(&app).await;
            if let Ok(rid) = ResourceId::parse(&f.target) {
                record(&app, &f, &rid, "delete").await;
            }
            Json(render(&f)).into_response()
        }
        Err(e) => error(e).into_response(),
    }
}

/// Wakes the reconciler and waits for its pass to apply the change, so that when a
/// caller is answered the routing table (and, for `scaleSetDown`, the processes) follow
/// it. A pass that takes too long does not undo anything: the fault stays as asked.
async fn applied(app: &ApiState) {
    app.arm.notify_change();
    let limit = app.runtime.grace + Duration::from_secs(10);
    if !app.runtime.faults_applied(limit).await {
        tracing::warn!(?limit, "the runtime has not applied the faults yet");
    }
}

/// Appends the activity-log record of an injection (`action`) or clearing (`delete`).
async fn record(app: &ApiState, f: &Fault, id: &ResourceId, verb: &str) {
    let at = app.runtime.clock.now_utc();
    let event_id = uuid::Uuid::new_v4().to_string();
    let localizable = |v: &str| json!({ "value": v, "localizedValue": v });
    let operation = format!("armlet/faults/{}/{verb}", f.kind.name());
    let description = match verb {
        "action" => format!("armlet injected a {} fault on {}", f.kind.name(), f.target),
        _ => format!("armlet cleared the {} fault on {}", f.kind.name(), f.target),
    };
    let event = json!({
        "caller": "armlet",
        "channels": "Operation",
        "correlationId": f.id,
        "description": description,
        "eventDataId": event_id,
        "eventName": localizable("EndRequest"),
        "category": localizable("Administrative"),
        "id": format!("{}/events/{event_id}", f.target),
        "level": "Warning",
        "resourceGroupName": id.resource_group.clone().unwrap_or_default(),
        "resourceProviderName": localizable(&id.namespace),
        "resourceId": f.target,
        "operationId": f.id,
        "operationName": localizable(&operation),
        "properties": { "faultId": f.id, "faultKind": f.kind.name() },
        "status": localizable("Succeeded"),
        "subStatus": { "value": null },
        "eventTimestamp": at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "submissionTimestamp": at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "subscriptionId": id.subscription,
    });
    if let Err(e) = app.arm.store.append_activity(&event).await {
        tracing::warn!(error = %e, "recording a fault in the activity log");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(kind: &str, latency_ms: Option<u64>) -> Inject {
        Inject {
            kind: kind.into(),
            target: "/x".into(),
            latency_ms,
        }
    }

    #[test]
    fn kinds_parse_and_bad_ones_are_refused() {
        assert_eq!(
            kind_of(&req("latency", Some(250))).unwrap(),
            FaultKind::Latency(Duration::from_millis(250))
        );
        assert_eq!(kind_of(&req("freeze", None)).unwrap(), FaultKind::Freeze);
        for bad in [
            req("latency", None),
            req("latency", Some(0)),
            req("latency", Some(600_000)),
            req("freeze", Some(10)),
            req("explode", None),
        ] {
            assert_eq!(kind_of(&bad).unwrap_err().code, "InvalidFault", "{bad:?}");
        }
    }
}
