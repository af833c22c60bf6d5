//! Traffic counters per frontend rule and per backend: relaxed atomics bumped on the hot
//! path, read as [`CounterSnapshot`]s.
//!
//! Packets: user space cannot see TCP segments, so a TCP read or write of `n` bytes counts
//! as `ceil(n / 1448)` packets (1448 = a typical Ethernet MSS with TCP timestamps); a UDP
//! datagram is one packet. `syn` counts accepted TCP connections (each began with a SYN;
//! UDP rules count none, as in Azure).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Bytes per estimated TCP packet.
pub const ESTIMATED_MSS: u64 = 1448;

/// Estimated packets for `bytes` of TCP payload moved in one call.
pub fn tcp_packets(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(ESTIMATED_MSS).max(1)
}

/// Live counters of one frontend or one backend.
#[derive(Debug, Default)]
pub struct Counters {
    /// Client → backend.
    bytes_in: AtomicU64,
    /// Backend → client.
    bytes_out: AtomicU64,
    packets_in: AtomicU64,
    packets_out: AtomicU64,
    syn: AtomicU64,
    /// Flows open now.
    flows: AtomicU64,
}

impl Counters {
    #[inline]
    pub fn inbound(&self, bytes: usize, packets: u64) {
        self.bytes_in.fetch_add(bytes as u64, Relaxed);
        self.packets_in.fetch_add(packets, Relaxed);
    }

    #[inline]
    pub fn outbound(&self, bytes: usize, packets: u64) {
        self.bytes_out.fetch_add(bytes as u64, Relaxed);
        self.packets_out.fetch_add(packets, Relaxed);
    }

    pub fn new_flow(&self) {
        self.syn.fetch_add(1, Relaxed);
    }

    pub fn flow_opened(&self) {
        self.flows.fetch_add(1, Relaxed);
    }

    pub fn flow_closed(&self) {
        self.flows.fetch_sub(1, Relaxed);
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            packets_in: self.packets_in.load(Relaxed),
            packets_out: self.packets_out.load(Relaxed),
            syn: self.syn.load(Relaxed),
            flows: self.flows.load(Relaxed),
        }
    }
}

/// Counter values at one moment (totals since the frontend or backend appeared).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CounterSnapshot {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub packets_in: u64,
    pub packets_out: u64,
    pub syn: u64,
    /// A gauge: flows open at the moment of the snapshot.
    pub flows: u64,
}

impl CounterSnapshot {
    /// What happened between `earlier` and `self` (the flows gauge is taken from `self`).
    pub fn since(&self, earlier: &CounterSnapshot) -> CounterSnapshot {
        CounterSnapshot {
            bytes_in: self.bytes_in.saturating_sub(earlier.bytes_in),
            bytes_out: self.bytes_out.saturating_sub(earlier.bytes_out),
            packets_in: self.packets_in.saturating_sub(earlier.packets_in),
            packets_out: self.packets_out.saturating_sub(earlier.packets_out),
            syn: self.syn.saturating_sub(earlier.syn),
            flows: self.flows,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes_in + self.bytes_out
    }

    pub fn packets(&self) -> u64 {
        self.packets_in + self.packets_out
    }
}

/// Counters of one frontend rule and its backends, as returned by
/// [`super::Proxy::counters`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FrontendCounters {
    pub key: String,
    /// Unique per bind: a frontend bound again counts from zero under a new id, so a reader
    /// taking deltas tells a restart from a quiet minute.
    pub id: u64,
    pub totals: CounterSnapshot,
    pub backends: Vec<BackendCounters>,
}

/// Counters of one rule's flows to one backend.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BackendCounters {
    pub key: String,
    /// Unique per backend handle (a backend given a new handle counts from zero).
    pub id: u64,
    pub counters: CounterSnapshot,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_estimate() {
        assert_eq!(tcp_packets(1), 1);
        assert_eq!(tcp_packets(1448), 1);
        assert_eq!(tcp_packets(1449), 2);
        assert_eq!(tcp_packets(0), 1);
    }

    #[test]
    fn deltas_and_gauge() {
        let c = Counters::default();
        c.inbound(100, 1);
        let a = c.snapshot();
        c.outbound(50, 1);
        c.new_flow();
        c.flow_opened();
        let d = c.snapshot().since(&a);
        assert_eq!((d.bytes_in, d.bytes_out, d.syn, d.flows), (0, 50, 1, 1));
        assert_eq!(d.bytes(), 50);
    }
}
