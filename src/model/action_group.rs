//! Action groups (`Microsoft.Insights/actionGroups`, api-version 2023-01-01): who an alert
//! notifies. [`parse`] validates a PUT body as the service does, [`ActionGroup::to_json`]
//! renders the resource as Azure returns it, [`Receivers::deliveries`] lists what to send.
//!
//! Error codes seen from the service: `GroupShortNameIsTooLong` (with its message),
//! `{Kind}Receiver{Field}IsNullOrEmpty` (message = code). The other codes below follow the same
//! naming; their wording is armlet's.

pub mod receivers;
pub mod test_notifications;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::{ArmError, ArmResult};
use super::global;
use super::id::ResourceId;
use super::merge::strip_nulls;
use receivers::*;

pub const RESOURCE_TYPE: &str = "Microsoft.Insights/actionGroups";
/// `groupShortName` is used in SMS texts; the service caps it at 12 characters.
pub const SHORT_NAME_MAX: usize = 12;
/// Azure Monitor service limits: "The character limit in an e-mail address is 64."
pub const EMAIL_ADDRESS_MAX: usize = 64;

/// The receiver lists, shared by an action group and a test-notifications request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Receivers {
    pub email_receivers: Vec<EmailReceiver>,
    pub sms_receivers: Vec<SmsReceiver>,
    pub webhook_receivers: Vec<WebhookReceiver>,
    pub itsm_receivers: Vec<ItsmReceiver>,
    pub azure_app_push_receivers: Vec<AzureAppPushReceiver>,
    pub automation_runbook_receivers: Vec<AutomationRunbookReceiver>,
    pub voice_receivers: Vec<VoiceReceiver>,
    pub logic_app_receivers: Vec<LogicAppReceiver>,
    pub azure_function_receivers: Vec<AzureFunctionReceiver>,
    pub arm_role_receivers: Vec<ArmRoleReceiver>,
    pub event_hub_receivers: Vec<EventHubReceiver>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ActionGroupProperties {
    pub group_short_name: String,
    /// A disabled group notifies nobody.
    pub enabled: bool,
    #[serde(flatten)]
    pub receivers: Receivers,
}

impl Default for ActionGroupProperties {
    fn default() -> Self {
        // `enabled` defaults to true in the schema.
        ActionGroupProperties {
            group_short_name: String::new(),
            enabled: true,
            receivers: Receivers::default(),
        }
    }
}

/// A validated action group as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionGroup {
    pub tags: BTreeMap<String, String>,
    pub properties: ActionGroupProperties,
}

/// Parses and validates the body of a PUT (`location`, `tags`, `properties`).
pub fn parse(body: &Value) -> ArmResult<ActionGroup> {
    let body = strip_nulls(body.clone());
    global::check_location(body.get("location").and_then(Value::as_str), RESOURCE_TYPE)?;
    let tags = global::tags(&body)?;
    let mut properties: ActionGroupProperties =
        serde_json::from_value(body.get("properties").cloned().unwrap_or_else(|| json!({})))
            .map_err(ArmError::invalid_request_content)?;
    check_short_name(&properties.group_short_name)?;
    properties.receivers.validate()?;
    properties.receivers.reset_statuses();
    Ok(ActionGroup { tags, properties })
}

fn check_short_name(short: &str) -> ArmResult<()> {
    if short.trim().is_empty() {
        return Err(code_only("GroupShortNameIsNullOrEmpty"));
    }
    if short.chars().count() > SHORT_NAME_MAX {
        return Err(ArmError::bad_request(
            "GroupShortNameIsTooLong",
            format!(
                "The action group short name '{short}' is too long. Please specify a short name with '{SHORT_NAME_MAX}' or less characters"
            ),
        ));
    }
    Ok(())
}

fn code_only(code: &str) -> ArmError {
    ArmError::bad_request(code, code)
}

/// Required fields, URL fields and the per-kind limit of one receiver list.
fn check_list<R: Receiver>(list: &[R]) -> ArmResult<()> {
    if list.len() > R::MAX_PER_GROUP {
        return Err(ArmError::bad_request(
            "ReceiverCountExceeded",
            format!(
                "An action group can have at most {} {} receivers; {} were given.",
                R::MAX_PER_GROUP,
                R::KIND,
                list.len()
            ),
        ));
    }
    for r in list {
        for (field, value) in r.required() {
            if value.trim().is_empty() {
                return Err(code_only(&format!(
                    "{}Receiver{field}IsNullOrEmpty",
                    R::KIND
                )));
            }
        }
        for (field, value) in r.urls() {
            if !global::is_http_url(value) {
                return Err(ArmError::bad_request(
                    &format!("{}Receiver{field}IsInvalid", R::KIND),
                    format!(
                        "The {field} '{value}' of receiver '{}' is not a valid absolute http or https URI.",
                        r.name()
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_email(kind: &str, name: &str, address: &str) -> ArmResult<()> {
    let valid = address.chars().count() <= EMAIL_ADDRESS_MAX
        && matches!(address.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.contains('@')
                && !address.contains(char::is_whitespace));
    if valid {
        Ok(())
    } else {
        Err(ArmError::bad_request(
            &format!("{kind}ReceiverEmailAddressIsInvalid"),
            format!("The email address '{address}' of receiver '{name}' is not valid."),
        ))
    }
}

impl Receivers {
    /// The service's rules: required fields per kind, per-kind limits, valid URLs and email
    /// addresses, a secure webhook names its Entra application, and receiver names unique
    /// across all receivers of the group (compared ignoring case, like other Azure names).
    pub fn validate(&self) -> ArmResult<()> {
        check_list(&self.email_receivers)?;
        check_list(&self.sms_receivers)?;
        check_list(&self.webhook_receivers)?;
        check_list(&self.itsm_receivers)?;
        check_list(&self.azure_app_push_receivers)?;
        check_list(&self.automation_runbook_receivers)?;
        check_list(&self.voice_receivers)?;
        check_list(&self.logic_app_receivers)?;
        check_list(&self.azure_function_receivers)?;
        check_list(&self.arm_role_receivers)?;
        check_list(&self.event_hub_receivers)?;
        for r in &self.email_receivers {
            check_email("Email", &r.name, &r.email_address)?;
        }
        for r in &self.azure_app_push_receivers {
            check_email("AzureAppPush", &r.name, &r.email_address)?;
        }
        for r in &self.webhook_receivers {
            if r.use_aad_auth && r.object_id.as_deref().unwrap_or("").is_empty() {
                return Err(code_only("WebhookReceiverObjectIdIsNullOrEmpty"));
            }
        }
        let mut seen = HashSet::new();
        for name in self.names() {
            if !seen.insert(name.to_lowercase()) {
                return Err(ArmError::bad_request(
                    "ReceiverNameIsNotUnique",
                    format!(
                        "The receiver name '{name}' is used more than once. Names must be unique across all receivers within an action group."
                    ),
                ));
            }
        }
        Ok(())
    }

    fn names(&self) -> Vec<&str> {
        fn n<R: Receiver>(l: &[R]) -> impl Iterator<Item = &str> {
            l.iter().map(Receiver::name)
        }
        n(&self.email_receivers)
            .chain(n(&self.sms_receivers))
            .chain(n(&self.webhook_receivers))
            .chain(n(&self.itsm_receivers))
            .chain(n(&self.azure_app_push_receivers))
            .chain(n(&self.automation_runbook_receivers))
            .chain(n(&self.voice_receivers))
            .chain(n(&self.logic_app_receivers))
            .chain(n(&self.azure_function_receivers))
            .chain(n(&self.arm_role_receivers))
            .chain(n(&self.event_hub_receivers))
            .collect()
    }

    /// `status` is read-only: what a client sends is replaced by `Enabled`.
    fn reset_statuses(&mut self) {
        self.email_receivers
            .iter_mut()
            .for_each(|r| r.status = ReceiverStatus::Enabled);
        self.sms_receivers
            .iter_mut()
            .for_each(|r| r.status = ReceiverStatus::Enabled);
    }

    /// Every notification this group sends, in the order of the lists.
    pub fn deliveries(&self) -> Vec<Delivery> {
        let d = |mechanism, name: &str, url: Option<&str>, common| Delivery {
            mechanism,
            name: name.to_string(),
            url: url.map(str::to_string),
            use_common_alert_schema: common,
        };
        let mut out = Vec::new();
        for r in &self.email_receivers {
            out.push(d(
                Mechanism::Email,
                &r.name,
                None,
                r.use_common_alert_schema,
            ));
        }
        for r in &self.sms_receivers {
            out.push(d(Mechanism::Sms, &r.name, None, false));
        }
        for r in &self.webhook_receivers {
            let m = if r.use_aad_auth {
                Mechanism::SecureWebhook
            } else {
                Mechanism::Webhook
            };
            out.push(d(
                m,
                &r.name,
                Some(r.service_uri.as_str()),
                r.use_common_alert_schema,
            ));
        }
        for r in &self.itsm_receivers {
            out.push(d(Mechanism::Itsm, &r.name, None, false));
        }
        for r in &self.azure_app_push_receivers {
            out.push(d(Mechanism::AzureAppPush, &r.name, None, false));
        }
        for r in &self.automation_runbook_receivers {
            let url = r.service_uri.as_deref().filter(|u| global::is_http_url(u));
            out.push(d(
                Mechanism::AutomationRunbook,
                &r.name,
                url,
                r.use_common_alert_schema,
            ));
        }
        for r in &self.voice_receivers {
            out.push(d(Mechanism::Voice, &r.name, None, false));
        }
        for r in &self.logic_app_receivers {
            out.push(d(
                Mechanism::LogicApp,
                &r.name,
                Some(r.callback_url.as_str()),
                r.use_common_alert_schema,
            ));
        }
        for r in &self.azure_function_receivers {
            let url = Some(r.http_trigger_url.as_str());
            out.push(d(
                Mechanism::AzureFunction,
                &r.name,
                url,
                r.use_common_alert_schema,
            ));
        }
        for r in &self.arm_role_receivers {
            out.push(d(
                Mechanism::ArmRole,
                &r.name,
                None,
                r.use_common_alert_schema,
            ));
        }
        for r in &self.event_hub_receivers {
            out.push(d(
                Mechanism::EventHub,
                &r.name,
                None,
                r.use_common_alert_schema,
            ));
        }
        out
    }
}

impl ActionGroup {
    /// The resource as Azure returns it (every receiver list present, `location: Global`).
    pub fn to_json(&self, id: &ResourceId) -> Value {
        json!({
            "id": id.to_string(),
            "type": "Microsoft.Insights/ActionGroups",
            "name": id.name(),
            "location": "Global",
            "tags": self.tags,
            "properties": self.properties,
        })
    }
}
