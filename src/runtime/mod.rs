//! The runtime that makes armlet real: instances are processes ([`instance`]), probes probe
//! them ([`probe`]), the proxy carries traffic to the healthy ones ([`proxy`]), all on one
//! scaled [`clock`], kept equal to the stored model by the [`reconciler`] from a [`plan`].

pub mod clock;
pub mod instance;
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
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use clock::Clock;
use instance::Supervisor;
use plan::Plan;
use ports::PortRule;
use probe::Prober;
use proxy::Proxy;

/// The runtime's parts, owned by the app.
pub struct Runtime {
    pub clock: Clock,
    /// Where privileged ports move when they cannot be bound.
    pub ports: PortRule,
    pub supervisor: Supervisor,
    pub prober: Prober,
    pub proxy: Proxy,
    /// Between SIGTERM and SIGKILL when an instance stops.
    pub grace: Duration,
    /// The plan the reconciler applied last, for views.
    pub plan: ArcSwap<Plan>,
    /// One reconcile pass at a time.
    pass: tokio::sync::Mutex<()>,
    started: reconciler::StartedMap,
}

impl Runtime {
    pub fn start(
        clock: Clock,
        instances_dir: PathBuf,
        instance_exe: PathBuf,
        grace: Duration,
        shutdown: &CancellationToken,
        tasks: &TaskTracker,
    ) -> anyhow::Result<Self> {
        let prober = Prober::new(clock, shutdown.child_token(), tasks.clone());
        let proxy = Proxy::start(clock, prober.health(), shutdown)?;
        Ok(Runtime {
            clock,
            ports: PortRule::detect(),
            supervisor: Supervisor::new(instances_dir, instance_exe),
            prober,
            proxy,
            grace,
            plan: ArcSwap::from_pointee(Plan::default()),
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
            .filter(|i| filter(i) && i.power == "running")
            .all(|i| {
                started
                    .get(&i.key)
                    .is_some_and(|s| s.generation == i.generation)
                    && self.supervisor.status(&i.key).is_some()
            })
    }
}
