//! Inbound NAT: the NAT rules a load balancer shows for its NAT pools, and the port mappings
//! of `queryInboundNatRulePortMapping`.
//!
//! A scale-set instance's NIC ipConfiguration takes a port of a NAT pool by referencing the
//! rule instance `<lb id>/inboundNatRules/<poolName>.<k>` (the compute provider picks the
//! smallest unused `k`). For every such reference the load balancer shows a rule named
//! `<poolName>.<k>` with the pool's frontend, protocol and backend port and frontend port
//! `frontendPortRangeStart + k`. These rules are never stored: they are derived from the NIC
//! rows each time the load balancer is read.

use serde_json::{Value, json};

use super::super::{IpConfig, LB_TYPE, errors, parse_child_ref, same_id, sub_resource};
use super::children::rule_pools;
use crate::arm::ArmResult;

pub const NAT_RULE_TYPE: &str = "Microsoft.Network/loadBalancers/inboundNatRules";

/// `web.3` → `("web", 3)`: the pool and index of a NAT rule generated from a NAT pool.
pub fn parse_generated_rule_name(name: &str) -> Option<(&str, u32)> {
    let (pool, k) = name.rsplit_once('.')?;
    if pool.is_empty() || k.is_empty() || !k.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((pool, k.parse().ok()?))
}

fn children<'a>(lb: &'a Value, property: &str) -> &'a [Value] {
    lb["properties"][property]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn named<'a>(lb: &'a Value, property: &str, name: &str) -> Option<&'a Value> {
    children(lb, property).iter().find(|c| {
        c["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

/// The NAT pool instance a NAT rule reference names, if it is one of `lb`'s:
/// `(pool index, pool, k)`. Explicit NAT rules of the same name win.
pub fn pool_instance<'a>(lb: &'a Value, rule_ref: &str) -> Option<(usize, &'a Value, u32)> {
    let lb_id = lb["id"].as_str()?;
    let (root, name) = parse_child_ref(rule_ref, LB_TYPE, "inboundNatRules")?;
    if !same_id(&root.to_string(), lb_id) || named(lb, "inboundNatRules", &name).is_some() {
        return None;
    }
    let (pool_name, k) = parse_generated_rule_name(&name)?;
    let (index, pool) = children(lb, "inboundNatPools")
        .iter()
        .enumerate()
        .find(|(_, p)| {
            p["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(pool_name))
        })?;
    let p = &pool["properties"];
    let size = p["frontendPortRangeEnd"].as_i64()? - p["frontendPortRangeStart"].as_i64()? + 1;
    ((k as i64) < size).then_some((index, pool, k))
}

/// The rule shown for instance `k` of NAT pool `pool`, bound to ipConfiguration `ip_config`.
pub fn generated_rule(lb_id: &str, pool: &Value, k: u32, ip_config: &str) -> Value {
    let p = &pool["properties"];
    let name = format!("{}.{k}", pool["name"].as_str().unwrap_or_default());
    json!({
        "name": name,
        "id": format!("{lb_id}/inboundNatRules/{name}"),
        "type": NAT_RULE_TYPE,
        "properties": {
            "frontendIPConfiguration": p["frontendIPConfiguration"].clone(),
            "protocol": p["protocol"].clone(),
            "frontendPort": p["frontendPortRangeStart"].as_i64().unwrap_or(0) + k as i64,
            "backendPort": p["backendPort"].clone(),
            "idleTimeoutInMinutes": p["idleTimeoutInMinutes"].clone(),
            "enableFloatingIP": p["enableFloatingIP"].clone(),
            "enableTcpReset": p["enableTcpReset"].clone(),
            "backendIPConfiguration": sub_resource(ip_config),
            "provisioningState": "Succeeded",
        },
    })
}

/// Every NAT rule generated from `lb`'s NAT pools by the ipConfigurations that reference one,
/// ordered by pool and index. Two ipConfigurations claiming one instance show it once.
pub fn generated_rules(lb: &Value, ip_configs: &[IpConfig]) -> Vec<Value> {
    let lb_id = lb["id"].as_str().unwrap_or_default();
    let mut found: Vec<(usize, u32, Value)> = Vec::new();
    for c in ip_configs {
        for r in c.properties()["loadBalancerInboundNatRules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["id"].as_str())
        {
            if let Some((index, pool, k)) = pool_instance(lb, r)
                && !found.iter().any(|(i, j, _)| *i == index && *j == k)
            {
                found.push((index, k, generated_rule(lb_id, pool, k, &c.id)));
            }
        }
    }
    found.sort_by_key(|(i, k, _)| (*i, *k));
    found.into_iter().map(|(_, _, r)| r).collect()
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

/// The smallest instance index `k` of NAT pool `pool_name` of load balancer `lb` that no NIC
/// ipConfiguration references, or `None` when every port of the pool's range is taken. The
/// compute provider gives a new instance's ipConfiguration the reference
/// `<lb id>/inboundNatRules/<pool>.<k>`.
pub fn next_pool_index(lb: &Value, pool_name: &str, ip_configs: &[IpConfig]) -> Option<u32> {
    let pool = named(lb, "inboundNatPools", pool_name)?;
    let p = &pool["properties"];
    let size = p["frontendPortRangeEnd"].as_i64()? - p["frontendPortRangeStart"].as_i64()? + 1;
    let used: Vec<u32> = ip_configs
        .iter()
        .flat_map(|c| {
            c.properties()["loadBalancerInboundNatRules"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["id"].as_str())
                .filter_map(|r| pool_instance(lb, r))
                .filter(|(_, found, _)| found["name"] == pool["name"])
                .map(|(_, _, k)| k)
                .collect::<Vec<_>>()
        })
        .collect();
    (0..size.max(0) as u32).find(|k| !used.contains(k))
}

/// One backend of a pool: a NIC ipConfiguration or an IP-based backend address.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    pub ip_configuration: Option<String>,
    pub ip_address: Option<String>,
}

/// The backends of pool `pool_id`, in a stable order: NIC ipConfigurations referencing it (in
/// NIC creation order), then its IP-based `loadBalancerBackendAddresses`.
pub fn pool_backends(lb: &Value, pool_id: &str, ip_configs: &[IpConfig]) -> Vec<Backend> {
    let mut out: Vec<Backend> = ip_configs
        .iter()
        .filter(|c| c.references("loadBalancerBackendAddressPools", pool_id))
        .map(|c| Backend {
            ip_configuration: Some(c.id.clone()),
            ip_address: c.private_ip().map(str::to_string),
        })
        .collect();
    if let Some(pool) = children(lb, "backendAddressPools")
        .iter()
        .find(|p| p["id"].as_str().is_some_and(|id| same_id(id, pool_id)))
    {
        out.extend(
            pool["properties"]["loadBalancerBackendAddresses"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a["properties"]["ipAddress"].as_str())
                .map(|ip| Backend {
                    ip_configuration: None,
                    ip_address: Some(ip.to_string()),
                }),
        );
    }
    out
}

/// What `queryInboundNatRulePortMapping` is asked about.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    IpConfiguration(&'a str),
    IpAddress(&'a str),
}

fn mapping(name: &str, props: &Value, frontend_port: i64) -> Value {
    json!({
        "inboundNatRuleName": name,
        "protocol": props["protocol"].clone(),
        "frontendPort": frontend_port,
        "backendPort": props["backendPort"].clone(),
    })
}

/// The inbound NAT port mappings of one backend of pool `pool_id`: the port each
/// backend-pool NAT rule (`frontendPortRangeStart` + the backend's index in the pool) gives it,
/// and, for an ipConfiguration, the NAT rules and NAT pool instances it references. `None`
/// when the target is not a backend of the pool.
pub fn port_mappings(
    lb: &Value,
    pool_id: &str,
    target: Target<'_>,
    ip_configs: &[IpConfig],
) -> Option<Vec<Value>> {
    let backends = pool_backends(lb, pool_id, ip_configs);
    let index = backends.iter().position(|b| match target {
        Target::IpConfiguration(id) => b
            .ip_configuration
            .as_deref()
            .is_some_and(|c| same_id(c, id)),
        Target::IpAddress(ip) => b.ip_address.as_deref() == Some(ip),
    })?;
    let backend = &backends[index];
    let mut out = Vec::new();
    for rule in children(lb, "inboundNatRules") {
        let p = &rule["properties"];
        let in_pool = p["backendAddressPool"]["id"]
            .as_str()
            .is_some_and(|id| same_id(id, pool_id));
        if !in_pool {
            continue;
        }
        let (Some(start), Some(end)) = (
            p["frontendPortRangeStart"].as_i64(),
            p["frontendPortRangeEnd"].as_i64(),
        ) else {
            continue;
        };
        if start + index as i64 <= end {
            out.push(mapping(
                rule["name"].as_str().unwrap_or_default(),
                p,
                start + index as i64,
            ));
        }
    }
    if let Some(config_id) = &backend.ip_configuration
        && let Some(config) = ip_configs.iter().find(|c| same_id(&c.id, config_id))
    {
        for r in config.properties()["loadBalancerInboundNatRules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["id"].as_str())
        {
            if let Some((_, pool, k)) = pool_instance(lb, r) {
                let g = generated_rule(lb["id"].as_str().unwrap_or_default(), pool, k, config_id);
                let port = g["properties"]["frontendPort"].as_i64().unwrap_or_default();
                out.push(mapping(
                    g["name"].as_str().unwrap_or_default(),
                    &g["properties"],
                    port,
                ));
            } else if let Some(rule) = children(lb, "inboundNatRules")
                .iter()
                .find(|n| n["id"].as_str().is_some_and(|id| same_id(id, r)))
                && let Some(port) = rule["properties"]["frontendPort"].as_i64()
            {
                out.push(mapping(
                    rule["name"].as_str().unwrap_or_default(),
                    &rule["properties"],
                    port,
                ));
            }
        }
    }
    Some(out)
}

/// The backends a load-balancing rule sends to (every backend of every pool it names).
pub fn rule_backends(lb: &Value, rule: &Value, ip_configs: &[IpConfig]) -> Vec<Backend> {
    let mut out: Vec<Backend> = Vec::new();
    for pool in rule_pools(rule) {
        for b in pool_backends(lb, &pool, ip_configs) {
            if !out.contains(&b) {
                out.push(b);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn config(nic: &str, k: u32, ip: &str) -> IpConfig {
        IpConfig {
            id: format!(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/{nic}/ipConfigurations/ipc"
            ),
            nic_id: nic.into(),
            body: json!({"name": "ipc", "properties": {
                "privateIPAddress": ip,
                "loadBalancerBackendAddressPools": [{"id": format!("{LB}/backendAddressPools/pool")}],
                "loadBalancerInboundNatRules": [{"id": format!("{}/inboundnatrules/ssh.{k}", LB.to_lowercase())}],
            }}),
        }
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

    #[test]
    fn nat_pool_references_become_rules_with_offset_ports() {
        let configs = vec![
            config("nic1", 1, "10.0.0.5"),
            config("nic0", 0, "10.0.0.4"),
            config("nic9", 100, "10.0.0.6"),
        ];
        let rules = generated_rules(&lb(), &configs);
        assert_eq!(rules.len(), 2, "k=100 is outside a 100-port range");
        assert_eq!(rules[0]["name"], "ssh.0");
        assert_eq!(rules[0]["properties"]["frontendPort"], 50000);
        assert_eq!(rules[1]["properties"]["frontendPort"], 50001);
        assert_eq!(rules[1]["properties"]["backendPort"], 22);
        assert_eq!(
            rules[1]["properties"]["backendIPConfiguration"]["id"],
            configs[0].id
        );
        assert_eq!(rules[1]["id"], format!("{LB}/inboundNatRules/ssh.1"));
    }

    #[test]
    fn echoed_pool_rules_are_dropped_and_look_alikes_refused() {
        let pools = lb()["properties"]["inboundNatPools"]
            .as_array()
            .unwrap()
            .clone();
        let configs = vec![config("nic0", 0, "10.0.0.4")];
        let echo = generated_rules(&lb(), &configs).remove(0);
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
    fn next_pool_index_is_the_smallest_unused() {
        let configs = vec![config("nic0", 0, "10.0.0.4"), config("nic2", 2, "10.0.0.6")];
        assert_eq!(next_pool_index(&lb(), "SSH", &configs), Some(1));
        assert_eq!(next_pool_index(&lb(), "nope", &configs), None);
        let mut tiny = lb();
        tiny["properties"]["inboundNatPools"][0]["properties"]["frontendPortRangeEnd"] =
            json!(50000);
        assert_eq!(next_pool_index(&tiny, "ssh", &configs), None);
    }

    #[test]
    fn port_mappings_by_ip_configuration_and_address() {
        let configs = vec![config("nic0", 0, "10.0.0.4"), config("nic1", 1, "10.0.0.5")];
        let pool = format!("{LB}/backendAddressPools/pool");
        let m = port_mappings(
            &lb(),
            &pool,
            Target::IpConfiguration(&configs[1].id),
            &configs,
        )
        .unwrap();
        assert_eq!(
            m[0],
            json!({"inboundNatRuleName": "v2", "protocol": "Tcp", "frontendPort": 6001, "backendPort": 3389})
        );
        assert_eq!(m[1]["inboundNatRuleName"], "ssh.1");
        assert_eq!(m[1]["frontendPort"], 50001);
        // The IP-based address is third in the pool: outside the 2-port v2 range.
        let m = port_mappings(&lb(), &pool, Target::IpAddress("10.0.0.9"), &configs).unwrap();
        assert!(m.is_empty());
        assert!(port_mappings(&lb(), &pool, Target::IpAddress("10.9.9.9"), &configs).is_none());
    }
}
