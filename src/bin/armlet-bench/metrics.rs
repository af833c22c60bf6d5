//! The metrics collector in the bench: a fleet of 100 light instances (`sleep` processes, each
//! leading its own process group, as armlet starts instances) behind 20 load-balancing rules
//! of 5 backends each, published on the bench's proxy next to its own two rules; the CPU one
//! collector pass costs over that fleet; and a background collector that the report switches
//! on for the `armlet+m` target (passes every `period`, as `--time-scale` would run
//! them), so the proxy's figures with and without collection come from the same run.

use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use armlet::model::compute::instance::PowerState;
use armlet::model::network::{LoadDistribution, NoHealthyBackends};
use armlet::runtime::instance::usage::{parse_stat, sample_groups_in};
use armlet::runtime::metrics::{Inputs, Pass};
use armlet::runtime::plan::{
    BackendPlan, FrontendKind, FrontendPlan, InstancePlan, Plan, Transport,
};
use armlet::runtime::probe::{Health, HealthBoard, HealthEntry, HealthTable, ProbeKey};
use armlet::runtime::proxy::{self, Proxy};
use armlet::store::Store;
use chrono::TimeDelta;

const PROBE: &str =
    "/subscriptions/s/resourcegroups/bench/providers/microsoft.network/loadbalancers/lb/probes/hp";
const LB: &str =
    "/subscriptions/s/resourcegroups/bench/providers/microsoft.network/loadbalancers/lb";

/// The fleet: instance processes and the plan, health and routing that describe them.
pub struct Fleet {
    children: Vec<Child>,
    pub plan: Plan,
    pub health: HealthTable,
    pub processes: Vec<(String, i32)>,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn vm(i: usize) -> String {
    format!(
        "/subscriptions/s/resourcegroups/bench/providers/microsoft.compute/virtualmachinescalesets/web/virtualmachines/{i}"
    )
}

/// Starts `instances` sleeping processes and plans `rules` rules over them (plus the bench's
/// own frontends, `extra`, so the collector also reads their counters).
pub fn fleet(
    instances: usize,
    rules: usize,
    extra: &[proxy::FrontendRule],
) -> anyhow::Result<Fleet> {
    let mut children = Vec::new();
    let mut processes = Vec::new();
    let mut plan = Plan::default();
    for i in 0..instances {
        let child = Command::new("sleep")
            .arg("3600")
            .process_group(0)
            .stdin(Stdio::null())
            .spawn()?;
        processes.push((vm(i), child.id() as i32));
        children.push(child);
        plan.instances.push(InstancePlan {
            key: vm(i),
            scale_set: "web".into(),
            scale_set_id: vm(i).rsplit_once("/virtualmachines/").unwrap().0.into(),
            instance_id: i.to_string(),
            name: format!("web_{i}"),
            private_ip: Ipv4Addr::new(10, 0, (i / 250) as u8, (i % 250) as u8 + 4),
            bind_address: Ipv4Addr::new(127, 0, 0, 5),
            ports: vec![],
            model: serde_json::Value::Null,
            model_version: 1,
            generation: 0,
            reimages: 0,
            power: PowerState::Running,
            vm_size: "Standard_D2s_v3".into(),
        });
    }
    let per_rule = instances / rules.max(1);
    for r in 0..rules {
        let backends = (0..per_rule)
            .map(|k| {
                let i = r * per_rule + k;
                BackendPlan {
                    instance: vm(i),
                    // Nothing listens there: a data-path probe is reset at once.
                    addr: SocketAddr::from(([127, 0, 0, 5], 1)),
                    probe: Some((PROBE.to_string(), vm(i))),
                    ip: plan.instances[i].private_ip.to_string(),
                    port: 80,
                }
            })
            .collect();
        plan.frontends.push(frontend(
            &format!("{LB}/loadbalancingrules/r{r}"),
            "127.0.0.4:0".parse()?,
            8000 + r as u16,
            backends,
        ));
    }
    for e in extra {
        plan.frontends
            .push(frontend(&e.key, e.bind, e.bind.port(), vec![]));
    }
    let board = HealthBoard::new();
    board.update(|m| {
        for i in 0..instances {
            let mut e = HealthEntry::new(Duration::ZERO);
            e.health = Health::Up;
            m.insert(ProbeKey::new(PROBE, vm(i)), e);
        }
        true
    });
    let health = board.view().snapshot().as_ref().clone();
    Ok(Fleet {
        children,
        plan,
        health,
        processes,
    })
}

fn frontend(key: &str, bind: SocketAddr, port: u16, backends: Vec<BackendPlan>) -> FrontendPlan {
    FrontendPlan {
        key: key.into(),
        bind,
        transport: Transport::Tcp,
        backends,
        distribution: LoadDistribution::Default,
        idle_timeout: Duration::from_secs(240),
        tcp_reset: true,
        no_healthy: NoHealthyBackends::AllProbedDown,
        load_balancer: LB.into(),
        frontend_ip: Ipv4Addr::new(127, 0, 0, 4),
        frontend_port: port,
        kind: FrontendKind::Rule,
    }
}

/// The fleet's rules as proxy rules (listening, so the collector reads their counters).
pub fn routing(fleet: &Fleet) -> Vec<proxy::FrontendRule> {
    fleet
        .plan
        .frontends
        .iter()
        .filter(|f| !f.backends.is_empty())
        .map(|f| proxy::FrontendRule {
            key: f.key.clone(),
            bind: f.bind,
            protocol: proxy::Transport::Tcp,
            backends: f
                .backends
                .iter()
                .map(|b| proxy::Backend {
                    key: b.instance.clone(),
                    addr: b.addr,
                    probe: Some(proxy_probe(b)),
                    draining: false,
                })
                .collect(),
            distribution: proxy::Distribution::Default,
            idle_timeout: f.idle_timeout,
            tcp_reset: true,
            no_healthy: proxy::NoHealthy::AllProbedDown,
        })
        .collect()
}

fn proxy_probe(b: &BackendPlan) -> ProbeKey {
    let (p, i) = b.probe.clone().expect("fleet backends are probed");
    ProbeKey::new(p, i)
}

/// CPU seconds (user + system) this process has used so far, its threads included.
pub fn process_cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| parse_stat(&s))
        .map_or(0.0, |s| (s.utime + s.stime) as f64 / 100.0)
}

/// What one collector pass costs.
pub struct PassCost {
    pub cpu_ms: f64,
    pub wall_ms: f64,
    pub points: usize,
    /// CPU of the `/proc` reading alone, and how many processes the host had.
    pub proc_cpu_ms: f64,
    pub host_processes: usize,
}

/// Runs `passes` collector passes over the fleet back to back, then the `/proc` reading
/// alone as often.
pub fn measure_passes(
    rt: &tokio::runtime::Runtime,
    proxy: &Proxy,
    fleet: &Fleet,
    store: &Store,
    passes: u32,
) -> anyhow::Result<PassCost> {
    let mut pass = Pass::new(TimeDelta::days(93));
    let mut points = 0;
    let run =
        |pass: &mut Pass| rt.block_on(pass.run(inputs(proxy, fleet), store, chrono::Utc::now()));
    run(&mut pass)?; // the first pass has no earlier readings to diff against
    let (cpu, wall) = (process_cpu_secs(), Instant::now());
    for _ in 0..passes {
        points = run(&mut pass)?;
    }
    let n = f64::from(passes.max(1));
    let (cpu_ms, wall_ms) = (
        (process_cpu_secs() - cpu) * 1000.0 / n,
        wall.elapsed().as_secs_f64() * 1000.0 / n,
    );
    let pgids: Vec<i32> = fleet.processes.iter().map(|(_, p)| *p).collect();
    let cpu = process_cpu_secs();
    for _ in 0..passes {
        sample_groups_in(Path::new("/proc"), &pgids)?;
    }
    let host_processes = std::fs::read_dir("/proc")?
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .count();
    Ok(PassCost {
        cpu_ms,
        wall_ms,
        points,
        proc_cpu_ms: (process_cpu_secs() - cpu) * 1000.0 / n,
        host_processes,
    })
}

fn inputs<'a>(proxy: &'a Proxy, fleet: &'a Fleet) -> Inputs<'a> {
    Inputs {
        plan: &fleet.plan,
        proxy,
        health: &fleet.health,
        processes: fleet.processes.clone(),
    }
}

/// A collector on its own thread, passing every `period` while switched on.
pub struct Background {
    pub on: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    pub fn start(proxy: Arc<Proxy>, fleet: Arc<Fleet>, store: Store, period: Duration) -> Self {
        let on = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (on2, stop2) = (on.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            let mut pass = Pass::new(TimeDelta::days(93));
            let mut last: Option<Instant> = None;
            while !stop2.load(Ordering::Relaxed) {
                let due = last.is_none_or(|l| l.elapsed() >= period);
                if on2.load(Ordering::Relaxed) && due {
                    last = Some(Instant::now());
                    if let Err(e) =
                        rt.block_on(pass.run(inputs(&proxy, &fleet), &store, chrono::Utc::now()))
                    {
                        eprintln!("collector pass failed: {e}");
                    }
                } else {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        });
        Background {
            on,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
