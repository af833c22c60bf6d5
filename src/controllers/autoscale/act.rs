//! Carrying out an evaluation: the activity-log events of a setting, the capacity change
//! through ARM, and the notifications of a scale action.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, json};
use uuid::Uuid;

use crate::arm::{Arm, ArmResult, resources};
use crate::model::autoscale::{AutoscaleSetting, Profile};
use crate::model::id::ResourceId;
use crate::runtime::autoscale::activity_log::{self, Activity, Context};
use crate::runtime::autoscale::notify::{self, ScaleNotice, WEBHOOK_RETRY};
use crate::runtime::webhook::Webhooks;
use crate::store::Store;

use super::state::Notified;

/// The api-version of the scale PUT (az 2.91's `vmss scale` uses Compute 2024-11-01).
const SCALE_API_VERSION: &str = "2024-11-01";

/// The setting an event is about.
#[derive(Clone, Copy)]
pub struct Subject<'a> {
    pub id: &'a ResourceId,
    pub setting: &'a AutoscaleSetting,
    pub profile: &'a Profile,
}

/// One event of a setting's activity log.
pub struct Event<'a> {
    pub activity: &'a Activity,
    pub old_capacity: u32,
    pub new_capacity: u32,
    pub last_scale_action_time: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
    pub correlation_id: Uuid,
    pub event_data_id: Uuid,
}

/// Appends an event to the activity log; a failure is logged, never fatal to the engine.
pub async fn record(store: &Store, subject: Subject<'_>, e: Event<'_>) {
    let ctx = Context {
        setting_id: subject.id,
        setting: subject.setting,
        profile: subject.profile,
        old_capacity: e.old_capacity,
        new_capacity: e.new_capacity,
        last_scale_action_time: e.last_scale_action_time,
        event_timestamp: e.at,
        correlation_id: e.correlation_id,
        event_data_id: e.event_data_id,
    };
    let body = activity_log::record(e.activity, &ctx);
    if let Err(err) = store.append_activity(&body).await {
        tracing::warn!(setting = %subject.id, error = %err, "recording an autoscale event");
    }
}

/// The event id of a scale action's completion: derived from the action's correlation id,
/// so the waiter and a later pass (after a restart) record it once.
pub fn completion_id(correlation_id: Uuid) -> Uuid {
    Uuid::new_v5(&correlation_id, b"completed")
}

/// Changes the scale set's capacity the way `az vmss scale` does: a PUT of the sku alone,
/// merged into the scale set, so its scale-in policy, instance protection, pool membership
/// and probes decide which instances go and when new ones get traffic. Returns the
/// provisioning operation still running, if any.
pub async fn change_capacity(
    arm: &Arc<Arm>,
    scale_set: &ResourceId,
    capacity: u32,
) -> ArmResult<Option<String>> {
    let mut body = Map::new();
    body.insert("sku".into(), json!({ "capacity": capacity }));
    let out = resources::put_started(arm, scale_set, SCALE_API_VERSION, body, None).await?;
    Ok(out.operation)
}

/// POSTs the setting's webhooks (in the background, under Azure Monitor's retry policy) and
/// records whom the action e-mails; returns both for the engine state.
pub fn notify(webhooks: &Webhooks, notice: &ScaleNotice) -> Notified {
    let source = notice.setting_id.to_string();
    let calls = notify::webhook_calls(notice);
    for call in &calls {
        webhooks.send(
            &source,
            &call.uri,
            call.body.clone(),
            Arc::new(WEBHOOK_RETRY),
        );
    }
    let emails = notify::email_recipients(notice.setting);
    if !emails.is_empty() {
        // Recorded, not sent: armlet has no mail service.
        tracing::info!(
            setting = source,
            ?emails,
            "autoscale e-mail notification recorded"
        );
    }
    Notified {
        webhooks: calls.into_iter().map(|c| c.uri).collect(),
        emails,
    }
}
