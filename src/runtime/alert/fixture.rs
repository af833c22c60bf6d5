//! Test fixtures: the tutorial's rule on a load balancer, fired and resolved.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

use super::evaluate::{Evaluation, State, evaluate};
use super::series::{MinutePoint, Series};
use crate::model::id::ResourceId;
use crate::model::metric_alert::{self, MetricAlertProperties};

pub const LB: &str = "/subscriptions/sub1/resourceGroups/myResourceGroup/providers/Microsoft.Network/loadBalancers/myLoadBalancer";

pub fn t(m: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 22, 13, 40, 0).unwrap() + Duration::minutes(m)
}

pub fn rule_id() -> ResourceId {
    ResourceId::parse("/subscriptions/sub1/resourceGroups/myResourceGroup/providers/Microsoft.Insights/metricAlerts/VMSS-UnhealthyInstances").unwrap()
}

/// `avg HealthProbeStatus < 100`, window 5m, every 1m, severity 2.
pub fn rule() -> MetricAlertProperties {
    metric_alert::parse(&json!({"location": "global", "properties": {
        "description": "One or more VMSS instances failed the health probe", "severity": 2,
        "scopes": [LB], "evaluationFrequency": "PT1M", "windowSize": "PT5M",
        "criteria": {"odata.type": metric_alert::criteria::SINGLE_RESOURCE, "allOf": [{
            "name": "cond0", "metricName": "HealthProbeStatus", "operator": "LessThan",
            "threshold": 100, "timeAggregation": "Average", "criterionType": "StaticThresholdCriterion"}]},
        "actions": [{"actionGroupId": "/subscriptions/sub1/resourceGroups/myResourceGroup/providers/microsoft.insights/actionGroups/myActionGroup"}]}}))
    .unwrap()
    .properties
}

fn probe(values: &[f64]) -> Series {
    Series {
        resource_id: LB.into(),
        dimensions: Default::default(),
        points: values
            .iter()
            .enumerate()
            .map(|(i, v)| MinutePoint::single(t(i as i64), *v))
            .collect(),
    }
}

/// Two evaluations of the tutorial's rule: one instance of three failing (fired at minute 5)
/// and resolved on the third evaluation whose window no longer holds a failure (minute 15).
pub fn fired_then_resolved(r: &MetricAlertProperties) -> (Evaluation, Evaluation) {
    let healthy = probe(&[100.0; 20]);
    let mut failing = vec![100.0; 4];
    failing.extend([0.0; 4]);
    failing.extend([100.0; 12]);
    let data = [Some(vec![healthy.clone(), healthy, probe(&failing)])];
    let fired = evaluate(r, &data, &State::new(), t(5));
    let mut state = fired.state.clone();
    let mut last = None;
    for m in 6..=16 {
        let e = evaluate(r, &data, &state, t(m));
        state = e.state.clone();
        if e.series[0].transition == super::evaluate::Transition::Resolved {
            last = Some(e);
            break;
        }
    }
    (fired, last.expect("resolves"))
}
