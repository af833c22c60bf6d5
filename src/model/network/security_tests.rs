use serde_json::json;

use super::*;

fn group(rules: serde_json::Value) -> SecurityGroup {
    SecurityGroup::from_doc(&json!({"id": "/nsg", "properties": {"securityRules": rules}})).unwrap()
}

fn web(port: u16) -> Flow {
    Flow {
        source: Source::Internet(Ipv4Addr::new(127, 0, 0, 1)),
        source_port: 40000,
        destination: Ipv4Addr::new(10, 0, 0, 4),
        destination_port: port,
        protocol: SecurityProtocol::Tcp,
    }
}

fn vnet() -> Vec<Cidr> {
    vec![parse_cidr("10.0.0.0/16").unwrap()]
}

#[test]
fn without_rules_the_defaults_deny_internet_and_allow_probes() {
    let g = group(json!([]));
    assert_eq!(
        g.decide(&web(80), &vnet()),
        (Access::Deny, "DenyAllInBound")
    );
    let probe = Flow {
        source: Source::AzureLoadBalancer,
        ..web(80)
    };
    assert_eq!(
        g.decide(&probe, &vnet()),
        (Access::Allow, "AllowAzureLoadBalancerInBound")
    );
}

#[test]
fn the_lowest_priority_number_wins() {
    let g = group(json!([
        {"name": "deny-80", "properties": {"protocol": "Tcp", "access": "Deny", "priority": 200, "direction": "Inbound",
            "sourceAddressPrefix": "Internet", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "80"}},
        {"name": "allow-web", "properties": {"protocol": "*", "access": "Allow", "priority": 100, "direction": "Inbound",
            "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "VirtualNetwork", "destinationPortRanges": ["80", "443-444"]}},
    ]));
    assert_eq!(g.decide(&web(80), &vnet()).1, "allow-web");
    assert_eq!(g.decide(&web(444), &vnet()).0, Access::Allow);
    assert_eq!(g.decide(&web(22), &vnet()).1, "DenyAllInBound");
}

#[test]
fn prefixes_match_the_client_address_and_outbound_rules_do_not_apply() {
    let g = group(json!([
        {"name": "only-me", "properties": {"protocol": "Tcp", "access": "Allow", "priority": 100, "direction": "Inbound",
            "sourceAddressPrefixes": ["127.0.0.1", "192.168.0.0/16"], "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*"}},
        {"name": "out", "properties": {"protocol": "*", "access": "Allow", "priority": 101, "direction": "Outbound",
            "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*"}},
    ]));
    assert_eq!(g.decide(&web(22), &vnet()).1, "only-me");
    let other = Flow {
        source: Source::Internet(Ipv4Addr::new(127, 0, 0, 2)),
        ..web(22)
    };
    assert_eq!(g.decide(&other, &vnet()).1, "DenyAllInBound");
}

#[test]
fn both_groups_must_admit_a_flow() {
    let allow = group(
        json!([{"name": "a", "properties": {"protocol": "*", "access": "Allow", "priority": 100, "direction": "Inbound",
        "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*"}}]),
    );
    let deny = group(json!([]));
    assert!(admits(&[&allow], &web(80), &vnet()).is_ok());
    assert_eq!(
        admits(&[&allow, &deny], &web(80), &vnet()).unwrap_err().1,
        "DenyAllInBound"
    );
    assert!(
        admits(&[], &web(80), &vnet()).is_ok(),
        "no group: nothing filters"
    );
}

#[test]
fn address_and_port_syntax() {
    assert_eq!(
        parse_address("internet").unwrap(),
        AddressMatch::Tag("Internet".into())
    );
    assert!(parse_address("10.0.0.1/8").is_err(), "host bits set");
    assert!(parse_address("Storage").is_err());
    assert_eq!(parse_ports("*").unwrap(), (0, 65535));
    assert_eq!(parse_ports("1000-2000").unwrap(), (1000, 2000));
    assert!(parse_ports("2000-1000").is_err());
    assert!(parse_ports("http").is_err());
}
