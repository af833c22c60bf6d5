//! Scale-set lifecycle actions over HTTP: `setOrchestrationServiceState` (suspend or resume
//! automatic repairs), the `orchestrationServices` of the scale-set instance view, and
//! `simulateEviction` of a Spot instance.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::vm;
use crate::api::only;
use crate::arm::resources as generic;
use crate::arm::{Arm, ArmError, ArmRequest, ArmResult, ResourceId};
use crate::runtime::upgrade::automatic_repairs::SERVICE;
use crate::runtime::upgrade::orchestration::{
    orchestration_services, service_state, set_service_state,
};

/// Requests below a scale set that are lifecycle actions; `None` for the others.
pub async fn route(
    arm: &Arc<Arm>,
    req: &ArmRequest,
    vmss: &ResourceId,
    rest: &[&str],
) -> Option<ArmResult<Response>> {
    Some(match rest {
        ["setorchestrationservicestate"] => set_state(arm, req, vmss).await,
        ["virtualmachines", id, "simulateeviction"] => simulate_eviction(arm, req, vmss, id).await,
        _ => return None,
    })
}

/// `POST .../setOrchestrationServiceState` `{"serviceName": "AutomaticRepairs", "action":
/// "Suspend" | "Resume"}`.
async fn set_state(arm: &Arm, req: &ArmRequest, vmss: &ResourceId) -> ArmResult<Response> {
    only(req, &[Method::POST])?;
    let row = generic::get_stored(arm, vmss).await?;
    let input = Value::Object(req.json_object()?);
    let suspend = set_service_state(&row.body["properties"], &input)?;
    arm.store
        .set_service_suspended(&row.key(), SERVICE, suspend)
        .await?;
    arm.notify_change();
    Ok(StatusCode::OK.into_response())
}

/// The `orchestrationServices` of a scale set's instance view.
pub async fn services(arm: &Arm, vmss_doc: &Value, key: &str) -> ArmResult<Value> {
    let suspended = arm.store.service_suspended(key, SERVICE).await?;
    Ok(orchestration_services(service_state(
        &vmss_doc["properties"],
        suspended,
    )?))
}

/// `POST .../virtualMachines/{id}/simulateEviction`: a Spot instance is evicted as its
/// model's `evictionPolicy` says (Deallocate, the default, or Delete), at once and without
/// a Preempt scheduled event (armlet does not send Preempt events).
async fn simulate_eviction(
    arm: &Arm,
    req: &ArmRequest,
    vmss: &ResourceId,
    instance: &str,
) -> ArmResult<Response> {
    only(req, &[Method::POST])?;
    let row = generic::get_stored(arm, vmss).await?;
    let profile = &row.body["properties"]["virtualMachineProfile"];
    let spot = profile["priority"]
        .as_str()
        .is_some_and(|p| p.eq_ignore_ascii_case("Spot") || p.eq_ignore_ascii_case("Low"));
    if !spot {
        return Err(ArmError::conflict(
            "OperationNotAllowed",
            format!(
                "Simulate eviction is only supported for Spot virtual machines; scale set '{}' has priority '{}'.",
                row.name,
                profile["priority"].as_str().unwrap_or("Regular")
            ),
        ));
    }
    let delete = profile["evictionPolicy"]
        .as_str()
        .is_some_and(|p| p.eq_ignore_ascii_case("Delete"));
    let action = if delete { "delete" } else { "deallocate" };
    vm::act(arm, vmss, action, Some(vec![instance.to_string()])).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
