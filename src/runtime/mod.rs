//! The runtime that makes armlet real: instances are processes ([`instance`]), probes probe
//! them ([`probe`]), the proxy carries traffic to the healthy ones ([`proxy`]), all on one
//! scaled [`clock`], kept equal to the stored model by the [`reconciler`] from a [`plan`]
//! and the pure process decisions of [`decide`]; the [`metrics`] collector turns what they
//! did into Azure Monitor minutes.
//!
//! It reads the store and the model layer only; the API reads its snapshots ([`Runtime::plan`],
//! the prober's health table, the proxy's counters) and never the other way round.

pub mod alert;
pub mod autoscale;
pub mod clock;
pub mod decide;
pub mod health_events;
pub mod imds;
pub mod instance;
pub mod log_export;
pub mod metrics;
pub mod plan;
pub mod ports;
pub mod probe;
pub mod proxy;
pub mod reconciler;
pub mod upgrade;
pub mod view;
pub mod webhook;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::store::Store;

use clock::Clock;
use instance::Supervisor;
use plan::Plan;
use ports::PortRule;
use probe::Prober;
use proxy::Proxy;

/// How the runtime is set up (from the command line).
pub struct RuntimeConfig {
    pub clock: Clock,
    pub instances_dir: PathBuf,
    /// The armlet binary: the built-in instance app is `armlet instance-app`.
    pub instance_exe: PathBuf,
    /// Between SIGTERM and SIGKILL when an instance stops.
    pub grace: Duration,
    /// `ALIAS=COMMAND` mappings: instances of that image run the command.
    pub image_commands: Vec<String>,
    /// How long metric minutes are kept (`--metrics-retention-days`).
    pub metrics_retention: chrono::TimeDelta,
    /// Total regional vCPUs of instances per subscription and region (`--vcpu-quota`).
    pub vcpu_quota: u64,
}

/// The runtime's parts, owned by the app.
pub struct Runtime {
    pub clock: Clock,
    /// Where the reconciler reads the desired state and records what it observed.
    pub store: Store,
    /// Where privileged ports move when they cannot be bound.
    pub ports: PortRule,
    pub supervisor: Supervisor,
    pub prober: Prober,
    pub proxy: Proxy,
    /// Between SIGTERM and SIGKILL when an instance stops.
    pub grace: Duration,
    pub image_commands: Vec<String>,
    /// Total regional vCPUs of instances per subscription and region: how many processes
    /// scale sets may ask this machine for.
    pub vcpu_quota: u64,
    /// Outgoing webhooks (autoscale and alert notifications), delivered in the background.
    pub webhooks: webhook::Webhooks,
    /// The plan the reconciler applied last, for views.
    pub plan: ArcSwap<Plan>,
    /// Bumped after every reconcile pass: waiters re-check what they wait for.
    pub observed: watch::Sender<u64>,
    /// How long metric minutes are kept: the collector prunes past it, the metrics API
    /// refuses queries beyond it and reports it in metric definitions.
    pub metrics_retention: chrono::TimeDelta,
    /// One reconcile pass at a time.
    pass: tokio::sync::Mutex<()>,
    /// What the reconciler last started for each instance.
    started: tokio::sync::Mutex<std::collections::HashMap<String, decide::Started>>,
    /// When each instance's process last started (Azure time): automatic repairs' grace
    /// period runs from there.
    pub starts: Arc<Starts>,
    /// Each instance's Instance Metadata Service endpoint.
    pub imds: imds::ImdsHost,
}

/// When each instance's current process started, in Azure time.
#[derive(Default)]
pub struct Starts(std::sync::Mutex<std::collections::HashMap<String, DateTime<Utc>>>);

impl Starts {
    pub fn record(&self, key: &str, at: DateTime<Utc>) {
        self.lock().insert(key.to_string(), at);
    }

    pub fn forget(&self, key: &str) {
        self.lock().remove(key);
    }

    pub fn get(&self, key: &str) -> Option<DateTime<Utc>> {
        self.lock().get(key).copied()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, DateTime<Utc>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Runtime {
    pub fn start(
        config: RuntimeConfig,
        store: Store,
        shutdown: &CancellationToken,
        tasks: &TaskTracker,
    ) -> anyhow::Result<Self> {
        let clock = config.clock;
        let prober = Prober::new(clock, shutdown.child_token(), tasks.clone());
        let proxy = Proxy::start(clock, prober.health(), shutdown)?;
        Ok(Runtime {
            clock,
            store,
            ports: PortRule::detect(),
            supervisor: Supervisor::new(config.instances_dir, config.instance_exe),
            prober,
            proxy,
            grace: config.grace,
            image_commands: config.image_commands,
            vcpu_quota: config.vcpu_quota,
            webhooks: webhook::Webhooks::new(clock, tasks.clone(), shutdown.clone()),
            plan: ArcSwap::from_pointee(Plan::default()),
            observed: watch::Sender::new(0),
            metrics_retention: config.metrics_retention,
            pass: Default::default(),
            started: Default::default(),
            starts: Default::default(),
            imds: imds::ImdsHost::new(shutdown.child_token(), tasks.clone()),
        })
    }

    /// Whether every instance of the plan that should run has a process of its current
    /// generation started (running or already exited), for the instances `filter` selects.
    pub async fn converged(&self, filter: impl Fn(&plan::InstancePlan) -> bool) -> bool {
        let plan = self.plan.load();
        let started = self.started.lock().await;
        plan.instances
            .iter()
            .filter(|i| filter(i) && i.should_run())
            .all(|i| {
                started
                    .get(&i.key)
                    .is_some_and(|s| s.generation == i.generation)
                    && self.supervisor.status(&i.key).is_some()
            })
    }

    /// Waits (woken by each reconcile pass) until `done` holds or `limit` passes; returns
    /// whether it held.
    pub async fn wait_until<F, Fut>(&self, limit: Duration, mut done: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + limit;
        let mut passes = self.observed.subscribe();
        loop {
            passes.borrow_and_update();
            if done().await {
                return true;
            }
            if tokio::time::timeout_at(deadline, passes.changed())
                .await
                .is_err()
            {
                return false;
            }
        }
    }
}
