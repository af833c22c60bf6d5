//! Typed views of the Microsoft.Network documents armlet reads: load balancers with their
//! children ([`load_balancer`]), public IPs and NIC ip configurations ([`nic`]), and the one
//! resolution of a load balancer into frontends, rule bindings and NAT bindings
//! ([`resolution`]) that the API renderings, the conflict checks and the runtime plan share.
//!
//! The stored JSON documents stay the source of truth (ARM round-trips properties armlet
//! does not know); these views are read from them with `serde_json::from_value` and carry
//! only what armlet acts on.

pub mod cidr;
pub mod health_events;
pub mod limits;
pub mod load_balancer;
pub mod nic;
pub mod resolution;
pub mod security;

use serde::Deserialize;

pub use load_balancer::LoadBalancer;
pub use nic::{IpConfigView, Nic, PublicIp};
pub use resolution::Resolution;

pub const PUBLIC_IP_TYPE: &str = "Microsoft.Network/publicIPAddresses";
pub const VNET_TYPE: &str = "Microsoft.Network/virtualNetworks";
pub const NIC_TYPE: &str = "Microsoft.Network/networkInterfaces";
pub const LB_TYPE: &str = "Microsoft.Network/loadBalancers";

/// ARM's `SubResource`: a reference by id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct SubResource {
    pub id: String,
}

/// Whether two resource ids name the same thing (ARM ids compare case-insensitively).
pub fn same_id(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

crate::arm_enum!(
    /// A rule's `protocol`.
    TransportProtocol {
        Tcp = "Tcp",
        Udp = "Udp",
        All = "All",
    }
);

crate::arm_enum!(
    /// A probe's `protocol`.
    ProbeProtocol {
        Tcp = "Tcp",
        Http = "Http",
        Https = "Https",
    }
);

crate::arm_enum!(
    /// A load-balancing rule's `loadDistribution`.
    LoadDistribution {
        Default = "Default",
        SourceIp = "SourceIP",
        SourceIpProtocol = "SourceIPProtocol",
    }
);

crate::arm_enum!(
    /// A probe's `noHealthyBackendsBehavior`: where new flows go when every probed backend
    /// is down.
    NoHealthyBackends {
        /// Azure's default: nowhere.
        AllProbedDown = "AllProbedDown",
        /// To every probed backend, as if all were up.
        AllProbedUp = "AllProbedUp",
    }
);
