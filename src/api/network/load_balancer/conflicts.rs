//! Rules across a load balancer's children, checked once every reference is resolved: no
//! two rules, NAT rules or NAT pools claim the same frontend, protocol and port; rules
//! without floating IP do not share a backend port and pool; at most one outbound rule per
//! frontend and protocol, and load-balancing rules on such a frontend disable outbound SNAT;
//! HA ports only on internal Standard load balancers.

use serde_json::{Value, json};

use super::children::rule_pools;
use crate::api::network::{errors, same_id};
use crate::arm::{ArmError, ArmResult};

fn items<'a>(doc: &'a Value, property: &str) -> &'a [Value] {
    doc["properties"][property]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The frontend ports a rule, NAT rule or NAT pool claims, for conflict checks.
#[derive(Debug, Clone)]
pub struct PortClaim {
    /// `LoadBalancingRule`, `InboundNatRule` or `InboundNatPool`.
    pub kind: &'static str,
    pub id: String,
    /// Lower-cased frontend id.
    pub frontend: String,
    pub protocol: String,
    pub low: i64,
    pub high: i64,
}

impl PortClaim {
    fn overlaps(&self, other: &PortClaim) -> bool {
        let protocols =
            self.protocol == other.protocol || self.protocol == "All" || other.protocol == "All";
        self.frontend == other.frontend
            && protocols
            && self.low <= other.high
            && other.low <= self.high
    }
}

/// What each element of a (validated, resolved) collection claims.
pub fn port_claims(kind: &'static str, items: &[Value]) -> Vec<PortClaim> {
    items
        .iter()
        .map(|e| {
            let p = &e["properties"];
            let (low, high) = match (
                p["frontendPort"].as_i64(),
                p["frontendPortRangeStart"].as_i64(),
            ) {
                (Some(0), _) => (0, 65535),
                (Some(port), _) => (port, port),
                (None, Some(start)) => (start, p["frontendPortRangeEnd"].as_i64().unwrap_or(start)),
                (None, None) => (-1, -2),
            };
            PortClaim {
                kind,
                id: e["id"].as_str().unwrap_or_default().to_string(),
                frontend: p["frontendIPConfiguration"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
                protocol: p["protocol"].as_str().unwrap_or_default().to_string(),
                low,
                high,
            }
        })
        .collect()
}

/// No two claims on one frontend may overlap in protocol and port.
pub fn frontend_port_conflicts(claims: &[PortClaim]) -> ArmResult<()> {
    for (i, a) in claims.iter().enumerate() {
        if let Some(b) = claims[i + 1..].iter().find(|b| a.overlaps(b)) {
            let both_rules = a.kind == "LoadBalancingRule" && b.kind == "LoadBalancingRule";
            let (code, message) = if both_rules {
                (
                    "LoadBalancingRuleFrontendPortConflict",
                    format!(
                        "Load balancing rules {} and {} use the same frontend IP configuration, protocol and frontend port {}.",
                        a.id,
                        b.id,
                        a.low.max(b.low)
                    ),
                )
            } else {
                (
                    "InboundNatFrontendPortConflict",
                    format!(
                        "{} {} (frontend ports {}-{}) and {} {} (frontend ports {}-{}) use overlapping frontend ports on the same frontend IP configuration and protocol.",
                        a.kind, a.id, a.low, a.high, b.kind, b.id, b.low, b.high
                    ),
                )
            };
            return Err(ArmError::bad_request(code, message));
        }
    }
    Ok(())
}

/// Azure's `RulesUseSameBackendPortProtocolAndPool`: two rules without floating IP may not
/// send the same protocol and backend port to the same pool.
pub fn backend_port_conflicts(rules: &[Value]) -> ArmResult<()> {
    for (i, a) in rules.iter().enumerate() {
        for b in &rules[i + 1..] {
            let (pa, pb) = (&a["properties"], &b["properties"]);
            if pa["enableFloatingIP"] == json!(true) || pb["enableFloatingIP"] == json!(true) {
                continue;
            }
            if pa["protocol"] != pb["protocol"] || pa["backendPort"] != pb["backendPort"] {
                continue;
            }
            let pools_b = rule_pools(b);
            if let Some(pool) = rule_pools(a)
                .into_iter()
                .find(|p| pools_b.iter().any(|q| q.eq_ignore_ascii_case(p)))
            {
                return Err(ArmError::bad_request(
                    "RulesUseSameBackendPortProtocolAndPool",
                    format!(
                        "Load balancing rules {} and {} with floating IP disabled use the same protocol {} and backend port {}, and must not be used with the same backend address pool {pool}.",
                        a["id"].as_str().unwrap_or_default(),
                        b["id"].as_str().unwrap_or_default(),
                        pa["protocol"].as_str().unwrap_or_default(),
                        pa["backendPort"]
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// At most one outbound rule per frontend and (overlapping) protocol.
pub fn outbound_conflicts(rules: &[Value]) -> ArmResult<()> {
    for (i, a) in rules.iter().enumerate() {
        for b in &rules[i + 1..] {
            let (pa, pb) = (&a["properties"]["protocol"], &b["properties"]["protocol"]);
            if pa != pb && *pa != json!("All") && *pb != json!("All") {
                continue;
            }
            let fes = |r: &Value| -> Vec<String> {
                r["properties"]["frontendIPConfigurations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f["id"].as_str().map(str::to_ascii_lowercase))
                    .collect()
            };
            let fb = fes(b);
            if let Some(fe) = fes(a).into_iter().find(|f| fb.contains(f)) {
                return Err(ArmError::bad_request(
                    "MoreThanOneOutboundRuleUsingSameFrontendIPConfigurationAndProtocolIsNotSupported",
                    format!(
                        "Is is not supported to have more than a single outbound rule using frontendIPConfiguration {fe} with same or overlapping protocol. This frontendIPConfiguration is used by the following outbound rules: {},{}",
                        a["id"].as_str().unwrap_or_default(),
                        b["id"].as_str().unwrap_or_default()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Azure's rule: a load-balancing rule on a frontend (and protocol) that an outbound rule
/// also uses must set `disableOutboundSnat`.
pub fn outbound_snat_conflicts(rules: &[Value], outbound: &[Value]) -> ArmResult<()> {
    for o in outbound {
        let op = &o["properties"]["protocol"];
        for fe in o["properties"]["frontendIPConfigurations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["id"].as_str())
        {
            let clash = rules.iter().find(|r| {
                let p = &r["properties"];
                let protocols = p["protocol"] == *op || p["protocol"] == "All" || *op == "All";
                protocols
                    && p["disableOutboundSnat"] != json!(true)
                    && p["frontendIPConfiguration"]["id"]
                        .as_str()
                        .is_some_and(|id| id.eq_ignore_ascii_case(fe))
            });
            if let Some(rule) = clash {
                return Err(ArmError::bad_request(
                    "LoadBalancingRuleMustDisableSNATSinceSameFrontendIPConfigurationIsReferencedByOutboundRule",
                    format!(
                        "Load balancing rule {} must disable SNAT (disableOutboundSnat) since the same frontendIPConfiguration {fe} is referenced by outbound rule {}.",
                        rule["id"].as_str().unwrap_or_default(),
                        o["id"].as_str().unwrap_or_default()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Rules across children that need the whole load balancer.
pub fn check(doc: &Value, sku: &str) -> ArmResult<()> {
    let lb_id = doc["id"].as_str().unwrap_or_default();
    let rules = items(doc, "loadBalancingRules");
    if sku == "Basic" && !items(doc, "outboundRules").is_empty() {
        return Err(errors::invalid_format(format!(
            "Basic sku load balancer {lb_id} cannot have outbound rules; outbound rules need a Standard load balancer."
        )));
    }
    for rule in rules
        .iter()
        .filter(|r| r["properties"]["protocol"] == "All")
    {
        let fe = rule["properties"]["frontendIPConfiguration"]["id"]
            .as_str()
            .unwrap_or_default();
        let internal = items(doc, "frontendIPConfigurations").iter().any(|f| {
            f["id"].as_str().is_some_and(|id| same_id(id, fe))
                && f["properties"]["subnet"].is_object()
        });
        if sku == "Basic" || !internal {
            return Err(errors::invalid_format(format!(
                "Load balancing rule {} is an HA ports rule (protocol All, port 0), which only an internal Standard load balancer supports.",
                rule["id"].as_str().unwrap_or_default()
            )));
        }
    }
    let mut claims = port_claims("LoadBalancingRule", rules);
    claims.extend(port_claims("InboundNatRule", items(doc, "inboundNatRules")));
    claims.extend(port_claims("InboundNatPool", items(doc, "inboundNatPools")));
    frontend_port_conflicts(&claims)?;
    backend_port_conflicts(rules)?;
    outbound_conflicts(items(doc, "outboundRules"))?;
    outbound_snat_conflicts(rules, items(doc, "outboundRules"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(name: &str, props: Value) -> Value {
        json!({"name": name, "properties": props})
    }

    fn with_id(mut e: Value, id: &str) -> Value {
        e["id"] = json!(id);
        e
    }

    #[test]
    fn frontend_port_claims_conflict_per_frontend_and_protocol() {
        let fe = |n: &str| json!({"id": format!("/lb/frontendIPConfigurations/{n}")});
        let rules = vec![
            with_id(
                el(
                    "a",
                    json!({"protocol": "Tcp", "frontendPort": 80, "frontendIPConfiguration": fe("fe")}),
                ),
                "/lb/a",
            ),
            with_id(
                el(
                    "b",
                    json!({"protocol": "Udp", "frontendPort": 80, "frontendIPConfiguration": fe("fe")}),
                ),
                "/lb/b",
            ),
            with_id(
                el(
                    "c",
                    json!({"protocol": "Tcp", "frontendPort": 80, "frontendIPConfiguration": fe("fe2")}),
                ),
                "/lb/c",
            ),
        ];
        frontend_port_conflicts(&port_claims("LoadBalancingRule", &rules)).unwrap();
        let mut dup = rules.clone();
        dup.push(with_id(
            el(
                "d",
                json!({"protocol": "Tcp", "frontendPort": 80, "frontendIPConfiguration": fe("FE")}),
            ),
            "/lb/d",
        ));
        assert_eq!(
            frontend_port_conflicts(&port_claims("LoadBalancingRule", &dup))
                .unwrap_err()
                .code,
            "LoadBalancingRuleFrontendPortConflict"
        );
        let pools = vec![
            with_id(
                el(
                    "p1",
                    json!({"protocol": "Tcp", "frontendPortRangeStart": 50000, "frontendPortRangeEnd": 50099, "frontendIPConfiguration": fe("fe")}),
                ),
                "/lb/p1",
            ),
            with_id(
                el(
                    "p2",
                    json!({"protocol": "All", "frontendPortRangeStart": 50099, "frontendPortRangeEnd": 50199, "frontendIPConfiguration": fe("fe")}),
                ),
                "/lb/p2",
            ),
        ];
        assert_eq!(
            frontend_port_conflicts(&port_claims("InboundNatPool", &pools))
                .unwrap_err()
                .code,
            "InboundNatFrontendPortConflict"
        );
        let mut all = port_claims("LoadBalancingRule", &rules);
        all.extend(port_claims("InboundNatPool", &pools[..1]));
        frontend_port_conflicts(&all).unwrap();
    }

    #[test]
    fn rules_sharing_backend_port_and_pool_need_floating_ip() {
        let pool = json!({"id": "/lb/backendAddressPools/p"});
        let a = with_id(
            el(
                "a",
                json!({"protocol": "Tcp", "backendPort": 80, "backendAddressPool": pool, "enableFloatingIP": false}),
            ),
            "/lb/a",
        );
        let b = with_id(
            el(
                "b",
                json!({"protocol": "Tcp", "backendPort": 80, "backendAddressPools": [pool], "enableFloatingIP": false}),
            ),
            "/lb/b",
        );
        assert_eq!(
            backend_port_conflicts(&[a.clone(), b.clone()])
                .unwrap_err()
                .code,
            "RulesUseSameBackendPortProtocolAndPool"
        );
        let mut floating = b.clone();
        floating["properties"]["enableFloatingIP"] = json!(true);
        backend_port_conflicts(&[a.clone(), floating]).unwrap();
        let mut other_port = b;
        other_port["properties"]["backendPort"] = json!(443);
        backend_port_conflicts(&[a, other_port]).unwrap();
    }

    #[test]
    fn one_outbound_rule_per_frontend_and_protocol_and_snat_disabled_beside_it() {
        let o = el(
            "o",
            json!({"protocol": "All", "frontendIPConfigurations": [{"id": "/lb/frontendIPConfigurations/fe"}],
                "backendAddressPool": {"id": "/lb/backendAddressPools/p"}}),
        );
        let rule = with_id(
            el(
                "r",
                json!({"protocol": "Tcp", "frontendPort": 80, "disableOutboundSnat": false,
                    "frontendIPConfiguration": {"id": "/lb/frontendIPConfigurations/FE"}}),
            ),
            "/lb/r",
        );
        assert_eq!(
            outbound_snat_conflicts(std::slice::from_ref(&rule), std::slice::from_ref(&o))
                .unwrap_err()
                .code,
            "LoadBalancingRuleMustDisableSNATSinceSameFrontendIPConfigurationIsReferencedByOutboundRule"
        );
        let mut snat_off = rule;
        snat_off["properties"]["disableOutboundSnat"] = json!(true);
        outbound_snat_conflicts(&[snat_off], std::slice::from_ref(&o)).unwrap();
        let a = with_id(o.clone(), "/lb/a");
        let mut b = with_id(o, "/lb/b");
        b["properties"]["protocol"] = json!("Tcp");
        assert_eq!(
            outbound_conflicts(&[a, b]).unwrap_err().code,
            "MoreThanOneOutboundRuleUsingSameFrontendIPConfigurationAndProtocolIsNotSupported"
        );
    }
}
