//! Inbound NAT as the API shows it, from the load balancer's
//! [`Resolution`](crate::model::network::Resolution): the NAT rules a load balancer lists
//! for its NAT pools, the port mappings of `queryInboundNatRulePortMapping`, and on writes,
//! dropping NAT pool rules a client echoes back from a GET.
//!
//! A scale-set instance's NIC ipConfiguration takes a port of a NAT pool by referencing the
//! rule instance `<lb id>/inboundNatRules/<poolName>.<k>` (the compute provider picks the
//! smallest unused `k`). Those rules are never stored: they are derived each time the load
//! balancer is read.

use serde_json::{Value, json};

use super::super::{errors, sub_resource};
use crate::arm::ArmResult;
use crate::model::network::load_balancer::parse_generated_rule_name;
use crate::model::network::resolution::{Member, NatBinding, NatOrigin, Resolution};
use crate::model::network::same_id;

pub const NAT_RULE_TYPE: &str = "Microsoft.Network/loadBalancers/inboundNatRules";

/// The rule shown for a NAT pool instance, bound to the ipConfiguration that takes it.
pub fn generated_rule(binding: &NatBinding, frontend: &Value, floating: &Value) -> Value {
    json!({
        "name": binding.name,
        "id": binding.id,
        "type": NAT_RULE_TYPE,
        "properties": {
            "frontendIPConfiguration": frontend,
            "protocol": binding.protocol.as_str(),
            "frontendPort": binding.frontend_port,
            "backendPort": binding.backend_port,
            "idleTimeoutInMinutes": binding.idle_timeout.as_secs() / 60,
            "enableFloatingIP": floating,
            "enableTcpReset": binding.tcp_reset,
            "backendIPConfiguration": binding.member.ip_configuration.as_deref().map(sub_resource),
            "provisioningState": "Succeeded",
        },
    })
}

/// Every NAT rule generated from `lb`'s NAT pools, ordered by pool and index.
pub fn generated_rules(lb: &Value, resolution: &Resolution) -> Vec<Value> {
    resolution
        .nat_pool_instances()
        .map(|n| {
            let NatOrigin::NatPool { pool_id, .. } = &n.origin else {
                unreachable!("nat_pool_instances yields NAT pool instances only")
            };
            let pool = lb["properties"]["inboundNatPools"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["id"].as_str().is_some_and(|id| same_id(id, pool_id)));
            let p = pool.map(|p| &p["properties"]);
            generated_rule(
                n,
                &p.map(|p| p["frontendIPConfiguration"].clone())
                    .unwrap_or(Value::Null),
                &p.map(|p| p["enableFloatingIP"].clone())
                    .unwrap_or(Value::Null),
            )
        })
        .collect()
}

/// Whether an inbound NAT rule a client sent is a NAT pool instance it read back from a GET
/// (shown with its `backendIPConfiguration`): it is dropped, those rules are derived, not
/// stored. Any other rule named like an instance of an existing NAT pool is refused.
pub fn is_echoed_pool_rule(rule: &Value, pools: &[Value]) -> ArmResult<bool> {
    let Some((pool_name, k)) = rule["name"].as_str().and_then(parse_generated_rule_name) else {
        return Ok(false);
    };
    let Some(pool) = pools.iter().find(|p| {
        p["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(pool_name))
    }) else {
        return Ok(false);
    };
    let (r, p) = (&rule["properties"], &pool["properties"]);
    let port = p["frontendPortRangeStart"].as_i64().map(|s| s + k as i64);
    let echo = r["backendIPConfiguration"]["id"].is_string()
        && r["frontendPort"].as_i64() == port
        && r["backendPort"] == p["backendPort"]
        && r["protocol"].as_str().map(str::to_ascii_lowercase)
            == p["protocol"].as_str().map(str::to_ascii_lowercase);
    if echo {
        Ok(true)
    } else {
        Err(errors::invalid_format(format!(
            "Inbound NAT rule name {} is reserved for instance {k} of inbound NAT pool {pool_name}.",
            rule["name"].as_str().unwrap_or_default()
        )))
    }
}

/// What `queryInboundNatRulePortMapping` is asked about.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    IpConfiguration(&'a str),
    IpAddress(&'a str),
}

impl Target<'_> {
    fn is(&self, m: &Member) -> bool {
        match self {
            Target::IpConfiguration(id) => m.is_ip_configuration(id),
            Target::IpAddress(ip) => m.ip_address.as_deref() == Some(*ip),
        }
    }
}

/// The inbound NAT port mappings of one backend of pool `pool_id`: the port each NAT rule
/// over the pool gives it, and, for an ipConfiguration, the NAT rules and NAT pool
/// instances it takes. `None` when the target is not a backend of the pool.
pub fn port_mappings(
    resolution: &Resolution,
    pool_id: &str,
    target: Target<'_>,
) -> Option<Vec<Value>> {
    let members = resolution.pool(pool_id)?;
    let member = members.iter().find(|m| target.is(m))?;
    let over_pool = |n: &NatBinding| match &n.origin {
        NatOrigin::PoolRule { pool_id: p, .. } => same_id(p, pool_id),
        NatOrigin::Rule | NatOrigin::NatPool { .. } => member.ip_configuration.is_some(),
    };
    Some(
        resolution
            .nat
            .iter()
            .filter(|n| target.is(&n.member) && over_pool(n))
            .map(|n| {
                json!({
                    "inboundNatRuleName": n.name,
                    "protocol": n.protocol.as_str(),
                    "frontendPort": n.frontend_port,
                    "backendPort": n.backend_port,
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::network::nic::ip_configs_of;
    use crate::model::network::{LoadBalancer, resolution};

    const LB: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb";

    fn lb() -> Value {
        json!({
            "id": LB,
            "properties": {
                "backendAddressPools": [{"name": "pool", "id": format!("{LB}/backendAddressPools/pool"),
                    "properties": {"loadBalancerBackendAddresses": [{"name": "a", "properties": {"ipAddress": "10.0.0.9"}}]}}],
                "inboundNatPools": [{"name": "ssh", "id": format!("{LB}/inboundNatPools/ssh"), "properties": {
                    "frontendIPConfiguration": {"id": format!("{LB}/frontendIPConfigurations/fe")},
                    "protocol": "Tcp", "frontendPortRangeStart": 50000, "frontendPortRangeEnd": 50099,
                    "backendPort": 22, "idleTimeoutInMinutes": 4, "enableFloatingIP": false, "enableTcpReset": false}}],
                "inboundNatRules": [{"name": "v2", "id": format!("{LB}/inboundNatRules/v2"), "properties": {
                    "protocol": "Tcp", "frontendPortRangeStart": 6000, "frontendPortRangeEnd": 6001, "backendPort": 3389,
                    "backendAddressPool": {"id": format!("{LB}/backendAddressPools/pool")}}}],
            }
        })
    }

    fn nic(name: &str, k: u32, ip: &str) -> Value {
        json!({"id": format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/{name}"),
        "properties": {"ipConfigurations": [{"name": "ipc", "properties": {
            "privateIPAddress": ip,
            "loadBalancerBackendAddressPools": [{"id": format!("{LB}/backendAddressPools/pool")}],
            "loadBalancerInboundNatRules": [{"id": format!("{}/inboundnatrules/ssh.{k}", LB.to_lowercase())}],
        }}]}})
    }

    fn resolved(nics: &[Value]) -> Resolution {
        resolution::resolve(
            &LoadBalancer::from_doc(&lb()).unwrap(),
            &[],
            &ip_configs_of(nics),
        )
    }

    #[test]
    fn nat_pool_references_become_rules_with_offset_ports() {
        let nics = [
            nic("nic1", 1, "10.0.0.5"),
            nic("nic0", 0, "10.0.0.4"),
            nic("nic9", 100, "10.0.0.6"),
        ];
        let rules = generated_rules(&lb(), &resolved(&nics));
        assert_eq!(rules.len(), 2, "k=100 is outside a 100-port range");
        assert_eq!(rules[0]["name"], "ssh.0");
        assert_eq!(rules[0]["properties"]["frontendPort"], 50000);
        assert_eq!(rules[1]["properties"]["frontendPort"], 50001);
        assert_eq!(rules[1]["properties"]["backendPort"], 22);
        assert_eq!(rules[1]["properties"]["idleTimeoutInMinutes"], 4);
        assert!(
            rules[1]["properties"]["backendIPConfiguration"]["id"]
                .as_str()
                .unwrap()
                .ends_with("networkInterfaces/nic1/ipConfigurations/ipc")
        );
        assert_eq!(rules[1]["id"], format!("{LB}/inboundNatRules/ssh.1"));
    }

    #[test]
    fn echoed_pool_rules_are_dropped_and_look_alikes_refused() {
        let pools = lb()["properties"]["inboundNatPools"]
            .as_array()
            .unwrap()
            .clone();
        let echo = generated_rules(&lb(), &resolved(&[nic("nic0", 0, "10.0.0.4")])).remove(0);
        assert!(is_echoed_pool_rule(&echo, &pools).unwrap());
        let mut look_alike = echo.clone();
        look_alike["properties"]
            .as_object_mut()
            .unwrap()
            .remove("backendIPConfiguration");
        assert_eq!(
            is_echoed_pool_rule(&look_alike, &pools).unwrap_err().code,
            "InvalidRequestFormat"
        );
        let other = json!({"name": "rdp.0", "properties": {}});
        assert!(!is_echoed_pool_rule(&other, &pools).unwrap());
    }

    #[test]
    fn port_mappings_by_ip_configuration_and_address() {
        let nics = [nic("nic0", 0, "10.0.0.4"), nic("nic1", 1, "10.0.0.5")];
        let r = resolved(&nics);
        let pool = format!("{LB}/backendAddressPools/pool");
        let nic1 = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/nic1/ipConfigurations/ipc";
        let m = port_mappings(&r, &pool, Target::IpConfiguration(nic1)).unwrap();
        assert_eq!(
            m[0],
            json!({"inboundNatRuleName": "v2", "protocol": "Tcp", "frontendPort": 6001, "backendPort": 3389})
        );
        assert_eq!(m[1]["inboundNatRuleName"], "ssh.1");
        assert_eq!(m[1]["frontendPort"], 50001);
        // The IP-based address is third in the pool: outside the 2-port v2 range.
        let m = port_mappings(&r, &pool, Target::IpAddress("10.0.0.9")).unwrap();
        assert!(m.is_empty());
        assert!(port_mappings(&r, &pool, Target::IpAddress("10.9.9.9")).is_none());
    }
}
