//! Routes below a scale set: its instances (`virtualMachines`), their NICs and instance
//! views, the scale-set instance view, `skus`, and the power/model actions on instances.

use std::sync::Arc;

use axum::Json;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::instances;
use super::scale_set;
use crate::api::{method_not_allowed, only};
use crate::arm::Arm;
use crate::arm::resource_type::WriteCx;
use crate::arm::resources as generic;
use crate::arm::{ArmError, ArmRequest, ArmResult, ResourceId, list};
use crate::model::compute::instance::{InstanceAction, PowerState, ScaleSetState};
use crate::runtime::Runtime;
use crate::store::{Resource, resources};

/// Scale-set VMs per page when the client gives no `$top`: Compute lists answer 50 items
/// a page with a `nextLink` (VM listings capped at 50 per page: gbowerman/azurerm#6,
/// Azure/azure-sdk-for-node#4769, projectkudu/AzureResourceExplorer#238).
const VM_PAGE: usize = 50;

/// Instance-level actions Azure offers (lower case, as matched).
const INSTANCE_ACTIONS: &[&str] = &[
    "start",
    "poweroff",
    "restart",
    "deallocate",
    "reimage",
    "reimageall",
    "redeploy",
];

pub async fn route(
    app: &Arc<Arm>,
    rt: &Runtime,
    req: &ArmRequest,
    vmss: &ResourceId,
    rest: &[&str],
) -> ArmResult<Response> {
    if let Some(answer) = super::rolling_upgrades::route(app, rt, req, vmss, rest).await {
        return answer;
    }
    if let Some(answer) = super::lifecycle::route(app, req, vmss, rest).await {
        return answer;
    }
    if let Some(answer) = super::extensions::route(app, req, vmss, rest).await {
        return answer;
    }
    match rest {
        ["virtualmachines"] => {
            only(req, &[Method::GET])?;
            let expand = req
                .query("$expand")
                .is_some_and(|e| e.eq_ignore_ascii_case("instanceView"));
            // Only the page is read and rendered: a page costs the same at any capacity.
            let stored = generic::get_stored(app, vmss).await?;
            let current = ScaleSetState::of(&stored.body)
                .ok()
                .map(|s| s.model_version);
            let (skip, top) = list::window(req, VM_PAGE)?;
            let mut rows = app
                .store
                .instances_page(&stored.key(), skip, top.saturating_add(1))
                .await?;
            let more = rows.len() > top;
            rows.truncate(top);
            let mut items = Vec::new();
            for row in rows {
                items.push(render_instance_of(app, rt, &row, current, expand).await?);
            }
            Ok(Json(list::fetched_page(req, items, skip, top, more)).into_response())
        }
        ["virtualmachines", id] => match req.method {
            Method::GET | Method::HEAD => {
                let row = instance_row(app, vmss, id).await?;
                let expand = req
                    .query("$expand")
                    .is_some_and(|e| e.eq_ignore_ascii_case("instanceView"));
                Ok(Json(render_instance(app, rt, &row, expand).await?).into_response())
            }
            Method::PUT => put_instance(app, rt, req, vmss, id).await,
            Method::DELETE => {
                act(app, vmss, "delete", Some(vec![id.to_string()])).await?;
                Ok(StatusCode::OK.into_response())
            }
            _ => Err(method_not_allowed(req)),
        },
        ["virtualmachines", id, "instanceview"] => {
            only(req, &[Method::GET])?;
            let row = instance_row(app, vmss, id).await?;
            Ok(Json(instance_view(app, rt, &row).await?).into_response())
        }
        ["virtualmachines", id, "networkinterfaces"] => {
            only(req, &[Method::GET])?;
            let row = instance_row(app, vmss, id).await?;
            let nics = nics_of(app, &row).await?;
            Ok(Json(list::page(req, nics)?).into_response())
        }
        ["virtualmachines", id, "networkinterfaces", nic] => {
            only(req, &[Method::GET])?;
            let row = instance_row(app, vmss, id).await?;
            let found = nic_ids(&row).find(|n| {
                n.rsplit('/')
                    .next()
                    .is_some_and(|name| name.eq_ignore_ascii_case(nic))
            });
            let stored = match found {
                Some(nic_id) => app.store.get(nic_id).await?,
                None => None,
            };
            let doc = stored.ok_or_else(|| {
                ArmError::not_found(
                    "NotFound",
                    format!(
                        "Resource '{nic}' of instance '{id}' of scale set '{}' not found.",
                        vmss.name()
                    ),
                )
            })?;
            Ok(Json(doc.body).into_response())
        }
        ["virtualmachines", id, action] if INSTANCE_ACTIONS.contains(action) => {
            only(req, &[Method::POST])?;
            act(app, vmss, action, Some(vec![id.to_string()])).await?;
            Ok(StatusCode::OK.into_response())
        }
        ["networkinterfaces"] => {
            only(req, &[Method::GET])?;
            let mut nics = Vec::new();
            for row in instance_rows(app, vmss).await? {
                nics.extend(nics_of(app, &row).await?);
            }
            Ok(Json(list::page(req, nics)?).into_response())
        }
        ["instanceview"] => {
            only(req, &[Method::GET])?;
            Ok(Json(scale_set_view(app, rt, vmss).await?).into_response())
        }
        ["skus"] => {
            only(req, &[Method::GET])?;
            let doc = generic::get(app, vmss).await?;
            let sku = &doc["sku"]["name"];
            let items = vec![json!({
                "resourceType": scale_set::TYPE,
                "sku": {"name": sku, "tier": "Standard"},
                "capacity": {"minimum": 0, "maximum": crate::model::compute::scale_set::MAX_CAPACITY, "defaultCapacity": 1, "scaleType": "Automatic"}
            })];
            Ok(Json(list::page(req, items)?).into_response())
        }
        [
            action @ ("start" | "poweroff" | "restart" | "deallocate" | "reimage" | "reimageall"
            | "redeploy" | "delete" | "manualupgrade"),
        ] => {
            only(req, &[Method::POST])?;
            let ids = instance_ids(req)?;
            // `["*"]` names every instance; only an absent list is missing.
            let named = !req.body.iter().all(u8::is_ascii_whitespace)
                && req
                    .json_object()?
                    .get("instanceIds")
                    .is_some_and(|v| !v.is_null());
            if matches!(*action, "delete" | "manualupgrade") && !named {
                return Err(ArmError::bad_request(
                    "InvalidParameter",
                    "Required parameter 'instanceIds' is missing (null).",
                )
                .with_target("instanceIds"));
            }
            act(app, vmss, action, ids).await?;
            Ok(StatusCode::OK.into_response())
        }
        _ => Err(ArmError::not_found(
            "NotFound",
            format!(
                "The requested resource path '{}' does not exist.",
                req.uri.path()
            ),
        )),
    }
}

/// `{"instanceIds": [...]}` (optional; `*` or absent means every instance).
fn instance_ids(req: &ArmRequest) -> ArmResult<Option<Vec<String>>> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let body = req.json_object()?;
    match body.get("instanceIds") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => {
            let ids: Vec<String> = a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect();
            Ok(if ids.iter().any(|i| i == "*") {
                None
            } else {
                Some(ids)
            })
        }
        Some(_) => Err(ArmError::invalid_request_content(
            "'instanceIds' must be an array of strings.",
        )),
    }
}

async fn instance_rows(app: &Arm, vmss: &ResourceId) -> ArmResult<Vec<Resource>> {
    generic::get_stored(app, vmss).await?;
    Ok(app.store.instances_of(&vmss.key()).await?)
}

/// One instance by its Uniform instance id or Flexible VM name: a lookup of its row by id,
/// not a read of every instance.
async fn instance_row(app: &Arm, vmss: &ResourceId, instance: &str) -> ArmResult<Resource> {
    generic::get_stored(app, vmss).await?;
    let flexible = ResourceId::new(
        &vmss.subscription,
        vmss.resource_group.as_deref(),
        "Microsoft.Compute",
        vec![("virtualMachines".into(), instance.to_string())],
    );
    let vmss_key = vmss.key();
    for id in [vmss.child("virtualMachines", instance), flexible] {
        let row = app.store.get(&id.key()).await?.filter(|r| {
            r.body["_armlet"]["scaleSet"].as_str() == Some(vmss_key.as_str())
                && instances::matches_instance(r, instance)
        });
        if let Some(row) = row {
            return Ok(row);
        }
    }
    // Any other spelling the instance answers to (its name): the scale set's rows, indexed.
    app.store.instances_of(&vmss_key).await?.into_iter().find(|r| instances::matches_instance(r, instance)).ok_or_else(|| {
        ArmError::not_found(
            "NotFound",
            format!("The entity was not found in this Azure location. Instance '{instance}' of scale set '{}' does not exist.", vmss.name()),
        )
    })
}

/// The ids of an instance's NICs (its `networkProfile`).
fn nic_ids(row: &Resource) -> impl Iterator<Item = &str> {
    row.body["properties"]["networkProfile"]["networkInterfaces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|nic| nic["id"].as_str())
}

async fn nics_of(app: &Arm, row: &Resource) -> ArmResult<Vec<Value>> {
    let mut out = Vec::new();
    for id in nic_ids(row) {
        if let Some(r) = app.store.get(id).await? {
            out.push(r.body);
        }
    }
    Ok(out)
}

/// An instance as clients see it: `latestModelApplied` against the scale set's model version.
pub async fn render_instance(
    app: &Arm,
    rt: &Runtime,
    row: &Resource,
    expand_view: bool,
) -> ArmResult<Value> {
    let state = instances::state_of(row)?;
    let current = current_model(app, &state.scale_set).await?;
    render_instance_of(app, rt, row, current, expand_view).await
}

/// The model version of the scale set stored at `key` (read once per listing).
async fn current_model(app: &Arm, key: &str) -> ArmResult<Option<u64>> {
    Ok(app
        .store
        .get(key)
        .await?
        .and_then(|v| ScaleSetState::of(&v.body).ok())
        .map(|s| s.model_version))
}

/// [`render_instance`] with the scale set's model version already read.
async fn render_instance_of(
    app: &Arm,
    rt: &Runtime,
    row: &Resource,
    current: Option<u64>,
    expand_view: bool,
) -> ArmResult<Value> {
    let state = instances::state_of(row)?;
    let mut doc = row.body.clone();
    doc["properties"]["latestModelApplied"] = json!(current == Some(state.model_version));
    if expand_view {
        doc["properties"]["instanceView"] = instance_view(app, rt, row).await?;
    }
    Ok(instances::without_internal(doc))
}

/// The power state Azure would show for the stored state.
fn power_status(power: PowerState) -> (&'static str, &'static str) {
    match power {
        PowerState::Stopped => ("PowerState/stopped", "VM stopped"),
        PowerState::Deallocated => ("PowerState/deallocated", "VM deallocated"),
        PowerState::Running => ("PowerState/running", "VM running"),
    }
}

pub async fn instance_view(_app: &Arm, rt: &Runtime, row: &Resource) -> ArmResult<Value> {
    let (power_code, power_text) = power_status(instances::state_of(row)?.power);
    let mut statuses = vec![
        json!({"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded", "time": row.body["properties"]["timeCreated"]}),
        json!({"code": power_code, "level": "Info", "displayStatus": power_text}),
    ];
    let mut view = json!({
        "platformUpdateDomain": 0,
        "platformFaultDomain": 0,
        "computerName": row.body["properties"]["osProfile"]["computerName"],
        "osName": "armlet",
        "osVersion": env!("CARGO_PKG_VERSION"),
    });
    crate::runtime::view::annotate_instance(rt, row, &mut view, &mut statuses).await;
    view["statuses"] = json!(statuses);
    Ok(view)
}

async fn scale_set_view(app: &Arm, rt: &Runtime, vmss: &ResourceId) -> ArmResult<Value> {
    let rows = instance_rows(app, vmss).await?;
    let mut counts: Vec<(String, u64)> = Vec::new();
    for row in &rows {
        let view = instance_view(app, rt, row).await?;
        for s in view["statuses"].as_array().into_iter().flatten() {
            let code = s["code"].as_str().unwrap_or_default().to_string();
            match counts.iter_mut().find(|(c, _)| *c == code) {
                Some((_, n)) => *n += 1,
                None => counts.push((code, 1)),
            }
        }
    }
    let summary: Vec<Value> = counts
        .into_iter()
        .map(|(code, count)| json!({"code": code, "count": count}))
        .collect();
    let vmss_row = generic::get_stored(app, vmss).await?;
    let services = super::lifecycle::services(app, &vmss_row.body, &vmss_row.key()).await?;
    Ok(json!({
        "virtualMachine": {"statusesSummary": summary},
        "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded"}],
        "orchestrationServices": services,
    }))
}

/// PUT of one instance: what Azure lets a client change there (protection policy, tags).
async fn put_instance(
    app: &Arm,
    rt: &Runtime,
    req: &ArmRequest,
    vmss: &ResourceId,
    instance: &str,
) -> ArmResult<Response> {
    let body = req.json_object()?;
    let key = instance_row(app, vmss, instance).await?.key();
    let mut w = app.store.write().await?;
    let mut row = resources::get(&mut w.tx, &key).await?.ok_or_else(|| {
        ArmError::not_found("NotFound", format!("Instance '{instance}' does not exist."))
    })?;
    req.check_preconditions(Some(&row.etag))?;
    if let Some(p) = body
        .get("properties")
        .and_then(|p| p.get("protectionPolicy"))
        .filter(|p| p.is_object())
    {
        for key in ["protectFromScaleIn", "protectFromScaleSetActions"] {
            if let Some(b) = p.get(key).and_then(Value::as_bool) {
                row.body["properties"]["protectionPolicy"][key] = json!(b);
            }
        }
    }
    if let Some(tags) = crate::arm::tags::parse_tags(body.get("tags"))? {
        row.body["tags"] = Value::Object(tags);
    }
    row.etag = crate::arm::tags::new_etag();
    resources::put(&mut w.tx, &row).await?;
    w.commit().await?;
    app.notify_change();
    Ok(Json(render_instance(app, rt, &row, false).await?).into_response())
}

/// Applies an action to some (`Some(ids)`) or all instances, in one transaction.
pub async fn act(
    app: &Arm,
    vmss: &ResourceId,
    action: &str,
    ids: Option<Vec<String>>,
) -> ArmResult<()> {
    let mut w = app.store.write().await?;
    let mut vmss_row = resources::get(&mut w.tx, &vmss.key())
        .await?
        .ok_or_else(|| {
            ArmError::resource_not_found(
                scale_set::TYPE,
                vmss.name(),
                vmss.resource_group.as_deref().unwrap_or_default(),
            )
        })?;
    let canonical = ResourceId::parse(&vmss_row.id)?;
    let mut cx = WriteCx {
        arm: app,
        conn: &mut w.tx,
        id: &canonical,
        api_version: "",
    };
    let rows: Vec<Resource> = instances::list_rows(&mut cx, &canonical)
        .await?
        .into_iter()
        .filter(|r| !instances::delete_requested(r))
        .collect();
    let selected: Vec<&Resource> = match &ids {
        None => rows.iter().collect(),
        Some(ids) => {
            let mut sel = Vec::new();
            for id in ids {
                let row = rows.iter().find(|r| instances::matches_instance(r, id)).ok_or_else(|| {
                    ArmError::bad_request("InvalidParameter", format!("The provided instanceId {id} is not an active Virtual Machine Scale Set VM instanceId.")).with_target("instanceIds")
                })?;
                sel.push(row);
            }
            sel
        }
    };
    match action {
        "delete" => {
            let notify = scale_set::terminate_notifications(&vmss_row.body)?;
            for row in &selected {
                instances::request_delete(&mut cx, row, notify).await?;
            }
            let capacity = rows.len().saturating_sub(selected.len());
            vmss_row.body["sku"]["capacity"] = json!(capacity);
            vmss_row.etag = crate::arm::tags::new_etag();
            vmss_row.body["etag"] = json!(vmss_row.etag);
            cx.put(&vmss_row).await?;
        }
        "manualupgrade" => {
            let ids: Vec<String> = selected
                .iter()
                .map(|r| {
                    r.body["instanceId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect();
            apply_latest_model(&mut cx, &vmss_row.body, &ids).await?;
        }
        action => {
            let action: InstanceAction = action.parse().map_err(|e: String| {
                ArmError::bad_request("InvalidParameter", e).with_target("action")
            })?;
            for row in selected {
                let mut state = instances::state_of(row)?;
                state.apply(action);
                instances::put_state(&mut cx, row, &state).await?;
            }
        }
    }
    w.commit().await?;
    app.notify_change();
    Ok(())
}

/// Moves the given instances to the scale set's current model (they restart with it).
pub async fn apply_latest_model(
    cx: &mut WriteCx<'_>,
    vmss_doc: &Value,
    ids: &[String],
) -> ArmResult<()> {
    let version = ScaleSetState::of(vmss_doc)
        .map_err(ArmError::internal)?
        .model_version;
    let profile = &vmss_doc["properties"]["virtualMachineProfile"];
    let vmss_id = cx.id.clone();
    for mut row in instances::list_rows(cx, &vmss_id).await? {
        if !ids.iter().any(|i| instances::matches_instance(&row, i)) {
            continue;
        }
        let mut state = instances::state_of(&row)?;
        if state.model_version == version {
            continue;
        }
        state.apply_model(version, profile);
        row.body["properties"]["storageProfile"] = profile["storageProfile"].clone();
        instances::put_state(cx, &row, &state).await?;
    }
    Ok(())
}
