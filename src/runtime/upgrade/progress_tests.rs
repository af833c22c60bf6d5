//! Unit tests of the rolling-upgrade record: scope, bookkeeping of each step, counts,
//! cancel, recovery after a restart, persistence.

use super::*;
use crate::runtime::upgrade::fixture::{fleet, secs};
use std::time::Duration;

fn record(scope: &[&str]) -> Progress {
    let ids = scope.iter().map(|s| s.to_string()).collect();
    Progress::start(
        UpgradeKind::Model,
        Invoker::User,
        RollingUpgradePolicy::default(),
        ids,
        2,
        None,
        secs(0),
    )
}

#[test]
fn scope_leaves_out_protected_and_up_to_date_instances() {
    let mut vms = fleet(4);
    vms[1].latest_model = true;
    vms[2].protection.from_scale_set_actions = true;
    vms[3].protection.from_scale_in = true; // scale-in protection does not block upgrades
    assert_eq!(scope(UpgradeKind::Model, &vms), ["0", "3"]);
    assert_eq!(scope(UpgradeKind::OsImage, &vms), ["0", "1", "3"]);
}

#[test]
fn counts_follow_batches() {
    let mut p = record(&["0", "1", "2"]);
    assert_eq!(
        (
            p.counts().pending_instance_count,
            p.counts().in_progress_instance_count
        ),
        (3, 0)
    );
    p.apply(
        &Step::Upgrade {
            instances: vec!["0".into()],
        },
        secs(1),
    );
    assert_eq!(
        p.counts(),
        Counts {
            successful_instance_count: 0,
            failed_instance_count: 0,
            in_progress_instance_count: 1,
            pending_instance_count: 2
        }
    );
    let finish = Step::FinishBatch {
        succeeded: vec!["0".into()],
        failed: vec![],
        upgraded: vec!["0".into()],
        delete: vec![],
    };
    p.apply(&finish, secs(30));
    assert_eq!(
        (
            p.counts().successful_instance_count,
            p.counts().pending_instance_count
        ),
        (1, 2)
    );
    assert_eq!((p.batches_done, p.pause_until), (1, None));
    p.apply(
        &Step::Forget {
            instances: vec!["2".into()],
        },
        secs(31),
    );
    assert_eq!(p.pending(), ["1"]);
}

#[test]
fn a_finished_batch_starts_the_pause() {
    let mut p = record(&["0", "1"]);
    p.policy.pause_time_between_batches = Duration::from_secs(10);
    p.apply(
        &Step::Upgrade {
            instances: vec!["0".into()],
        },
        secs(0),
    );
    let finish = Step::FinishBatch {
        succeeded: vec!["0".into()],
        failed: vec![],
        upgraded: vec![],
        delete: vec![],
    };
    p.apply(&finish, secs(20));
    assert_eq!(p.pause_until, Some(secs(30)));
}

#[test]
fn surge_instances_are_recorded_until_the_batch_is_ready() {
    let mut p = record(&["0", "1"]);
    p.apply(
        &Step::CreateSurge {
            count: 2,
            replacing: vec!["0".into(), "1".into()],
        },
        secs(0),
    );
    p.add_surge("5".into(), secs(3));
    assert_eq!(
        p.batch.as_ref().unwrap().surge.as_ref().unwrap().ready_at,
        None
    );
    p.add_surge("6".into(), secs(4));
    p.add_surge("6".into(), secs(5));
    let s = p.batch.as_ref().unwrap().surge.clone().unwrap();
    assert_eq!(
        (s.created, s.ready_at),
        (vec!["5".to_string(), "6".to_string()], Some(secs(4)))
    );
}

#[test]
fn cancel_ends_a_running_upgrade_and_refuses_otherwise() {
    let mut p = record(&["0"]);
    p.cancel(secs(9)).unwrap();
    assert_eq!(
        (p.code, p.last_action, p.last_action_time, p.end_time),
        (
            RunningCode::Cancelled,
            LastAction::Cancel,
            secs(9),
            Some(secs(9))
        )
    );
    let e = p.cancel(secs(10)).unwrap_err();
    assert_eq!(
        (e.status.as_u16(), e.message.as_str()),
        (409, "There is no ongoing Rolling Upgrade to cancel.")
    );
    let mut done = record(&[]);
    done.apply(&Step::Complete, secs(1));
    assert!(done.cancel(secs(2)).is_err());
}

#[test]
fn recovery_resumes_or_faults_when_the_model_moved_on() {
    let mut p = record(&["0"]);
    assert!(p.recover(2, secs(5)));
    assert!(!p.recover(3, secs(6)));
    assert_eq!(
        (p.code, p.error.as_ref().unwrap().code.as_str()),
        (RunningCode::Faulted, "InternalExecutionError")
    );
}

#[test]
fn the_record_round_trips_through_json() {
    let mut p = record(&["0", "1"]);
    p.previous_model = Some(serde_json::json!({"osProfile": {}}));
    p.apply(
        &Step::CreateSurge {
            count: 1,
            replacing: vec!["0".into()],
        },
        secs(0),
    );
    p.add_surge("7".into(), secs(2));
    p.apply(&Step::Fault(UpgradeError::max_unhealthy(100, 20)), secs(3));
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["code"], "Faulted");
    assert_eq!(json["startTime"], "2025-01-01T12:00:00.000000Z");
    let back: Progress = serde_json::from_value(json).unwrap();
    assert_eq!(back, p);
}
