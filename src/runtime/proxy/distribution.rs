//! Backend choice for a new flow: a pure function of the flow's tuple, the rule's
//! distribution mode and which backends are in rotation.
//!
//! Rendezvous (highest-random-weight) hashing: each backend scores `mix(tuple ⊕ backend)`
//! and the highest in-rotation score wins. It is stable (the same tuple picks the same
//! backend while the set is unchanged), spreads evenly, and when a backend leaves rotation
//! only its own flows move; when one joins, only the flows it now wins move to it.
//! Hashes are SipHash with fixed keys, so choices are stable for the life of the process
//! (and across runs built with the same Rust release).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;

use super::table::{Distribution, NoHealthy, Transport};

/// The addressing of a new flow as the load balancer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowTuple {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub transport: Transport,
}

/// The hash of the part of the tuple that `distribution` looks at.
pub fn tuple_hash(t: &FlowTuple, distribution: Distribution) -> u64 {
    // `DefaultHasher::new()` is SipHash-1-3 with fixed (zero) keys: deterministic.
    let mut h = DefaultHasher::new();
    t.src.ip().hash(&mut h);
    t.dst.ip().hash(&mut h);
    match distribution {
        Distribution::SourceIp => {}
        Distribution::SourceIpProtocol => t.transport.hash(&mut h),
        Distribution::Default => {
            t.transport.hash(&mut h);
            t.src.port().hash(&mut h);
            t.dst.port().hash(&mut h);
        }
    }
    h.finish()
}

/// The fixed hash of a backend's identity, computed once per published table.
pub fn backend_hash(key: &str) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// SplitMix64's finalizer: a cheap, well-mixing bijection on u64.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn score(tuple: u64, backend: u64) -> u64 {
    mix(tuple ^ mix(backend))
}

/// Picks the index of the backend for a flow. `backends[i]` is (backend hash, in rotation).
/// With no backend in rotation, `AllProbedUp` picks among all of them and `AllProbedDown`
/// (Azure's default) picks none.
pub fn pick(backends: &[(u64, bool)], tuple: u64, no_healthy: NoHealthy) -> Option<usize> {
    pick_with(backends.len(), |i| backends[i], tuple, no_healthy)
}

/// [`pick`] over `n` backends described by `backend(i)`, without building a slice (the
/// proxy's hot path).
pub fn pick_with(
    n: usize,
    backend: impl Fn(usize) -> (u64, bool),
    tuple: u64,
    no_healthy: NoHealthy,
) -> Option<usize> {
    let best = |only_healthy: bool| {
        (0..n)
            .map(|i| (i, backend(i)))
            .filter(|(_, (_, up))| *up || !only_healthy)
            .max_by_key(|(_, (h, _))| score(tuple, *h))
            .map(|(i, _)| i)
    };
    match best(true) {
        Some(i) => Some(i),
        None if no_healthy == NoHealthy::AllProbedUp => best(false),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tuple(src: [u8; 4], sport: u16, dport: u16) -> FlowTuple {
        FlowTuple {
            src: SocketAddr::from((src, sport)),
            dst: SocketAddr::from(([127, 0, 0, 10], dport)),
            transport: Transport::Tcp,
        }
    }

    fn pool(n: usize) -> Vec<(u64, bool)> {
        (0..n)
            .map(|i| (backend_hash(&format!("vm{i}")), true))
            .collect()
    }

    #[test]
    fn spreads_evenly_over_many_tuples() {
        let backends = pool(4);
        let mut counts = [0usize; 4];
        for port in 0..8000u16 {
            let h = tuple_hash(
                &tuple([127, 0, 0, 1], 10000 + port, 80),
                Distribution::Default,
            );
            counts[pick(&backends, h, NoHealthy::AllProbedDown).unwrap()] += 1;
        }
        for c in counts {
            assert!((1700..=2300).contains(&c), "uneven spread: {counts:?}");
        }
    }

    #[test]
    fn source_ip_pins_a_client_whatever_its_port() {
        let backends = pool(5);
        let first = pick(
            &backends,
            tuple_hash(&tuple([127, 0, 0, 2], 1000, 80), Distribution::SourceIp),
            NoHealthy::AllProbedDown,
        );
        for port in 1001..1200 {
            let h = tuple_hash(&tuple([127, 0, 0, 2], port, 80), Distribution::SourceIp);
            assert_eq!(pick(&backends, h, NoHealthy::AllProbedDown), first);
        }
    }

    #[test]
    fn source_ip_protocol_tells_transports_apart_only_in_that_mode() {
        let mut udp = tuple([127, 0, 0, 2], 1000, 80);
        udp.transport = Transport::Udp;
        let tcp = tuple([127, 0, 0, 2], 1000, 80);
        assert_eq!(
            tuple_hash(&tcp, Distribution::SourceIp),
            tuple_hash(&udp, Distribution::SourceIp)
        );
        assert_ne!(
            tuple_hash(&tcp, Distribution::SourceIpProtocol),
            tuple_hash(&udp, Distribution::SourceIpProtocol)
        );
    }

    #[test]
    fn no_healthy_behaviour() {
        let down = vec![(1, false), (2, false)];
        assert_eq!(pick(&down, 7, NoHealthy::AllProbedDown), None);
        assert!(pick(&down, 7, NoHealthy::AllProbedUp).is_some());
        assert_eq!(pick(&[], 7, NoHealthy::AllProbedUp), None);
    }

    proptest! {
        #[test]
        fn only_in_rotation_backends_are_picked(
            up in proptest::collection::vec(any::<bool>(), 1..8),
            t in any::<u64>(),
        ) {
            let backends: Vec<_> = up.iter().enumerate()
                .map(|(i, u)| (backend_hash(&format!("b{i}")), *u)).collect();
            match pick(&backends, t, NoHealthy::AllProbedDown) {
                Some(i) => prop_assert!(up[i]),
                None => prop_assert!(up.iter().all(|u| !u)),
            }
        }

        #[test]
        fn losing_a_backend_moves_only_its_flows(
            n in 2usize..8,
            gone in 0usize..8,
            tuples in proptest::collection::vec(any::<u64>(), 1..200),
        ) {
            let gone = gone % n;
            let all = pool(n);
            let mut fewer = all.clone();
            fewer[gone].1 = false;
            for t in tuples {
                let before = pick(&all, t, NoHealthy::AllProbedDown).unwrap();
                let after = pick(&fewer, t, NoHealthy::AllProbedDown).unwrap();
                if before != gone {
                    prop_assert_eq!(before, after);
                } else {
                    prop_assert_ne!(after, gone);
                }
            }
        }

        #[test]
        fn choice_is_stable(t in any::<u64>(), n in 1usize..8) {
            let b = pool(n);
            prop_assert_eq!(pick(&b, t, NoHealthy::AllProbedDown), pick(&b, t, NoHealthy::AllProbedDown));
        }
    }
}
