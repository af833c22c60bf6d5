//! The data-plane proxy: listens on every load-balancer frontend of the published
//! [`RoutingTable`], picks a healthy backend per new flow ([`distribution`]) and forwards
//! TCP ([`tcp`]) and UDP ([`udp`]) with idle timeouts, TCP reset and counters
//! ([`counters`], [`series`]).
//!
//! [`Proxy::publish`] reconciles listeners with the table: new frontends are bound (a bind
//! failure is reported per key in [`Proxy::status`]), removed ones close (their flows end),
//! unchanged listeners and their flows are untouched, and a changed rule swaps its
//! snapshot ([`frontend`]). Existing flows survive their backend turning unhealthy, as in
//! Azure, but end when the backend leaves the rule. The forwarding itself runs on
//! per-core worker threads ([`worker`]).
//!
//! Feeding it (the control plane builds a whole [`RoutingTable`] on every change):
//! - a load-balancing rule gives one [`FrontendRule`] per transport (protocol `All` gives a
//!   Tcp and a Udp rule with distinct keys): `bind` = the frontend IP's loopback address and
//!   the effective `frontendPort`; one [`Backend`] per ip configuration in the backend pool,
//!   at the instance's loopback address and effective `backendPort`, with
//!   `probe = Some(ProbeKey { probe: <rule's probe id>, backend: <ip configuration id> })`;
//!   `loadDistribution`, `idleTimeoutInMinutes`, `enableTcpReset` and the probe's
//!   `noHealthyBackendsBehavior` map one to one;
//! - an inbound NAT rule gives one rule with one backend and no probe; an inbound NAT pool
//!   gives one such rule per instance (frontend port = range start + instance index).
//!
//! Live counters are in [`Proxy::counters`]; the metrics collector
//! ([`crate::runtime::metrics`]) turns them into Azure Monitor minutes. Flows from
//! [`DATA_PATH_PROBE_SOURCE`] (the collector's data-path probes) are forwarded but not
//! counted: Azure's own data-path measurement is invisible in the customer's metrics.

pub mod counters;
pub mod distribution;
pub mod frontend;
pub mod splice;
pub mod table;
pub mod tcp;
pub mod udp;
pub mod upstream;
pub mod worker;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use arc_swap::ArcSwap;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use counters::{BackendCounters, CounterSnapshot, FrontendCounters};
pub use table::{
    Backend, BackendFault, Distribution, FrontendRule, NoHealthy, RoutingTable, Transport,
};

use crate::runtime::clock::Clock;
use crate::runtime::probe::HealthView;
use frontend::{BoundSocket, FrontendRt};
use worker::{LiveSet, WorkerContext};

/// The source address of armlet's own data-path probes (`VipAvailability`): outside every
/// address block armlet hands out (blocks stop at 127.254.x.x), so no client shares it.
pub const DATA_PATH_PROBE_SOURCE: Ipv4Addr = Ipv4Addr::new(127, 255, 255, 254);

/// Errors of the proxy as a whole (per-frontend bind failures are in [`Proxy::status`]).
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("starting proxy workers: {0}")]
    Workers(#[from] std::io::Error),
}

/// Where a frontend stands after the last publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindStatus {
    /// Listening on this address (the port is the real one when the rule asked for 0).
    Bound(SocketAddr),
    /// Could not bind; retried on the next publish.
    Failed(String),
}

/// The running proxy. Dropping it stops the workers and closes every listener.
pub struct Proxy {
    clock: Clock,
    /// Live frontends by key, with the rule they were last given. Only `publish` writes.
    live: Mutex<HashMap<String, (FrontendRule, Arc<FrontendRt>)>>,
    /// The live set as the workers see it.
    live_tx: watch::Sender<LiveSet>,
    routing: ArcSwap<RoutingTable>,
    status: ArcSwap<HashMap<String, BindStatus>>,
    stop: CancellationToken,
    workers: Vec<JoinHandle<()>>,
}

impl Proxy {
    /// One TCP listener per worker.
    fn listeners(&self) -> usize {
        self.workers.len().max(1)
    }
}

impl Proxy {
    /// Starts one worker per core. Stops when `shutdown` is cancelled or the proxy dropped.
    pub fn start(
        clock: Clock,
        health: HealthView,
        shutdown: &CancellationToken,
    ) -> Result<Self, ProxyError> {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::with_workers(clock, health, shutdown, n)
    }

    pub fn with_workers(
        clock: Clock,
        health: HealthView,
        shutdown: &CancellationToken,
        workers: usize,
    ) -> Result<Self, ProxyError> {
        let (live_tx, live) = watch::channel(LiveSet::default());
        let stop = shutdown.child_token();
        let ctx = WorkerContext {
            health,
            live,
            stop: stop.clone(),
        };
        let workers = worker::spawn(workers, ctx)?;
        Ok(Proxy {
            clock,
            live: Mutex::new(HashMap::new()),
            live_tx,
            routing: ArcSwap::from_pointee(RoutingTable::default()),
            status: ArcSwap::from_pointee(HashMap::new()),
            stop,
            workers,
        })
    }

    /// Makes the listeners match `table` (level-triggered: publishing the same table again
    /// changes nothing, and retries failed binds).
    pub fn publish(&self, table: Arc<RoutingTable>) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let mut status = HashMap::new();
        let wanted: HashMap<&str, &FrontendRule> = table
            .frontends
            .iter()
            .map(|r| (r.key.as_str(), r))
            .collect();
        if wanted.len() != table.frontends.len() {
            tracing::warn!("routing table has duplicate frontend keys; the last one wins");
        }
        // Retire first, so a frontend moving to another address can take over a port.
        live.retain(|key, (rule, rt)| {
            let keep = wanted
                .get(key.as_str())
                .is_some_and(|r| rule.same_listener(r));
            if !keep {
                rt.retire();
            }
            keep
        });
        for (key, rule) in wanted {
            if let Some((old, rt)) = live.get_mut(key) {
                if old != rule {
                    rt.update(rule, &self.clock);
                    *old = rule.clone();
                }
                status.insert(key.to_string(), BindStatus::Bound(rt.local));
                continue;
            }
            let clash = live.values().find(|(r, rt)| {
                r.protocol == rule.protocol && rule.bind.port() != 0 && rt.local == rule.bind
            });
            let bound = match clash {
                // SO_REUSEPORT would let both bind: refuse explicitly.
                Some((r, _)) => Err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    format!("address in use by frontend {}", r.key),
                )),
                None => bind(rule, self.listeners()),
            };
            match bound {
                Ok((sockets, local)) => {
                    let rt = Arc::new(FrontendRt::new(rule, sockets, local, &self.clock));
                    live.insert(key.to_string(), (rule.clone(), rt));
                    status.insert(key.to_string(), BindStatus::Bound(local));
                }
                Err(e) => {
                    tracing::warn!(frontend = %key, bind = %rule.bind, "cannot bind frontend: {e}");
                    status.insert(key.to_string(), BindStatus::Failed(e.to_string()));
                }
            }
        }
        let set: Vec<Arc<FrontendRt>> = live.values().map(|(_, rt)| rt.clone()).collect();
        self.live_tx.send_replace(Arc::new(set));
        self.status.store(Arc::new(status));
        self.routing.store(table);
    }

    /// The last published table.
    pub fn routing(&self) -> Arc<RoutingTable> {
        self.routing.load_full()
    }

    /// Bind status of every frontend of the last published table.
    pub fn status(&self) -> Arc<HashMap<String, BindStatus>> {
        self.status.load_full()
    }

    /// The frontends that could not bind, with the reason.
    pub fn bind_errors(&self) -> Vec<(String, String)> {
        let mut errors: Vec<_> = self
            .status()
            .iter()
            .filter_map(|(k, s)| match s {
                BindStatus::Failed(e) => Some((k.clone(), e.clone())),
                BindStatus::Bound(_) => None,
            })
            .collect();
        errors.sort();
        errors
    }

    /// The address a frontend listens on.
    pub fn local_addr(&self, key: &str) -> Option<SocketAddr> {
        match self.status().get(key)? {
            BindStatus::Bound(a) => Some(*a),
            BindStatus::Failed(_) => None,
        }
    }

    /// Counters of every live frontend and its current backends, sorted by key.
    pub fn counters(&self) -> Vec<FrontendCounters> {
        let live = self.live_tx.borrow().clone();
        let mut out: Vec<_> = live
            .iter()
            .map(|fe| FrontendCounters {
                key: fe.key.clone(),
                id: fe.id,
                totals: fe.counters.snapshot(),
                backends: fe
                    .rule
                    .load()
                    .backends
                    .iter()
                    .map(|b| BackendCounters {
                        key: b.key.clone(),
                        id: b.id,
                        counters: b.counters.snapshot(),
                    })
                    .collect(),
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        for (_, rt) in self.live.lock().unwrap_or_else(|p| p.into_inner()).values() {
            rt.retire();
        }
        self.stop.cancel();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// Binds a frontend: `listeners` TCP listeners sharing the port through `SO_REUSEPORT`,
/// or one UDP socket (non-blocking, ready for the workers).
fn bind(rule: &FrontendRule, listeners: usize) -> std::io::Result<(Vec<BoundSocket>, SocketAddr)> {
    match rule.protocol {
        Transport::Tcp => {
            let first = tcp_listener(rule.bind)?;
            let local = first.local_addr()?;
            let mut all = vec![BoundSocket::Tcp(first)];
            for _ in 1..listeners {
                all.push(BoundSocket::Tcp(tcp_listener(local)?));
            }
            Ok((all, local))
        }
        Transport::Udp => {
            let u = std::net::UdpSocket::bind(rule.bind)?;
            u.set_nonblocking(true)?;
            let local = u.local_addr()?;
            Ok((vec![BoundSocket::Udp(u)], local))
        }
    }
}

fn tcp_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Lets a frontend re-bind its port while old flows sit in TIME_WAIT.
    s.set_reuse_address(true)?;
    // One listener per worker on the same port; the kernel spreads connections.
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    // Inherited by accepted connections.
    s.set_tcp_nodelay(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    Ok(s.into())
}
