//! What an action group's receivers get when a metric alert fires or resolves: the common
//! alert schema (Azure docs "Common alert schema", sample payload and metric alert context
//! fields) and the older metric alert schema (`AzureMonitorMetricAlert`, Azure docs
//! "Noncommon alert schema definitions"). [`AlertInstance`] is the fact both describe.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::evaluate::{ConditionResult, SeriesOutcome, Transition};
use crate::model::duration;
use crate::model::id::ResourceId;
use crate::model::metric_alert::MetricAlertProperties;
use crate::model::metric_alert::criteria::{Criteria, Threshold};

/// One alert: a rule's monitored series that fired, seen at its firing or its resolution.
#[derive(Debug, Clone, Copy)]
pub struct AlertInstance<'a> {
    /// The `Microsoft.Insights/metricAlerts` resource.
    pub rule_id: &'a ResourceId,
    pub rule: &'a MetricAlertProperties,
    /// The evaluation's outcome for the series (`Fired` or `Resolved`).
    pub outcome: &'a SeriesOutcome,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
}

/// `2019-03-22T13:58:24.371321Z`
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl AlertInstance<'_> {
    pub fn resolved(&self) -> bool {
        self.outcome.transition == Transition::Resolved
    }

    /// `Fired` or `Resolved`.
    pub fn monitor_condition(&self) -> &'static str {
        if self.resolved() { "Resolved" } else { "Fired" }
    }

    pub fn fired_at(&self) -> DateTime<Utc> {
        self.outcome.fired_at.unwrap_or(self.window_end)
    }

    /// When the monitor condition became `Resolved` (the evaluation that resolved it).
    pub fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.resolved().then_some(self.window_end)
    }

    /// When this notification's state change happened.
    pub fn changed_at(&self) -> DateTime<Utc> {
        self.resolved_at().unwrap_or_else(|| self.fired_at())
    }

    pub fn severity(&self) -> String {
        format!("Sev{}", self.rule.severity)
    }

    /// The alert's GUID in `Microsoft.AlertsManagement`: the same from firing to resolution
    /// (derived from the rule, the series and the firing time).
    pub fn alert_guid(&self) -> Uuid {
        let seed = format!(
            "{}|{:?}|{}",
            self.rule_id.key(),
            self.outcome.key,
            self.fired_at().timestamp_micros()
        );
        Uuid::new_v5(&Uuid::NAMESPACE_URL, seed.as_bytes())
    }

    /// `/subscriptions/{s}/providers/Microsoft.AlertsManagement/alerts/{guid}`
    pub fn alert_id(&self) -> String {
        format!(
            "/subscriptions/{}/providers/Microsoft.AlertsManagement/alerts/{}",
            self.rule_id.subscription,
            self.alert_guid()
        )
    }

    /// The target resource, parsed when it is a resource id.
    pub fn target(&self) -> Option<ResourceId> {
        ResourceId::parse(&self.outcome.resource_id).ok()
    }

    /// Like the sample's `{subscription}_{group}_microsoft.insights_metricAlerts_{rule}_{hash}`;
    /// the hash (FNV-1a of the series key, as a signed 32-bit number) tells series apart.
    pub fn origin_alert_id(&self) -> String {
        let key = format!("{:?}", self.outcome.key);
        let hash = key.bytes().fold(0x811c9dc5u32, |h, b| {
            (h ^ b as u32).wrapping_mul(0x0100_0193)
        }) as i32;
        format!(
            "{}_{}_microsoft.insights_metricAlerts_{}_{hash}",
            self.rule_id.subscription,
            self.rule_id.resource_group.as_deref().unwrap_or(""),
            self.rule_id.name()
        )
    }

    /// `SingleResourceMultipleMetricCriteria`, `DynamicThresholdCriteria`, ...
    pub fn condition_type(&self) -> &'static str {
        match &self.rule.criteria {
            c if c.is_dynamic() => "DynamicThresholdCriteria",
            Criteria::SingleResource(_) => "SingleResourceMultipleMetricCriteria",
            Criteria::MultipleResource(_) => "MultipleResourceMultipleMetricCriteria",
            Criteria::WebtestLocationAvailability { .. } => "WebtestLocationAvailabilityCriteria",
        }
    }

    /// One `allOf` entry of a payload's condition.
    fn condition(&self, i: usize, c: &ConditionResult) -> Value {
        let namespace = c.metric_namespace.clone().or_else(|| {
            (c.web_test_name.is_none())
                .then(|| self.target().map(|t| t.type_name()))
                .flatten()
        });
        let threshold = c.threshold.map(|t| t.to_string());
        let dims: Vec<Value> = c
            .dimensions
            .iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect();
        let mut j = json!({
            "metricName": c.metric_name,
            "metricNamespace": namespace,
            "operator": c.operator.as_str(),
            "threshold": threshold,
            "timeAggregation": c.time_aggregation.as_str(),
            "dimensions": dims,
            "metricValue": c.metric_value,
        });
        if let Some(name) = &c.web_test_name {
            j["webTestName"] = json!(name);
        }
        if let Some(Threshold::Dynamic {
            sensitivity,
            failing_periods,
            ignore_data_before,
            ..
        }) = self.rule.criteria.all_of().get(i).map(|c| &c.threshold)
        {
            j["alertSensitivity"] = json!(sensitivity.as_str());
            j["failingPeriods"] = json!({
                "numberOfEvaluationPeriods": failing_periods.number_of_evaluation_periods,
                "minFailingPeriodsToAlert": failing_periods.min_failing_periods_to_alert,
            });
            j["ignoreDataBefore"] = json!(ignore_data_before.map(time));
        }
        j
    }

    fn all_of(&self) -> Vec<Value> {
        self.outcome
            .conditions
            .iter()
            .enumerate()
            .map(|(i, c)| self.condition(i, c))
            .collect()
    }

    /// The metric alert `alertContext` of the common schema.
    pub fn alert_context(&self) -> Value {
        let ms = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        json!({
            "properties": null,
            "conditionType": self.condition_type(),
            "condition": {
                "windowSize": duration::format(self.rule.window_size),
                "allOf": self.all_of(),
                "windowStartTime": ms(self.window_start),
                "windowEndTime": ms(self.window_end),
            },
        })
    }

    /// The common alert schema payload. `custom` is the action's `webHookProperties`.
    pub fn common_alert_schema(&self, custom: &BTreeMap<String, String>) -> Value {
        let target = self.target();
        let mut essentials = json!({
            "alertId": self.alert_id(),
            "alertRule": self.rule_id.name(),
            "alertRuleID": self.rule_id.to_string(),
            "severity": self.severity(),
            "signalType": "Metric",
            "monitorCondition": self.monitor_condition(),
            "monitoringService": "Platform",
            "alertTargetIDs": [self.outcome.resource_id.to_lowercase()],
            "configurationItems": [target.as_ref().map_or(String::new(), |t| t.name().to_lowercase())],
            "originAlertId": self.origin_alert_id(),
            "firedDateTime": time(self.fired_at()),
            "description": self.rule.description,
            "essentialsVersion": "1.0",
            "alertContextVersion": "1.0",
        });
        if let Some(t) = &target {
            essentials["targetResourceType"] = json!(t.type_name().to_lowercase());
            essentials["targetResourceGroup"] =
                json!(t.resource_group.clone().unwrap_or_default().to_lowercase());
        }
        if let Some(r) = self.resolved_at() {
            essentials["resolvedDateTime"] = json!(time(r));
        }
        json!({
            "schemaId": "azureMonitorCommonAlertSchema",
            "data": {
                "essentials": essentials,
                "alertContext": self.alert_context(),
                "customProperties": if custom.is_empty() { Value::Null } else { json!(custom) },
            },
        })
    }

    /// The older metric alert schema: `status` is `Activated` or `Deactivated`.
    pub fn metric_alert_schema(&self, custom: &BTreeMap<String, String>) -> Value {
        let target = self.target();
        let mut all_of = self.all_of();
        for c in &mut all_of {
            c["webTestName"] = c.get("webTestName").cloned().unwrap_or(Value::Null);
        }
        json!({
            "schemaId": "AzureMonitorMetricAlert",
            "data": {
                "version": "2.0",
                "properties": if custom.is_empty() { Value::Null } else { json!(custom) },
                "status": if self.resolved() { "Deactivated" } else { "Activated" },
                "context": {
                    "timestamp": time(self.changed_at()),
                    "id": self.rule_id.to_string(),
                    "name": self.rule_id.name(),
                    "description": self.rule.description,
                    "conditionType": self.condition_type(),
                    "severity": self.rule.severity.to_string(),
                    "condition": {"windowSize": duration::format(self.rule.window_size), "allOf": all_of},
                    "subscriptionId": self.rule_id.subscription,
                    "resourceGroupName": target.as_ref().and_then(|t| t.resource_group.clone()),
                    "resourceName": target.as_ref().map(|t| t.name().to_string()),
                    "resourceType": target.as_ref().map(|t| t.type_name()),
                    "resourceId": self.outcome.resource_id,
                    "portalLink": format!("https://portal.azure.com/#resource{}", self.outcome.resource_id),
                },
            },
        })
    }
}

#[cfg(test)]
mod tests;
