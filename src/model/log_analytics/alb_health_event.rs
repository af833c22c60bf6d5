//! The `ALBHealthEvent` table: the load balancer health events a diagnostic setting with the
//! `LoadBalancerHealthEvent` log category sends to a workspace (resource-specific table; the
//! category has no `AzureDiagnostics` form), one row per event.
//!
//! Columns are those of Azure's table reference
//! (learn.microsoft.com/azure/azure-monitor/reference/tables/albhealthevent) less the hidden
//! billing columns (`_BilledSize`, `_IsBillable`). `LoadBalancerResourceId` is upper case as
//! Azure writes ids in resource logs, `_ResourceId` lower case, `TenantId` the workspace's
//! customer id. Azure documents no value for `operationName`; armlet writes the category name.

use super::azure_metrics::id_parts;
use super::value::{ColumnType, Table, Value};
use crate::model::network::health_events::HealthEvent;

pub const TABLE: &str = "ALBHealthEvent";
/// The diagnostic-settings log category that fills the table.
pub const CATEGORY: &str = "LoadBalancerHealthEvent";

/// The columns, in the order a plain `ALBHealthEvent` query returns them.
pub const COLUMNS: [(&str, ColumnType); 12] = [
    ("TenantId", ColumnType::String),
    ("TimeGenerated", ColumnType::DateTime),
    ("LoadBalancerResourceId", ColumnType::String),
    ("FrontendIP", ColumnType::String),
    ("HealthEventType", ColumnType::String),
    ("Severity", ColumnType::String),
    ("Description", ColumnType::String),
    ("operationName", ColumnType::String),
    ("SourceSystem", ColumnType::String),
    ("Type", ColumnType::String),
    ("_ResourceId", ColumnType::String),
    ("_SubscriptionId", ColumnType::String),
];

/// The row of `event` in [`COLUMNS`] order; `customer_id` is the workspace's `TenantId`.
pub fn row(event: &HealthEvent, customer_id: &str) -> Vec<Value> {
    let s = |v: &str| Value::String(v.to_string());
    let (subscription, ..) = id_parts(&event.resource_key);
    vec![
        s(customer_id),
        Value::DateTime(event.time),
        s(&event.resource_key.to_ascii_uppercase()),
        s(&event.frontend_ip),
        s(event.event_type.as_str()),
        s(event.event_type.severity()),
        s(&event.description),
        s(CATEGORY),
        s("Azure"),
        s(TABLE),
        s(&event.resource_key.to_ascii_lowercase()),
        s(&subscription),
    ]
}

/// The table of `events`, each with its workspace's customer id.
pub fn table(events: &[(HealthEvent, String)]) -> Table {
    Table {
        columns: COLUMNS.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
        rows: events.iter().map(|(e, c)| row(e, c)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::model::network::health_events::HealthEventType;

    #[test]
    fn rows_carry_the_event_as_azure_spells_it() {
        let e = HealthEvent {
            resource_key:
                "/subscriptions/ABC/resourcegroups/rg/providers/microsoft.network/loadbalancers/lb"
                    .into(),
            time: Utc.with_ymd_and_hms(2025, 3, 4, 10, 0, 7).unwrap(),
            event_type: HealthEventType::NoHealthyBackends,
            frontend_ip: "20.0.0.1".into(),
            description: "d".into(),
        };
        let t = table(&[(e, "cust".into())]);
        let col = |n: &str| t.rows[0][t.column(n).unwrap()].clone();
        let text = |v: &str| Value::String(v.into());
        assert_eq!(col("HealthEventType"), text("NoHealthyBackends"));
        assert_eq!(col("Severity"), text("Critical"));
        assert_eq!(col("TenantId"), text("cust"));
        assert_eq!(col("_SubscriptionId"), text("abc"));
        assert_eq!(col("Type"), text(TABLE));
        assert!(
            matches!(col("LoadBalancerResourceId"), Value::String(s) if s.ends_with("LOADBALANCERS/LB"))
        );
        assert_eq!(t.rows[0].len(), COLUMNS.len());
    }
}
