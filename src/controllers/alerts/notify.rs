//! Sends an action group's notifications: webhooks (and Logic App, Azure Function and runbook
//! webhooks) are really called in the background with Azure's retry policy; the receivers that
//! cannot leave this machine are recorded. Either way each notification ends as an
//! activity-log event on the action group ([`crate::runtime::alert::notification`]).
//!
//! Nothing here waits for a receiver: a receiver that hangs or answers 500 never delays the
//! engine or another receiver. An endpoint whose every attempt failed is left alone for 15
//! minutes (Azure's documented suspension), by this notifier.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::model::action_group::receivers::Delivery;
use crate::model::id::ResourceId;
use crate::runtime::Runtime;
use crate::runtime::alert::delivery::{WebhookPolicy, body_for};
use crate::runtime::alert::notification::{Outcome, Subject, event};
use crate::runtime::clock::Clock;
use crate::runtime::webhook::{Attempt, Delivered, Webhooks};
use crate::store::Store;

/// Told how each delivery (by its index in the list) ended.
pub type OnOutcome = Arc<dyn Fn(usize, Outcome, DateTime<Utc>) + Send + Sync>;

#[derive(Clone)]
pub struct Notifier {
    store: Store,
    webhooks: Webhooks,
    clock: Clock,
    policy: Arc<WebhookPolicy>,
    /// Endpoints whose last delivery failed for good, and when (Azure time).
    failed: Arc<Mutex<HashMap<String, DateTime<Utc>>>>,
}

/// What one notification carries: both schemas, each receiver gets the one it asked for.
pub struct Message<'a> {
    pub common: &'a Value,
    pub legacy: &'a Value,
    pub subject: Subject,
}

fn detail(last: Attempt) -> String {
    match last {
        Attempt::Status(s) => format!("the receiver answered HTTP {s}"),
        Attempt::NoResponse => "no response (connection failed or timed out)".into(),
    }
}

impl Notifier {
    pub fn new(runtime: &Runtime) -> Self {
        Notifier {
            store: runtime.store.clone(),
            webhooks: runtime.webhooks.clone(),
            clock: runtime.clock,
            policy: Arc::new(WebhookPolicy::default()),
            failed: Default::default(),
        }
    }

    /// Sends `message` to each of `deliveries` of action group `group`; `source` names the
    /// sender in logs (the alert rule, or the test notification).
    pub fn notify(
        &self,
        group: &ResourceId,
        source: &str,
        deliveries: &[Delivery],
        message: Message<'_>,
        on_outcome: Option<OnOutcome>,
    ) {
        let subject = Arc::new(message.subject);
        for (index, d) in deliveries.iter().enumerate() {
            let one = One {
                notifier: self.clone(),
                group: group.clone(),
                delivery: d.clone(),
                subject: subject.clone(),
                index,
                on_outcome: on_outcome.clone(),
            };
            let now = self.clock.now_utc();
            let Some(url) = &d.url else {
                one.finish(Outcome::Recorded, now);
                continue;
            };
            let suspended = self
                .failed
                .lock()
                .expect("suspension lock")
                .get(url)
                .copied();
            if self.policy.suspended(suspended, now) {
                let detail = "not called: every attempt of an earlier delivery to this endpoint failed less than 15 minutes ago";
                one.finish(
                    Outcome::Failed {
                        attempts: 0,
                        detail: detail.into(),
                    },
                    now,
                );
                continue;
            }
            let body = body_for(d, message.common, message.legacy).clone();
            let done = move |r: Delivered| {
                let at = one.notifier.clock.now_utc();
                let mut failed = one.notifier.failed.lock().expect("suspension lock");
                let outcome = if r.ok {
                    failed.remove(&r.url);
                    Outcome::Delivered {
                        attempts: r.attempts,
                    }
                } else {
                    failed.insert(r.url.clone(), at);
                    Outcome::Failed {
                        attempts: r.attempts,
                        detail: detail(r.last),
                    }
                };
                drop(failed);
                one.finish(outcome, at);
            };
            self.webhooks
                .send_then(source, url, body, self.policy.clone(), Box::new(done));
        }
    }
}

/// One delivery of one notification, until it has ended.
struct One {
    notifier: Notifier,
    group: ResourceId,
    delivery: Delivery,
    subject: Arc<Subject>,
    /// The delivery's index in the list, for the caller's callback.
    index: usize,
    on_outcome: Option<OnOutcome>,
}

impl One {
    /// Records how the delivery ended: the activity-log event (written in the background)
    /// and the caller's callback.
    fn finish(self, outcome: Outcome, at: DateTime<Utc>) {
        let ev = event(&self.group, &self.delivery, &self.subject, &outcome, at);
        let store = self.notifier.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.append_activity(&ev).await {
                tracing::warn!(error = %e, "recording a notification in the activity log failed");
            }
        });
        if let Some(f) = &self.on_outcome {
            f(self.index, outcome, at);
        }
    }
}
