//! The rolling-upgrade and automatic-repairs policies, typed and read from a scale set's
//! `properties` with Azure's defaults (Compute 2024-11-01 `RollingUpgradePolicy` and
//! `AutomaticRepairsPolicy`). Out-of-range values are ARM errors, never panics.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::time::iso_duration;
use crate::model::duration;
use crate::model::error::{ArmError, ArmResult};

/// How long an upgraded batch may take to report healthy before it counts as failed:
/// "the upgrade waits up to 5 minutes for the instance to become healthy" (Azure docs,
/// virtual-machine-scale-sets-automatic-upgrade, "Upgrading virtual machines in a scale set").
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// `upgradePolicy.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeMode {
    Manual,
    Automatic,
    Rolling,
}

impl UpgradeMode {
    /// The mode in `properties` (case-insensitive), `Manual` when absent as Azure defaults.
    pub fn from_properties(props: &Value) -> ArmResult<Self> {
        match props["upgradePolicy"]["mode"].as_str() {
            None => Ok(UpgradeMode::Manual),
            Some(m) if m.eq_ignore_ascii_case("manual") => Ok(UpgradeMode::Manual),
            Some(m) if m.eq_ignore_ascii_case("automatic") => Ok(UpgradeMode::Automatic),
            Some(m) if m.eq_ignore_ascii_case("rolling") => Ok(UpgradeMode::Rolling),
            Some(_) => Err(invalid(
                "upgradePolicy.mode",
                "Allowed values are 'Manual', 'Automatic' and 'Rolling'.",
            )),
        }
    }
}

/// `upgradePolicy.rollingUpgradePolicy`; serialises as Azure's JSON (the `policy` of a
/// rolling-upgrade status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpgradePolicy {
    /// 5–100, default 20: the most instances of the total upgraded in one batch.
    pub max_batch_instance_percent: u32,
    /// 5–100, default 20: checked before every batch, over all instances.
    pub max_unhealthy_instance_percent: u32,
    /// 0–100, default 20: checked after every batch, over upgraded instances.
    pub max_unhealthy_upgraded_instance_percent: u32,
    /// Default PT0S.
    #[serde(with = "iso_duration")]
    pub pause_time_between_batches: Duration,
    /// Only reported when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_cross_zone_upgrade: Option<bool>,
    pub prioritize_unhealthy_instances: bool,
    pub rollback_failed_instances_on_policy_breach: bool,
    pub max_surge: bool,
}

impl Default for RollingUpgradePolicy {
    /// Azure's defaults: 20 / 20 / 20 %, PT0S, every flag off.
    fn default() -> Self {
        RollingUpgradePolicy {
            max_batch_instance_percent: 20,
            max_unhealthy_instance_percent: 20,
            max_unhealthy_upgraded_instance_percent: 20,
            pause_time_between_batches: Duration::ZERO,
            enable_cross_zone_upgrade: None,
            prioritize_unhealthy_instances: false,
            rollback_failed_instances_on_policy_breach: false,
            max_surge: false,
        }
    }
}

const ROLLING: &str = "upgradePolicy.rollingUpgradePolicy";

impl RollingUpgradePolicy {
    /// Reads `upgradePolicy.rollingUpgradePolicy` from a scale set's `properties`.
    pub fn from_properties(props: &Value) -> ArmResult<Self> {
        let p = &props["upgradePolicy"]["rollingUpgradePolicy"];
        let d = RollingUpgradePolicy::default();
        let path = |k: &str| format!("{ROLLING}.{k}");
        let pause = match p["pauseTimeBetweenBatches"].as_str() {
            None => d.pause_time_between_batches,
            Some(s) => {
                let key = path("pauseTimeBetweenBatches");
                let pause = duration::parse(s).map_err(|e| invalid(&key, &e))?;
                if pause > Duration::from_secs(3600) {
                    return Err(invalid(&key, "It must be at most PT1H."));
                }
                pause
            }
        };
        Ok(RollingUpgradePolicy {
            max_batch_instance_percent: percent(
                &p["maxBatchInstancePercent"],
                &path("maxBatchInstancePercent"),
                5,
            )?
            .unwrap_or(d.max_batch_instance_percent),
            max_unhealthy_instance_percent: percent(
                &p["maxUnhealthyInstancePercent"],
                &path("maxUnhealthyInstancePercent"),
                5,
            )?
            .unwrap_or(d.max_unhealthy_instance_percent),
            max_unhealthy_upgraded_instance_percent: percent(
                &p["maxUnhealthyUpgradedInstancePercent"],
                &path("maxUnhealthyUpgradedInstancePercent"),
                0,
            )?
            .unwrap_or(d.max_unhealthy_upgraded_instance_percent),
            pause_time_between_batches: pause,
            enable_cross_zone_upgrade: flag(
                &p["enableCrossZoneUpgrade"],
                &path("enableCrossZoneUpgrade"),
            )?,
            prioritize_unhealthy_instances: flag(
                &p["prioritizeUnhealthyInstances"],
                &path("prioritizeUnhealthyInstances"),
            )?
            .unwrap_or(false),
            rollback_failed_instances_on_policy_breach: flag(
                &p["rollbackFailedInstancesOnPolicyBreach"],
                &path("rollbackFailedInstancesOnPolicyBreach"),
            )?
            .unwrap_or(false),
            max_surge: flag(&p["maxSurge"], &path("maxSurge"))?.unwrap_or(false),
        })
    }

    /// Azure's JSON of the policy.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a policy serialises")
    }
}

/// `automaticRepairsPolicy.repairAction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RepairAction {
    /// Delete the instance and create a new one on the latest model (the default).
    Replace,
    Restart,
    Reimage,
}

/// `automaticRepairsPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutomaticRepairsPolicy {
    pub enabled: bool,
    /// PT10M–PT90M; the 2024-11-01 spec gives PT10M as the default (the conceptual docs
    /// say 30 minutes; the API spec is what the service validates against).
    pub grace_period: Duration,
    pub repair_action: RepairAction,
}

/// Automatic repairs' grace period bounds (spec: "minimum ... PT10M ... maximum PT90M").
pub const MIN_GRACE: Duration = Duration::from_secs(10 * 60);
pub const MAX_GRACE: Duration = Duration::from_secs(90 * 60);

impl Default for AutomaticRepairsPolicy {
    fn default() -> Self {
        AutomaticRepairsPolicy {
            enabled: false,
            grace_period: MIN_GRACE,
            repair_action: RepairAction::Replace,
        }
    }
}

impl AutomaticRepairsPolicy {
    /// Reads `automaticRepairsPolicy` from a scale set's `properties`.
    pub fn from_properties(props: &Value) -> ArmResult<Self> {
        let p = &props["automaticRepairsPolicy"];
        let d = AutomaticRepairsPolicy::default();
        let grace = match p["gracePeriod"].as_str() {
            None => d.grace_period,
            Some(s) => {
                let key = "automaticRepairsPolicy.gracePeriod";
                let g = duration::parse(s).map_err(|e| invalid(key, &e))?;
                if !(MIN_GRACE..=MAX_GRACE).contains(&g) {
                    return Err(invalid(key, "It must be between PT10M and PT90M."));
                }
                g
            }
        };
        let action = match p["repairAction"].as_str() {
            None => d.repair_action,
            Some(a) if a.eq_ignore_ascii_case("replace") => RepairAction::Replace,
            Some(a) if a.eq_ignore_ascii_case("restart") => RepairAction::Restart,
            Some(a) if a.eq_ignore_ascii_case("reimage") => RepairAction::Reimage,
            Some(_) => {
                return Err(invalid(
                    "automaticRepairsPolicy.repairAction",
                    "Allowed values are 'Replace', 'Restart' and 'Reimage'.",
                ));
            }
        };
        Ok(AutomaticRepairsPolicy {
            enabled: flag(&p["enabled"], "automaticRepairsPolicy.enabled")?.unwrap_or(false),
            grace_period: grace,
            repair_action: action,
        })
    }
}

/// Azure's InvalidParameter, targeted at the property's own name.
pub(crate) fn invalid(path: &str, why: &str) -> ArmError {
    ArmError::bad_request(
        "InvalidParameter",
        format!("The value of parameter {path} is invalid. {why}")
            .trim_end()
            .to_string(),
    )
    .with_target(path.rsplit('.').next().unwrap_or(path).to_string())
}

fn percent(v: &Value, path: &str, min: u32) -> ArmResult<Option<u32>> {
    match v {
        Value::Null => Ok(None),
        v => match v.as_u64() {
            Some(n) if (min as u64..=100).contains(&n) => Ok(Some(n as u32)),
            _ => Err(invalid(
                path,
                &format!("It must be an integer between {min} and 100."),
            )),
        },
    }
}

/// A boolean; ARM also takes `"true"`/`"false"` (Azure's own docs send `"enabled": "true"`).
fn flag(v: &Value, path: &str) -> ArmResult<Option<bool>> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        _ => Err(invalid(path, "It must be a boolean.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rolling_policy_defaults_are_azures() {
        let p =
            RollingUpgradePolicy::from_properties(&json!({"upgradePolicy": {"mode": "Rolling"}}))
                .unwrap();
        assert_eq!(p, RollingUpgradePolicy::default());
        assert_eq!(
            p.to_json(),
            json!({"maxBatchInstancePercent": 20, "maxUnhealthyInstancePercent": 20,
                   "maxUnhealthyUpgradedInstancePercent": 20, "pauseTimeBetweenBatches": "PT0S",
                   "prioritizeUnhealthyInstances": false, "rollbackFailedInstancesOnPolicyBreach": false,
                   "maxSurge": false})
        );
    }

    #[test]
    fn rolling_policy_reads_every_field() {
        let props = json!({"upgradePolicy": {"rollingUpgradePolicy": {
            "maxBatchInstancePercent": 33, "maxUnhealthyInstancePercent": 50,
            "maxUnhealthyUpgradedInstancePercent": 0, "pauseTimeBetweenBatches": "PT2S",
            "enableCrossZoneUpgrade": true, "prioritizeUnhealthyInstances": "true",
            "rollbackFailedInstancesOnPolicyBreach": true, "maxSurge": true}}});
        let p = RollingUpgradePolicy::from_properties(&props).unwrap();
        assert_eq!(p.max_batch_instance_percent, 33);
        assert_eq!(p.max_unhealthy_instance_percent, 50);
        assert_eq!(p.max_unhealthy_upgraded_instance_percent, 0);
        assert_eq!(p.pause_time_between_batches, Duration::from_secs(2));
        assert_eq!(p.enable_cross_zone_upgrade, Some(true));
        assert!(
            p.prioritize_unhealthy_instances
                && p.rollback_failed_instances_on_policy_breach
                && p.max_surge
        );
        assert_eq!(p.to_json()["pauseTimeBetweenBatches"], "PT2S");
        assert_eq!(p.to_json()["enableCrossZoneUpgrade"], true);
        let back: RollingUpgradePolicy = serde_json::from_value(p.to_json()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn rolling_policy_rejects_out_of_range_values() {
        let bad = |k: &str, v: Value| {
            RollingUpgradePolicy::from_properties(
                &json!({"upgradePolicy": {"rollingUpgradePolicy": {k: v}}}),
            )
            .unwrap_err()
        };
        let e = bad("maxBatchInstancePercent", json!(4));
        assert_eq!(
            (e.code.as_str(), e.target.as_deref()),
            ("InvalidParameter", Some("maxBatchInstancePercent"))
        );
        assert!(e.message.contains("between 5 and 100"));
        bad("maxUnhealthyInstancePercent", json!(101));
        bad("maxUnhealthyUpgradedInstancePercent", json!(-1));
        bad("pauseTimeBetweenBatches", json!("PT2H"));
        bad("pauseTimeBetweenBatches", json!("two seconds"));
        bad("maxSurge", json!("maybe"));
        assert!(RollingUpgradePolicy::from_properties(
            &json!({"upgradePolicy": {"rollingUpgradePolicy": {"maxUnhealthyUpgradedInstancePercent": 0}}})
        )
        .is_ok());
    }

    #[test]
    fn upgrade_mode_defaults_to_manual_and_ignores_case() {
        assert_eq!(
            UpgradeMode::from_properties(&json!({})).unwrap(),
            UpgradeMode::Manual
        );
        assert_eq!(
            UpgradeMode::from_properties(&json!({"upgradePolicy": {"mode": "rolling"}})).unwrap(),
            UpgradeMode::Rolling
        );
        assert!(
            UpgradeMode::from_properties(&json!({"upgradePolicy": {"mode": "Sometimes"}})).is_err()
        );
    }

    #[test]
    fn repairs_policy_defaults_and_ranges() {
        let p = AutomaticRepairsPolicy::from_properties(
            &json!({"automaticRepairsPolicy": {"enabled": "true"}}),
        )
        .unwrap();
        assert_eq!(
            p,
            AutomaticRepairsPolicy {
                enabled: true,
                grace_period: MIN_GRACE,
                repair_action: RepairAction::Replace
            }
        );
        assert!(
            !AutomaticRepairsPolicy::from_properties(&json!({}))
                .unwrap()
                .enabled
        );
        let p = AutomaticRepairsPolicy::from_properties(
            &json!({"automaticRepairsPolicy": {"enabled": true, "gracePeriod": "PT30M", "repairAction": "reimage"}}),
        )
        .unwrap();
        assert_eq!(
            (p.grace_period, p.repair_action),
            (Duration::from_secs(1800), RepairAction::Reimage)
        );
        for bad in [
            json!({"gracePeriod": "PT5M"}),
            json!({"gracePeriod": "PT91M"}),
            json!({"repairAction": "Reboot"}),
            json!({"enabled": 3}),
        ] {
            let e =
                AutomaticRepairsPolicy::from_properties(&json!({"automaticRepairsPolicy": bad}))
                    .unwrap_err();
            assert_eq!(e.code, "InvalidParameter");
        }
    }
}
