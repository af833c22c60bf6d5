//! Public IPs and NIC ip configurations as load balancers see them: which address a
//! frontend has, and which ip configurations (of which instance) are in which backend pool
//! or take which NAT rule.

use std::net::Ipv4Addr;

use serde::Deserialize;

use super::SubResource;

#[derive(Debug, Clone, Deserialize)]
pub struct PublicIp {
    pub id: String,
    #[serde(default)]
    pub properties: PublicIpProperties,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PublicIpProperties {
    pub ip_address: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Nic {
    pub id: String,
    #[serde(default)]
    pub properties: NicProperties,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NicProperties {
    /// The instance (or VM) the NIC belongs to.
    pub virtual_machine: Option<SubResource>,
    pub ip_configurations: Vec<NicIpConfiguration>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NicIpConfiguration {
    pub name: String,
    #[serde(default)]
    pub properties: IpConfigurationProperties,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IpConfigurationProperties {
    #[serde(rename = "privateIPAddress")]
    pub private_ip_address: Option<Ipv4Addr>,
    pub primary: Option<bool>,
    pub load_balancer_backend_address_pools: Vec<SubResource>,
    pub load_balancer_inbound_nat_rules: Vec<SubResource>,
    pub subnet: Option<SubResource>,
    #[serde(rename = "publicIPAddress")]
    pub public_ip_address: Option<SubResource>,
}

/// One ip configuration of one NIC, flattened for resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct IpConfigView {
    /// `<nic id>/ipConfigurations/<name>`.
    pub id: String,
    pub nic_id: String,
    /// The lower-case id of the instance owning the NIC, if any.
    pub instance: Option<String>,
    pub private_ip: Option<Ipv4Addr>,
    pub primary: bool,
    /// Backend pool ids it is a member of.
    pub pools: Vec<String>,
    /// Inbound NAT rule ids it takes (explicit rules, or `<pool>.<k>` of a NAT pool).
    pub nat_rules: Vec<String>,
    pub subnet: Option<String>,
    pub public_ip: Option<String>,
}

impl IpConfigView {
    pub fn in_pool(&self, pool_id: &str) -> bool {
        self.pools.iter().any(|p| super::same_id(p, pool_id))
    }

    pub fn takes_nat_rule(&self, rule_id: &str) -> bool {
        self.nat_rules.iter().any(|r| super::same_id(r, rule_id))
    }
}

impl Nic {
    pub fn from_doc(doc: &serde_json::Value) -> Result<Self, serde_json::Error> {
        Self::deserialize(doc)
    }

    /// The NIC's ip configurations, in document order.
    pub fn ip_configs(&self) -> impl Iterator<Item = IpConfigView> + '_ {
        let instance = self
            .properties
            .virtual_machine
            .as_ref()
            .map(|vm| vm.id.to_ascii_lowercase());
        self.properties
            .ip_configurations
            .iter()
            .enumerate()
            .map(move |(i, c)| IpConfigView {
                id: format!("{}/ipConfigurations/{}", self.id, c.name),
                nic_id: self.id.clone(),
                instance: instance.clone(),
                private_ip: c.properties.private_ip_address,
                primary: c.properties.primary.unwrap_or(i == 0),
                pools: ids(&c.properties.load_balancer_backend_address_pools),
                nat_rules: ids(&c.properties.load_balancer_inbound_nat_rules),
                subnet: c.properties.subnet.as_ref().map(|s| s.id.clone()),
                public_ip: c
                    .properties
                    .public_ip_address
                    .as_ref()
                    .map(|s| s.id.clone()),
            })
    }
}

fn ids(refs: &[SubResource]) -> Vec<String> {
    refs.iter().map(|r| r.id.clone()).collect()
}

/// Every ip configuration of NIC documents, in order; documents that are not NICs are
/// skipped with a warning (they were written by armlet, so this is a defect to see).
pub fn ip_configs_of<'a>(
    docs: impl IntoIterator<Item = &'a serde_json::Value>,
) -> Vec<IpConfigView> {
    docs.into_iter()
        .filter_map(|doc| match Nic::from_doc(doc) {
            Ok(nic) => Some(nic.ip_configs().collect::<Vec<_>>()),
            Err(e) => {
                tracing::warn!(nic = %doc["id"], error = %e, "unreadable NIC document");
                None
            }
        })
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ip_configs_carry_their_instance_and_memberships() {
        let doc = json!({"id": "/s/nic", "properties": {
        "virtualMachine": {"id": "/S/VM/0"},
        "ipConfigurations": [
            {"name": "a", "properties": {"privateIPAddress": "10.0.0.4",
                "loadBalancerBackendAddressPools": [{"id": "/lb/backendAddressPools/p"}]}},
            {"name": "b", "properties": {"primary": false}}
        ]}});
        let configs = ip_configs_of([&doc]);
        assert_eq!(configs.len(), 2);
        assert_eq!(configs[0].id, "/s/nic/ipConfigurations/a");
        assert_eq!(configs[0].instance.as_deref(), Some("/s/vm/0"));
        assert!(configs[0].primary && !configs[1].primary);
        assert!(configs[0].in_pool("/LB/backendaddresspools/P"));
        assert_eq!(configs[0].private_ip, Some(Ipv4Addr::new(10, 0, 0, 4)));
    }
}
