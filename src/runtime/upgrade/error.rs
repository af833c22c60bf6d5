//! The errors a rolling upgrade reports, with Azure's codes and wording.

use serde::{Deserialize, Serialize};

use crate::model::error::ArmError;

/// The `error` of a rolling upgrade (Azure's `ApiError`: code, message, target).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeError {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl UpgradeError {
    /// More than maxUnhealthyInstancePercent of all instances unhealthy before a batch.
    /// Code and wording as Azure reports them (seen in opencb/opencga#987).
    pub fn max_unhealthy(percent: u32, threshold: u32) -> Self {
        UpgradeError {
            code: "MaxUnhealthyInstancePercentExceededInRollingUpgrade".into(),
            message: format!(
                "Rolling Upgrade failed after exceeding the MaxUnhealthyInstancePercent value defined in the \
                 RollingUpgradePolicy. {percent}% of instances are in an unhealthy state - more than the threshold \
                 of {threshold}%. To apply upgrades, consider increasing the MaxUnhealthyInstancePercent value."
            ),
            target: None,
        }
    }

    /// More than maxUnhealthyUpgradedInstancePercent of upgraded instances unhealthy after a
    /// batch (wording as in microsoft/AzureTRE#1591 and Azure/azure-powershell#11896).
    pub fn max_unhealthy_upgraded(percent: u32, threshold: u32, first_failed: &str) -> Self {
        UpgradeError {
            code: "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade".into(),
            message: format!(
                "Rolling Upgrade failed after exceeding the MaxUnhealthyUpgradedInstancePercent value defined in \
                 the RollingUpgradePolicy. {percent}% of instances are in an unhealthy state after being upgraded \
                 - more than the threshold of {threshold}%. The most impactful error is: Instance found to be \
                 unhealthy or unreachable.. First failed instance ID is: {first_failed}."
            ),
            target: None,
        }
    }

    /// The upgrade could not continue (the model it rolled out was replaced while armlet was
    /// down); Compute reports such failures as InternalExecutionError.
    pub fn interrupted() -> Self {
        UpgradeError {
            code: "InternalExecutionError".into(),
            message: "An internal execution error occurred. Please retry later.".into(),
            target: None,
        }
    }
}

/// Cancel without a running upgrade: 409 with Azure's message (seen in azure-powershell's
/// ScaleSet tests and terraform-provider-azurerm#15634; the code is not documented).
pub fn no_upgrade_to_cancel() -> ArmError {
    ArmError::conflict(
        "OperationNotAllowed",
        "There is no ongoing Rolling Upgrade to cancel.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_errors_name_the_percentages_and_the_first_failed_instance() {
        let e = UpgradeError::max_unhealthy(33, 20);
        assert!(e.message.contains(
            "33% of instances are in an unhealthy state - more than the threshold of 20%."
        ));
        let e = UpgradeError::max_unhealthy_upgraded(100, 10, "4");
        assert_eq!(
            e.code,
            "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade"
        );
        assert!(
            e.message
                .contains("100% of instances are in an unhealthy state after being upgraded")
        );
        assert!(e.message.ends_with("First failed instance ID is: 4."));
        assert_eq!(
            serde_json::to_value(&e).unwrap().as_object().unwrap().len(),
            2,
            "no target"
        );
    }
}
