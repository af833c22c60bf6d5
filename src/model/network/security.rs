//! Network security groups as rules to evaluate: a rule's typed form, Azure's six default
//! rules, and the decision for one flow (rules in priority order, first match wins; inbound,
//! a subnet's group and then the NIC's group must both allow).
//!
//! Where armlet's flows come from: a client of a load balancer connects from a loopback
//! address, which counts as the `Internet` service tag (it is outside every virtual network)
//! and is matched as itself by address prefixes; health probes come from the
//! `AzureLoadBalancer` tag (168.63.129.16 in Azure).

use std::net::Ipv4Addr;

use serde::Deserialize;

use super::cidr::{Cidr, parse_cidr};

crate::arm_enum!(
    SecurityProtocol {
        Tcp = "Tcp",
        Udp = "Udp",
        Icmp = "Icmp",
        Esp = "Esp",
        Ah = "Ah",
        Any = "*",
    }
);

crate::arm_enum!(
    Access {
        Allow = "Allow",
        Deny = "Deny",
    }
);

crate::arm_enum!(
    Direction {
        Inbound = "Inbound",
        Outbound = "Outbound",
    }
);

/// The service tags armlet knows.
pub const SERVICE_TAGS: &[&str] = &["VirtualNetwork", "AzureLoadBalancer", "Internet"];

/// Who sends a flow.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A client outside every virtual network, at this address.
    Internet(Ipv4Addr),
    /// The load balancer's health probes.
    AzureLoadBalancer,
}

/// One flow to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub source: Source,
    pub source_port: u16,
    pub destination: Ipv4Addr,
    pub destination_port: u16,
    pub protocol: SecurityProtocol,
}

/// An address condition of a rule.
#[derive(Debug, Clone, PartialEq)]
pub enum AddressMatch {
    Any,
    Prefix(Cidr),
    Tag(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecurityRule {
    pub name: String,
    pub priority: u32,
    pub direction: Direction,
    pub access: Access,
    pub protocol: SecurityProtocol,
    pub sources: Vec<AddressMatch>,
    pub source_ports: Vec<(u16, u16)>,
    pub destinations: Vec<AddressMatch>,
    pub destination_ports: Vec<(u16, u16)>,
}

/// A rule's properties as stored (validated by the API).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    protocol: SecurityProtocol,
    access: Access,
    priority: u32,
    direction: Direction,
    #[serde(default)]
    source_address_prefix: Option<String>,
    #[serde(default)]
    source_address_prefixes: Vec<String>,
    #[serde(default)]
    destination_address_prefix: Option<String>,
    #[serde(default)]
    destination_address_prefixes: Vec<String>,
    #[serde(default)]
    source_port_range: Option<String>,
    #[serde(default)]
    source_port_ranges: Vec<String>,
    #[serde(default)]
    destination_port_range: Option<String>,
    #[serde(default)]
    destination_port_ranges: Vec<String>,
}

/// `*`, a service tag, an address or a CIDR prefix.
pub fn parse_address(s: &str) -> Result<AddressMatch, String> {
    let s = s.trim();
    if s == "*" {
        return Ok(AddressMatch::Any);
    }
    if let Some(tag) = SERVICE_TAGS.iter().find(|t| t.eq_ignore_ascii_case(s)) {
        return Ok(AddressMatch::Tag(tag.to_string()));
    }
    if let Ok(ip) = s.parse::<Ipv4Addr>() {
        return Ok(AddressMatch::Prefix(
            parse_cidr(&format!("{ip}/32")).expect("a /32"),
        ));
    }
    parse_cidr(s).map(AddressMatch::Prefix).map_err(|_| {
        format!(
            "'{s}' is not an address prefix, an IP address, '*' or a service tag ({})",
            SERVICE_TAGS.join(", ")
        )
    })
}

/// `*`, a port, or a range `low-high`.
pub fn parse_ports(s: &str) -> Result<(u16, u16), String> {
    let s = s.trim();
    if s == "*" {
        return Ok((0, 65535));
    }
    let bad = || format!("'{s}' is not a port, a port range 'low-high' or '*'");
    let (low, high) = match s.split_once('-') {
        Some((a, b)) => (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        ),
        None => {
            let p = s.parse().map_err(|_| bad())?;
            (p, p)
        }
    };
    if low > high {
        return Err(bad());
    }
    Ok((low, high))
}

fn one_or_many(one: Option<String>, many: Vec<String>) -> Vec<String> {
    match one {
        Some(s) if many.is_empty() => vec![s],
        _ => many,
    }
}

impl SecurityRule {
    /// A stored rule (`{"name", "properties": {...}}`).
    pub fn from_doc(doc: &serde_json::Value) -> Result<Self, String> {
        let s: Stored =
            serde_json::from_value(doc["properties"].clone()).map_err(|e| e.to_string())?;
        let addresses = |v: Vec<String>| {
            v.iter()
                .map(|a| parse_address(a))
                .collect::<Result<Vec<_>, _>>()
        };
        let ports = |v: Vec<String>| {
            v.iter()
                .map(|p| parse_ports(p))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(SecurityRule {
            name: doc["name"].as_str().unwrap_or_default().to_string(),
            priority: s.priority,
            direction: s.direction,
            access: s.access,
            protocol: s.protocol,
            sources: addresses(one_or_many(
                s.source_address_prefix,
                s.source_address_prefixes,
            ))?,
            source_ports: ports(one_or_many(s.source_port_range, s.source_port_ranges))?,
            destinations: addresses(one_or_many(
                s.destination_address_prefix,
                s.destination_address_prefixes,
            ))?,
            destination_ports: ports(one_or_many(
                s.destination_port_range,
                s.destination_port_ranges,
            ))?,
        })
    }

    fn matches(&self, flow: &Flow, vnet: &[Cidr]) -> bool {
        let protocol = self.protocol == SecurityProtocol::Any || self.protocol == flow.protocol;
        let in_ports =
            |ranges: &[(u16, u16)], p: u16| ranges.iter().any(|(l, h)| (*l..=*h).contains(&p));
        let source = self.sources.iter().any(|m| match (m, &flow.source) {
            (AddressMatch::Any, _) => true,
            (AddressMatch::Tag(t), Source::AzureLoadBalancer) => t == "AzureLoadBalancer",
            (AddressMatch::Tag(t), Source::Internet(_)) => t == "Internet",
            (AddressMatch::Prefix(c), Source::Internet(ip)) => c.contains_addr(*ip),
            (AddressMatch::Prefix(_), Source::AzureLoadBalancer) => false,
        });
        let destination = self.destinations.iter().any(|m| match m {
            AddressMatch::Any => true,
            AddressMatch::Tag(t) => {
                t == "VirtualNetwork" && vnet.iter().any(|c| c.contains_addr(flow.destination))
            }
            AddressMatch::Prefix(c) => c.contains_addr(flow.destination),
        });
        protocol
            && source
            && destination
            && in_ports(&self.source_ports, flow.source_port)
            && in_ports(&self.destination_ports, flow.destination_port)
    }
}

/// Azure's default rules (priorities 65000–65500), as `defaultSecurityRules` lists them.
pub fn default_rules() -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::json;
    let rule =
        |direction: &str, access: &str, priority: u32, src: &str, dst: &str, description: &str| {
            json!({"protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
            "sourceAddressPrefix": src, "destinationAddressPrefix": dst, "access": access,
            "priority": priority, "direction": direction, "description": description,
            "sourcePortRanges": [], "destinationPortRanges": [], "sourceAddressPrefixes": [],
            "destinationAddressPrefixes": []})
        };
    vec![
        (
            "AllowVnetInBound",
            rule(
                "Inbound",
                "Allow",
                65000,
                "VirtualNetwork",
                "VirtualNetwork",
                "Allow inbound traffic from all VMs in VNET",
            ),
        ),
        (
            "AllowAzureLoadBalancerInBound",
            rule(
                "Inbound",
                "Allow",
                65001,
                "AzureLoadBalancer",
                "*",
                "Allow inbound traffic from azure load balancer",
            ),
        ),
        (
            "DenyAllInBound",
            rule(
                "Inbound",
                "Deny",
                65500,
                "*",
                "*",
                "Deny all inbound traffic",
            ),
        ),
        (
            "AllowVnetOutBound",
            rule(
                "Outbound",
                "Allow",
                65000,
                "VirtualNetwork",
                "VirtualNetwork",
                "Allow outbound traffic from all VMs to all VMs in VNET",
            ),
        ),
        (
            "AllowInternetOutBound",
            rule(
                "Outbound",
                "Allow",
                65001,
                "*",
                "Internet",
                "Allow outbound traffic from all VMs to Internet",
            ),
        ),
        (
            "DenyAllOutBound",
            rule(
                "Outbound",
                "Deny",
                65500,
                "*",
                "*",
                "Deny all outbound traffic",
            ),
        ),
    ]
}

/// One network security group, ready to evaluate: its rules and the defaults, by priority.
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityGroup {
    pub id: String,
    rules: Vec<SecurityRule>,
}

impl SecurityGroup {
    /// From a stored group document (rules already validated).
    pub fn from_doc(doc: &serde_json::Value) -> Result<Self, String> {
        let mut rules = doc["properties"]["securityRules"]
            .as_array()
            .into_iter()
            .flatten()
            .map(SecurityRule::from_doc)
            .collect::<Result<Vec<_>, _>>()?;
        for (name, props) in default_rules() {
            rules.push(SecurityRule::from_doc(
                &serde_json::json!({"name": name, "properties": props}),
            )?);
        }
        rules.sort_by_key(|r| r.priority);
        Ok(SecurityGroup {
            id: doc["id"].as_str().unwrap_or_default().to_string(),
            rules,
        })
    }

    /// The rule that decides an inbound flow to a NIC in virtual network `vnet`.
    pub fn decide(&self, flow: &Flow, vnet: &[Cidr]) -> (Access, &str) {
        self.rules
            .iter()
            .filter(|r| r.direction == Direction::Inbound)
            .find(|r| r.matches(flow, vnet))
            .map(|r| (r.access, r.name.as_str()))
            .unwrap_or((Access::Deny, "DenyAllInBound"))
    }
}

/// Whether an inbound flow passes a subnet's group and then the NIC's group (Azure's order;
/// either may be absent). On a deny, the group and rule that denied it.
pub fn admits(
    groups: &[&SecurityGroup],
    flow: &Flow,
    vnet: &[Cidr],
) -> Result<(), (String, String)> {
    for g in groups {
        if let (Access::Deny, rule) = g.decide(flow, vnet) {
            return Err((g.id.clone(), rule.to_string()));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "security_tests.rs"]
mod tests;
