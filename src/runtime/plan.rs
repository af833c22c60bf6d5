//! From stored ARM state to what the runtime must make true: which instance processes run
//! (with which ports and program), which frontends listen, where each forwards, and which
//! probes run. A pure function of typed views of the documents (each load balancer read
//! through [`crate::model::network::resolution`], the reading the API shares), so every
//! wiring rule has a unit test.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde_json::Value;

use super::ports::PortRule;
use super::probe::app_health::AppHealthSettings;
use crate::model::compute::instance::{Instance, PowerState};
use crate::model::network::resolution::{self, NatOrigin, ProbeBinding};
use crate::model::network::{
    IpConfigView, LoadBalancer, LoadDistribution, NoHealthyBackends, ProbeProtocol, PublicIp,
    TransportProtocol,
};

/// The stored state the plan is made from, as typed views.
#[derive(Debug, Default, Clone)]
pub struct State {
    pub load_balancers: Vec<LoadBalancer>,
    pub public_ips: Vec<PublicIp>,
    /// The ip configurations of every NIC (standalone and scale-set instance NICs).
    pub ip_configs: Vec<IpConfigView>,
    pub instances: Vec<Instance>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortKind {
    Http,
    Https,
    Banner,
    Udp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstancePort {
    /// The port Azure would use.
    pub port: u16,
    /// The port bound on this machine.
    pub bound: u16,
    pub kind: PortKind,
}

/// An instance process that should exist.
#[derive(Debug, Clone, PartialEq)]
pub struct InstancePlan {
    /// The instance row's lower-case id.
    pub key: String,
    pub scale_set: String,
    /// The scale set's lower-case id.
    pub scale_set_id: String,
    pub instance_id: String,
    pub name: String,
    pub private_ip: Ipv4Addr,
    pub bind_address: Ipv4Addr,
    pub ports: Vec<InstancePort>,
    /// The model the instance runs (its `virtualMachineProfile`).
    pub model: Value,
    pub model_version: u64,
    /// Bumped by restart, reimage and model changes: a different generation is a new process.
    pub generation: u64,
    pub reimages: u64,
    pub power: PowerState,
    /// The VM size (`Standard_D2s_v3`): `Percentage CPU` and `Available Memory Bytes` are
    /// measured against it.
    pub vm_size: String,
}

impl InstancePlan {
    pub fn should_run(&self) -> bool {
        self.power == PowerState::Running
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Udp,
}

/// Which probe of which backend: the probe's lower-case id (or `extension` for the
/// ApplicationHealth extension) and the instance key.
pub type ProbeRef = (String, String);

/// The probe id under which the ApplicationHealth extension's checks are kept.
pub const EXTENSION_PROBE: &str = "extension";

/// A probe of one backend.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbePlan {
    pub key: ProbeRef,
    pub protocol: ProbeProtocol,
    /// The instance's loopback address and the effective port.
    pub addr: SocketAddr,
    /// The port as Azure names it (the instance serves it).
    pub azure_port: u16,
    pub request_path: Option<String>,
    pub interval: Duration,
    pub threshold: u32,
    /// The Application Health extension's own rules, for its probes.
    pub app_health: Option<AppHealthSettings>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BackendPlan {
    pub instance: String,
    pub addr: SocketAddr,
    /// The probe deciding this backend's health, if the rule has one.
    pub probe: Option<ProbeRef>,
    /// The backend's private IP address and the rule's backend port, as Azure names them
    /// (the metrics' `BackendIPAddress` and `BackendPort`).
    pub ip: String,
    pub port: u16,
}

/// What made a listener: a load-balancing rule or an inbound NAT mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontendKind {
    Rule,
    Nat,
}

/// One listener: a load-balancing rule or an inbound NAT rule on a frontend.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontendPlan {
    /// `<rule id>` lower case (plus `|udp` for the UDP half of protocol All).
    pub key: String,
    pub bind: SocketAddr,
    pub transport: Transport,
    pub backends: Vec<BackendPlan>,
    pub distribution: LoadDistribution,
    /// Azure time.
    pub idle_timeout: Duration,
    pub tcp_reset: bool,
    /// Where new flows go when every probed backend is down.
    pub no_healthy: NoHealthyBackends,
    /// The load balancer's lower-case id: its metrics are stored under it.
    pub load_balancer: String,
    /// The frontend IP address and port as Azure names them (the metrics'
    /// `FrontendIPAddress` and `FrontendPort`; `bind` may have moved the port).
    pub frontend_ip: Ipv4Addr,
    pub frontend_port: u16,
    pub kind: FrontendKind,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub instances: Vec<InstancePlan>,
    pub frontends: Vec<FrontendPlan>,
    pub probes: Vec<ProbePlan>,
}

/// Ports each instance must serve, collected while frontends are planned.
struct Wanted(Vec<Vec<(u16, PortKind)>>);

impl Wanted {
    fn add(&mut self, idx: usize, port: u16, kind: PortKind) {
        self.0[idx].push((port, kind));
    }
}

pub fn plan(state: &State, ports: PortRule) -> Plan {
    let mut instances: Vec<InstancePlan> = state.instances.iter().map(instance_plan).collect();
    for c in &state.ip_configs {
        if let (Some(idx), Some(ip), true) = (
            index_of(&instances, c.instance.as_deref()),
            c.private_ip,
            c.primary,
        ) {
            instances[idx].private_ip = ip;
        }
    }
    let mut wanted = Wanted(vec![Vec::new(); instances.len()]);
    let mut frontends = Vec::new();
    let mut probes = Vec::new();

    for (idx, inst) in instances.iter().enumerate() {
        if let Some(probe) = health_extension_probe(inst, ports) {
            let kind = match probe.protocol {
                ProbeProtocol::Https => PortKind::Https,
                _ => PortKind::Http,
            };
            wanted.add(idx, probe.azure_port, kind);
            probes.push(probe);
        }
    }

    for lb in &state.load_balancers {
        let r = resolution::resolve(lb, &state.public_ips, &state.ip_configs);
        for rule in &r.rules {
            let Some(addr) = rule.frontend.address else {
                continue;
            };
            let mut backends = Vec::new();
            for member in &rule.members {
                let Some(idx) = index_of(&instances, member.instance.as_deref()) else {
                    continue; // IP-based backends are not in the data plane
                };
                let inst = &instances[idx];
                // A rule's backend port is served with the protocol its probe uses on that port.
                let kind = match &rule.probe {
                    Some(p)
                        if p.port == rule.backend_port && p.protocol == ProbeProtocol::Https =>
                    {
                        PortKind::Https
                    }
                    _ => PortKind::Http,
                };
                match rule.protocol {
                    TransportProtocol::Udp => wanted.add(idx, rule.backend_port, PortKind::Udp),
                    TransportProtocol::All => {
                        wanted.add(idx, rule.backend_port, kind);
                        wanted.add(idx, rule.backend_port, PortKind::Udp);
                    }
                    TransportProtocol::Tcp => wanted.add(idx, rule.backend_port, kind),
                }
                let probe = rule.probe.as_ref().map(|p| {
                    let kind = match p.protocol {
                        ProbeProtocol::Https => PortKind::Https,
                        _ => PortKind::Http,
                    };
                    wanted.add(idx, p.port, kind);
                    let key = (p.id.to_ascii_lowercase(), inst.key.clone());
                    if !probes.iter().any(|x: &ProbePlan| x.key == key) {
                        probes.push(probe_plan(p, key.clone(), inst.bind_address, ports));
                    }
                    key
                });
                backends.push(BackendPlan {
                    instance: inst.key.clone(),
                    addr: SocketAddr::from((inst.bind_address, ports.effective(rule.backend_port))),
                    probe,
                    ip: member.ip_address.clone().unwrap_or_default(),
                    port: rule.backend_port,
                });
            }
            let transports: &[Transport] = match rule.protocol {
                TransportProtocol::Udp => &[Transport::Udp],
                TransportProtocol::All => &[Transport::Tcp, Transport::Udp],
                TransportProtocol::Tcp => &[Transport::Tcp],
            };
            for t in transports {
                let mut key = rule.id.to_ascii_lowercase();
                if *t == Transport::Udp && transports.len() > 1 {
                    key.push_str("|udp");
                }
                frontends.push(FrontendPlan {
                    key,
                    bind: SocketAddr::from((addr, ports.effective(rule.frontend_port))),
                    transport: *t,
                    backends: backends.clone(),
                    distribution: rule.distribution,
                    idle_timeout: rule.idle_timeout,
                    tcp_reset: rule.tcp_reset,
                    no_healthy: rule
                        .probe
                        .as_ref()
                        .map_or(NoHealthyBackends::AllProbedDown, |p| p.no_healthy),
                    load_balancer: lb.id.to_ascii_lowercase(),
                    frontend_ip: addr,
                    frontend_port: rule.frontend_port,
                    kind: FrontendKind::Rule,
                });
            }
        }
        // Inbound NAT: explicit rules, rules over a pool, NAT pool instances; one backend each.
        for nat in &r.nat {
            let (Some(addr), Some(idx)) = (
                nat.frontend.address,
                index_of(&instances, nat.member.instance.as_deref()),
            ) else {
                continue;
            };
            let inst = &instances[idx];
            let udp = nat.protocol == TransportProtocol::Udp;
            wanted.add(
                idx,
                nat.backend_port,
                if udp { PortKind::Udp } else { PortKind::Banner },
            );
            let mut key = nat.id.to_ascii_lowercase();
            if let NatOrigin::PoolRule { index, .. } = nat.origin {
                key.push_str(&format!("|{index}"));
            }
            frontends.push(FrontendPlan {
                key,
                bind: SocketAddr::from((addr, ports.effective(nat.frontend_port))),
                transport: if udp { Transport::Udp } else { Transport::Tcp },
                backends: vec![BackendPlan {
                    instance: inst.key.clone(),
                    addr: SocketAddr::from((inst.bind_address, ports.effective(nat.backend_port))),
                    probe: None,
                    ip: nat.member.ip_address.clone().unwrap_or_default(),
                    port: nat.backend_port,
                }],
                distribution: LoadDistribution::Default,
                idle_timeout: nat.idle_timeout,
                tcp_reset: nat.tcp_reset,
                no_healthy: NoHealthyBackends::AllProbedDown,
                load_balancer: lb.id.to_ascii_lowercase(),
                frontend_ip: addr,
                frontend_port: nat.frontend_port,
                kind: FrontendKind::Nat,
            });
        }
    }

    for (inst, wanted) in instances.iter_mut().zip(wanted.0) {
        for (port, kind) in wanted {
            // One TCP kind per port, plus possibly a UDP echo on the same number.
            let udp = kind == PortKind::Udp;
            if port == 0
                || inst
                    .ports
                    .iter()
                    .any(|p| p.port == port && (p.kind == PortKind::Udp) == udp)
            {
                continue;
            }
            inst.ports.push(InstancePort {
                port,
                bound: ports.effective(port),
                kind,
            });
        }
        inst.ports
            .sort_by_key(|p| (p.port, p.kind == PortKind::Udp));
    }
    Plan {
        instances,
        frontends,
        probes,
    }
}

/// The index of the planned instance with lower-case id `key`.
fn index_of(instances: &[InstancePlan], key: Option<&str>) -> Option<usize> {
    let key = key?;
    instances.iter().position(|i| i.key == key)
}

fn probe_plan(p: &ProbeBinding, key: ProbeRef, addr: Ipv4Addr, ports: PortRule) -> ProbePlan {
    ProbePlan {
        key,
        protocol: p.protocol,
        addr: SocketAddr::from((addr, ports.effective(p.port))),
        azure_port: p.port,
        request_path: p.request_path.clone(),
        interval: p.interval,
        threshold: p.threshold,
        app_health: None,
    }
}

/// The Application Health extension's probe of an instance, if its model has the
/// extension (settings and defaults as Azure documents them; see [`super::probe::app_health`]).
fn health_extension_probe(inst: &InstancePlan, ports: PortRule) -> Option<ProbePlan> {
    let extension = health_extension(&inst.model)?;
    let settings = &extension["settings"];
    let protocol = match settings["protocol"].as_str() {
        Some(p) if p.eq_ignore_ascii_case("https") => ProbeProtocol::Https,
        Some(p) if p.eq_ignore_ascii_case("tcp") => ProbeProtocol::Tcp,
        _ => ProbeProtocol::Http,
    };
    // "port: optional when protocol is http or https, mandatory when protocol is tcp".
    let default_port = match protocol {
        ProbeProtocol::Https => Some(443),
        ProbeProtocol::Http => Some(80),
        ProbeProtocol::Tcp => None,
    };
    let port = match number(&settings["port"]) {
        Some(p) => u16::try_from(p).ok()?,
        None => default_port?,
    };
    let interval = number(&settings["intervalInSeconds"]).unwrap_or(5).max(1);
    let probes = number(&settings["numberOfProbes"]).unwrap_or(1).max(1);
    // Rich Health States come with typeHandlerVersion 2.x.
    let rich = extension["typeHandlerVersion"]
        .as_str()
        .and_then(|v| v.split('.').next())
        .and_then(|major| major.parse::<u32>().ok())
        .is_some_and(|major| major >= 2);
    let grace = number(&settings["gracePeriod"])
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(interval * probes))
        .min(super::probe::app_health::MAX_GRACE);
    Some(ProbePlan {
        key: (EXTENSION_PROBE.to_string(), inst.key.clone()),
        protocol,
        addr: SocketAddr::from((inst.bind_address, ports.effective(port))),
        azure_port: port,
        request_path: Some(settings["requestPath"].as_str().unwrap_or("/").to_string()),
        interval: Duration::from_secs(interval),
        threshold: probes as u32,
        app_health: Some(AppHealthSettings { rich, grace }),
    })
}

/// A setting that is a number, or a string holding one (`--settings` values arrive as either).
fn number(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// The Application Health extension's `properties` in an instance model, if it has one.
pub fn health_extension(model: &Value) -> Option<&Value> {
    model["extensionProfile"]["extensions"]
        .as_array()?
        .iter()
        .find(|e| {
            e["properties"]["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("ApplicationHealth"))
        })
        .map(|e| &e["properties"])
}

fn instance_plan(inst: &Instance) -> InstancePlan {
    let s = &inst.state;
    InstancePlan {
        key: inst.key.clone(),
        scale_set: inst.scale_set_name().to_string(),
        scale_set_id: s.scale_set.clone(),
        instance_id: inst.instance_id.clone(),
        name: inst.name.clone(),
        private_ip: Ipv4Addr::UNSPECIFIED,
        bind_address: s.bind_address,
        ports: Vec::new(),
        model: s.model.clone(),
        model_version: s.model_version,
        generation: s.generation,
        reimages: s.reimages,
        power: s.power,
        vm_size: inst.size.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LB: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb";
    const VMSS: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/web";

    fn tutorial_state() -> State {
        let fe = format!("{LB}/frontendIPConfigurations/fe");
        let pool = format!("{LB}/backendAddressPools/pool");
        let lb = json!({"id": LB, "properties": {
            "frontendIPConfigurations": [{"id": fe, "name": "fe", "properties": {"publicIPAddress": {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip"}}}],
            "backendAddressPools": [{"id": pool, "name": "pool", "properties": {}}],
            "probes": [
                {"id": format!("{LB}/probes/http"), "name": "http", "properties": {"protocol": "Http", "port": 80, "requestPath": "/health", "intervalInSeconds": 15, "numberOfProbes": 2}},
                {"id": format!("{LB}/probes/https"), "name": "https", "properties": {"protocol": "Https", "port": 443, "requestPath": "/health", "intervalInSeconds": 15, "numberOfProbes": 2, "noHealthyBackendsBehavior": "AllProbedUp"}}
            ],
            "loadBalancingRules": [
                {"id": format!("{LB}/loadBalancingRules/http"), "name": "http", "properties": {"frontendIPConfiguration": {"id": fe}, "backendAddressPool": {"id": pool}, "probe": {"id": format!("{LB}/probes/http")}, "protocol": "Tcp", "frontendPort": 80, "backendPort": 80, "idleTimeoutInMinutes": 15, "enableTcpReset": true}},
                {"id": format!("{LB}/loadBalancingRules/https"), "name": "https", "properties": {"frontendIPConfiguration": {"id": fe}, "backendAddressPool": {"id": pool}, "probe": {"id": format!("{LB}/probes/https")}, "protocol": "Tcp", "frontendPort": 443, "backendPort": 443, "loadDistribution": "SourceIP"}}
            ],
            "inboundNatRules": [
                {"id": format!("{LB}/inboundNatRules/rdp"), "name": "rdp", "properties": {"frontendIPConfiguration": {"id": fe}, "protocol": "Tcp", "frontendPortRangeStart": 6000, "frontendPortRangeEnd": 6009, "backendPort": 3389, "backendAddressPool": {"id": pool}}}
            ],
            "inboundNatPools": [
                {"id": format!("{LB}/inboundNatPools/ssh"), "name": "ssh", "properties": {"frontendIPConfiguration": {"id": fe}, "protocol": "Tcp", "frontendPortRangeStart": 50000, "frontendPortRangeEnd": 50099, "backendPort": 22}}
            ]
        }});
        let ip = json!({"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip", "properties": {"ipAddress": "127.1.0.1"}});
        let mut instances = Vec::new();
        let mut nics = Vec::new();
        for i in 0..2 {
            let vm = format!("{VMSS}/virtualMachines/{i}");
            let nat = if i == 1 {
                json!([{"id": format!("{LB}/inboundNatRules/ssh.1")}])
            } else {
                json!([])
            };
            let doc = json!({"id": vm, "name": format!("web_{i}"), "instanceId": i.to_string(), "sku": {"name": "Standard_B1s"},
                "_armlet": {"scaleSet": VMSS.to_lowercase(), "bindAddress": format!("127.2.0.{}", i + 1), "model": {}, "modelVersion": 1,
                    "power": "running", "created": i, "generation": 0}});
            instances.push(Instance::of(&doc).unwrap());
            nics.push(json!({"id": format!("{vm}/networkInterfaces/nic"), "properties": {"virtualMachine": {"id": vm}, "ipConfigurations": [
                {"name": "ipc", "properties": {"privateIPAddress": format!("10.0.0.{}", i + 4), "primary": true,
                  "loadBalancerBackendAddressPools": [{"id": pool}], "loadBalancerInboundNatRules": nat}}]}}));
        }
        State {
            load_balancers: vec![LoadBalancer::from_doc(&lb).unwrap()],
            public_ips: vec![serde_json::from_value(ip).unwrap()],
            ip_configs: crate::model::network::nic::ip_configs_of(&nics),
            instances,
        }
    }

    fn rule(privileged_ok: bool) -> PortRule {
        PortRule {
            privileged_ok,
            unprivileged_start: 1024,
        }
    }

    #[test]
    fn tutorial_rules_become_frontends_on_the_public_ip() {
        let plan = plan(&tutorial_state(), rule(true));
        let http = plan
            .frontends
            .iter()
            .find(|f| f.key.ends_with("loadbalancingrules/http"))
            .unwrap();
        assert_eq!(http.bind, "127.1.0.1:80".parse().unwrap());
        assert_eq!(http.backends.len(), 2);
        assert_eq!(http.backends[1].addr, "127.2.0.2:80".parse().unwrap());
        assert_eq!(http.idle_timeout, Duration::from_secs(900));
        assert!(http.tcp_reset);
        let https = plan
            .frontends
            .iter()
            .find(|f| f.key.ends_with("loadbalancingrules/https"))
            .unwrap();
        assert_eq!(https.distribution, LoadDistribution::SourceIp);
        assert_eq!(https.no_healthy, NoHealthyBackends::AllProbedUp);
        assert_eq!(http.no_healthy, NoHealthyBackends::AllProbedDown);
        assert_eq!(
            https.idle_timeout,
            Duration::from_secs(240),
            "Azure's default is 4 minutes"
        );
    }

    #[test]
    fn probes_run_per_backend_with_threshold_from_number_of_probes() {
        let plan = plan(&tutorial_state(), rule(true));
        assert_eq!(plan.probes.len(), 4);
        let p = plan
            .probes
            .iter()
            .find(|p| {
                p.protocol == ProbeProtocol::Http && p.addr.ip() == Ipv4Addr::new(127, 2, 0, 1)
            })
            .unwrap();
        assert_eq!(p.threshold, 2);
        assert_eq!(p.interval, Duration::from_secs(15));
        assert_eq!(p.request_path.as_deref(), Some("/health"));
    }

    #[test]
    fn instances_serve_the_ports_rules_probes_and_nat_use() {
        let plan = plan(&tutorial_state(), rule(false));
        let one = plan
            .instances
            .iter()
            .find(|i| i.instance_id == "1")
            .unwrap();
        assert_eq!(one.private_ip, Ipv4Addr::new(10, 0, 0, 5));
        let kinds: Vec<(u16, u16, PortKind)> = one
            .ports
            .iter()
            .map(|p| (p.port, p.bound, p.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                (22, 10022, PortKind::Banner),
                (80, 10080, PortKind::Http),
                (443, 10443, PortKind::Https),
                (3389, 3389, PortKind::Banner)
            ]
        );
        let zero = plan
            .instances
            .iter()
            .find(|i| i.instance_id == "0")
            .unwrap();
        assert!(
            !zero.ports.iter().any(|p| p.port == 22),
            "only the NAT target serves the banner"
        );
    }

    #[test]
    fn frontends_and_backends_carry_their_metric_identities() {
        // Unprivileged: the listener moves to 10080, the metrics keep Azure's port 80.
        let plan = plan(&tutorial_state(), rule(false));
        let http = plan
            .frontends
            .iter()
            .find(|f| f.key.ends_with("loadbalancingrules/http"))
            .unwrap();
        assert_eq!(http.load_balancer, LB.to_ascii_lowercase());
        assert_eq!(
            (http.frontend_ip, http.frontend_port, http.kind),
            (Ipv4Addr::new(127, 1, 0, 1), 80, FrontendKind::Rule)
        );
        assert_eq!(http.bind.port(), 10080);
        let ips: Vec<(&str, u16)> = http
            .backends
            .iter()
            .map(|b| (b.ip.as_str(), b.port))
            .collect();
        assert_eq!(ips, [("10.0.0.4", 80), ("10.0.0.5", 80)]);
        let nat = plan
            .frontends
            .iter()
            .find(|f| f.key.ends_with("inboundnatrules/ssh.1"))
            .unwrap();
        assert_eq!(
            (
                nat.frontend_port,
                nat.kind,
                nat.backends[0].ip.as_str(),
                nat.backends[0].port
            ),
            (50001, FrontendKind::Nat, "10.0.0.5", 22)
        );
        assert!(plan.instances.iter().all(|i| i.vm_size == "Standard_B1s"));
    }

    #[test]
    fn nat_rules_forward_to_one_instance() {
        let plan = plan(&tutorial_state(), rule(false));
        let nat = plan
            .frontends
            .iter()
            .find(|f| f.key.ends_with("inboundnatrules/ssh.1"))
            .unwrap();
        assert_eq!(nat.bind, "127.1.0.1:50001".parse().unwrap());
        assert_eq!(nat.backends.len(), 1);
        assert_eq!(nat.backends[0].addr, "127.2.0.2:10022".parse().unwrap());
    }

    #[test]
    fn nat_rules_over_a_pool_listen_on_start_plus_member_index() {
        let plan = plan(&tutorial_state(), rule(false));
        let mut rdp: Vec<(u16, std::net::SocketAddr)> = plan
            .frontends
            .iter()
            .filter(|f| f.key.contains("inboundnatrules/rdp"))
            .map(|f| (f.bind.port(), f.backends[0].addr))
            .collect();
        rdp.sort();
        assert_eq!(
            rdp,
            [
                (6000, "127.2.0.1:3389".parse().unwrap()),
                (6001, "127.2.0.2:3389".parse().unwrap())
            ]
        );
    }

    #[test]
    fn the_health_extension_is_probed_with_its_settings() {
        let mut state = tutorial_state();
        let ext = |version: &str, settings: serde_json::Value| {
            json!({"extensionProfile": {"extensions": [{"name": "health", "properties": {
                "publisher": "Microsoft.ManagedServices", "type": "ApplicationHealthLinux",
                "typeHandlerVersion": version, "settings": settings}}]}})
        };
        state.instances[0].state.model = ext(
            "2.0",
            json!({"protocol": "http", "requestPath": "/state", "intervalInSeconds": "2", "numberOfProbes": 3}),
        );
        state.instances[1].state.model = ext("1.0", json!({"protocol": "tcp", "port": 8080}));
        let plan = plan(&state, rule(false));
        let probe = |n: usize| {
            plan.probes
                .iter()
                .find(|p| p.key == (EXTENSION_PROBE.to_string(), state.instances[n].key.clone()))
                .unwrap()
                .clone()
        };
        let rich = probe(0);
        assert_eq!(rich.azure_port, 80, "http defaults to port 80");
        assert_eq!((rich.interval, rich.threshold), (Duration::from_secs(2), 3));
        assert_eq!(
            rich.app_health,
            Some(AppHealthSettings {
                rich: true,
                grace: Duration::from_secs(6)
            }),
            "grace defaults to interval x numberOfProbes"
        );
        let binary = probe(1);
        assert_eq!(
            (binary.protocol, binary.azure_port),
            (ProbeProtocol::Tcp, 8080)
        );
        assert!(!binary.app_health.unwrap().rich);
    }
}
