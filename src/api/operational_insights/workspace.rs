//! `Microsoft.OperationalInsights/workspaces`: Log Analytics workspaces, what
//! `az monitor log-analytics workspace create|show|list|delete` manages (api-version
//! 2025-02-01 from az 2.91).
//!
//! A workspace gets a `customerId` (the GUID `az monitor log-analytics query -w` takes) when it
//! is created and keeps it; `sku.name` defaults to `PerGB2018` and `retentionInDays` to 30,
//! as az sends them. Retention follows Azure's limits for the SKU (`Free`: 7 days; otherwise
//! 30 to 730, learn.microsoft.com/azure/azure-monitor/logs/data-retention-configure).
//! Deleting a workspace deletes its data at once: Azure keeps a deleted workspace
//! recoverable for 14 days (soft delete), armlet does not.

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use crate::arm::resource_type::{ResourceType, WriteCx};
use crate::arm::{ArmError, ArmResult};
use crate::model::log_analytics::WORKSPACE_TYPE;
use crate::store::log_analytics::delete_workspace_data;

pub struct Workspaces;

/// The SKUs az offers for `--sku`.
const SKUS: &[&str] = &[
    "PerGB2018",
    "CapacityReservation",
    "Free",
    "LACluster",
    "PerNode",
    "Premium",
    "Standalone",
    "Standard",
];

/// The capacity reservation levels Azure accepts (GB/day).
const CAPACITY_LEVELS: &[i64] = &[
    100, 200, 300, 400, 500, 1000, 2000, 5000, 10000, 25000, 50000,
];

fn invalid(message: String) -> ArmError {
    ArmError::bad_request("InvalidParameter", message)
}

/// Azure's rule for workspace names (az's own check: `^[A-Za-z0-9][A-Za-z0-9-]+[A-Za-z0-9]$`,
/// 4 to 63 characters).
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    (4..=63).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

#[async_trait]
impl ResourceType for Workspaces {
    fn type_name(&self) -> &'static str {
        WORKSPACE_TYPE
    }

    fn api_versions(&self) -> &'static [&'static str] {
        &[
            "2025-02-01",
            "2023-09-01",
            "2022-10-01",
            "2021-12-01-preview",
            "2021-06-01",
            "2020-08-01",
        ]
    }

    fn validate_name(&self, name: &str) -> ArmResult<()> {
        if valid_name(name) {
            Ok(())
        } else {
            Err(ArmError::bad_request(
                "InvalidWorkspaceName",
                format!(
                    "The workspace name '{name}' is invalid: it must be 4 to 63 characters of letters, digits and '-', beginning and ending with a letter or digit."
                ),
            ))
        }
    }

    async fn prepare(
        &self,
        _cx: &mut WriteCx<'_>,
        existing: Option<&Value>,
        body: Map<String, Value>,
    ) -> ArmResult<Value> {
        let mut doc = Value::Object(body);
        let now = crate::model::time::now();
        let old = existing.map(|e| &e["properties"]);
        let props = match doc.get("properties") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(p)) => p.clone(),
            Some(_) => return Err(invalid("'properties' must be an object.".into())),
        };
        let sku = props.get("sku").cloned().unwrap_or_else(|| {
            old.map(|o| o["sku"].clone())
                .unwrap_or(json!({"name": "PerGB2018"}))
        });
        let sku_name = sku["name"].as_str().unwrap_or("PerGB2018");
        let Some(sku_name) = SKUS.iter().find(|s| s.eq_ignore_ascii_case(sku_name)) else {
            return Err(invalid(format!(
                "'{sku_name}' is not a workspace SKU: use one of {}.",
                SKUS.join(", ")
            )));
        };
        let mut sku_doc = json!({"name": sku_name, "lastSkuUpdate": now});
        if *sku_name == "CapacityReservation" {
            let level = sku["capacityReservationLevel"].as_i64();
            match level {
                Some(l) if CAPACITY_LEVELS.contains(&l) => {
                    sku_doc["capacityReservationLevel"] = json!(l)
                }
                _ => {
                    return Err(invalid(format!(
                        "The CapacityReservation SKU needs a capacityReservationLevel of {:?}.",
                        CAPACITY_LEVELS
                    )));
                }
            }
        }
        if let Some(o) = old
            && o["sku"]["name"] == json!(sku_name)
        {
            sku_doc["lastSkuUpdate"] = o["sku"]["lastSkuUpdate"].clone();
        }
        let default_retention = if *sku_name == "Free" { 7 } else { 30 };
        let retention = match props.get("retentionInDays") {
            None | Some(Value::Null) => old
                .and_then(|o| o["retentionInDays"].as_i64())
                .unwrap_or(default_retention),
            Some(v) => v.as_i64().ok_or_else(|| {
                invalid("'retentionInDays' must be a whole number of days.".into())
            })?,
        };
        let allowed = if *sku_name == "Free" { 7..=7 } else { 30..=730 };
        if !allowed.contains(&retention) {
            return Err(invalid(format!(
                "retentionInDays {retention} is out of range for the {sku_name} SKU: use {} to {} days.",
                allowed.start(),
                allowed.end()
            )));
        }
        let quota = match props.get("workspaceCapping").map(|c| &c["dailyQuotaGb"]) {
            None | Some(Value::Null) => old
                .and_then(|o| o["workspaceCapping"]["dailyQuotaGb"].as_f64())
                .unwrap_or(-1.0),
            Some(v) => v
                .as_f64()
                .filter(|q| *q == -1.0 || *q >= 0.023)
                .ok_or_else(|| {
                    invalid("dailyQuotaGb must be -1 (unlimited) or at least 0.023.".into())
                })?,
        };
        let access = |name: &str| -> ArmResult<Value> {
            match props.get(name).and_then(Value::as_str) {
                None => Ok(old
                    .map(|o| o[name].clone())
                    .filter(|v| !v.is_null())
                    .unwrap_or(json!("Enabled"))),
                Some(v) if v == "Enabled" || v == "Disabled" => Ok(json!(v)),
                Some(v) => Err(invalid(format!(
                    "'{v}' is not valid for {name}: use Enabled or Disabled."
                ))),
            }
        };
        let customer_id = old
            .and_then(|o| o["customerId"].as_str().map(str::to_string))
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let created = old
            .and_then(|o| o["createdDate"].as_str().map(str::to_string))
            .unwrap_or_else(|| now.clone());
        doc["properties"] = json!({
            "provisioningState": "Succeeded",
            "customerId": customer_id,
            "sku": sku_doc,
            "retentionInDays": retention,
            "features": {"legacy": 0, "searchVersion": 1, "enableLogAccessUsingOnlyResourcePermissions": true},
            "workspaceCapping": {"dailyQuotaGb": quota, "quotaNextResetTime": now, "dataIngestionStatus": "RespectQuota"},
            "publicNetworkAccessForIngestion": access("publicNetworkAccessForIngestion")?,
            "publicNetworkAccessForQuery": access("publicNetworkAccessForQuery")?,
            "createdDate": created,
            "modifiedDate": now,
        });
        Ok(doc)
    }

    async fn before_delete(&self, cx: &mut WriteCx<'_>, _doc: &Value) -> ArmResult<()> {
        let key = cx.id.key();
        delete_workspace_data(cx.conn, &key).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_names_follow_azs_rule() {
        for ok in ["myWorkspace", "ws-01", "abcd"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["abc", "-abcd", "abcd-", "ab_cd", &"a".repeat(64)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
