//! Payload shapes, field by field as the Azure docs' samples name them.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::runtime::alert::fixture::{LB, fired_then_resolved, rule, rule_id, t};

#[test]
fn common_schema_for_a_fired_metric_alert() {
    let (r, id) = (rule(), rule_id());
    let (fired, _) = fired_then_resolved(&r);
    let a = AlertInstance {
        rule_id: &id,
        rule: &r,
        outcome: &fired.series[0],
        window_start: fired.window_start,
        window_end: fired.window_end,
    };
    let p = a.common_alert_schema(&BTreeMap::new());
    assert_eq!(p["schemaId"], "azureMonitorCommonAlertSchema");
    let e = &p["data"]["essentials"];
    assert!(
        e["alertId"]
            .as_str()
            .unwrap()
            .starts_with("/subscriptions/sub1/providers/Microsoft.AlertsManagement/alerts/")
    );
    assert_eq!(e["alertRule"], "VMSS-UnhealthyInstances");
    assert_eq!(e["severity"], "Sev2");
    assert_eq!(e["signalType"], "Metric");
    assert_eq!(e["monitorCondition"], "Fired");
    assert_eq!(e["monitoringService"], "Platform");
    assert_eq!(e["alertTargetIDs"], json!([LB.to_lowercase()]));
    assert_eq!(e["configurationItems"], json!(["myloadbalancer"]));
    assert!(e["originAlertId"].as_str().unwrap().starts_with(
        "sub1_myResourceGroup_microsoft.insights_metricAlerts_VMSS-UnhealthyInstances_"
    ));
    assert_eq!(e["firedDateTime"], time(t(5)));
    assert!(e.get("resolvedDateTime").is_none());
    assert_eq!(
        e["description"],
        "One or more VMSS instances failed the health probe"
    );
    assert_eq!(
        (
            e["essentialsVersion"].as_str(),
            e["alertContextVersion"].as_str()
        ),
        (Some("1.0"), Some("1.0"))
    );
    let ctx = &p["data"]["alertContext"];
    assert_eq!(ctx["properties"], json!(null));
    assert_eq!(ctx["conditionType"], "SingleResourceMultipleMetricCriteria");
    assert_eq!(ctx["condition"]["windowSize"], "PT5M");
    assert_eq!(
        ctx["condition"]["windowStartTime"],
        "2025-03-22T13:40:00.000Z"
    );
    assert_eq!(
        ctx["condition"]["windowEndTime"],
        "2025-03-22T13:45:00.000Z"
    );
    let c = &ctx["condition"]["allOf"][0];
    assert_eq!(c["metricName"], "HealthProbeStatus");
    assert_eq!(c["metricNamespace"], "Microsoft.Network/loadBalancers");
    assert_eq!(c["operator"], "LessThan");
    assert_eq!(c["threshold"], "100");
    assert_eq!(c["timeAggregation"], "Average");
    assert_eq!(c["dimensions"], json!([]));
    let v = c["metricValue"].as_f64().unwrap();
    assert!((v - 1400.0 / 15.0).abs() < 1e-9, "{v}");
    assert!(c.get("webTestName").is_none());
    assert_eq!(p["data"]["customProperties"], json!(null));
}

#[test]
fn common_schema_for_the_resolution_keeps_the_alert_id() {
    let (r, id) = (rule(), rule_id());
    let (fired, resolved) = fired_then_resolved(&r);
    let at = |e: &super::super::evaluate::Evaluation| {
        AlertInstance {
            rule_id: &id,
            rule: &r,
            outcome: &e.series[0],
            window_start: e.window_start,
            window_end: e.window_end,
        }
        .common_alert_schema(&BTreeMap::from([("team".to_string(), "ops".to_string())]))
    };
    let (f, res) = (at(&fired), at(&resolved));
    assert_eq!(
        f["data"]["essentials"]["alertId"],
        res["data"]["essentials"]["alertId"]
    );
    let e = &res["data"]["essentials"];
    assert_eq!(e["monitorCondition"], "Resolved");
    assert_eq!(e["firedDateTime"], time(t(5)));
    assert_eq!(e["resolvedDateTime"], time(t(15)));
    assert_eq!(
        res["data"]["alertContext"]["condition"]["allOf"][0]["metricValue"],
        json!(100.0)
    );
    assert_eq!(res["data"]["customProperties"], json!({"team": "ops"}));
}

#[test]
fn legacy_metric_alert_schema() {
    let (r, id) = (rule(), rule_id());
    let (fired, resolved) = fired_then_resolved(&r);
    let a = AlertInstance {
        rule_id: &id,
        rule: &r,
        outcome: &fired.series[0],
        window_start: fired.window_start,
        window_end: fired.window_end,
    };
    let p = a.metric_alert_schema(&BTreeMap::from([("k".to_string(), "v".to_string())]));
    assert_eq!(p["schemaId"], "AzureMonitorMetricAlert");
    let d = &p["data"];
    assert_eq!(
        (d["version"].as_str(), d["status"].as_str()),
        (Some("2.0"), Some("Activated"))
    );
    assert_eq!(d["properties"], json!({"k": "v"}));
    let c = &d["context"];
    assert_eq!(c["id"], id.to_string());
    assert_eq!(c["name"], "VMSS-UnhealthyInstances");
    assert_eq!(c["severity"], "2");
    assert_eq!(c["conditionType"], "SingleResourceMultipleMetricCriteria");
    assert_eq!(c["condition"]["allOf"][0]["webTestName"], json!(null));
    assert_eq!(c["condition"]["allOf"][0]["threshold"], "100");
    assert_eq!(c["resourceGroupName"], "myResourceGroup");
    assert_eq!(c["resourceName"], "myLoadBalancer");
    assert_eq!(c["resourceType"], "Microsoft.Network/loadBalancers");
    assert_eq!(c["resourceId"], LB);
    assert_eq!(
        c["portalLink"],
        format!("https://portal.azure.com/#resource{LB}")
    );
    assert_eq!(c["timestamp"], time(t(5)));
    let a = AlertInstance {
        outcome: &resolved.series[0],
        window_start: resolved.window_start,
        window_end: resolved.window_end,
        ..a
    };
    assert_eq!(
        a.metric_alert_schema(&BTreeMap::new())["data"]["status"],
        "Deactivated"
    );
}

#[test]
fn dynamic_conditions_carry_sensitivity_and_failing_periods() {
    use crate::model::metric_alert;
    use crate::model::metric_alert::criteria::{Operator, TimeAggregation};
    use crate::runtime::alert::evaluate::{ConditionResult, SeriesOutcome, Transition};
    use crate::runtime::alert::series::SeriesKey;
    let r = metric_alert::parse(&json!({"location": "global", "properties": {"severity": 3, "scopes": [LB],
        "evaluationFrequency": "PT5M", "windowSize": "PT5M", "criteria": {"odata.type": metric_alert::criteria::MULTIPLE_RESOURCE,
        "allOf": [{"criterionType": "DynamicThresholdCriterion", "name": "d", "metricName": "ByteCount",
            "operator": "GreaterThan", "timeAggregation": "Total", "alertSensitivity": "High",
            "failingPeriods": {"numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1}}]}}})).unwrap().properties;
    let outcome = SeriesOutcome {
        key: SeriesKey::new(LB, &[]),
        resource_id: LB.into(),
        transition: Transition::Fired,
        met: true,
        fired_at: Some(t(5)),
        conditions: vec![ConditionResult {
            criterion_name: "d".into(),
            metric_name: "ByteCount".into(),
            metric_namespace: None,
            operator: Operator::GreaterThan,
            threshold: Some(47658.5),
            time_aggregation: TimeAggregation::Total,
            dimensions: vec![],
            metric_value: Some(50101.0),
            met: true,
            web_test_name: None,
        }],
    };
    let id = rule_id();
    let a = AlertInstance {
        rule_id: &id,
        rule: &r,
        outcome: &outcome,
        window_start: t(0),
        window_end: t(5),
    };
    let ctx = a.alert_context();
    assert_eq!(ctx["conditionType"], "DynamicThresholdCriteria");
    let c = &ctx["condition"]["allOf"][0];
    assert_eq!(c["alertSensitivity"], "High");
    assert_eq!(
        c["failingPeriods"],
        json!({"numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1})
    );
    assert_eq!(c["ignoreDataBefore"], json!(null));
    assert_eq!(c["threshold"], "47658.5");
}
