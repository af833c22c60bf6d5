use std::net::{Ipv4Addr, SocketAddr};

use chrono::TimeZone;
use serde_json::Value;

use super::*;
use crate::model::compute::instance::PowerState;
use crate::model::network::{LoadDistribution, NoHealthyBackends};
use crate::runtime::plan::{BackendPlan, FrontendPlan, InstancePlan};
use crate::runtime::probe::{Health, HealthBoard, HealthEntry};
use crate::runtime::proxy::BackendCounters;

const LB: &str = "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/loadbalancers/lb";
const VMSS: &str =
    "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachinescalesets/web";
const PROBE: &str =
    "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/loadbalancers/lb/probes/hp";

fn vm(i: u32) -> String {
    format!("{VMSS}/virtualmachines/{i}")
}

fn minute() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 10, 3, 0).unwrap()
}

fn instance(i: u32, power: PowerState) -> InstancePlan {
    InstancePlan {
        key: vm(i),
        scale_set: "web".into(),
        scale_set_id: VMSS.into(),
        instance_id: i.to_string(),
        name: format!("web_{i}"),
        private_ip: Ipv4Addr::new(10, 0, 0, 4 + i as u8),
        bind_address: Ipv4Addr::new(127, 2, 0, 1 + i as u8),
        ports: vec![],
        model: Value::Null,
        model_version: 1,
        generation: 0,
        reimages: 0,
        power,
        vm_size: "Standard_B2s".into(), // 2 vCPUs, 4 GiB
    }
}

fn frontend(key: &str, port: u16, kind: FrontendKind, transport: Transport) -> FrontendPlan {
    FrontendPlan {
        key: key.into(),
        bind: SocketAddr::from(([127, 1, 0, 1], port + 10000)),
        transport,
        backends: (0..2)
            .map(|i| BackendPlan {
                instance: vm(i),
                addr: SocketAddr::from(([127, 2, 0, 1 + i as u8], 10080)),
                probe: (kind == FrontendKind::Rule).then(|| (PROBE.to_string(), vm(i))),
                ip: format!("10.0.0.{}", 4 + i),
                port: 80,
            })
            .collect(),
        distribution: LoadDistribution::Default,
        idle_timeout: Duration::from_secs(240),
        tcp_reset: false,
        no_healthy: NoHealthyBackends::AllProbedDown,
        load_balancer: LB.into(),
        frontend_ip: Ipv4Addr::new(127, 1, 0, 1),
        frontend_port: port,
        kind,
    }
}

fn plan(power1: PowerState) -> Plan {
    Plan {
        instances: vec![instance(0, PowerState::Running), instance(1, power1)],
        frontends: vec![frontend(
            "lb/rules/http",
            80,
            FrontendKind::Rule,
            Transport::Tcp,
        )],
        probes: vec![],
    }
}

fn snap(bytes_in: u64, bytes_out: u64, syn: u64) -> CounterSnapshot {
    CounterSnapshot {
        bytes_in,
        bytes_out,
        packets_in: bytes_in.div_ceil(1448),
        packets_out: bytes_out.div_ceil(1448),
        syn,
        flows: 0,
    }
}

fn traffic(id: u64, vm0: CounterSnapshot) -> Vec<FrontendCounters> {
    vec![FrontendCounters {
        key: "lb/rules/http".into(),
        id,
        totals: vm0,
        backends: vec![BackendCounters {
            key: vm(0),
            id: id * 10,
            counters: vm0,
        }],
    }]
}

fn health(up: &[u32]) -> HealthTable {
    let board = HealthBoard::new();
    board.update(|m| {
        for i in up {
            let mut e = HealthEntry::new(Duration::ZERO);
            e.health = Health::Up;
            m.insert(ProbeKey::new(PROBE, vm(*i)), e);
        }
        true
    });
    board.view().snapshot().as_ref().clone()
}

fn reading(cpu_seconds: f64, rss: u64, at_secs: u64) -> UsageReading {
    UsageReading {
        pgid: 4242,
        usage: GroupUsage {
            cpu_seconds,
            rss_bytes: rss,
            disk: Some(crate::runtime::instance::usage::DiskBytes {
                read: 0,
                write: (cpu_seconds * 1000.0) as u64,
            }),
            processes: 1,
        },
        at: Duration::from_secs(at_secs),
    }
}

struct Pass<'a> {
    plan: &'a Plan,
    traffic: Vec<FrontendCounters>,
    health: HealthTable,
    data_path: HashMap<String, bool>,
    usage: HashMap<String, UsageReading>,
}

impl Pass<'_> {
    fn run(&self, c: &mut Collector) -> Vec<MinutePoint> {
        c.points(&Readings {
            minute: minute(),
            plan: self.plan,
            traffic: &self.traffic,
            health: &self.health,
            data_path: &self.data_path,
            usage: &self.usage,
            host_cores: 8,
        })
    }
}

fn value(points: &[MinutePoint], key: &str, metric: &str, dims: &[(&str, &str)]) -> Option<f64> {
    let want = dimensions(dims.iter().copied());
    let found: Vec<&MinutePoint> = points
        .iter()
        .filter(|p| p.resource_key == key && p.metric == metric && p.dimensions == want)
        .collect();
    assert!(found.len() <= 1, "one point per series: {found:?}");
    found.first().map(|p| {
        assert_eq!(p.minute, minute());
        assert_eq!(p.value.count, 1);
        p.value.total
    })
}

fn frontend_dims(direction: &'static str) -> [(&'static str, &'static str); 3] {
    [
        ("FrontendIPAddress", "127.1.0.1"),
        ("FrontendPort", "80"),
        ("Direction", direction),
    ]
}

#[test]
fn traffic_becomes_deltas_by_frontend_port_and_direction() {
    let p = plan(PowerState::Running);
    let mut c = Collector::default();
    let mut pass = Pass {
        plan: &p,
        traffic: traffic(1, snap(1000, 3000, 2)),
        health: health(&[0, 1]),
        data_path: HashMap::new(),
        usage: HashMap::new(),
    };
    let first = pass.run(&mut c);
    assert_eq!(
        value(&first, LB, "ByteCount", &frontend_dims("In")),
        Some(1000.0)
    );
    assert_eq!(
        value(&first, LB, "ByteCount", &frontend_dims("Out")),
        Some(3000.0)
    );
    assert_eq!(
        value(&first, LB, "PacketCount", &frontend_dims("Out")),
        Some(3.0)
    );
    assert_eq!(
        value(&first, LB, "SYNCount", &frontend_dims("In")),
        Some(2.0)
    );
    assert_eq!(value(&first, LB, "SYNCount", &frontend_dims("Out")), None);

    // The next pass counts only what moved since; a quiet minute is a zero, not a gap.
    pass.traffic = traffic(1, snap(1500, 3000, 3));
    let second = pass.run(&mut c);
    assert_eq!(
        value(&second, LB, "ByteCount", &frontend_dims("In")),
        Some(500.0)
    );
    assert_eq!(
        value(&second, LB, "ByteCount", &frontend_dims("Out")),
        Some(0.0)
    );
    assert_eq!(
        value(&second, LB, "SYNCount", &frontend_dims("In")),
        Some(1.0)
    );

    // Re-bound under a new id: its totals start again from zero and count in full.
    pass.traffic = traffic(2, snap(200, 0, 1));
    let third = pass.run(&mut c);
    assert_eq!(
        value(&third, LB, "ByteCount", &frontend_dims("In")),
        Some(200.0)
    );
}

#[test]
fn the_tcp_and_udp_halves_of_a_rule_add_up_in_one_frontend_series() {
    let mut p = plan(PowerState::Running);
    p.frontends.push(frontend(
        "lb/rules/http|udp",
        80,
        FrontendKind::Rule,
        Transport::Udp,
    ));
    let mut t = traffic(1, snap(100, 0, 1));
    t.extend(traffic(2, snap(50, 0, 0)));
    t[1].key = "lb/rules/http|udp".into();
    let pass = Pass {
        plan: &p,
        traffic: t,
        health: health(&[0, 1]),
        data_path: HashMap::new(),
        usage: HashMap::new(),
    };
    let points = pass.run(&mut Collector::default());
    assert_eq!(
        value(&points, LB, "ByteCount", &frontend_dims("In")),
        Some(150.0)
    );
    let udp_dip = [
        ("ProtocolType", "UDP"),
        ("BackendIPAddress", "10.0.0.4"),
        ("BackendPort", "80"),
        ("FrontendIPAddress", "127.1.0.1"),
        ("FrontendPort", "80"),
    ];
    assert_eq!(value(&points, LB, "DipAvailability", &udp_dip), Some(100.0));
}

#[test]
fn health_probe_status_is_100_or_0_per_backend_and_stopped_instances_are_down() {
    let dip = |ip: &'static str| {
        [
            ("ProtocolType", "TCP"),
            ("BackendIPAddress", ip),
            ("BackendPort", "80"),
            ("FrontendIPAddress", "127.1.0.1"),
            ("FrontendPort", "80"),
        ]
    };
    let running = plan(PowerState::Running);
    let pass = Pass {
        plan: &running,
        traffic: vec![],
        health: health(&[0]), // 1 is down or not probed yet
        data_path: HashMap::from([("lb/rules/http".to_string(), true)]),
        usage: HashMap::new(),
    };
    let points = pass.run(&mut Collector::default());
    assert_eq!(
        value(&points, LB, "DipAvailability", &dip("10.0.0.4")),
        Some(100.0)
    );
    assert_eq!(
        value(&points, LB, "DipAvailability", &dip("10.0.0.5")),
        Some(0.0)
    );
    let vip = [("FrontendIPAddress", "127.1.0.1"), ("FrontendPort", "80")];
    assert_eq!(value(&points, LB, "VipAvailability", &vip), Some(100.0));

    // A stopped or deallocated instance is down (a 0, not a missing point) even if the table
    // still says up (its probe was removed): an alert on `< 100` must see it.
    for power in [PowerState::Stopped, PowerState::Deallocated] {
        let stopped = plan(power);
        let pass = Pass {
            plan: &stopped,
            traffic: vec![],
            health: health(&[0, 1]),
            data_path: HashMap::from([("lb/rules/http".to_string(), false)]),
            usage: HashMap::new(),
        };
        let points = pass.run(&mut Collector::default());
        assert_eq!(
            value(&points, LB, "DipAvailability", &dip("10.0.0.5")),
            Some(0.0),
            "{power:?}"
        );
        assert_eq!(value(&points, LB, "VipAvailability", &vip), Some(0.0));
    }
}

#[test]
fn nat_listeners_count_traffic_but_have_no_health_series() {
    let mut p = plan(PowerState::Running);
    p.frontends = vec![frontend(
        "lb/nat/ssh.0",
        50000,
        FrontendKind::Nat,
        Transport::Tcp,
    )];
    let mut t = traffic(1, snap(10, 20, 1));
    t[0].key = "lb/nat/ssh.0".into();
    let pass = Pass {
        plan: &p,
        traffic: t,
        health: health(&[0, 1]),
        data_path: HashMap::new(),
        usage: HashMap::new(),
    };
    let points = pass.run(&mut Collector::default());
    let dims = [
        ("FrontendIPAddress", "127.1.0.1"),
        ("FrontendPort", "50000"),
        ("Direction", "Out"),
    ];
    assert_eq!(value(&points, LB, "ByteCount", &dims), Some(20.0));
    assert!(points.iter().all(|p| p.metric != "DipAvailability"));
}

#[test]
fn instance_metrics_are_written_under_the_instance_and_its_scale_set() {
    let p = plan(PowerState::Running);
    let mut c = Collector::default();
    let gib = 1024 * 1024 * 1024;
    let mut pass = Pass {
        plan: &p,
        traffic: traffic(1, snap(700, 900, 1)),
        health: health(&[0, 1]),
        data_path: HashMap::new(),
        usage: HashMap::from([(vm(0), reading(10.0, gib, 100))]),
    };
    // One reading: memory and network, no CPU or disk yet.
    let first = pass.run(&mut c);
    let mem = 3.0 * gib as f64;
    assert_eq!(
        value(&first, &vm(0), "Available Memory Bytes", &[]),
        Some(mem)
    );
    assert_eq!(value(&first, &vm(0), "Network In Total", &[]), Some(700.0));
    assert_eq!(value(&first, &vm(0), "Network Out Total", &[]), Some(900.0));
    assert_eq!(value(&first, &vm(0), "Percentage CPU", &[]), None);
    assert!(
        points_of(&first, &vm(1)).is_empty(),
        "no process, no points"
    );

    // 60 s later with 30 CPU-seconds more on a 2-vCPU size: 25 %.
    pass.traffic = traffic(1, snap(700, 900, 1));
    pass.usage = HashMap::from([(vm(0), reading(40.0, gib, 160))]);
    let second = pass.run(&mut c);
    assert_eq!(value(&second, &vm(0), "Percentage CPU", &[]), Some(25.0));
    assert_eq!(
        value(&second, &vm(0), "Disk Write Bytes", &[]),
        Some(30_000.0)
    );
    assert_eq!(value(&second, &vm(0), "Disk Read Bytes", &[]), Some(0.0));
    assert_eq!(value(&second, &vm(0), "Network In Total", &[]), Some(0.0));
    let by_name = [("VMName", "web_0")];
    for metric in [
        "Percentage CPU",
        "Available Memory Bytes",
        "Network In Total",
        "Network Out Total",
        "Disk Read Bytes",
        "Disk Write Bytes",
    ] {
        assert_eq!(
            value(&second, VMSS, metric, &by_name),
            value(&second, &vm(0), metric, &[]),
            "{metric}"
        );
    }

    // A new process (another group) starts over: no CPU from the old one's readings.
    let mut restarted = reading(1.0, gib, 220);
    restarted.pgid = 5000;
    pass.usage = HashMap::from([(vm(0), restarted)]);
    let third = pass.run(&mut c);
    assert_eq!(value(&third, &vm(0), "Percentage CPU", &[]), None);
}

fn points_of<'a>(points: &'a [MinutePoint], key: &str) -> Vec<&'a MinutePoint> {
    points.iter().filter(|p| p.resource_key == key).collect()
}
