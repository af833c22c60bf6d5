//! The terminate-notification controller. When a scale set's model enables
//! `scheduledEventsProfile.terminateNotificationProfile`, a delete of an instance (scale-in,
//! `delete-instances`, autoscale) only marks it `delete_requested`; this controller then
//! schedules its `Terminate` event in the scale set's Scheduled Events (persisted, served
//! by IMDS to every instance of the set), keeps the instance running until the event
//! starts — at `NotBefore`, or earlier once approved with `StartRequests` — and then
//! deletes it through the [`Fleet`]: the reconciler takes it out of its pools (draining)
//! and stops it with SIGTERM, the grace period, SIGKILL. The event leaves the document once
//! the instance is gone.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::fleet::Fleet;
use super::scheduled_events::{EventSource, ScheduledEvents, TerminateNotificationProfile};
use crate::model::compute::SCALE_SET_TYPE;
use crate::model::compute::instance::InstanceState;
use crate::runtime::Runtime;

/// The pass runs at least this often; an approval (a stored change) wakes it sooner.
const REQUEUE: Duration = Duration::from_secs(1);

pub async fn run(
    rt: Arc<Runtime>,
    fleet: Arc<dyn Fleet>,
    mut changes: watch::Receiver<u64>,
    shutdown: CancellationToken,
) {
    loop {
        let next = match pass(&rt, fleet.as_ref()).await {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(error = %e, "terminate notification pass failed; retrying");
                REQUEUE
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = changes.changed() => {}
            _ = tokio::time::sleep(next) => {}
        }
    }
}

/// One pass over every scale set with pending deletions or events; returns when the next
/// is due.
pub async fn pass(rt: &Runtime, fleet: &dyn Fleet) -> anyhow::Result<Duration> {
    let mut next = REQUEUE;
    for vmss in rt.store.list_types(&[SCALE_SET_TYPE]).await? {
        let key = vmss.key();
        let rows = rt.store.instances_of(&key).await?;
        let waiting: Vec<_> = rows
            .iter()
            .filter(|r| InstanceState::of(&r.body).is_ok_and(|s| s.delete_requested))
            .collect();
        let stored = rt.store.scheduled_events(&key).await?;
        if waiting.is_empty() && stored.is_none() {
            continue;
        }
        let mut events: ScheduledEvents = match &stored {
            Some(doc) => serde_json::from_value(doc.clone())?,
            None => ScheduledEvents::default(),
        };
        let before = events.clone();
        let now = rt.clock.now_utc();
        let profile = TerminateNotificationProfile::from_profile(
            &vmss.body["properties"]["virtualMachineProfile"],
        )
        .ok()
        .flatten();
        let id_of = |r: &crate::store::Resource| {
            r.body["instanceId"].as_str().unwrap_or(&r.name).to_string()
        };
        let mut doomed = Vec::new();
        for r in &waiting {
            match &profile {
                Some(p) => events.schedule(
                    &id_of(r),
                    &r.name,
                    EventSource::User,
                    p,
                    uuid::Uuid::new_v4().to_string(),
                    now,
                ),
                // Notifications were switched off since: the deletion goes ahead.
                None => doomed.push(id_of(r)),
            }
        }
        let released = events.release(now);
        doomed.extend(
            released
                .into_iter()
                .filter(|id| waiting.iter().any(|r| id_of(r) == *id)),
        );
        if !doomed.is_empty() {
            tracing::info!(scale_set = vmss.name, instances = ?doomed, "terminate notifications started: deleting");
            fleet.delete_instances(&key, &doomed).await?;
        }
        // Events of instances that are gone have reached their end.
        let gone: Vec<String> = events
            .events
            .iter()
            .map(|e| e.instance.clone())
            .filter(|id| doomed.contains(id) || !rows.iter().any(|r| id_of(r) == *id))
            .collect();
        for id in gone {
            events.complete(&id);
        }
        if events != before || stored.is_none() {
            rt.store
                .save_scheduled_events(&key, &serde_json::to_value(&events)?)
                .await?;
        }
        if let Some(deadline) = events.next_deadline() {
            let azure = (deadline - now).to_std().unwrap_or(Duration::ZERO);
            next = next.min(rt.clock.real(azure).max(Duration::from_millis(10)));
        }
    }
    Ok(next)
}
