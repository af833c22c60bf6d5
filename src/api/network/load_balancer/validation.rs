//! Pure validation of a load balancer's child collections: each element on its own (required
//! properties, enumerations in canonical casing, port and timeout ranges, defaults) and the
//! rules across elements (two rules on one frontend port, overlapping NAT port ranges, rules
//! sharing a backend port and pool, outbound rules sharing a frontend and protocol).
//!
//! Elements arrive with `name` and `properties` and leave with the same plus defaults; the
//! references between children are resolved separately ([`super::children`]).

use serde_json::{Value, json};

use crate::api::network::body::{self, object_mut};
use crate::api::network::errors;
use crate::arm::{ArmError, ArmResult};

pub const TRANSPORT: &[&str] = &["Udp", "Tcp", "All"];
pub const PROBE_PROTOCOLS: &[&str] = &["Http", "Tcp", "Https"];
pub const DISTRIBUTIONS: &[&str] = &["Default", "SourceIP", "SourceIPProtocol"];

/// Azure's range for inbound idle timeouts on rules (minutes).
pub const RULE_IDLE_TIMEOUT: (i64, i64) = (4, 100);
/// Azure's range for outbound rule idle timeouts (minutes).
pub const OUTBOUND_IDLE_TIMEOUT: (i64, i64) = (4, 120);

fn name_of(e: &Value) -> String {
    e["name"].as_str().unwrap_or_default().to_string()
}

fn required<T>(v: Option<T>, what: &str) -> ArmResult<T> {
    v.ok_or_else(|| errors::invalid_format(format!("{what} is required.")))
}

/// Sets `props[key]` to `default` when absent; returns the value.
fn default_bool(props: &mut Value, key: &str, default: bool) -> ArmResult<bool> {
    let v = body::boolean(props, key, key)?.unwrap_or(default);
    props[key] = json!(v);
    Ok(v)
}

fn idle_timeout(props: &mut Value, what: &str, (min, max): (i64, i64)) -> ArmResult<i64> {
    let v = body::int_in(
        props,
        "idleTimeoutInMinutes",
        "idleTimeoutInMinutes",
        &format!("{what} idleTimeoutInMinutes"),
        min,
        max,
    )?
    .unwrap_or(4);
    props["idleTimeoutInMinutes"] = json!(v);
    Ok(v)
}

fn enum_prop(
    props: &mut Value,
    key: &str,
    allowed: &[&'static str],
    what: &str,
) -> ArmResult<Option<&'static str>> {
    let v = body::one_of(props, key, &format!("{what}.{key}"), allowed)?;
    if let Some(v) = v {
        props[key] = json!(v);
    }
    Ok(v)
}

/// Every element has a unique, non-empty name; `what` is e.g. `probes`.
pub fn names(items: &[Value], what: &str) -> ArmResult<()> {
    let mut seen: Vec<String> = Vec::new();
    for e in items {
        let name = body::string(e, "name", &format!("properties.{what}[].name"))?
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                errors::invalid_format(format!("Every element of {what} must have a name."))
            })?;
        if seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            return Err(errors::invalid_format(format!(
                "{what} contains more than one element named {name}."
            )));
        }
        seen.push(name.to_string());
    }
    Ok(())
}

/// Removes the listed read-only properties (and `etag`) an element may carry from a GET.
pub fn strip(e: &mut Value, read_only: &[&str]) -> ArmResult<()> {
    if let Some(o) = e.as_object_mut() {
        o.remove("etag");
    }
    let props = object_mut(e, "properties", "properties")?;
    for ro in read_only.iter().chain(["provisioningState"].iter()) {
        props.remove(*ro);
    }
    Ok(())
}

pub fn probe(e: &mut Value) -> ArmResult<()> {
    let what = format!("Probe {}", name_of(e));
    let p = &mut e["properties"];
    let protocol = required(
        enum_prop(p, "protocol", PROBE_PROTOCOLS, "probe")?,
        &format!("{what} protocol"),
    )?;
    required(
        body::int_in(p, "port", "port", &format!("{what} port"), 1, 65535)?,
        &format!("{what} port"),
    )?;
    let interval = body::int_in(
        p,
        "intervalInSeconds",
        "intervalInSeconds",
        &format!("{what} intervalInSeconds"),
        5,
        i32::MAX as i64,
    )?
    .unwrap_or(15);
    p["intervalInSeconds"] = json!(interval);
    body::int_in(
        p,
        "numberOfProbes",
        "numberOfProbes",
        &format!("{what} numberOfProbes"),
        1,
        i32::MAX as i64,
    )?;
    body::int_in(
        p,
        "probeThreshold",
        "probeThreshold",
        &format!("{what} probeThreshold"),
        1,
        100,
    )?;
    enum_prop(
        p,
        "noHealthyBackendsBehavior",
        &["AllProbedDown", "AllProbedUp"],
        "probe",
    )?;
    let path = body::string(p, "requestPath", "requestPath")?
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    match (protocol, path) {
        ("Tcp", Some(path)) => Err(ArmError::bad_request(
            "ProbeRequestPathNotAllowedForTcpProbes",
            format!(
                "{what} uses protocol Tcp and cannot have a requestPath ('{path}'). A requestPath is allowed only for Http and Https probes."
            ),
        )),
        ("Http" | "Https", None) => Err(ArmError::bad_request(
            "ProbeRequestPathRequiredForHttpProbes",
            format!("{what} uses protocol {protocol} and must have a requestPath."),
        )),
        _ => {
            if protocol == "Tcp" {
                p.as_object_mut().expect("an object").remove("requestPath");
            }
            Ok(())
        }
    }
}

/// The effective number of consecutive results that flips a backend's health: Azure honours
/// `probeThreshold` when set, else `numberOfProbes`, else 1.
pub fn effective_probe_threshold(probe: &Value) -> u32 {
    let p = &probe["properties"];
    p["probeThreshold"]
        .as_u64()
        .or_else(|| p["numberOfProbes"].as_u64())
        .unwrap_or(1)
        .clamp(1, u32::MAX as u64) as u32
}

pub fn load_balancing_rule(e: &mut Value) -> ArmResult<()> {
    let what = format!("Load balancing rule {}", name_of(e));
    let p = &mut e["properties"];
    let protocol = required(
        enum_prop(p, "protocol", TRANSPORT, "loadBalancingRule")?,
        &format!("{what} protocol"),
    )?;
    let fe = required(
        body::int_in(
            p,
            "frontendPort",
            "frontendPort",
            &format!("{what} frontendPort"),
            0,
            65534,
        )?,
        &format!("{what} frontendPort"),
    )?;
    let be = body::int_in(
        p,
        "backendPort",
        "backendPort",
        &format!("{what} backendPort"),
        0,
        65535,
    )?
    .unwrap_or(fe);
    p["backendPort"] = json!(be);
    let ha = protocol == "All" || fe == 0 || be == 0;
    if ha && !(protocol == "All" && fe == 0 && be == 0) {
        return Err(errors::invalid_format(format!(
            "{what}: an HA ports rule must have protocol All and frontendPort and backendPort 0; other rules use protocol Tcp or Udp and ports from 1."
        )));
    }
    idle_timeout(p, &what, RULE_IDLE_TIMEOUT)?;
    let dist =
        enum_prop(p, "loadDistribution", DISTRIBUTIONS, "loadBalancingRule")?.unwrap_or("Default");
    p["loadDistribution"] = json!(dist);
    default_bool(p, "enableFloatingIP", false)?;
    default_bool(p, "enableTcpReset", false)?;
    default_bool(p, "disableOutboundSnat", false)?;
    body::boolean(p, "enableConnectionTracking", "enableConnectionTracking")?;
    body::reference(p, "frontendIPConfiguration", "frontendIPConfiguration")?.ok_or_else(|| {
        errors::invalid_format(format!("{what} frontendIPConfiguration is required."))
    })?;
    body::reference(p, "probe", "probe")?;
    body::reference(p, "backendAddressPool", "backendAddressPool")?;
    body::array(p, "backendAddressPools", "backendAddressPools")?;
    Ok(())
}

pub fn inbound_nat_rule(e: &mut Value) -> ArmResult<()> {
    let what = format!("Inbound NAT rule {}", name_of(e));
    let p = &mut e["properties"];
    required(
        enum_prop(p, "protocol", TRANSPORT, "inboundNatRule")?,
        &format!("{what} protocol"),
    )?;
    let port = body::int_in(
        p,
        "frontendPort",
        "frontendPort",
        &format!("{what} frontendPort"),
        1,
        65534,
    )?;
    let start = body::int_in(
        p,
        "frontendPortRangeStart",
        "frontendPortRangeStart",
        &format!("{what} frontendPortRangeStart"),
        1,
        65534,
    )?;
    let end = body::int_in(
        p,
        "frontendPortRangeEnd",
        "frontendPortRangeEnd",
        &format!("{what} frontendPortRangeEnd"),
        1,
        65534,
    )?;
    let pool = body::reference(p, "backendAddressPool", "backendAddressPool")?;
    required(
        body::int_in(
            p,
            "backendPort",
            "backendPort",
            &format!("{what} backendPort"),
            1,
            65535,
        )?,
        &format!("{what} backendPort"),
    )?;
    match (port, start, end) {
        (Some(port), Some(_), _) | (Some(port), _, Some(_)) => {
            return Err(ArmError::bad_request(
                "UnsupportedSetOfInboundNatRulePropertiesWhenFrontendPortIsSpecified",
                format!(
                    "If FrontendPort {port} is set, properties FrontendPortRangeStart, FrontendPortRangeEnd should be null."
                ),
            ));
        }
        (None, Some(s), Some(e)) if s > e => {
            return Err(errors::invalid_format(format!(
                "{what} frontendPortRangeStart {s} is greater than frontendPortRangeEnd {e}."
            )));
        }
        (None, Some(_), Some(_)) => {}
        (None, _, _) if pool.is_some() => {
            return Err(ArmError::bad_request(
                "MissedInboundNatRuleV2Properties",
                "For inbound Nat rule V2 properties FrontendPortRangeStart, FrontendPortRangeEnd should not be null.",
            ));
        }
        (None, _, _) => {
            return Err(errors::invalid_format(format!(
                "{what} frontendPort is required."
            )));
        }
        (Some(_), None, None) if pool.is_some() => {
            return Err(ArmError::bad_request(
                "MissedInboundNatRuleV2Properties",
                "For inbound Nat rule V2 properties FrontendPortRangeStart, FrontendPortRangeEnd should not be null.",
            ));
        }
        (Some(_), None, None) => {}
    }
    nat_common(p, &what)
}

/// What inbound NAT rules and NAT pools share: idle timeout, the two flags, the frontend.
fn nat_common(p: &mut Value, what: &str) -> ArmResult<()> {
    idle_timeout(p, what, RULE_IDLE_TIMEOUT)?;
    default_bool(p, "enableFloatingIP", false)?;
    default_bool(p, "enableTcpReset", false)?;
    body::reference(p, "frontendIPConfiguration", "frontendIPConfiguration")?.ok_or_else(|| {
        errors::invalid_format(format!("{what} frontendIPConfiguration is required."))
    })?;
    Ok(())
}

pub fn inbound_nat_pool(e: &mut Value) -> ArmResult<()> {
    let what = format!("Inbound NAT pool {}", name_of(e));
    let p = &mut e["properties"];
    required(
        enum_prop(p, "protocol", TRANSPORT, "inboundNatPool")?,
        &format!("{what} protocol"),
    )?;
    let start = required(
        body::int_in(
            p,
            "frontendPortRangeStart",
            "frontendPortRangeStart",
            &format!("{what} frontendPortRangeStart"),
            1,
            65534,
        )?,
        &format!("{what} frontendPortRangeStart"),
    )?;
    let end = required(
        body::int_in(
            p,
            "frontendPortRangeEnd",
            "frontendPortRangeEnd",
            &format!("{what} frontendPortRangeEnd"),
            1,
            65535,
        )?,
        &format!("{what} frontendPortRangeEnd"),
    )?;
    required(
        body::int_in(
            p,
            "backendPort",
            "backendPort",
            &format!("{what} backendPort"),
            1,
            65535,
        )?,
        &format!("{what} backendPort"),
    )?;
    if start > end {
        return Err(errors::invalid_format(format!(
            "{what} frontendPortRangeStart {start} is greater than frontendPortRangeEnd {end}."
        )));
    }
    nat_common(p, &what)
}

pub fn outbound_rule(e: &mut Value) -> ArmResult<()> {
    let what = format!("Outbound rule {}", name_of(e));
    let p = &mut e["properties"];
    required(
        enum_prop(p, "protocol", TRANSPORT, "outboundRule")?,
        &format!("{what} protocol"),
    )?;
    let ports = body::int_in(
        p,
        "allocatedOutboundPorts",
        "allocatedOutboundPorts",
        &format!("{what} allocatedOutboundPorts"),
        0,
        64000,
    )?
    .unwrap_or(0);
    if ports % 8 != 0 {
        return Err(ArmError::bad_request(
            "SpecifiedAllocatedOutboundPortsForOutboundRuleIsNotAMultipleOfEight",
            format!(
                "{what} specifies allocatedOutboundPorts {ports}, which is not a multiple of 8."
            ),
        ));
    }
    p["allocatedOutboundPorts"] = json!(ports);
    idle_timeout(p, &what, OUTBOUND_IDLE_TIMEOUT)?;
    default_bool(p, "enableTcpReset", false)?;
    if body::array(p, "frontendIPConfigurations", "frontendIPConfigurations")?.is_empty() {
        return Err(errors::invalid_format(format!(
            "{what} must have at least one frontendIPConfigurations entry."
        )));
    }
    body::reference(p, "backendAddressPool", "backendAddressPool")?
        .ok_or_else(|| errors::invalid_format(format!("{what} backendAddressPool is required.")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(name: &str, props: Value) -> Value {
        json!({"name": name, "properties": props})
    }

    #[test]
    fn probes_get_defaults_and_request_path_rules() {
        let mut p = el(
            "hp",
            json!({"protocol": "http", "port": 80, "requestPath": "/health"}),
        );
        probe(&mut p).unwrap();
        assert_eq!(p["properties"]["protocol"], "Http");
        assert_eq!(p["properties"]["intervalInSeconds"], 15);

        let mut tcp = el(
            "t",
            json!({"protocol": "Tcp", "port": 80, "requestPath": "/x"}),
        );
        assert_eq!(
            probe(&mut tcp).unwrap_err().code,
            "ProbeRequestPathNotAllowedForTcpProbes"
        );
        let mut http = el("h", json!({"protocol": "Https", "port": 443}));
        assert_eq!(
            probe(&mut http).unwrap_err().code,
            "ProbeRequestPathRequiredForHttpProbes"
        );
        for bad in [
            json!({"protocol": "Tcp", "port": 0}),
            json!({"protocol": "Tcp", "port": 80, "intervalInSeconds": 4}),
        ] {
            assert_eq!(
                probe(&mut el("b", bad)).unwrap_err().code,
                "InvalidRequestFormat"
            );
        }
        assert_eq!(
            probe(&mut el("b", json!({"protocol": "Icmp", "port": 1})))
                .unwrap_err()
                .code,
            "InvalidRequestFormat"
        );
        assert_eq!(
            effective_probe_threshold(&el("x", json!({"numberOfProbes": 2}))),
            2
        );
        assert_eq!(
            effective_probe_threshold(&el("x", json!({"numberOfProbes": 2, "probeThreshold": 3}))),
            3
        );
        assert_eq!(effective_probe_threshold(&el("x", json!({}))), 1);
    }

    #[test]
    fn rules_get_defaults_and_ranges() {
        let fe = json!({"id": "/x/frontendIPConfigurations/fe"});
        let mut r = el(
            "r",
            json!({"protocol": "Tcp", "frontendPort": 80, "frontendIPConfiguration": fe}),
        );
        load_balancing_rule(&mut r).unwrap();
        let p = &r["properties"];
        assert_eq!(p["backendPort"], 80);
        assert_eq!(p["idleTimeoutInMinutes"], 4);
        assert_eq!(p["loadDistribution"], "Default");
        assert_eq!(p["enableTcpReset"], false);
        let bad = [
            json!({"protocol": "Tcp", "frontendPort": 65535, "frontendIPConfiguration": fe}),
            json!({"protocol": "Tcp", "frontendPort": 80, "idleTimeoutInMinutes": 3, "frontendIPConfiguration": fe}),
            json!({"protocol": "Tcp", "frontendPort": 80, "idleTimeoutInMinutes": 101, "frontendIPConfiguration": fe}),
            json!({"protocol": "Tcp", "frontendPort": 0, "frontendIPConfiguration": fe}),
            json!({"protocol": "All", "frontendPort": 80, "frontendIPConfiguration": fe}),
            json!({"protocol": "Tcp", "frontendPort": 80}),
        ];
        for b in bad {
            assert_eq!(
                load_balancing_rule(&mut el("r", b.clone()))
                    .unwrap_err()
                    .code,
                "InvalidRequestFormat",
                "{b}"
            );
        }
        let mut ha = el(
            "ha",
            json!({"protocol": "All", "frontendPort": 0, "backendPort": 0, "frontendIPConfiguration": fe}),
        );
        load_balancing_rule(&mut ha).unwrap();
    }

    #[test]
    fn nat_rules_v1_and_v2() {
        let fe = json!({"id": "/x/frontendIPConfigurations/fe"});
        let pool = json!({"id": "/x/backendAddressPools/p"});
        let mut v1 = el(
            "ssh",
            json!({"protocol": "Tcp", "frontendPort": 2222, "backendPort": 22, "frontendIPConfiguration": fe}),
        );
        inbound_nat_rule(&mut v1).unwrap();
        let mut v2 = el(
            "r",
            json!({"protocol": "Tcp", "frontendPortRangeStart": 500, "frontendPortRangeEnd": 599, "backendPort": 22, "backendAddressPool": pool, "frontendIPConfiguration": fe}),
        );
        inbound_nat_rule(&mut v2).unwrap();
        let missing = el(
            "r",
            json!({"protocol": "Tcp", "backendPort": 22, "backendAddressPool": pool, "frontendIPConfiguration": fe}),
        );
        assert_eq!(
            inbound_nat_rule(&mut missing.clone()).unwrap_err().code,
            "MissedInboundNatRuleV2Properties"
        );
        let both = el(
            "r",
            json!({"protocol": "Tcp", "frontendPort": 1, "frontendPortRangeStart": 500, "frontendPortRangeEnd": 599, "backendPort": 22, "frontendIPConfiguration": fe}),
        );
        assert_eq!(
            inbound_nat_rule(&mut both.clone()).unwrap_err().code,
            "UnsupportedSetOfInboundNatRulePropertiesWhenFrontendPortIsSpecified"
        );
        let mut pool_el = el(
            "np",
            json!({"protocol": "Tcp", "frontendPortRangeStart": 50000, "frontendPortRangeEnd": 50099, "backendPort": 22, "frontendIPConfiguration": fe}),
        );
        inbound_nat_pool(&mut pool_el).unwrap();
        let reversed = el(
            "np",
            json!({"protocol": "Tcp", "frontendPortRangeStart": 50099, "frontendPortRangeEnd": 50000, "backendPort": 22, "frontendIPConfiguration": fe}),
        );
        assert_eq!(
            inbound_nat_pool(&mut reversed.clone()).unwrap_err().code,
            "InvalidRequestFormat"
        );
    }

    #[test]
    fn outbound_rules_get_defaults_and_port_rules() {
        let fe = json!([{"id": "/lb/frontendIPConfigurations/fe"}]);
        let pool = json!({"id": "/lb/backendAddressPools/p"});
        let mut o = el(
            "o",
            json!({"protocol": "All", "frontendIPConfigurations": fe, "backendAddressPool": pool}),
        );
        outbound_rule(&mut o).unwrap();
        assert_eq!(o["properties"]["allocatedOutboundPorts"], 0);
        assert_eq!(o["properties"]["idleTimeoutInMinutes"], 4);
        let odd = el(
            "o",
            json!({"protocol": "All", "allocatedOutboundPorts": 10, "frontendIPConfigurations": fe, "backendAddressPool": pool}),
        );
        assert_eq!(
            outbound_rule(&mut odd.clone()).unwrap_err().code,
            "SpecifiedAllocatedOutboundPortsForOutboundRuleIsNotAMultipleOfEight"
        );
    }
}
