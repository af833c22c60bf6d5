//! Load balancer health probes: what is probed ([`ProbeTarget`]), how ([`check`]), the
//! health state machine ([`state`]), where verdicts are published ([`table`]) and the
//! reconciler that runs one task per target ([`prober`]).
//!
//! The control plane turns each (probe, backend instance) pair of a load balancer into a
//! [`ProbeTarget`] and calls [`Prober::set_targets`] with the full set whenever it changes;
//! the proxy and the instance views read [`Prober::health`].

pub mod app_health;
pub mod check;
pub mod prober;
pub mod state;
pub mod table;

use std::net::SocketAddr;
use std::time::Duration;

pub use check::HealthCheck;
pub use prober::Prober;
pub use state::{Health, ProbeState, effective_threshold};
pub use table::{HealthBoard, HealthEntry, HealthTable, HealthView};

/// Identifies one probe of one backend: the probe's ARM id and the backend's id (the
/// instance's NIC ip configuration id, for instance).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProbeKey {
    pub probe: String,
    pub backend: String,
}

impl ProbeKey {
    pub fn new(probe: impl Into<String>, backend: impl Into<String>) -> Self {
        ProbeKey {
            probe: probe.into(),
            backend: backend.into(),
        }
    }
}

/// The probe resource's `protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeProtocol {
    Tcp,
    Http,
    Https,
}

/// One probe to run against one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    pub key: ProbeKey,
    pub protocol: ProbeProtocol,
    /// The backend's loopback address and the probe's effective port.
    pub addr: SocketAddr,
    /// `requestPath` for Http/Https (default `/`).
    pub request_path: Option<String>,
    /// `intervalInSeconds`, as Azure time.
    pub interval: Duration,
    /// See [`effective_threshold`] (the extension's `numberOfProbes`).
    pub threshold: u32,
    /// `Some` for the Application Health extension, which probes with its own rules
    /// ([`app_health`]) rather than the load balancer's.
    pub app_health: Option<app_health::AppHealthSettings>,
}

/// Why a probe attempt failed (its text becomes the entry's detail).
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("connection failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("status {0}")]
    Status(u16),
    #[error("malformed HTTP answer")]
    Malformed,
    #[error("TLS: {0}")]
    Tls(String),
}
