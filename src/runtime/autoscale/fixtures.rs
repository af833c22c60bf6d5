//! Builders of autoscale settings for the unit tests of this module.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc, Weekday};

use crate::model::autoscale::{
    AutoscaleSetting, Capacity, ComparisonOperator, FixedDate, MetricTrigger, PredictivePolicy,
    Profile, Recurrence, RecurrenceFrequency, Rule, ScaleAction, ScaleDirection, ScaleType,
    Statistic, TimeAggregation, TimeZone,
};

pub const VMSS: &str =
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/vmss";
pub const LB: &str =
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb";

pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub fn naive(s: &str) -> NaiveDateTime {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub fn minutes(n: u64) -> Duration {
    Duration::from_secs(60 * n)
}

pub fn setting(profiles: Vec<Profile>) -> AutoscaleSetting {
    AutoscaleSetting {
        name: "vmss-autoscale".into(),
        profiles,
        notifications: Vec::new(),
        enabled: true,
        target_resource_uri: VMSS.into(),
        target_resource_location: Some("eastus".into()),
        predictive: PredictivePolicy::default(),
    }
}

pub fn profile(name: &str, minimum: u32, maximum: u32, default: u32) -> Profile {
    Profile {
        name: name.into(),
        capacity: Capacity {
            minimum,
            maximum,
            default,
        },
        rules: Vec::new(),
        fixed_date: None,
        recurrence: None,
    }
}

pub fn with_rules(mut p: Profile, rules: Vec<Rule>) -> Profile {
    p.rules = rules;
    p
}

pub fn fixed(mut p: Profile, zone: Option<&str>, start: &str, end: &str) -> Profile {
    p.fixed_date = Some(FixedDate {
        time_zone: zone.map(|z| TimeZone::resolve(z).expect("known zone")),
        start: naive(start),
        end: naive(end),
    });
    p
}

pub fn weekly(mut p: Profile, zone: &str, days: &[Weekday], hour: u32, minute: u32) -> Profile {
    p.recurrence = Some(Recurrence {
        frequency: RecurrenceFrequency::Week,
        time_zone: TimeZone::resolve(zone).expect("known zone"),
        days: days.to_vec(),
        hours: vec![hour],
        minutes: vec![minute],
    });
    p
}

/// A CPU rule like az's `--condition "Percentage CPU > 70 avg 5m" --scale out 2`.
pub fn cpu_rule(
    op: ComparisonOperator,
    threshold: f64,
    direction: ScaleDirection,
    value: u32,
) -> Rule {
    Rule {
        metric_trigger: MetricTrigger {
            metric_name: "Percentage CPU".into(),
            metric_namespace: String::new(),
            metric_resource_uri: VMSS.into(),
            metric_resource_location: None,
            time_grain: minutes(1),
            statistic: Statistic::Average,
            time_window: minutes(5),
            time_aggregation: TimeAggregation::Average,
            operator: op,
            threshold,
            dimensions: None,
            divide_per_instance: false,
        },
        scale_action: ScaleAction {
            direction,
            scale_type: ScaleType::ChangeCount,
            value,
            cooldown: minutes(5),
        },
    }
}

pub fn scale_type(mut r: Rule, scale_type: ScaleType) -> Rule {
    r.scale_action.scale_type = scale_type;
    r
}

pub fn cooldown(mut r: Rule, d: Duration) -> Rule {
    r.scale_action.cooldown = d;
    r
}

/// The rule reads a load balancer's metric instead of the scale set's.
pub fn on_load_balancer(mut r: Rule, metric: &str, divide_per_instance: bool) -> Rule {
    r.metric_trigger.metric_name = metric.into();
    r.metric_trigger.metric_resource_uri = LB.into();
    r.metric_trigger.statistic = Statistic::Sum;
    r.metric_trigger.divide_per_instance = divide_per_instance;
    r
}
