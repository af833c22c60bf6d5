//! The activity-log records of the autoscale engine, in the Activity Log REST shape
//! (`EventData`, activityLogs_API.json 2015-04-01) that `az monitor activity-log list` reads.
//!
//! Shapes from Azure's docs: the "Autoscale" category sample of the activity-log event schema
//! (caller `Microsoft.Insights/autoscaleSettings`, channels "Admin, Operation", eventName
//! `AutoscaleAction`, operation `Microsoft.Insights/AutoscaleSettings/Scaleup|Scaledown/Action`,
//! properties `Description`, `ResourceName`, `OldInstancesCount`, `NewInstancesCount`,
//! `LastScaleActionTime`, the resource being the autoscale setting), and autoscale-diagnostics
//! ("Activity logs": `ActiveAutoscaleProfile`, `GetOperationStatusResult`, `MetricFailure`,
//! `MetricRecovery`, `Flapping`, `FlappingOccurred` with their descriptions and notes) and
//! autoscale-flapping (operation `Microsoft.Insights/AutoscaleSettings/Flapping/Action`).
//! A scale action is two records sharing one correlation id: initiated (status `Started`),
//! then completed (`Succeeded` or `Failed`). The operation names of metric failure and
//! recovery are not published; armlet names them like the others (`.../MetricFailure/Action`).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::model::autoscale::{AutoscaleSetting, Profile, xml_duration};
use crate::model::id::ResourceId;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    /// The engine starts changing the capacity.
    ScaleInitiated,
    /// The capacity change ended; `error` says why it failed.
    ScaleCompleted {
        error: Option<String>,
    },
    /// A scale-in was skipped because it would flap.
    Flapping {
        intended: u32,
    },
    /// A scale-in went to `actual` instead of `intended` to avoid flapping.
    FlappingOccurred {
        intended: u32,
        actual: u32,
    },
    MetricFailure,
    MetricRecovery,
}

/// The facts every record carries.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub setting_id: &'a ResourceId,
    pub setting: &'a AutoscaleSetting,
    pub profile: &'a Profile,
    pub old_capacity: u32,
    pub new_capacity: u32,
    pub last_scale_action_time: Option<DateTime<Utc>>,
    pub event_timestamp: DateTime<Utc>,
    /// Shared by the records of one scale action.
    pub correlation_id: Uuid,
    /// Unique per record.
    pub event_data_id: Uuid,
}

const OPERATION_PREFIX: &str = "Microsoft.Insights/AutoscaleSettings";

/// One `EventData` record.
pub fn record(activity: &Activity, ctx: &Context) -> Value {
    let target = &ctx.setting.target_resource_uri;
    let (old, new) = (ctx.old_capacity, ctx.new_capacity);
    let scale_operation = if new >= old { "Scaleup" } else { "Scaledown" };
    let counts = |mut props: serde_json::Map<String, Value>| {
        props.insert("OldInstancesCount".into(), json!(old.to_string()));
        props.insert("NewInstancesCount".into(), json!(new.to_string()));
        props
    };
    let (event_name, operation, status, description, properties) = match activity {
        Activity::ScaleInitiated => {
            let description = format!(
                "The autoscale engine attempting to scale resource '{target}' from {old} instances count to {new} instances count."
            );
            let mut props = serde_json::Map::new();
            props.insert("Description".into(), json!(description));
            props.insert("ResourceName".into(), json!(target));
            let mut props = counts(props);
            props.insert(
                "ActiveAutoscaleProfile".into(),
                json!(profile_json(ctx.profile).to_string()),
            );
            if let Some(t) = ctx.last_scale_action_time {
                props.insert(
                    "LastScaleActionTime".into(),
                    json!(t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()),
                );
            }
            (
                "AutoscaleAction",
                scale_operation,
                "Started",
                description,
                props,
            )
        }
        Activity::ScaleCompleted { error } => {
            let mut props = counts(serde_json::Map::new());
            let (status, description) = match error {
                None => (
                    "Succeeded",
                    format!(
                        "Autoscale successfully completed scale operation for resource '{target}' from capacity '{old}' to capacity '{new}'."
                    ),
                ),
                Some(e) => {
                    props.insert("Error".into(), json!(e));
                    (
                        "Failed",
                        format!(
                            "Autoscale failed to scale resource '{target}' from capacity '{old}' to capacity '{new}': {e}"
                        ),
                    )
                }
            };
            (
                "GetOperationStatusResult",
                scale_operation,
                status,
                description,
                props,
            )
        }
        Activity::Flapping { intended } => {
            let description = format!(
                "Cannot scale down due to flapping observed. Resource: '{target}'. Current instance count: '{old}', Intended new instance count '{intended}'"
            );
            let props = flapping_props(&description, target, ctx, old, old);
            ("Flapping", "Flapping", "Succeeded", description, props)
        }
        Activity::FlappingOccurred { intended, actual } => {
            let description = format!(
                "Scale down will occur with updated instance count to avoid flapping. Resource: '{target}'. Current instance count: '{old}', Intended new instance count: '{intended}'. Actual new instance count: '{actual}'"
            );
            let props = flapping_props(&description, target, ctx, old, *actual);
            (
                "FlappingOccurred",
                "Flapping",
                "Succeeded",
                description,
                props,
            )
        }
        Activity::MetricFailure => {
            let notes = "To ensure service availability, Autoscale will scale out the resource to the default capacity if it is greater than the current capacity";
            let mut props = serde_json::Map::new();
            props.insert("Notes".into(), json!(notes));
            (
                "MetricFailure",
                "MetricFailure",
                "Failed",
                notes.to_string(),
                props,
            )
        }
        Activity::MetricRecovery => (
            "MetricRecovery",
            "MetricRecovery",
            "Succeeded",
            "Autoscale can once again read the metrics of its rules.".to_string(),
            serde_json::Map::new(),
        ),
    };
    let operation_name = format!("{OPERATION_PREFIX}/{operation}/Action");
    let id = ctx.setting_id;
    let level = if status == "Failed" {
        "Error"
    } else {
        "Informational"
    };
    let localizable = |v: &str| json!({ "value": v, "localizedValue": v });
    json!({
        "caller": "Microsoft.Insights/autoscaleSettings",
        "channels": "Admin, Operation",
        "claims": {
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/spn": "Microsoft.Insights/autoscaleSettings"
        },
        "correlationId": ctx.correlation_id.to_string(),
        "description": description,
        "eventDataId": ctx.event_data_id.to_string(),
        "eventName": localizable(event_name),
        "category": localizable("Autoscale"),
        "id": format!("{id}/events/{}/ticks/{}", ctx.event_data_id, dotnet_ticks(ctx.event_timestamp)),
        "level": level,
        "resourceGroupName": id.resource_group.clone().unwrap_or_default(),
        "resourceProviderName": localizable("microsoft.insights"),
        "resourceId": id.to_string(),
        "resourceType": localizable("microsoft.insights/autoscalesettings"),
        "operationId": ctx.correlation_id.to_string(),
        "operationName": localizable(&operation_name),
        "properties": properties,
        "status": localizable(status),
        "subStatus": { "value": null },
        "eventTimestamp": super::notify::dotnet_timestamp(ctx.event_timestamp),
        "submissionTimestamp": super::notify::dotnet_timestamp(ctx.event_timestamp),
        "subscriptionId": id.subscription,
    })
}

fn flapping_props(
    description: &str,
    target: &str,
    ctx: &Context,
    old: u32,
    new: u32,
) -> serde_json::Map<String, Value> {
    let mut props = serde_json::Map::new();
    props.insert("Description".into(), json!(description));
    props.insert("ResourceName".into(), json!(target));
    props.insert("OldInstancesCount".into(), json!(old.to_string()));
    props.insert("NewInstancesCount".into(), json!(new.to_string()));
    props.insert(
        "ActiveAutoscaleProfile".into(),
        json!(profile_json(ctx.profile).to_string()),
    );
    props
}

/// The profile as the engine logs it (`ActiveAutoscaleProfile`): PascalCase, with the rule's
/// metric source and `MetricType` `MDM` (Azure Monitor metrics).
pub fn profile_json(p: &Profile) -> Value {
    let rules: Vec<Value> = p
        .rules
        .iter()
        .map(|r| {
            let t = &r.metric_trigger;
            let a = &r.scale_action;
            json!({
                "MetricTrigger": {
                    "Name": t.metric_name,
                    "Namespace": t.metric_namespace,
                    "Resource": t.metric_resource_uri,
                    "ResourceLocation": t.metric_resource_location,
                    "TimeGrain": xml_duration(t.time_grain),
                    "Statistic": t.statistic.as_str(),
                    "TimeWindow": xml_duration(t.time_window),
                    "TimeAggregation": t.time_aggregation.as_str(),
                    "Operator": t.operator.as_str(),
                    "Threshold": t.threshold,
                    "Source": t.metric_resource_uri,
                    "MetricType": "MDM",
                    "Dimensions": dimensions(t),
                    "DividePerInstance": t.divide_per_instance,
                },
                "ScaleAction": {
                    "Direction": a.direction.as_str(),
                    "Type": a.scale_type.as_str(),
                    "Value": a.value.to_string(),
                    "Cooldown": xml_duration(a.cooldown),
                },
            })
        })
        .collect();
    json!({
        "Name": p.name,
        "Capacity": {
            "Minimum": p.capacity.minimum.to_string(),
            "Maximum": p.capacity.maximum.to_string(),
            "Default": p.capacity.default.to_string(),
        },
        "Rules": rules,
    })
}

fn dimensions(t: &crate::model::autoscale::MetricTrigger) -> Vec<Value> {
    t.dimensions
        .iter()
        .flatten()
        .map(|d| {
            json!({
                "DimensionName": d.dimension_name,
                "Operator": d.operator.as_str(),
                "Values": d.values,
            })
        })
        .collect()
}

/// .NET ticks (100 ns since 0001-01-01), as in the event id's `/ticks/` part.
pub fn dotnet_ticks(t: DateTime<Utc>) -> i64 {
    const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;
    UNIX_EPOCH_TICKS + t.timestamp() * 10_000_000 + i64::from(t.timestamp_subsec_nanos() / 100)
}

#[cfg(test)]
#[path = "activity_log_tests.rs"]
mod tests;
