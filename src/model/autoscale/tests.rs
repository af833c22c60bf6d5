//! Validation limits and messages, and the canonical JSON, of autoscale settings.

use serde_json::{Value, json};

use super::*;

const VMSS: &str =
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/vmss";

/// What `az monitor autoscale create` + the tutorial's two `rule create` calls PUT.
fn tutorial() -> Value {
    json!({
        "enabled": true,
        "name": "vmss-autoscale",
        "notifications": [{"email": {"customEmails": []}, "operation": "scale", "webhooks": []}],
        "profiles": [{
            "name": "default",
            "capacity": {"default": "3", "maximum": "20", "minimum": "2"},
            "rules": [rule("GreaterThan", 70.0, "PT5M", "Increase", "2"),
                      rule("LessThan", 30.0, "PT10M", "Decrease", "1")],
        }],
        "targetResourceUri": VMSS,
    })
}

fn rule(op: &str, threshold: f64, window: &str, direction: &str, value: &str) -> Value {
    json!({
        "metricTrigger": {
            "metricName": "Percentage CPU", "metricResourceUri": VMSS,
            "operator": op, "statistic": "Average", "threshold": threshold,
            "timeAggregation": "Average", "timeGrain": "PT1M", "timeWindow": window,
        },
        "scaleAction": {"cooldown": "PT5M", "direction": direction, "type": "ChangeCount", "value": value},
    })
}

/// The tutorial setting with `value` set at the JSON pointer `path`.
fn with(path: &str, value: Value) -> Value {
    let mut v = tutorial();
    *v.pointer_mut(path).unwrap_or_else(|| panic!("no {path}")) = value;
    v
}

fn parse(v: &Value) -> ArmResult<AutoscaleSetting> {
    parse_setting(v, "vmss-autoscale")
}

fn err(v: &Value) -> (String, String) {
    let e = parse(v).expect_err("should be rejected");
    assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
    (e.code, e.message)
}

use crate::model::error::ArmResult;

#[test]
fn the_tutorial_setting_parses() {
    let s = parse(&tutorial()).unwrap();
    let p = &s.profiles[0];
    assert_eq!(
        p.capacity,
        Capacity {
            minimum: 2,
            maximum: 20,
            default: 3
        }
    );
    assert_eq!(p.rules.len(), 2);
    let out = &p.rules[0];
    assert_eq!(out.metric_trigger.operator, ComparisonOperator::GreaterThan);
    assert_eq!(out.metric_trigger.time_window.as_secs(), 300);
    assert_eq!(out.scale_action.direction, ScaleDirection::Increase);
    assert_eq!(out.scale_action.value, 2);
    assert!(s.enabled);
    assert_eq!(s.default_profile().unwrap().name, "default");
}

#[test]
fn canonical_json_is_what_azure_answers() {
    let s = parse(&tutorial()).unwrap();
    let out = s.to_json();
    assert_eq!(out["notifications"][0]["operation"], "Scale");
    assert_eq!(
        out["notifications"][0]["email"],
        json!({"sendToSubscriptionAdministrator": false,
               "sendToSubscriptionCoAdministrators": false, "customEmails": []})
    );
    assert_eq!(
        out["predictiveAutoscalePolicy"],
        json!({"scaleMode": "Disabled", "scaleLookAheadTime": null})
    );
    let trigger = &out["profiles"][0]["rules"][0]["metricTrigger"];
    assert_eq!(trigger["metricNamespace"], "");
    assert_eq!(trigger["dimensions"], Value::Null);
    assert_eq!(trigger["dividePerInstance"], false);
    assert_eq!(trigger["threshold"], json!(70.0));
    assert_eq!(out["profiles"][0]["capacity"]["minimum"], "2");
    assert_eq!(out["profiles"][0]["rules"][0]["scaleAction"]["value"], "2");
    assert!(out.get("targetResourceLocation").is_none());
    // The canonical form parses back to the same setting.
    assert_eq!(parse(&out).unwrap(), s);
}

#[test]
fn enums_match_case_insensitively_and_come_back_in_azure_spelling() {
    let v = with(
        "/profiles/0/rules/0/metricTrigger/operator",
        json!("greaterthanorequal"),
    );
    let v = {
        let mut v = v;
        v["profiles"][0]["rules"][0]["scaleAction"]["direction"] = json!("INCREASE");
        v["profiles"][0]["rules"][0]["metricTrigger"]["timeAggregation"] = json!("maximum");
        v
    };
    let out = parse(&v).unwrap().to_json();
    let r = &out["profiles"][0]["rules"][0];
    assert_eq!(r["metricTrigger"]["operator"], "GreaterThanOrEqual");
    assert_eq!(r["metricTrigger"]["timeAggregation"], "Maximum");
    assert_eq!(r["scaleAction"]["direction"], "Increase");
}

#[test]
fn property_names_match_case_insensitively_and_counts_may_be_numbers() {
    let mut v = tutorial();
    v["profiles"][0]["Capacity"] = json!({"Minimum": 1, "Maximum": 4, "Default": 2});
    v["profiles"][0].as_object_mut().unwrap().remove("capacity");
    let s = parse(&v).unwrap();
    assert_eq!(
        s.profiles[0].capacity,
        Capacity {
            minimum: 1,
            maximum: 4,
            default: 2
        }
    );
}

#[test]
fn name_defaults_to_the_resource_name_and_enabled_to_true() {
    let mut v = tutorial();
    let o = v.as_object_mut().unwrap();
    o.remove("name");
    o.remove("enabled");
    let s = parse_setting(&v, "my-setting").unwrap();
    assert_eq!(s.name, "my-setting");
    assert!(s.enabled);
    assert_eq!(s.to_json()["name"], "my-setting");
}

#[test]
fn capacity_limits_give_azures_messages() {
    let (code, msg) = err(&with("/profiles/0/capacity/minimum", json!("6")));
    assert_eq!(code, "BadRequest");
    assert_eq!(
        msg,
        "The minimum capacity value '6' that you specified in the autoscale setting is greater than the default capacity of '3'.  Enter a minimum capacity less than '3'."
    );
    let (code, msg) = err(&with("/profiles/0/capacity/default", json!("21")));
    assert_eq!(code, "BadRequest");
    assert!(
        msg.contains("default capacity value '21'") && msg.contains("maximum capacity of '20'")
    );
    let (_, msg) = err(&with("/profiles/0/capacity/maximum", json!("1001")));
    assert!(msg.contains("'1001'") && msg.contains("'1000'"), "{msg}");
    let (_, msg) = err(&with("/profiles/0/capacity/minimum", json!("two")));
    assert!(msg.contains("'two'"), "{msg}");
    assert_eq!(
        err(&with("/profiles/0/capacity/minimum", json!("-1"))).0,
        "BadRequest"
    );
}

#[test]
fn up_to_20_profiles_and_10_rules_each() {
    let profile = tutorial()["profiles"][0].clone();
    let ok = with("/profiles", Value::Array(vec![profile.clone(); 20]));
    assert_eq!(parse(&ok).unwrap().profiles.len(), 20);
    let (code, msg) = err(&with("/profiles", Value::Array(vec![profile; 21])));
    assert_eq!(code, "BadRequest");
    assert!(
        msg.contains("21 profiles") && msg.contains("maximum of 20"),
        "{msg}"
    );
    assert_eq!(err(&with("/profiles", json!([]))).0, "BadRequest");

    let r = rule("GreaterThan", 70.0, "PT5M", "Increase", "1");
    assert!(
        parse(&with(
            "/profiles/0/rules",
            Value::Array(vec![r.clone(); 10])
        ))
        .is_ok()
    );
    let (_, msg) = err(&with("/profiles/0/rules", Value::Array(vec![r; 11])));
    assert!(
        msg.contains("'default'") && msg.contains("11 rules"),
        "{msg}"
    );
}

#[test]
fn time_grain_is_at_least_a_minute() {
    let path = "/profiles/0/rules/0/metricTrigger/timeGrain";
    let (code, msg) = err(&with(path, json!("PT30S")));
    assert_eq!(code, "BadRequest");
    assert!(
        msg.contains("time grain ('PT30S')") && msg.contains("PT1M and PT12H"),
        "{msg}"
    );
    assert!(err(&with(path, json!("PT13H"))).1.contains("time grain"));
    assert!(parse(&with(path, json!("PT5M"))).is_ok());
}

#[test]
fn time_window_is_between_a_minute_and_12_hours_and_not_below_the_grain() {
    let path = "/profiles/0/rules/0/metricTrigger/timeWindow";
    assert!(parse(&with(path, json!("PT1M"))).is_ok());
    assert!(parse(&with(path, json!("PT12H"))).is_ok());
    let (_, msg) = err(&with(path, json!("PT12H1M")));
    assert!(msg.contains("time window ('PT12H1M')"), "{msg}");
    assert!(err(&with(path, json!("PT30S"))).1.contains("time window"));
    let mut v = with(path, json!("PT5M"));
    v["profiles"][0]["rules"][0]["metricTrigger"]["timeGrain"] = json!("PT10M");
    assert!(err(&v).1.contains("shorter than its time grain"));
}

#[test]
fn cloud_services_keep_the_5_minute_window_minimum() {
    let classic = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ClassicCompute/domainNames/d/slots/Production/roles/r";
    let mut v = with(
        "/profiles/0/rules/0/metricTrigger/timeWindow",
        json!("PT4M"),
    );
    v["targetResourceUri"] = json!(classic);
    assert!(err(&v).1.contains("PT5M and PT12H"));
}

#[test]
fn cooldown_is_between_a_minute_and_a_week() {
    let path = "/profiles/0/rules/0/scaleAction/cooldown";
    assert!(parse(&with(path, json!("PT1M"))).is_ok());
    assert!(parse(&with(path, json!("P1W"))).is_ok());
    assert!(parse(&with(path, json!("P7D"))).is_ok());
    let (_, msg) = err(&with(path, json!("P8D")));
    assert!(
        msg.contains("cooldown ('P8D')") && msg.contains("PT1M and P7D"),
        "{msg}"
    );
    assert!(err(&with(path, json!("PT59S"))).1.contains("cooldown"));
}

#[test]
fn change_count_is_limited_by_the_capacity_range() {
    let path = "/profiles/0/rules/0/scaleAction/value";
    let (code, msg) = err(&with(path, json!("19")));
    assert_eq!(code, "InvalidActionValue");
    assert_eq!(
        msg,
        "The autoscale setting you provided has an invalid scale action value ('19'). Specify a scale value less than or equal to the difference between the capacity maximum 20 and the capacity minimum 2."
    );
    assert!(parse(&with(path, json!("18"))).is_ok());
    assert_eq!(err(&with(path, json!("0"))).0, "InvalidActionValue");
    assert_eq!(err(&with(path, json!("many"))).0, "InvalidActionValue");
}

#[test]
fn malformed_content_is_unsupported_request_content() {
    let mut v = tutorial();
    v.as_object_mut().unwrap().remove("targetResourceUri");
    let (code, msg) = err(&v);
    assert_eq!(code, "UnsupportedRequestContent");
    assert_eq!(msg, "Request content is not well formed or supported.");
    let bad_enum = with(
        "/profiles/0/rules/0/metricTrigger/statistic",
        json!("Median"),
    );
    assert_eq!(err(&bad_enum).0, "UnsupportedRequestContent");
    let bad_type = with("/profiles/0/rules/0/metricTrigger/threshold", json!([1]));
    assert_eq!(err(&bad_type).0, "UnsupportedRequestContent");
    let bad_duration = with(
        "/profiles/0/rules/0/scaleAction/cooldown",
        json!("5 minutes"),
    );
    assert_eq!(err(&bad_duration).0, "UnsupportedRequestContent");
}

#[test]
fn schedules_validate_time_zones_and_ranges() {
    let fixed = json!({"timeZone": "Pacific Standard Time",
                       "start": "2018-12-24T00:00:00.000Z", "end": "2018-12-26T00:00:00.000Z"});
    let mut v = tutorial();
    v["profiles"][0]["fixedDate"] = fixed.clone();
    let out = parse(&v).unwrap().to_json();
    assert_eq!(
        out["profiles"][0]["fixedDate"],
        json!({"timeZone": "Pacific Standard Time",
               "start": "2018-12-24T00:00:00Z", "end": "2018-12-26T00:00:00Z"})
    );

    v["profiles"][0]["fixedDate"]["timeZone"] = json!("Atlantis Standard Time");
    let (code, msg) = err(&v);
    assert_eq!(code, "BadRequest");
    assert!(msg.contains("'Atlantis Standard Time'"), "{msg}");

    v["profiles"][0]["fixedDate"] = fixed;
    v["profiles"][0]["fixedDate"]["end"] = json!("2018-12-23T00:00:00Z");
    assert!(err(&v).1.contains("end is not after its start"));
    v["profiles"][0]["fixedDate"]["end"] = json!("2019-12-25T00:00:00Z");
    assert!(err(&v).1.contains("365 days"));

    let recurrence = json!({"frequency": "Week", "schedule": {"timeZone": "W. Europe Standard Time",
                            "days": ["saturday", "Sunday"], "hours": [6], "minutes": [0]}});
    let mut v = tutorial();
    v["profiles"][0]["recurrence"] = recurrence.clone();
    let out = parse(&v).unwrap().to_json();
    assert_eq!(
        out["profiles"][0]["recurrence"]["schedule"]["days"],
        json!(["Saturday", "Sunday"])
    );
    v["profiles"][0]["recurrence"]["schedule"]["hours"] = json!([24]);
    assert!(err(&v).1.contains("hours (24)"));
    v["profiles"][0]["recurrence"] = recurrence.clone();
    v["profiles"][0]["recurrence"]["frequency"] = json!("Day");
    assert!(err(&v).1.contains("must be 'Week'"));
    v["profiles"][0]["recurrence"] = recurrence;
    v["profiles"][0]["fixedDate"] =
        json!({"start": "2018-12-24T00:00:00Z", "end": "2018-12-25T00:00:00Z"});
    assert!(err(&v).1.contains("both a fixed date and a recurrence"));
}

#[test]
fn notifications_and_predictive_policy_are_stored() {
    let mut v = tutorial();
    v["notifications"] = json!([{"operation": "Scale",
        "email": {"sendToSubscriptionAdministrator": true, "customEmails": ["ops@contoso.com"]},
        "webhooks": [{"serviceUri": "http://127.0.0.1:9/hook", "properties": {"k": "v"}}]}]);
    v["predictiveAutoscalePolicy"] =
        json!({"scaleMode": "forecastonly", "scaleLookAheadTime": "PT10M"});
    let s = parse(&v).unwrap();
    assert_eq!(s.predictive.scale_mode, PredictiveScaleMode::ForecastOnly);
    let out = s.to_json();
    assert_eq!(
        out["predictiveAutoscalePolicy"],
        json!({"scaleMode": "ForecastOnly", "scaleLookAheadTime": "PT10M"})
    );
    assert_eq!(
        out["notifications"][0]["webhooks"][0]["properties"]["k"],
        "v"
    );
    assert_eq!(
        out["notifications"][0]["email"]["customEmails"][0],
        "ops@contoso.com"
    );

    v["predictiveAutoscalePolicy"]["scaleLookAheadTime"] = json!("PT2H");
    assert!(err(&v).1.contains("look-ahead"));
    v["predictiveAutoscalePolicy"] = json!({"scaleMode": "Sometimes"});
    assert_eq!(err(&v).0, "UnsupportedRequestContent");
    v["predictiveAutoscalePolicy"] = json!({"scaleMode": "Enabled"});
    v["notifications"][0]["webhooks"][0]["serviceUri"] = json!("ftp://x/y");
    assert!(err(&v).1.contains("'ftp://x/y'"));
}

#[test]
fn az_scale_to_n_rules_have_direction_none() {
    let mut v = tutorial();
    v["profiles"][0]["rules"][0]["scaleAction"] =
        json!({"cooldown": "PT5M", "direction": "None", "type": "ExactCount", "value": "5"});
    let s = parse(&v).unwrap();
    let a = s.profiles[0].rules[0].scale_action;
    assert_eq!(
        (a.direction, a.scale_type, a.value),
        (ScaleDirection::None, ScaleType::ExactCount, 5)
    );
}
