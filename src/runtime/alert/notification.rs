//! What armlet records of each notification an action group sends, and the sample alert a test
//! notification carries.
//!
//! Every notification — a webhook call that ended, or an email, SMS, voice call, push, ARM-role
//! mail, ITSM ticket or Event Hub message that cannot leave this machine and is only recorded —
//! becomes an activity-log event on the action group (category `Alert`, operation
//! `Microsoft.Insights/ActionGroups/Notify/Action`, armlet's name: Azure keeps this history
//! in the portal, not in the activity log), so `az monitor activity-log list --resource-id
//! <action group id>` shows who was told what.
//!
//! Test notifications carry a fixed sample alert, as Azure's do ("Test an action group":
//! sample payloads with placeholder ids): the sample metric alert on a placeholder VM.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::evaluate::{ConditionResult, SeriesOutcome, Transition};
use super::payload::{AlertInstance, time};
use super::record::ticks;
use super::series::SeriesKey;
use crate::model::action_group::receivers::{Delivery, Mechanism};
use crate::model::id::ResourceId;
use crate::model::metric_alert::{self, criteria};

/// How a notification ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The receiver answered 2xx (after `attempts` calls).
    Delivered { attempts: u32 },
    /// Every attempt failed; `detail` says how the last one ended.
    Failed { attempts: u32, detail: String },
    /// A receiver armlet cannot reach from this machine: recorded, not sent.
    Recorded,
}

/// What a notification was about: the alert (or test) it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    /// The alert's id (or the test notification's id): the event's correlation id.
    pub correlation_id: String,
    /// E.g. `Fired alert 'VMSS-UnhealthyInstances' on 'myLoadBalancer'`.
    pub summary: String,
    /// Added to the event's `properties` (alert rule, monitor condition, schema...).
    pub properties: Map<String, Value>,
}

fn mechanism_name(m: Mechanism) -> String {
    serde_json::to_value(m)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The activity-log event of one notification of action group `group`.
pub fn event(
    group: &ResourceId,
    delivery: &Delivery,
    subject: &Subject,
    outcome: &Outcome,
    at: DateTime<Utc>,
) -> Value {
    let localized = |v: &str| json!({"value": v, "localizedValue": v});
    let mechanism = mechanism_name(delivery.mechanism);
    let (status, level, result) = match outcome {
        Outcome::Delivered { attempts } => (
            "Succeeded",
            "Informational",
            format!("delivered after {attempts} attempt(s)"),
        ),
        Outcome::Failed { attempts, detail } => (
            "Failed",
            "Error",
            format!("failed after {attempts} attempt(s): {detail}"),
        ),
        Outcome::Recorded => (
            "Succeeded",
            "Informational",
            "recorded by armlet (this kind of receiver cannot be reached from this machine)"
                .to_string(),
        ),
    };
    // One event per alert state change, group, receiver and result.
    let seed = format!(
        "{}|{}|{}|{}|{status}",
        subject.correlation_id,
        subject.summary,
        group.key(),
        delivery.name
    );
    let event_id = Uuid::new_v5(&Uuid::NAMESPACE_URL, seed.as_bytes());
    let mut properties = subject.properties.clone();
    properties.insert("actionGroup".into(), json!(group.name()));
    properties.insert("receiverName".into(), json!(delivery.name));
    properties.insert("mechanism".into(), json!(mechanism));
    properties.insert("result".into(), json!(result));
    json!({
        "caller": "Microsoft.Insights/actionGroups",
        "channels": "Operation",
        "correlationId": subject.correlation_id,
        "description": format!("{mechanism} receiver '{}' of action group '{}': {} — {result}",
            delivery.name, group.name(), subject.summary),
        "eventDataId": event_id.to_string(),
        "eventName": localized("ActionGroupNotification"),
        "category": localized("Alert"),
        "id": format!("{group}/events/{event_id}/ticks/{}", ticks(at)),
        "level": level,
        "resourceGroupName": group.resource_group,
        "resourceProviderName": localized("Microsoft.Insights"),
        "resourceId": group.to_string(),
        "resourceType": localized("Microsoft.Insights/actionGroups"),
        "operationId": subject.correlation_id,
        "operationName": localized("Microsoft.Insights/ActionGroups/Notify/Action"),
        "properties": properties,
        "status": localized(status),
        "subStatus": {"value": null},
        "eventTimestamp": time(at),
        "submissionTimestamp": time(at),
        "subscriptionId": group.subscription,
    })
}

/// The placeholders of the sample alert.
const SAMPLE_SUBSCRIPTION: &str = "11111111-1111-1111-1111-111111111111";
const SAMPLE_TARGET: &str = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/test-RG/providers/Microsoft.Compute/virtualMachines/test-VM";

/// `(signalType, monitoringService)` the sample claims for an `alertType` of the test API.
fn signal(alert_type: &str) -> (&'static str, &'static str) {
    match alert_type.to_ascii_lowercase().as_str() {
        "logalertv2" | "logalertv1numresult" | "logalertv1metricmeasurement" => {
            ("Log", "Log Alerts V2")
        }
        "servicehealth" => ("Activity Log", "ServiceHealth"),
        "resourcehealth" => ("Activity Log", "Resource Health"),
        "activitylog" => ("Activity Log", "Activity Log - Administrative"),
        "smartalert" => ("Log", "SmartDetector"),
        "webtestalert" => ("Metric", "Application Insights"),
        "actualcostbudget" | "forecastedbudget" | "budget" => ("Log", "CostAlerts"),
        _ => ("Metric", "Platform"),
    }
}

/// The test payloads for `alert_type`: `(common alert schema, older metric alert schema)`.
/// The alert is the sample metric alert (severity 3, `Percentage CPU > 0` on a placeholder VM);
/// for other alert types the common schema's essentials name their signal and service.
pub fn test_payloads(alert_type: &str, now: DateTime<Utc>) -> (Value, Value) {
    let rule = metric_alert::parse(&json!({"location": "global", "properties": {
        "description": "Alert rule description", "severity": 3, "scopes": [SAMPLE_TARGET],
        "evaluationFrequency": "PT1M", "windowSize": "PT5M",
        "criteria": {"odata.type": criteria::SINGLE_RESOURCE, "allOf": [{
            "name": "Metric1", "metricName": "Percentage CPU", "operator": "GreaterThan",
            "threshold": 0, "timeAggregation": "Average"}]}}}))
    .expect("the sample rule is valid")
    .properties;
    let rule_id = ResourceId::parse(&format!(
        "/subscriptions/{SAMPLE_SUBSCRIPTION}/resourceGroups/test-RG/providers/Microsoft.Insights/metricAlerts/test-metricAlertRule"
    ))
    .expect("the sample rule id parses");
    let outcome = SeriesOutcome {
        key: SeriesKey::new(SAMPLE_TARGET, &[]),
        resource_id: SAMPLE_TARGET.to_string(),
        transition: Transition::Fired,
        met: true,
        conditions: vec![ConditionResult {
            criterion_name: "Metric1".into(),
            metric_name: "Percentage CPU".into(),
            metric_namespace: Some("Microsoft.Compute/virtualMachines".into()),
            operator: criteria::Operator::GreaterThan,
            threshold: Some(0.0),
            time_aggregation: criteria::TimeAggregation::Average,
            dimensions: Vec::new(),
            metric_value: Some(31.1105),
            met: true,
            web_test_name: None,
        }],
        fired_at: Some(now),
    };
    let alert = AlertInstance {
        rule_id: &rule_id,
        rule: &rule,
        outcome: &outcome,
        window_start: now - chrono::Duration::minutes(5),
        window_end: now,
    };
    let none = Default::default();
    let mut common = alert.common_alert_schema(&none);
    let (signal_type, service) = signal(alert_type);
    common["data"]["essentials"]["signalType"] = json!(signal_type);
    common["data"]["essentials"]["monitoringService"] = json!(service);
    (common, alert.metric_alert_schema(&none))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 2, 3, 4, 5, 6).unwrap()
    }

    fn group() -> ResourceId {
        ResourceId::parse(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/actionGroups/ag",
        )
        .unwrap()
    }

    fn delivery(mechanism: Mechanism) -> Delivery {
        Delivery {
            mechanism,
            name: "ops".into(),
            url: None,
            use_common_alert_schema: true,
        }
    }

    fn subject() -> Subject {
        Subject {
            correlation_id: "/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/a1"
                .into(),
            summary: "Fired alert 'r' on 'lb'".into(),
            properties: Map::from_iter([("monitorCondition".to_string(), json!("Fired"))]),
        }
    }

    #[test]
    fn every_notification_is_an_event_on_the_action_group() {
        let e = event(
            &group(),
            &delivery(Mechanism::Email),
            &subject(),
            &Outcome::Recorded,
            at(),
        );
        assert_eq!(e["resourceId"], group().to_string());
        assert_eq!(e["subscriptionId"], "s");
        assert_eq!(e["resourceGroupName"], "rg");
        assert_eq!(
            e["operationName"]["value"],
            "Microsoft.Insights/ActionGroups/Notify/Action"
        );
        assert_eq!(e["status"]["value"], "Succeeded");
        assert_eq!(e["properties"]["mechanism"], "Email");
        assert_eq!(e["properties"]["receiverName"], "ops");
        assert_eq!(e["properties"]["monitorCondition"], "Fired");
        assert_eq!(e["correlationId"], subject().correlation_id);
        assert_eq!(e["eventTimestamp"], "2026-02-03T04:05:06.000000Z");
        let failed = event(
            &group(),
            &delivery(Mechanism::Webhook),
            &subject(),
            &Outcome::Failed {
                attempts: 6,
                detail: "no response".into(),
            },
            at(),
        );
        assert_eq!(failed["status"]["value"], "Failed");
        assert_eq!(failed["level"], "Error");
        assert!(
            failed["properties"]["result"]
                .as_str()
                .unwrap()
                .contains("6 attempt(s): no response")
        );
        assert_ne!(failed["eventDataId"], e["eventDataId"]);
    }

    #[test]
    fn test_payloads_are_the_sample_alert_in_both_schemas() {
        let (common, legacy) = test_payloads("metricstaticthreshold", at());
        let e = &common["data"]["essentials"];
        assert_eq!(common["schemaId"], "azureMonitorCommonAlertSchema");
        assert_eq!(e["alertRule"], "test-metricAlertRule");
        assert_eq!(e["severity"], "Sev3");
        assert_eq!(e["monitorCondition"], "Fired");
        assert_eq!(e["alertTargetIDs"], json!([SAMPLE_TARGET.to_lowercase()]));
        assert_eq!(
            common["data"]["alertContext"]["condition"]["allOf"][0]["metricValue"],
            31.1105
        );
        assert_eq!(legacy["schemaId"], "AzureMonitorMetricAlert");
        assert_eq!(legacy["data"]["status"], "Activated");
        let (budget, _) = test_payloads("budget", at());
        assert_eq!(
            budget["data"]["essentials"]["monitoringService"],
            "CostAlerts"
        );
    }
}
