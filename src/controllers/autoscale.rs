//! The autoscale engine: a level-triggered reconciler that, every
//! [`EVALUATION_INTERVAL`] of Azure time (the scaled clock), evaluates each enabled
//! `Microsoft.Insights/autoscalesettings` and changes its scale set's capacity when the
//! decision says so. The rules themselves are the pure functions of
//! [`crate::runtime::autoscale`]; this loop reads, decides, acts and remembers.
//!
//! One pass, for each setting:
//! 1. a scale action of this setting still provisioning holds it; one that ended is logged
//!    (`Succeeded`/`Failed`) and forgotten;
//! 2. the profile in force at Azure's now, and the scale set's capacity (a scale set being
//!    updated by someone else is left alone until it is done);
//! 3. each rule's metric from the metrics store ([`metrics::fetch`]), then `evaluate`;
//! 4. the decision's events (flapping, metric failure and recovery) go to the activity log;
//!    a new capacity is logged `Started`, PUT as `az vmss scale` does, notified to the
//!    webhooks, and a waiter logs its end;
//! 5. the engine state (last action and its cooldown, metric failure, the evaluation itself)
//!    is stored, so a restart keeps cooldowns and finds scale actions in flight; the
//!    setting's GET shows it under `armlet`, and each evaluation is a log line.

pub mod act;
pub mod metrics;
pub mod state;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::arm::Arm;
use crate::model::autoscale::{AutoscaleSetting, TYPE, parse_setting};
use crate::model::id::ResourceId;
use crate::runtime::autoscale::EVALUATION_INTERVAL;
use crate::runtime::autoscale::activity_log::Activity;
use crate::runtime::autoscale::evaluate::{self, Decision, Event as Happened, Input, Reason};
use crate::runtime::autoscale::notify::ScaleNotice;
use crate::runtime::autoscale::profile::active_profile;
use crate::runtime::clock::Clock;
use crate::runtime::webhook::Webhooks;
use crate::store::{OperationStatus, Resource, Store};
use act::{Event, Subject};
use state::{EngineState, Evaluation, PendingScale, RuleView, ScaleRecord};

/// What the engine works with.
#[derive(Clone)]
pub struct Engine {
    /// Settings and scale sets are read from its store; capacity changes go through it.
    pub arm: Arc<Arm>,
    /// Azure's now and the evaluation cadence.
    pub clock: Clock,
    /// Background delivery of notifications, so a slow receiver never stalls a pass.
    pub webhooks: Webhooks,
}

/// Evaluates every setting each Azure minute until `shutdown`.
pub async fn run(engine: Engine, shutdown: CancellationToken) {
    let mut tick = engine.clock.interval(EVALUATION_INTERVAL);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        engine.pass().await;
    }
}

impl Engine {
    fn store(&self) -> &Store {
        &self.arm.store
    }

    /// One evaluation of every autoscale setting.
    pub async fn pass(&self) {
        if let Err(e) = self.store().prune_autoscale_states().await {
            tracing::warn!(error = %e, "pruning autoscale state");
        }
        let settings = match self.store().list_types(&[TYPE]).await {
            Ok(rows) => rows,
            Err(e) => return tracing::warn!(error = %e, "listing autoscale settings"),
        };
        for row in settings {
            if self.arm.shutdown.is_cancelled() {
                return;
            }
            self.reconcile(&row).await;
        }
    }

    async fn reconcile(&self, row: &Resource) {
        let Ok(id) = ResourceId::parse(&row.id) else {
            return;
        };
        let setting = match parse_setting(&row.body["properties"], &row.name) {
            Ok(s) => s,
            Err(e) => {
                return tracing::warn!(setting = %id, error = %e.message, "unreadable autoscale setting");
            }
        };
        let key = id.key();
        let stored = self.store().autoscale_state(&key).await.ok().flatten();
        let mut state = EngineState::from_stored(stored);
        let previous = state.last_evaluation.as_ref().map(|e| e.decision.clone());
        let now = self.clock.now_utc();
        let evaluation = self.evaluate(&id, &setting, &mut state, now).await;
        let rules: Vec<String> = evaluation
            .rules
            .iter()
            .map(|r| match r.observed {
                Some(v) => format!("{} {:.2} {} {}", r.metric_name, v, r.operator, r.threshold),
                None => format!("{} (no data)", r.metric_name),
            })
            .collect();
        let acted = evaluation.new_capacity.is_some();
        macro_rules! log_evaluation {
            ($level:ident) => {
                tracing::$level!(
                    setting = %id,
                    profile = evaluation.profile.as_deref().unwrap_or("-"),
                    capacity = evaluation.current_capacity,
                    new_capacity = evaluation.new_capacity,
                    decision = evaluation.decision,
                    ?rules,
                    "autoscale evaluation"
                )
            };
        }
        // Every evaluation is logged; at info when it acts or its answer changes.
        if acted || previous.as_deref() != Some(evaluation.decision.as_str()) {
            log_evaluation!(info);
        } else {
            log_evaluation!(debug);
        }
        state.last_evaluation = Some(evaluation);
        if let Err(e) = self
            .store()
            .put_autoscale_state(&key, &state.to_value())
            .await
        {
            tracing::warn!(setting = %id, error = %e, "storing autoscale state");
        }
    }

    async fn evaluate(
        &self,
        id: &ResourceId,
        setting: &AutoscaleSetting,
        state: &mut EngineState,
        now: DateTime<Utc>,
    ) -> Evaluation {
        let mut out = Evaluation {
            time: state::time(now),
            profile: None,
            current_capacity: None,
            new_capacity: None,
            decision: String::new(),
            rules: Vec::new(),
        };
        if let Some(pending) = state.scale_in_progress.clone() {
            match self.store().operation(&pending.operation_id).await {
                Ok(Some(op)) if !op.status.is_terminal() => {
                    out.decision = format!(
                        "Scale operation from {} to {} instances in progress",
                        pending.old_capacity, pending.new_capacity
                    );
                    return out;
                }
                Ok(Some(op)) => {
                    let error = (op.status != OperationStatus::Succeeded).then(|| {
                        op.error
                            .as_ref()
                            .and_then(|e| e["message"].as_str())
                            .unwrap_or("The operation failed.")
                            .to_string()
                    });
                    complete(self.store(), id, setting, &pending, error, now).await;
                    state.scale_in_progress = None;
                }
                Ok(None) => state.scale_in_progress = None,
                Err(e) => {
                    out.decision = format!("Could not read the scale operation: {e}");
                    return out;
                }
            }
        }
        if !setting.enabled {
            out.decision = Reason::SettingDisabled.describe();
            return out;
        }
        let Some(active) = active_profile(setting, now) else {
            out.decision = "No profile applies at this time".into();
            return out;
        };
        let profile = active.profile;
        out.profile = Some(profile.name.clone());
        let Ok(target) = ResourceId::parse(&setting.target_resource_uri) else {
            out.decision = "The target resource id is not valid".into();
            return out;
        };
        let scale_set = match self.store().get(&target.key()).await {
            Ok(Some(row)) => row,
            Ok(None) => {
                out.decision = format!(
                    "The target resource '{}' was not found",
                    setting.target_resource_uri
                );
                return out;
            }
            Err(e) => {
                out.decision = format!("Could not read the target resource: {e}");
                return out;
            }
        };
        let current = scale_set.body["sku"]["capacity"]
            .as_u64()
            .map_or(0, |c| u32::try_from(c).unwrap_or(u32::MAX));
        out.current_capacity = Some(current);
        if matches!(
            scale_set.body["properties"]["provisioningState"].as_str(),
            Some("Creating" | "Updating" | "Deleting")
        ) {
            out.decision = "The target resource is being updated".into();
            return out;
        }

        let mut series = Vec::with_capacity(profile.rules.len());
        for rule in &profile.rules {
            let s = metrics::fetch(self.store(), &rule.metric_trigger, now).await;
            series.push(s.unwrap_or_else(|e| {
                tracing::warn!(setting = %id, error = %e, "reading a rule's metric");
                Default::default()
            }));
        }
        let decision = evaluate::evaluate(&Input {
            setting,
            profile,
            metrics: &series,
            current_capacity: current,
            last_action: state.last_action(),
            metrics_failed_before: state.metric_failure,
            now,
        });
        let subject = Subject {
            id,
            setting,
            profile,
        };
        self.record_events(subject, state, &decision, current, now)
            .await;
        if let Some(new) = decision.new_capacity {
            self.scale(subject, &target, state, &decision, current, new, now)
                .await;
        }
        out.new_capacity = decision.new_capacity;
        out.decision = decision.reason.describe();
        out.rules = decision
            .rules
            .iter()
            .map(|o| {
                let rule = &profile.rules[o.index];
                let t = &rule.metric_trigger;
                RuleView {
                    metric_name: t.metric_name.clone(),
                    metric_resource_uri: t.metric_resource_uri.clone(),
                    direction: rule.scale_action.direction.as_str().to_string(),
                    operator: t.operator.as_str().to_string(),
                    threshold: t.threshold,
                    observed: o.observed,
                    fired: o.fired,
                }
            })
            .collect();
        out
    }

    /// Flapping, metric failure and recovery. A metric failure is logged when it starts
    /// (the recovery closes it), not at every evaluation it lasts.
    async fn record_events(
        &self,
        subject: Subject<'_>,
        state: &mut EngineState,
        decision: &Decision,
        current: u32,
        now: DateTime<Utc>,
    ) {
        let failed_before = state.metric_failure;
        if !decision.rules.is_empty() {
            state.metric_failure = decision.reason == Reason::MetricFailure;
        }
        let new = decision.new_capacity.unwrap_or(current);
        for happened in &decision.events {
            let (activity, new) = match *happened {
                Happened::MetricFailure if failed_before => continue,
                Happened::MetricFailure => (Activity::MetricFailure, new),
                Happened::MetricRecovery => (Activity::MetricRecovery, new),
                Happened::Flapping { intended, .. } => (Activity::Flapping { intended }, current),
                Happened::FlappingOccurred {
                    intended, actual, ..
                } => (Activity::FlappingOccurred { intended, actual }, actual),
            };
            let id = Uuid::new_v4();
            let event = Event {
                activity: &activity,
                old_capacity: current,
                new_capacity: new,
                last_scale_action_time: state.last_action().map(|a| a.at),
                at: now,
                correlation_id: id,
                event_data_id: id,
            };
            act::record(self.store(), subject, event).await;
        }
    }

    /// Starts a capacity change: `Started`, the PUT, notifications, and a waiter for its end.
    #[allow(clippy::too_many_arguments)]
    async fn scale(
        &self,
        subject: Subject<'_>,
        target: &ResourceId,
        state: &mut EngineState,
        decision: &Decision,
        current: u32,
        new: u32,
        now: DateTime<Utc>,
    ) {
        let correlation = Uuid::new_v4();
        let event = |activity| Event {
            activity,
            old_capacity: current,
            new_capacity: new,
            last_scale_action_time: state.last_action().map(|a| a.at),
            at: now,
            correlation_id: correlation,
            event_data_id: Uuid::new_v4(),
        };
        act::record(self.store(), subject, event(&Activity::ScaleInitiated)).await;
        let operation = match act::change_capacity(&self.arm, target, new).await {
            Ok(op) => op,
            Err(e) => {
                tracing::warn!(setting = %subject.id, error = %e.message, "autoscale could not scale");
                let failed = Activity::ScaleCompleted {
                    error: Some(e.message.clone()),
                };
                let mut end = event(&failed);
                end.event_data_id = act::completion_id(correlation);
                act::record(self.store(), subject, end).await;
                return;
            }
        };
        let notice = ScaleNotice {
            setting_id: subject.id,
            setting: subject.setting,
            timestamp: now,
            old_capacity: current,
            new_capacity: new,
        };
        let notified = act::notify(&self.webhooks, &notice);
        let direction = if new > current {
            "Increase"
        } else {
            "Decrease"
        };
        state.last_scale_action = Some(ScaleRecord {
            time: state::time(now),
            direction: direction.into(),
            cooldown: state::cooldown(decision.cooldown),
            old_capacity: current,
            new_capacity: new,
            profile: subject.profile.name.clone(),
            reason: decision.reason.describe(),
            correlation_id: correlation.to_string(),
            notified,
        });
        let pending = PendingScale {
            operation_id: operation.clone().unwrap_or_default(),
            correlation_id: correlation.to_string(),
            old_capacity: current,
            new_capacity: new,
            profile: subject.profile.name.clone(),
            started: state::time(now),
        };
        match operation {
            None => {
                complete(
                    self.store(),
                    subject.id,
                    subject.setting,
                    &pending,
                    None,
                    now,
                )
                .await
            }
            Some(op) => {
                state.scale_in_progress = Some(pending.clone());
                let (arm, clock) = (self.arm.clone(), self.clock);
                let (id, setting) = (subject.id.clone(), subject.setting.clone());
                self.arm.tasks.spawn(async move {
                    let outcome = arm.wait_operation(&op).await;
                    if arm.shutdown.is_cancelled() {
                        return;
                    }
                    let error = outcome.err().map(|e| e.message);
                    complete(&arm.store, &id, &setting, &pending, error, clock.now_utc()).await;
                });
            }
        }
    }
}

/// Logs the end of a scale action (once, whoever sees it first).
async fn complete(
    store: &Store,
    id: &ResourceId,
    setting: &AutoscaleSetting,
    pending: &PendingScale,
    error: Option<String>,
    now: DateTime<Utc>,
) {
    let Some(profile) = setting
        .profiles
        .iter()
        .find(|p| p.name == pending.profile)
        .or(setting.profiles.first())
    else {
        return;
    };
    let correlation = Uuid::parse_str(&pending.correlation_id).unwrap_or_default();
    if let Some(e) = &error {
        tracing::warn!(setting = %id, error = e, "autoscale scale action failed");
    }
    let activity = Activity::ScaleCompleted { error };
    let event = Event {
        activity: &activity,
        old_capacity: pending.old_capacity,
        new_capacity: pending.new_capacity,
        last_scale_action_time: state::parse_time(&pending.started),
        at: now,
        correlation_id: correlation,
        event_data_id: act::completion_id(correlation),
    };
    let subject = Subject {
        id,
        setting,
        profile,
    };
    act::record(store, subject, event).await;
}
