//! Validation tests for metric alerts, one rule per test.

use serde_json::{Value, json};

use super::criteria::{Criteria, Operator, Threshold, TimeAggregation};
use super::*;

const LB: &str = "/subscriptions/s/resourceGroups/myResourceGroup/providers/Microsoft.Network/loadBalancers/myLoadBalancer";
const LB2: &str = "/subscriptions/s/resourceGroups/myResourceGroup/providers/Microsoft.Network/loadBalancers/other";
const AG: &str = "/subscriptions/s/resourceGroups/myResourceGroup/providers/microsoft.insights/actionGroups/myActionGroup";

/// What `az monitor metrics alert create` sends for the tutorial's alert.
fn tutorial() -> Value {
    json!({"location": "global", "tags": {}, "properties": {
        "description": "One or more VMSS instances failed the health probe",
        "severity": 2, "enabled": true, "scopes": [LB],
        "evaluationFrequency": "PT1M", "windowSize": "PT5M",
        "criteria": {"odata.type": criteria::SINGLE_RESOURCE, "allOf": [{
            "name": "cond0", "metricName": "HealthProbeStatus", "dimensions": [],
            "operator": "LessThan", "threshold": 100.0, "timeAggregation": "Average",
            "criterionType": "StaticThresholdCriterion"}]},
        "autoMitigate": null,
        "actions": [{"actionGroupId": AG, "webHookProperties": {}}]}})
}

fn with(path: &[&str], value: Value) -> Value {
    let mut b = tutorial();
    let mut at = &mut b["properties"];
    for p in path {
        at = if let Ok(i) = p.parse::<usize>() {
            &mut at[i]
        } else {
            &mut at[*p]
        };
    }
    *at = value;
    b
}

fn message(body: Value) -> String {
    let e = parse(&body).unwrap_err();
    assert_eq!(e.code, "BadRequest", "{}", e.message);
    e.message
}

fn multi(allof: Value) -> Value {
    let mut b = with(
        &["criteria"],
        json!({"odata.type": criteria::MULTIPLE_RESOURCE, "allOf": allof}),
    );
    b["properties"]["evaluationFrequency"] = json!("PT5M");
    b
}

fn dynamic(op: &str) -> Value {
    json!({"criterionType": "DynamicThresholdCriterion", "name": "d", "metricName": "ByteCount",
        "operator": op, "timeAggregation": "Total", "alertSensitivity": "Medium",
        "failingPeriods": {"numberOfEvaluationPeriods": 4, "minFailingPeriodsToAlert": 3}})
}

#[test]
fn tutorial_alert_parses_with_defaults() {
    let a = parse(&tutorial()).unwrap();
    let p = &a.properties;
    assert_eq!((p.severity, p.enabled, p.auto_mitigate), (2, true, true));
    assert_eq!(p.window_size, Duration::from_secs(300));
    let c = &p.criteria.all_of()[0];
    assert_eq!(c.time_aggregation, TimeAggregation::Average);
    assert_eq!(
        c.threshold,
        Threshold::Static {
            operator: Operator::LessThan,
            threshold: 100.0
        }
    );
    let id = ResourceId::parse("/subscriptions/s/resourceGroups/myResourceGroup/providers/Microsoft.Insights/metricAlerts/VMSS-UnhealthyInstances").unwrap();
    let j = a.to_json(&id, chrono::DateTime::UNIX_EPOCH);
    assert_eq!(
        j["properties"]["criteria"]["allOf"][0]["threshold"],
        json!(100)
    );
    assert_eq!(j["properties"]["windowSize"], "PT5M");
    assert_eq!(j["properties"]["autoMitigate"], true);
    assert_eq!(j["location"], "global");
}

#[test]
fn checks_list_what_the_caller_looks_up() {
    let c = parse(&tutorial()).unwrap().checks();
    assert_eq!(c.metrics.len(), 1);
    assert_eq!(
        (
            c.metrics[0].scope.as_str(),
            c.metrics[0].metric_name.as_str()
        ),
        (LB, "HealthProbeStatus")
    );
    assert_eq!(c.action_groups[0].name(), "myActionGroup");
    assert!(
        metric_not_found("Nope")
            .message
            .starts_with("Couldn't find a metric named Nope")
    );
}

#[test]
fn location_must_be_global() {
    let mut b = tutorial();
    b["location"] = json!("westeurope");
    assert_eq!(
        parse(&b).unwrap_err().code,
        "LocationNotAvailableForResourceType"
    );
}

#[test]
fn severity_is_0_to_4() {
    assert!(message(with(&["severity"], json!(5))).contains("0, 1, 2, 3 and 4"));
    assert!(message(with(&["severity"], json!(-1))).contains("invalid"));
    assert!(message(with(&["severity"], Value::Null)).contains("required"));
    assert!(parse(&with(&["severity"], json!(0))).is_ok());
}

#[test]
fn description_has_a_length_limit() {
    assert!(message(with(&["description"], json!("x".repeat(2049)))).contains("2048"));
}

#[test]
fn window_and_frequency_come_from_the_documented_sets() {
    assert!(message(with(&["windowSize"], json!("PT2M"))).contains("window size 'PT2M'"));
    assert!(
        message(with(&["evaluationFrequency"], json!("PT10M"))).contains("evaluation frequency")
    );
    assert!(message(with(&["windowSize"], json!("five"))).contains("invalid"));
    assert!(parse(&with(&["windowSize"], json!("PT24H"))).is_ok());
    assert!(parse(&with(&["windowSize"], json!("PT1M"))).is_ok());
}

#[test]
fn frequency_cannot_exceed_window() {
    let mut b = with(&["windowSize"], json!("PT5M"));
    b["properties"]["evaluationFrequency"] = json!("PT15M");
    assert!(message(b).contains("less than or equal to the window size"));
}

#[test]
fn dynamic_thresholds_need_5_minutes_to_an_hour() {
    let b = with(
        &["criteria"],
        json!({"odata.type": criteria::MULTIPLE_RESOURCE, "allOf": [dynamic("GreaterThan")]}),
    );
    assert!(message(b.clone()).contains("dynamic threshold"));
    let mut ok = b;
    ok["properties"]["evaluationFrequency"] = json!("PT5M");
    let a = parse(&ok).unwrap();
    assert!(a.properties.criteria.is_dynamic());
}

#[test]
fn single_resource_criteria_need_exactly_one_resource_scope() {
    assert!(message(with(&["scopes"], json!([LB, LB2]))).contains("exactly one scope"));
    assert!(
        message(with(
            &["scopes"],
            json!(["/subscriptions/s/resourceGroups/rg"])
        ))
        .contains("exactly one scope")
    );
    assert!(message(with(&["scopes"], json!([]))).contains("at least one"));
}

#[test]
fn scopes_must_be_ids_and_distinct() {
    assert_eq!(
        parse(&with(&["scopes"], json!(["lb"]))).unwrap_err().code,
        "LinkedInvalidPropertyId"
    );
    let mut b = multi(json!([tutorial()["properties"]["criteria"]["allOf"][0]]));
    b["properties"]["scopes"] = json!([LB, LB.to_lowercase()]);
    assert!(message(b).contains("more than once"));
}

#[test]
fn multi_resource_scopes_need_target_type_and_region_and_one_type() {
    let c = tutorial()["properties"]["criteria"]["allOf"][0].clone();
    let mut b = multi(json!([c]));
    b["properties"]["scopes"] = json!([LB, LB2]);
    assert!(message(b.clone()).contains("targetResourceType"));
    b["properties"]["targetResourceType"] = json!("Microsoft.Network/loadBalancers");
    b["properties"]["targetResourceRegion"] = json!("westeurope");
    assert!(parse(&b).is_ok());
    b["properties"]["scopes"] = json!([
        LB,
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"
    ]);
    assert!(message(b.clone()).contains("of the type"));
    b["properties"]["scopes"] = json!(["/subscriptions/s/resourceGroups/rg"]);
    assert!(parse(&b).is_ok());
    assert!(matches!(
        parse(&b).unwrap().checks().scopes[0],
        Scope::ResourceGroup { .. }
    ));
}

#[test]
fn operators_are_valid_per_criterion_type() {
    assert!(
        message(with(
            &["criteria", "allOf", "0", "operator"],
            json!("Above")
        ))
        .contains("Invalid operator")
    );
    assert!(
        message(with(
            &["criteria", "allOf", "0", "operator"],
            json!("GreaterOrLessThan")
        ))
        .contains("only supported for dynamic")
    );
    assert!(
        parse(&with(
            &["criteria", "allOf", "0", "operator"],
            json!("greaterthanorequal")
        ))
        .is_ok()
    );
    assert!(message(multi(json!([dynamic("Equals")]))).contains("dynamic thresholds"));
    for op in ["GreaterThan", "LessThan", "GreaterOrLessThan"] {
        assert!(parse(&multi(json!([dynamic(op)]))).is_ok(), "{op}");
    }
}

#[test]
fn dynamic_criteria_need_multi_resource_criteria_and_sane_failing_periods() {
    assert!(
        message(with(&["criteria", "allOf", "0"], dynamic("GreaterThan")))
            .contains("not supported")
    );
    let mut d = dynamic("GreaterThan");
    d["failingPeriods"]["minFailingPeriodsToAlert"] = json!(5);
    assert!(message(multi(json!([d]))).contains("smaller than or equal"));
    let mut d = dynamic("GreaterThan");
    d["alertSensitivity"] = json!("Extreme");
    assert!(message(multi(json!([d]))).contains("alert sensitivity"));
    let mut d = dynamic("GreaterThan");
    d["ignoreDataBefore"] = json!("yesterday");
    assert!(message(multi(json!([d]))).contains("ignoreDataBefore"));
}

#[test]
fn static_criteria_need_name_metric_aggregation_and_threshold() {
    assert!(
        message(with(&["criteria", "allOf", "0", "threshold"], Value::Null))
            .contains("'threshold'")
    );
    assert!(
        message(with(&["criteria", "allOf", "0", "metricName"], json!("")))
            .contains("'metricName'")
    );
    assert!(message(with(&["criteria", "allOf", "0", "name"], Value::Null)).contains("'name'"));
    assert!(
        message(with(
            &["criteria", "allOf", "0", "timeAggregation"],
            json!("Median")
        ))
        .contains("time aggregation")
    );
    assert!(message(with(&["criteria", "odata.type"], json!("Other"))).contains("not supported"));
    assert!(message(with(&["criteria", "allOf"], json!([]))).contains("at least one condition"));
}

#[test]
fn at_most_five_uniquely_named_conditions() {
    let c = |n: usize| {
        json!({"name": format!("c{n}"), "metricName": "ByteCount", "operator": "GreaterThan",
        "threshold": 1, "timeAggregation": "Total", "criterionType": "StaticThresholdCriterion"})
    };
    assert!(
        parse(&with(
            &["criteria", "allOf"],
            json!((0..5).map(c).collect::<Vec<_>>())
        ))
        .is_ok()
    );
    assert!(
        message(with(
            &["criteria", "allOf"],
            json!((0..6).map(c).collect::<Vec<_>>())
        ))
        .contains("at most 5")
    );
    assert!(message(with(&["criteria", "allOf"], json!([c(1), c(1)]))).contains("more than once"));
}

#[test]
fn dimensions_need_include_or_exclude_and_values() {
    let d = |op: &str, values: Value| {
        with(
            &["criteria", "allOf", "0", "dimensions"],
            json!([{"name": "BackendIPAddress", "operator": op, "values": values}]),
        )
    };
    assert!(parse(&d("Include", json!(["*"]))).is_ok());
    assert!(parse(&d("Exclude", json!(["10.0.0.4"]))).is_ok());
    assert!(message(d("Equals", json!(["a"]))).contains("dimension operator"));
    assert!(message(d("Include", json!([]))).contains("at least one value"));
    assert!(message(d("Exclude", json!(["*"]))).contains("can't exclude"));
}

#[test]
fn several_conditions_need_single_dimension_values_and_no_dynamic() {
    let c = |n: &str, values: Value| {
        json!({"name": n, "metricName": "ByteCount", "operator": "GreaterThan",
        "threshold": 1, "timeAggregation": "Total", "criterionType": "StaticThresholdCriterion",
        "dimensions": [{"name": "Direction", "operator": "Include", "values": values}]})
    };
    assert!(
        parse(&with(
            &["criteria", "allOf"],
            json!([c("a", json!(["In"])), c("b", json!(["In"]))])
        ))
        .is_ok()
    );
    assert!(
        message(with(
            &["criteria", "allOf"],
            json!([c("a", json!(["*"])), c("b", json!(["In"]))])
        ))
        .contains("exactly one value")
    );
    assert!(
        message(multi(json!([
            dynamic("GreaterThan"),
            c("b", json!(["In"]))
        ])))
        .contains("multiple conditions")
    );
}

#[test]
fn actions_must_name_action_groups_once() {
    assert_eq!(
        parse(&with(&["actions", "0", "actionGroupId"], json!("nope")))
            .unwrap_err()
            .code,
        "LinkedInvalidPropertyId"
    );
    assert!(message(with(&["actions", "0", "actionGroupId"], json!(LB))).contains("is invalid"));
    assert!(
        message(with(
            &["actions"],
            json!([{"actionGroupId": AG}, {"actionGroupId": AG.to_uppercase()}])
        ))
        .contains("more than once")
    );
    assert!(
        message(with(
            &["actions", "0", "webHookProperties"],
            json!({"k": 1})
        ))
        .contains("webHookProperties")
    );
    let a = parse(&with(
        &["actions", "0", "webHookProperties"],
        json!({"k": "v"}),
    ))
    .unwrap();
    assert_eq!(a.properties.actions[0].web_hook_properties["k"], "v");
}

#[test]
fn webtest_criteria_need_their_ids_in_the_scopes() {
    let wt = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/webtests/t";
    let comp = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/components/c";
    let mut b = with(
        &["criteria"],
        json!({"odata.type": criteria::WEBTEST, "webTestId": wt,
        "componentId": comp, "failedLocationCount": 2}),
    );
    b["properties"]["scopes"] = json!([wt]);
    assert!(message(b.clone()).contains("is missing"));
    b["properties"]["scopes"] = json!([wt, comp]);
    let a = parse(&b).unwrap();
    assert!(matches!(
        a.properties.criteria,
        Criteria::WebtestLocationAvailability { .. }
    ));
    b["properties"]["criteria"]["failedLocationCount"] = json!(0);
    assert!(message(b).contains("at least 1"));
}

#[test]
fn what_azure_returns_parses_back_to_the_same_rule() {
    // `az monitor metrics alert update` is a generic update: GET, edit, PUT the whole body.
    let id = ResourceId::parse(
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/metricAlerts/a",
    )
    .unwrap();
    let mut d = dynamic("GreaterOrLessThan");
    d["ignoreDataBefore"] = json!("2025-01-01T00:00:00Z");
    d["dimensions"] = json!([{"name": "Direction", "operator": "Exclude", "values": ["In"]}]);
    for body in [tutorial(), multi(json!([d]))] {
        let a = parse(&body).unwrap();
        let again = parse(&a.to_json(&id, chrono::DateTime::UNIX_EPOCH)).unwrap();
        assert_eq!(again, a);
    }
}
