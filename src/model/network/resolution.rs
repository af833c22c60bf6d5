//! The one reading of a load balancer: which address each frontend has, which backends each
//! load-balancing rule sends to and which probe decides their health, and every inbound NAT
//! mapping (explicit single-port rules, rules over a backend pool with a port range, and
//! the rules generated from NAT pools). The API's renderings (generated NAT rules, port
//! mappings, rule health), and the runtime's plan (listeners, backends, probes) all read it.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::load_balancer::{Child, LoadBalancer, ProbeProperties, by_id, idle_timeout};
use super::nic::{IpConfigView, PublicIp};
use super::{LoadDistribution, NoHealthyBackends, ProbeProtocol, TransportProtocol, same_id};

/// One backend of a pool: a NIC ip configuration (of an instance, usually) or an IP-based
/// backend address.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub ip_configuration: Option<String>,
    pub ip_address: Option<String>,
    /// The lower-case id of the instance owning the ip configuration.
    pub instance: Option<String>,
}

impl Member {
    fn of(c: &IpConfigView) -> Self {
        Member {
            ip_configuration: Some(c.id.clone()),
            ip_address: c.private_ip.map(|a| a.to_string()),
            instance: c.instance.clone(),
        }
    }

    /// Whether this member is the ip configuration `id`.
    pub fn is_ip_configuration(&self, id: &str) -> bool {
        self.ip_configuration
            .as_deref()
            .is_some_and(|c| same_id(c, id))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Frontend {
    pub id: String,
    /// The loopback address the frontend listens on: its public IP's address (internal
    /// frontends are not in the data plane yet).
    pub address: Option<Ipv4Addr>,
}

/// The probe deciding a rule's backends, as the runtime runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeBinding {
    /// The probe's canonical id.
    pub id: String,
    pub protocol: ProbeProtocol,
    pub port: u16,
    pub request_path: Option<String>,
    pub interval: Duration,
    pub threshold: u32,
    pub no_healthy: NoHealthyBackends,
}

impl ProbeBinding {
    fn of(probe: &Child<ProbeProperties>) -> Self {
        let p = &probe.properties;
        ProbeBinding {
            id: probe.id.clone(),
            protocol: p.protocol,
            port: p.port,
            request_path: p.request_path.clone(),
            interval: p.interval(),
            threshold: p.threshold(),
            no_healthy: p.no_healthy(),
        }
    }
}

/// A load-balancing rule with everything it refers to looked up.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleBinding {
    pub id: String,
    pub frontend: Frontend,
    pub protocol: TransportProtocol,
    pub frontend_port: u16,
    pub backend_port: u16,
    /// Every backend of every pool the rule names, each once, in pool order.
    pub members: Vec<Member>,
    pub probe: Option<ProbeBinding>,
    pub distribution: LoadDistribution,
    pub idle_timeout: Duration,
    pub tcp_reset: bool,
}

/// Where an inbound NAT mapping comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum NatOrigin {
    /// A single-port NAT rule an ip configuration references.
    Rule,
    /// Member `index` of a NAT rule over backend pool `pool_id` (frontend port = range
    /// start + index).
    PoolRule { pool_id: String, index: u32 },
    /// Instance `index` of a NAT pool (`<pool>.<index>`, frontend port = range start + index).
    NatPool { pool_id: String, index: u32 },
}

/// One frontend port forwarded to one backend.
#[derive(Debug, Clone, PartialEq)]
pub struct NatBinding {
    /// The rule's id: the explicit rule's, or `<lb>/inboundNatRules/<pool>.<k>` for a NAT
    /// pool instance.
    pub id: String,
    pub name: String,
    pub frontend: Frontend,
    pub protocol: TransportProtocol,
    pub frontend_port: u16,
    pub backend_port: u16,
    pub member: Member,
    pub idle_timeout: Duration,
    pub tcp_reset: bool,
    pub origin: NatOrigin,
}

/// A load balancer resolved against the public IPs and NIC ip configurations it uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    pub lb_id: String,
    pub rules: Vec<RuleBinding>,
    pub nat: Vec<NatBinding>,
    /// Each pool's id and members.
    pub pools: Vec<(String, Vec<Member>)>,
}

impl Resolution {
    /// The members of pool `pool_id`, in a stable order: NIC ip configurations referencing
    /// it (in NIC creation order), then its IP-based addresses.
    pub fn pool(&self, pool_id: &str) -> Option<&[Member]> {
        self.pools
            .iter()
            .find(|(id, _)| same_id(id, pool_id))
            .map(|(_, m)| m.as_slice())
    }

    pub fn rule(&self, rule_id: &str) -> Option<&RuleBinding> {
        self.rules.iter().find(|r| same_id(&r.id, rule_id))
    }

    /// The NAT bindings generated from NAT pools, ordered by pool and index.
    pub fn nat_pool_instances(&self) -> impl Iterator<Item = &NatBinding> {
        self.nat
            .iter()
            .filter(|n| matches!(n.origin, NatOrigin::NatPool { .. }))
    }
}

/// Resolves `lb` against every public IP and NIC ip configuration (of any resource group).
pub fn resolve(lb: &LoadBalancer, public_ips: &[PublicIp], configs: &[IpConfigView]) -> Resolution {
    let p = &lb.properties;
    let frontend = |fe: Option<&super::SubResource>| -> Frontend {
        let id = fe.map(|f| f.id.clone()).unwrap_or_default();
        let address = by_id(&p.frontend_ip_configurations, &id)
            .and_then(|fe| fe.properties.public_ip_address.as_ref())
            .and_then(|pip| public_ips.iter().find(|ip| same_id(&ip.id, &pip.id)))
            .and_then(|ip| ip.properties.ip_address);
        Frontend { id, address }
    };
    let pools: Vec<(String, Vec<Member>)> = p
        .backend_address_pools
        .iter()
        .map(|pool| {
            let mut members: Vec<Member> = configs
                .iter()
                .filter(|c| c.in_pool(&pool.id))
                .map(Member::of)
                .collect();
            members.extend(
                pool.properties
                    .load_balancer_backend_addresses
                    .iter()
                    .filter_map(|a| a.properties.ip_address.clone())
                    .map(|ip| Member {
                        ip_configuration: None,
                        ip_address: Some(ip),
                        instance: None,
                    }),
            );
            (pool.id.clone(), members)
        })
        .collect();
    let members_of = |pool_id: &str| {
        pools
            .iter()
            .find(|(id, _)| same_id(id, pool_id))
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    };

    let rules = p
        .load_balancing_rules
        .iter()
        .map(|rule| {
            let r = &rule.properties;
            let mut members: Vec<Member> = Vec::new();
            for pool in r.pools() {
                for m in members_of(pool) {
                    if !members.contains(&m) {
                        members.push(m);
                    }
                }
            }
            RuleBinding {
                id: rule.id.clone(),
                frontend: frontend(r.frontend_ip_configuration.as_ref()),
                protocol: r.protocol,
                frontend_port: r.frontend_port,
                backend_port: r.backend_port(),
                members,
                probe: r
                    .probe
                    .as_ref()
                    .and_then(|probe| lb.probe(&probe.id))
                    .map(ProbeBinding::of),
                distribution: r.load_distribution.unwrap_or(LoadDistribution::Default),
                idle_timeout: idle_timeout(r.idle_timeout_in_minutes),
                tcp_reset: r.enable_tcp_reset == Some(true),
            }
        })
        .collect();

    let mut nat = Vec::new();
    // NAT rules over a backend pool: member k of the pool gets frontend port start + k.
    for rule in &p.inbound_nat_rules {
        let r = &rule.properties;
        let (Some(pool), Some(start), Some(end)) = (
            &r.backend_address_pool,
            r.frontend_port_range_start,
            r.frontend_port_range_end,
        ) else {
            continue;
        };
        for (k, member) in members_of(&pool.id).into_iter().enumerate() {
            let port = u32::from(start) + k as u32;
            if port > u32::from(end) {
                break;
            }
            nat.push(NatBinding {
                id: rule.id.clone(),
                name: rule.name.clone(),
                frontend: frontend(r.frontend_ip_configuration.as_ref()),
                protocol: r.protocol,
                frontend_port: port as u16,
                backend_port: r.backend_port.unwrap_or(0),
                member,
                idle_timeout: idle_timeout(r.idle_timeout_in_minutes),
                tcp_reset: r.enable_tcp_reset == Some(true),
                origin: NatOrigin::PoolRule {
                    pool_id: pool.id.clone(),
                    index: k as u32,
                },
            });
        }
    }
    // Single-port rules and NAT pool instances, taken by the ip configurations that name them.
    let mut pool_instances: Vec<(usize, u32, NatBinding)> = Vec::new();
    for c in configs {
        for reference in &c.nat_rules {
            if let Some(rule) = p
                .inbound_nat_rules
                .iter()
                .find(|r| same_id(&r.id, reference))
            {
                let r = &rule.properties;
                let Some(port) = r.frontend_port else {
                    continue;
                };
                if nat.iter().any(|n: &NatBinding| same_id(&n.id, &rule.id)) {
                    continue; // two ip configurations claiming one rule: the first wins
                }
                nat.push(NatBinding {
                    id: rule.id.clone(),
                    name: rule.name.clone(),
                    frontend: frontend(r.frontend_ip_configuration.as_ref()),
                    protocol: r.protocol,
                    frontend_port: port,
                    backend_port: r.backend_port.unwrap_or(port),
                    member: Member::of(c),
                    idle_timeout: idle_timeout(r.idle_timeout_in_minutes),
                    tcp_reset: r.enable_tcp_reset == Some(true),
                    origin: NatOrigin::Rule,
                });
                continue;
            }
            let Some((pool_index, pool, k)) = lb.pool_instance(reference) else {
                continue;
            };
            if pool_instances
                .iter()
                .any(|(i, j, _)| *i == pool_index && *j == k)
            {
                continue;
            }
            let pp = &pool.properties;
            let name = format!("{}.{k}", pool.name);
            pool_instances.push((
                pool_index,
                k,
                NatBinding {
                    id: format!("{}/inboundNatRules/{name}", lb.id),
                    name,
                    frontend: frontend(pp.frontend_ip_configuration.as_ref()),
                    protocol: pp.protocol,
                    frontend_port: (u32::from(pp.frontend_port_range_start) + k) as u16,
                    backend_port: pp.backend_port,
                    member: Member::of(c),
                    idle_timeout: idle_timeout(pp.idle_timeout_in_minutes),
                    tcp_reset: pp.enable_tcp_reset == Some(true),
                    origin: NatOrigin::NatPool {
                        pool_id: pool.id.clone(),
                        index: k,
                    },
                },
            ));
        }
    }
    pool_instances.sort_by_key(|(i, k, _)| (*i, *k));
    nat.extend(pool_instances.into_iter().map(|(_, _, n)| n));
    Resolution {
        lb_id: lb.id.clone(),
        rules,
        nat,
        pools,
    }
}

/// The smallest instance index of NAT pool `pool_name` that no ip configuration takes, or
/// `None` when every port of the pool's range is taken (or there is no such pool). A new
/// instance's ip configuration then references `<lb id>/inboundNatRules/<pool>.<k>`.
pub fn next_nat_pool_index(
    lb: &LoadBalancer,
    pool_name: &str,
    configs: &[IpConfigView],
) -> Option<u32> {
    let pool = lb.nat_pool_named(pool_name)?;
    let used: Vec<u32> = resolve(lb, &[], configs)
        .nat_pool_instances()
        .filter_map(|n| match &n.origin {
            NatOrigin::NatPool { pool_id, index } if same_id(pool_id, &pool.id) => Some(*index),
            _ => None,
        })
        .collect();
    (0..pool.properties.size()).find(|k| !used.contains(k))
}

#[cfg(test)]
#[path = "resolution_tests.rs"]
mod tests;
