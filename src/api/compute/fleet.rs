//! The Compute provider's side of [`Fleet`]: the instance writes the runtime's lifecycle
//! controllers (rolling upgrades, automatic repairs, terminate notifications) ask for,
//! each in one store transaction followed by a change signal, like the API's own writes.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{instances, scale_set, vm};
use crate::arm::resource_type::WriteCx;
use crate::arm::{Arm, ArmError, ArmResult, ResourceId};
use crate::model::compute::instance::{InstanceAction, ScaleSetState};
use crate::runtime::upgrade::fleet::Fleet;
use crate::store::{Resource, resources};

pub struct ApiFleet {
    pub arm: Arc<Arm>,
    /// This armlet's `--address-block`: new instances bind addresses from it.
    pub address_block: u8,
}

fn scale_set_id(key: &str) -> ArmResult<ResourceId> {
    ResourceId::parse(key)
}

/// The stored scale-set row, or Azure's not-found error.
async fn vmss_row(cx_conn: &mut sqlx::SqliteConnection, id: &ResourceId) -> ArmResult<Resource> {
    resources::get(cx_conn, &id.key()).await?.ok_or_else(|| {
        ArmError::resource_not_found(
            scale_set::TYPE,
            id.name(),
            id.resource_group.as_deref().unwrap_or_default(),
        )
    })
}

/// The rows of `ids`, in that order; an id that is gone is skipped (the controller's view
/// may be a moment old).
fn pick<'a>(rows: &'a [Resource], ids: &[String]) -> Vec<&'a Resource> {
    ids.iter()
        .filter_map(|id| rows.iter().find(|r| instances::matches_instance(r, id)))
        .collect()
}

/// Writes the scale-set row back with its capacity and state.
async fn put_vmss(
    cx: &mut WriteCx<'_>,
    mut row: Resource,
    capacity: Option<usize>,
    state: Option<&ScaleSetState>,
) -> ArmResult<()> {
    if let Some(c) = capacity {
        row.body["sku"]["capacity"] = json!(c);
    }
    if let Some(s) = state {
        s.store(&mut row.body);
    }
    row.etag = crate::arm::tags::new_etag();
    row.body["etag"] = json!(row.etag);
    cx.put(&row).await
}

#[async_trait]
impl Fleet for ApiFleet {
    async fn apply_latest_model(&self, scale_set: &str, ids: &[String]) -> ArmResult<()> {
        vm::act(
            &self.arm,
            &scale_set_id(scale_set)?,
            "manualupgrade",
            Some(ids.to_vec()),
        )
        .await
    }

    async fn apply_model(
        &self,
        scale_set: &str,
        ids: &[String],
        version: u64,
        model: &Value,
    ) -> ArmResult<()> {
        let id = scale_set_id(scale_set)?;
        let mut w = self.arm.store.write().await?;
        let row = vmss_row(&mut w.tx, &id).await?;
        let canonical = ResourceId::parse(&row.id)?;
        let mut cx = WriteCx {
            arm: &self.arm,
            conn: &mut w.tx,
            id: &canonical,
            api_version: "",
        };
        let rows = instances::list_rows(&mut cx, &canonical).await?;
        for r in pick(&rows, ids) {
            let mut state = instances::state_of(r)?;
            state.apply_model(version, model);
            let mut r = r.clone();
            r.body["properties"]["storageProfile"] = model["storageProfile"].clone();
            instances::put_state(&mut cx, &r, &state).await?;
        }
        w.commit().await?;
        self.arm.notify_change();
        Ok(())
    }

    async fn act(&self, scale_set: &str, ids: &[String], action: InstanceAction) -> ArmResult<()> {
        vm::act(
            &self.arm,
            &scale_set_id(scale_set)?,
            action.as_str(),
            Some(ids.to_vec()),
        )
        .await
    }

    async fn add_instances(&self, scale_set: &str, count: usize) -> ArmResult<Vec<String>> {
        let id = scale_set_id(scale_set)?;
        let mut w = self.arm.store.write().await?;
        let row = vmss_row(&mut w.tx, &id).await?;
        let canonical = ResourceId::parse(&row.id)?;
        let mut state = ScaleSetState::of(&row.body).map_err(ArmError::internal)?;
        let mut cx = WriteCx {
            arm: &self.arm,
            conn: &mut w.tx,
            id: &canonical,
            api_version: "",
        };
        let doc = row.body.clone();
        let ids =
            scale_set::add_instances(&mut cx, &doc, &mut state, count, self.address_block).await?;
        put_vmss(&mut cx, row, None, Some(&state)).await?;
        w.commit().await?;
        self.arm.notify_change();
        Ok(ids)
    }

    async fn delete_instances(&self, scale_set: &str, ids: &[String]) -> ArmResult<()> {
        let id = scale_set_id(scale_set)?;
        let mut w = self.arm.store.write().await?;
        let row = vmss_row(&mut w.tx, &id).await?;
        let canonical = ResourceId::parse(&row.id)?;
        let mut cx = WriteCx {
            arm: &self.arm,
            conn: &mut w.tx,
            id: &canonical,
            api_version: "",
        };
        let rows = instances::list_rows(&mut cx, &canonical).await?;
        let doomed = pick(&rows, ids);
        for r in &doomed {
            instances::delete_instance(&mut cx, r).await?;
        }
        // The capacity counts the instances that stay (waiting deletions do not count).
        let staying = rows
            .iter()
            .filter(|r| !doomed.iter().any(|d| d.key() == r.key()))
            .filter(|r| !instances::delete_requested(r))
            .count();
        put_vmss(&mut cx, row, Some(staying), None).await?;
        w.commit().await?;
        self.arm.notify_change();
        Ok(())
    }

    async fn replace(&self, scale_set: &str, instance: &str) -> ArmResult<String> {
        let id = scale_set_id(scale_set)?;
        let mut w = self.arm.store.write().await?;
        let row = vmss_row(&mut w.tx, &id).await?;
        let canonical = ResourceId::parse(&row.id)?;
        let mut state = ScaleSetState::of(&row.body).map_err(ArmError::internal)?;
        let mut cx = WriteCx {
            arm: &self.arm,
            conn: &mut w.tx,
            id: &canonical,
            api_version: "",
        };
        let rows = instances::list_rows(&mut cx, &canonical).await?;
        let Some(old) = pick(&rows, &[instance.to_string()]).into_iter().next() else {
            return Err(ArmError::not_found(
                "NotFound",
                format!(
                    "Instance '{instance}' of scale set '{}' does not exist.",
                    id.name()
                ),
            ));
        };
        instances::delete_instance(&mut cx, old).await?;
        let doc = row.body.clone();
        let new =
            scale_set::add_instances(&mut cx, &doc, &mut state, 1, self.address_block).await?;
        put_vmss(&mut cx, row, None, Some(&state)).await?;
        w.commit().await?;
        self.arm.notify_change();
        new.into_iter()
            .next()
            .ok_or_else(|| ArmError::internal("no instance was created"))
    }
}
