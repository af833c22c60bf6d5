//! One collector pass, pure: the proxy's counters, the probe health table, the data-path
//! results and the instances' process-group readings become the minute aggregates of the
//! minute that just ended, under Azure's metric names and dimensions
//! ([`crate::metrics::catalog`]).
//!
//! - **Load balancers** (under the load balancer's lower-case id): `ByteCount` and
//!   `PacketCount` by `FrontendIPAddress`, `FrontendPort`, `Direction` (`In` = client to
//!   backend, `Out` = backend to client), `SYNCount` with `Direction` `In` only (Azure counts
//!   the SYN packets received, monitor-load-balancer-reference), one value per minute each,
//!   zeros included; NAT listeners count too (they are frontend ports of the load balancer).
//!   `DipAvailability`: per load-balancing rule and backend with a probe, 100 when the probe
//!   has it in rotation and 0 otherwise (down, not probed yet, or the instance stopped), with
//!   `ProtocolType`, `BackendIPAddress`, `BackendPort`, `FrontendIPAddress`, `FrontendPort`.
//!   `VipAvailability`: per TCP load-balancing rule, 100 or 0 from the data-path probe
//!   ([`super::data_path`]). `SnatConnectionCount` and the SNAT port metrics have no points:
//!   armlet has no outbound rules or outbound flows yet.
//! - **Instances**, written twice (the contract autoscale and alerts read): under the
//!   instance's own lower-case id without dimensions, and under its scale set's lower-case id
//!   with `VMName` = the instance name. `Percentage CPU`, `Disk Read Bytes` and `Disk Write
//!   Bytes` need two readings of the same process group (see [`vm_usage`]); `Available Memory
//!   Bytes` needs one; `Network In Total` / `Network Out Total` are the bytes the proxy moved
//!   to and from the instance on every rule. An instance without a process has no points.
//!
//! Counters are totals since a frontend bound (or a backend handle appeared); the collector
//! keeps the last totals by their ids, so a re-bound frontend counts from zero, not backwards.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::metrics::series::{Aggregate, Dimensions, MinutePoint, dimensions};
use crate::model::vm_size;
use crate::runtime::instance::usage::{GroupUsage, vm_usage};
use crate::runtime::plan::{FrontendKind, Plan, Transport};
use crate::runtime::probe::{HealthTable, ProbeKey};
use crate::runtime::proxy::{CounterSnapshot, FrontendCounters};

/// One reading of an instance's process group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UsageReading {
    pub pgid: i32,
    pub usage: GroupUsage,
    /// When it was taken, on a monotonic real-time clock (any origin).
    pub at: Duration,
}

/// What one pass read.
pub struct Readings<'a> {
    /// The minute the points belong to (Azure time).
    pub minute: DateTime<Utc>,
    pub plan: &'a Plan,
    pub traffic: &'a [FrontendCounters],
    pub health: &'a HealthTable,
    /// Data-path probe results by frontend key.
    pub data_path: &'a HashMap<String, bool>,
    /// Readings of the instances that have a process, by instance key.
    pub usage: &'a HashMap<String, UsageReading>,
    /// Cores this host gives the instances (for `Percentage CPU`).
    pub host_cores: usize,
}

/// What the collector remembers between passes.
#[derive(Debug, Default)]
pub struct Collector {
    /// Last totals of each frontend, by bind id.
    frontends: HashMap<u64, CounterSnapshot>,
    /// Last totals of each backend handle, by id.
    backends: HashMap<u64, CounterSnapshot>,
    /// Last reading of each instance, by key.
    usage: HashMap<String, UsageReading>,
}

/// Points of one pass, merged per series: counters add up into one value per minute,
/// gauges keep one value per sample.
#[derive(Default)]
struct Batch(BTreeMap<(String, &'static str, Dimensions), Aggregate>);

impl Batch {
    fn counter(&mut self, key: &str, metric: &'static str, dims: Dimensions, v: f64) {
        self.0
            .entry((key.to_string(), metric, dims))
            .and_modify(|a| {
                a.total += v;
                a.minimum = a.total;
                a.maximum = a.total;
            })
            .or_insert_with(|| Aggregate::sample(v));
    }

    fn gauge(&mut self, key: &str, metric: &'static str, dims: Dimensions, v: f64) {
        self.0
            .entry((key.to_string(), metric, dims))
            .and_modify(|a| a.merge(&Aggregate::sample(v)))
            .or_insert_with(|| Aggregate::sample(v));
    }

    fn points(self, minute: DateTime<Utc>) -> Vec<MinutePoint> {
        self.0
            .into_iter()
            .map(|((key, metric, dims), value)| MinutePoint::new(&key, metric, dims, minute, value))
            .collect()
    }
}

impl Collector {
    /// The points of one pass; remembers this pass's totals and readings for the next.
    pub fn points(&mut self, r: &Readings) -> Vec<MinutePoint> {
        let mut batch = Batch::default();
        let network = self.traffic(r, &mut batch);
        health(r, &mut batch);
        self.instances(r, &network, &mut batch);
        batch.points(r.minute)
    }

    /// Frontend traffic; returns (bytes in, bytes out) per instance key.
    fn traffic(&mut self, r: &Readings, batch: &mut Batch) -> HashMap<String, (u64, u64)> {
        let mut network: HashMap<String, (u64, u64)> = HashMap::new();
        let mut frontends = HashMap::new();
        let mut backends = HashMap::new();
        for fc in r.traffic {
            let d = fc.totals.since(
                self.frontends
                    .get(&fc.id)
                    .unwrap_or(&CounterSnapshot::default()),
            );
            frontends.insert(fc.id, fc.totals);
            for b in &fc.backends {
                let bd = b.counters.since(
                    self.backends
                        .get(&b.id)
                        .unwrap_or(&CounterSnapshot::default()),
                );
                backends.insert(b.id, b.counters);
                let n = network.entry(b.key.clone()).or_default();
                n.0 += bd.bytes_in;
                n.1 += bd.bytes_out;
            }
            let Some(f) = r.plan.frontends.iter().find(|f| f.key == fc.key) else {
                continue; // published before this plan was made; counted next pass
            };
            let ip = f.frontend_ip.to_string();
            let port = f.frontend_port.to_string();
            let dims = |direction: &str| {
                dimensions([
                    ("FrontendIPAddress", ip.as_str()),
                    ("FrontendPort", port.as_str()),
                    ("Direction", direction),
                ])
            };
            let lb = &f.load_balancer;
            batch.counter(lb, "ByteCount", dims("In"), d.bytes_in as f64);
            batch.counter(lb, "ByteCount", dims("Out"), d.bytes_out as f64);
            batch.counter(lb, "PacketCount", dims("In"), d.packets_in as f64);
            batch.counter(lb, "PacketCount", dims("Out"), d.packets_out as f64);
            if f.transport == Transport::Tcp {
                batch.counter(lb, "SYNCount", dims("In"), d.syn as f64);
            }
        }
        self.frontends = frontends;
        self.backends = backends;
        network
    }

    fn instances(
        &mut self,
        r: &Readings,
        network: &HashMap<String, (u64, u64)>,
        batch: &mut Batch,
    ) {
        for inst in &r.plan.instances {
            let Some(now) = r.usage.get(&inst.key) else {
                continue;
            };
            let size = vm_size::resolve(&inst.vm_size);
            let mut values: Vec<(&'static str, f64)> = Vec::new();
            let before = self
                .usage
                .get(&inst.key)
                .filter(|b| b.pgid == now.pgid && b.at < now.at);
            let usage = before.and_then(|b| {
                let elapsed = (now.at - b.at).as_secs_f64();
                vm_usage(&b.usage, &now.usage, elapsed, &size, r.host_cores)
            });
            if let Some(u) = usage {
                values.push(("Percentage CPU", u.percentage_cpu));
                if let (Some(read), Some(write)) = (u.disk_read_bytes, u.disk_write_bytes) {
                    values.push(("Disk Read Bytes", read));
                    values.push(("Disk Write Bytes", write));
                }
            }
            let available = size.memory_bytes().saturating_sub(now.usage.rss_bytes) as f64;
            values.push(("Available Memory Bytes", available));
            let (bytes_in, bytes_out) = network.get(&inst.key).copied().unwrap_or_default();
            values.push(("Network In Total", bytes_in as f64));
            values.push(("Network Out Total", bytes_out as f64));
            for (metric, v) in values {
                batch.gauge(&inst.key, metric, Dimensions::new(), v);
                let vm = dimensions([("VMName", inst.name.as_str())]);
                batch.gauge(&inst.scale_set_id, metric, vm, v);
            }
        }
        self.usage = r.usage.clone();
    }
}

/// `DipAvailability` of every probed backend of every rule, and `VipAvailability`.
fn health(r: &Readings, batch: &mut Batch) {
    for f in r
        .plan
        .frontends
        .iter()
        .filter(|f| f.kind == FrontendKind::Rule)
    {
        let ip = f.frontend_ip.to_string();
        let port = f.frontend_port.to_string();
        let protocol = match f.transport {
            Transport::Tcp => "TCP",
            Transport::Udp => "UDP",
        };
        for b in &f.backends {
            let Some((probe, instance)) = &b.probe else {
                continue;
            };
            let running = r
                .plan
                .instances
                .iter()
                .any(|i| &i.key == instance && i.should_run());
            let up = running
                && r.health
                    .health(&ProbeKey::new(probe.clone(), instance.clone()))
                    .in_rotation();
            let backend_port = b.port.to_string();
            let dims = dimensions([
                ("ProtocolType", protocol),
                ("BackendIPAddress", b.ip.as_str()),
                ("BackendPort", backend_port.as_str()),
                ("FrontendIPAddress", ip.as_str()),
                ("FrontendPort", port.as_str()),
            ]);
            let value = if up { 100.0 } else { 0.0 };
            batch.gauge(&f.load_balancer, "DipAvailability", dims, value);
        }
        if let Some(ok) = r.data_path.get(&f.key) {
            let dims = dimensions([
                ("FrontendIPAddress", ip.as_str()),
                ("FrontendPort", port.as_str()),
            ]);
            let value = if *ok { 100.0 } else { 0.0 };
            batch.gauge(&f.load_balancer, "VipAvailability", dims, value);
        }
    }
}

#[cfg(test)]
#[path = "collect_tests.rs"]
mod tests;
