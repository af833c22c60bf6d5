//! The record of one rolling upgrade, as the reconciler persists it (serde JSON) so the
//! upgrade survives an armlet restart. It holds everything the planner needs to resume:
//! the policy snapshot, the target model version, the scope (instances to upgrade), what
//! each finished batch did, the batch in flight (with its start time, which bounds the
//! health wait) and the pause deadline. On restart the planner resumes from it; if the
//! scale set's model moved on meanwhile, [`Progress::recover`] ends it as Faulted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{UpgradeError, no_upgrade_to_cancel};
use super::plan::Step;
use super::policy::RollingUpgradePolicy;
use super::time::{rfc3339, rfc3339_opt};
use super::{Instance, id_key};
use crate::model::error::ArmResult;

/// `runningStatus.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunningCode {
    RollingForward,
    Cancelled,
    Completed,
    Faulted,
}

/// `runningStatus.lastAction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LastAction {
    Start,
    Cancel,
}

/// `startedBy` of an OS upgrade history entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Invoker {
    Unknown,
    User,
    Platform,
}

/// What started the upgrade: a model change in Rolling mode, `rolling-upgrade start` (an
/// OS image upgrade, which reimages every instance and appears in `osUpgradeHistory`), or
/// `extensionRollingUpgrade` (extensions reapplied: every instance restarts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpgradeKind {
    Model,
    OsImage,
    Extension,
}

impl UpgradeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UpgradeKind::Model => "Model",
            UpgradeKind::OsImage => "OsImage",
            UpgradeKind::Extension => "Extension",
        }
    }
}

/// A batch in flight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// Instances of the scope this batch upgrades in place, or replaces (maxSurge).
    pub instances: Vec<String>,
    /// When the batch started; an in-place batch's health wait is bounded from here.
    #[serde(with = "rfc3339")]
    pub started: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surge: Option<Surge>,
}

/// maxSurge: the new instances created for a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Surge {
    pub requested: usize,
    /// Ids of the instances created so far (recorded by [`Progress::add_surge`]).
    pub created: Vec<String>,
    /// When the last one was created; the health wait is bounded from here.
    #[serde(default, with = "rfc3339_opt")]
    pub ready_at: Option<DateTime<Utc>>,
}

/// rollbackFailedInstancesOnPolicyBreach: what was rolled back and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollback {
    pub instances: Vec<String>,
    pub error: UpgradeError,
}

/// The persisted record of one rolling upgrade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub kind: UpgradeKind,
    pub started_by: Invoker,
    pub code: RunningCode,
    #[serde(with = "rfc3339")]
    pub start_time: DateTime<Utc>,
    pub last_action: LastAction,
    #[serde(with = "rfc3339")]
    pub last_action_time: DateTime<Utc>,
    #[serde(default, with = "rfc3339_opt")]
    pub end_time: Option<DateTime<Utc>>,
    /// The policy as it was when the upgrade started.
    pub policy: RollingUpgradePolicy,
    /// The scale-set model version this upgrade rolls out.
    pub model_version: u64,
    /// The `virtualMachineProfile` before the change, for rollbacks (opaque here).
    #[serde(default)]
    pub previous_model: Option<Value>,
    /// Instances to upgrade, fixed at start (ids leave it if the instance goes away).
    pub scope: Vec<String>,
    /// Scope ids upgraded (or replaced) and healthy.
    pub succeeded: Vec<String>,
    /// Scope ids whose upgrade did not become healthy in time.
    pub failed: Vec<String>,
    /// Current ids of the succeeded instances (a surge replacement has a new id), watched
    /// by the upgraded-instances health gate.
    pub upgraded: Vec<String>,
    pub batches_done: u32,
    #[serde(default)]
    pub batch: Option<Batch>,
    #[serde(default, with = "rfc3339_opt")]
    pub pause_until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub rollback: Option<Rollback>,
    #[serde(default)]
    pub error: Option<UpgradeError>,
}

/// `progress` of a rolling-upgrade status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub successful_instance_count: usize,
    pub failed_instance_count: usize,
    pub in_progress_instance_count: usize,
    pub pending_instance_count: usize,
}

/// The instances an upgrade covers: a model change upgrades those not on the latest model,
/// an OS upgrade every instance; instances protected from scale-set actions are left out
/// ("Protects instance from operations initiated on the scale set (such as upgrade ...)",
/// Azure docs, virtual-machine-scale-sets-instance-protection).
pub fn scope(kind: UpgradeKind, instances: &[Instance]) -> Vec<String> {
    let mut ids: Vec<&Instance> = instances
        .iter()
        .filter(|i| !i.protection.from_scale_set_actions)
        .filter(|i| kind != UpgradeKind::Model || !i.latest_model)
        .collect();
    ids.sort_by(|a, b| id_key(&a.id).cmp(&id_key(&b.id)));
    ids.into_iter().map(|i| i.id.clone()).collect()
}

impl Progress {
    /// A new upgrade, RollingForward from `now`.
    pub fn start(
        kind: UpgradeKind,
        started_by: Invoker,
        policy: RollingUpgradePolicy,
        scope: Vec<String>,
        model_version: u64,
        previous_model: Option<Value>,
        now: DateTime<Utc>,
    ) -> Self {
        Progress {
            kind,
            started_by,
            code: RunningCode::RollingForward,
            start_time: now,
            last_action: LastAction::Start,
            last_action_time: now,
            end_time: None,
            policy,
            model_version,
            previous_model,
            scope,
            succeeded: Vec::new(),
            failed: Vec::new(),
            upgraded: Vec::new(),
            batches_done: 0,
            batch: None,
            pause_until: None,
            rollback: None,
            error: None,
        }
    }

    pub fn is_running(&self) -> bool {
        self.code == RunningCode::RollingForward
    }

    /// Scope ids not yet in a batch, in scope order.
    pub fn pending(&self) -> Vec<&str> {
        let in_batch = self
            .batch
            .as_ref()
            .map(|b| b.instances.as_slice())
            .unwrap_or(&[]);
        self.scope
            .iter()
            .filter(|id| {
                !self.succeeded.contains(id) && !self.failed.contains(id) && !in_batch.contains(id)
            })
            .map(String::as_str)
            .collect()
    }

    pub fn counts(&self) -> Counts {
        Counts {
            successful_instance_count: self.succeeded.len(),
            failed_instance_count: self.failed.len(),
            in_progress_instance_count: self.batch.as_ref().map_or(0, |b| b.instances.len()),
            pending_instance_count: self.pending().len(),
        }
    }

    /// Records what the reconciler did for `step` (pure bookkeeping; steps without a record
    /// change, like `Wait`, leave it as it is).
    pub fn apply(&mut self, step: &Step, now: DateTime<Utc>) {
        match step {
            // A step asked again for a batch already in flight changes nothing.
            Step::Upgrade { instances } => {
                if self.batch.is_none() {
                    self.batch = Some(Batch {
                        instances: instances.clone(),
                        started: now,
                        surge: None,
                    });
                    self.pause_until = None;
                }
            }
            Step::CreateSurge { count, replacing } => {
                if self.batch.is_none() {
                    let surge = Surge {
                        requested: *count,
                        created: Vec::new(),
                        ready_at: None,
                    };
                    self.batch = Some(Batch {
                        instances: replacing.clone(),
                        started: now,
                        surge: Some(surge),
                    });
                    self.pause_until = None;
                }
            }
            Step::FinishBatch {
                succeeded,
                failed,
                upgraded,
                ..
            } => {
                self.succeeded.extend(succeeded.iter().cloned());
                self.failed.extend(failed.iter().cloned());
                self.upgraded.extend(upgraded.iter().cloned());
                self.batch = None;
                self.batches_done += 1;
                let pause = self.policy.pause_time_between_batches;
                self.pause_until = (!pause.is_zero()).then(|| {
                    now + chrono::Duration::from_std(pause).unwrap_or(chrono::Duration::zero())
                });
            }
            Step::Forget { instances } => {
                self.scope.retain(|id| !instances.contains(id));
            }
            Step::Rollback { instances, error } => {
                self.rollback = Some(Rollback {
                    instances: instances.clone(),
                    error: error.clone(),
                });
            }
            Step::Complete => self.end(RunningCode::Completed, None, now),
            Step::Fault(e) => self.end(RunningCode::Faulted, Some(e.clone()), now),
            Step::Cleanup { .. } => self.batch = None,
            Step::Wait { .. } | Step::Idle => {}
        }
    }

    fn end(&mut self, code: RunningCode, error: Option<UpgradeError>, now: DateTime<Utc>) {
        self.code = code;
        self.error = error;
        self.end_time = Some(now);
        self.pause_until = None;
    }

    /// maxSurge: the reconciler created instance `id` for the batch in flight.
    pub fn add_surge(&mut self, id: String, now: DateTime<Utc>) {
        if let Some(s) = self.batch.as_mut().and_then(|b| b.surge.as_mut()) {
            if !s.created.contains(&id) {
                s.created.push(id);
            }
            if s.created.len() >= s.requested && s.ready_at.is_none() {
                s.ready_at = Some(now);
            }
        }
    }

    /// `rollingUpgrades/cancel`: a running upgrade ends Cancelled (a maxSurge batch in
    /// flight is cleaned up by the planner); anything else is the 409 Azure answers.
    pub fn cancel(&mut self, now: DateTime<Utc>) -> ArmResult<()> {
        if !self.is_running() {
            return Err(no_upgrade_to_cancel());
        }
        self.last_action = LastAction::Cancel;
        self.last_action_time = now;
        self.end(RunningCode::Cancelled, None, now);
        Ok(())
    }

    /// After an armlet restart: a running upgrade resumes unless the scale set's model is no
    /// longer the one it rolls out, in which case it ends Faulted rather than half-applied.
    /// Returns whether it still runs.
    pub fn recover(&mut self, current_model_version: u64, now: DateTime<Utc>) -> bool {
        if self.is_running() && current_model_version != self.model_version {
            self.end(RunningCode::Faulted, Some(UpgradeError::interrupted()), now);
        }
        self.is_running()
    }
}

#[cfg(test)]
#[path = "progress_tests.rs"]
mod tests;
