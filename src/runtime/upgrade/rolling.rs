//! The rolling-upgrade controller: drives every active upgrade record through the pure
//! planner ([`super::plan::next_step`]) and carries each step out through the [`Fleet`].
//!
//! Per upgrade, level-triggered: read the scale set and its instances, ask for the next
//! step, record it (`Progress::apply`) and persist it, then act — so a step the record says
//! was started but the instances do not show yet is simply asked for again. The loop stops
//! at a `Wait` (woken at its deadline, on any stored change or health change) or when the
//! upgrade ends. Records are written with the version they were read at: a concurrent
//! cancel wins, and the controller re-reads.
//!
//! An upgraded instance restarts on its new model through the ordinary reconciler: it
//! leaves rotation as a draining backend (its flows go on), gets SIGTERM, the grace period,
//! SIGKILL, starts on the new model and takes new flows once its probe passes — the health
//! the planner then waits for. At start-up [`recover`] resumes each running upgrade, or
//! ends it Faulted when the scale-set model moved on while armlet was down.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Instance;
use super::error::UpgradeError;
use super::fleet::Fleet;
use super::observe::{self, ScaleSetView};
use super::plan::{Step, next_step};
use super::policy::RollingUpgradePolicy;
use super::progress::{self, Invoker, Progress, UpgradeKind};
use crate::model::compute::instance::InstanceAction;
use crate::model::error::ArmResult;
use crate::runtime::Runtime;
use crate::store::lifecycle::UpgradeRow;

/// A pass runs at least this often.
const REQUEUE: Duration = Duration::from_secs(1);
/// Steps carried out for one upgrade in one pass before yielding to the others.
const MAX_STEPS: usize = 16;

/// A new upgrade record of `kind` for a scale set with `properties` and these `instances`
/// (their `latest_model` judged against `model_version`), RollingForward from `now`.
/// `previous` is the model version and `virtualMachineProfile` a rollback returns to.
pub fn begin(
    kind: UpgradeKind,
    started_by: Invoker,
    properties: &Value,
    instances: &[Instance],
    model_version: u64,
    previous: Option<(u64, &Value)>,
    now: DateTime<Utc>,
) -> ArmResult<Progress> {
    let policy = RollingUpgradePolicy::from_properties(properties)?;
    let previous = previous.map(|(v, profile)| json!({"version": v, "profile": profile}));
    Ok(Progress::start(
        kind,
        started_by,
        policy,
        progress::scope(kind, instances),
        model_version,
        previous,
        now,
    ))
}

/// Runs until shutdown.
pub async fn run(
    rt: Arc<Runtime>,
    fleet: Arc<dyn Fleet>,
    mut changes: watch::Receiver<u64>,
    shutdown: CancellationToken,
) {
    if let Err(e) = recover(&rt).await {
        tracing::warn!(error = %e, "recovering rolling upgrades");
    }
    let mut health = rt.prober.health().subscribe();
    loop {
        let next = match pass(&rt, fleet.as_ref()).await {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(error = %e, "rolling upgrade pass failed; retrying");
                REQUEUE
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = changes.changed() => {}
            _ = health.changed() => {}
            _ = tokio::time::sleep(next) => {}
        }
    }
}

/// After a restart: each running upgrade resumes, unless its scale set is gone or its model
/// moved on (then it ends Faulted). Times recorded by the previous run that lie ahead of
/// this run's clock (a faster time scale then) are brought back to now.
pub async fn recover(rt: &Runtime) -> anyhow::Result<()> {
    for row in rt.store.active_upgrades().await? {
        let mut p: Progress = serde_json::from_value(row.record.clone())?;
        let now = rt.clock.now_utc();
        let current = observe::scale_set(rt, &row.scale_set)
            .await?
            .map(|v| v.model_version);
        if let Some(b) = p.batch.as_mut() {
            b.started = b.started.min(now);
        }
        let pause = chrono::Duration::from_std(p.policy.pause_time_between_batches)
            .unwrap_or(chrono::Duration::zero());
        p.pause_until = p.pause_until.map(|u| u.min(now + pause));
        let running = match current {
            Some(version) => p.recover(version, now),
            None => {
                p.apply(&Step::Fault(UpgradeError::interrupted()), now);
                false
            }
        };
        let active = running || surge_in_flight(&p);
        if !running {
            tracing::warn!(
                scale_set = row.scale_set,
                "rolling upgrade could not resume: Faulted"
            );
        }
        rt.store
            .save_upgrade(row.id, row.version, active, &serde_json::to_value(&p)?)
            .await?;
    }
    Ok(())
}

/// One pass over the active upgrades; returns when the next pass is due.
pub async fn pass(rt: &Runtime, fleet: &dyn Fleet) -> anyhow::Result<Duration> {
    let mut next = REQUEUE;
    for row in rt.store.active_upgrades().await? {
        let id = row.id;
        match drive(rt, fleet, row).await {
            Ok(Some(wait)) => next = next.min(wait),
            Ok(None) => {}
            Err(e) => tracing::warn!(upgrade = id, error = %e, "rolling upgrade step failed"),
        }
    }
    Ok(next)
}

fn surge_in_flight(p: &Progress) -> bool {
    p.batch
        .as_ref()
        .and_then(|b| b.surge.as_ref())
        .is_some_and(|s| !s.created.is_empty())
}

/// Advances one upgrade as far as it goes now; returns how long until it may move again.
async fn drive(
    rt: &Runtime,
    fleet: &dyn Fleet,
    row: UpgradeRow,
) -> anyhow::Result<Option<Duration>> {
    let mut p: Progress = serde_json::from_value(row.record)?;
    let mut version = row.version;
    for _ in 0..MAX_STEPS {
        let now = rt.clock.now_utc();
        let Some(view) = observe::scale_set(rt, &row.scale_set).await? else {
            // The scale set was deleted under the upgrade.
            if p.is_running() {
                p.apply(&Step::Fault(UpgradeError::interrupted()), now);
            }
            p.batch = None;
            save(rt, row.id, &mut version, false, &p).await?;
            return Ok(None);
        };
        let step = next_step(&view.instances, &p, now);
        match &step {
            Step::Wait { until, .. } => {
                let azure = (*until - now).to_std().unwrap_or(Duration::ZERO);
                return Ok(Some(rt.clock.real(azure).max(Duration::from_millis(10))));
            }
            Step::Idle => {
                save(rt, row.id, &mut version, false, &p).await?;
                return Ok(None);
            }
            _ => {}
        }
        tracing::info!(scale_set = view.name(), step = ?step, "rolling upgrade step");
        p.apply(&step, now);
        let active = p.is_running() || matches!(step, Step::Cleanup { .. });
        if !save(rt, row.id, &mut version, active, &p).await? {
            return Ok(Some(Duration::ZERO)); // written meanwhile (a cancel): read it again
        }
        act(rt, fleet, &view, &mut p, &step).await?;
        match step {
            Step::CreateSurge { .. } => {
                save(rt, row.id, &mut version, true, &p).await?;
            }
            Step::Complete | Step::Fault(_) => {
                tracing::info!(scale_set = view.name(), code = ?p.code, "rolling upgrade ended");
                return Ok(None);
            }
            Step::Cleanup { .. } => {
                save(rt, row.id, &mut version, false, &p).await?;
                return Ok(None);
            }
            _ => {}
        }
    }
    Ok(Some(Duration::ZERO))
}

/// Writes the record if nobody else did since it was read; returns whether it did.
async fn save(
    rt: &Runtime,
    id: i64,
    version: &mut i64,
    active: bool,
    p: &Progress,
) -> anyhow::Result<bool> {
    let saved = rt
        .store
        .save_upgrade(id, *version, active, &serde_json::to_value(p)?)
        .await?;
    if saved {
        *version += 1;
    }
    Ok(saved)
}

/// Carries a recorded step out.
async fn act(
    rt: &Runtime,
    fleet: &dyn Fleet,
    view: &ScaleSetView,
    p: &mut Progress,
    step: &Step,
) -> ArmResult<()> {
    let key = view.key.as_str();
    match step {
        Step::Upgrade { instances } => match p.kind {
            UpgradeKind::Model => fleet.apply_latest_model(key, instances).await,
            UpgradeKind::OsImage => fleet.act(key, instances, InstanceAction::Reimage).await,
            UpgradeKind::Extension => fleet.act(key, instances, InstanceAction::Restart).await,
        },
        Step::CreateSurge { count, .. } => {
            for id in fleet.add_instances(key, *count).await? {
                p.add_surge(id, rt.clock.now_utc());
            }
            Ok(())
        }
        Step::FinishBatch { delete, .. } | Step::Cleanup { delete } if !delete.is_empty() => {
            fleet.delete_instances(key, delete).await
        }
        Step::Rollback { instances, .. } => {
            let previous = p.previous_model.as_ref();
            match previous.and_then(|v| Some((v["version"].as_u64()?, &v["profile"]))) {
                Some((version, profile)) if p.kind == UpgradeKind::Model => {
                    fleet.apply_model(key, instances, version, profile).await
                }
                // An OS image or extension upgrade leaves the model as it was.
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}
