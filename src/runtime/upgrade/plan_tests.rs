//! Unit tests of the batch planner's rules (batch size, order, zones, health gates, health
//! wait, pause), and the tiny reconciler the lifecycle tests drive upgrades with.

use super::*;
use crate::runtime::upgrade::fixture::{fleet, secs, vm};
use crate::runtime::upgrade::progress::{Invoker, RunningCode, UpgradeKind, scope};
use std::time::Duration;

pub(super) fn policy() -> RollingUpgradePolicy {
    RollingUpgradePolicy::default()
}

pub(super) fn start(vms: &[Instance], policy: RollingUpgradePolicy) -> Progress {
    let ids = scope(UpgradeKind::Model, vms);
    Progress::start(
        UpgradeKind::Model,
        Invoker::User,
        policy,
        ids,
        2,
        None,
        secs(0),
    )
}

pub(super) fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Plans and records one step without carrying it out.
pub(super) fn step(vms: &[Instance], p: &mut Progress, now: DateTime<Utc>) -> Step {
    let step = next_step(vms, p, now);
    p.apply(&step, now);
    step
}

/// Carries out steps until a Wait/Idle/end: upgraded or created instances come up on the
/// new model with health Unknown since `now` (the probe has not answered yet).
pub(super) fn drive(vms: &mut Vec<Instance>, p: &mut Progress, now: DateTime<Utc>) -> Step {
    loop {
        let step = step(vms, p, now);
        let up = |i: &mut Instance| {
            (i.latest_model, i.health, i.health_since) = (true, Health::Unknown, now);
        };
        match &step {
            Step::Upgrade { instances } => vms
                .iter_mut()
                .filter(|i| instances.contains(&i.id))
                .for_each(up),
            Step::CreateSurge { count, .. } => {
                for k in 0..*count {
                    let mut i = vm(100 + 10 * p.batches_done as u64 + k as u64);
                    up(&mut i);
                    p.add_surge(i.id.clone(), now);
                    vms.push(i);
                }
            }
            Step::FinishBatch { delete, .. } | Step::Cleanup { delete } => {
                vms.retain(|i| !delete.contains(&i.id))
            }
            Step::Rollback { instances, .. } => vms
                .iter_mut()
                .filter(|i| instances.contains(&i.id))
                .for_each(|i| i.latest_model = false),
            Step::Forget { .. } => {}
            Step::Wait { .. } | Step::Idle | Step::Complete | Step::Fault(_) => return step,
        }
    }
}

/// The probe answers for instances that came up: `health` from `now`.
pub(super) fn report(vms: &mut [Instance], health: Health, now: DateTime<Utc>) {
    for i in vms
        .iter_mut()
        .filter(|i| i.latest_model && i.health == Health::Unknown)
    {
        (i.health, i.health_since) = (health, now);
    }
}

#[test]
fn batch_sizes_round_down_with_at_least_one_instance() {
    let table = [
        (3, [1, 1, 3]),
        (5, [1, 1, 5]),
        (10, [2, 3, 10]),
        (100, [20, 33, 100]),
    ];
    for (total, sizes) in table {
        for (percent, size) in [20, 33, 100].into_iter().zip(sizes) {
            assert_eq!(
                batch_size(total, percent),
                size,
                "{total} instances at {percent}%"
            );
            let everyone_may_be_down = RollingUpgradePolicy {
                max_batch_instance_percent: percent,
                max_unhealthy_instance_percent: 100,
                ..policy()
            };
            let vms = fleet(total as u64);
            let pending: Vec<&str> = vms.iter().map(|i| i.id.as_str()).collect();
            assert_eq!(
                choose_batch(&vms, &pending, &everyone_may_be_down).len(),
                size
            );
        }
    }
}

#[test]
fn batches_follow_creation_order() {
    let mut vms = fleet(4);
    for (i, created) in vms.iter_mut().zip([30, 10, 40, 20]) {
        i.created = created;
    }
    let pending = ["0", "1", "2", "3"];
    let p = RollingUpgradePolicy {
        max_batch_instance_percent: 50,
        max_unhealthy_instance_percent: 100,
        ..policy()
    };
    assert_eq!(choose_batch(&vms, &pending, &p), ["1", "3"]);
}

#[test]
fn prioritize_unhealthy_instances_puts_them_first() {
    let mut vms = fleet(10);
    vms[7].health = Health::Unhealthy;
    vms[9].health = Health::Unknown;
    let pending: Vec<&str> = vms.iter().map(|i| i.id.as_str()).collect();
    let p = RollingUpgradePolicy {
        max_batch_instance_percent: 30,
        max_unhealthy_instance_percent: 50,
        ..policy()
    };
    assert_eq!(choose_batch(&vms, &pending, &p), ["0", "1", "2"]);
    let first = RollingUpgradePolicy {
        prioritize_unhealthy_instances: true,
        ..p
    };
    assert_eq!(choose_batch(&vms, &pending, &first), ["7", "9", "0"]);
}

#[test]
fn unhealthy_instances_shrink_the_batch_to_the_health_budget() {
    // 10 instances at 20/20: two may be down; one already is and is not in the batch.
    let mut vms = fleet(10);
    vms[9].health = Health::Unhealthy;
    let pending: Vec<&str> = vms[..9].iter().map(|i| i.id.as_str()).collect();
    assert_eq!(choose_batch(&vms, &pending, &policy()), ["0"]);
    // 3 instances at 20 %: no budget at all, still one at a time.
    let vms = fleet(3);
    assert_eq!(choose_batch(&vms, &["0", "1", "2"], &policy()), ["0"]);
}

#[test]
fn zones_are_upgraded_one_at_a_time_unless_cross_zone() {
    let mut vms = fleet(4);
    for (i, z) in vms.iter_mut().zip(["1", "2", "1", "2"]) {
        i.zone = Some(z.into());
    }
    let pending = ["0", "1", "2", "3"];
    let p = RollingUpgradePolicy {
        max_batch_instance_percent: 100,
        max_unhealthy_instance_percent: 100,
        ..policy()
    };
    assert_eq!(choose_batch(&vms, &pending, &p), ["0", "2"]);
    let cross = RollingUpgradePolicy {
        enable_cross_zone_upgrade: Some(true),
        ..p
    };
    assert_eq!(choose_batch(&vms, &pending, &cross).len(), 4);
}

#[test]
fn the_health_gate_stops_an_upgrade_before_it_starts() {
    let mut vms = fleet(3);
    vms[2].health = Health::Unhealthy;
    let p = start(&vms, policy());
    let Step::Fault(e) = next_step(&vms, &p, secs(0)) else {
        panic!("expected a fault")
    };
    assert_eq!(
        e.code,
        "MaxUnhealthyInstancePercentExceededInRollingUpgrade"
    );
    assert!(
        e.message.contains(
            "33% of instances are in an unhealthy state - more than the threshold of 20%"
        )
    );
    // A stopped instance is not probed and does not count.
    vms[2].power = PowerState::Deallocated;
    assert!(matches!(next_step(&vms, &p, secs(0)), Step::Upgrade { .. }));
}

#[test]
fn the_health_gates_wait_for_instances_without_a_verdict_then_count_them() {
    // armlet restarted: every instance is booting again, started at t=5 s.
    let mut vms = fleet(3);
    for i in &mut vms {
        (i.health, i.health_since, i.last_change) = (Health::Initializing, secs(5), secs(5));
    }
    let p = start(&vms, policy());
    let Step::Wait { until, reason } = next_step(&vms, &p, secs(6)) else {
        panic!("expected a wait")
    };
    assert_eq!(until, secs(5 + 300));
    assert_eq!(
        reason,
        WaitReason::Verdict {
            instances: ids(&["0", "1", "2"])
        }
    );
    // Verdicts arrive: healthy ones let the upgrade go on.
    for i in &mut vms {
        (i.health, i.health_since) = (Health::Healthy, secs(8));
    }
    assert!(matches!(next_step(&vms, &p, secs(8)), Step::Upgrade { .. }));
    // One that never answers counts as unhealthy once its time is up.
    vms[2].health = Health::Initializing;
    assert!(matches!(next_step(&vms, &p, secs(9)), Step::Wait { .. }));
    let Step::Fault(e) = next_step(&vms, &p, secs(5 + 300)) else {
        panic!("expected a fault")
    };
    assert_eq!(
        e.code,
        "MaxUnhealthyInstancePercentExceededInRollingUpgrade"
    );
    // An Unhealthy verdict is not waited for, unless the probe never passed the instance
    // since it started (it is still booting, as far as anyone knows).
    vms[2].health = Health::Unhealthy;
    assert!(matches!(next_step(&vms, &p, secs(9)), Step::Fault(_)));
    vms[2].unproven = true;
    assert!(matches!(next_step(&vms, &p, secs(9)), Step::Wait { .. }));
    assert!(matches!(next_step(&vms, &p, secs(5 + 300)), Step::Fault(_)));
}

#[test]
fn upgraded_instances_rebooting_after_a_restart_are_waited_for() {
    let mut vms = fleet(2);
    let mut p = start(
        &vms,
        RollingUpgradePolicy {
            max_batch_instance_percent: 50,
            ..policy()
        },
    );
    drive(&mut vms, &mut p, secs(0));
    report(&mut vms, Health::Healthy, secs(1));
    assert!(matches!(
        step(&vms, &mut p, secs(1)),
        Step::FinishBatch { .. }
    ));
    assert_eq!(p.upgraded, ["0"]);
    // armlet restarts at t=10 s: both instances boot again.
    for i in &mut vms {
        (i.health, i.health_since, i.last_change) = (Health::Initializing, secs(10), secs(10));
    }
    assert!(matches!(
        next_step(&vms, &p, secs(11)),
        Step::Wait {
            reason: WaitReason::Verdict { .. },
            ..
        }
    ));
    for i in &mut vms {
        (i.health, i.health_since) = (Health::Healthy, secs(12));
    }
    assert_eq!(
        next_step(&vms, &p, secs(12)),
        Step::Upgrade {
            instances: ids(&["1"])
        }
    );
}

#[test]
fn the_health_gate_is_checked_again_after_each_batch() {
    let mut vms = fleet(10);
    let mut p = start(&vms, policy());
    assert!(matches!(
        drive(&mut vms, &mut p, secs(0)),
        Step::Wait { .. }
    ));
    // The batch comes up healthy, then three other instances fail: 30 % > 20 %.
    report(&mut vms, Health::Healthy, secs(10));
    assert!(matches!(
        step(&vms, &mut p, secs(10)),
        Step::FinishBatch { .. }
    ));
    assert_eq!(p.succeeded, ["0", "1"]);
    for i in &mut vms[5..8] {
        i.health = Health::Unhealthy;
    }
    let Step::Fault(e) = next_step(&vms, &p, secs(11)) else {
        panic!("expected a fault")
    };
    assert_eq!(
        e.code,
        "MaxUnhealthyInstancePercentExceededInRollingUpgrade"
    );
}

#[test]
fn a_batch_waits_for_fresh_health_then_the_pause() {
    let mut vms = fleet(3);
    let p0 = RollingUpgradePolicy {
        pause_time_between_batches: Duration::from_secs(10),
        ..policy()
    };
    let mut p = start(&vms, p0);
    assert_eq!(
        step(&vms, &mut p, secs(1)),
        Step::Upgrade {
            instances: ids(&["0"])
        }
    );
    // Still the old process's Healthy (since t0): not enough.
    vms[0].latest_model = true;
    let wait = next_step(&vms, &p, secs(2));
    assert_eq!(
        wait,
        Step::Wait {
            until: secs(301),
            reason: WaitReason::Health {
                instances: ids(&["0"])
            }
        }
    );
    vms[0].health_since = secs(4);
    let done = step(&vms, &mut p, secs(5));
    assert_eq!(
        done,
        Step::FinishBatch {
            succeeded: ids(&["0"]),
            failed: vec![],
            upgraded: ids(&["0"]),
            delete: vec![]
        }
    );
    assert_eq!(
        next_step(&vms, &p, secs(9)),
        Step::Wait {
            until: secs(15),
            reason: WaitReason::Pause
        }
    );
    assert_eq!(
        next_step(&vms, &p, secs(15)),
        Step::Upgrade {
            instances: ids(&["1"])
        }
    );
}

#[test]
fn a_batch_that_never_becomes_healthy_fails_at_the_timeout_and_faults_the_upgrade() {
    let mut vms = fleet(3);
    let mut p = start(&vms, policy());
    let Step::Wait { until, .. } = drive(&mut vms, &mut p, secs(0)) else {
        panic!()
    };
    assert_eq!(until, secs(300));
    report(&mut vms, Health::Unhealthy, secs(20));
    assert!(matches!(next_step(&vms, &p, secs(299)), Step::Wait { .. }));
    let Step::Fault(e) = drive(&mut vms, &mut p, secs(300)) else {
        panic!("expected a fault")
    };
    assert_eq!(p.failed, ["0"]);
    assert_eq!(
        e.code,
        "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade"
    );
    assert!(
        e.message
            .contains("100% of instances are in an unhealthy state after being upgraded")
    );
    assert!(e.message.ends_with("First failed instance ID is: 0."));
    assert_eq!(
        (p.code, p.counts().pending_instance_count),
        (RunningCode::Faulted, 2)
    );
    assert!(
        !vms[1].latest_model && !vms[2].latest_model,
        "the others keep serving the old model"
    );
}

#[test]
fn upgraded_instances_that_turn_unhealthy_later_count_too() {
    let mut vms = fleet(10);
    let p0 = RollingUpgradePolicy {
        max_unhealthy_instance_percent: 100,
        ..policy()
    };
    let mut p = start(&vms, p0);
    drive(&mut vms, &mut p, secs(0));
    report(&mut vms, Health::Healthy, secs(1));
    assert!(
        matches!(drive(&mut vms, &mut p, secs(1)), Step::Wait { .. }),
        "second batch running"
    );
    report(&mut vms, Health::Healthy, secs(2));
    step(&vms, &mut p, secs(2));
    assert_eq!(p.upgraded, ["0", "1", "2", "3"]);
    vms[0].health = Health::Unhealthy; // 1 of 4 upgraded = 25 % > 20 %
    let Step::Fault(e) = next_step(&vms, &p, secs(3)) else {
        panic!("expected a fault")
    };
    assert!(e.message.contains("25% of instances") && e.message.ends_with("ID is: 0."));
}

#[test]
fn a_lenient_upgraded_threshold_lets_the_upgrade_go_on() {
    let mut vms = fleet(3);
    let p0 = RollingUpgradePolicy {
        max_unhealthy_upgraded_instance_percent: 100,
        max_unhealthy_instance_percent: 100,
        ..policy()
    };
    let mut p = start(&vms, p0);
    drive(&mut vms, &mut p, secs(0));
    assert!(matches!(
        drive(&mut vms, &mut p, secs(300)),
        Step::Wait { .. }
    ));
    assert_eq!(
        (p.failed.len(), p.counts().in_progress_instance_count),
        (1, 1)
    );
}
