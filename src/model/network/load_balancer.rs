//! A load balancer and its child collections as armlet reads them (stored documents have
//! been validated and their references resolved to canonical ids by the API).

use std::net::Ipv4Addr;
use std::time::Duration;

use serde::Deserialize;

use super::{LoadDistribution, NoHealthyBackends, ProbeProtocol, SubResource, TransportProtocol};

/// Azure's default idle timeout of rules and NAT rules.
pub const DEFAULT_IDLE_MINUTES: u32 = 4;
/// Azure's default probe interval.
pub const DEFAULT_PROBE_INTERVAL: u32 = 15;

#[derive(Debug, Clone, Deserialize)]
pub struct LoadBalancer {
    pub id: String,
    #[serde(default)]
    pub properties: LoadBalancerProperties,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LoadBalancerProperties {
    #[serde(rename = "frontendIPConfigurations")]
    pub frontend_ip_configurations: Vec<Child<FrontendProperties>>,
    pub backend_address_pools: Vec<Child<PoolProperties>>,
    pub probes: Vec<Child<ProbeProperties>>,
    pub load_balancing_rules: Vec<Child<RuleProperties>>,
    pub inbound_nat_rules: Vec<Child<NatRuleProperties>>,
    pub inbound_nat_pools: Vec<Child<NatPoolProperties>>,
}

/// One element of a child collection.
#[derive(Debug, Clone, Deserialize)]
pub struct Child<P> {
    pub id: String,
    pub name: String,
    pub properties: P,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FrontendProperties {
    #[serde(rename = "publicIPAddress")]
    pub public_ip_address: Option<SubResource>,
    pub subnet: Option<SubResource>,
    #[serde(rename = "privateIPAddress")]
    pub private_ip_address: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PoolProperties {
    pub load_balancer_backend_addresses: Vec<BackendAddress>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BackendAddress {
    pub name: String,
    pub properties: BackendAddressProperties,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackendAddressProperties {
    pub ip_address: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeProperties {
    pub protocol: ProbeProtocol,
    pub port: u16,
    #[serde(default)]
    pub request_path: Option<String>,
    #[serde(default)]
    pub interval_in_seconds: Option<u32>,
    #[serde(default)]
    pub number_of_probes: Option<u32>,
    #[serde(default)]
    pub probe_threshold: Option<u32>,
    #[serde(default)]
    pub no_healthy_backends_behavior: Option<NoHealthyBackends>,
}

impl ProbeProperties {
    /// Consecutive results that flip a backend: `probeThreshold`, else `numberOfProbes`
    /// (Azure today treats it like `probeThreshold`, and `az ... probe create --threshold`
    /// sets it), else 1; never below 1.
    pub fn threshold(&self) -> u32 {
        self.probe_threshold
            .or(self.number_of_probes)
            .unwrap_or(1)
            .max(1)
    }

    pub fn interval(&self) -> Duration {
        Duration::from_secs(
            self.interval_in_seconds
                .unwrap_or(DEFAULT_PROBE_INTERVAL)
                .max(1)
                .into(),
        )
    }

    pub fn no_healthy(&self) -> NoHealthyBackends {
        self.no_healthy_backends_behavior
            .unwrap_or(NoHealthyBackends::AllProbedDown)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleProperties {
    #[serde(rename = "frontendIPConfiguration")]
    pub frontend_ip_configuration: Option<SubResource>,
    #[serde(default)]
    pub backend_address_pool: Option<SubResource>,
    #[serde(default)]
    pub backend_address_pools: Vec<SubResource>,
    #[serde(default)]
    pub probe: Option<SubResource>,
    pub protocol: TransportProtocol,
    pub frontend_port: u16,
    #[serde(default)]
    pub backend_port: Option<u16>,
    #[serde(default)]
    pub idle_timeout_in_minutes: Option<u32>,
    #[serde(default)]
    pub enable_tcp_reset: Option<bool>,
    #[serde(default, rename = "enableFloatingIP")]
    pub enable_floating_ip: Option<bool>,
    #[serde(default)]
    pub load_distribution: Option<LoadDistribution>,
}

impl RuleProperties {
    /// The pools the rule sends to: `backendAddressPools`, else `backendAddressPool`.
    pub fn pools(&self) -> Vec<&str> {
        if self.backend_address_pools.is_empty() {
            self.backend_address_pool
                .iter()
                .map(|p| p.id.as_str())
                .collect()
        } else {
            self.backend_address_pools
                .iter()
                .map(|p| p.id.as_str())
                .collect()
        }
    }

    /// `backendPort` defaults to the frontend port.
    pub fn backend_port(&self) -> u16 {
        self.backend_port.unwrap_or(self.frontend_port)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NatRuleProperties {
    #[serde(rename = "frontendIPConfiguration")]
    pub frontend_ip_configuration: Option<SubResource>,
    pub protocol: TransportProtocol,
    #[serde(default)]
    pub frontend_port: Option<u16>,
    #[serde(default)]
    pub backend_port: Option<u16>,
    /// With `backendAddressPool`: a port range over a pool (member k gets `start + k`).
    #[serde(default)]
    pub frontend_port_range_start: Option<u16>,
    #[serde(default)]
    pub frontend_port_range_end: Option<u16>,
    #[serde(default)]
    pub backend_address_pool: Option<SubResource>,
    #[serde(default)]
    pub idle_timeout_in_minutes: Option<u32>,
    #[serde(default)]
    pub enable_tcp_reset: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NatPoolProperties {
    #[serde(rename = "frontendIPConfiguration")]
    pub frontend_ip_configuration: Option<SubResource>,
    pub protocol: TransportProtocol,
    pub frontend_port_range_start: u16,
    pub frontend_port_range_end: u16,
    pub backend_port: u16,
    #[serde(default)]
    pub idle_timeout_in_minutes: Option<u32>,
    #[serde(default)]
    pub enable_tcp_reset: Option<bool>,
}

impl NatPoolProperties {
    /// How many instances the range has ports for.
    pub fn size(&self) -> u32 {
        (u32::from(self.frontend_port_range_end) + 1)
            .saturating_sub(self.frontend_port_range_start.into())
    }
}

/// `idleTimeoutInMinutes` as a duration (Azure time), with Azure's default.
pub fn idle_timeout(minutes: Option<u32>) -> Duration {
    Duration::from_secs(u64::from(minutes.unwrap_or(DEFAULT_IDLE_MINUTES)) * 60)
}

/// `web.3` → `("web", 3)`: the pool and index of a NAT rule generated from a NAT pool.
pub fn parse_generated_rule_name(name: &str) -> Option<(&str, u32)> {
    let (pool, k) = name.rsplit_once('.')?;
    if pool.is_empty() || k.is_empty() || !k.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((pool, k.parse().ok()?))
}

impl LoadBalancer {
    pub fn from_doc(doc: &serde_json::Value) -> Result<Self, serde_json::Error> {
        Self::deserialize(doc)
    }

    pub fn probe(&self, id: &str) -> Option<&Child<ProbeProperties>> {
        by_id(&self.properties.probes, id)
    }

    pub fn nat_pool_named(&self, name: &str) -> Option<&Child<NatPoolProperties>> {
        self.properties
            .inbound_nat_pools
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    pub fn nat_rule_named(&self, name: &str) -> Option<&Child<NatRuleProperties>> {
        self.properties
            .inbound_nat_rules
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The NAT pool instance a NAT rule reference names, if it is one of this load
    /// balancer's: `(pool index, pool, k)` for `<lb>/inboundNatRules/<pool>.<k>` with `k`
    /// inside the pool's range. An explicit NAT rule of that name wins.
    pub fn pool_instance(&self, rule_ref: &str) -> Option<(usize, &Child<NatPoolProperties>, u32)> {
        let prefix = format!("{}/inboundnatrules/", self.id.to_ascii_lowercase());
        let lower = rule_ref.trim_end_matches('/').to_ascii_lowercase();
        let name = lower.strip_prefix(&prefix).filter(|n| !n.contains('/'))?;
        if self.nat_rule_named(name).is_some() {
            return None;
        }
        let (pool_name, k) = parse_generated_rule_name(name)?;
        let (index, pool) = self
            .properties
            .inbound_nat_pools
            .iter()
            .enumerate()
            .find(|(_, p)| p.name.eq_ignore_ascii_case(pool_name))?;
        (k < pool.properties.size()).then_some((index, pool, k))
    }
}

/// The child with id `id` (compared case-insensitively).
pub fn by_id<'a, P>(children: &'a [Child<P>], id: &str) -> Option<&'a Child<P>> {
    children.iter().find(|c| super::same_id(&c.id, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn probe_threshold_prefers_probe_threshold_then_number_of_probes() {
        let p = |v| serde_json::from_value::<ProbeProperties>(v).unwrap();
        assert_eq!(p(json!({"protocol": "Tcp", "port": 80})).threshold(), 1);
        let both =
            json!({"protocol": "http", "port": 80, "numberOfProbes": 2, "probeThreshold": 3});
        assert_eq!(p(both).threshold(), 3);
        let old = json!({"protocol": "Http", "port": 80, "numberOfProbes": 2});
        assert_eq!(p(old).threshold(), 2);
        assert_eq!(
            p(json!({"protocol": "Tcp", "port": 80, "probeThreshold": 0})).threshold(),
            1
        );
    }

    #[test]
    fn generated_rule_names_parse() {
        assert_eq!(parse_generated_rule_name("ssh.0"), Some(("ssh", 0)));
        assert_eq!(
            parse_generated_rule_name("my.pool.12"),
            Some(("my.pool", 12))
        );
        for bad in ["ssh", "ssh.", ".1", "ssh.x"] {
            assert_eq!(parse_generated_rule_name(bad), None, "{bad}");
        }
    }
}
