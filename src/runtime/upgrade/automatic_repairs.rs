//! The automatic-repairs controller: for every scale set whose `automaticRepairsPolicy` is
//! enabled and whose AutomaticRepairs service runs, it reads the instances and their
//! health ([`super::observe`]), asks the pure [`repair::decide`] what to repair and does it
//! through the [`Fleet`] (Replace: a new instance in the old one's place; Restart;
//! Reimage). Each repair is followed until its grace period tells whether it helped
//! ([`repair::outcome`]); repairs that keep failing suspend the service, as Azure does.
//!
//! Repairs wait while a rolling upgrade runs on the scale set (the upgrade is already
//! replacing instances; armlet's choice, Azure does not document the interplay).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::fleet::Fleet;
use super::observe;
use super::orchestration::{ServiceState, service_state};
use super::policy::{AutomaticRepairsPolicy, RepairAction};
use super::repair::{self, Outcome};
use crate::model::compute::SCALE_SET_TYPE;
use crate::model::compute::instance::InstanceAction;
use crate::runtime::Runtime;

/// The orchestration service's name, as the API and the store spell it.
pub const SERVICE: &str = "AutomaticRepairs";

/// How often the controller looks when nothing wakes it: health changes and stored
/// changes wake it sooner.
const REQUEUE: Duration = Duration::from_secs(1);

/// Repairs under way in one scale set.
#[derive(Debug, Default)]
struct Repairs {
    /// Instances a repair produced (the replacement, or the restarted/reimaged instance)
    /// and when it was asked for, waiting for their outcome.
    in_progress: Vec<(String, DateTime<Utc>)>,
    failed_in_a_row: u32,
}

pub async fn run(
    rt: Arc<Runtime>,
    fleet: Arc<dyn Fleet>,
    mut changes: watch::Receiver<u64>,
    shutdown: CancellationToken,
) {
    let mut repairs: HashMap<String, Repairs> = HashMap::new();
    let mut health = rt.prober.health().subscribe();
    loop {
        if let Err(e) = pass(&rt, fleet.as_ref(), &mut repairs).await {
            tracing::warn!(error = %e, "automatic repairs pass failed; retrying");
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = changes.changed() => {}
            _ = health.changed() => {}
            _ = tokio::time::sleep(REQUEUE) => {}
        }
    }
}

async fn pass(
    rt: &Runtime,
    fleet: &dyn Fleet,
    repairs: &mut HashMap<String, Repairs>,
) -> anyhow::Result<()> {
    let mut seen = Vec::new();
    for row in rt.store.list_types(&[SCALE_SET_TYPE]).await? {
        let key = row.key();
        let props = &row.body["properties"];
        let Ok(policy) = AutomaticRepairsPolicy::from_properties(props) else {
            continue;
        };
        if !policy.enabled {
            continue;
        }
        seen.push(key.clone());
        let suspended = rt.store.service_suspended(&key, SERVICE).await?;
        let state = service_state(props, suspended)?.unwrap_or(ServiceState::NotRunning);
        let work = repairs.entry(key.clone()).or_default();
        if state != ServiceState::Running {
            *work = Repairs::default();
            continue;
        }
        if rt
            .store
            .latest_upgrade(&key)
            .await?
            .is_some_and(|u| u.active)
        {
            continue;
        }
        let Some(view) = observe::scale_set(rt, &key).await? else {
            continue;
        };
        let now = rt.clock.now_utc();
        // How did the repairs under way turn out?
        work.in_progress.retain(|(id, asked)| {
            let Some(i) = view.instances.iter().find(|i| &i.id == id) else {
                return false;
            };
            // Until the repair has taken effect (a new process), there is nothing to judge.
            if i.last_change < *asked {
                return true;
            }
            match repair::outcome(i, &policy, now) {
                Outcome::Pending => true,
                Outcome::Healthy => {
                    work.failed_in_a_row = 0;
                    false
                }
                Outcome::Failed => {
                    work.failed_in_a_row += 1;
                    false
                }
            }
        });
        let under_repair: Vec<String> = work.in_progress.iter().map(|(id, _)| id.clone()).collect();
        let decision = repair::decide(
            &view.instances,
            &policy,
            state,
            &under_repair,
            work.failed_in_a_row,
            now,
        );
        if decision.suspend {
            tracing::warn!(
                scale_set = view.name(),
                "automatic repairs keep failing: suspended"
            );
            rt.store.set_service_suspended(&key, SERVICE, true).await?;
            *work = Repairs::default();
            continue;
        }
        for r in decision.repairs {
            tracing::info!(scale_set = view.name(), instance = r.instance, action = ?r.action,
                "repairing an unhealthy instance");
            let ids = [r.instance.clone()];
            let repaired = match r.action {
                RepairAction::Replace => fleet.replace(&key, &r.instance).await,
                RepairAction::Restart => fleet
                    .act(&key, &ids, InstanceAction::Restart)
                    .await
                    .map(|_| r.instance.clone()),
                RepairAction::Reimage => fleet
                    .act(&key, &ids, InstanceAction::Reimage)
                    .await
                    .map(|_| r.instance.clone()),
            };
            match repaired {
                Ok(id) => work.in_progress.push((id, now)),
                Err(e) => tracing::warn!(instance = r.instance, error = %e, "repair failed"),
            }
        }
    }
    repairs.retain(|k, _| seen.contains(k));
    Ok(())
}
