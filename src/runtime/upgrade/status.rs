//! The documents Azure answers about rolling upgrades, built from a [`Progress`] record:
//! `GET .../rollingUpgrades/latest` (`RollingUpgradeStatusInfo`) and the entries of
//! `GET .../osUpgradeHistory` (`UpgradeOperationHistoricalStatusInfo`).

use serde_json::{Value, json};

use super::progress::{Invoker, LastAction, Progress, RunningCode};
use super::time::compute;

/// The `type` Azure reports for rolling-upgrade documents.
pub const ROLLING_UPGRADE_TYPE: &str = "Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades";

fn code(c: RunningCode) -> &'static str {
    match c {
        RunningCode::RollingForward => "RollingForward",
        RunningCode::Cancelled => "Cancelled",
        RunningCode::Completed => "Completed",
        RunningCode::Faulted => "Faulted",
    }
}

fn invoker(i: Invoker) -> &'static str {
    match i {
        Invoker::Unknown => "Unknown",
        Invoker::User => "User",
        Invoker::Platform => "Platform",
    }
}

/// The body of `rollingUpgrades/latest`. Azure's answer carries `type` and `location` but
/// no `id` or `name` (azure-sdk-for-net#45613 trips over the missing id).
pub fn latest(progress: &Progress, location: &str) -> Value {
    let action = match progress.last_action {
        LastAction::Start => "Start",
        LastAction::Cancel => "Cancel",
    };
    let mut props = json!({
        "policy": progress.policy.to_json(),
        "runningStatus": {
            "code": code(progress.code),
            "startTime": compute(progress.start_time),
            "lastAction": action,
            "lastActionTime": compute(progress.last_action_time),
        },
        "progress": progress.counts(),
    });
    if let Some(e) = &progress.error {
        props["error"] = json!(e);
    }
    json!({"properties": props, "type": ROLLING_UPGRADE_TYPE, "location": location})
}

/// One `osUpgradeHistory` entry; `target_image` is the `imageReference` the upgrade rolled
/// out (from the scale-set model), if it has one.
pub fn history_entry(progress: &Progress, location: &str, target_image: Option<&Value>) -> Value {
    let mut running =
        json!({"code": code(progress.code), "startTime": compute(progress.start_time)});
    if let Some(end) = progress.end_time {
        running["endTime"] = json!(compute(end));
    }
    let rolled_back = progress.rollback.as_ref().map_or(0, |r| r.instances.len());
    let mut props = json!({
        "runningStatus": running,
        "progress": progress.counts(),
        "startedBy": invoker(progress.started_by),
        "rollbackInfo": {
            "successfullyRolledbackInstanceCount": rolled_back,
            "failedRolledbackInstanceCount": 0,
        },
    });
    if let Some(e) = &progress.error {
        props["error"] = json!(e);
    }
    if let Some(image) = target_image {
        props["targetImageReference"] = image.clone();
    }
    json!({"properties": props, "type": ROLLING_UPGRADE_TYPE, "location": location})
}

/// The `osUpgradeHistory` list, newest first as Azure lists it.
pub fn history(mut records: Vec<(&Progress, Option<&Value>)>, location: &str) -> Value {
    records.sort_by_key(|r| std::cmp::Reverse(r.0.start_time));
    let value: Vec<Value> = records
        .into_iter()
        .map(|(p, image)| history_entry(p, location, image))
        .collect();
    json!({ "value": value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::upgrade::error::UpgradeError;
    use crate::runtime::upgrade::fixture::secs;
    use crate::runtime::upgrade::plan::Step;
    use crate::runtime::upgrade::policy::RollingUpgradePolicy;
    use crate::runtime::upgrade::progress::UpgradeKind;

    fn record() -> Progress {
        let scope = ["0", "1", "2"].map(String::from).to_vec();
        let mut p = Progress::start(
            UpgradeKind::Model,
            Invoker::User,
            RollingUpgradePolicy::default(),
            scope,
            1,
            None,
            secs(0),
        );
        p.apply(
            &Step::Upgrade {
                instances: vec!["0".into()],
            },
            secs(1),
        );
        p
    }

    #[test]
    fn latest_has_azures_shape_while_rolling_forward() {
        assert_eq!(
            latest(&record(), "westeurope"),
            json!({
                "properties": {
                    "policy": {"maxBatchInstancePercent": 20, "maxUnhealthyInstancePercent": 20,
                               "maxUnhealthyUpgradedInstancePercent": 20, "pauseTimeBetweenBatches": "PT0S",
                               "prioritizeUnhealthyInstances": false, "rollbackFailedInstancesOnPolicyBreach": false,
                               "maxSurge": false},
                    "runningStatus": {"code": "RollingForward", "startTime": "2025-01-01T12:00:00.0000000+00:00",
                                      "lastAction": "Start", "lastActionTime": "2025-01-01T12:00:00.0000000+00:00"},
                    "progress": {"successfulInstanceCount": 0, "failedInstanceCount": 0,
                                 "inProgressInstanceCount": 1, "pendingInstanceCount": 2}
                },
                "type": "Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades",
                "location": "westeurope"
            })
        );
    }

    #[test]
    fn latest_reports_the_error_of_a_faulted_upgrade_and_a_cancel() {
        let mut p = record();
        p.apply(
            &Step::Fault(UpgradeError::max_unhealthy_upgraded(100, 20, "0")),
            secs(300),
        );
        let body = latest(&p, "westeurope");
        assert_eq!(body["properties"]["runningStatus"]["code"], "Faulted");
        assert_eq!(
            body["properties"]["error"]["code"],
            "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade"
        );
        assert!(body["properties"]["error"].get("target").is_none());
        let mut c = record();
        c.cancel(secs(5)).unwrap();
        let rs = &latest(&c, "x")["properties"]["runningStatus"];
        assert_eq!(
            (rs["code"].as_str(), rs["lastAction"].as_str()),
            (Some("Cancelled"), Some("Cancel"))
        );
        assert_eq!(rs["lastActionTime"], "2025-01-01T12:00:05.0000000+00:00");
        assert!(latest(&c, "x")["properties"].get("error").is_none());
    }

    #[test]
    fn history_entries_carry_end_time_invoker_image_and_rollback_counts() {
        let mut p = record();
        p.started_by = Invoker::Platform;
        p.rollback = Some(crate::runtime::upgrade::progress::Rollback {
            instances: vec!["0".into()],
            error: UpgradeError::max_unhealthy(50, 20),
        });
        p.apply(&Step::Fault(UpgradeError::max_unhealthy(50, 20)), secs(60));
        let image = json!({"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"});
        let entry = history_entry(&p, "westeurope", Some(&image));
        let props = &entry["properties"];
        assert_eq!(
            props["runningStatus"]["endTime"],
            "2025-01-01T12:01:00.0000000+00:00"
        );
        assert_eq!(props["startedBy"], "Platform");
        assert_eq!(props["targetImageReference"], image);
        assert_eq!(
            props["rollbackInfo"],
            json!({"successfullyRolledbackInstanceCount": 1, "failedRolledbackInstanceCount": 0})
        );
        assert_eq!(
            props["error"]["code"],
            "MaxUnhealthyInstancePercentExceededInRollingUpgrade"
        );
        assert_eq!(entry["type"], ROLLING_UPGRADE_TYPE);
        let running = history_entry(&record(), "westeurope", None);
        assert!(
            running["properties"]["runningStatus"]
                .get("endTime")
                .is_none()
        );
    }

    #[test]
    fn history_lists_newest_first() {
        let old = record();
        let mut new = record();
        new.start_time = secs(100);
        let list = history(vec![(&old, None), (&new, None)], "westeurope");
        assert_eq!(
            list["value"][0]["properties"]["runningStatus"]["startTime"],
            "2025-01-01T12:01:40.0000000+00:00"
        );
        assert_eq!(list["value"].as_array().unwrap().len(), 2);
    }
}
