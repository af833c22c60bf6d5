//! Extension resources: resources of one provider attached below a resource of another
//! (`{target}/providers/{namespace}/{collection}/{name}`, e.g. a load balancer's diagnostic
//! settings). ARM keeps them apart from their target: they are not listed with provider
//! resources, and they answer 404 when the target does not exist.
//!
//! They are stored as ordinary resource rows keyed by their lower-case id (with the target's
//! subscription and group, so deleting a group deletes them), so writes share the store's
//! single-writer transactions and ETags with every other resource. The type supplies what is
//! specific: validation of the body and the document it stores.

use serde_json::{Value, json};
use sqlx::SqliteConnection;

use super::error::{ArmError, ArmResult};
use super::id::ResourceId;
use super::request::ArmRequest;
use super::service::Arm;
use super::tags::new_etag;
use crate::store::{Resource, ResourceQuery, resources};

/// One kind of extension resource.
#[derive(Debug, Clone, Copy)]
pub struct ExtensionType {
    /// The type as documents name it, e.g. `Microsoft.Insights/diagnosticSettings`.
    pub type_name: &'static str,
    /// The namespace as the provider writes it in ids (Azure Monitor writes
    /// `microsoft.insights` in lower case).
    pub id_namespace: &'static str,
    /// The collection segment, e.g. `diagnosticSettings`.
    pub collection: &'static str,
}

impl ExtensionType {
    /// The id of `name` below `target`.
    pub fn id(&self, target: &ResourceId, name: &str) -> String {
        format!(
            "{target}/providers/{}/{}/{name}",
            self.id_namespace, self.collection
        )
    }

    fn prefix(&self, target: &ResourceId) -> String {
        format!(
            "{}/providers/{}/{}/",
            target.key(),
            self.id_namespace,
            self.collection
        )
        .to_ascii_lowercase()
    }
}

/// The target's row, read inside the caller's transaction, or ARM's 404 for it.
pub async fn target(conn: &mut SqliteConnection, target: &ResourceId) -> ArmResult<Resource> {
    if let Some(rg) = &target.resource_group
        && resources::get(
            conn,
            &super::id::resource_group_id(&target.subscription, rg),
        )
        .await?
        .is_none()
    {
        return Err(ArmError::resource_group_not_found(rg));
    }
    resources::get(conn, &target.key()).await?.ok_or_else(|| {
        let name = target
            .segments
            .iter()
            .map(|(_, n)| n.as_str())
            .collect::<Vec<_>>()
            .join("/");
        ArmError::resource_not_found(
            &target.type_name(),
            &name,
            target.resource_group.as_deref().unwrap_or_default(),
        )
    })
}

/// The extension resources of `ty` below `target`, in creation order.
pub async fn list(
    conn: &mut SqliteConnection,
    ty: &ExtensionType,
    target: &ResourceId,
) -> ArmResult<Vec<Resource>> {
    let q = ResourceQuery {
        subscription: target.subscription.clone(),
        resource_group: target.resource_group.clone(),
        type_name: Some(ty.type_name.to_string()),
    };
    let prefix = ty.prefix(target);
    Ok(resources::list(conn, &q)
        .await?
        .into_iter()
        .filter(|r| {
            r.key()
                .strip_prefix(&prefix)
                .is_some_and(|rest| !rest.contains('/'))
        })
        .collect())
}

/// The row to store for `name` below `target`: the first casing of the name is kept, as ARM
/// does, and every write gets a new ETag. `doc` gets `id`, `name` and `type`.
pub fn row(
    ty: &ExtensionType,
    target: &ResourceId,
    name: &str,
    existing: Option<&Resource>,
    mut doc: Value,
) -> Resource {
    let (id, name) = match existing {
        Some(r) => (r.id.clone(), r.name.clone()),
        None => (ty.id(target, name), name.to_string()),
    };
    doc["id"] = json!(id);
    doc["name"] = json!(name);
    doc["type"] = json!(ty.type_name);
    Resource {
        id,
        subscription: target.subscription.clone(),
        resource_group: target.resource_group.clone(),
        type_name: ty.type_name.to_string(),
        name,
        body: doc,
        etag: new_etag(),
    }
}

/// Deletes `name` below `target` (honouring `If-Match`); `false` when there was nothing to delete.
pub async fn delete(
    arm: &Arm,
    ty: &ExtensionType,
    target_id: &ResourceId,
    name: &str,
    req: &ArmRequest,
) -> ArmResult<bool> {
    let mut w = arm.store.write().await?;
    target(&mut w.tx, target_id).await?;
    let key = ty.id(target_id, name).to_ascii_lowercase();
    let existing = resources::get(&mut w.tx, &key).await?;
    req.check_preconditions(existing.as_ref().map(|r| r.etag.as_str()))?;
    if existing.is_none() {
        return Ok(false);
    }
    resources::delete(&mut w.tx, &key).await?;
    w.commit().await?;
    arm.notify_change();
    Ok(true)
}
