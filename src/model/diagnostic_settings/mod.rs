//! Diagnostic settings (`{resource}/providers/Microsoft.Insights/diagnosticSettings/{name}`):
//! the categories each resource type offers, and the rules Azure applies to a setting's body.
//!
//! Categories are those Azure lists today (learn.microsoft.com/azure/azure-monitor/reference/
//! supported-logs/ and supported-metrics/): a load balancer has the log category
//! `LoadBalancerHealthEvent` (GA March 2025; the Basic-era `LoadBalancerAlertEvent` and
//! `LoadBalancerProbeHealthStatus` are no longer listed) and the metric category `AllMetrics`.
//!
//! Error codes and texts are Azure's where it has one on record: `Metric category 'X' is not
//! supported, supported categories are: 'AllMetrics'.` and `Category 'X' is not supported.`
//! (400 `BadRequest`; quoted in Azure/Enterprise-Scale#457, MicrosoftDocs/azure-docs#69798 and
//! hashicorp/terraform#20534), and
//! `LinkedInvalidPropertyId` for a destination that is not a resource id. Azure has no
//! published text for a setting without a destination (az checks that before sending), so
//! that message is armlet's, under Azure's `BadRequest` code.

use serde_json::{Map, Value, json};

pub mod categories;

pub use categories::{CATALOGUE, Categories, LogCategory, categories_for, unsupported_type};

use super::error::{ArmError, ArmResult};
use super::id::ResourceId;

/// The type as ARM names it in documents.
pub const TYPE: &str = "Microsoft.Insights/diagnosticSettings";
/// The categories' type.
pub const CATEGORY_TYPE: &str = "Microsoft.Insights/diagnosticSettingsCategories";
/// The only metric category of every type armlet serves.
pub const ALL_METRICS: &str = "AllMetrics";
/// "Each resource can have up to five diagnostic settings" (Azure Monitor docs, Diagnostic
/// settings in Azure Monitor).
pub const MAX_PER_RESOURCE: usize = 5;

/// The destinations a setting may name, with the resource type each must be.
const DESTINATIONS: &[(&str, Option<&str>)] = &[
    (
        "storageAccountId",
        Some("Microsoft.Storage/storageAccounts"),
    ),
    (
        "workspaceId",
        Some("Microsoft.OperationalInsights/workspaces"),
    ),
    ("eventHubAuthorizationRuleId", None),
    ("serviceBusRuleId", None),
    ("marketplacePartnerId", None),
];

fn bad(message: impl Into<String>) -> ArmError {
    ArmError::bad_request("BadRequest", message)
}

/// A destination id that is not a resource id: ARM's `LinkedInvalidPropertyId`, with the path.
fn invalid_id(id: &str, property: &str) -> ArmError {
    ArmError::bad_request(
        "LinkedInvalidPropertyId",
        format!(
            "Property id '{id}' at path 'properties.{property}' is invalid. Expect fully qualified resource Id that start with '/subscriptions/{{subscriptionId}}' or '/providers/{{resourceProviderNamespace}}/'."
        ),
    )
}

/// A validated setting: the normalised `properties` to store, and its workspace, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub properties: Value,
    pub workspace: Option<ResourceId>,
}

/// Validates the body of a PUT against the categories of the target's type and completes
/// `properties` the way Azure returns them (absent destinations as `null`, each category
/// with its `retentionPolicy`).
pub fn validate(body: &Map<String, Value>, categories: &Categories) -> ArmResult<Setting> {
    let Some(props) = body.get("properties").and_then(Value::as_object) else {
        return Err(bad("The request body must have a 'properties' object."));
    };
    let mut out = Map::new();
    let mut workspace = None;
    let mut destinations = 0;
    for (property, want_type) in DESTINATIONS {
        let value = match props.get(*property) {
            None | Some(Value::Null) => Value::Null,
            Some(Value::String(s)) if s.trim().is_empty() => Value::Null,
            Some(Value::String(s)) => {
                let id = ResourceId::parse(s).map_err(|_| invalid_id(s, property))?;
                if let Some(want) = want_type
                    && !id.type_name().eq_ignore_ascii_case(want)
                {
                    return Err(bad(format!(
                        "The resource id '{s}' at path 'properties.{property}' is not of type '{want}'."
                    )));
                }
                if *property == "workspaceId" {
                    workspace = Some(id);
                }
                destinations += 1;
                json!(s)
            }
            Some(_) => return Err(bad(format!("'properties.{property}' must be a string."))),
        };
        out.insert(property.to_string(), value);
    }
    if destinations == 0 {
        return Err(bad(
            "A diagnostic setting needs at least one destination: storageAccountId, workspaceId, eventHubAuthorizationRuleId or marketplacePartnerId.",
        ));
    }
    let event_hub_name = optional_string(props, "eventHubName")?;
    if event_hub_name.is_some() && out["eventHubAuthorizationRuleId"].is_null() {
        return Err(bad(
            "'properties.eventHubName' needs 'properties.eventHubAuthorizationRuleId'.",
        ));
    }
    out.insert("eventHubName".into(), json!(event_hub_name));
    let destination_type = optional_string(props, "logAnalyticsDestinationType")?;
    if let Some(t) = &destination_type
        && !["Dedicated", "AzureDiagnostics"].contains(&t.as_str())
    {
        return Err(bad(format!(
            "'{t}' is not a valid logAnalyticsDestinationType: use 'Dedicated' (resource-specific tables) or 'AzureDiagnostics'."
        )));
    }
    out.insert(
        "logAnalyticsDestinationType".into(),
        json!(destination_type),
    );
    out.insert("metrics".into(), Value::Array(metrics(props, categories)?));
    out.insert("logs".into(), Value::Array(logs(props, categories)?));
    Ok(Setting {
        properties: Value::Object(out),
        workspace,
    })
}

fn optional_string(props: &Map<String, Value>, name: &str) -> ArmResult<Option<String>> {
    match props.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!("'properties.{name}' must be a string."))),
    }
}

fn entries<'a>(
    props: &'a Map<String, Value>,
    name: &str,
) -> ArmResult<Vec<&'a Map<String, Value>>> {
    match props.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_object().ok_or_else(|| {
                    bad(format!(
                        "Each entry of 'properties.{name}' must be an object."
                    ))
                })
            })
            .collect(),
        Some(_) => Err(bad(format!("'properties.{name}' must be an array."))),
    }
}

/// `enabled` (required) and `retentionPolicy` (optional, `{enabled, days >= 0}`).
fn enabled_and_retention(entry: &Map<String, Value>, list: &str) -> ArmResult<(bool, Value)> {
    let enabled = entry
        .get("enabled")
        .and_then(Value::as_bool)
        .ok_or_else(|| {
            bad(format!(
                "Each entry of 'properties.{list}' needs 'enabled' (true or false)."
            ))
        })?;
    let retention = match entry.get("retentionPolicy") {
        None | Some(Value::Null) => json!({"enabled": false, "days": 0}),
        Some(Value::Object(p)) => {
            let on = p.get("enabled").and_then(Value::as_bool);
            let days = p.get("days").and_then(Value::as_i64);
            match (on, days) {
                (Some(on), Some(days)) if days >= 0 => json!({"enabled": on, "days": days}),
                _ => {
                    return Err(bad(
                        "A retentionPolicy needs 'enabled' (true or false) and 'days' (0 or more).",
                    ));
                }
            }
        }
        Some(_) => return Err(bad("'retentionPolicy' must be an object.")),
    };
    Ok((enabled, retention))
}

fn metrics(props: &Map<String, Value>, categories: &Categories) -> ArmResult<Vec<Value>> {
    let supported = categories.metrics.join(";");
    let mut out = Vec::new();
    for entry in entries(props, "metrics")? {
        let (enabled, retention) = enabled_and_retention(entry, "metrics")?;
        let category = match entry.get("category") {
            Some(Value::String(c)) => c.clone(),
            // Before categories existed a metric setting named only its grain; Azure reads
            // that as AllMetrics.
            None | Some(Value::Null) => ALL_METRICS.to_string(),
            Some(_) => return Err(bad("A metric 'category' must be a string.")),
        };
        let Some(canonical) = categories
            .metrics
            .iter()
            .find(|m| m.eq_ignore_ascii_case(&category))
        else {
            return Err(bad(format!(
                "Metric category '{category}' is not supported, supported categories are: '{supported}'."
            )));
        };
        let time_grain = match entry.get("timeGrain") {
            None | Some(Value::Null) => Value::Null,
            Some(Value::String(g)) if g.is_empty() => Value::Null,
            Some(Value::String(g)) if g.eq_ignore_ascii_case("PT1M") => json!("PT1M"),
            Some(other) => {
                return Err(bad(format!(
                    "Time grain {other} is not supported: diagnostic settings export metrics at PT1M."
                )));
            }
        };
        out.push(json!({"category": canonical, "enabled": enabled, "retentionPolicy": retention, "timeGrain": time_grain}));
    }
    Ok(out)
}

fn logs(props: &Map<String, Value>, categories: &Categories) -> ArmResult<Vec<Value>> {
    let mut out = Vec::new();
    for entry in entries(props, "logs")? {
        let (enabled, retention) = enabled_and_retention(entry, "logs")?;
        let category = entry.get("category").and_then(Value::as_str);
        let group = entry.get("categoryGroup").and_then(Value::as_str);
        let (category, group) = match (category, group) {
            (Some(c), None) => {
                let Some(known) = categories
                    .logs
                    .iter()
                    .find(|l| l.name.eq_ignore_ascii_case(c))
                else {
                    return Err(bad(format!("Category '{c}' is not supported.")));
                };
                (json!(known.name), Value::Null)
            }
            (None, Some(g)) => {
                let Some(known) = categories
                    .groups()
                    .into_iter()
                    .find(|k| k.eq_ignore_ascii_case(g))
                else {
                    return Err(bad(format!("Category group '{g}' is not supported.")));
                };
                (Value::Null, json!(known))
            }
            (Some(_), Some(_)) => {
                return Err(bad(
                    "A log setting names either 'category' or 'categoryGroup', not both.",
                ));
            }
            (None, None) => return Err(bad("A log setting needs 'category' or 'categoryGroup'.")),
        };
        out.push(json!({"category": category, "categoryGroup": group, "enabled": enabled, "retentionPolicy": retention}));
    }
    Ok(out)
}

/// Whether a stored setting sends `AllMetrics` (enabled) to a workspace; returns that workspace id.
pub fn exports_metrics_to(properties: &Value) -> Option<&str> {
    let workspace = properties["workspaceId"].as_str()?;
    let enabled = properties["metrics"].as_array()?.iter().any(|m| {
        m["category"].as_str() == Some(ALL_METRICS) && m["enabled"].as_bool() == Some(true)
    });
    enabled.then_some(workspace)
}

/// Whether a stored setting sends the log category `log` (named, or through an enabled
/// category group it belongs to) to a workspace; returns that workspace id.
pub fn exports_log_to<'a>(properties: &'a Value, log: &LogCategory) -> Option<&'a str> {
    let workspace = properties["workspaceId"].as_str()?;
    let enabled = properties["logs"].as_array()?.iter().any(|l| {
        let named = l["category"]
            .as_str()
            .is_some_and(|c| c.eq_ignore_ascii_case(log.name));
        let grouped = l["categoryGroup"]
            .as_str()
            .is_some_and(|g| log.groups.iter().any(|x| x.eq_ignore_ascii_case(g)));
        (named || grouped) && l["enabled"].as_bool() == Some(true)
    });
    enabled.then_some(workspace)
}

#[cfg(test)]
mod tests;
