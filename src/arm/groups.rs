//! Resource groups (Microsoft.Resources/resourceGroups): create or update, read, patch, and
//! an asynchronous delete that removes everything inside. The HTTP handlers and template
//! deployments both go through here.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use super::error::{ArmError, ArmResult};
use super::id::resource_group_id;
use super::location;
use super::operations::Worker;
use super::service::Arm;
use super::tags::{new_etag, parse_tags};
use crate::store::{OperationStatus, Resource, ResourceQuery, operations, resources};

pub const TYPE: &str = "Microsoft.Resources/resourceGroups";
/// The operation kind of a group deletion.
pub const DELETE_KIND: &str = "delete-resource-group";

/// Azure's rule: 1-90 letters, digits, `-`, `_`, `.`, `(`, `)`, not ending in a period.
pub fn validate_name(name: &str) -> ArmResult<()> {
    let bad: String = name
        .chars()
        .filter(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')')))
        .collect();
    let problem = if name.is_empty() || name.chars().count() > 90 {
        Some(format!(
            "The provided resource group name '{name}' must be 1 to 90 characters long."
        ))
    } else if !bad.is_empty() {
        Some(format!(
            "The provided resource group name '{name}' has these invalid characters: '{bad}'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'."
        ))
    } else if name.ends_with('.') {
        Some(format!(
            "The provided resource group name '{name}' cannot end with a period."
        ))
    } else {
        None
    };
    match problem {
        Some(message) => Err(ArmError::bad_request("InvalidResourceGroup", message)),
        None => Ok(()),
    }
}

pub async fn find(arm: &Arm, sub: &str, name: &str) -> ArmResult<Option<Resource>> {
    Ok(arm.store.get(&resource_group_id(sub, name)).await?)
}

/// The group, or 404 `ResourceGroupNotFound`; also refuses groups being deleted when `writing`.
pub async fn require(arm: &Arm, sub: &str, name: &str, writing: bool) -> ArmResult<Resource> {
    let rg = find(arm, sub, name)
        .await?
        .ok_or_else(|| ArmError::resource_group_not_found(name))?;
    if writing && state(&rg.body) == "Deleting" {
        return Err(being_deleted(&rg.name));
    }
    Ok(rg)
}

fn state(body: &Value) -> &str {
    body["properties"]["provisioningState"]
        .as_str()
        .unwrap_or("Succeeded")
}

pub fn being_deleted(name: &str) -> ArmError {
    ArmError::conflict(
        "ResourceGroupBeingDeleted",
        format!(
            "The resource group '{name}' is in deprovisioning state and cannot perform this operation."
        ),
    )
}

/// Checks a request's ETag preconditions against the stored ETag (`None`: no such resource).
pub type Preconditions<'a> = &'a (dyn Fn(Option<&str>) -> ArmResult<()> + Sync);

/// Creates or updates a group from a PUT body (`location`, `tags`, `managedBy`); returns the
/// document and whether it was created.
pub async fn create_or_update(
    arm: &Arm,
    sub: &str,
    name: &str,
    body: &Map<String, Value>,
    preconditions: Option<Preconditions<'_>>,
) -> ArmResult<(Value, bool)> {
    validate_name(name)?;
    let Some(loc) = body.get("location").and_then(Value::as_str) else {
        return Err(ArmError::bad_request(
            "LocationRequired",
            "The location property is required for this definition.",
        ));
    };
    let loc = location::parse_for(loc, TYPE).map_err(|e| ArmError {
        code: "LocationNotAvailableForResourceGroup".into(),
        ..e
    })?;
    let tags = parse_tags(body.get("tags"))?;

    let mut w = arm.store.write().await?;
    let existing = resources::get(&mut w.tx, &resource_group_id(sub, name)).await?;
    if let Some(check) = preconditions {
        check(existing.as_ref().map(|r| r.etag.as_str()))?;
    }
    let (id, stored_name) = match &existing {
        Some(rg) => {
            if state(&rg.body) == "Deleting" {
                return Err(being_deleted(&rg.name));
            }
            let stored = rg.body["location"].as_str().unwrap_or_default();
            if stored != loc {
                return Err(ArmError::conflict(
                    "InvalidResourceGroupLocation",
                    format!(
                        "Invalid resource group location '{loc}'. The Resource group already exists in location '{stored}'."
                    ),
                ));
            }
            (rg.id.clone(), rg.name.clone())
        }
        None => (resource_group_id(sub, name), name.to_string()),
    };
    let mut doc = json!({
        "id": id,
        "name": stored_name,
        "type": TYPE,
        "location": loc,
        "properties": {"provisioningState": "Succeeded"},
    });
    if let Some(tags) = tags {
        doc["tags"] = Value::Object(tags);
    }
    if let Some(m) = body.get("managedBy").and_then(Value::as_str) {
        doc["managedBy"] = json!(m);
    }
    let row = Resource {
        id: id.clone(),
        subscription: sub.to_string(),
        resource_group: Some(stored_name.clone()),
        type_name: TYPE.into(),
        name: stored_name,
        body: doc.clone(),
        etag: new_etag(),
    };
    resources::put(&mut w.tx, &row).await?;
    w.commit().await?;
    Ok((doc, existing.is_none()))
}

/// PATCH: tags and `managedBy`.
pub async fn patch(
    arm: &Arm,
    sub: &str,
    name: &str,
    body: &Map<String, Value>,
    preconditions: Preconditions<'_>,
) -> ArmResult<Value> {
    let tags = parse_tags(body.get("tags"))?;
    let mut w = arm.store.write().await?;
    let mut rg = resources::get(&mut w.tx, &resource_group_id(sub, name))
        .await?
        .ok_or_else(|| ArmError::resource_group_not_found(name))?;
    preconditions(Some(&rg.etag))?;
    if state(&rg.body) == "Deleting" {
        return Err(being_deleted(&rg.name));
    }
    if let Some(tags) = tags {
        rg.body["tags"] = Value::Object(tags);
    }
    if let Some(m) = body.get("managedBy").and_then(Value::as_str) {
        rg.body["managedBy"] = json!(m);
    }
    rg.etag = new_etag();
    resources::put(&mut w.tx, &rg).await?;
    w.commit().await?;
    Ok(rg.body)
}

/// Every group of a subscription, in creation order.
pub async fn list(arm: &Arm, sub: &str) -> ArmResult<Vec<Value>> {
    let q = ResourceQuery {
        subscription: sub.into(),
        type_name: Some(TYPE.into()),
        ..Default::default()
    };
    Ok(arm
        .store
        .list(&q)
        .await?
        .into_iter()
        .map(|r| r.body)
        .collect())
}

/// Marks the group Deleting and starts the operation that empties and removes it; returns
/// the operation id.
pub async fn begin_delete(
    arm: &Arc<Arm>,
    sub: &str,
    name: &str,
    preconditions: Preconditions<'_>,
) -> ArmResult<String> {
    let mut w = arm.store.write().await?;
    let mut rg = resources::get(&mut w.tx, &resource_group_id(sub, name))
        .await?
        .ok_or_else(|| ArmError::resource_group_not_found(name))?;
    preconditions(Some(&rg.etag))?;
    rg.body["properties"]["provisioningState"] = json!("Deleting");
    resources::put(&mut w.tx, &rg).await?;
    let op = operations::insert(&mut w.tx, sub, DELETE_KIND, &rg.id).await?;
    w.commit().await?;
    arm.spawn_operation(op.clone());
    Ok(op)
}

/// The worker of a group deletion: removes every resource in the group, then the group.
/// Idempotent, so an operation interrupted by a crash is simply run again at boot.
pub struct DeleteWorker;

#[async_trait]
impl Worker for DeleteWorker {
    async fn run(&self, arm: &Arc<Arm>, rg_id: &str) -> ArmResult<OperationStatus> {
        let Some(rg) = arm.store.get(rg_id).await? else {
            return Ok(OperationStatus::Succeeded);
        };
        let q = ResourceQuery {
            subscription: rg.subscription.clone(),
            resource_group: Some(rg.name.clone()),
            ..Default::default()
        };
        let mut w = arm.store.write().await?;
        for r in resources::list(&mut w.tx, &q).await? {
            resources::delete(&mut w.tx, &r.key()).await?;
        }
        w.commit().await?;
        arm.notify_change();
        tracing::info!(resource_group = rg.name, "resource group deleted");
        Ok(OperationStatus::Succeeded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_group_names_follow_azure_rules() {
        for ok in ["rg", "My_RG-1.(x)", "ünïcode", &"a".repeat(90)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "ends.", "has space", "semi;colon", &"a".repeat(91)] {
            assert_eq!(
                validate_name(bad).unwrap_err().code,
                "InvalidResourceGroup",
                "{bad}"
            );
        }
    }
}
