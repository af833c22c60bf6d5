//! Test notifications (`az monitor action-group test-notifications create`), api-version
//! 2023-01-01: `POST .../actionGroups/{name}/createNotifications` with a
//! `NotificationRequestBody` answers 202 with a `location` of
//! `.../actionGroups/{name}/notificationStatus/{notificationId}`, whose GET returns a
//! `TestNotificationDetailsResponse`. This module is the pure part: the request and the status
//! document; sending is the notifier's job.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Receivers;
use super::receivers::Mechanism;
use crate::model::error::{ArmError, ArmResult};
use crate::model::id::ResourceId;
use crate::model::merge::strip_nulls;

/// `alertType` values the 2023-01-01 schema lists, plus `budget`, which its own example sends.
pub const ALERT_TYPES: &[&str] = &[
    "servicehealth",
    "metricstaticthreshold",
    "metricsdynamicthreshold",
    "logalertv2",
    "smartalert",
    "webtestalert",
    "logalertv1numresult",
    "logalertv1metricmeasurement",
    "resourcehealth",
    "activitylog",
    "actualcostbudget",
    "forecastedbudget",
    "budget",
];
/// `alertType` has `maxLength: 30` in the schema.
pub const ALERT_TYPE_MAX: usize = 30;

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NotificationRequest {
    pub alert_type: String,
    #[serde(flatten)]
    pub receivers: Receivers,
}

/// Parses and validates a `createNotifications` body; receivers follow the action group rules.
pub fn parse_request(body: &Value) -> ArmResult<NotificationRequest> {
    let req: NotificationRequest = serde_json::from_value(strip_nulls(body.clone()))
        .map_err(ArmError::invalid_request_content)?;
    if req.alert_type.trim().is_empty() {
        return Err(ArmError::bad_request(
            "AlertTypeIsNullOrEmpty",
            "AlertTypeIsNullOrEmpty",
        ));
    }
    if req.alert_type.chars().count() > ALERT_TYPE_MAX
        || !ALERT_TYPES
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&req.alert_type))
    {
        return Err(ArmError::bad_request(
            "AlertTypeIsInvalid",
            format!(
                "The alert type '{}' is not supported. Supported alert type values are: {}",
                req.alert_type,
                ALERT_TYPES[..ALERT_TYPES.len() - 1].join(", ")
            ),
        ));
    }
    req.receivers.validate()?;
    Ok(req)
}

/// The `location` of the 202: `{action group id}/notificationStatus/{notificationId}`.
pub fn status_location(
    action_group: &ResourceId,
    notification_id: &str,
    api_version: &str,
) -> String {
    format!("{action_group}/notificationStatus/{notification_id}?api-version={api_version}")
}

/// Where one receiver's test stands.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionOutcome {
    Pending,
    Sent { at: DateTime<Utc> },
    Failed { at: DateTime<Utc>, detail: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActionResult {
    pub mechanism: Mechanism,
    pub name: String,
    pub outcome: ActionOutcome,
}

/// .NET's `DateTimeOffset.MinValue`, which the service shows as `completedTime` while unset.
const UNSET_TIME: &str = "0001-01-01T00:00:00+00:00";

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// The `TestNotificationDetailsResponse`: `state` is `Running` until every action has an
/// outcome, then `Completed`; each action's `Status` is `Running`, `Completed` or `Failed`.
pub fn status_document(
    alert_type: &str,
    created: DateTime<Utc>,
    actions: &[ActionResult],
) -> Value {
    let done = actions.iter().all(|a| a.outcome != ActionOutcome::Pending);
    let completed = actions
        .iter()
        .filter_map(|a| match &a.outcome {
            ActionOutcome::Sent { at } | ActionOutcome::Failed { at, .. } => Some(*at),
            ActionOutcome::Pending => None,
        })
        .max()
        .unwrap_or(created);
    let details: Vec<Value> = actions
        .iter()
        .map(|a| {
            let (status, send, detail) = match &a.outcome {
                ActionOutcome::Pending => ("Running", None, None),
                ActionOutcome::Sent { at } => ("Completed", Some(time(*at)), None),
                ActionOutcome::Failed { at, detail } => {
                    ("Failed", Some(time(*at)), Some(detail.clone()))
                }
            };
            json!({"MechanismType": a.mechanism, "Name": a.name, "Status": status,
                "SubState": "Default", "SendTime": send, "Detail": detail})
        })
        .collect();
    let mut context_type = alert_type.to_string();
    if let Some(first) = context_type.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    json!({
        "context": {
            "notificationSource": "Microsoft.Insights/TestNotification",
            "contextType": format!("Microsoft.Insights/{context_type}"),
        },
        "state": if done { "Completed" } else { "Running" },
        "completedTime": if done { time(completed) } else { UNSET_TIME.to_string() },
        "createdTime": time(created),
        "actionDetails": details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn request_needs_a_supported_alert_type() {
        let ok = parse_request(&json!({"alertType": "metricstaticthreshold",
            "webhookReceivers": [{"name": "h", "serviceUri": "http://127.0.0.1/h"}]}))
        .unwrap();
        assert_eq!(ok.receivers.webhook_receivers.len(), 1);
        assert_eq!(
            parse_request(&json!({})).unwrap_err().code,
            "AlertTypeIsNullOrEmpty"
        );
        assert_eq!(
            parse_request(&json!({"alertType": "nonsense"}))
                .unwrap_err()
                .code,
            "AlertTypeIsInvalid"
        );
    }

    #[test]
    fn the_status_lives_below_the_action_group() {
        let ag = ResourceId::parse(
            "/subscriptions/s/resourceGroups/rg/providers/microsoft.insights/actionGroups/ag",
        )
        .unwrap();
        assert_eq!(
            status_location(&ag, "11000222191287", "2023-01-01"),
            "/subscriptions/s/resourceGroups/rg/providers/microsoft.insights/actionGroups/ag/notificationStatus/11000222191287?api-version=2023-01-01"
        );
    }

    #[test]
    fn request_receivers_follow_action_group_rules() {
        let e = parse_request(&json!({"alertType": "budget", "smsReceivers": [{"name": "s"}]}));
        assert_eq!(e.unwrap_err().code, "SmsReceiverCountryCodeIsNullOrEmpty");
    }

    #[test]
    fn status_is_running_until_every_action_has_an_outcome() {
        let t0 = Utc.with_ymd_and_hms(2021, 9, 21, 4, 52, 29).unwrap();
        let t1 = t0 + chrono::Duration::seconds(13);
        let mut actions = vec![
            ActionResult {
                mechanism: Mechanism::Webhook,
                name: "h".into(),
                outcome: ActionOutcome::Sent { at: t1 },
            },
            ActionResult {
                mechanism: Mechanism::Email,
                name: "m".into(),
                outcome: ActionOutcome::Pending,
            },
        ];
        let doc = status_document("budget", t0, &actions);
        assert_eq!(doc["state"], "Running");
        assert_eq!(doc["completedTime"], UNSET_TIME);
        assert_eq!(doc["context"]["contextType"], "Microsoft.Insights/Budget");
        assert_eq!(doc["actionDetails"][0]["MechanismType"], "Webhook");
        assert_eq!(doc["actionDetails"][1]["Status"], "Running");
        actions[1].outcome = ActionOutcome::Failed {
            at: t1,
            detail: "timed out".into(),
        };
        let doc = status_document("budget", t0, &actions);
        assert_eq!(doc["state"], "Completed");
        assert_eq!(doc["actionDetails"][1]["Status"], "Failed");
        assert_eq!(doc["actionDetails"][1]["Detail"], "timed out");
        assert_eq!(doc["completedTime"], time(t1));
    }
}
