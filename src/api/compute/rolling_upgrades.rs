//! Rolling upgrades over HTTP: `rollingUpgrades/latest` and `/cancel`, `osRollingUpgrade`,
//! `extensionRollingUpgrade` and `osUpgradeHistory` below a scale set, the start of an
//! upgrade when a Rolling scale set's model changes, and the worker of the start LRO
//! (which ends when the upgrade does). The runtime's controller
//! (`runtime::upgrade::rolling`) drives the upgrades themselves.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Json;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::instances;
use crate::api::only;
use crate::arm::lro::{self, Polling};
use crate::arm::operations::Worker;
use crate::arm::resource_type::WriteCx;
use crate::arm::resources as generic;
use crate::arm::{Arm, ArmError, ArmRequest, ArmResult, ResourceId, list};
use crate::model::compute::instance::ScaleSetState;
use crate::runtime::Runtime;
use crate::runtime::upgrade::error::UpgradeError;
use crate::runtime::upgrade::policy::UpgradeMode;
use crate::runtime::upgrade::progress::{Invoker, Progress, RunningCode, UpgradeKind};
use crate::runtime::upgrade::{Health, Instance, PowerState, Protection, rolling, status};
use crate::store::lifecycle::{self, UpgradeRow};
use crate::store::{OperationStatus, Resource, operations, resources};

/// The operation kind of `osRollingUpgrade` and `extensionRollingUpgrade`.
pub const OPERATION_KIND: &str = "rollingUpgrade";

/// Requests below a scale set that are about rolling upgrades; `None` for the others.
pub async fn route(
    arm: &Arc<Arm>,
    rt: &Runtime,
    req: &ArmRequest,
    vmss: &ResourceId,
    rest: &[&str],
) -> Option<ArmResult<Response>> {
    Some(match rest {
        ["rollingupgrades", "latest"] => latest(arm, req, vmss).await,
        ["rollingupgrades", "cancel"] => cancel(arm, rt, req, vmss).await,
        ["osrollingupgrade"] => start(arm, rt, req, vmss, UpgradeKind::OsImage).await,
        ["extensionrollingupgrade"] => start(arm, rt, req, vmss, UpgradeKind::Extension).await,
        ["osupgradehistory"] => history(arm, req, vmss).await,
        _ => return None,
    })
}

fn progress_of(row: &UpgradeRow) -> ArmResult<Progress> {
    serde_json::from_value(row.record.clone()).map_err(ArmError::internal)
}

async fn latest(arm: &Arm, req: &ArmRequest, vmss: &ResourceId) -> ArmResult<Response> {
    only(req, &[Method::GET])?;
    let row = generic::get_stored(arm, vmss).await?;
    let Some(upgrade) = arm.store.latest_upgrade(&row.key()).await? else {
        return Err(ArmError::not_found(
            "NotFound",
            format!(
                "No rolling upgrade has run on Virtual Machine Scale Set '{}'.",
                row.name
            ),
        ));
    };
    let location = row.body["location"].as_str().unwrap_or_default();
    Ok(Json(status::latest(&progress_of(&upgrade)?, location)).into_response())
}

/// `osUpgradeHistory`: the OS image upgrades, newest first.
async fn history(arm: &Arm, req: &ArmRequest, vmss: &ResourceId) -> ArmResult<Response> {
    only(req, &[Method::GET])?;
    let row = generic::get_stored(arm, vmss).await?;
    let location = row.body["location"].as_str().unwrap_or_default();
    let mut records = Vec::new();
    for u in arm.store.upgrades(&row.key()).await? {
        if u.kind == UpgradeKind::OsImage.as_str() {
            records.push((progress_of(&u)?, u.target_image));
        }
    }
    let refs = records.iter().map(|(p, i)| (p, i.as_ref())).collect();
    let doc = status::history(refs, location);
    let items = doc["value"].as_array().cloned().unwrap_or_default();
    Ok(Json(list::page(req, items)?).into_response())
}

/// `rollingUpgrades/cancel`: the running upgrade ends Cancelled (a maxSurge batch in
/// flight is cleaned up by the controller); without one, Azure's 409.
async fn cancel(
    arm: &Arm,
    rt: &Runtime,
    req: &ArmRequest,
    vmss: &ResourceId,
) -> ArmResult<Response> {
    only(req, &[Method::POST])?;
    let key = generic::get_stored(arm, vmss).await?.key();
    let mut w = arm.store.write().await?;
    let upgrade = lifecycle::latest_upgrade(&mut w.tx, &key)
        .await?
        .ok_or_else(crate::runtime::upgrade::error::no_upgrade_to_cancel)?;
    let mut p = progress_of(&upgrade)?;
    p.cancel(rt.clock.now_utc())?;
    let surge = p.batch.as_ref().and_then(|b| b.surge.as_ref());
    let active = surge.is_some_and(|s| !s.created.is_empty());
    let record = serde_json::to_value(&p).map_err(ArmError::internal)?;
    lifecycle::save_upgrade(&mut w.tx, upgrade.id, upgrade.version, active, &record).await?;
    w.commit().await?;
    arm.notify_change();
    Ok(StatusCode::OK.into_response())
}

/// `osRollingUpgrade` / `extensionRollingUpgrade`: a new upgrade of every unprotected
/// instance, as a long-running operation that ends when the upgrade does.
async fn start(
    arm: &Arc<Arm>,
    rt: &Runtime,
    req: &ArmRequest,
    vmss: &ResourceId,
    kind: UpgradeKind,
) -> ArmResult<Response> {
    only(req, &[Method::POST])?;
    let api_version = req.api_version()?;
    let mut w = arm.store.write().await?;
    let row = resources::get(&mut w.tx, &vmss.key())
        .await?
        .ok_or_else(|| {
            ArmError::resource_not_found(
                super::scale_set::TYPE,
                vmss.name(),
                vmss.resource_group.as_deref().unwrap_or_default(),
            )
        })?;
    let name = row.name.clone();
    let props = &row.body["properties"];
    let operation = if kind == UpgradeKind::OsImage {
        "osRollingUpgrade"
    } else {
        "extensionRollingUpgrade"
    };
    // OS image upgrades run in Automatic and Rolling modes (terraform-provider-azurerm#12590
    // calls the API on Automatic scale sets); Manual ones refuse them, with the wording
    // Azure used in MicrosoftDocs/azure-docs#6134.
    if UpgradeMode::from_properties(props)? == UpgradeMode::Manual {
        return Err(ArmError::conflict(
            "OperationNotAllowed",
            format!(
                "Operation '{operation}' is not allowed on Virtual Machine Scale Set '{name}'."
            ),
        ));
    }
    let image = &props["virtualMachineProfile"]["storageProfile"]["imageReference"];
    if kind == UpgradeKind::OsImage && image["publisher"].as_str().is_none() {
        // Azure's wording, quoted in Azure/azure-cli#6640.
        return Err(ArmError::conflict(
            "OperationNotAllowed",
            "The OS Rolling Upgrade API cannot be used on a VM Scale Set unless the VM Scale Set is using a Platform Image select the OS by setting imageReference.",
        ));
    }
    let canonical = ResourceId::parse(&row.id)?;
    if let Some(current) = lifecycle::latest_upgrade(&mut w.tx, &row.key()).await?
        && progress_of(&current)?.is_running()
    {
        return Err(ArmError::conflict(
            "OperationNotAllowed",
            format!(
                "Operation '{operation}' is not allowed on Virtual Machine Scale Set '{name}' since a rolling upgrade is in progress."
            ),
        ));
    }
    let state = ScaleSetState::of(&row.body).map_err(ArmError::internal)?;
    let mut cx = WriteCx {
        arm,
        conn: &mut w.tx,
        id: &canonical,
        api_version,
    };
    let fleet = lifecycle_instances(
        &instances::list_rows(&mut cx, &canonical).await?,
        state.model_version,
    );
    let now = rt.clock.now_utc();
    let p = rolling::begin(
        kind,
        Invoker::User,
        props,
        &fleet,
        state.model_version,
        None,
        now,
    )?;
    if p.scope.is_empty() {
        return Err(ArmError::conflict(
            "OperationNotAllowed",
            format!(
                "Operation '{operation}' is not allowed on Virtual Machine Scale Set '{name}': it has no unprotected instances."
            ),
        ));
    }
    let record = serde_json::to_value(&p).map_err(ArmError::internal)?;
    let target_image = (kind == UpgradeKind::OsImage).then_some(image);
    let id = lifecycle::insert_upgrade(&mut w.tx, &row.key(), kind.as_str(), &record, target_image)
        .await?;
    let target = format!("{}#rollingUpgrade={id}", row.id);
    let op =
        operations::insert(&mut w.tx, &canonical.subscription, OPERATION_KIND, &target).await?;
    w.commit().await?;
    arm.notify_change();
    arm.spawn_operation(op.clone());
    let location = row.body["location"]
        .as_str()
        .unwrap_or("eastus")
        .to_string();
    let style = Polling::Provider {
        namespace: "Microsoft.Compute",
        location: &location,
    };
    Ok(lro::with_poll_headers(
        StatusCode::ACCEPTED.into_response(),
        &lro::poll_urls(&req.base, &canonical.subscription, &op, api_version, &style),
    ))
}

/// Instance rows as the upgrade scope reads them (model version and protection; health
/// is the controller's business).
pub fn lifecycle_instances(rows: &[Resource], model_version: u64) -> Vec<Instance> {
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    rows.iter()
        .filter(|r| !instances::delete_requested(r))
        .filter_map(|r| {
            let state = instances::state_of(r).ok()?;
            let p = &r.body["properties"]["protectionPolicy"];
            Some(Instance {
                id: r.body["instanceId"].as_str().unwrap_or(&r.name).to_string(),
                latest_model: state.model_version == model_version,
                health: Health::Initializing,
                health_since: epoch,
                power: PowerState::from_runtime(state.power.as_str()),
                protection: Protection {
                    from_scale_in: p["protectFromScaleIn"] == true,
                    from_scale_set_actions: p["protectFromScaleSetActions"] == true,
                },
                created: state.created,
                last_change: epoch,
                zone: None,
                unproven: false,
            })
        })
        .collect()
}

/// After a create or update of a Rolling scale set (inside its write): "any additional
/// changes that result in the scale set model to also change triggers a new Rolling
/// Upgrade", and an update without change restarts one for instances left behind (Azure
/// docs, "Configure rolling upgrades", "Restart a Rolling Upgrade"). A running upgrade of
/// an older model ends Cancelled and the new one takes over (armlet's choice: Azure does
/// not document what happens to it).
pub async fn on_model_update(
    cx: &mut WriteCx<'_>,
    doc: &Value,
    now: DateTime<Utc>,
) -> ArmResult<()> {
    let props = &doc["properties"];
    if UpgradeMode::from_properties(props)? != UpgradeMode::Rolling {
        return Ok(());
    }
    let state = ScaleSetState::of(doc).map_err(ArmError::internal)?;
    let key = cx.id.key();
    if let Some(current) = lifecycle::latest_upgrade(cx.conn, &key).await? {
        let mut p = progress_of(&current)?;
        if p.is_running() {
            if p.model_version == state.model_version {
                return Ok(());
            }
            p.cancel(now)?;
            let active = p.batch.as_ref().and_then(|b| b.surge.as_ref()).is_some();
            let record = serde_json::to_value(&p).map_err(ArmError::internal)?;
            lifecycle::save_upgrade(cx.conn, current.id, current.version, active, &record).await?;
        }
    }
    let id = cx.id.clone();
    let rows = instances::list_rows(cx, &id).await?;
    let fleet = lifecycle_instances(&rows, state.model_version);
    // The instances left behind run the model a rollback returns to.
    let previous = rows
        .iter()
        .filter(|r| !instances::delete_requested(r))
        .filter_map(|r| instances::state_of(r).ok())
        .find(|s| s.model_version != state.model_version);
    let p = rolling::begin(
        UpgradeKind::Model,
        Invoker::User,
        props,
        &fleet,
        state.model_version,
        previous.as_ref().map(|s| (s.model_version, &s.model)),
        now,
    )?;
    if p.scope.is_empty() {
        return Ok(());
    }
    let record = serde_json::to_value(&p).map_err(ArmError::internal)?;
    lifecycle::insert_upgrade(cx.conn, &key, UpgradeKind::Model.as_str(), &record, None).await?;
    Ok(())
}

/// Runs `osRollingUpgrade` / `extensionRollingUpgrade` operations: they end with their
/// upgrade (Completed → Succeeded, Cancelled → Canceled, Faulted → Failed with its error).
pub struct RollingUpgradeWorker;

#[async_trait]
impl Worker for RollingUpgradeWorker {
    async fn run(&self, arm: &Arc<Arm>, target: &str) -> ArmResult<OperationStatus> {
        let (vmss, id) = target
            .rsplit_once("#rollingUpgrade=")
            .and_then(|(v, id)| Some((v.to_ascii_lowercase(), id.parse::<i64>().ok()?)))
            .ok_or_else(|| ArmError::internal(format!("bad rolling upgrade target {target}")))?;
        let mut changes = arm.subscribe_changes();
        loop {
            changes.borrow_and_update();
            let upgrades = arm.store.upgrades(&vmss).await?;
            let Some(row) = upgrades.iter().find(|u| u.id == id) else {
                // The scale set was deleted.
                return Ok(OperationStatus::Canceled);
            };
            let p = progress_of(row)?;
            match p.code {
                RunningCode::RollingForward => {}
                RunningCode::Completed => return Ok(OperationStatus::Succeeded),
                RunningCode::Cancelled => return Ok(OperationStatus::Canceled),
                RunningCode::Faulted => {
                    let e = p.error.unwrap_or_else(UpgradeError::interrupted);
                    return Err(ArmError::bad_request(&e.code, e.message));
                }
            }
            tokio::select! {
                _ = changes.changed() => {}
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                _ = arm.shutdown.cancelled() => return Err(ArmError::internal("shutting down")),
            }
        }
    }
}
