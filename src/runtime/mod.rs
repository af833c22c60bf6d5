//! The runtime that makes armlet real: instances are processes ([`instance`]), probes probe
//! them ([`probe`]), the proxy carries traffic to the healthy ones ([`proxy`]), all on one
//! scaled [`clock`], kept equal to the stored model by the [`reconciler`] from a [`plan`]
//! and the pure process decisions of [`decide`].
//!
//! It reads the store and the model layer only; the API reads its snapshots ([`Runtime::plan`],
//! the prober's health table, the proxy's counters) and never the other way round.

pub mod alert;
pub mod autoscale;
pub mod clock;
pub mod decide;
pub mod health_events;
pub mod instance;
pub mod log_export;
pub mod plan;
pub mod ports;
pub mod probe;
pub mod proxy;
pub mod reconciler;
pub mod upgrade;
pub mod view;

use std::path::PathBuf;
use std::time::Duration;

use arc_swap::ArcSwap;
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
    /// The plan the reconciler applied last, for views.
    pub plan: ArcSwap<Plan>,
    /// Bumped after every reconcile pass: waiters re-check what they wait for.
    pub observed: watch::Sender<u64>,
    /// One reconcile pass at a time.
    pass: tokio::sync::Mutex<()>,
    /// What the reconciler last started for each instance.
    started: tokio::sync::Mutex<std::collections::HashMap<String, decide::Started>>,
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
            plan: ArcSwap::from_pointee(Plan::default()),
            observed: watch::Sender::new(0),
            pass: Default::default(),
            started: Default::default(),
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
