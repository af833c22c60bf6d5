//! The diagnostic categories each resource type offers, as Azure lists them today
//! (learn.microsoft.com/azure/azure-monitor/reference/supported-logs/ and supported-metrics/).

use super::ALL_METRICS;
use crate::model::error::ArmError;

/// A log category and the category groups it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogCategory {
    pub name: &'static str,
    pub groups: &'static [&'static str],
}

/// What a resource type offers diagnostic settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Categories {
    pub resource_type: &'static str,
    pub logs: &'static [LogCategory],
    pub metrics: &'static [&'static str],
}

const ALL_LOGS: &[&str] = &["allLogs"];

/// The catalogue, by resource type.
pub const CATALOGUE: &[Categories] = &[
    Categories {
        resource_type: "Microsoft.Network/loadBalancers",
        logs: &[LogCategory {
            name: "LoadBalancerHealthEvent",
            groups: ALL_LOGS,
        }],
        metrics: &[ALL_METRICS],
    },
    Categories {
        resource_type: "Microsoft.Network/publicIPAddresses",
        logs: &[
            LogCategory {
                name: "DDoSProtectionNotifications",
                groups: ALL_LOGS,
            },
            LogCategory {
                name: "DDoSMitigationFlowLogs",
                groups: ALL_LOGS,
            },
            LogCategory {
                name: "DDoSMitigationReports",
                groups: ALL_LOGS,
            },
        ],
        metrics: &[ALL_METRICS],
    },
    Categories {
        resource_type: "Microsoft.Network/virtualNetworks",
        logs: &[LogCategory {
            name: "VMProtectionAlerts",
            groups: ALL_LOGS,
        }],
        metrics: &[ALL_METRICS],
    },
    Categories {
        resource_type: "Microsoft.Network/networkInterfaces",
        logs: &[],
        metrics: &[ALL_METRICS],
    },
    Categories {
        resource_type: "Microsoft.Compute/virtualMachineScaleSets",
        logs: &[],
        metrics: &[ALL_METRICS],
    },
    Categories {
        resource_type: "Microsoft.Compute/virtualMachines",
        logs: &[],
        metrics: &[ALL_METRICS],
    },
    Categories {
        resource_type: "Microsoft.Insights/autoscalesettings",
        logs: &[
            LogCategory {
                name: "AutoscaleEvaluations",
                groups: ALL_LOGS,
            },
            LogCategory {
                name: "AutoscaleScaleActions",
                groups: ALL_LOGS,
            },
        ],
        metrics: &[ALL_METRICS],
    },
    Categories {
        resource_type: "Microsoft.OperationalInsights/workspaces",
        logs: &[
            LogCategory {
                name: "Audit",
                groups: &["audit", "allLogs"],
            },
            LogCategory {
                name: "SummaryLogs",
                groups: ALL_LOGS,
            },
        ],
        metrics: &[ALL_METRICS],
    },
];

/// The categories of a resource type (matched case-insensitively).
pub fn categories_for(resource_type: &str) -> Option<&'static Categories> {
    CATALOGUE
        .iter()
        .find(|c| c.resource_type.eq_ignore_ascii_case(resource_type))
}

/// The error for a type without diagnostic settings (armlet's wording).
pub fn unsupported_type(resource_type: &str) -> ArmError {
    ArmError::bad_request(
        "ResourceTypeNotSupported",
        format!("The resource type '{resource_type}' does not support diagnostic settings."),
    )
}

impl Categories {
    /// The category groups any log category belongs to, in first-seen order.
    pub fn groups(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for g in self.logs.iter().flat_map(|l| l.groups.iter()) {
            if !out.contains(g) {
                out.push(g);
            }
        }
        out
    }

    /// `{"name", "categoryType", "categoryGroups"}` of every category, logs first, as
    /// `diagnosticSettingsCategories` lists them.
    pub fn listing(&self) -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
        let logs = self
            .logs
            .iter()
            .map(|l| (l.name, "Logs", l.groups.to_vec()));
        let metrics = self.metrics.iter().map(|m| (*m, "Metrics", Vec::new()));
        logs.chain(metrics).collect()
    }
}
