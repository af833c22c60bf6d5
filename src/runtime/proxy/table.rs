//! The proxy's input: a [`RoutingTable`] of frontend rules, built by the control plane
//! from load-balancing rules, inbound NAT rules and NAT pools, and published as a whole.

use std::net::SocketAddr;
use std::time::Duration;

use crate::runtime::probe::ProbeKey;

/// Everything the proxy should listen on and where it may send each new flow.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoutingTable {
    pub frontends: Vec<FrontendRule>,
}

/// One listening frontend: a rule's frontend IP and port for one transport.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontendRule {
    /// Stable identity, e.g. `<lb id>/loadBalancingRules/<name>` (with `/udp` appended by
    /// the control plane for the second rule of protocol `All`).
    pub key: String,
    /// Frontend loopback IP and effective port (port 0 binds any free port; see
    /// [`super::Proxy::status`] for the port bound).
    pub bind: SocketAddr,
    pub protocol: Transport,
    pub backends: Vec<Backend>,
    pub distribution: Distribution,
    /// `idleTimeoutInMinutes`, as Azure time.
    pub idle_timeout: Duration,
    /// `enableTcpReset`: idle flows are reset (RST to both sides) rather than closed silently.
    pub tcp_reset: bool,
    /// The probe's `noHealthyBackendsBehavior`.
    pub no_healthy: NoHealthy,
}

/// One backend of a rule: an instance's ip configuration and the port the rule targets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Backend {
    /// Stable identity (the instance's ip configuration id). Flows are kept per key: when a
    /// key leaves the rule, its flows end.
    pub key: String,
    /// The instance's loopback address and the rule's effective backend port.
    pub addr: SocketAddr,
    /// The probe deciding this backend's health; `None` = always in rotation.
    pub probe: Option<ProbeKey>,
    /// Leaving the pool (its instance is being stopped, restarted or deleted): it takes no
    /// new flows, not even when every backend is down, but its existing flows go on until
    /// it leaves the rule.
    pub draining: bool,
    /// Injected faults on new flows (`/_armlet/faults`); the default is none.
    pub fault: BackendFault,
}

/// What an injected fault does to a backend's new flows (existing flows are untouched).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BackendFault {
    /// Real time a new flow waits before its backend connection is made.
    pub latency: Option<Duration>,
    /// New flows are reset instead of forwarded.
    pub drop_new: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    Udp,
}

/// `loadDistribution` of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Distribution {
    /// 5-tuple hash: source IP and port, destination IP and port, protocol.
    #[default]
    Default,
    /// 2-tuple: source IP, destination IP (`SourceIP`, "client IP").
    SourceIp,
    /// 3-tuple: source IP, destination IP, protocol (`SourceIPProtocol`).
    SourceIpProtocol,
}

/// `noHealthyBackendsBehavior` of the rule's probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NoHealthy {
    /// Azure's default: when every probed backend is down, no new flows are sent.
    #[default]
    AllProbedDown,
    /// When every probed backend is down, new flows go to all of them.
    AllProbedUp,
}

impl FrontendRule {
    /// Whether a change from `self` to `next` can keep the listening socket.
    pub fn same_listener(&self, next: &FrontendRule) -> bool {
        self.key == next.key && self.bind == next.bind && self.protocol == next.protocol
    }
}
