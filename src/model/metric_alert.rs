//! Metric alert rules (`Microsoft.Insights/metricAlerts`, api-version 2018-03-01).
//!
//! [`parse`] validates a PUT body as far as it can without looking anything up;
//! [`MetricAlert::checks`] lists what the caller must look up (scopes, metric names, action
//! groups) and the `*_not_found` constructors give the errors for a failed look-up.
//! Metric-alert validation errors have the code `BadRequest`, as the service's do
//! (`BadRequest: Couldn't find a metric named X.`); most messages are armlet's wording.

mod checks;
pub mod criteria;
mod criterion;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::duration;
use super::error::{ArmError, ArmResult};
use super::global;
use super::id::ResourceId;
use super::merge::strip_nulls;
pub use checks::*;
use criteria::Criteria;

pub const RESOURCE_TYPE: &str = "Microsoft.Insights/metricAlerts";
/// Azure Monitor service limits: alert rule descriptions have at most 2,048 characters.
pub const DESCRIPTION_MAX: usize = 2048;

const MINUTE: u64 = 60;
/// The values the Azure docs' ARM templates allow for a static threshold rule
/// ("Resource Manager template samples for metric alert rules"): window 1m..24h, frequency 1m..1h.
pub const STATIC_WINDOWS: &[u64] = &[1, 5, 15, 30, 60, 360, 720, 1440];
pub const STATIC_FREQUENCIES: &[u64] = &[1, 5, 15, 30, 60];
/// The same samples for a dynamic threshold rule: both between five minutes and one hour.
pub const DYNAMIC_WINDOWS: &[u64] = &[5, 15, 30, 60];

pub(crate) fn bad(message: impl Into<String>) -> ArmError {
    ArmError::bad_request("BadRequest", message)
}

/// What a scope names: metric alerts accept a resource, a resource group or a subscription.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    Subscription(String),
    ResourceGroup { subscription: String, name: String },
    Resource(ResourceId),
}

impl Scope {
    pub fn parse(s: &str) -> ArmResult<Scope> {
        let parts: Vec<&str> = s.trim_end_matches('/').split('/').collect();
        match parts.as_slice() {
            ["", kw, sub] if kw.eq_ignore_ascii_case("subscriptions") && !sub.is_empty() => {
                Ok(Scope::Subscription(sub.to_string()))
            }
            ["", kw, sub, rgkw, rg]
                if kw.eq_ignore_ascii_case("subscriptions")
                    && rgkw.eq_ignore_ascii_case("resourceGroups")
                    && !sub.is_empty()
                    && !rg.is_empty() =>
            {
                Ok(Scope::ResourceGroup {
                    subscription: sub.to_string(),
                    name: rg.to_string(),
                })
            }
            _ => ResourceId::parse(s).map(Scope::Resource),
        }
    }
}

/// One action: the action group to notify and the custom properties added to its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub action_group_id: ResourceId,
    pub web_hook_properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricAlertProperties {
    pub description: String,
    /// 0 (critical) ..= 4 (verbose); shown as `Sev{n}` in fired alerts.
    pub severity: u8,
    pub enabled: bool,
    /// As given, in the order given.
    pub scopes: Vec<String>,
    pub evaluation_frequency: Duration,
    pub window_size: Duration,
    pub target_resource_type: Option<String>,
    pub target_resource_region: Option<String>,
    pub criteria: Criteria,
    /// Stateful (resolves by itself) when true, the default.
    pub auto_mitigate: bool,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricAlert {
    pub tags: BTreeMap<String, String>,
    pub properties: MetricAlertProperties,
}

/// Parses and validates a PUT body. A PATCH is the stored resource merged with the patch
/// (`model::merge::merge`) and then parsed again.
pub fn parse(body: &Value) -> ArmResult<MetricAlert> {
    let body = strip_nulls(body.clone());
    global::check_location(body.get("location").and_then(Value::as_str), RESOURCE_TYPE)?;
    let tags = global::tags(&body)?;
    let p = body
        .get("properties")
        .ok_or_else(|| bad("The 'properties' of the metric alert are required."))?;
    let description = match p.get("description") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(bad("The 'description' must be a string.")),
    };
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(bad(format!(
            "The description can have at most {DESCRIPTION_MAX} characters."
        )));
    }
    let severity = match p.get("severity") {
        None => return Err(bad("The 'severity' of the metric alert is required.")),
        Some(v) => v.as_u64().filter(|s| *s <= 4).ok_or_else(|| {
            bad(format!(
                "The severity {v} is invalid. Allowed values are 0, 1, 2, 3 and 4."
            ))
        })? as u8,
    };
    let enabled = p
        .get("enabled")
        .map_or(Some(true), Value::as_bool)
        .ok_or_else(|| bad("The 'enabled' flag must be a boolean."))?;
    let auto_mitigate = p
        .get("autoMitigate")
        .map_or(Some(true), Value::as_bool)
        .ok_or_else(|| bad("The 'autoMitigate' flag must be a boolean."))?;
    let criteria = criteria::parse(
        p.get("criteria")
            .ok_or_else(|| bad("The 'criteria' of the metric alert are required."))?,
    )?;
    let (evaluation_frequency, window_size) = durations(p, criteria.is_dynamic())?;
    let props = MetricAlertProperties {
        description,
        severity,
        enabled,
        scopes: strings(p, "scopes")?,
        evaluation_frequency,
        window_size,
        target_resource_type: p
            .get("targetResourceType")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        target_resource_region: p
            .get("targetResourceRegion")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        criteria,
        auto_mitigate,
        actions: actions(p)?,
    };
    check_scopes(&props)?;
    Ok(MetricAlert {
        tags,
        properties: props,
    })
}

fn strings(p: &Value, field: &str) -> ArmResult<Vec<String>> {
    match p.get(field) {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| bad(format!("The '{field}' must be an array of strings."))),
        Some(_) => Err(bad(format!("The '{field}' must be an array of strings."))),
    }
}

/// Window and frequency: ISO 8601, from the documented sets, and "Check every" no longer than
/// "Lookback period" (Azure docs, dynamic thresholds: frequency ≤ lookback).
fn durations(p: &Value, dynamic: bool) -> ArmResult<(Duration, Duration)> {
    let get = |field: &str| -> ArmResult<Duration> {
        let s = p
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("The '{field}' of the metric alert is required.")))?;
        duration::parse(s).map_err(|e| bad(format!("The '{field}' is invalid: {e}.")))
    };
    let (freq, window) = (get("evaluationFrequency")?, get("windowSize")?);
    let minutes = |d: Duration| {
        d.as_secs()
            .is_multiple_of(MINUTE)
            .then_some(d.as_secs() / MINUTE)
    };
    let list = |l: &[u64]| {
        l.iter()
            .map(|m| duration::format(Duration::from_secs(m * MINUTE)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (windows, freqs) = if dynamic {
        (DYNAMIC_WINDOWS, DYNAMIC_WINDOWS)
    } else {
        (STATIC_WINDOWS, STATIC_FREQUENCIES)
    };
    let kind = if dynamic { "dynamic threshold " } else { "" };
    if !minutes(window).is_some_and(|m| windows.contains(&m)) {
        return Err(bad(format!(
            "The window size '{}' isn't supported for {kind}metric alerts. Supported values are: {}.",
            duration::format(window),
            list(windows)
        )));
    }
    if !minutes(freq).is_some_and(|m| freqs.contains(&m)) {
        return Err(bad(format!(
            "The evaluation frequency '{}' isn't supported for {kind}metric alerts. Supported values are: {}.",
            duration::format(freq),
            list(freqs)
        )));
    }
    if freq > window {
        return Err(bad(format!(
            "The evaluation frequency '{}' must be less than or equal to the window size '{}'.",
            duration::format(freq),
            duration::format(window)
        )));
    }
    Ok((freq, window))
}

fn check_scopes(p: &MetricAlertProperties) -> ArmResult<()> {
    if p.scopes.is_empty() {
        return Err(bad(
            "The 'scopes' of the metric alert must name at least one resource.",
        ));
    }
    let scopes = p
        .scopes
        .iter()
        .map(|s| Scope::parse(s))
        .collect::<ArmResult<Vec<_>>>()?;
    for (i, s) in p.scopes.iter().enumerate() {
        if p.scopes[..i].iter().any(|o| o.eq_ignore_ascii_case(s)) {
            return Err(bad(format!("The scope '{s}' is listed more than once.")));
        }
    }
    match &p.criteria {
        Criteria::SingleResource(_) => {
            if scopes.len() != 1 || !matches!(scopes[0], Scope::Resource(_)) {
                return Err(bad(
                    "Alert rules with SingleResourceMultipleMetricCriteria must have exactly one scope, and it must be a resource.",
                ));
            }
        }
        Criteria::MultipleResource(_) => {
            let container = scopes.iter().any(|s| !matches!(s, Scope::Resource(_)));
            if (container || scopes.len() > 1)
                && (p.target_resource_type.is_none() || p.target_resource_region.is_none())
            {
                return Err(bad(
                    "The 'targetResourceType' and 'targetResourceRegion' are required when the scope contains a subscription, a resource group or more than one resource.",
                ));
            }
            let types: Vec<String> = scopes
                .iter()
                .filter_map(|s| match s {
                    Scope::Resource(id) => Some(id.type_name()),
                    _ => None,
                })
                .collect();
            let expected = p
                .target_resource_type
                .clone()
                .or_else(|| types.first().cloned())
                .unwrap_or_default();
            if let Some(t) = types.iter().find(|t| !t.eq_ignore_ascii_case(&expected)) {
                return Err(bad(format!(
                    "All the resources in the scope must be of the type '{expected}'; found '{t}'."
                )));
            }
        }
        Criteria::WebtestLocationAvailability {
            web_test_id,
            component_id,
            ..
        } => {
            for id in [web_test_id, component_id] {
                ResourceId::parse(id)?;
                if !p.scopes.iter().any(|s| s.eq_ignore_ascii_case(id)) {
                    return Err(bad(format!(
                        "The scopes of a web test alert rule must contain the web test and the component; '{id}' is missing."
                    )));
                }
            }
        }
    }
    Ok(())
}

fn actions(p: &Value) -> ArmResult<Vec<Action>> {
    let Some(list) = p.get("actions") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| bad("The 'actions' must be an array."))?;
    let mut out: Vec<Action> = Vec::new();
    for a in list {
        let raw = a
            .get("actionGroupId")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("Every action needs an 'actionGroupId'."))?;
        let id = ResourceId::parse(raw)?;
        if !id
            .type_name()
            .eq_ignore_ascii_case(super::action_group::RESOURCE_TYPE)
        {
            return Err(action_group_invalid(raw));
        }
        if out.iter().any(|o| o.action_group_id.same_as(&id)) {
            return Err(bad(format!(
                "The action group '{raw}' is listed more than once."
            )));
        }
        let web_hook_properties = match a.get("webHookProperties") {
            None => BTreeMap::new(),
            Some(w) => serde_json::from_value(w.clone())
                .map_err(|_| bad("The 'webHookProperties' must map names to strings."))?,
        };
        out.push(Action {
            action_group_id: id,
            web_hook_properties,
        });
    }
    Ok(out)
}

impl MetricAlert {
    /// The resource as Azure returns it.
    pub fn to_json(&self, id: &ResourceId, last_updated: chrono::DateTime<chrono::Utc>) -> Value {
        let p = &self.properties;
        let actions: Vec<Value> = p
            .actions
            .iter()
            .map(|a| {
                json!({
                    "actionGroupId": a.action_group_id.to_string(),
                    "webHookProperties": a.web_hook_properties,
                })
            })
            .collect();
        let mut props = json!({
            "description": p.description,
            "severity": p.severity,
            "enabled": p.enabled,
            "scopes": p.scopes,
            "evaluationFrequency": duration::format(p.evaluation_frequency),
            "windowSize": duration::format(p.window_size),
            "criteria": p.criteria.to_json(),
            "autoMitigate": p.auto_mitigate,
            "actions": actions,
            "lastUpdatedTime": last_updated.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        if let Some(t) = &p.target_resource_type {
            props["targetResourceType"] = json!(t);
        }
        if let Some(r) = &p.target_resource_region {
            props["targetResourceRegion"] = json!(r);
        }
        json!({"id": id.to_string(), "name": id.name(), "type": RESOURCE_TYPE,
            "location": "global", "tags": self.tags, "properties": props})
    }
}
