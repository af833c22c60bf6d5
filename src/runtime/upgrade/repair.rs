//! Automatic instance repairs as pure decisions: which unhealthy instances to repair now
//! and how, and whether repairs must suspend themselves (the service state itself is in
//! [`super::orchestration`]).
//!
//! Azure's rules (docs "Automatic instance repairs for Azure Virtual Machine Scale Sets"):
//! instances reported Unhealthy, or Unknown by Rich Health States, are repaired with the
//! policy's repairAction; "no more than 5% of the total instances in the scale set are
//! repaired. If a scale set has fewer than 20 instances, the repairs are done for one
//! unhealthy instance at a time"; nothing happens to an instance until the grace period has
//! passed since its last state change, "including the one created as a result of repair
//! operation" (so a repair that did not help is retried one grace period later); protected
//! instances (either protection policy) are never repaired; a Suspended service repairs
//! nothing, and "if newly created instances ... continue to remain unhealthy even after
//! repeatedly performing repair operations ... the platform updates the serviceState for
//! automatic repairs to Suspended".

use chrono::{DateTime, Utc};

use super::orchestration::ServiceState;
use super::policy::{AutomaticRepairsPolicy, RepairAction};
use super::{Health, Instance, PowerState, id_key};

/// Failed repairs in a row after which the service suspends itself. Azure documents the
/// suspension but not the count; this is armlet's choice.
pub const SUSPEND_AFTER_FAILED_REPAIRS: u32 = 5;

/// One repair to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    pub instance: String,
    pub action: RepairAction,
}

/// What automatic repairs do now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairDecision {
    pub repairs: Vec<Repair>,
    /// Set the service state to Suspended (too many repairs did not help).
    pub suspend: bool,
}

/// How many instances may be under repair at once: 5 % of the total, at least one.
pub fn repair_limit(total: usize) -> usize {
    (total * 5 / 100).max(1)
}

/// Whether the grace period since the instance's last state change is over.
fn past_grace(i: &Instance, policy: &AutomaticRepairsPolicy, now: DateTime<Utc>) -> bool {
    let grace = chrono::Duration::from_std(policy.grace_period).unwrap_or(chrono::Duration::MAX);
    now >= i.last_change + grace
}

/// The repairs to start now. `in_progress` are instance ids under repair; `failed_in_a_row`
/// counts repairs whose result was still unhealthy at the end of its grace period (see
/// [`outcome`]), reset by a repair that worked.
pub fn decide(
    instances: &[Instance],
    policy: &AutomaticRepairsPolicy,
    state: ServiceState,
    in_progress: &[String],
    failed_in_a_row: u32,
    now: DateTime<Utc>,
) -> RepairDecision {
    if !policy.enabled || state != ServiceState::Running {
        return RepairDecision::default();
    }
    if failed_in_a_row >= SUSPEND_AFTER_FAILED_REPAIRS {
        return RepairDecision {
            repairs: vec![],
            suspend: true,
        };
    }
    let slots = repair_limit(instances.len()).saturating_sub(in_progress.len());
    let mut due: Vec<&Instance> = instances
        .iter()
        .filter(|i| {
            i.power == PowerState::Running
                && matches!(i.health, Health::Unhealthy | Health::Unknown)
        })
        .filter(|i| !i.protection.from_scale_in && !i.protection.from_scale_set_actions)
        .filter(|i| !in_progress.contains(&i.id))
        .filter(|i| past_grace(i, policy, now))
        .collect();
    // The longest unhealthy first.
    due.sort_by(|a, b| (a.health_since, id_key(&a.id)).cmp(&(b.health_since, id_key(&b.id))));
    let repairs = due
        .into_iter()
        .take(slots)
        .map(|i| Repair {
            instance: i.id.clone(),
            action: policy.repair_action,
        })
        .collect();
    RepairDecision {
        repairs,
        suspend: false,
    }
}

/// Whether a finished repair worked, judged on the instance it left (the replacement, for
/// Replace) whose `last_change` is the repair's completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Healthy,
    /// Still not healthy when its grace period ended.
    Failed,
    Pending,
}

pub fn outcome(
    repaired: &Instance,
    policy: &AutomaticRepairsPolicy,
    now: DateTime<Utc>,
) -> Outcome {
    if repaired.serving() {
        Outcome::Healthy
    } else if past_grace(repaired, policy, now) {
        Outcome::Failed
    } else {
        Outcome::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::upgrade::fixture::{fleet, secs, vm};
    use std::time::Duration;

    fn enabled() -> AutomaticRepairsPolicy {
        AutomaticRepairsPolicy {
            enabled: true,
            ..AutomaticRepairsPolicy::default()
        }
    }

    /// `n` instances created at t0, those in `sick` unhealthy since `since` seconds.
    fn set(n: u64, sick: &[usize], since: i64) -> Vec<crate::runtime::upgrade::Instance> {
        let mut vms = fleet(n);
        for &s in sick {
            vms[s].health = Health::Unhealthy;
            vms[s].health_since = secs(since - s as i64);
        }
        vms
    }

    fn ids(d: &RepairDecision) -> Vec<&str> {
        d.repairs.iter().map(|r| r.instance.as_str()).collect()
    }

    const AFTER_GRACE: i64 = 600;

    #[test]
    fn repairs_wait_for_the_grace_period_since_the_last_change() {
        let vms = set(3, &[1], 60);
        assert!(
            decide(
                &vms,
                &enabled(),
                ServiceState::Running,
                &[],
                0,
                secs(AFTER_GRACE - 1)
            )
            .repairs
            .is_empty()
        );
        let d = decide(
            &vms,
            &enabled(),
            ServiceState::Running,
            &[],
            0,
            secs(AFTER_GRACE),
        );
        assert_eq!(
            d.repairs,
            [Repair {
                instance: "1".into(),
                action: RepairAction::Replace
            }]
        );
        // A repaired (or newly created) instance gets a new grace period.
        let mut vms = vms;
        vms[1].last_change = secs(AFTER_GRACE);
        assert!(
            decide(
                &vms,
                &enabled(),
                ServiceState::Running,
                &[],
                0,
                secs(2 * AFTER_GRACE - 1)
            )
            .repairs
            .is_empty()
        );
        assert_eq!(
            ids(&decide(
                &vms,
                &enabled(),
                ServiceState::Running,
                &[],
                0,
                secs(2 * AFTER_GRACE)
            )),
            ["1"]
        );
    }

    #[test]
    fn unknown_counts_healthy_and_stopped_do_not() {
        let mut vms = fleet(3);
        vms[0].health = Health::Unknown;
        vms[1].health = Health::Unhealthy;
        vms[1].power = PowerState::Stopped;
        assert_eq!(
            ids(&decide(
                &vms,
                &enabled(),
                ServiceState::Running,
                &[],
                0,
                secs(AFTER_GRACE)
            )),
            ["0"]
        );
    }

    #[test]
    fn repairs_go_one_at_a_time_below_twenty_instances_then_five_percent() {
        assert_eq!(
            (
                repair_limit(3),
                repair_limit(19),
                repair_limit(20),
                repair_limit(100)
            ),
            (1, 1, 1, 5)
        );
        let vms = set(10, &[2, 5, 7], 0);
        let d = decide(
            &vms,
            &enabled(),
            ServiceState::Running,
            &[],
            0,
            secs(AFTER_GRACE),
        );
        assert_eq!(ids(&d), ["7"], "the longest unhealthy first");
        assert!(
            decide(
                &vms,
                &enabled(),
                ServiceState::Running,
                &["7".into()],
                0,
                secs(AFTER_GRACE)
            )
            .repairs
            .is_empty()
        );
        let big = set(100, &[1, 2, 3, 4, 5, 6, 7], 0);
        let d = decide(
            &big,
            &enabled(),
            ServiceState::Running,
            &["1".into()],
            0,
            secs(AFTER_GRACE),
        );
        assert_eq!(ids(&d), ["7", "6", "5", "4"]);
    }

    #[test]
    fn protected_instances_are_never_repaired() {
        let mut vms = set(3, &[0, 1], 0);
        vms[0].protection.from_scale_in = true;
        vms[1].protection.from_scale_set_actions = true;
        assert!(
            decide(
                &vms,
                &enabled(),
                ServiceState::Running,
                &[],
                0,
                secs(AFTER_GRACE)
            )
            .repairs
            .is_empty()
        );
    }

    #[test]
    fn nothing_happens_when_disabled_or_suspended_and_repeated_failures_suspend() {
        let vms = set(3, &[0], 0);
        let off = AutomaticRepairsPolicy::default();
        assert_eq!(
            decide(&vms, &off, ServiceState::Running, &[], 0, secs(AFTER_GRACE)),
            RepairDecision::default()
        );
        assert!(
            decide(
                &vms,
                &enabled(),
                ServiceState::Suspended,
                &[],
                0,
                secs(AFTER_GRACE)
            )
            .repairs
            .is_empty()
        );
        let d = decide(
            &vms,
            &enabled(),
            ServiceState::Running,
            &[],
            SUSPEND_AFTER_FAILED_REPAIRS,
            secs(AFTER_GRACE),
        );
        assert!(d.suspend && d.repairs.is_empty());
        let action = AutomaticRepairsPolicy {
            repair_action: RepairAction::Restart,
            grace_period: Duration::from_secs(1800),
            ..enabled()
        };
        assert!(
            decide(
                &vms,
                &action,
                ServiceState::Running,
                &[],
                0,
                secs(AFTER_GRACE)
            )
            .repairs
            .is_empty()
        );
        assert_eq!(
            decide(&vms, &action, ServiceState::Running, &[], 0, secs(1800)).repairs[0].action,
            RepairAction::Restart
        );
    }

    #[test]
    fn a_repair_is_judged_after_its_grace_period() {
        let mut new = vm(9);
        (new.health, new.last_change) = (Health::Unknown, secs(0));
        assert_eq!(outcome(&new, &enabled(), secs(100)), Outcome::Pending);
        assert_eq!(
            outcome(&new, &enabled(), secs(AFTER_GRACE)),
            Outcome::Failed
        );
        new.health = Health::Healthy;
        assert_eq!(outcome(&new, &enabled(), secs(100)), Outcome::Healthy);
    }
}
