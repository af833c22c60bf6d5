//! The metrics collector: once per Azure minute (armlet's scaled clock) it reads what the
//! data plane and the instances did and writes Azure Monitor's one-minute aggregates to the
//! store ([`crate::store::metrics`]), where the metrics API, autoscale and alerts read them.
//!
//! The hot path only bumps counters (the proxy's relaxed atomics); this loop reads them,
//! takes deltas, and flushes one batch per minute in one transaction. A pass:
//! 1. probes the data path of every TCP load-balancing rule ([`data_path`]) while it reads
//!    the instances' process groups from `/proc` ([`crate::runtime::instance::usage`]);
//! 2. reads the proxy's counters and the probe health table;
//! 3. turns all of it into points for the minute that just ended ([`collect`], pure);
//! 4. writes them, and every [`PRUNE_EVERY`] passes deletes minutes older than the
//!    retention window (`--metrics-retention-days`, Azure's 93 days by default).
//!
//! Ticks fall on Azure minute boundaries. A pass that runs late (a loaded machine) labels
//! its deltas with the minute that just ended; nothing is lost, a minute may hold a little
//! more than sixty seconds. Series live in SQLite and survive restarts.

pub mod collect;
pub mod data_path;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use tokio_util::sync::CancellationToken;

use crate::metrics::series::{MinutePoint, minute_of};
use crate::store::Store;

use super::Runtime;
use super::instance::InstanceStatus;
use super::instance::usage::sample_groups_in;
use super::plan::{FrontendKind, Plan, Transport};
use super::probe::HealthTable;
use super::proxy::Proxy;
use collect::{Collector, Readings, UsageReading};

/// Passes between two prunings (an Azure hour).
pub const PRUNE_EVERY: u64 = 60;

/// What a pass reads, borrowed from the runtime (or from a benchmark's own parts).
pub struct Inputs<'a> {
    pub plan: &'a Plan,
    pub proxy: &'a Proxy,
    pub health: &'a HealthTable,
    /// `(instance key, process group id)` of every instance with a running process.
    pub processes: Vec<(String, i32)>,
}

/// The collector's state across passes.
pub struct Pass {
    collector: Collector,
    /// Origin of the real-time stamps of process readings.
    origin: Instant,
    passes: u64,
    host_cores: usize,
    retention: TimeDelta,
    /// Points a failed write left behind, written with the next pass's.
    pending: Vec<MinutePoint>,
}

/// At most this many unwritten points are kept for a retry (about ten passes of a large
/// deployment); older ones are dropped with a warning.
const MAX_PENDING: usize = 50_000;

impl Pass {
    pub fn new(retention: TimeDelta) -> Self {
        Pass {
            collector: Collector::default(),
            origin: Instant::now(),
            passes: 0,
            host_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            retention,
            pending: Vec::new(),
        }
    }

    /// One pass at Azure time `now`: its points go to the minute before the one `now` is
    /// in. Returns how many points were written.
    pub async fn run(
        &mut self,
        inputs: Inputs<'_>,
        store: &Store,
        now: DateTime<Utc>,
    ) -> Result<usize, sqlx::Error> {
        let minute = minute_of(now) - TimeDelta::minutes(1);
        let targets = inputs
            .plan
            .frontends
            .iter()
            .filter(|f| f.kind == FrontendKind::Rule && f.transport == Transport::Tcp)
            .map(|f| {
                let addr = inputs.proxy.local_addr(&f.key).unwrap_or(f.bind);
                (f.key.clone(), addr)
            })
            .collect();
        let pgids: Vec<i32> = inputs.processes.iter().map(|(_, p)| *p).collect();
        let sample =
            tokio::task::spawn_blocking(move || sample_groups_in(Path::new("/proc"), &pgids));
        let (data_path, sampled) =
            tokio::join!(data_path::probe_all(targets, data_path::HOLD), sample);
        let at = self.origin.elapsed();
        let groups = match sampled {
            Ok(Ok(g)) => g,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "reading instance usage from /proc");
                HashMap::new()
            }
            Err(e) => {
                tracing::warn!(error = %e, "usage sampling task failed");
                HashMap::new()
            }
        };
        let usage: HashMap<String, UsageReading> = inputs
            .processes
            .iter()
            .filter_map(|(key, pgid)| {
                let usage = *groups.get(pgid)?;
                Some((
                    key.clone(),
                    UsageReading {
                        pgid: *pgid,
                        usage,
                        at,
                    },
                ))
            })
            .collect();
        let traffic = inputs.proxy.counters();
        let points = self.collector.points(&Readings {
            minute,
            plan: inputs.plan,
            traffic: &traffic,
            health: inputs.health,
            data_path: &data_path,
            usage: &usage,
            host_cores: self.host_cores,
        });
        let written = points.len();
        self.pending.extend(points);
        if self.pending.len() > MAX_PENDING {
            let dropped = self.pending.len() - MAX_PENDING;
            tracing::warn!(points = dropped, "dropping unwritten metric minutes");
            self.pending.drain(..dropped);
        }
        store.write_metric_minutes(&self.pending).await?;
        self.pending.clear();
        if self.passes.is_multiple_of(PRUNE_EVERY) {
            let gone = store.prune_metric_minutes(now - self.retention).await?;
            if gone > 0 {
                tracing::info!(minutes = gone, "pruned metric minutes past retention");
            }
        }
        self.passes += 1;
        Ok(written)
    }
}

/// The instances with a running process and their process groups (each instance leads its
/// own group).
pub fn running_processes(rt: &Runtime) -> Vec<(String, i32)> {
    rt.supervisor
        .list()
        .into_iter()
        .filter_map(|(key, status)| match status {
            InstanceStatus::Running { pid, .. } => Some((key, pid as i32)),
            _ => None,
        })
        .collect()
}

/// Collects until shutdown, one pass per Azure minute on the minute.
pub async fn run(rt: Arc<Runtime>, shutdown: CancellationToken) {
    let mut pass = Pass::new(rt.metrics_retention);
    let clock = rt.clock;
    let now = clock.now_utc();
    let to_boundary = (minute_of(now) + TimeDelta::minutes(1) - now)
        .to_std()
        .unwrap_or_default();
    let period = clock
        .real(Duration::from_secs(60))
        .max(Duration::from_millis(1));
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + clock.real(to_boundary),
        period,
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let plan = rt.plan.load_full();
        let health = rt.prober.health().snapshot();
        let inputs = Inputs {
            plan: &plan,
            proxy: &rt.proxy,
            health: &health,
            processes: running_processes(&rt),
        };
        if let Err(e) = pass.run(inputs, &rt.store, clock.now_utc()).await {
            tracing::warn!(error = %e, "writing metric minutes failed; the next pass retries them");
        }
    }
}
