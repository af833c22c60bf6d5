//! The runtime reconciler: one level-triggered loop that makes the machine match the stored
//! model. Each pass reads the state, plans (see [`super::plan`]), then
//! 1. publishes the routing table and probe targets (so a removed or stopped instance leaves
//!    the pool before its process is touched),
//! 2. starts, restarts and stops instance processes.
//!
//! It wakes on every committed change and at least every second (the safety net), and never
//! runs two passes at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Mutex;

use super::instance::{self, InstanceSpec, InstanceStatus, PortSpec};
use super::plan::{self, InstancePlan, Plan, State};
use super::probe::{ProbeKey, ProbeProtocol, ProbeTarget};
use super::proxy::{self, RoutingTable};
use crate::app::App;

/// The requeue interval: a pass runs at least this often even without changes.
const REQUEUE: Duration = Duration::from_secs(1);

/// The types the plan is made from.
const TYPES: &[&str] = &[
    "Microsoft.Network/loadBalancers",
    "Microsoft.Network/publicIPAddresses",
    "Microsoft.Network/networkInterfaces",
    crate::api::compute::instances::VM_TYPE,
    crate::api::compute::instances::FLEX_VM_TYPE,
    crate::api::compute::scale_set::TYPE,
];

/// Runs until shutdown, then stops every instance process.
pub async fn run(app: Arc<App>) {
    let rt = app.runtime.clone();
    match rt.supervisor.cleanup_orphans().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            count = n,
            "stopped instance processes left by a previous run"
        ),
        Err(e) => tracing::warn!(error = %e, "cleaning up orphaned instance processes"),
    }
    let mut changes = app.changes.subscribe();
    loop {
        if let Err(e) = reconcile(&app).await {
            tracing::warn!(error = %e, "runtime reconcile failed; retrying");
        }
        tokio::select! {
            _ = app.shutdown.cancelled() => break,
            _ = changes.changed() => {}
            _ = tokio::time::sleep(REQUEUE) => {}
        }
    }
    rt.proxy.publish(Arc::new(RoutingTable::default()));
    rt.supervisor.stop_all(rt.grace).await;
    tracing::info!("all instance processes stopped");
}

/// Loads the state the plan needs.
pub async fn load_state(app: &App) -> anyhow::Result<State> {
    let mut state = State::default();
    for r in app.store.list_types(TYPES).await? {
        let list = match r.type_name.as_str() {
            "Microsoft.Network/loadBalancers" => &mut state.load_balancers,
            "Microsoft.Network/publicIPAddresses" => &mut state.public_ips,
            "Microsoft.Network/networkInterfaces" => &mut state.nics,
            t if t == crate::api::compute::scale_set::TYPE => &mut state.scale_sets,
            _ => &mut state.instances,
        };
        list.push(r.body);
    }
    Ok(state)
}

/// One pass.
pub async fn reconcile(app: &App) -> anyhow::Result<()> {
    let rt = &app.runtime;
    let _one_at_a_time = rt.pass.lock().await;
    let state = load_state(app).await?;
    let plan = plan::plan(&state, rt.ports);
    let running: Vec<&InstancePlan> = plan
        .instances
        .iter()
        .filter(|i| i.power == "running")
        .collect();

    // 1. Routing and probes first: only instances that should run are backends.
    let live = |key: &str| running.iter().any(|i| i.key == key);
    rt.proxy.publish(Arc::new(routing_table(&plan, &live)));
    let failed = rt.prober.set_targets(probe_targets(&plan, &live));
    for (key, e) in failed {
        tracing::warn!(probe = key.probe, backend = key.backend, error = %e, "probe not started");
    }
    for (key, e) in rt.proxy.bind_errors() {
        tracing::warn!(frontend = key, error = e, "frontend cannot listen");
    }
    rt.plan.store(Arc::new(plan.clone()));

    // 2. Processes.
    let mut started = rt.started.lock().await;
    let mut work = Vec::new();
    for inst in &plan.instances {
        let want_running = inst.power == "running";
        let current = started.get(&inst.key).cloned();
        let is_running = matches!(
            rt.supervisor.status(&inst.key),
            Some(InstanceStatus::Running { .. })
        );
        let same = current
            .as_ref()
            .is_some_and(|c| c.generation == inst.generation && c.spec_ports == inst.ports);
        let exited = matches!(
            rt.supervisor.status(&inst.key),
            Some(InstanceStatus::Exited { .. })
        );
        if want_running && (!same || (!is_running && !exited)) {
            let reimage = current
                .as_ref()
                .is_some_and(|c| c.reimages != inst.reimages);
            let spec = match instance_spec(app, inst) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(instance = inst.name, error = %e, "instance cannot start");
                    continue;
                }
            };
            started.insert(
                inst.key.clone(),
                Started {
                    generation: inst.generation,
                    reimages: inst.reimages,
                    spec_ports: inst.ports.clone(),
                },
            );
            let sup = rt.supervisor.clone();
            let grace = rt.grace;
            let key = inst.key.clone();
            let name = inst.name.clone();
            work.push(tokio::spawn(async move {
                let stopped = if reimage { sup.remove(&key, grace).await } else { sup.stop(&key, grace).await };
                if let Err(e) = stopped {
                    tracing::warn!(instance = name, error = %e, "stopping previous process");
                }
                match sup.start(spec).await {
                    Ok(()) => tracing::info!(instance = name, "instance process started"),
                    Err(e) => tracing::warn!(instance = name, error = %e, "instance process failed to start"),
                }
            }));
        } else if !want_running && is_running {
            started.remove(&inst.key);
            let sup = rt.supervisor.clone();
            let grace = rt.grace;
            let key = inst.key.clone();
            work.push(tokio::spawn(async move {
                if let Err(e) = sup.stop(&key, grace).await {
                    tracing::warn!(instance = key, error = %e, "stopping instance");
                }
            }));
        }
    }
    // Instances that no longer exist: their process stops and their directory goes.
    for (key, _) in rt.supervisor.list() {
        if !plan.instances.iter().any(|i| i.key == key) {
            started.remove(&key);
            let sup = rt.supervisor.clone();
            let grace = rt.grace;
            work.push(tokio::spawn(async move {
                if let Err(e) = sup.remove(&key, grace).await {
                    tracing::warn!(instance = key, error = %e, "removing deleted instance");
                }
            }));
        }
    }
    drop(started);
    for w in work {
        let _ = w.await;
    }
    Ok(())
}

/// What the reconciler last started for an instance.
#[derive(Debug, Clone)]
pub struct Started {
    pub generation: u64,
    reimages: u64,
    spec_ports: Vec<plan::InstancePort>,
}

fn routing_table(plan: &Plan, live: &dyn Fn(&str) -> bool) -> RoutingTable {
    let frontends = plan
        .frontends
        .iter()
        .map(|f| proxy::FrontendRule {
            key: f.key.clone(),
            bind: f.bind,
            protocol: match f.transport {
                plan::Transport::Tcp => proxy::Transport::Tcp,
                plan::Transport::Udp => proxy::Transport::Udp,
            },
            backends: f
                .backends
                .iter()
                .filter(|b| live(&b.instance))
                .map(|b| proxy::Backend {
                    key: b.instance.clone(),
                    addr: b.addr,
                    probe: b
                        .probe
                        .as_ref()
                        .map(|(p, i)| ProbeKey::new(p.clone(), i.clone())),
                })
                .collect(),
            distribution: match f.distribution {
                plan::Distribution::Default => proxy::Distribution::Default,
                plan::Distribution::SourceIp => proxy::Distribution::SourceIp,
                plan::Distribution::SourceIpProtocol => proxy::Distribution::SourceIpProtocol,
            },
            idle_timeout: f.idle_timeout,
            tcp_reset: f.tcp_reset,
            no_healthy: Default::default(),
        })
        .collect();
    RoutingTable { frontends }
}

fn probe_targets(plan: &Plan, live: &dyn Fn(&str) -> bool) -> Vec<ProbeTarget> {
    plan.probes
        .iter()
        .filter(|p| live(&p.key.1))
        .map(|p| ProbeTarget {
            key: ProbeKey::new(p.key.0.clone(), p.key.1.clone()),
            protocol: match p.protocol.as_str() {
                "Http" => ProbeProtocol::Http,
                "Https" => ProbeProtocol::Https,
                _ => ProbeProtocol::Tcp,
            },
            addr: p.addr,
            request_path: p.request_path.clone(),
            interval: p.interval,
            threshold: p.threshold,
        })
        .collect()
}

/// The process an instance runs: custom data, the image → command mapping, or the built-in app.
fn instance_spec(app: &App, inst: &InstancePlan) -> anyhow::Result<InstanceSpec> {
    let custom_data = inst.model["osProfile"]["customData"].as_str();
    let mut program = instance::program::from_custom_data(custom_data)?;
    if matches!(program, instance::Program::BuiltIn)
        && let Some(argv) = image_command(app, &inst.model["storageProfile"]["imageReference"])
    {
        program = instance::Program::Command { argv };
    }
    Ok(InstanceSpec {
        key: inst.key.clone(),
        scale_set: inst.scale_set.clone(),
        instance_id: inst.instance_id.clone(),
        instance_name: inst.name.clone(),
        private_ip: inst.private_ip,
        bind_address: inst.bind_address,
        ports: inst
            .ports
            .iter()
            .map(|p| PortSpec {
                port: p.port,
                bound: p.bound,
                kind: match p.kind {
                    plan::PortKind::Http => instance::PortKind::Http,
                    plan::PortKind::Https => instance::PortKind::Https,
                    plan::PortKind::Banner => instance::PortKind::Banner,
                    plan::PortKind::Udp => instance::PortKind::Udp,
                },
            })
            .collect(),
        program,
        model_version: inst.model_version.to_string(),
        extra_env: vec![("ARMLET_GENERATION".into(), inst.generation.to_string())],
    })
}

/// `--image-command Ubuntu2204='python3 -m http.server $PORT'` → the argv for that image.
fn image_command(app: &App, image: &Value) -> Option<Vec<String>> {
    let alias = crate::api::compute::images::alias_of(image)?;
    app.config.image_commands.iter().find_map(|m| {
        let (a, cmd) = m.split_once('=')?;
        a.trim()
            .eq_ignore_ascii_case(alias)
            .then(|| vec!["sh".to_string(), "-c".to_string(), cmd.trim().to_string()])
    })
}

pub(super) type StartedMap = Mutex<HashMap<String, Started>>;
