//! `virtualMachineScaleSets/{vmss}/extensions[/{name}]`: the extensions of a scale set's
//! model as their own resources (what the SDKs' `VirtualMachineScaleSetExtensions` use; `az
//! vmss extension` edits the scale set itself). A PUT or DELETE changes the model through
//! the scale set's own create-or-update, so it bumps the model version and, in Rolling
//! mode, starts a rolling upgrade like any other model change.

use std::sync::Arc;

use axum::Json;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::api::method_not_allowed;
use crate::arm::resources as generic;
use crate::arm::{Arm, ArmError, ArmRequest, ArmResult, ResourceId, list};

const TYPE: &str = "Microsoft.Compute/virtualMachineScaleSets/extensions";

/// Requests for the extensions of a scale set; `None` for the others.
pub async fn route(
    arm: &Arc<Arm>,
    req: &ArmRequest,
    vmss: &ResourceId,
    rest: &[&str],
) -> Option<ArmResult<Response>> {
    Some(match rest {
        ["extensions"] => list_all(arm, req, vmss).await,
        ["extensions", _] => one(arm, req, vmss, &req.segments[req.segments.len() - 1]).await,
        _ => return None,
    })
}

fn extensions(doc: &Value) -> Vec<Value> {
    doc["properties"]["virtualMachineProfile"]["extensionProfile"]["extensions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn named<'a>(all: &'a [Value], name: &str) -> Option<&'a Value> {
    all.iter().find(|e| {
        e["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

/// An extension as its own resource.
fn render(vmss_id: &str, ext: &Value) -> Value {
    let name = ext["name"].as_str().unwrap_or_default();
    let mut props = ext["properties"].clone();
    if let Some(p) = props.as_object_mut() {
        p.remove("protectedSettings");
        p.insert("provisioningState".into(), json!("Succeeded"));
    }
    json!({"id": format!("{vmss_id}/extensions/{name}"), "name": name, "type": TYPE, "properties": props})
}

async fn list_all(arm: &Arm, req: &ArmRequest, vmss: &ResourceId) -> ArmResult<Response> {
    crate::api::only(req, &[Method::GET])?;
    let row = generic::get_stored(arm, vmss).await?;
    let items = extensions(&row.body)
        .iter()
        .map(|e| render(&row.id, e))
        .collect();
    Ok(Json(list::page(req, items)?).into_response())
}

async fn one(
    arm: &Arc<Arm>,
    req: &ArmRequest,
    vmss: &ResourceId,
    name: &str,
) -> ArmResult<Response> {
    let row = generic::get_stored(arm, vmss).await?;
    let mut all = extensions(&row.body);
    let not_found = || {
        ArmError::not_found(
            "NotFound",
            format!(
                "The entity was not found in this Azure location. Extension '{name}' of scale set '{}' does not exist.",
                row.name
            ),
        )
    };
    match req.method {
        Method::GET | Method::HEAD => {
            let ext = named(&all, name).ok_or_else(not_found)?;
            Ok(Json(render(&row.id, ext)).into_response())
        }
        Method::PUT | Method::PATCH => {
            let body = req.json_object()?;
            let mut ext = named(&all, name)
                .cloned()
                .unwrap_or_else(|| json!({"name": name, "properties": {}}));
            if req.method == Method::PUT {
                ext["properties"] = json!({});
            }
            if let Some(Value::Object(p)) = body.get("properties") {
                for (k, v) in p {
                    ext["properties"][k] = v.clone();
                }
            }
            if ext["properties"]["publisher"].as_str().is_none()
                || ext["properties"]["type"].as_str().is_none()
            {
                return Err(ArmError::bad_request(
                    "InvalidParameter",
                    "Required parameters 'publisher' and 'type' of the extension are missing.",
                )
                .with_target("properties"));
            }
            let created = named(&all, name).is_none();
            all.retain(|e| named(std::slice::from_ref(e), name).is_none());
            all.push(ext.clone());
            set_extensions(arm, req, vmss, all).await?;
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok((status, Json(render(&row.id, &ext))).into_response())
        }
        Method::DELETE => {
            if named(&all, name).is_none() {
                return Ok(StatusCode::NO_CONTENT.into_response());
            }
            all.retain(|e| named(std::slice::from_ref(e), name).is_none());
            set_extensions(arm, req, vmss, all).await?;
            Ok(StatusCode::OK.into_response())
        }
        _ => Err(method_not_allowed(req)),
    }
}

/// Replaces the model's extensions through the scale set's create-or-update.
async fn set_extensions(
    arm: &Arc<Arm>,
    req: &ArmRequest,
    vmss: &ResourceId,
    all: Vec<Value>,
) -> ArmResult<()> {
    let mut body = Map::new();
    body.insert(
        "properties".into(),
        json!({"virtualMachineProfile": {"extensionProfile": {"extensions": all}}}),
    );
    generic::put(arm, vmss, req.api_version()?, body, None).await?;
    Ok(())
}
