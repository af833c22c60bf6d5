//! The `AzureMetrics` table: what a diagnostic setting with the `AllMetrics` category sends
//! to a Log Analytics workspace, one row per resource, metric and minute.
//!
//! Columns and conventions follow Azure's table reference
//! (learn.microsoft.com/azure/azure-monitor/reference/tables/azuremetrics): `ResourceId`,
//! `Resource`, `ResourceGroup` and `ResourceProvider` are upper case as Azure writes them,
//! `_ResourceId` is the lower-case id, `TimeGrain` is `PT1M`, `TenantId` is the workspace's
//! customer id and `Count` is a real. The legacy table has no dimension columns: Azure
//! aggregates a metric's dimension values before exporting it, so one row covers them all.

use chrono::{DateTime, Utc};

use super::value::{ColumnType, Table, Value};

pub const TABLE: &str = "AzureMetrics";

/// One exported minute of one metric of one resource (what the store keeps).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRecord {
    /// The workspace's lower-case ARM id.
    pub workspace_key: String,
    /// The exporting resource's lower-case ARM id.
    pub resource_key: String,
    /// Azure's metric name (`MetricName`).
    pub metric: String,
    /// The start of the minute (`TimeGenerated`).
    pub minute: DateTime<Utc>,
    pub total: f64,
    pub count: f64,
    pub minimum: f64,
    pub maximum: f64,
    pub average: f64,
    /// `UnitName`, e.g. `Bytes`.
    pub unit: String,
}

/// The columns of `AzureMetrics`, in the order a plain `AzureMetrics` query returns them.
pub const COLUMNS: [(&str, ColumnType); 19] = [
    ("TenantId", ColumnType::String),
    ("SourceSystem", ColumnType::String),
    ("TimeGenerated", ColumnType::DateTime),
    ("ResourceId", ColumnType::String),
    ("OperationName", ColumnType::String),
    ("MetricName", ColumnType::String),
    ("Total", ColumnType::Real),
    ("Count", ColumnType::Real),
    ("Maximum", ColumnType::Real),
    ("Minimum", ColumnType::Real),
    ("Average", ColumnType::Real),
    ("TimeGrain", ColumnType::String),
    ("UnitName", ColumnType::String),
    ("Type", ColumnType::String),
    ("Resource", ColumnType::String),
    ("ResourceGroup", ColumnType::String),
    ("ResourceProvider", ColumnType::String),
    ("SubscriptionId", ColumnType::String),
    ("_ResourceId", ColumnType::String),
];

/// The parts of a resource id the table spells out: subscription, group, provider, name.
pub(super) fn id_parts(key: &str) -> (String, String, String, String) {
    let parts: Vec<&str> = key.split('/').collect();
    let after = |kw: &str| {
        parts
            .iter()
            .position(|p| p.eq_ignore_ascii_case(kw))
            .and_then(|i| parts.get(i + 1))
            .map(|s| s.to_string())
            .unwrap_or_default()
    };
    let name = parts.last().map(|s| s.to_string()).unwrap_or_default();
    (
        after("subscriptions").to_ascii_lowercase(),
        after("resourcegroups").to_ascii_uppercase(),
        after("providers").to_ascii_uppercase(),
        name.to_ascii_uppercase(),
    )
}

impl MetricRecord {
    /// The row in [`COLUMNS`] order; `customer_id` is the workspace's `TenantId`.
    pub fn row(&self, customer_id: &str) -> Vec<Value> {
        let (subscription, group, provider, name) = id_parts(&self.resource_key);
        let s = |v: &str| Value::String(v.to_string());
        vec![
            s(customer_id),
            s("Azure"),
            Value::DateTime(self.minute),
            s(&self.resource_key.to_ascii_uppercase()),
            s("Metric"),
            s(&self.metric),
            Value::Real(self.total),
            Value::Real(self.count),
            Value::Real(self.maximum),
            Value::Real(self.minimum),
            Value::Real(self.average),
            s("PT1M"),
            s(&self.unit),
            s(TABLE),
            s(&name),
            s(&group),
            s(&provider),
            s(&subscription),
            s(&self.resource_key.to_ascii_lowercase()),
        ]
    }
}

/// The `AzureMetrics` table of one workspace.
pub fn table(records: &[MetricRecord], customer_id: &str) -> Table {
    Table {
        columns: COLUMNS.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
        rows: records.iter().map(|r| r.row(customer_id)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn rows_spell_the_resource_as_azure_does() {
        let r = MetricRecord {
            workspace_key: "w".into(),
            resource_key: "/subscriptions/abc/resourcegroups/rg/providers/microsoft.network/loadbalancers/mylb".into(),
            metric: "ByteCount".into(),
            minute: Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap(),
            total: 10.0,
            count: 2.0,
            minimum: 4.0,
            maximum: 6.0,
            average: 5.0,
            unit: "Bytes".into(),
        };
        let t = table(&[r], "cust");
        let row = &t.rows[0];
        let col = |n: &str| &row[t.column(n).unwrap()];
        assert_eq!(col("Resource"), &Value::String("MYLB".into()));
        assert_eq!(
            col("ResourceProvider"),
            &Value::String("MICROSOFT.NETWORK".into())
        );
        assert_eq!(col("SubscriptionId"), &Value::String("abc".into()));
        assert_eq!(col("TenantId"), &Value::String("cust".into()));
        assert!(
            matches!(col("ResourceId"), Value::String(s) if s.starts_with("/SUBSCRIPTIONS/ABC/"))
        );
        assert_eq!(row.len(), COLUMNS.len());
    }
}
