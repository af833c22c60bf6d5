//! Evaluation tests of the conditions: operators, aggregations, the window, allOf, dimensions,
//! dynamic thresholds and web tests. Shared fixtures are `pub(super)`.

use std::collections::BTreeMap;

use chrono::TimeZone;
use serde_json::{Value, json};

use super::*;
use crate::model::metric_alert::{self, criteria};
use crate::runtime::alert::series::MinutePoint;

pub(super) const LB: &str =
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb";

pub(super) fn t(m: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap() + Duration::minutes(m)
}

pub(super) fn criterion(metric: &str, agg: &str, op: &str, threshold: f64, dims: Value) -> Value {
    json!({"name": metric, "metricName": metric, "operator": op, "threshold": threshold,
        "timeAggregation": agg, "dimensions": dims, "criterionType": "StaticThresholdCriterion"})
}

pub(super) fn rule_with(
    criteria: Value,
    window: &str,
    freq: &str,
    auto_mitigate: bool,
) -> MetricAlertProperties {
    metric_alert::parse(&json!({"location": "global", "properties": {
        "severity": 2, "scopes": [LB], "evaluationFrequency": freq, "windowSize": window,
        "autoMitigate": auto_mitigate, "criteria": criteria}}))
    .unwrap()
    .properties
}

pub(super) fn rule(allof: Value) -> MetricAlertProperties {
    rule_with(
        json!({"odata.type": criteria::SINGLE_RESOURCE, "allOf": allof}),
        "PT5M",
        "PT1M",
        true,
    )
}

/// The tutorial's rule: avg HealthProbeStatus < 100 over 5 minutes, every minute.
pub(super) fn tutorial() -> MetricAlertProperties {
    rule(json!([criterion(
        "HealthProbeStatus",
        "Average",
        "LessThan",
        100.0,
        json!([])
    )]))
}

/// A series of one sample per minute, `values[i]` at minute `i`.
pub(super) fn series(dims: &[(&str, &str)], values: &[f64]) -> Series {
    Series {
        resource_id: LB.into(),
        dimensions: dims
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        points: values
            .iter()
            .enumerate()
            .map(|(i, v)| MinutePoint::single(t(i as i64), *v))
            .collect(),
    }
}

pub(super) fn transitions(e: &Evaluation) -> Vec<Transition> {
    e.series.iter().map(|s| s.transition).collect()
}

#[test]
fn each_operator_compares_as_named() {
    let cases = [
        ("Equals", 5.0, true),
        ("Equals", 4.0, false),
        ("NotEquals", 4.0, true),
        ("GreaterThan", 4.0, true),
        ("GreaterThan", 5.0, false),
        ("GreaterThanOrEqual", 5.0, true),
        ("LessThan", 6.0, true),
        ("LessThan", 5.0, false),
        ("LessThanOrEqual", 5.0, true),
        ("LessThanOrEqual", 4.0, false),
    ];
    for (op, threshold, fires) in cases {
        let r = rule(json!([criterion(
            "PacketCount",
            "Total",
            op,
            threshold,
            json!([])
        )]));
        let e = evaluate(&r, &[Some(vec![series(&[], &[5.0])])], &State::new(), t(1));
        assert_eq!(e.series[0].met, fires, "{op} {threshold}");
        assert_eq!(e.series[0].conditions[0].metric_value, Some(5.0));
    }
}

#[test]
fn each_time_aggregation_reads_the_window() {
    // Two backends over three minutes: values 1..=6.
    let data = vec![
        series(&[("ip", "a")], &[1.0, 2.0, 3.0]),
        series(&[("ip", "b")], &[4.0, 5.0, 6.0]),
    ];
    for (agg, expected) in [
        ("Average", 3.5),
        ("Total", 21.0),
        ("Count", 6.0),
        ("Minimum", 1.0),
        ("Maximum", 6.0),
    ] {
        let r = rule(json!([criterion(
            "ByteCount",
            agg,
            "GreaterThan",
            0.0,
            json!([])
        )]));
        let e = evaluate(&r, &[Some(data.clone())], &State::new(), t(3));
        assert_eq!(
            e.series[0].conditions[0].metric_value,
            Some(expected),
            "{agg}"
        );
    }
}

#[test]
fn only_the_last_window_size_counts() {
    let r = tutorial();
    let data = [Some(vec![series(
        &[],
        &[0.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0],
    )])];
    let e = evaluate(&r, &data, &State::new(), t(7));
    assert_eq!(e.window_start, t(2));
    assert_eq!(e.series[0].conditions[0].metric_value, Some(100.0));
    assert_eq!(transitions(&e), [Transition::Unchanged]);
}

#[test]
fn all_conditions_must_hold() {
    let r = rule(json!([
        criterion("SYNCount", "Total", "GreaterThan", 10.0, json!([])),
        criterion("PacketCount", "Total", "GreaterThan", 100.0, json!([]))
    ]));
    let syn = Some(vec![series(&[], &[50.0])]);
    let e = evaluate(
        &r,
        &[syn.clone(), Some(vec![series(&[], &[50.0])])],
        &State::new(),
        t(1),
    );
    assert_eq!(transitions(&e), [Transition::Unchanged]);
    assert_eq!(
        e.series[0]
            .conditions
            .iter()
            .map(|c| c.met)
            .collect::<Vec<_>>(),
        [true, false]
    );
    let e = evaluate(
        &r,
        &[syn, Some(vec![series(&[], &[500.0])])],
        &State::new(),
        t(1),
    );
    assert_eq!(transitions(&e), [Transition::Fired]);
    assert_eq!(e.series[0].conditions.len(), 2);
}

#[test]
fn dimensions_give_one_series_each() {
    let data = vec![
        series(&[("BackendIPAddress", "10.0.0.4")], &[100.0]),
        series(&[("BackendIPAddress", "10.0.0.5")], &[0.0]),
        series(&[("BackendIPAddress", "10.0.0.6")], &[0.0]),
    ];
    let star = rule(json!([criterion(
        "HealthProbeStatus",
        "Average",
        "LessThan",
        100.0,
        json!([{"name": "BackendIPAddress", "operator": "Include", "values": ["*"]}])
    )]));
    let e = evaluate(&star, &[Some(data.clone())], &State::new(), t(1));
    assert_eq!(
        transitions(&e),
        [Transition::Unchanged, Transition::Fired, Transition::Fired]
    );
    assert_eq!(
        e.series[1].conditions[0].dimensions,
        vec![("BackendIPAddress".to_string(), "10.0.0.5".to_string())]
    );
    assert_eq!(e.state.len(), 2);
    let exclude = rule(json!([criterion(
        "HealthProbeStatus",
        "Average",
        "LessThan",
        100.0,
        json!([{"name": "BackendIPAddress", "operator": "Exclude", "values": ["10.0.0.5"]}])
    )]));
    let e = evaluate(&exclude, &[Some(data.clone())], &State::new(), t(1));
    assert_eq!(transitions(&e), [Transition::Unchanged, Transition::Fired]);
    let include = rule(json!([criterion(
        "HealthProbeStatus",
        "Average",
        "LessThan",
        100.0,
        json!([{"name": "BackendIPAddress", "operator": "Include", "values": ["10.0.0.4"]}])
    )]));
    let e = evaluate(&include, &[Some(data)], &State::new(), t(1));
    assert_eq!(transitions(&e), [Transition::Unchanged]);
}

#[test]
fn dynamic_thresholds_learn_a_baseline_and_count_failing_periods() {
    let criteria = json!({"odata.type": criteria::MULTIPLE_RESOURCE, "allOf": [{
        "criterionType": "DynamicThresholdCriterion", "name": "d", "metricName": "ByteCount",
        "operator": "GreaterThan", "timeAggregation": "Total", "alertSensitivity": "High",
        "failingPeriods": {"numberOfEvaluationPeriods": 2, "minFailingPeriodsToAlert": 2}}]});
    let r = rule_with(criteria, "PT5M", "PT5M", true);
    // 40 five-minute windows alternating 100/120 per window (20 per minute / 24 per minute).
    let mut values: Vec<f64> = (0..200)
        .map(|m| if (m / 5) % 2 == 0 { 20.0 } else { 24.0 })
        .collect();
    let quiet = evaluate(
        &r,
        &[Some(vec![series(&[], &values)])],
        &State::new(),
        t(200),
    );
    assert_eq!(quiet.series[0].transition, Transition::Unchanged);
    assert!(quiet.series[0].conditions[0].threshold.is_some());
    values.extend([200.0; 5]);
    let one = evaluate(
        &r,
        &[Some(vec![series(&[], &values)])],
        &State::new(),
        t(205),
    );
    assert!(!one.series[0].met, "one failing period of two");
    values.extend([200.0; 5]);
    let two = evaluate(
        &r,
        &[Some(vec![series(&[], &values)])],
        &State::new(),
        t(210),
    );
    assert_eq!(two.series[0].transition, Transition::Fired);
    assert_eq!(two.series[0].conditions[0].metric_value, Some(1000.0));
    // Too little history: no bounds, no alert.
    let young = evaluate(
        &r,
        &[Some(vec![series(&[], &[1000.0; 20])])],
        &State::new(),
        t(20),
    );
    assert_eq!(
        (young.series[0].met, young.series[0].conditions[0].threshold),
        (false, None)
    );
    assert!(lookback(&r) > Duration::days(10));
}

#[test]
fn web_tests_fire_on_failed_locations() {
    let wt = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/webtests/ping";
    let comp = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/components/app";
    let r = metric_alert::parse(&json!({"location": "global", "properties": {"severity": 1,
        "scopes": [wt, comp], "evaluationFrequency": "PT1M", "windowSize": "PT5M",
        "criteria": {"odata.type": criteria::WEBTEST, "webTestId": wt, "componentId": comp, "failedLocationCount": 2}}}))
        .unwrap().properties;
    let loc = |name: &str, v: f64| Series {
        resource_id: comp.into(),
        dimensions: BTreeMap::from([("location".to_string(), name.to_string())]),
        points: vec![MinutePoint::single(t(0), v)],
    };
    let e = evaluate(
        &r,
        &[Some(vec![loc("a", 0.0), loc("b", 100.0)])],
        &State::new(),
        t(1),
    );
    assert_eq!(
        (e.series[0].met, e.series[0].conditions[0].metric_value),
        (false, Some(1.0))
    );
    let e = evaluate(
        &r,
        &[Some(vec![loc("a", 0.0), loc("b", 50.0)])],
        &State::new(),
        t(1),
    );
    assert_eq!(transitions(&e), [Transition::Fired]);
    assert_eq!(
        e.series[0].conditions[0].web_test_name.as_deref(),
        Some("ping")
    );
}
