//! The canonical JSON of a setting's `properties`, as Azure returns it (GET/PUT answers
//! recorded by azure-cli's `test_monitor_autoscale_*` against api-version 2022-10-01):
//! counts and action values as strings, thresholds as numbers, `metricNamespace` `""`,
//! `dimensions` `null` and `dividePerInstance` `false` when not given, notification
//! operation `"Scale"`, and `predictiveAutoscalePolicy` `{"scaleMode":"Disabled",
//! "scaleLookAheadTime":null}` when absent.

use std::time::Duration;

use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

use super::{AutoscaleSetting, FixedDate, MetricTrigger, Notification, Profile, Recurrence, Rule};

impl AutoscaleSetting {
    /// The `properties` object as Azure answers it.
    pub fn to_json(&self) -> Value {
        let mut props = Map::new();
        props.insert(
            "profiles".into(),
            Value::Array(self.profiles.iter().map(profile).collect()),
        );
        props.insert("enabled".into(), json!(self.enabled));
        props.insert("name".into(), json!(self.name));
        props.insert("targetResourceUri".into(), json!(self.target_resource_uri));
        if let Some(location) = &self.target_resource_location {
            props.insert("targetResourceLocation".into(), json!(location));
        }
        props.insert(
            "notifications".into(),
            Value::Array(self.notifications.iter().map(notification).collect()),
        );
        props.insert(
            "predictiveAutoscalePolicy".into(),
            json!({
                "scaleMode": self.predictive.scale_mode.as_str(),
                "scaleLookAheadTime": self.predictive.scale_look_ahead_time.map(xml_duration),
            }),
        );
        Value::Object(props)
    }
}

fn profile(p: &Profile) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(p.name));
    out.insert(
        "capacity".into(),
        json!({
            "minimum": p.capacity.minimum.to_string(),
            "maximum": p.capacity.maximum.to_string(),
            "default": p.capacity.default.to_string(),
        }),
    );
    out.insert(
        "rules".into(),
        Value::Array(p.rules.iter().map(rule).collect()),
    );
    if let Some(fixed) = &p.fixed_date {
        out.insert("fixedDate".into(), fixed_date(fixed));
    }
    if let Some(recurrence) = &p.recurrence {
        out.insert("recurrence".into(), recurrence_json(recurrence));
    }
    Value::Object(out)
}

fn rule(r: &Rule) -> Value {
    let a = &r.scale_action;
    json!({
        "metricTrigger": metric_trigger(&r.metric_trigger),
        "scaleAction": {
            "direction": a.direction.as_str(),
            "type": a.scale_type.as_str(),
            "value": a.value.to_string(),
            "cooldown": xml_duration(a.cooldown),
        },
    })
}

fn metric_trigger(t: &MetricTrigger) -> Value {
    let mut out = Map::new();
    out.insert("metricName".into(), json!(t.metric_name));
    out.insert("metricNamespace".into(), json!(t.metric_namespace));
    out.insert("metricResourceUri".into(), json!(t.metric_resource_uri));
    if let Some(location) = &t.metric_resource_location {
        out.insert("metricResourceLocation".into(), json!(location));
    }
    out.insert("timeGrain".into(), json!(xml_duration(t.time_grain)));
    out.insert("statistic".into(), json!(t.statistic.as_str()));
    out.insert("timeWindow".into(), json!(xml_duration(t.time_window)));
    out.insert("timeAggregation".into(), json!(t.time_aggregation.as_str()));
    out.insert("operator".into(), json!(t.operator.as_str()));
    out.insert("threshold".into(), json!(t.threshold));
    let dimensions = t.dimensions.as_ref().map(|dims| {
        dims.iter()
            .map(|d| {
                json!({
                    "DimensionName": d.dimension_name,
                    "Operator": d.operator.as_str(),
                    "Values": d.values,
                })
            })
            .collect::<Vec<_>>()
    });
    out.insert("dimensions".into(), json!(dimensions));
    out.insert("dividePerInstance".into(), json!(t.divide_per_instance));
    Value::Object(out)
}

fn fixed_date(f: &FixedDate) -> Value {
    let mut out = Map::new();
    if let Some(zone) = &f.time_zone {
        out.insert("timeZone".into(), json!(zone.name));
    }
    out.insert("start".into(), json!(date_time(f.start)));
    out.insert("end".into(), json!(date_time(f.end)));
    Value::Object(out)
}

fn recurrence_json(r: &Recurrence) -> Value {
    let days: Vec<String> = r
        .days
        .iter()
        .map(|d| weekday_name(*d).to_string())
        .collect();
    json!({
        "frequency": r.frequency.as_str(),
        "schedule": {
            "timeZone": r.time_zone.name,
            "days": days,
            "hours": r.hours,
            "minutes": r.minutes,
        },
    })
}

fn notification(n: &Notification) -> Value {
    let webhooks: Vec<Value> = n
        .webhooks
        .iter()
        .map(|w| json!({ "serviceUri": w.service_uri, "properties": w.properties }))
        .collect();
    let email = n.email.as_ref().map(|e| {
        json!({
            "sendToSubscriptionAdministrator": e.send_to_subscription_administrator,
            "sendToSubscriptionCoAdministrators": e.send_to_subscription_co_administrators,
            "customEmails": e.custom_emails,
        })
    });
    json!({ "operation": "Scale", "email": email, "webhooks": webhooks })
}

/// `Sunday` … `Saturday`.
pub(crate) fn weekday_name(day: chrono::Weekday) -> &'static str {
    use chrono::Weekday::*;
    match day {
        Mon => "Monday",
        Tue => "Tuesday",
        Wed => "Wednesday",
        Thu => "Thursday",
        Fri => "Friday",
        Sat => "Saturday",
        Sun => "Sunday",
    }
}

/// Azure stores the date-time normalised to UTC and answers it with `Z`
/// ("2018-12-24T00:00:00.000Z" comes back as "2018-12-24T00:00:00Z").
fn date_time(t: NaiveDateTime) -> String {
    format!("{}Z", t.format("%Y-%m-%dT%H:%M:%S%.f"))
}

/// A duration as .NET's `XmlConvert` writes a `TimeSpan`, which is how Azure answers:
/// `PT1M`, `PT5M`, `PT1H`, `P7D`, `PT1H30M`, `PT0S`.
pub fn xml_duration(d: Duration) -> String {
    let total = d.as_secs();
    let (days, hours, minutes, seconds) = (
        total / 86_400,
        total % 86_400 / 3600,
        total % 3600 / 60,
        total % 60,
    );
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if hours > 0 || minutes > 0 || seconds > 0 || d.subsec_millis() > 0 || days == 0 {
        out.push('T');
        if hours > 0 {
            out.push_str(&format!("{hours}H"));
        }
        if minutes > 0 {
            out.push_str(&format!("{minutes}M"));
        }
        let millis = d.subsec_millis();
        if millis > 0 {
            out.push_str(&format!("{seconds}.{millis:03}S"));
        } else if seconds > 0 || (hours == 0 && minutes == 0) {
            out.push_str(&format!("{seconds}S"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_written_as_dotnet_writes_timespans() {
        let m = |n: u64| Duration::from_secs(n * 60);
        assert_eq!(xml_duration(m(1)), "PT1M");
        assert_eq!(xml_duration(m(60)), "PT1H");
        assert_eq!(xml_duration(m(90)), "PT1H30M");
        assert_eq!(xml_duration(m(7 * 24 * 60)), "P7D");
        assert_eq!(xml_duration(m(12 * 60)), "PT12H");
        assert_eq!(xml_duration(Duration::ZERO), "PT0S");
        assert_eq!(xml_duration(Duration::from_secs(86_400 + 30)), "P1DT30S");
    }
}
