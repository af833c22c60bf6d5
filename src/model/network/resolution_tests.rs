use serde_json::json;

use super::*;
use crate::model::network::nic::ip_configs_of;

const LB: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb";
const PIP: &str =
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip";

fn lb() -> LoadBalancer {
    let fe = format!("{LB}/frontendIPConfigurations/fe");
    let pool = format!("{LB}/backendAddressPools/pool");
    LoadBalancer::from_doc(&json!({"id": LB, "properties": {
        "frontendIPConfigurations": [{"id": fe, "name": "fe", "properties": {"publicIPAddress": {"id": PIP}}}],
        "backendAddressPools": [{"id": pool, "name": "pool", "properties": {
            "loadBalancerBackendAddresses": [{"name": "a", "properties": {"ipAddress": "10.0.0.9"}}]}}],
        "probes": [
            {"id": format!("{LB}/probes/http"), "name": "http", "properties": {"protocol": "Http", "port": 80, "requestPath": "/health", "intervalInSeconds": 15, "numberOfProbes": 2}},
            {"id": format!("{LB}/probes/up"), "name": "up", "properties": {"protocol": "Tcp", "port": 80, "noHealthyBackendsBehavior": "AllProbedUp"}}
        ],
        "loadBalancingRules": [
            {"id": format!("{LB}/loadBalancingRules/http"), "name": "http", "properties": {"frontendIPConfiguration": {"id": fe}, "backendAddressPool": {"id": pool}, "probe": {"id": format!("{LB}/probes/http")}, "protocol": "Tcp", "frontendPort": 80, "backendPort": 80, "idleTimeoutInMinutes": 15, "enableTcpReset": true}},
            {"id": format!("{LB}/loadBalancingRules/dns"), "name": "dns", "properties": {"frontendIPConfiguration": {"id": fe}, "backendAddressPools": [{"id": pool}], "probe": {"id": format!("{LB}/probes/up")}, "protocol": "Udp", "frontendPort": 53, "backendPort": 5353, "loadDistribution": "SourceIP"}}
        ],
        "inboundNatRules": [
            {"id": format!("{LB}/inboundNatRules/rdp"), "name": "rdp", "properties": {"frontendIPConfiguration": {"id": fe}, "protocol": "Tcp", "frontendPortRangeStart": 6000, "frontendPortRangeEnd": 6001, "backendPort": 3389, "backendAddressPool": {"id": pool}}},
            {"id": format!("{LB}/inboundNatRules/one"), "name": "one", "properties": {"frontendIPConfiguration": {"id": fe}, "protocol": "Tcp", "frontendPort": 7000, "backendPort": 7}}
        ],
        "inboundNatPools": [{"id": format!("{LB}/inboundNatPools/ssh"), "name": "ssh", "properties": {"frontendIPConfiguration": {"id": fe}, "protocol": "Tcp", "frontendPortRangeStart": 50000, "frontendPortRangeEnd": 50099, "backendPort": 22}}]
    }}))
    .unwrap()
}

fn configs(nat: &[(usize, &str)]) -> Vec<IpConfigView> {
    let docs: Vec<serde_json::Value> = (0..3)
        .map(|i| {
            let vm = format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/web/virtualMachines/{i}");
            let rules: Vec<_> = nat
                .iter()
                .filter(|(n, _)| *n == i)
                .map(|(_, r)| json!({"id": format!("{LB}/inboundNatRules/{r}")}))
                .collect();
            json!({"id": format!("{vm}/networkInterfaces/nic"), "properties": {"virtualMachine": {"id": vm}, "ipConfigurations": [
                {"name": "ipc", "properties": {"privateIPAddress": format!("10.0.0.{}", i + 4),
                  "loadBalancerBackendAddressPools": [{"id": format!("{LB}/backendAddressPools/pool")}],
                  "loadBalancerInboundNatRules": rules}}]}})
        })
        .collect();
    ip_configs_of(&docs)
}

fn pip() -> Vec<PublicIp> {
    vec![
        serde_json::from_value(json!({"id": PIP, "properties": {"ipAddress": "127.1.0.1"}}))
            .unwrap(),
    ]
}

#[test]
fn rules_bind_their_frontend_members_and_probe() {
    let r = resolve(&lb(), &pip(), &configs(&[]));
    let http = r.rule(&format!("{LB}/loadBalancingRules/http")).unwrap();
    assert_eq!(http.frontend.address, Some(Ipv4Addr::new(127, 1, 0, 1)));
    assert_eq!(http.members.len(), 4, "three NICs and one IP address");
    assert_eq!(
        http.members[1]
            .instance
            .as_deref()
            .map(|i| i.ends_with("virtualmachines/1")),
        Some(true)
    );
    assert_eq!(http.members[3].ip_address.as_deref(), Some("10.0.0.9"));
    let probe = http.probe.as_ref().unwrap();
    assert_eq!(
        (probe.threshold, probe.interval),
        (2, Duration::from_secs(15))
    );
    assert_eq!(probe.no_healthy, NoHealthyBackends::AllProbedDown);
    assert_eq!(http.idle_timeout, Duration::from_secs(900));
    assert!(http.tcp_reset);
    let dns = r.rule(&format!("{LB}/loadBalancingRules/dns")).unwrap();
    assert_eq!(dns.protocol, TransportProtocol::Udp);
    assert_eq!(dns.backend_port, 5353);
    assert_eq!(dns.distribution, LoadDistribution::SourceIp);
    assert_eq!(
        dns.idle_timeout,
        Duration::from_secs(240),
        "Azure's default is 4 minutes"
    );
    assert_eq!(
        dns.probe.as_ref().unwrap().no_healthy,
        NoHealthyBackends::AllProbedUp
    );
}

#[test]
fn nat_rules_over_a_pool_give_member_k_the_port_start_plus_k() {
    let r = resolve(&lb(), &pip(), &configs(&[]));
    let rdp: Vec<&NatBinding> = r.nat.iter().filter(|n| n.name == "rdp").collect();
    assert_eq!(
        rdp.len(),
        2,
        "a two-port range covers two of the four members"
    );
    assert_eq!(rdp[0].frontend_port, 6000);
    assert_eq!(rdp[1].frontend_port, 6001);
    assert!(rdp[1].member.instance.as_deref().unwrap().ends_with("/1"));
    assert_eq!(rdp[1].backend_port, 3389);
    assert_eq!(rdp[1].frontend.address, Some(Ipv4Addr::new(127, 1, 0, 1)));
}

#[test]
fn nat_pool_instances_and_single_rules_go_to_the_ip_configuration_naming_them() {
    let r = resolve(
        &lb(),
        &pip(),
        &configs(&[(1, "ssh.1"), (0, "ssh.0"), (2, "one"), (2, "ssh.100")]),
    );
    let pool: Vec<(String, u16)> = r
        .nat_pool_instances()
        .map(|n| (n.name.clone(), n.frontend_port))
        .collect();
    assert_eq!(
        pool,
        [("ssh.0".into(), 50000), ("ssh.1".into(), 50001)],
        "k=100 is outside the range"
    );
    let ssh1 = r.nat.iter().find(|n| n.name == "ssh.1").unwrap();
    assert_eq!(ssh1.id, format!("{LB}/inboundNatRules/ssh.1"));
    assert_eq!(ssh1.backend_port, 22);
    assert!(ssh1.member.instance.as_deref().unwrap().ends_with("/1"));
    let one = r.nat.iter().find(|n| n.name == "one").unwrap();
    assert_eq!(
        (one.frontend_port, one.backend_port, &one.origin),
        (7000, 7, &NatOrigin::Rule)
    );
}

#[test]
fn next_nat_pool_index_is_the_smallest_unused_in_range() {
    let lb = lb();
    assert_eq!(
        next_nat_pool_index(&lb, "SSH", &configs(&[(0, "ssh.0"), (1, "ssh.2")])),
        Some(1)
    );
    assert_eq!(next_nat_pool_index(&lb, "nope", &configs(&[])), None);
    let mut tiny = lb.clone();
    tiny.properties.inbound_nat_pools[0]
        .properties
        .frontend_port_range_end = 50000;
    assert_eq!(
        next_nat_pool_index(&tiny, "ssh", &configs(&[(0, "ssh.0")])),
        None
    );
}
