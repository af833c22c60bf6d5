//! The rolling-upgrade batch planner: one pure function from the instances (model, health,
//! power, protection), the upgrade's [`Progress`] record and `now` to the next [`Step`].
//!
//! The reconciler loops: `step = next_step(..)`; `progress.apply(&step, now)`; persist;
//! carry the step out; repeat until the step is a `Wait` (re-plan at `until` or on a health
//! change) or `Idle`. Applying before acting keeps it idempotent: a step the record says was
//! started but the instances do not show yet (an instance still on the old model, a surge
//! instance never created) is asked for again.
//!
//! Azure's rules (Compute spec `RollingUpgradePolicy`, docs "automatic OS image upgrades",
//! "configure rolling upgrades", "MaxSurge"): batches of at most maxBatchInstancePercent of
//! the total, at least one instance; before every batch no more than
//! maxUnhealthyInstancePercent of all instances may be unhealthy, counting those the batch
//! takes down; after every batch no more than maxUnhealthyUpgradedInstancePercent of the
//! upgraded ones; an upgraded instance has [`HEALTH_TIMEOUT`] to report healthy.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::error::UpgradeError;
use super::policy::{HEALTH_TIMEOUT, RollingUpgradePolicy};
use super::progress::{Batch, Progress};
use super::{Health, Instance, PowerState, id_key};

/// What the reconciler does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Upgrade these instances in place: out of rotation, drain, stop, start on the latest
    /// model (an OS upgrade reimages them).
    Upgrade { instances: Vec<String> },
    /// maxSurge: create `count` instances on the latest model, recording each with
    /// [`Progress::add_surge`]; `replacing` are deleted once their replacements are healthy.
    CreateSurge {
        count: usize,
        replacing: Vec<String>,
    },
    /// Nothing to do before `until`.
    Wait {
        until: DateTime<Utc>,
        reason: WaitReason,
    },
    /// The batch is over: `succeeded`/`failed` are scope ids, `upgraded` the ids now running
    /// the new model healthily; delete `delete` (maxSurge: the replaced old instances and
    /// the replacements that never became healthy).
    FinishBatch {
        succeeded: Vec<String>,
        failed: Vec<String>,
        upgraded: Vec<String>,
        delete: Vec<String>,
    },
    /// Pending instances that were deleted or became protected leave the scope (record only).
    Forget { instances: Vec<String> },
    /// rollbackFailedInstancesOnPolicyBreach: put these back on the previous model; the
    /// upgrade then faults with `error`.
    Rollback {
        instances: Vec<String>,
        error: UpgradeError,
    },
    /// Every instance of the scope is done.
    Complete,
    /// Stop with Azure's error.
    Fault(UpgradeError),
    /// The upgrade ended with a maxSurge batch in flight: delete its new instances.
    Cleanup { delete: Vec<String> },
    /// The upgrade has ended; nothing to do.
    Idle,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WaitReason {
    /// pauseTimeBetweenBatches.
    Pause,
    /// These instances of the batch are not healthy yet; at `until` they count as failed.
    Health { instances: Vec<String> },
    /// A health gate would fail, but these instances have no verdict yet (their processes
    /// just started): at `until` they count as unhealthy.
    Verdict { instances: Vec<String> },
}

/// Instances per batch: maxBatchInstancePercent of the total, rounded down, at least one
/// ("a maximum of 20% of the total instance count, subject to a minimum batch size of one
/// virtual machine ... 5 or fewer instances have 1 virtual machine per upgrade batch").
pub fn batch_size(total: usize, max_batch_percent: u32) -> usize {
    (total * max_batch_percent as usize / 100).max(1)
}

/// The next step of the upgrade recorded in `progress` (whose policy snapshot applies).
pub fn next_step(instances: &[Instance], progress: &Progress, now: DateTime<Utc>) -> Step {
    let by_id: HashMap<&str, &Instance> = instances.iter().map(|i| (i.id.as_str(), i)).collect();
    if !progress.is_running() {
        return match progress.batch.as_ref().and_then(|b| b.surge.as_ref()) {
            Some(s) if !s.created.is_empty() => Step::Cleanup {
                delete: existing(&s.created, &by_id),
            },
            _ => Step::Idle,
        };
    }
    if let Some(rb) = &progress.rollback {
        return Step::Fault(rb.error.clone());
    }
    let forget: Vec<String> = progress
        .pending()
        .into_iter()
        .filter(|id| {
            by_id
                .get(id)
                .is_none_or(|i| i.protection.from_scale_set_actions)
        })
        .map(String::from)
        .collect();
    if !forget.is_empty() {
        return Step::Forget { instances: forget };
    }
    if let Some(batch) = &progress.batch {
        return batch_step(batch, &by_id, now);
    }
    if let Some(until) = progress.pause_until.filter(|u| *u > now) {
        return Step::Wait {
            until,
            reason: WaitReason::Pause,
        };
    }
    let policy = &progress.policy;
    if let Some(e) = upgraded_gate(progress, &by_id) {
        let upgraded = progress
            .upgraded
            .iter()
            .filter_map(|id| by_id.get(id.as_str()).copied());
        return await_verdicts(upgraded, now).unwrap_or_else(|| breach(e, progress, &by_id));
    }
    let pending = progress.pending();
    if pending.is_empty() {
        return Step::Complete;
    }
    if let Some(e) = overall_gate(instances, policy) {
        return await_verdicts(instances.iter(), now)
            .unwrap_or_else(|| breach(e, progress, &by_id));
    }
    let chosen = choose_batch(instances, &pending, policy);
    if policy.max_surge {
        Step::CreateSurge {
            count: chosen.len(),
            replacing: chosen,
        }
    } else {
        Step::Upgrade { instances: chosen }
    }
}

fn existing(ids: &[String], by_id: &HashMap<&str, &Instance>) -> Vec<String> {
    ids.iter()
        .filter(|id| by_id.contains_key(id.as_str()))
        .cloned()
        .collect()
}

/// A batch in flight: finish the surge creation or the upgrade, then wait for health.
fn batch_step(batch: &Batch, by_id: &HashMap<&str, &Instance>, now: DateTime<Utc>) -> Step {
    let (targets, ready) = match &batch.surge {
        Some(s) if s.created.len() < s.requested => {
            return Step::CreateSurge {
                count: s.requested - s.created.len(),
                replacing: batch.instances.clone(),
            };
        }
        Some(s) => (&s.created, s.ready_at.unwrap_or(batch.started)),
        None => {
            let stale: Vec<String> = batch
                .instances
                .iter()
                .filter(|id| by_id.get(id.as_str()).is_some_and(|i| !i.latest_model))
                .cloned()
                .collect();
            if !stale.is_empty() {
                return Step::Upgrade { instances: stale };
            }
            (&batch.instances, batch.started)
        }
    };
    // Only health reported after the batch started counts: a restarted instance's old
    // Healthy must not pass it.
    let passed = |id: &String| {
        by_id.get(id.as_str()).is_some_and(|i| {
            i.latest_model
                && (i.power != PowerState::Running
                    || (i.health == Health::Healthy && i.health_since >= batch.started))
        })
    };
    let (ok, not_ok): (Vec<String>, Vec<String>) = targets.iter().cloned().partition(passed);
    let deadline = ready + chrono::Duration::from_std(HEALTH_TIMEOUT).expect("five minutes");
    if !not_ok.is_empty() && now < deadline {
        return Step::Wait {
            until: deadline,
            reason: WaitReason::Health { instances: not_ok },
        };
    }
    match &batch.surge {
        None => Step::FinishBatch {
            succeeded: ok.clone(),
            failed: not_ok,
            upgraded: ok,
            delete: vec![],
        },
        Some(_) => {
            // Each healthy replacement retires one old instance; an old instance whose
            // replacement failed keeps serving, and the failed replacement goes.
            let k = ok.len().min(batch.instances.len());
            let (replaced, kept) = batch.instances.split_at(k);
            let mut delete = existing(replaced, by_id);
            delete.extend(existing(&not_ok, by_id));
            Step::FinishBatch {
                succeeded: replaced.to_vec(),
                failed: kept.to_vec(),
                upgraded: ok,
                delete,
            }
        }
    }
}

/// `part` of `whole` as Azure prints it (a whole percent).
fn percent(part: usize, whole: usize) -> u32 {
    ((part * 100) as f64 / whole.max(1) as f64).round() as u32
}

/// maxUnhealthyInstancePercent over all instances, before a batch.
fn overall_gate(instances: &[Instance], policy: &RollingUpgradePolicy) -> Option<UpgradeError> {
    let total = instances.len();
    let unhealthy = instances
        .iter()
        .filter(|i| i.power == PowerState::Running && !i.serving())
        .count();
    let threshold = policy.max_unhealthy_instance_percent;
    (unhealthy * 100 > threshold as usize * total)
        .then(|| UpgradeError::max_unhealthy(percent(unhealthy, total), threshold))
}

/// maxUnhealthyUpgradedInstancePercent over the instances upgraded so far, after a batch:
/// those that failed, and upgraded ones found unhealthy since.
fn upgraded_gate(progress: &Progress, by_id: &HashMap<&str, &Instance>) -> Option<UpgradeError> {
    let done = progress.succeeded.len() + progress.failed.len();
    if done == 0 {
        return None;
    }
    let sick: Vec<&String> = progress
        .upgraded
        .iter()
        .filter(|id| {
            by_id
                .get(id.as_str())
                .is_some_and(|i| i.power == PowerState::Running && !i.serving())
        })
        .collect();
    let unhealthy = progress.failed.len() + sick.len();
    let threshold = progress.policy.max_unhealthy_upgraded_instance_percent;
    if unhealthy * 100 <= threshold as usize * done {
        return None;
    }
    let first = progress
        .failed
        .first()
        .or(sick.first().copied())
        .map_or("", String::as_str);
    Some(UpgradeError::max_unhealthy_upgraded(
        percent(unhealthy, done).min(100),
        threshold,
        first,
    ))
}

/// Before a breached gate faults the upgrade: the running instances it counted that have
/// no verdict yet (`Initializing`: "wait for the state to be Healthy, Unhealthy, or
/// Unknown") or were never passed by their probe are waited for, up to [`HEALTH_TIMEOUT`]
/// after their last change. Every instance restarts when armlet does, so an upgrade
/// resuming after a restart would otherwise fault on a fleet that is merely booting.
fn await_verdicts<'a>(
    counted: impl Iterator<Item = &'a Instance>,
    now: DateTime<Utc>,
) -> Option<Step> {
    let timeout = chrono::Duration::from_std(HEALTH_TIMEOUT).expect("five minutes");
    let booting: Vec<&Instance> = counted
        .filter(|i| {
            i.power == PowerState::Running
                && !i.serving()
                && (i.health == Health::Initializing || i.unproven)
        })
        .filter(|i| i.last_change + timeout > now)
        .collect();
    let until = booting.iter().map(|i| i.last_change + timeout).min()?;
    Some(Step::Wait {
        until,
        reason: WaitReason::Verdict {
            instances: booting.iter().map(|i| i.id.clone()).collect(),
        },
    })
}

/// A breached gate faults the upgrade, after rolling failed instances back if asked to.
fn breach(error: UpgradeError, progress: &Progress, by_id: &HashMap<&str, &Instance>) -> Step {
    if progress.policy.rollback_failed_instances_on_policy_breach {
        // A failed maxSurge replacement is already gone and its old instance untouched.
        let back: Vec<String> = progress
            .failed
            .iter()
            .filter(|id| by_id.get(id.as_str()).is_some_and(|i| i.latest_model))
            .cloned()
            .collect();
        if !back.is_empty() {
            return Step::Rollback {
                instances: back,
                error,
            };
        }
    }
    Step::Fault(error)
}

/// The next batch from the pending instances. Order: unhealthy first when
/// prioritizeUnhealthyInstances, then creation order; one zone at a time unless
/// enableCrossZoneUpgrade ("Virtual machines in different Availability Zones are not
/// updated concurrently"). The batch shrinks so that the instances it takes down plus those
/// already unhealthy stay within maxUnhealthyInstancePercent ("simultaneously unhealthy,
/// either as a result of being upgraded, or by being found in an unhealthy state"), but
/// never below one instance so the upgrade always progresses.
pub fn choose_batch(
    instances: &[Instance],
    pending: &[&str],
    policy: &RollingUpgradePolicy,
) -> Vec<String> {
    let total = instances.len();
    let size = batch_size(total, policy.max_batch_instance_percent);
    let allowed = total * policy.max_unhealthy_instance_percent as usize / 100;
    let unhealthy = instances
        .iter()
        .filter(|i| i.power == PowerState::Running && !i.serving())
        .count();
    let mut headroom = allowed.saturating_sub(unhealthy);
    let mut candidates: Vec<&Instance> = instances
        .iter()
        .filter(|i| pending.contains(&i.id.as_str()))
        .collect();
    let prioritize = policy.prioritize_unhealthy_instances;
    candidates.sort_by_key(|i| (prioritize && i.serving(), i.created, id_key(&i.id)));
    if policy.enable_cross_zone_upgrade != Some(true) {
        let zone = candidates.first().map(|i| i.zone.clone());
        candidates.retain(|i| Some(&i.zone) == zone.as_ref());
    }
    let mut chosen = Vec::new();
    for c in candidates {
        if chosen.len() == size {
            break;
        }
        // Taking down an instance that does not serve costs no health headroom.
        let cost = usize::from(c.serving());
        if cost <= headroom || chosen.is_empty() {
            headroom = headroom.saturating_sub(cost);
            chosen.push(c.id.clone());
        }
    }
    chosen
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "plan_lifecycle_tests.rs"]
mod lifecycle_tests;
