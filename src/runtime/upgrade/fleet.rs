//! [`Fleet`]: the writes the lifecycle controllers ask for. The runtime decides *what*
//! happens to a scale set's instances (upgrade, replace, delete); creating and changing
//! instance rows with their NICs is the Compute provider's job, so the API layer
//! implements this trait and the app hands it to the controllers (the runtime never imports
//! the API). Every write commits in one transaction and wakes the reconcilers.
//!
//! Scale sets are named by their lower-case id, instances by their `instanceId` (`"3"` in
//! Uniform, the VM name in Flexible).

use async_trait::async_trait;
use serde_json::Value;

use crate::model::compute::instance::InstanceAction;
use crate::model::error::ArmResult;

#[async_trait]
pub trait Fleet: Send + Sync + 'static {
    /// Moves instances to the scale set's current model: they restart on it.
    async fn apply_latest_model(&self, scale_set: &str, instances: &[String]) -> ArmResult<()>;

    /// Puts instances back on an earlier model (a rollback): `version` and its
    /// `virtualMachineProfile`.
    async fn apply_model(
        &self,
        scale_set: &str,
        instances: &[String],
        version: u64,
        model: &Value,
    ) -> ArmResult<()>;

    /// A power or lifecycle action (restart, reimage) on instances.
    async fn act(
        &self,
        scale_set: &str,
        instances: &[String],
        action: InstanceAction,
    ) -> ArmResult<()>;

    /// Creates `count` instances on the current model without changing the capacity
    /// (maxSurge); returns their instance ids.
    async fn add_instances(&self, scale_set: &str, count: usize) -> ArmResult<Vec<String>>;

    /// Deletes instances at once (no terminate notification); the capacity follows.
    async fn delete_instances(&self, scale_set: &str, instances: &[String]) -> ArmResult<()>;

    /// Deletes an instance and creates one on the current model in its place (automatic
    /// repairs' Replace); returns the new instance's id.
    async fn replace(&self, scale_set: &str, instance: &str) -> ArmResult<String>;
}
