//! `Microsoft.Insights/actionGroups` (location `Global`): who an alert notifies. CRUD and
//! listings are generic; PATCH (`enabled`, tags) merges into the stored group. Validation is
//! [`model::action_group::parse`](crate::model::action_group::parse).
//!
//! Test notifications (`az monitor action-group test-notifications create`): `POST
//! .../createNotifications` sends the sample alert to the receivers of the request body and
//! answers 202 with a `Location` of `.../notificationStatus/{id}`, which answers 202 while a
//! receiver is still being called and 200 with the `TestNotificationDetailsResponse` when all
//! are done. Each outcome is kept in the store, so the status stays answerable.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Json;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::api::only;
use crate::arm::resource_type::{Patch, ResourceType, WriteCx};
use crate::arm::{Arm, ArmError, ArmRequest, ArmResult, ResourceId, lro, resources};
use crate::controllers::alerts::notify::{Message, Notifier, OnOutcome};
use crate::model::action_group::receivers::Mechanism;
use crate::model::action_group::test_notifications::{
    ActionOutcome, ActionResult, parse_request, status_document, status_location,
};
use crate::model::action_group::{self, RESOURCE_TYPE};
use crate::model::global;
use crate::runtime::alert::notification::{Outcome, Subject, test_payloads};
use crate::runtime::clock::Clock;

pub struct ActionGroups {
    pub notifier: Notifier,
    pub clock: Clock,
}

/// Characters an action group name can't have (Azure naming rules).
const FORBIDDEN: &str = ":<>+/&%\\?";

#[async_trait]
impl ResourceType for ActionGroups {
    fn type_name(&self) -> &'static str {
        RESOURCE_TYPE
    }

    fn api_versions(&self) -> &'static [&'static str] {
        // 2024-10-01-preview is what az 2.91 sends; 2023-01-01 is the model's schema.
        &[
            "2024-10-01-preview",
            "2023-09-01-preview",
            "2023-01-01",
            "2022-06-01",
            "2021-09-01",
            "2019-06-01",
        ]
    }

    fn validate_name(&self, name: &str) -> ArmResult<()> {
        global::check_name(RESOURCE_TYPE, name, FORBIDDEN)
    }

    fn location(&self, given: &str) -> ArmResult<String> {
        global::check_location(Some(given), RESOURCE_TYPE)?;
        Ok("Global".into())
    }

    fn patch(&self) -> Patch {
        Patch::Merge
    }

    async fn prepare(
        &self,
        cx: &mut WriteCx<'_>,
        _existing: Option<&Value>,
        body: Map<String, Value>,
    ) -> ArmResult<Value> {
        let body = Value::Object(body);
        let group = action_group::parse(&body)?;
        let mut doc = group.to_json(cx.id);
        // The id and name keep the casing they were created with.
        doc["id"] = body["id"].clone();
        doc["name"] = body["name"].clone();
        Ok(doc)
    }

    async fn route(
        &self,
        arm: &Arc<Arm>,
        req: &ArmRequest,
        id: &ResourceId,
        rest: &[&str],
    ) -> ArmResult<Response> {
        match rest {
            ["createnotifications"] => {
                only(req, &[Method::POST])?;
                self.create_notifications(arm, req, id).await
            }
            ["notificationstatus", _] => {
                only(req, &[Method::GET])?;
                let notification_id = req.segments.last().cloned().unwrap_or_default();
                notification_status(arm, req, id, &notification_id).await
            }
            _ => Err(ArmError::not_found(
                "NotFound",
                format!(
                    "The requested resource path '{}' does not exist.",
                    req.uri.path()
                ),
            )),
        }
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The stored outcome of one test action.
fn stored_outcome(outcome: &Outcome, at: DateTime<Utc>) -> Value {
    match outcome {
        Outcome::Delivered { .. } | Outcome::Recorded => json!({"status": "Sent", "at": time(at)}),
        Outcome::Failed { detail, .. } => {
            json!({"status": "Failed", "at": time(at), "detail": detail})
        }
    }
}

fn action_outcome(v: &Value) -> ActionOutcome {
    let at = v["at"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc));
    match (v["status"].as_str(), at) {
        (Some("Sent"), Some(at)) => ActionOutcome::Sent { at },
        (Some("Failed"), Some(at)) => ActionOutcome::Failed {
            at,
            detail: v["detail"].as_str().unwrap_or_default().to_string(),
        },
        _ => ActionOutcome::Pending,
    }
}

impl ActionGroups {
    async fn create_notifications(
        &self,
        arm: &Arc<Arm>,
        req: &ArmRequest,
        id: &ResourceId,
    ) -> ArmResult<Response> {
        let id = resources::canonical(self, id);
        let stored = resources::get_stored(arm, &id).await?;
        let group_id = ResourceId::parse(&stored.id)?;
        let request = parse_request(&Value::Object(req.json_object()?))?;
        let deliveries = request.receivers.deliveries();
        let now = self.clock.now_utc();
        // Azure's notification ids are decimal numbers (e.g. 11000222191287).
        let notification_id = (uuid::Uuid::new_v4().as_u128() % 100_000_000_000_000).to_string();
        let actions: Vec<Value> = deliveries
            .iter()
            .map(|d| json!({"mechanism": d.mechanism, "name": d.name, "outcome": null}))
            .collect();
        arm.store
            .insert_action_group_test(
                &notification_id,
                &group_id.key(),
                &request.alert_type,
                now,
                &Value::Array(actions),
            )
            .await?;
        let (common, legacy) = test_payloads(&request.alert_type, now);
        let store = arm.store.clone();
        let nid = notification_id.clone();
        let on_outcome: OnOutcome = Arc::new(move |i, outcome, at| {
            let (store, nid) = (store.clone(), nid.clone());
            let value = stored_outcome(&outcome, at);
            tokio::spawn(async move {
                if let Err(e) = store.set_action_group_test_outcome(&nid, i, value).await {
                    tracing::warn!(error = %e, "recording a test notification outcome failed");
                }
            });
        });
        self.notifier.notify(
            &group_id,
            &format!("{group_id}/createNotifications"),
            &deliveries,
            Message {
                common: &common,
                legacy: &legacy,
                subject: Subject {
                    correlation_id: notification_id.clone(),
                    summary: format!("test notification ({})", request.alert_type),
                    properties: Map::from_iter([
                        ("notificationId".to_string(), json!(notification_id)),
                        ("alertType".to_string(), json!(request.alert_type)),
                    ]),
                },
            },
            Some(on_outcome),
        );
        let location = format!(
            "{}{}",
            req.base,
            status_location(&group_id, &notification_id, req.api_version()?)
        );
        Ok(accepted(location))
    }
}

/// 202 with where to poll.
fn accepted(location: String) -> Response {
    let mut response = StatusCode::ACCEPTED.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert("location", v);
    }
    h.insert("retry-after", HeaderValue::from_static(lro::RETRY_AFTER));
    response
}

async fn notification_status(
    arm: &Arc<Arm>,
    req: &ArmRequest,
    id: &ResourceId,
    notification_id: &str,
) -> ArmResult<Response> {
    let not_found = || {
        ArmError::not_found(
            "NotificationNotFound",
            format!("The notification '{notification_id}' could not be found."),
        )
    };
    let (group, alert_type, created, actions) = arm
        .store
        .action_group_test(notification_id)
        .await?
        .ok_or_else(not_found)?;
    if group != id.key() {
        return Err(not_found());
    }
    let results: Vec<ActionResult> = actions
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| ActionResult {
            mechanism: serde_json::from_value(a["mechanism"].clone()).unwrap_or(Mechanism::Webhook),
            name: a["name"].as_str().unwrap_or_default().to_string(),
            outcome: action_outcome(&a["outcome"]),
        })
        .collect();
    let doc = status_document(&alert_type, created, &results);
    if doc["state"] == "Running" {
        let mut response = accepted(req.url_with("api-version", req.api_version()?));
        *response.body_mut() = axum::body::Body::from(doc.to_string());
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Ok(response);
    }
    Ok(Json(doc).into_response())
}
