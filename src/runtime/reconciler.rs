//! The runtime reconciler: one level-triggered loop that makes the machine match the stored
//! model. Each pass reads typed views of the state, plans ([`super::plan`]), then
//! 1. publishes the routing table and probe targets (so a removed or stopped instance leaves
//!    the pool before its process is touched),
//! 2. decides ([`super::decide`], pure) and applies the process actions: start, restart,
//!    stop, remove, recording in the store which generation and model each instance runs.
//!
//! It wakes on every committed change and at least every second (the safety net), and never
//! runs two passes at once. After each pass it bumps [`Runtime::observed`], which is what
//! waiters (a scale set's provisioning) wait on.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Runtime;
use super::decide::{self, Action, Observed, Process, Started};
use super::fault::FaultSet;
use super::instance::{self, InstanceSpec, InstanceStatus, PortSpec};
use super::plan::{self, InstancePlan, Plan, State};
use super::probe::{ProbeKey, ProbeProtocol, ProbeTarget};
use super::proxy::{self, RoutingTable};
use crate::model::compute::image::alias_of;
use crate::model::compute::instance::Instance;
use crate::model::compute::{FLEX_VM_TYPE, VM_TYPE};
use crate::model::network::{self, LB_TYPE, LoadBalancer, NIC_TYPE, PUBLIC_IP_TYPE, PublicIp};

/// The requeue interval: a pass runs at least this often even without changes.
const REQUEUE: Duration = Duration::from_secs(1);
/// The pause before the next pass after one that started or stopped processes.
const AGAIN: Duration = Duration::from_millis(50);

/// Runs until shutdown, then stops every instance process.
pub async fn run(rt: Arc<Runtime>, mut changes: watch::Receiver<u64>, shutdown: CancellationToken) {
    match rt.supervisor.cleanup_orphans().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            count = n,
            "stopped instance processes left by a previous run"
        ),
        Err(e) => tracing::warn!(error = %e, "cleaning up orphaned instance processes"),
    }
    loop {
        let next = match reconcile(&rt).await {
            // Processes changed: look again soon (a restarted instance rejoins its pool).
            Ok(true) => AGAIN,
            Ok(false) => REQUEUE,
            Err(e) => {
                tracing::warn!(error = %e, "runtime reconcile failed; retrying");
                REQUEUE
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = changes.changed() => {}
            _ = tokio::time::sleep(next) => {}
        }
    }
    rt.proxy.publish(Arc::new(RoutingTable::default()));
    // Frozen instances continue, so that they can act on their SIGTERM.
    rt.clear_all_faults().await;
    rt.supervisor.stop_all(rt.grace).await;
    tracing::info!("all instance processes stopped");
}

/// Loads typed views of what the plan is made from; a document that does not read is
/// skipped with a warning (armlet wrote it, so that is a defect to see, not to stop on).
pub async fn load_state(rt: &Runtime) -> anyhow::Result<State> {
    let mut state = State::default();
    let mut nics = Vec::new();
    for r in rt
        .store
        .list_types(&[LB_TYPE, PUBLIC_IP_TYPE, NIC_TYPE, VM_TYPE, FLEX_VM_TYPE])
        .await?
    {
        let read = match r.type_name.as_str() {
            LB_TYPE => LoadBalancer::from_doc(&r.body)
                .map(|lb| state.load_balancers.push(lb))
                .map_err(|e| e.to_string()),
            PUBLIC_IP_TYPE => serde_json::from_value::<PublicIp>(r.body)
                .map(|ip| state.public_ips.push(ip))
                .map_err(|e| e.to_string()),
            NIC_TYPE => {
                nics.push(r.body);
                Ok(())
            }
            _ => Instance::of(&r.body).map(|i| state.instances.push(i)),
        };
        if let Err(e) = read {
            tracing::warn!(resource = r.id, error = e, "unreadable document skipped");
        }
    }
    state.ip_configs = network::nic::ip_configs_of(&nics);
    Ok(state)
}

/// One pass; returns whether it started, stopped or removed a process (the caller runs the
/// next pass at once, so a restarted instance rejoins its pool without waiting).
pub async fn reconcile(rt: &Runtime) -> anyhow::Result<bool> {
    let _one_at_a_time = rt.pass.lock().await;
    let state = load_state(rt).await?;
    let mut plan = plan::plan(&state, rt.ports);
    for f in rt.faults.forget_missing(|f| {
        plan.instances
            .iter()
            .any(|i| i.key == f.key || (f.kind.targets_scale_set() && i.scale_set_id == f.key))
    }) {
        tracing::info!(
            fault = f.kind.name(),
            target = f.target,
            id = f.id,
            "fault dropped: its target is gone"
        );
        // A frozen process about to be removed continues, so it can act on its SIGTERM.
        rt.undo(&f).await;
    }
    let faults = rt.faults.load();
    // An injected `scaleSetDown`: its instances are planned as not running, so they leave
    // their pools and their processes stop (and start again once the fault is cleared).
    for inst in &mut plan.instances {
        if faults.scale_set_down(&inst.scale_set_id) {
            inst.power = crate::model::compute::instance::PowerState::Stopped;
        }
    }
    let previous = rt.plan.load_full();

    // 1. Decide what happens to the processes (pure), so that the instances whose running
    //    process is about to stop leave their pools first.
    let mut started = rt.started.lock().await;
    let actions = decide::decide(&plan, &observe(rt, &started));
    let departing = departing(rt, &actions);

    // 2. Routing and probes: instances that should run are backends; departing ones drain
    //    (no new flows, their flows go on through the grace period) and are not probed, so
    //    a restarted instance takes new flows only once its new process passes its probe.
    let live = |key: &str| {
        plan.instances
            .iter()
            .any(|i| i.key == key && i.should_run())
    };
    let table = routing_table(&plan, &previous, &live, &departing, &faults);
    rt.proxy.publish(Arc::new(table));
    rt.faults.mark_applied(faults.version);
    let probed = |key: &str| live(key) && !departing.contains(key);
    let failed = rt.prober.set_targets(probe_targets(&plan, &probed));
    for (key, e) in failed {
        tracing::warn!(probe = key.probe, backend = key.backend, error = %e, "probe not started");
    }
    for (key, e) in rt.proxy.bind_errors() {
        tracing::warn!(frontend = key, error = e, "frontend cannot listen");
    }
    rt.plan.store(Arc::new(plan.clone()));

    // 3. Apply the process actions.
    let acted = !actions.is_empty();
    let mut work = Vec::new();
    for action in actions {
        let rt_sup = rt.supervisor.clone();
        let grace = rt.grace;
        let store = rt.store.clone();
        match action {
            Action::Start { key, wipe } => {
                let Some(inst) = plan.instances.iter().find(|i| i.key == key) else {
                    continue;
                };
                let spec = match instance_spec(rt, inst) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(instance = inst.name, error = %e, "instance cannot start");
                        continue;
                    }
                };
                started.insert(key.clone(), Started::of(inst));
                let (name, generation, model) =
                    (inst.name.clone(), inst.generation, inst.model_version);
                let starts = rt.starts.clone();
                let clock = rt.clock;
                work.push(tokio::spawn(async move {
                    let stopped = if wipe {
                        rt_sup.remove(&key, grace).await
                    } else {
                        rt_sup.stop(&key, grace).await
                    };
                    if let Err(e) = stopped {
                        tracing::warn!(instance = name, error = %e, "stopping previous process");
                    }
                    match rt_sup.start(spec).await {
                        Ok(()) => {
                            tracing::info!(instance = name, "instance process started");
                            starts.record(&key, clock.now_utc());
                            if let Err(e) = store.record_process(&key, generation, model).await {
                                tracing::warn!(instance = name, error = %e, "recording process");
                            }
                        }
                        Err(e) => tracing::warn!(instance = name, error = %e, "instance process failed to start"),
                    }
                }));
            }
            Action::Stop { key } => {
                started.remove(&key);
                work.push(tokio::spawn(async move {
                    if let Err(e) = rt_sup.stop(&key, grace).await {
                        tracing::warn!(instance = key, error = %e, "stopping instance");
                    }
                }));
            }
            Action::Remove { key } => {
                started.remove(&key);
                rt.starts.forget(&key);
                rt.imds.release(&key);
                work.push(tokio::spawn(async move {
                    if let Err(e) = rt_sup.remove(&key, grace).await {
                        tracing::warn!(instance = key, error = %e, "removing deleted instance");
                    }
                    if let Err(e) = store.forget_process(&key).await {
                        tracing::warn!(instance = key, error = %e, "forgetting process");
                    }
                }));
            }
        }
    }
    drop(started);
    for w in work {
        let _ = w.await;
    }
    rt.observed.send_modify(|n| *n = n.wrapping_add(1));
    Ok(acted)
}

/// The instances whose running process an action is about to stop: a restart (a new
/// generation or other ports), a power-off, a deletion.
fn departing(rt: &Runtime, actions: &[Action]) -> HashSet<String> {
    let running = |key: &str| {
        matches!(
            rt.supervisor.status(key),
            Some(InstanceStatus::Running { .. })
        )
    };
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Start { key, .. } | Action::Stop { key } | Action::Remove { key } => {
                running(key).then(|| key.clone())
            }
        })
        .collect()
}

/// What the supervisor and the last starts say of every instance.
fn observe(rt: &Runtime, started: &HashMap<String, Started>) -> HashMap<String, Observed> {
    let mut out: HashMap<String, Observed> = started
        .iter()
        .map(|(k, s)| {
            let o = Observed {
                started: Some(s.clone()),
                process: None,
            };
            (k.clone(), o)
        })
        .collect();
    for (key, status) in rt.supervisor.list() {
        out.entry(key).or_default().process = Some(match status {
            InstanceStatus::Running { .. } => Process::Running,
            InstanceStatus::Exited { .. } => Process::Exited,
            InstanceStatus::Stopped { .. } => Process::Stopped,
        });
    }
    out
}

/// The routing table of `plan`: backends that should run, plus the `departing` ones as
/// draining backends; a deleted instance is no longer in `plan`, so its backends come from
/// the `previous` plan.
fn routing_table(
    plan: &Plan,
    previous: &Plan,
    live: &dyn Fn(&str) -> bool,
    departing: &HashSet<String>,
    faults: &FaultSet,
) -> RoutingTable {
    let backend = |b: &plan::BackendPlan| proxy::Backend {
        key: b.instance.clone(),
        addr: b.addr,
        probe: b
            .probe
            .as_ref()
            .map(|(p, i)| ProbeKey::new(p.clone(), i.clone())),
        draining: departing.contains(&b.instance),
        fault: faults.backend(&b.instance),
    };
    let frontends = plan
        .frontends
        .iter()
        .map(|f| {
            let mut backends: Vec<proxy::Backend> = f
                .backends
                .iter()
                .filter(|b| live(&b.instance) || departing.contains(&b.instance))
                .map(backend)
                .collect();
            let gone = previous
                .frontends
                .iter()
                .filter(|p| p.key == f.key)
                .flat_map(|p| &p.backends)
                .filter(|b| departing.contains(&b.instance))
                .filter(|b| !plan.instances.iter().any(|i| i.key == b.instance));
            backends.extend(gone.map(backend));
            proxy::FrontendRule {
                key: f.key.clone(),
                bind: f.bind,
                protocol: match f.transport {
                    plan::Transport::Tcp => proxy::Transport::Tcp,
                    plan::Transport::Udp => proxy::Transport::Udp,
                },
                backends,
                distribution: match f.distribution {
                    network::LoadDistribution::Default => proxy::Distribution::Default,
                    network::LoadDistribution::SourceIp => proxy::Distribution::SourceIp,
                    network::LoadDistribution::SourceIpProtocol => {
                        proxy::Distribution::SourceIpProtocol
                    }
                },
                idle_timeout: f.idle_timeout,
                tcp_reset: f.tcp_reset,
                no_healthy: match f.no_healthy {
                    network::NoHealthyBackends::AllProbedDown => proxy::NoHealthy::AllProbedDown,
                    network::NoHealthyBackends::AllProbedUp => proxy::NoHealthy::AllProbedUp,
                },
            }
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
            protocol: match p.protocol {
                network::ProbeProtocol::Http => ProbeProtocol::Http,
                network::ProbeProtocol::Https => ProbeProtocol::Https,
                network::ProbeProtocol::Tcp => ProbeProtocol::Tcp,
            },
            addr: p.addr,
            request_path: p.request_path.clone(),
            interval: p.interval,
            threshold: p.threshold,
            app_health: p.app_health,
        })
        .collect()
}

/// The process an instance runs: custom data, the image → command mapping, or the built-in app.
fn instance_spec(rt: &Runtime, inst: &InstancePlan) -> anyhow::Result<InstanceSpec> {
    let mut extra_env = vec![("ARMLET_GENERATION".into(), inst.generation.to_string())];
    if let Some(imds) = rt.imds.endpoint(&inst.key, inst.bind_address) {
        extra_env.push(("ARMLET_IMDS_ENDPOINT".into(), format!("http://{imds}")));
    }
    let custom_data = inst.model["osProfile"]["customData"].as_str();
    let mut program = instance::program::from_custom_data(custom_data)?;
    if matches!(program, instance::Program::BuiltIn)
        && let Some(argv) = image_command(rt, &inst.model["storageProfile"]["imageReference"])
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
        extra_env,
    })
}

/// `--image-command Ubuntu2204='python3 -m http.server $PORT'` → the argv for that image.
fn image_command(rt: &Runtime, image: &Value) -> Option<Vec<String>> {
    let alias = alias_of(image)?;
    rt.image_commands.iter().find_map(|m| {
        let (a, cmd) = m.split_once('=')?;
        a.trim()
            .eq_ignore_ascii_case(alias)
            .then(|| vec!["sh".to_string(), "-c".to_string(), cmd.trim().to_string()])
    })
}
