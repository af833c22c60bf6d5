//! Whole upgrades through the planner: completion, resumption, scope changes, maxSurge,
//! rollback and cancel, driven by the tiny reconciler of `plan_tests`.

use super::tests::{drive, ids, policy, report, start, step};
use super::*;
use crate::runtime::upgrade::fixture::{fleet, secs, vm};
use crate::runtime::upgrade::progress::RunningCode;

#[test]
fn a_healthy_upgrade_completes_in_batches_of_one() {
    let mut vms = fleet(3);
    let mut p = start(&vms, policy());
    for t in 0..3 {
        assert!(matches!(
            drive(&mut vms, &mut p, secs(t * 10)),
            Step::Wait { .. }
        ));
        assert_eq!(p.counts().in_progress_instance_count, 1);
        report(&mut vms, Health::Healthy, secs(t * 10 + 5));
    }
    assert_eq!(drive(&mut vms, &mut p, secs(30)), Step::Complete);
    assert_eq!(
        (p.code, p.end_time, p.batches_done),
        (RunningCode::Completed, Some(secs(30)), 3)
    );
    assert_eq!(p.counts().successful_instance_count, 3);
    assert!(vms.iter().all(|i| i.latest_model));
    assert_eq!(next_step(&vms, &p, secs(31)), Step::Idle);
}

#[test]
fn a_batch_interrupted_before_the_upgrade_is_asked_for_again() {
    let vms = fleet(3);
    let mut p = start(&vms, policy());
    let step = next_step(&vms, &p, secs(0));
    p.apply(&step, secs(0));
    // armlet stopped before carrying it out: the instance still runs the old model.
    assert_eq!(next_step(&vms, &p, secs(60)), step);
    p.apply(&step, secs(60));
    assert_eq!(
        p.batch.as_ref().unwrap().started,
        secs(0),
        "the batch keeps its start"
    );
}

#[test]
fn stopped_instances_are_upgraded_without_a_health_wait() {
    let mut vms = fleet(1);
    vms[0].power = PowerState::Stopped;
    let mut p = start(&vms, policy());
    assert!(matches!(drive(&mut vms, &mut p, secs(0)), Step::Complete));
}

#[test]
fn instances_that_go_away_or_get_protected_leave_the_scope() {
    let mut vms = fleet(3);
    let p = start(&vms, policy());
    vms.remove(2);
    vms[1].protection.from_scale_set_actions = true;
    assert_eq!(
        next_step(&vms, &p, secs(0)),
        Step::Forget {
            instances: ids(&["1", "2"])
        }
    );
}

#[test]
fn max_surge_creates_new_instances_then_deletes_the_old_ones() {
    let mut vms = fleet(5);
    let mut p = start(
        &vms,
        RollingUpgradePolicy {
            max_surge: true,
            max_batch_instance_percent: 40,
            max_unhealthy_instance_percent: 40,
            ..policy()
        },
    );
    let first = next_step(&vms, &p, secs(0));
    assert_eq!(
        first,
        Step::CreateSurge {
            count: 2,
            replacing: ids(&["0", "1"])
        }
    );
    p.apply(&first, secs(0));
    p.add_surge("7".into(), secs(1));
    assert_eq!(
        next_step(&vms, &p, secs(2)),
        Step::CreateSurge {
            count: 1,
            replacing: ids(&["0", "1"])
        }
    );
    assert_eq!(p.counts().in_progress_instance_count, 2);
    let mut p2 = p.clone();
    p2.add_surge("8".into(), secs(3));
    let mut new = [vm(7), vm(8)];
    for n in &mut new {
        (n.latest_model, n.health_since) = (true, secs(3));
    }
    vms.extend(new.clone());
    let done = next_step(&vms, &p2, secs(4));
    assert_eq!(
        done,
        Step::FinishBatch {
            succeeded: ids(&["0", "1"]),
            failed: vec![],
            upgraded: ids(&["7", "8"]),
            delete: ids(&["0", "1"])
        }
    );
    // One replacement never becomes healthy: its old instance stays, it goes.
    vms.iter_mut().find(|i| i.id == "8").unwrap().health = Health::Unhealthy;
    assert!(matches!(next_step(&vms, &p2, secs(100)), Step::Wait { .. }));
    let partial = next_step(&vms, &p2, secs(303));
    assert_eq!(
        partial,
        Step::FinishBatch {
            succeeded: ids(&["0"]),
            failed: ids(&["1"]),
            upgraded: ids(&["7"]),
            delete: ids(&["0", "8"])
        }
    );
}

#[test]
fn a_whole_surge_upgrade_keeps_the_instance_count() {
    let mut vms = fleet(3);
    let mut p = start(
        &vms,
        RollingUpgradePolicy {
            max_surge: true,
            ..policy()
        },
    );
    for t in 0..3 {
        assert!(matches!(
            drive(&mut vms, &mut p, secs(t * 10)),
            Step::Wait { .. }
        ));
        assert_eq!(vms.len(), 4, "one surge instance next to the old ones");
        report(&mut vms, Health::Healthy, secs(t * 10 + 5));
    }
    assert_eq!(drive(&mut vms, &mut p, secs(30)), Step::Complete);
    assert_eq!(vms.len(), 3);
    assert!(
        vms.iter()
            .all(|i| i.latest_model && i.id.parse::<u64>().unwrap() >= 100)
    );
}

#[test]
fn a_policy_breach_rolls_failed_instances_back_before_faulting() {
    let mut vms = fleet(3);
    let mut p = start(
        &vms,
        RollingUpgradePolicy {
            rollback_failed_instances_on_policy_breach: true,
            ..policy()
        },
    );
    drive(&mut vms, &mut p, secs(0));
    let mut before = p.clone();
    step(&vms, &mut before, secs(300));
    let Step::Rollback { instances, error } = next_step(&vms, &before, secs(300)) else {
        panic!("expected a rollback")
    };
    assert_eq!(instances, ["0"]);
    assert_eq!(
        error.code,
        "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade"
    );
    let Step::Fault(e) = drive(&mut vms, &mut p, secs(300)) else {
        panic!("expected a fault")
    };
    assert_eq!(e, error);
    assert!(!vms[0].latest_model, "back on the previous model");
    assert_eq!(
        (p.code, p.rollback.as_ref().map(|r| r.instances.len())),
        (RunningCode::Faulted, Some(1))
    );
}

#[test]
fn a_surge_breach_has_nothing_to_roll_back() {
    let mut vms = fleet(3);
    let policy = RollingUpgradePolicy {
        max_surge: true,
        rollback_failed_instances_on_policy_breach: true,
        ..policy()
    };
    let mut p = start(&vms, policy);
    drive(&mut vms, &mut p, secs(0));
    assert_eq!(vms.len(), 4);
    assert!(matches!(drive(&mut vms, &mut p, secs(300)), Step::Fault(_)));
    assert!(p.rollback.is_none());
    assert_eq!(
        vms.len(),
        3,
        "the failed replacement is gone, the old instance serves"
    );
    assert!(vms.iter().all(|i| !i.latest_model));
}

#[test]
fn cancel_stops_the_upgrade_and_removes_an_unfinished_surge() {
    let mut vms = fleet(3);
    let mut p = start(&vms, policy());
    drive(&mut vms, &mut p, secs(0));
    p.cancel(secs(1)).unwrap();
    assert_eq!(next_step(&vms, &p, secs(2)), Step::Idle);
    let mut vms = fleet(3);
    let mut p = start(
        &vms,
        RollingUpgradePolicy {
            max_surge: true,
            ..policy()
        },
    );
    drive(&mut vms, &mut p, secs(0));
    p.cancel(secs(1)).unwrap();
    assert_eq!(
        next_step(&vms, &p, secs(2)),
        Step::Cleanup {
            delete: ids(&["100"])
        }
    );
    assert_eq!(drive(&mut vms, &mut p, secs(2)), Step::Idle);
    assert_eq!((vms.len(), p.code), (3, RunningCode::Cancelled));
}
