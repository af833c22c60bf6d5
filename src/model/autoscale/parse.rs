//! Parses a request's `properties` into an [`AutoscaleSetting`], checking what Azure checks.
//!
//! Like Azure's JSON reader (Newtonsoft), property names match case-insensitively, numbers
//! may come as numeric strings (ARM templates send `"minimum": 2`), and enum values match
//! case-insensitively. Limits:
//! - 1–20 profiles, up to 10 rules each (spec);
//! - capacity: minimum ≤ default ≤ maximum, maximum ≤ 1000 (a scale set's instance limit;
//!   the portal and Terraform's schema use 0–1000);
//! - `timeGrain` PT1M–PT12H, `cooldown` PT1M–P1W (spec descriptions);
//! - `timeWindow` up to PT12H and at least PT1M, or PT5M for Cloud Services: the spec still
//!   says "between 12 hours and 5 minutes", but Azure lowered the minimum to 1 minute for
//!   everything but `Microsoft.ClassicCompute` (Microsoft's answer in
//!   Azure/azure-powershell#11556; Azure's own flapping doc shows a `PT1M` window);
//! - `ChangeCount` values up to maximum − minimum (Azure's `InvalidActionValue`);
//! - fixed dates no longer than 365 days (autoscale-understanding-settings);
//! - recurrence frequency `Week` ("This value must be Week", spec).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::errors::{self, malformed};
use super::read::{
    Obj, array, boolean, count, date_time, duration, enumeration, field, number, object,
    optional_string, required, string, weekday,
};
use super::{
    AutoscaleSetting, Capacity, ComparisonOperator, Dimension, DimensionOperator, Email, FixedDate,
    MAX_PROFILES, MAX_RULES, MetricTrigger, Notification, PredictivePolicy, PredictiveScaleMode,
    Profile, Recurrence, RecurrenceFrequency, Rule, ScaleAction, ScaleDirection, ScaleType,
    Statistic, TimeAggregation, TimeZone, Webhook,
};
use crate::model::error::ArmResult;
use crate::model::id::ResourceId;

/// A scale set holds at most 1000 instances, so no profile may ask for more.
pub const MAX_CAPACITY: u32 = 1000;

const MINUTE: Duration = Duration::from_secs(60);
const TWELVE_HOURS: Duration = Duration::from_secs(12 * 3600);
const ONE_WEEK: Duration = Duration::from_secs(7 * 86_400);
const ONE_HOUR: Duration = Duration::from_secs(3600);

/// Parses and validates the `properties` of a PUT. `resource_name` fills `properties.name`
/// when the client left it out (Azure echoes the setting's name there).
pub fn parse_setting(properties: &Value, resource_name: &str) -> ArmResult<AutoscaleSetting> {
    let props = object(properties)?;
    let target_resource_uri = string(required(props, "targetResourceUri")?)?.to_string();
    let target = ResourceId::parse(&target_resource_uri)?;
    let classic = target
        .namespace
        .eq_ignore_ascii_case("Microsoft.ClassicCompute");

    let profiles = array(required(props, "profiles")?)?;
    if profiles.is_empty() {
        return Err(errors::no_profiles());
    }
    if profiles.len() > MAX_PROFILES {
        return Err(errors::too_many_profiles(profiles.len(), MAX_PROFILES));
    }
    let profiles = profiles
        .iter()
        .map(|p| parse_profile(p, classic))
        .collect::<ArmResult<Vec<_>>>()?;

    let notifications = match field(props, "notifications") {
        Some(v) => array(v)?
            .iter()
            .map(parse_notification)
            .collect::<ArmResult<_>>()?,
        None => Vec::new(),
    };
    let predictive = match field(props, "predictiveAutoscalePolicy") {
        Some(v) => parse_predictive(object(v)?)?,
        None => PredictivePolicy::default(),
    };
    Ok(AutoscaleSetting {
        name: optional_string(props, "name")?.unwrap_or_else(|| resource_name.to_string()),
        profiles,
        notifications,
        enabled: field(props, "enabled")
            .map(boolean)
            .transpose()?
            .unwrap_or(true),
        target_resource_uri,
        target_resource_location: optional_string(props, "targetResourceLocation")?,
        predictive,
    })
}

fn parse_profile(value: &Value, classic: bool) -> ArmResult<Profile> {
    let p = object(value)?;
    let name = string(required(p, "name")?)?.to_string();
    let capacity = parse_capacity(object(required(p, "capacity")?)?)?;
    let rules = array(required(p, "rules")?)?;
    if rules.len() > MAX_RULES {
        return Err(errors::too_many_rules(&name, rules.len(), MAX_RULES));
    }
    let rules = rules
        .iter()
        .map(|r| parse_rule(r, &capacity, classic))
        .collect::<ArmResult<Vec<_>>>()?;
    let fixed_date = field(p, "fixedDate")
        .map(|v| parse_fixed_date(object(v)?, &name))
        .transpose()?;
    let recurrence = field(p, "recurrence")
        .map(|v| parse_recurrence(object(v)?, &name))
        .transpose()?;
    if fixed_date.is_some() && recurrence.is_some() {
        return Err(errors::both_schedules(&name));
    }
    Ok(Profile {
        name,
        capacity,
        rules,
        fixed_date,
        recurrence,
    })
}

fn parse_capacity(c: &Obj) -> ArmResult<Capacity> {
    let minimum = count(required(c, "minimum")?)?;
    let maximum = count(required(c, "maximum")?)?;
    let default = count(required(c, "default")?)?;
    if minimum > default {
        return Err(errors::min_above_default(minimum, default));
    }
    if default > maximum {
        return Err(errors::default_above_max(default, maximum));
    }
    if maximum > MAX_CAPACITY {
        return Err(errors::max_above_limit(maximum, MAX_CAPACITY));
    }
    Ok(Capacity {
        minimum,
        maximum,
        default,
    })
}

fn parse_rule(value: &Value, capacity: &Capacity, classic: bool) -> ArmResult<Rule> {
    let r = object(value)?;
    let t = object(required(r, "metricTrigger")?)?;
    let a = object(required(r, "scaleAction")?)?;

    let grain_text = string(required(t, "timeGrain")?)?;
    let time_grain = duration(grain_text)?;
    check_range("time grain", grain_text, time_grain, MINUTE, TWELVE_HOURS)?;
    let window_text = string(required(t, "timeWindow")?)?;
    let time_window = duration(window_text)?;
    let min_window = if classic { 5 * MINUTE } else { MINUTE };
    check_range(
        "time window",
        window_text,
        time_window,
        min_window,
        TWELVE_HOURS,
    )?;
    if time_window < time_grain {
        return Err(errors::window_below_grain(window_text, grain_text));
    }
    let dimensions = field(t, "dimensions")
        .map(|v| -> ArmResult<Vec<Dimension>> { array(v)?.iter().map(parse_dimension).collect() })
        .transpose()?;
    let metric_trigger = MetricTrigger {
        metric_name: string(required(t, "metricName")?)?.to_string(),
        metric_namespace: optional_string(t, "metricNamespace")?.unwrap_or_default(),
        metric_resource_uri: string(required(t, "metricResourceUri")?)?.to_string(),
        metric_resource_location: optional_string(t, "metricResourceLocation")?,
        time_grain,
        statistic: enumeration(required(t, "statistic")?, Statistic::parse)?,
        time_window,
        time_aggregation: enumeration(required(t, "timeAggregation")?, TimeAggregation::parse)?,
        operator: enumeration(required(t, "operator")?, ComparisonOperator::parse)?,
        threshold: number(required(t, "threshold")?)?,
        dimensions,
        divide_per_instance: field(t, "dividePerInstance")
            .map(boolean)
            .transpose()?
            .unwrap_or(false),
    };
    ResourceId::parse(&metric_trigger.metric_resource_uri)?;

    let cooldown_text = string(required(a, "cooldown")?)?;
    let cooldown = duration(cooldown_text)?;
    check_range("cooldown", cooldown_text, cooldown, MINUTE, ONE_WEEK)?;
    let scale_type = enumeration(required(a, "type")?, ScaleType::parse)?;
    let value_text = match field(a, "value") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(malformed()),
        None => "1".to_string(),
    };
    let value = value_text.trim().parse::<u32>().ok();
    let value = match scale_type {
        ScaleType::ChangeCount => {
            let v = value
                .filter(|v| *v >= 1)
                .ok_or_else(|| errors::action_value_below_one(&value_text))?;
            if v > capacity.maximum - capacity.minimum {
                return Err(errors::invalid_action_value(
                    &value_text,
                    capacity.maximum,
                    capacity.minimum,
                ));
            }
            v
        }
        ScaleType::PercentChangeCount => value
            .filter(|v| *v >= 1)
            .ok_or_else(|| errors::action_value_below_one(&value_text))?,
        ScaleType::ExactCount | ScaleType::ServiceAllowedNextValue => {
            value.ok_or_else(|| errors::action_value_below_one(&value_text))?
        }
    };
    Ok(Rule {
        metric_trigger,
        scale_action: ScaleAction {
            direction: enumeration(required(a, "direction")?, ScaleDirection::parse)?,
            scale_type,
            value,
            cooldown,
        },
    })
}

fn parse_dimension(value: &Value) -> ArmResult<Dimension> {
    let d = object(value)?;
    Ok(Dimension {
        dimension_name: string(required(d, "DimensionName")?)?.to_string(),
        operator: enumeration(required(d, "Operator")?, DimensionOperator::parse)?,
        values: array(required(d, "Values")?)?
            .iter()
            .map(|v| string(v).map(str::to_string))
            .collect::<ArmResult<_>>()?,
    })
}

fn parse_fixed_date(f: &Obj, profile: &str) -> ArmResult<FixedDate> {
    let time_zone = optional_string(f, "timeZone")?
        .map(|name| TimeZone::resolve(&name).ok_or_else(|| errors::unknown_time_zone(&name)))
        .transpose()?;
    let start = date_time(string(required(f, "start")?)?)?;
    let end = date_time(string(required(f, "end")?)?)?;
    if end <= start {
        return Err(errors::fixed_date_order(profile));
    }
    if end - start > chrono::Duration::days(365) {
        return Err(errors::fixed_date_too_long(profile));
    }
    Ok(FixedDate {
        time_zone,
        start,
        end,
    })
}

fn parse_recurrence(r: &Obj, profile: &str) -> ArmResult<Recurrence> {
    let frequency_text = string(required(r, "frequency")?)?;
    let frequency = enumeration(required(r, "frequency")?, RecurrenceFrequency::parse)?;
    if frequency != RecurrenceFrequency::Week {
        return Err(errors::recurrence_not_weekly(frequency_text));
    }
    let s = object(required(r, "schedule")?)?;
    let zone = string(required(s, "timeZone")?)?;
    let time_zone = TimeZone::resolve(zone).ok_or_else(|| errors::unknown_time_zone(zone))?;
    let days = array(required(s, "days")?)?
        .iter()
        .map(|d| string(d).and_then(|d| weekday(d).ok_or_else(malformed)))
        .collect::<ArmResult<Vec<_>>>()?;
    let hours = schedule_numbers(required(s, "hours")?, "hours", 23)?;
    let minutes = schedule_numbers(required(s, "minutes")?, "minutes", 59)?;
    if days.is_empty() || hours.is_empty() || minutes.is_empty() {
        return Err(errors::empty_schedule(profile));
    }
    Ok(Recurrence {
        frequency,
        time_zone,
        days,
        hours,
        minutes,
    })
}

fn schedule_numbers(value: &Value, what: &str, max: u32) -> ArmResult<Vec<u32>> {
    array(value)?
        .iter()
        .map(|v| {
            let n = v.as_i64().ok_or_else(malformed)?;
            u32::try_from(n)
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| errors::schedule_value(what, n, max))
        })
        .collect()
}

fn parse_notification(value: &Value) -> ArmResult<Notification> {
    let n = object(value)?;
    let operation = string(required(n, "operation")?)?;
    if !operation.eq_ignore_ascii_case("Scale") {
        return Err(malformed());
    }
    let email = field(n, "email")
        .map(|v| {
            let e = object(v)?;
            let flag = |key: &str| {
                field(e, key)
                    .map(boolean)
                    .transpose()
                    .map(|b| b.unwrap_or(false))
            };
            Ok::<_, crate::model::error::ArmError>(Email {
                send_to_subscription_administrator: flag("sendToSubscriptionAdministrator")?,
                send_to_subscription_co_administrators: flag("sendToSubscriptionCoAdministrators")?,
                custom_emails: match field(e, "customEmails") {
                    Some(v) => array(v)?
                        .iter()
                        .map(|s| string(s).map(str::to_string))
                        .collect::<ArmResult<_>>()?,
                    None => Vec::new(),
                },
            })
        })
        .transpose()?;
    let webhooks = match field(n, "webhooks") {
        Some(v) => array(v)?
            .iter()
            .map(parse_webhook)
            .collect::<ArmResult<_>>()?,
        None => Vec::new(),
    };
    Ok(Notification { email, webhooks })
}

fn parse_webhook(value: &Value) -> ArmResult<Webhook> {
    let w = object(value)?;
    let service_uri = string(required(w, "serviceUri")?)?.to_string();
    let scheme_ok = ["http://", "https://"].iter().any(|s| {
        service_uri.len() > s.len()
            && service_uri
                .get(..s.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(s))
    });
    if !scheme_ok || service_uri.contains(char::is_whitespace) {
        return Err(errors::invalid_webhook_uri(&service_uri));
    }
    let mut properties = BTreeMap::new();
    if let Some(v) = field(w, "properties") {
        for (k, v) in object(v)? {
            properties.insert(k.clone(), string(v)?.to_string());
        }
    }
    Ok(Webhook {
        service_uri,
        properties,
    })
}

fn parse_predictive(p: &Obj) -> ArmResult<PredictivePolicy> {
    let scale_mode = enumeration(required(p, "scaleMode")?, PredictiveScaleMode::parse)?;
    let scale_look_ahead_time = optional_string(p, "scaleLookAheadTime")?
        .map(|text| {
            let d = duration(&text)?;
            check_range("scale look-ahead time", &text, d, MINUTE, ONE_HOUR)?;
            Ok::<_, crate::model::error::ArmError>(d)
        })
        .transpose()?;
    Ok(PredictivePolicy {
        scale_mode,
        scale_look_ahead_time,
    })
}

fn check_range(what: &str, text: &str, d: Duration, min: Duration, max: Duration) -> ArmResult<()> {
    if d < min || d > max {
        return Err(errors::duration_out_of_range(what, text, min, max));
    }
    Ok(())
}
