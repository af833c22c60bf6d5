//! What an autoscale action notifies: the webhook payload, whom to email, and how webhook
//! delivery is retried.
//!
//! The payload is Azure's "autoscale notification webhook payload schema"
//! (autoscale-webhook-email): `version`, `status`, `operation` ("Scale Out"/"Scale In"),
//! `context` (setting and target, old and new capacity as strings) and the webhook's own
//! `properties`. Autoscale's docs give no retry policy of their own; the schedule here is the
//! one Azure Monitor documents for webhooks (action-groups: 10 s timeout, retried on 408, 429,
//! 503, 504 or no response, after 5, 20, 5, 40 and 5 seconds, then the endpoint is left alone
//! for 15 minutes).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::evaluate::Direction;
use crate::model::autoscale::AutoscaleSetting;
use crate::model::id::ResourceId;

/// A scale action to tell subscribers about.
#[derive(Debug, Clone)]
pub struct ScaleNotice<'a> {
    /// The autoscale setting's resource id.
    pub setting_id: &'a ResourceId,
    pub setting: &'a AutoscaleSetting,
    /// When the action was triggered.
    pub timestamp: DateTime<Utc>,
    pub old_capacity: u32,
    pub new_capacity: u32,
}

impl ScaleNotice<'_> {
    pub fn direction(&self) -> Direction {
        if self.new_capacity >= self.old_capacity {
            Direction::Out
        } else {
            Direction::In
        }
    }
}

/// One webhook POST to make.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookCall {
    pub uri: String,
    pub body: Value,
}

/// The POSTs for every webhook of the setting's notifications.
pub fn webhook_calls(notice: &ScaleNotice) -> Vec<WebhookCall> {
    notice
        .setting
        .notifications
        .iter()
        .flat_map(|n| &n.webhooks)
        .map(|w| WebhookCall {
            uri: w.service_uri.clone(),
            body: webhook_payload(notice, &w.properties),
        })
        .collect()
}

/// Azure's autoscale webhook payload.
pub fn webhook_payload(notice: &ScaleNotice, properties: &BTreeMap<String, String>) -> Value {
    let target_id = &notice.setting.target_resource_uri;
    let target = ResourceId::parse(target_id).ok();
    let resource_name = target
        .as_ref()
        .map(|t| t.name().to_string())
        .unwrap_or_default();
    let resource_group = target
        .as_ref()
        .and_then(|t| t.resource_group.clone())
        .unwrap_or_default();
    let resource_type = target
        .as_ref()
        .map(|t| t.type_name().to_ascii_lowercase())
        .unwrap_or_default();
    let operation = match notice.direction() {
        Direction::Out => "Scale Out",
        Direction::In => "Scale In",
    };
    json!({
        "version": "1.0",
        "status": "Activated",
        "operation": operation,
        "context": {
            "timestamp": dotnet_timestamp(notice.timestamp),
            "id": notice.setting_id.to_string(),
            "name": notice.setting_id.name(),
            "details": format!(
                "Autoscale successfully started scale operation for resource '{resource_name}' from capacity '{}' to capacity '{}'",
                notice.old_capacity, notice.new_capacity
            ),
            "subscriptionId": notice.setting_id.subscription,
            "resourceGroupName": resource_group,
            "resourceName": resource_name,
            "resourceType": resource_type,
            "resourceId": target_id,
            "portalLink": format!("https://portal.azure.com/#resource{target_id}"),
            "resourceRegion": notice.setting.target_resource_location.clone().unwrap_or_default(),
            "oldCapacity": notice.old_capacity.to_string(),
            "newCapacity": notice.new_capacity.to_string(),
        },
        "properties": properties,
    })
}

/// The custom e-mail addresses to notify (recorded by armlet, not sent). The subscription
/// administrator flags are kept in the setting but no longer notify anyone: Azure retired
/// classic administrators' autoscale emails on 2024-08-31 (autoscale-webhook-email).
pub fn email_recipients(setting: &AutoscaleSetting) -> Vec<String> {
    let mut out: Vec<String> = setting
        .notifications
        .iter()
        .filter_map(|n| n.email.as_ref())
        .flat_map(|e| e.custom_emails.iter().cloned())
        .collect();
    out.dedup();
    out
}

/// When and how often a webhook POST is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How long one POST may take before it counts as failed.
    pub timeout: Duration,
    /// The pause before each retry; its length is the number of retries.
    pub delays: &'static [Duration],
    /// HTTP statuses worth retrying (a timeout or connection error always is).
    pub retry_statuses: &'static [u16],
    /// After the last retry fails, the endpoint is not called again for this long.
    pub pause_after_exhausted: Duration,
}

/// Azure Monitor's webhook retry policy (action-groups, "Webhook").
pub const WEBHOOK_RETRY: RetryPolicy = RetryPolicy {
    timeout: Duration::from_secs(10),
    delays: &[
        Duration::from_secs(5),
        Duration::from_secs(20),
        Duration::from_secs(5),
        Duration::from_secs(40),
        Duration::from_secs(5),
    ],
    retry_statuses: &[408, 429, 503, 504],
    pause_after_exhausted: Duration::from_secs(15 * 60),
};

/// How one POST ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// An HTTP answer arrived.
    Status(u16),
    /// No answer within the timeout, or the connection failed.
    NoResponse,
}

impl RetryPolicy {
    /// After attempt number `attempt` (1 = the first POST) ended as `outcome`: `Some(delay)`
    /// to retry after `delay`, `None` when delivery is over (delivered, not retryable, or
    /// out of retries).
    pub fn next_retry(&self, attempt: usize, outcome: Attempt) -> Option<Duration> {
        let retryable = match outcome {
            Attempt::Status(s) => self.retry_statuses.contains(&s),
            Attempt::NoResponse => true,
        };
        if !retryable {
            return None;
        }
        self.delays.get(attempt.checked_sub(1)?).copied()
    }

    /// Whether `outcome` delivered the notification.
    pub fn delivered(outcome: Attempt) -> bool {
        matches!(outcome, Attempt::Status(s) if (200..300).contains(&s))
    }
}

/// The policy as the background webhook sender runs it.
impl crate::runtime::webhook::RetryPolicy for RetryPolicy {
    fn next(&self, attempt: u32, outcome: crate::runtime::webhook::Attempt) -> Option<Duration> {
        let outcome = match outcome {
            crate::runtime::webhook::Attempt::Status(s) => Attempt::Status(s),
            crate::runtime::webhook::Attempt::NoResponse => Attempt::NoResponse,
        };
        self.next_retry(attempt as usize, outcome)
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// `2023-06-22T07:01:47.8926726Z`: seven fractional digits, as .NET writes them.
pub fn dotnet_timestamp(t: DateTime<Utc>) -> String {
    format!(
        "{}.{:07}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.timestamp_subsec_nanos() / 100
    )
}

#[cfg(test)]
#[path = "notify_tests.rs"]
mod tests;
