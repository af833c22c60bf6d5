//! What deploying one resource instance does, and how `reference()` loads state: both go
//! through the same internal paths as the HTTP API (the generic resource layer for provider
//! resources and their child collections, the resource-group handler for groups), so a
//! deployed resource is validated and stored exactly like one PUT directly.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::arm::groups;
use std::sync::Arc;

use crate::arm::Arm;
use crate::arm::resources::{self as generic, canonical, child_of, resolve_type};
use crate::arm::{ArmError, ArmResult, ResourceId};

use super::record::{self, Target};

/// How long a resource may stay in a non-terminal provisioning state before the deployment
/// gives up on it.
const SETTLE_LIMIT: Duration = Duration::from_secs(600);

/// PUTs a provider resource (or a child of one) and waits for a terminal provisioning state.
/// Returns the document and whether the resource was created.
pub async fn put_resource(
    app: &Arc<Arm>,
    id: &str,
    api_version: &str,
    body: Map<String, Value>,
) -> ArmResult<(Value, bool)> {
    let id = ResourceId::parse(id)?;
    let (doc, created) = match id.segments.len() {
        1 => generic::put(app, &id, api_version, body, None).await?,
        2 => {
            let ty = resolve_type(app, &id, api_version)?;
            let parent = canonical(ty.as_ref(), &id.root());
            let child_type = &id.segments[1].0;
            let child = child_of(ty.as_ref(), child_type)
                .filter(|c| c.writable)
                .ok_or_else(|| unknown_child(&id, api_version))?;
            generic::put_child(app, &parent, api_version, &child, id.name(), body).await?
        }
        _ => return Err(unknown_child(&id, api_version)),
    };
    Ok((settle(app, &id, doc).await?, created))
}

fn unknown_child(id: &ResourceId, api_version: &str) -> ArmError {
    let ty = id.type_name();
    let short = ty.split_once('/').map(|(_, t)| t).unwrap_or(&ty);
    ArmError::bad_request(
        "InvalidResourceType",
        format!(
            "The resource type '{short}' could not be found in the namespace '{}' for api version '{api_version}'.",
            id.namespace
        ),
    )
}

/// Waits until a resource's `provisioningState` is terminal (woken by every committed
/// change); a `Failed` state fails it.
async fn settle(app: &Arc<Arm>, id: &ResourceId, mut doc: Value) -> ArmResult<Value> {
    let deadline = tokio::time::Instant::now() + SETTLE_LIMIT;
    let mut changes = app.subscribe_changes();
    loop {
        let state = doc["properties"]["provisioningState"]
            .as_str()
            .unwrap_or("Succeeded")
            .to_string();
        match state.as_str() {
            "Succeeded" | "Canceled" => return Ok(doc),
            "Failed" => {
                return Err(ArmError::bad_request(
                    "ResourceDeploymentFailure",
                    format!(
                        "The resource write operation failed to complete successfully, because it reached terminal provisioning state '{state}'."
                    ),
                )
                .with_target(id.to_string()));
            }
            _ => {
                let changed = tokio::time::timeout_at(deadline, changes.changed()).await;
                if changed.is_err() {
                    return Err(ArmError::conflict(
                        "ResourceDeploymentTimeout",
                        format!(
                            "The resource '{id}' stayed in provisioning state '{state}' for longer than {} seconds.",
                            SETTLE_LIMIT.as_secs()
                        ),
                    ));
                }
                doc = read(app, id).await?;
            }
        }
    }
}

async fn read(app: &Arc<Arm>, id: &ResourceId) -> ArmResult<Value> {
    if id.segments.len() == 1 {
        return generic::get(app, id).await;
    }
    let ty = resolve_type(app, id, "")?;
    let parent = canonical(ty.as_ref(), &id.root());
    let child = child_of(ty.as_ref(), &id.segments[1].0).ok_or_else(|| unknown_child(id, ""))?;
    generic::get_child(app, &parent, &child, id.name()).await
}

/// Creates or updates a resource group from a template resource body.
pub async fn put_group(
    app: &Arc<Arm>,
    sub: &str,
    name: &str,
    body: &Map<String, Value>,
) -> ArmResult<(Value, bool)> {
    groups::create_or_update(app, sub, name, body, None).await
}

/// The current document of the resource with normalized id `key`, for `reference()`; the
/// error text when it cannot be read.
pub async fn fetch(app: &Arc<Arm>, key: &str) -> Result<Value, String> {
    let parts: Vec<&str> = key.trim_matches('/').split('/').collect();
    if let ["subscriptions", sub, "resourcegroups", rg] = parts.as_slice() {
        return match groups::find(app, sub, rg).await {
            Ok(Some(row)) => Ok(row.body),
            Ok(None) => Err(ArmError::resource_group_not_found(rg).message),
            Err(e) => Err(e.message),
        };
    }
    if let Some(target) = Target::parse(key) {
        return match app.store.get(&target.key()).await {
            Ok(Some(row)) => Ok(record::public(&row.body)),
            Ok(None) => Err(format!("Deployment '{}' could not be found.", target.name)),
            Err(e) => Err(ArmError::from(e).message),
        };
    }
    let id = ResourceId::parse(key).map_err(|e| e.message)?;
    read(app, &id).await.map_err(|e| e.message)
}
