//! The eleven receiver kinds of an action group (2023-01-01 schema) and their validation.
//!
//! A missing required field is reported the way the service does: code and message
//! `{Kind}Receiver{Field}IsNullOrEmpty` (seen from Azure as
//! `AutomationRunbookReceiverNameIsNullOrEmpty`, which also shows that the service requires a
//! runbook receiver's `name` although the OpenAPI schema does not).

use serde::{Deserialize, Serialize};

/// A receiver's `status` (read-only; armlet has no SMS/email unsubscribe, so always `Enabled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ReceiverStatus {
    NotSpecified,
    #[default]
    Enabled,
    Disabled,
}

/// What every receiver kind tells the validation and the notifier.
pub trait Receiver {
    /// `Email`, `Sms`, ... as in the error codes.
    const KIND: &'static str;
    /// Most receivers per action group (Azure Monitor service limits).
    const MAX_PER_GROUP: usize = 10;
    fn name(&self) -> &str;
    /// `(PascalCase field name, value)` of the required string fields.
    fn required(&self) -> Vec<(&'static str, &str)>;
    /// `(PascalCase field name, value)` of the fields that must be http(s) URLs.
    fn urls(&self) -> Vec<(&'static str, &str)> {
        Vec::new()
    }
}

macro_rules! receiver {
    ($ty:ident, $kind:literal, $max:expr, [$($req:ident : $field:literal),*], [$($url:ident : $ufield:literal),*]) => {
        impl Receiver for $ty {
            const KIND: &'static str = $kind;
            const MAX_PER_GROUP: usize = $max;
            fn name(&self) -> &str {
                &self.name
            }
            fn required(&self) -> Vec<(&'static str, &str)> {
                vec![$(($field, self.$req.as_str())),*]
            }
            fn urls(&self) -> Vec<(&'static str, &str)> {
                vec![$(($ufield, self.$url.as_str())),*]
            }
        }
    };
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EmailReceiver {
    pub name: String,
    pub email_address: String,
    pub use_common_alert_schema: bool,
    pub status: ReceiverStatus,
}
receiver!(EmailReceiver, "Email", 1000, [name: "Name", email_address: "EmailAddress"], []);

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SmsReceiver {
    pub name: String,
    pub country_code: String,
    pub phone_number: String,
    pub status: ReceiverStatus,
}
receiver!(SmsReceiver, "Sms", 10,
    [name: "Name", country_code: "CountryCode", phone_number: "PhoneNumber"], []);

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WebhookReceiver {
    pub name: String,
    pub service_uri: String,
    pub use_common_alert_schema: bool,
    /// A "secure webhook": Azure sends a Microsoft Entra token; armlet records the flag only.
    pub use_aad_auth: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}
receiver!(WebhookReceiver, "Webhook", 10,
    [name: "Name", service_uri: "ServiceUri"], [service_uri: "ServiceUri"]);

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ItsmReceiver {
    pub name: String,
    pub workspace_id: String,
    pub connection_id: String,
    pub ticket_configuration: String,
    pub region: String,
}
receiver!(ItsmReceiver, "Itsm", 10,
    [name: "Name", workspace_id: "WorkspaceId", connection_id: "ConnectionId",
     ticket_configuration: "TicketConfiguration", region: "Region"], []);

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AzureAppPushReceiver {
    pub name: String,
    pub email_address: String,
}
receiver!(AzureAppPushReceiver, "AzureAppPush", 10,
    [name: "Name", email_address: "EmailAddress"], []);

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AutomationRunbookReceiver {
    pub automation_account_id: String,
    pub runbook_name: String,
    pub webhook_resource_id: String,
    pub is_global_runbook: bool,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_uri: Option<String>,
    pub use_common_alert_schema: bool,
}
receiver!(AutomationRunbookReceiver, "AutomationRunbook", 10,
    [name: "Name", automation_account_id: "AutomationAccountId", runbook_name: "RunbookName",
     webhook_resource_id: "WebhookResourceId"], []);

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VoiceReceiver {
    pub name: String,
    pub country_code: String,
    pub phone_number: String,
}
receiver!(VoiceReceiver, "Voice", 10,
    [name: "Name", country_code: "CountryCode", phone_number: "PhoneNumber"], []);

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LogicAppReceiver {
    pub name: String,
    pub resource_id: String,
    pub callback_url: String,
    pub use_common_alert_schema: bool,
}
receiver!(LogicAppReceiver, "LogicApp", 10,
    [name: "Name", resource_id: "ResourceId", callback_url: "CallbackUrl"],
    [callback_url: "CallbackUrl"]);

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AzureFunctionReceiver {
    pub name: String,
    pub function_app_resource_id: String,
    pub function_name: String,
    pub http_trigger_url: String,
    pub use_common_alert_schema: bool,
}
receiver!(AzureFunctionReceiver, "AzureFunction", 10,
    [name: "Name", function_app_resource_id: "FunctionAppResourceId",
     function_name: "FunctionName", http_trigger_url: "HttpTriggerUrl"],
    [http_trigger_url: "HttpTriggerUrl"]);

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ArmRoleReceiver {
    pub name: String,
    pub role_id: String,
    pub use_common_alert_schema: bool,
}
receiver!(ArmRoleReceiver, "ArmRole", 10, [name: "Name", role_id: "RoleId"], []);

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EventHubReceiver {
    pub name: String,
    pub event_hub_name_space: String,
    pub event_hub_name: String,
    pub use_common_alert_schema: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    pub subscription_id: String,
}
receiver!(EventHubReceiver, "EventHub", 10,
    [name: "Name", event_hub_name_space: "EventHubNameSpace", event_hub_name: "EventHubName",
     subscription_id: "SubscriptionId"], []);

/// How a receiver is notified, named as the test-notifications API names it (`MechanismType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mechanism {
    Email,
    Sms,
    Webhook,
    SecureWebhook,
    Itsm,
    AzureAppPush,
    AutomationRunbook,
    Voice,
    LogicApp,
    AzureFunction,
    ArmRole,
    EventHub,
}

/// One notification to send: `url` is set for the receivers armlet really calls over HTTP
/// (webhook, Logic App, Azure Function, runbook webhook); the others are only recorded, since
/// they cannot leave this machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub mechanism: Mechanism,
    pub name: String,
    pub url: Option<String>,
    pub use_common_alert_schema: bool,
}
