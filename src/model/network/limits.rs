//! Azure's per-load-balancer limits ("Azure subscription and service limits", load balancer
//! section, azure-docs `includes/azure-load-balancer-limits.md`):
//!
//! | resource                                   | Standard | Basic |
//! |--------------------------------------------|----------|-------|
//! | frontend IP configurations                 | 600      | 200   |
//! | rules (load balancing + inbound NAT)       | 1,500    | 250   |
//! | outbound rules                             | 600      | —     |
//! | backend pool size (IP configurations)      | 5,000    | 300   |
//! | rules per NIC (across its IP configurations)| 300     | 300   |
//!
//! Inbound NAT rules that a scale set's NAT pools generate count as inbound rules
//! (`LoadBalancerInboundRuleCountLimitExceededByVMScaleSet`, as Network reports it), so a
//! scale-out can hit the rule limit as well as the pool size.

use serde_json::Value;

use super::same_id;
use crate::model::error::{ArmError, ArmResult};

/// The limits of one SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LbLimits {
    pub frontends: usize,
    pub rules: usize,
    pub outbound_rules: usize,
    pub backend_pool: u64,
    pub rules_per_nic: usize,
}

pub const STANDARD: LbLimits = LbLimits {
    frontends: 600,
    rules: 1500,
    outbound_rules: 600,
    backend_pool: 5000,
    rules_per_nic: 300,
};

pub const BASIC: LbLimits = LbLimits {
    frontends: 200,
    rules: 250,
    outbound_rules: 0,
    backend_pool: 300,
    rules_per_nic: 300,
};

pub fn for_sku(sku: &str) -> LbLimits {
    if sku.eq_ignore_ascii_case("Basic") {
        BASIC
    } else {
        STANDARD
    }
}

fn items<'a>(lb: &'a Value, key: &str) -> &'a [Value] {
    lb["properties"][key]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn lb_name(lb: &Value) -> &str {
    lb["id"].as_str().unwrap_or_default()
}

/// The limits a load-balancer document must keep on its own.
pub fn check_load_balancer(lb: &Value, sku: &str) -> ArmResult<()> {
    let l = for_sku(sku);
    let frontends = items(lb, "frontendIPConfigurations").len();
    if frontends > l.frontends {
        return Err(ArmError::bad_request(
            "LoadBalancerFrontendIPConfigurationCountLimitReached",
            format!(
                "A load balancer cannot have more than {} FrontendIPConfigurations.",
                l.frontends
            ),
        ));
    }
    let rules = items(lb, "loadBalancingRules").len() + items(lb, "inboundNatRules").len();
    if rules > l.rules {
        return Err(ArmError::bad_request(
            "LoadBalancerRuleCountLimitReached",
            format!(
                "Load balancer {} has {rules} load balancing and inbound NAT rules; a {sku} load balancer can have at most {}.",
                lb_name(lb),
                l.rules
            ),
        ));
    }
    let outbound = items(lb, "outboundRules").len();
    // Basic has none at all, which the SKU conflicts already refuse.
    if l.outbound_rules > 0 && outbound > l.outbound_rules {
        return Err(ArmError::bad_request(
            "LoadBalancerOutboundRuleCountLimitReached",
            format!(
                "Load balancer {} has {outbound} outbound rules; a load balancer can have at most {}.",
                lb_name(lb),
                l.outbound_rules
            ),
        ));
    }
    Ok(())
}

/// What the scale sets referencing one load balancer ask of it: `(pool or NAT pool id,
/// instances)` for every pool reference of every scale set, at their new capacities.
pub struct Demand<'a> {
    pub backend_pools: Vec<(&'a str, u64)>,
    pub nat_pools: Vec<(&'a str, u64)>,
    /// The pools and NAT pools one instance NIC of the scale set being written references.
    pub nic_pools: Vec<&'a str>,
    pub nic_nat_pools: Vec<&'a str>,
    /// That NIC's IP configuration id, for the message.
    pub nic: String,
}

/// The limits a scale-out must keep on a load balancer it joins.
pub fn check_scale_out(lb: &Value, sku: &str, d: &Demand<'_>) -> ArmResult<()> {
    let l = for_sku(sku);
    for pool in items(lb, "backendAddressPools") {
        let id = pool["id"].as_str().unwrap_or_default();
        let size: u64 = d
            .backend_pools
            .iter()
            .filter(|(p, _)| same_id(p, id))
            .map(|(_, n)| n)
            .sum();
        if size > l.backend_pool {
            return Err(ArmError::bad_request(
                "LoadBalancerBackendAddressPoolSizeLimitReached",
                format!(
                    "Backend address pool {id} would have {size} IP configurations; a {sku} load balancer's backend pool can have at most {}.",
                    l.backend_pool
                ),
            ));
        }
    }
    let generated: u64 = items(lb, "inboundNatPools")
        .iter()
        .map(|p| {
            let id = p["id"].as_str().unwrap_or_default();
            d.nat_pools
                .iter()
                .filter(|(n, _)| same_id(n, id))
                .map(|(_, k)| k)
                .sum::<u64>()
        })
        .sum();
    let inbound = generated
        + (items(lb, "inboundNatRules").len() + items(lb, "loadBalancingRules").len()) as u64;
    if inbound > l.rules as u64 {
        return Err(ArmError::bad_request(
            "LoadBalancerInboundRuleCountLimitExceededByVMScaleSet",
            format!(
                "The requested number of inbound rules {inbound} on load balancer {} will exceed the maximum number of inbound rules allowed {}.",
                lb_name(lb),
                l.rules
            ),
        ));
    }
    let uses = |r: &Value| {
        let p = &r["properties"];
        let single = p["backendAddressPool"]["id"].as_str().into_iter();
        let many = p["backendAddressPools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["id"].as_str());
        single
            .chain(many)
            .any(|id| d.nic_pools.iter().any(|n| same_id(n, id)))
    };
    let per_nic = items(lb, "loadBalancingRules")
        .iter()
        .chain(items(lb, "outboundRules"))
        .filter(|r| uses(r))
        .count()
        + d.nic_nat_pools.len();
    if per_nic > l.rules_per_nic {
        return Err(ArmError::bad_request(
            "LoadBalancingRulesPerNicLimitReached",
            format!(
                "IpConfiguration {} cannot have more than {} NAT or load balancing rules combined.",
                d.nic, l.rules_per_nic
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lb(frontends: usize, rules: usize, nat_pool: bool) -> Value {
        let fe: Vec<Value> = (0..frontends)
            .map(|i| json!({"name": format!("f{i}")}))
            .collect();
        let r: Vec<Value> = (0..rules)
            .map(|i| json!({"name": format!("r{i}"), "properties": {"backendAddressPool": {"id": "lb/backendAddressPools/p"}}}))
            .collect();
        let pools = if nat_pool {
            json!([{"id": "lb/inboundNatPools/nat"}])
        } else {
            json!([])
        };
        json!({"id": "lb", "properties": {"frontendIPConfigurations": fe, "loadBalancingRules": r,
            "backendAddressPools": [{"id": "lb/backendAddressPools/p"}], "inboundNatPools": pools}})
    }

    fn demand(pool: u64, nat: u64) -> Demand<'static> {
        Demand {
            backend_pools: vec![("lb/backendAddressPools/p", pool)],
            nat_pools: vec![("lb/inboundNatPools/nat", nat)],
            nic_pools: vec!["lb/backendAddressPools/p"],
            nic_nat_pools: vec!["lb/inboundNatPools/nat"],
            nic: "nic/ipConfigurations/ipc".into(),
        }
    }

    #[test]
    fn frontends_and_rules_are_limited_by_sku() {
        assert!(check_load_balancer(&lb(200, 250, false), "Basic").is_ok());
        assert_eq!(
            check_load_balancer(&lb(201, 0, false), "Basic")
                .unwrap_err()
                .code,
            "LoadBalancerFrontendIPConfigurationCountLimitReached"
        );
        assert!(check_load_balancer(&lb(201, 251, false), "Standard").is_ok());
        assert_eq!(
            check_load_balancer(&lb(1, 1501, false), "Standard")
                .unwrap_err()
                .code,
            "LoadBalancerRuleCountLimitReached"
        );
    }

    #[test]
    fn scale_outs_keep_pool_size_and_generated_nat_rules_within_limits() {
        let basic = lb(1, 1, true);
        assert!(check_scale_out(&basic, "Basic", &demand(249, 249)).is_ok());
        assert_eq!(
            check_scale_out(&basic, "Basic", &demand(250, 250))
                .unwrap_err()
                .code,
            "LoadBalancerInboundRuleCountLimitExceededByVMScaleSet"
        );
        assert_eq!(
            check_scale_out(&basic, "Standard", &demand(5001, 10))
                .unwrap_err()
                .code,
            "LoadBalancerBackendAddressPoolSizeLimitReached"
        );
        assert_eq!(
            check_scale_out(&lb(1, 300, false), "Standard", &demand(1, 0))
                .unwrap_err()
                .code,
            "LoadBalancingRulesPerNicLimitReached"
        );
    }
}
