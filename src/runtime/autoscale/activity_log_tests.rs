use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::model::autoscale::ComparisonOperator::{GreaterThan, LessThan};
use crate::model::autoscale::ScaleDirection::{Decrease, Increase};
use crate::runtime::autoscale::fixtures::*;

const SETTING_ID: &str = "/subscriptions/sub/resourceGroups/rg/providers/microsoft.insights/autoscalesettings/vmss-autoscale";

struct Fixture {
    id: ResourceId,
    setting: AutoscaleSetting,
}

fn fixture() -> Fixture {
    let p = with_rules(
        profile("default", 2, 20, 3),
        vec![
            cpu_rule(GreaterThan, 70.0, Increase, 2),
            cpu_rule(LessThan, 30.0, Decrease, 1),
        ],
    );
    Fixture {
        id: ResourceId::parse(SETTING_ID).unwrap(),
        setting: setting(vec![p]),
    }
}

fn context(f: &Fixture, old: u32, new: u32) -> Context<'_> {
    Context {
        setting_id: &f.id,
        setting: &f.setting,
        profile: &f.setting.profiles[0],
        old_capacity: old,
        new_capacity: new,
        last_scale_action_time: Some(at("2017-07-21T01:00:51Z")),
        event_timestamp: at("2017-07-21T01:00:51.8681572Z"),
        correlation_id: Uuid::from_u128(1),
        event_data_id: Uuid::from_u128(2),
    }
}

#[test]
fn a_scale_in_is_recorded_as_azure_records_it() {
    let f = fixture();
    let r = record(&Activity::ScaleInitiated, &context(&f, 3, 2));
    assert_eq!(r["caller"], "Microsoft.Insights/autoscaleSettings");
    assert_eq!(r["channels"], "Admin, Operation");
    assert_eq!(
        r["category"],
        json!({"value": "Autoscale", "localizedValue": "Autoscale"})
    );
    assert_eq!(r["eventName"]["value"], "AutoscaleAction");
    assert_eq!(
        r["operationName"]["value"],
        "Microsoft.Insights/AutoscaleSettings/Scaledown/Action"
    );
    assert_eq!(r["status"]["value"], "Started");
    assert_eq!(r["level"], "Informational");
    assert_eq!(r["resourceId"], SETTING_ID);
    assert_eq!(r["resourceGroupName"], "rg");
    assert_eq!(
        r["resourceType"]["value"],
        "microsoft.insights/autoscalesettings"
    );
    assert_eq!(r["subscriptionId"], "sub");
    assert_eq!(r["eventTimestamp"], "2017-07-21T01:00:51.8681572Z");
    assert_eq!(
        r["id"],
        format!(
            "{SETTING_ID}/events/{}/ticks/636361956518681572",
            Uuid::from_u128(2)
        )
    );
    let p = &r["properties"];
    let description = format!(
        "The autoscale engine attempting to scale resource '{VMSS}' from 3 instances count to 2 instances count."
    );
    assert_eq!(p["Description"], description);
    assert_eq!(r["description"], description);
    assert_eq!(p["ResourceName"], VMSS);
    assert_eq!(p["OldInstancesCount"], "3");
    assert_eq!(p["NewInstancesCount"], "2");
    assert_eq!(p["LastScaleActionTime"], "Fri, 21 Jul 2017 01:00:51 GMT");
    let profile: Value =
        serde_json::from_str(p["ActiveAutoscaleProfile"].as_str().unwrap()).unwrap();
    assert_eq!(
        profile["Capacity"],
        json!({"Minimum": "2", "Maximum": "20", "Default": "3"})
    );
    assert_eq!(profile["Rules"][0]["MetricTrigger"]["TimeWindow"], "PT5M");
    assert_eq!(profile["Rules"][0]["ScaleAction"]["Direction"], "Increase");
    assert_eq!(
        profile["Rules"][1]["MetricTrigger"]["Dimensions"],
        json!([])
    );
}

#[test]
fn completion_shares_the_correlation_id_and_reports_success_or_failure() {
    let f = fixture();
    let ctx = context(&f, 3, 5);
    let started = record(&Activity::ScaleInitiated, &ctx);
    let done = record(
        &Activity::ScaleCompleted { error: None },
        &Context {
            event_data_id: Uuid::from_u128(3),
            ..ctx
        },
    );
    assert_eq!(started["correlationId"], done["correlationId"]);
    assert_eq!(
        done["operationName"]["value"],
        "Microsoft.Insights/AutoscaleSettings/Scaleup/Action"
    );
    assert_eq!(done["eventName"]["value"], "GetOperationStatusResult");
    assert_eq!(done["status"]["value"], "Succeeded");
    assert_eq!(
        done["properties"],
        json!({"OldInstancesCount": "3", "NewInstancesCount": "5"})
    );

    let failed = record(
        &Activity::ScaleCompleted {
            error: Some("quota exceeded".into()),
        },
        &ctx,
    );
    assert_eq!(failed["status"]["value"], "Failed");
    assert_eq!(failed["level"], "Error");
    assert_eq!(failed["properties"]["Error"], "quota exceeded");
}

#[test]
fn flapping_records_use_azures_descriptions() {
    let f = fixture();
    let r = record(&Activity::Flapping { intended: 1 }, &context(&f, 2, 2));
    assert_eq!(r["eventName"]["value"], "Flapping");
    assert_eq!(
        r["operationName"]["value"],
        "Microsoft.Insights/AutoscaleSettings/Flapping/Action"
    );
    assert_eq!(
        r["properties"]["Description"],
        format!(
            "Cannot scale down due to flapping observed. Resource: '{VMSS}'. Current instance count: '2', Intended new instance count '1'"
        )
    );
    assert_eq!(r["properties"]["NewInstancesCount"], "2");

    let r = record(
        &Activity::FlappingOccurred {
            intended: 1,
            actual: 4,
        },
        &context(&f, 6, 4),
    );
    assert_eq!(r["eventName"]["value"], "FlappingOccurred");
    assert_eq!(r["status"]["value"], "Succeeded");
    assert!(r["description"].as_str().unwrap().ends_with(
        "Current instance count: '6', Intended new instance count: '1'. Actual new instance count: '4'"
    ));
    assert_eq!(r["properties"]["NewInstancesCount"], "4");
}

#[test]
fn metric_failure_and_recovery_are_recorded() {
    let f = fixture();
    let r = record(&Activity::MetricFailure, &context(&f, 2, 3));
    assert_eq!(r["eventName"]["value"], "MetricFailure");
    assert_eq!(r["status"]["value"], "Failed");
    assert!(
        r["properties"]["Notes"]
            .as_str()
            .unwrap()
            .starts_with("To ensure service availability")
    );
    let r = record(&Activity::MetricRecovery, &context(&f, 3, 3));
    assert_eq!(r["status"]["value"], "Succeeded");
    assert_eq!(r["properties"], json!({}));
}

#[test]
fn ticks_count_from_year_one() {
    assert_eq!(
        dotnet_ticks(Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap()),
        621_355_968_000_000_000
    );
}
