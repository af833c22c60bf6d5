//! The live state behind one listening frontend: its socket, its current rule snapshot
//! (an `ArcSwap`, swapped by the control side, read lock-free per new flow) and the
//! per-backend handles that let the control side end a removed backend's flows.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use super::counters::Counters;
use super::distribution::{FlowTuple, backend_hash, pick_with, tuple_hash};
use super::table::{Backend, Distribution, FrontendRule, NoHealthy, Transport};
use crate::runtime::clock::Clock;
use crate::runtime::probe::{HealthTable, ProbeKey};

/// One backend of one frontend, shared by the rule snapshots that contain it and by its
/// flows.
#[derive(Debug)]
pub struct BackendRt {
    /// Unique per handle, for readers of the counters.
    pub id: u64,
    pub key: String,
    pub addr: SocketAddr,
    pub probe: Option<ProbeKey>,
    /// Leaving the pool: no new flows, existing ones go on.
    pub draining: bool,
    /// [`backend_hash`] of the key, computed once.
    pub hash: u64,
    /// Cancelled when the backend leaves the rule (or the frontend goes): its flows end.
    pub cancel: CancellationToken,
    /// This rule's traffic to this backend (shared by the handles of one backend, so a
    /// probe or draining change keeps its history).
    pub counters: Arc<Counters>,
}

impl BackendRt {
    fn new(b: &Backend, parent: &CancellationToken) -> Self {
        BackendRt {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            key: b.key.clone(),
            addr: b.addr,
            probe: b.probe.clone(),
            draining: b.draining,
            hash: backend_hash(&b.key),
            cancel: parent.child_token(),
            counters: Arc::default(),
        }
    }

    fn in_rotation(&self, health: &HealthTable) -> bool {
        self.probe
            .as_ref()
            .is_none_or(|p| health.health(p).in_rotation())
    }
}

/// An immutable view of a rule, as of one publish.
#[derive(Debug)]
pub struct RuleRt {
    /// Every backend of the rule, draining ones included (their flows and counters live on).
    pub backends: Vec<Arc<BackendRt>>,
    /// Indexes into `backends` of those that may take new flows (not draining).
    pub eligible: Vec<usize>,
    pub distribution: Distribution,
    /// The idle timeout in real time.
    pub idle_real: Duration,
    pub tcp_reset: bool,
    pub no_healthy: NoHealthy,
}

/// A frontend being served: created when its listener binds, retired when it is removed.
#[derive(Debug)]
pub struct FrontendRt {
    /// Unique per bind, so workers tell a re-bound frontend from the old one.
    pub id: u64,
    pub key: String,
    pub local: SocketAddr,
    pub transport: Transport,
    pub rule: ArcSwap<RuleRt>,
    pub counters: Counters,
    /// Cancelled on removal: listeners close and all flows end.
    pub cancel: CancellationToken,
    /// The bound sockets: for TCP one `SO_REUSEPORT` listener per worker (the kernel
    /// spreads new connections, no thundering herd), for UDP one socket. Workers clone
    /// theirs; removal empties this so they close once the workers' clones are dropped.
    pub sockets: Mutex<Vec<BoundSocket>>,
}

#[derive(Debug)]
pub enum BoundSocket {
    Tcp(std::net::TcpListener),
    Udp(std::net::UdpSocket),
}

impl BoundSocket {
    /// A clone of worker `index`'s socket, if that worker serves this frontend (TCP: every
    /// worker, round robin over the listeners; UDP: worker 0 only).
    pub fn for_worker(sockets: &[BoundSocket], index: usize) -> Option<std::io::Result<Self>> {
        match sockets.first()? {
            BoundSocket::Udp(_) if index != 0 => None,
            _ => Some(sockets[index % sockets.len()].try_clone()),
        }
    }

    pub fn try_clone(&self) -> std::io::Result<BoundSocket> {
        Ok(match self {
            BoundSocket::Tcp(l) => BoundSocket::Tcp(l.try_clone()?),
            BoundSocket::Udp(u) => BoundSocket::Udp(u.try_clone()?),
        })
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl FrontendRt {
    pub fn new(
        rule: &FrontendRule,
        sockets: Vec<BoundSocket>,
        local: SocketAddr,
        clock: &Clock,
    ) -> Self {
        let cancel = CancellationToken::new();
        let snapshot = build_rule(rule, None, &cancel, clock);
        FrontendRt {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            key: rule.key.clone(),
            local,
            transport: rule.protocol,
            rule: ArcSwap::from_pointee(snapshot),
            counters: Counters::default(),
            cancel,
            sockets: Mutex::new(sockets),
        }
    }

    /// Applies a changed rule (same listener): backends whose key and address are kept
    /// keep their handle and flows; the others' flows end.
    pub fn update(&self, rule: &FrontendRule, clock: &Clock) {
        let old = self.rule.load_full();
        let next = build_rule(rule, Some(&old), &self.cancel, clock);
        for b in &old.backends {
            if !next
                .backends
                .iter()
                .any(|n| n.key == b.key && n.addr == b.addr)
            {
                b.cancel.cancel();
            }
        }
        self.rule.store(Arc::new(next));
    }

    /// Stops listening and ends every flow.
    pub fn retire(&self) {
        self.cancel.cancel();
        self.sockets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The backend for a new flow from `src`, or `None` when no backend may take it.
    pub fn choose(
        &self,
        rule: &RuleRt,
        src: SocketAddr,
        health: &HealthTable,
    ) -> Option<Arc<BackendRt>> {
        let tuple = FlowTuple {
            src,
            dst: self.local,
            transport: self.transport,
        };
        let h = tuple_hash(&tuple, rule.distribution);
        let b = &rule.backends;
        let e = &rule.eligible;
        let j = pick_with(
            e.len(),
            |j| (b[e[j]].hash, b[e[j]].in_rotation(health)),
            h,
            rule.no_healthy,
        )?;
        Some(b[e[j]].clone())
    }
}

fn build_rule(
    rule: &FrontendRule,
    old: Option<&RuleRt>,
    cancel: &CancellationToken,
    clock: &Clock,
) -> RuleRt {
    let backends = rule
        .backends
        .iter()
        .map(|b| {
            let kept = old.and_then(|o| {
                o.backends
                    .iter()
                    .find(|x| x.key == b.key && x.addr == b.addr)
            });
            match kept {
                Some(x) if x.probe == b.probe && x.draining == b.draining => x.clone(),
                // Same backend, another probe or now draining: a new handle, but its flows go on.
                Some(x) => {
                    let mut n = BackendRt::new(b, cancel);
                    n.cancel = x.cancel.clone();
                    n.counters = x.counters.clone();
                    Arc::new(n)
                }
                None => Arc::new(BackendRt::new(b, cancel)),
            }
        })
        .collect::<Vec<Arc<BackendRt>>>();
    let eligible = (0..backends.len())
        .filter(|&i| !backends[i].draining)
        .collect();
    RuleRt {
        backends,
        eligible,
        distribution: rule.distribution,
        idle_real: clock.real(rule.idle_timeout).max(Duration::from_millis(1)),
        tcp_reset: rule.tcp_reset,
        no_healthy: rule.no_healthy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(backends: Vec<Backend>, no_healthy: NoHealthy) -> FrontendRule {
        FrontendRule {
            key: "r".into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            protocol: Transport::Tcp,
            backends,
            distribution: Distribution::Default,
            idle_timeout: Duration::from_secs(240),
            tcp_reset: false,
            no_healthy,
        }
    }

    fn backend(key: &str, port: u16, draining: bool) -> Backend {
        Backend {
            key: key.into(),
            addr: SocketAddr::from(([127, 0, 0, 2], port)),
            probe: Some(ProbeKey::new("p", key)),
            draining,
        }
    }

    #[test]
    fn draining_backends_take_no_new_flows_but_keep_theirs() {
        let clock = Clock::new(1.0);
        let fe = FrontendRt::new(
            &rule(
                vec![backend("a", 1, false), backend("b", 2, false)],
                NoHealthy::AllProbedUp,
            ),
            vec![],
            SocketAddr::from(([127, 0, 0, 1], 80)),
            &clock,
        );
        let b_cancel = fe.rule.load().backends[1].cancel.clone();
        // `b` starts draining: its flows go on, new flows never pick it, even when every
        // backend is probed down and the rule would otherwise spread over all of them.
        fe.update(
            &rule(
                vec![backend("a", 1, false), backend("b", 2, true)],
                NoHealthy::AllProbedUp,
            ),
            &clock,
        );
        assert!(!b_cancel.is_cancelled());
        let snapshot = fe.rule.load_full();
        assert_eq!(snapshot.eligible, [0]);
        let none_up = HealthTable::default();
        for port in 0..50 {
            let src = SocketAddr::from(([10, 0, 0, 1], 1000 + port));
            let chosen = fe.choose(&snapshot, src, &none_up).unwrap();
            assert_eq!(chosen.key, "a");
        }
        // Leaving the rule ends its flows.
        fe.update(
            &rule(vec![backend("a", 1, false)], NoHealthy::AllProbedUp),
            &clock,
        );
        assert!(b_cancel.is_cancelled());
    }
}
