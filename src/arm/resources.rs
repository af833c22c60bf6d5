//! Generic create-or-update, read, list, patch and delete of provider resources, and of the
//! child collections kept inside a parent's document. HTTP handlers and the template
//! deployment engine both go through these functions, so a deployed resource is validated
//! and stored exactly like one PUT directly.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::error::{ArmError, ArmResult};
use super::id::ResourceId;
use super::operations::Worker;
use super::request::ArmRequest;
use super::resource_type::{Child, Patch, ResourceType, WriteCx};
use super::service::Arm;
use super::tags::{new_etag, parse_tags};
use crate::store::{OperationStatus, Resource, ResourceQuery, operations, resources};
use async_trait::async_trait;

/// The operation kind of an asynchronous create or update.
pub const PROVISION_KIND: &str = "provision";

/// The worker of an asynchronous create or update: the type's `provision`, then the
/// provisioningState it ends in.
pub struct ProvisionWorker;

#[async_trait]
impl Worker for ProvisionWorker {
    async fn run(&self, arm: &Arc<Arm>, target: &str) -> ArmResult<OperationStatus> {
        let id = ResourceId::parse(target)?;
        let ty = resolve_type(arm, &id, "")?;
        let outcome = ty.provision(arm, &id).await;
        let state = if outcome.is_ok() {
            "Succeeded"
        } else {
            "Failed"
        };
        let mut w = arm.store.write().await?;
        if let Some(mut row) = resources::get(&mut w.tx, &id.key()).await?
            && matches!(
                row.body["properties"]["provisioningState"].as_str(),
                Some("Creating" | "Updating")
            )
        {
            row.body["properties"]["provisioningState"] = json!(state);
            resources::put(&mut w.tx, &row).await?;
            w.commit().await?;
            arm.notify_change();
        }
        outcome.map(|()| OperationStatus::Succeeded)
    }
}

/// The resource type of `id` (top-level part), or the error ARM gives for an unknown type.
pub fn resolve_type(
    arm: &Arm,
    id: &ResourceId,
    api_version: &str,
) -> ArmResult<Arc<dyn ResourceType>> {
    let top = id.root().type_name();
    if let Some(t) = arm.registry.get(&top) {
        return Ok(t);
    }
    let known_namespace = super::providers::NAMESPACES
        .iter()
        .any(|ns| ns.eq_ignore_ascii_case(&id.namespace));
    if known_namespace {
        let ty = top.split_once('/').map(|(_, t)| t).unwrap_or_default();
        Err(ArmError::bad_request(
            "InvalidResourceType",
            format!(
                "The resource type '{ty}' could not be found in the namespace '{}' for api version '{api_version}'.",
                id.namespace
            ),
        ))
    } else {
        Err(ArmError::bad_request(
            "NoRegisteredProviderFound",
            format!(
                "No registered resource provider found for location '' and API version '{api_version}' for type '{top}'. The resource namespace '{}' is not registered.",
                id.namespace
            ),
        ))
    }
}

/// The id with canonical type casing.
pub fn canonical(ty: &dyn ResourceType, id: &ResourceId) -> ResourceId {
    let mut canon = id.clone();
    canon.canonicalize(ty.type_name());
    canon
}

/// The outcome of a create-or-update.
pub struct PutOutcome {
    /// The rendered document as stored.
    pub doc: Value,
    pub created: bool,
    /// The operation still provisioning the resource, for asynchronous types.
    pub operation: Option<String>,
}

/// Create or update a top-level resource and wait until it is provisioned (what template
/// deployments need). Returns the rendered document and whether it was created.
pub async fn put(
    arm: &Arc<Arm>,
    id: &ResourceId,
    api_version: &str,
    body: Map<String, Value>,
    req: Option<&ArmRequest>,
) -> ArmResult<(Value, bool)> {
    let out = put_started(arm, id, api_version, body, req).await?;
    match &out.operation {
        Some(op) => {
            arm.wait_operation(op).await?;
            Ok((get(arm, id).await?, out.created))
        }
        None => Ok((out.doc, out.created)),
    }
}

/// Create or update a top-level resource; for an asynchronous type, the returned operation
/// is still running.
pub async fn put_started(
    arm: &Arc<Arm>,
    id: &ResourceId,
    api_version: &str,
    body: Map<String, Value>,
    req: Option<&ArmRequest>,
) -> ArmResult<PutOutcome> {
    let ty = resolve_type(arm, id, api_version)?;
    let id = canonical(ty.as_ref(), id);
    let mut w = arm.store.write().await?;
    let staged = stage(arm, &mut w.tx, ty.as_ref(), &id, api_version, body, req).await?;
    commit_put(arm, w, ty.as_ref(), &id, staged).await
}

/// Writes a staged create-or-update (starting its provisioning operation for an
/// asynchronous type), commits, and renders the result.
async fn commit_put(
    arm: &Arc<Arm>,
    mut w: crate::store::WriteTx<'_>,
    ty: &dyn ResourceType,
    id: &ResourceId,
    staged: Staged,
) -> ArmResult<PutOutcome> {
    let Staged { existing, mut row } = staged;
    let operation = if ty.asynchronous() {
        row.body["properties"]["provisioningState"] = json!(if existing.is_some() {
            "Updating"
        } else {
            "Creating"
        });
        Some(
            operations::insert(&mut w.tx, &id.subscription, PROVISION_KIND, &id.to_string())
                .await?,
        )
    } else {
        None
    };
    resources::put(&mut w.tx, &row).await?;
    w.commit().await?;
    arm.notify_change();
    if let Some(op) = &operation {
        arm.spawn_operation(op.clone());
    }
    Ok(PutOutcome {
        doc: ty.render(arm, row.body).await?,
        created: existing.is_none(),
        operation,
    })
}

/// A create-or-update worked out inside a write transaction, not yet written.
pub struct Staged {
    /// The row as it was, if the resource exists.
    pub existing: Option<Resource>,
    /// The row to write: the type's prepared document, with a new ETag.
    pub row: Resource,
}

/// Everything a create-or-update checks and computes, inside `conn`'s transaction, without
/// writing: name, tags, group, preconditions, location, then the type's `prepare`. A PUT
/// writes the row; what-if writes it to a transaction it rolls back. `id` has canonical
/// type casing.
pub async fn stage(
    arm: &Arm,
    conn: &mut sqlx::SqliteConnection,
    ty: &dyn ResourceType,
    id: &ResourceId,
    api_version: &str,
    mut body: Map<String, Value>,
    req: Option<&ArmRequest>,
) -> ArmResult<Staged> {
    ty.validate_name(id.name())?;
    let tags = parse_tags(body.get("tags"))?;
    let rg_name = require_group(conn, id).await?;
    let existing = resources::get(conn, &id.key()).await?;
    if let Some(req) = req {
        req.check_preconditions(existing.as_ref().map(|r| r.etag.as_str()))?;
    }
    let stored_location = existing
        .as_ref()
        .and_then(|r| r.body["location"].as_str().map(str::to_string));
    let location = match (
        body.get("location").and_then(Value::as_str),
        &stored_location,
    ) {
        (Some(l), _) => ty.location(l)?,
        (None, Some(l)) => l.clone(),
        (None, None) => {
            return Err(ArmError::bad_request(
                "LocationRequired",
                "The location property is required for this definition.",
            ));
        }
    };
    if let Some(stored) = &stored_location
        && *stored != location
    {
        return Err(ArmError::bad_request(
            "InvalidResourceLocation",
            format!(
                "The resource '{}' already exists in location '{stored}' in resource group '{rg_name}'. A resource with the same name cannot be created in location '{location}'. Please select a new resource name.",
                id.name()
            ),
        ));
    }
    // Keep the name's first casing, as ARM does.
    let (id_str, name) = match &existing {
        Some(r) => (r.id.clone(), r.name.clone()),
        None => (id.to_string(), id.name().to_string()),
    };
    body.insert("id".into(), json!(id_str));
    body.insert("name".into(), json!(name));
    body.insert("type".into(), json!(ty.type_name()));
    body.insert("location".into(), json!(location));
    match tags {
        Some(t) => body.insert("tags".into(), Value::Object(t)),
        None => body.remove("tags"),
    };
    body.remove("etag");
    let mut cx = WriteCx {
        arm,
        conn,
        id,
        api_version,
    };
    let mut doc = ty
        .prepare(&mut cx, existing.as_ref().map(|r| &r.body), body)
        .await?;
    let etag = new_etag();
    doc["etag"] = json!(etag);
    let row = Resource {
        id: id_str,
        subscription: id.subscription.clone(),
        resource_group: id.resource_group.clone(),
        type_name: ty.type_name().to_string(),
        name,
        body: doc,
        etag,
    };
    Ok(Staged { existing, row })
}

/// The group of `id` must exist and not be on its way out; returns its name.
async fn require_group(conn: &mut sqlx::SqliteConnection, id: &ResourceId) -> ArmResult<String> {
    let Some(rg) = id.resource_group_id() else {
        return Ok(String::new());
    };
    let name = id.resource_group.clone().unwrap_or_default();
    let group = resources::get(conn, &rg)
        .await?
        .ok_or_else(|| ArmError::resource_group_not_found(&name))?;
    if group.body["properties"]["provisioningState"] == "Deleting" {
        return Err(ArmError::conflict(
            "ResourceGroupBeingDeleted",
            format!(
                "The resource group '{name}' is in deprovisioning state and cannot perform this operation."
            ),
        ));
    }
    Ok(group.name)
}

fn not_found(id: &ResourceId) -> ArmError {
    let type_name = id.type_name();
    let name = id
        .segments
        .iter()
        .map(|(_, n)| n.as_str())
        .collect::<Vec<_>>()
        .join("/");
    ArmError::resource_not_found(
        &type_name,
        &name,
        id.resource_group.as_deref().unwrap_or_default(),
    )
}

/// The stored row of a top-level resource, or 404 the way ARM words it.
pub async fn get_stored(arm: &Arm, id: &ResourceId) -> ArmResult<Resource> {
    if let Some(rg) = &id.resource_group
        && arm
            .store
            .get(&super::id::resource_group_id(&id.subscription, rg))
            .await?
            .is_none()
    {
        return Err(ArmError::resource_group_not_found(rg));
    }
    arm.store.get(&id.key()).await?.ok_or_else(|| not_found(id))
}

/// The rendered document of a top-level resource.
pub async fn get(arm: &Arm, id: &ResourceId) -> ArmResult<Value> {
    let ty = resolve_type(arm, id, "")?;
    let row = get_stored(arm, id).await?;
    ty.render(arm, row.body).await
}

/// Every resource of a type in a group (or the whole subscription), rendered.
pub async fn list(
    arm: &Arm,
    ty: &dyn ResourceType,
    sub: &str,
    rg: Option<&str>,
) -> ArmResult<Vec<Value>> {
    if let Some(rg) = rg
        && arm
            .store
            .get(&super::id::resource_group_id(sub, rg))
            .await?
            .is_none()
    {
        return Err(ArmError::resource_group_not_found(rg));
    }
    let q = ResourceQuery {
        subscription: sub.into(),
        resource_group: rg.map(str::to_string),
        type_name: Some(ty.type_name().into()),
    };
    let mut out = Vec::new();
    // Top-level resources only: a scale-set instance's NIC has the NIC type but is listed
    // under its scale set, not with the standalone NICs.
    for r in arm.store.list(&q).await? {
        if ResourceId::parse(&r.id).is_ok_and(|id| id.segments.len() == 1) {
            out.push(ty.render(arm, r.body).await?);
        }
    }
    Ok(out)
}

/// PATCH: tags, or for types whose PATCH body has properties, the stored document merged with
/// the patch and written through [`put_started`] (so it is validated like a PUT).
pub async fn patch(arm: &Arc<Arm>, id: &ResourceId, req: &ArmRequest) -> ArmResult<PutOutcome> {
    let ty = resolve_type(arm, id, "")?;
    if ty.patch() == Patch::Tags {
        let doc = patch_tags(arm, id, req).await?;
        return Ok(PutOutcome {
            doc,
            created: false,
            operation: None,
        });
    }
    let api_version = req.api_version()?;
    let mut patch = req.json_object()?;
    // Tags are one value in ARM's PATCH: given tags replace the stored set, as `patch_tags`
    // does (merging them would make a removed tag impossible to drop).
    let tags = patch.remove("tags");
    let mut doc = get_stored(arm, id).await?.body;
    crate::model::merge::merge(&mut doc, Value::Object(patch));
    if let Some(tags) = tags {
        doc["tags"] = tags;
    }
    let Value::Object(body) = doc else {
        return Err(ArmError::internal("stored document is not an object"));
    };
    put_started(arm, id, api_version, body, Some(req)).await
}

/// PATCH: tags (the part of PATCH every type shares).
pub async fn patch_tags(arm: &Arm, id: &ResourceId, req: &ArmRequest) -> ArmResult<Value> {
    let ty = resolve_type(arm, id, "")?;
    let body = req.json_object()?;
    let tags = parse_tags(body.get("tags"))?;
    let mut w = arm.store.write().await?;
    let mut row = resources::get(&mut w.tx, &id.key())
        .await?
        .ok_or_else(|| not_found(id))?;
    req.check_preconditions(Some(&row.etag))?;
    if let Some(tags) = tags {
        row.body["tags"] = Value::Object(tags);
    }
    row.etag = new_etag();
    row.body["etag"] = json!(row.etag);
    resources::put(&mut w.tx, &row).await?;
    w.commit().await?;
    arm.notify_change();
    ty.render(arm, row.body).await
}

/// Deletes a top-level resource; `false` when there was nothing to delete.
pub async fn delete(arm: &Arm, id: &ResourceId, req: Option<&ArmRequest>) -> ArmResult<bool> {
    let ty = resolve_type(arm, id, "")?;
    let id = canonical(ty.as_ref(), id);
    let mut w = arm.store.write().await?;
    let Some(row) = resources::get(&mut w.tx, &id.key()).await? else {
        if let Some(req) = req {
            req.check_preconditions(None)?;
        }
        return Ok(false);
    };
    if let Some(req) = req {
        req.check_preconditions(Some(&row.etag))?;
    }
    let mut cx = WriteCx {
        arm,
        conn: &mut w.tx,
        id: &id,
        api_version: "",
    };
    ty.before_delete(&mut cx, &row.body).await?;
    resources::delete(&mut w.tx, &id.key()).await?;
    w.commit().await?;
    arm.notify_change();
    Ok(true)
}

/// The child collection `segment` of a type, if it has one by that name.
pub fn child_of(ty: &dyn ResourceType, segment: &str) -> Option<Child> {
    ty.children()
        .iter()
        .find(|c| c.property.eq_ignore_ascii_case(segment))
        .copied()
}

fn child_array<'a>(doc: &'a Value, child: &Child) -> &'a [Value] {
    doc["properties"][child.property]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn find_child<'a>(doc: &'a Value, child: &Child, name: &str) -> Option<&'a Value> {
    child_array(doc, child).iter().find(|c| {
        c["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

/// Children of a parent, rendered.
pub async fn list_children(arm: &Arm, parent: &ResourceId, child: &Child) -> ArmResult<Vec<Value>> {
    let doc = get(arm, parent).await?;
    Ok(child_array(&doc, child).to_vec())
}

/// One child, rendered.
pub async fn get_child(
    arm: &Arm,
    parent: &ResourceId,
    child: &Child,
    name: &str,
) -> ArmResult<Value> {
    let doc = get(arm, parent).await?;
    find_child(&doc, child, name)
        .cloned()
        .ok_or_else(|| not_found(&parent.child(child.property, name)))
}

/// PUT of one child: the parent is re-validated and stored with the child replaced or added.
pub async fn put_child(
    arm: &Arc<Arm>,
    parent: &ResourceId,
    api_version: &str,
    child: &Child,
    name: &str,
    body: Map<String, Value>,
) -> ArmResult<(Value, bool)> {
    let ty = resolve_type(arm, parent, api_version)?;
    let parent = canonical(ty.as_ref(), parent);
    // Read, merge and write in one transaction: two children of one parent written at the
    // same time (a template's subnets) must not lose either.
    let mut w = arm.store.write().await?;
    let Some(stored) = resources::get(&mut w.tx, &parent.key()).await? else {
        return Err(match require_group(&mut w.tx, &parent).await {
            Err(e) => e,
            Ok(_) => not_found(&parent),
        });
    };
    let mut doc = stored.body;
    let created = merge_child(&mut doc, child, name, body);
    let Value::Object(map) = doc else {
        return Err(ArmError::internal("stored document is not an object"));
    };
    let staged = stage(arm, &mut w.tx, ty.as_ref(), &parent, api_version, map, None).await?;
    let out = commit_put(arm, w, ty.as_ref(), &parent, staged).await?;
    let parent_doc = match &out.operation {
        Some(op) => {
            arm.wait_operation(op).await?;
            get(arm, &parent).await?
        }
        None => out.doc,
    };
    let rendered = find_child(&parent_doc, child, name)
        .cloned()
        .ok_or_else(|| {
            ArmError::bad_request(
                "InvalidRequestFormat",
                format!(
                    "'{name}' in '{}' is computed by the service and cannot be written directly.",
                    child.property
                ),
            )
        })?;
    Ok((rendered, created))
}

/// Puts `body` as child `name` of the collection `child` in a parent document (replacing
/// one by that name, keeping its name's casing); returns whether it was added.
pub fn merge_child(doc: &mut Value, child: &Child, name: &str, body: Map<String, Value>) -> bool {
    let mut element = Value::Object(body);
    element["name"] = json!(name);
    match doc["properties"][child.property].as_array_mut() {
        Some(items) => match items.iter_mut().find(|c| {
            c["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        }) {
            Some(existing) => {
                element["name"] = existing["name"].clone();
                *existing = element;
                false
            }
            None => {
                items.push(element);
                true
            }
        },
        None => {
            doc["properties"][child.property] = json!([element]);
            true
        }
    }
}

/// DELETE of one child; `false` when there was nothing to delete.
pub async fn delete_child(
    arm: &Arc<Arm>,
    parent: &ResourceId,
    api_version: &str,
    child: &Child,
    name: &str,
) -> ArmResult<bool> {
    let stored = get_stored(arm, parent).await?;
    let mut doc = stored.body;
    let Some(items) = doc["properties"][child.property].as_array_mut() else {
        return Ok(false);
    };
    let before = items.len();
    items.retain(|c| {
        !c["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    });
    if items.len() == before {
        return Ok(false);
    }
    let Value::Object(map) = doc else {
        return Err(ArmError::internal("stored document is not an object"));
    };
    put(arm, parent, api_version, map, None).await?;
    Ok(true)
}
