//! What an alert leaves behind besides notifications: the fired alert as
//! `Microsoft.AlertsManagement/alerts` returns it (2019-03-01 `Alert`/`Essentials`), the
//! activity-log record of the state change (Azure docs "Azure activity log event schema",
//! Alert category), and the rule's `metricAlerts/{rule}/status` list (2018-03-01).

use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::evaluate::{Evaluation, Transition};
use super::payload::{AlertInstance, time};
use crate::model::id::ResourceId;

/// .NET ticks (100 ns since 0001-01-01), which activity-log event ids end with.
pub(super) fn ticks(t: DateTime<Utc>) -> i64 {
    (t.timestamp() + 62_135_596_800) * 10_000_000 + i64::from(t.timestamp_subsec_nanos() / 100)
}

fn localized(v: &str) -> Value {
    json!({"value": v, "localizedValue": v})
}

/// Activity-log level for an alert severity (Sev0 critical ... Sev4 verbose).
pub fn level(severity: u8) -> &'static str {
    ["Critical", "Error", "Warning", "Informational", "Verbose"][usize::from(severity.min(4))]
}

impl AlertInstance<'_> {
    /// The alert as `GET .../providers/Microsoft.AlertsManagement/alerts[/{id}]` returns it.
    /// `alertState` is the user's response (`New` until someone changes it); with
    /// `include_context` the common schema's alert context is returned as `context`.
    pub fn alerts_management(&self, alert_state: &str, include_context: bool) -> Value {
        let target = self.target();
        let mut essentials = json!({
            "severity": self.severity(),
            "signalType": "Metric",
            "alertState": alert_state,
            "monitorCondition": self.monitor_condition(),
            "monitorService": "Platform",
            "targetResource": self.outcome.resource_id,
            "targetResourceName": target.as_ref().map_or("", |t| t.name()),
            "targetResourceGroup": target.as_ref().and_then(|t| t.resource_group.clone()),
            "targetResourceType": target.as_ref().map(|t| t.segments.last().map_or(String::new(), |s| s.0.to_lowercase())),
            "sourceCreatedId": self.origin_alert_id(),
            "alertRule": self.rule_id.to_string(),
            "startDateTime": time(self.fired_at()),
            "lastModifiedDateTime": time(self.changed_at()),
            "lastModifiedUserName": "System",
            "actionStatus": {"isSuppressed": false},
            "description": self.rule.description,
        });
        if let Some(r) = self.resolved_at() {
            essentials["monitorConditionResolvedDateTime"] = json!(time(r));
        }
        json!({
            "id": self.alert_id(),
            "type": "Microsoft.AlertsManagement/alerts",
            "name": self.rule_id.name(),
            "properties": {
                "essentials": essentials,
                "context": if include_context { self.alert_context() } else { json!({}) },
                "egressConfig": {},
            },
        })
    }

    /// The activity-log record of this state change, in the Alert category's documented shape
    /// (`Microsoft.Insights/AlertRules/{Activated|Resolved}/Action`, rule details in
    /// `properties`, taken from the first condition). `metric_unit` is the metric's unit from its
    /// definition (e.g. `Count`).
    pub fn activity_log(&self, metric_unit: &str) -> Value {
        let at = self.changed_at();
        let status = if self.resolved() {
            "Resolved"
        } else {
            "Activated"
        };
        let event = Uuid::new_v5(&self.alert_guid(), status.as_bytes());
        let target = self.target();
        let first = self.outcome.conditions.first();
        let fmt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
        let minutes = self.rule.window_size.as_secs() / 60;
        let description = format!(
            "'{} {} {} ([{}]) in the last {minutes} minutes' has been {} for {}",
            first.map_or("", |c| c.metric_name.as_str()),
            first.map_or("", |c| c.operator.as_str()),
            fmt(first.and_then(|c| c.threshold)),
            first.map_or("", |c| c.time_aggregation.as_str()),
            status.to_lowercase(),
            self.outcome.resource_id,
        );
        json!({
            "caller": "Microsoft.Insights/alertRules",
            "channels": "Admin, Operation",
            "claims": {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/spn": "Microsoft.Insights/alertRules"},
            "correlationId": self.alert_id(),
            "description": description,
            "eventDataId": event.to_string(),
            "eventName": localized("Alert"),
            "category": localized("Alert"),
            "id": format!("{}/events/{event}/ticks/{}", self.outcome.resource_id, ticks(at)),
            "level": level(self.rule.severity),
            "resourceGroupName": target.as_ref().and_then(|t| t.resource_group.clone()),
            "resourceProviderName": localized(target.as_ref().map_or("", |t| t.namespace.as_str())),
            "resourceId": self.outcome.resource_id,
            "resourceType": localized(&target.as_ref().map_or(String::new(), ResourceId::type_name)),
            "operationId": self.alert_id(),
            "operationName": localized(&format!("Microsoft.Insights/AlertRules/{status}/Action")),
            "properties": {
                "RuleUri": self.rule_id.to_string(),
                "RuleName": self.rule_id.name(),
                "RuleDescription": self.rule.description,
                "Threshold": fmt(first.and_then(|c| c.threshold)),
                "WindowSizeInMinutes": minutes.to_string(),
                "Aggregation": first.map_or("", |c| c.time_aggregation.as_str()),
                "Operator": first.map_or("", |c| c.operator.as_str()),
                "MetricName": first.map_or("", |c| c.metric_name.as_str()),
                "MetricUnit": metric_unit,
            },
            "status": localized(status),
            "subStatus": {"value": null},
            "eventTimestamp": time(at),
            "submissionTimestamp": time(at),
            "subscriptionId": self.rule_id.subscription,
        })
    }
}

/// `GET .../metricAlerts/{rule}/status`: one entry per monitored series of the last
/// evaluation; `name` is the base64 of `resourceId=...[,dimension=value...]` as in the sample,
/// `status` is `Unhealthy` while the series is fired, else `Healthy`.
pub fn status_list(rule_id: &ResourceId, last: &Evaluation) -> Value {
    let value: Vec<Value> = last
        .series
        .iter()
        .map(|s| {
            let mut dims = serde_json::Map::new();
            dims.insert("resourceId".into(), json!(s.resource_id));
            let mut name = format!("resourceId={}", s.resource_id);
            for (k, v) in s
                .conditions
                .first()
                .map_or(&[][..], |c| c.dimensions.as_slice())
            {
                dims.insert(k.clone(), json!(v));
                name.push_str(&format!(",{k}={v}"));
            }
            let fired = last.state.contains_key(&s.key) && s.transition != Transition::Resolved;
            json!({
                "id": rule_id.to_string(),
                "name": base64::engine::general_purpose::STANDARD.encode(name),
                "type": "Microsoft.Insights/metricAlerts/status",
                "properties": {
                    "dimensions": dims,
                    "status": if fired { "Unhealthy" } else { "Healthy" },
                    "timestamp": time(last.window_end),
                },
            })
        })
        .collect();
    json!({"value": value})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::alert::fixture::{LB, fired_then_resolved, rule, rule_id, t};

    #[test]
    fn fired_alert_as_alerts_management_returns_it() {
        let (r, id) = (rule(), rule_id());
        let (fired, resolved) = fired_then_resolved(&r);
        let a = AlertInstance {
            rule_id: &id,
            rule: &r,
            outcome: &fired.series[0],
            window_start: fired.window_start,
            window_end: fired.window_end,
        };
        let j = a.alerts_management("New", false);
        assert_eq!(j["type"], "Microsoft.AlertsManagement/alerts");
        assert_eq!(j["id"], a.alert_id());
        assert_eq!(j["name"], "VMSS-UnhealthyInstances");
        let e = &j["properties"]["essentials"];
        assert_eq!(
            (
                e["severity"].as_str(),
                e["signalType"].as_str(),
                e["alertState"].as_str()
            ),
            (Some("Sev2"), Some("Metric"), Some("New"))
        );
        assert_eq!(
            (e["monitorCondition"].as_str(), e["monitorService"].as_str()),
            (Some("Fired"), Some("Platform"))
        );
        assert_eq!(e["targetResource"], LB);
        assert_eq!(
            (
                e["targetResourceName"].as_str(),
                e["targetResourceGroup"].as_str()
            ),
            (Some("myLoadBalancer"), Some("myResourceGroup"))
        );
        assert_eq!(e["targetResourceType"], "loadbalancers");
        assert_eq!(e["alertRule"], id.to_string());
        assert_eq!(e["startDateTime"], time(t(5)));
        assert!(e.get("monitorConditionResolvedDateTime").is_none());
        assert_eq!(j["properties"]["context"], json!({}));
        let b = AlertInstance {
            outcome: &resolved.series[0],
            window_start: resolved.window_start,
            window_end: resolved.window_end,
            ..a
        };
        let j = b.alerts_management("New", true);
        let e = &j["properties"]["essentials"];
        assert_eq!(e["monitorCondition"], "Resolved");
        assert_eq!(e["monitorConditionResolvedDateTime"], time(t(15)));
        assert_eq!(e["lastModifiedDateTime"], time(t(15)));
        assert_eq!(j["id"], a.alert_id());
        assert_eq!(
            j["properties"]["context"]["conditionType"],
            "SingleResourceMultipleMetricCriteria"
        );
    }

    #[test]
    fn activity_log_records_activation_and_resolution() {
        let (r, id) = (rule(), rule_id());
        let (fired, resolved) = fired_then_resolved(&r);
        let a = AlertInstance {
            rule_id: &id,
            rule: &r,
            outcome: &fired.series[0],
            window_start: fired.window_start,
            window_end: fired.window_end,
        };
        let j = a.activity_log("Percent");
        assert_eq!(j["category"]["value"], "Alert");
        assert_eq!(
            j["operationName"]["value"],
            "Microsoft.Insights/AlertRules/Activated/Action"
        );
        assert_eq!(j["status"]["value"], "Activated");
        assert_eq!(j["level"], "Warning");
        assert_eq!(j["resourceId"], LB);
        assert_eq!(
            j["resourceType"]["value"],
            "Microsoft.Network/loadBalancers"
        );
        assert_eq!(j["properties"]["Threshold"], "100");
        assert_eq!(j["properties"]["WindowSizeInMinutes"], "5");
        assert_eq!(j["properties"]["MetricUnit"], "Percent");
        assert!(j["description"].as_str().unwrap().starts_with(
            "'HealthProbeStatus LessThan 100 ([Average]) in the last 5 minutes' has been activated"
        ));
        assert!(j["id"].as_str().unwrap().contains("/events/"));
        let b = AlertInstance {
            outcome: &resolved.series[0],
            window_start: resolved.window_start,
            window_end: resolved.window_end,
            ..a
        };
        let k = b.activity_log("Percent");
        assert_eq!(
            k["operationName"]["value"],
            "Microsoft.Insights/AlertRules/Resolved/Action"
        );
        assert_ne!(k["eventDataId"], j["eventDataId"]);
        assert_eq!(k["correlationId"], j["correlationId"]);
    }

    #[test]
    fn ticks_count_from_year_one() {
        assert_eq!(ticks(DateTime::UNIX_EPOCH), 621_355_968_000_000_000);
        assert_eq!(level(0), "Critical");
        assert_eq!(level(4), "Verbose");
    }

    #[test]
    fn status_names_encode_the_series() {
        let (r, id) = (rule(), rule_id());
        let (fired, resolved) = fired_then_resolved(&r);
        let s = status_list(&id, &fired);
        let entry = &s["value"][0];
        assert_eq!(entry["properties"]["status"], "Unhealthy");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(entry["name"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            format!("resourceId={LB}")
        );
        assert_eq!(
            status_list(&id, &resolved)["value"][0]["properties"]["status"],
            "Healthy"
        );
    }
}
