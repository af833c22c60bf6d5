//! The AutomaticRepairs orchestration service: its state (NotRunning / Running /
//! Suspended), the `orchestrationServices` summary of the scale-set instance view, and
//! `setOrchestrationServiceState` (Suspend / Resume).
//!
//! Azure's rules (docs "Automatic instance repairs", "Viewing and updating the service
//! state"): a scale set opted into automatic repairs reports Running, Suspended once
//! suspended; "if automaticRepairsPolicy is defined on a scale set but the automatic repairs
//! feature isn't enabled", NotRunning; without a policy the service is not listed.

use serde_json::{Value, json};

use super::policy::{AutomaticRepairsPolicy, invalid};
use crate::model::error::{ArmError, ArmResult};

/// `serviceState` of the AutomaticRepairs orchestration service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceState {
    NotRunning,
    Running,
    Suspended,
}

impl ServiceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::NotRunning => "NotRunning",
            ServiceState::Running => "Running",
            ServiceState::Suspended => "Suspended",
        }
    }
}

/// The AutomaticRepairs service state: none when the scale set has no
/// `automaticRepairsPolicy`, NotRunning when it is not enabled, else Running unless suspended.
pub fn service_state(props: &Value, suspended: bool) -> ArmResult<Option<ServiceState>> {
    if props
        .get("automaticRepairsPolicy")
        .is_none_or(Value::is_null)
    {
        return Ok(None);
    }
    let policy = AutomaticRepairsPolicy::from_properties(props)?;
    Ok(Some(match (policy.enabled, suspended) {
        (false, _) => ServiceState::NotRunning,
        (true, true) => ServiceState::Suspended,
        (true, false) => ServiceState::Running,
    }))
}

/// `orchestrationServices` of the scale-set instance view (empty without a policy).
pub fn orchestration_services(state: Option<ServiceState>) -> Value {
    match state {
        Some(s) => json!([{"serviceName": "AutomaticRepairs", "serviceState": s.as_str()}]),
        None => json!([]),
    }
}

/// `POST .../setOrchestrationServiceState` (`OrchestrationServiceStateInput`): whether the
/// service is suspended afterwards. Only a scale set opted into automatic repairs has the
/// service to suspend or resume.
pub fn set_service_state(props: &Value, input: &Value) -> ArmResult<bool> {
    match input["serviceName"].as_str() {
        Some(s) if s.eq_ignore_ascii_case("AutomaticRepairs") => {}
        _ => {
            return Err(invalid(
                "serviceName",
                "Allowed values are 'AutomaticRepairs'.",
            ));
        }
    }
    let suspend = match input["action"].as_str() {
        Some(a) if a.eq_ignore_ascii_case("Suspend") => true,
        Some(a) if a.eq_ignore_ascii_case("Resume") => false,
        _ => {
            return Err(invalid(
                "action",
                "Allowed values are 'Resume' and 'Suspend'.",
            ));
        }
    };
    if service_state(props, false)? != Some(ServiceState::Running) {
        return Err(ArmError::conflict(
            "OperationNotAllowed",
            "The AutomaticRepairs orchestration service can only be suspended or resumed when \
             automaticRepairsPolicy is enabled on the Virtual Machine Scale Set.",
        ));
    }
    Ok(suspend)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orchestration_services_report_the_service_state() {
        let on = json!({"automaticRepairsPolicy": {"enabled": true, "gracePeriod": "PT30M"}});
        assert_eq!(
            service_state(&on, false).unwrap(),
            Some(ServiceState::Running)
        );
        assert_eq!(
            orchestration_services(service_state(&on, true).unwrap()),
            json!([{"serviceName": "AutomaticRepairs", "serviceState": "Suspended"}])
        );
        let off = json!({"automaticRepairsPolicy": {"enabled": false}});
        assert_eq!(
            service_state(&off, true).unwrap(),
            Some(ServiceState::NotRunning)
        );
        assert_eq!(
            orchestration_services(service_state(&json!({}), false).unwrap()),
            json!([])
        );
    }

    #[test]
    fn suspend_and_resume_need_an_enabled_policy_and_valid_input() {
        let on = json!({"automaticRepairsPolicy": {"enabled": true}});
        let input = |name: &str, action: &str| json!({"serviceName": name, "action": action});
        assert!(set_service_state(&on, &input("AutomaticRepairs", "Suspend")).unwrap());
        assert!(!set_service_state(&on, &input("automaticrepairs", "resume")).unwrap());
        assert_eq!(
            set_service_state(&on, &input("Other", "Suspend"))
                .unwrap_err()
                .code,
            "InvalidParameter"
        );
        assert_eq!(
            set_service_state(&on, &input("AutomaticRepairs", "Stop"))
                .unwrap_err()
                .target
                .as_deref(),
            Some("action")
        );
        let e = set_service_state(&json!({}), &input("AutomaticRepairs", "Suspend")).unwrap_err();
        assert_eq!(e.status.as_u16(), 409);
    }
}
