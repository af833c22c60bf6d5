//! From stored ARM state to what the runtime must make true: which instance processes run
//! (with which ports and program), which frontends listen, where each forwards, and which
//! probes run. A pure function of the documents, so every wiring rule has a unit test.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde_json::Value;

use super::ports::PortRule;
use crate::api::compute::instances::INTERNAL;

/// The stored documents the plan is made from.
#[derive(Debug, Default, Clone)]
pub struct State {
    pub load_balancers: Vec<Value>,
    pub public_ips: Vec<Value>,
    /// Every NIC row (standalone and scale-set instance NICs).
    pub nics: Vec<Value>,
    /// Scale-set instance rows (with their internal fields).
    pub instances: Vec<Value>,
    pub scale_sets: Vec<Value>,
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
    /// `running`, `stopped` or `deallocated`.
    pub power: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Udp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    Default,
    SourceIp,
    SourceIpProtocol,
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
    pub protocol: String,
    pub addr: SocketAddr,
    pub request_path: Option<String>,
    pub interval: Duration,
    pub threshold: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BackendPlan {
    pub instance: String,
    pub addr: SocketAddr,
    /// The probe deciding this backend's health, if the rule has one.
    pub probe: Option<ProbeRef>,
}

/// One listener: a load-balancing rule or an inbound NAT rule on a frontend.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontendPlan {
    /// `<rule id>` lower case (plus `|udp` for the UDP half of protocol All).
    pub key: String,
    pub bind: SocketAddr,
    pub transport: Transport,
    pub backends: Vec<BackendPlan>,
    pub distribution: Distribution,
    /// Azure time.
    pub idle_timeout: Duration,
    pub tcp_reset: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub instances: Vec<InstancePlan>,
    pub frontends: Vec<FrontendPlan>,
    pub probes: Vec<ProbePlan>,
}

fn lower(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_ascii_lowercase()
}

fn named<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|c| lower(&c["id"]) == id)
}

pub fn plan(state: &State, ports: PortRule) -> Plan {
    let mut instances: Vec<InstancePlan> =
        state.instances.iter().filter_map(instance_plan).collect();
    // Instance NIC ip configurations, by instance.
    let ip_configs: Vec<(String, &Value, usize)> = state
        .nics
        .iter()
        .flat_map(|nic| {
            let vm = lower(&nic["properties"]["virtualMachine"]["id"]);
            nic["properties"]["ipConfigurations"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |ipc| (vm.clone(), ipc))
        })
        .filter_map(|(vm, ipc)| {
            instances
                .iter()
                .position(|i| i.key == vm)
                .map(|idx| (lower(&ipc["id"]), &ipc["properties"], idx))
        })
        .collect();
    for (_, props, idx) in &ip_configs {
        if let Some(ip) = props["privateIPAddress"]
            .as_str()
            .and_then(|s| s.parse().ok())
            && props["primary"] != false
        {
            instances[*idx].private_ip = ip;
        }
    }

    let mut wanted_ports: Vec<Vec<(u16, PortKind)>> = vec![Vec::new(); instances.len()];
    // The health extension's port.
    for (idx, inst) in instances.iter().enumerate() {
        if let Some(settings) = health_extension(&inst.model) {
            let kind = if settings["protocol"].as_str() == Some("https") {
                PortKind::Https
            } else {
                PortKind::Http
            };
            if let Some(p) = settings["port"].as_u64() {
                wanted_ports[idx].push((p as u16, kind));
            }
        }
    }

    let mut frontends = Vec::new();
    let mut probes = Vec::new();
    for inst in &instances {
        if let Some(settings) = health_extension(&inst.model)
            && let Some(port) = settings["port"].as_u64()
        {
            let https = settings["protocol"].as_str() == Some("https");
            let tcp = settings["protocol"].as_str() == Some("tcp");
            probes.push(ProbePlan {
                key: (EXTENSION_PROBE.to_string(), inst.key.clone()),
                protocol: if tcp {
                    "Tcp"
                } else if https {
                    "Https"
                } else {
                    "Http"
                }
                .to_string(),
                addr: SocketAddr::from((inst.bind_address, ports.effective(port as u16))),
                request_path: Some(settings["requestPath"].as_str().unwrap_or("/").to_string()),
                // The extension reports every 5 s; one result flips it.
                interval: Duration::from_secs(
                    settings["intervalInSeconds"].as_u64().unwrap_or(5).max(1),
                ),
                threshold: settings["numberOfProbes"].as_u64().unwrap_or(1).max(1) as u32,
            });
        }
    }
    for lb in &state.load_balancers {
        let p = &lb["properties"];
        let frontend_addr = |fe_id: &str| -> Option<Ipv4Addr> {
            let fe = named(&p["frontendIPConfigurations"], fe_id)?;
            let pip = lower(&fe["properties"]["publicIPAddress"]["id"]);
            let ip = state.public_ips.iter().find(|ip| lower(&ip["id"]) == pip)?;
            ip["properties"]["ipAddress"].as_str()?.parse().ok()
        };
        for rule in p["loadBalancingRules"].as_array().into_iter().flatten() {
            let r = &rule["properties"];
            let Some(addr) = frontend_addr(&lower(&r["frontendIPConfiguration"]["id"])) else {
                continue;
            };
            let mut pools: Vec<String> = r["backendAddressPools"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| lower(&x["id"]))
                .collect();
            if pools.is_empty() {
                pools.push(lower(&r["backendAddressPool"]["id"]));
            }
            let probe_id = lower(&r["probe"]["id"]);
            let probe = (!probe_id.is_empty())
                .then(|| named(&p["probes"], &probe_id))
                .flatten();
            let backend_port = r["backendPort"].as_u64().unwrap_or(0) as u16;
            let frontend_port = r["frontendPort"].as_u64().unwrap_or(0) as u16;
            let probe_kind = |probe: &Value| match probe["properties"]["protocol"].as_str() {
                Some("Https") => PortKind::Https,
                _ => PortKind::Http,
            };
            let mut backends = Vec::new();
            for (_, props, idx) in &ip_configs {
                let in_pool = props["loadBalancerBackendAddressPools"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|x| pools.contains(&lower(&x["id"])));
                if !in_pool {
                    continue;
                }
                let inst = &instances[*idx];
                // A rule's backend port is served with the protocol its probe uses on that port.
                let kind = probe
                    .filter(|pr| pr["properties"]["port"].as_u64() == Some(backend_port as u64))
                    .map(probe_kind)
                    .unwrap_or(PortKind::Http);
                match r["protocol"].as_str() {
                    Some("Udp") => wanted_ports[*idx].push((backend_port, PortKind::Udp)),
                    Some("All") => {
                        wanted_ports[*idx].push((backend_port, kind));
                        wanted_ports[*idx].push((backend_port, PortKind::Udp));
                    }
                    _ => wanted_ports[*idx].push((backend_port, kind)),
                }
                let probe_key = probe.map(|pr| {
                    let port = pr["properties"]["port"].as_u64().unwrap_or(0) as u16;
                    wanted_ports[*idx].push((
                        port,
                        if pr["properties"]["protocol"] == "Tcp" {
                            PortKind::Http
                        } else {
                            probe_kind(pr)
                        },
                    ));
                    let key = (lower(&pr["id"]), inst.key.clone());
                    if !probes.iter().any(|x: &ProbePlan| x.key == key) {
                        probes.push(probe_plan(
                            pr,
                            key.clone(),
                            inst.bind_address,
                            ports.effective(port),
                        ));
                    }
                    key
                });
                backends.push(BackendPlan {
                    instance: inst.key.clone(),
                    addr: SocketAddr::from((inst.bind_address, ports.effective(backend_port))),
                    probe: probe_key,
                });
            }
            let transports: &[Transport] = match r["protocol"].as_str() {
                Some("Udp") => &[Transport::Udp],
                Some("All") => &[Transport::Tcp, Transport::Udp],
                _ => &[Transport::Tcp],
            };
            for t in transports {
                let mut key = lower(&rule["id"]);
                if *t == Transport::Udp && transports.len() > 1 {
                    key.push_str("|udp");
                }
                frontends.push(FrontendPlan {
                    key,
                    bind: SocketAddr::from((addr, ports.effective(frontend_port))),
                    transport: *t,
                    backends: backends.clone(),
                    distribution: match r["loadDistribution"].as_str() {
                        Some("SourceIP") => Distribution::SourceIp,
                        Some("SourceIPProtocol") => Distribution::SourceIpProtocol,
                        _ => Distribution::Default,
                    },
                    idle_timeout: minutes(&r["idleTimeoutInMinutes"]),
                    tcp_reset: r["enableTcpReset"] == true,
                });
            }
        }
        // Inbound NAT rules: a NIC ip configuration names the rule it is the backend of,
        // either an explicit rule or `<pool>.<k>` generated from a NAT pool (frontend port =
        // range start + k). One backend each.
        let lb_id = lower(&lb["id"]);
        for (_, props, idx) in &ip_configs {
            for reference in props["loadBalancerInboundNatRules"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let rule_id = lower(&reference["id"]);
                let Some(name) = rule_id.strip_prefix(&format!("{lb_id}/inboundnatrules/")) else {
                    continue;
                };
                let Some(nat) = nat_rule(p, name) else {
                    continue;
                };
                let Some(addr) = frontend_addr(&lower(&nat["frontendIPConfiguration"]["id"]))
                else {
                    continue;
                };
                let backend_port = nat["backendPort"].as_u64().unwrap_or(0) as u16;
                wanted_ports[*idx].push((backend_port, PortKind::Banner));
                let inst = &instances[*idx];
                frontends.push(FrontendPlan {
                    key: rule_id.clone(),
                    bind: SocketAddr::from((
                        addr,
                        ports.effective(nat["frontendPort"].as_u64().unwrap_or(0) as u16),
                    )),
                    transport: if nat["protocol"] == "Udp" {
                        Transport::Udp
                    } else {
                        Transport::Tcp
                    },
                    backends: vec![BackendPlan {
                        instance: inst.key.clone(),
                        addr: SocketAddr::from((inst.bind_address, ports.effective(backend_port))),
                        probe: None,
                    }],
                    distribution: Distribution::Default,
                    idle_timeout: minutes(&nat["idleTimeoutInMinutes"]),
                    tcp_reset: nat["enableTcpReset"] == true,
                });
            }
        }
    }

    for (inst, wanted) in instances.iter_mut().zip(wanted_ports) {
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

/// The properties of NAT rule `name` (lower case) of a load balancer: an explicit rule, or
/// `<pool>.<k>` derived from NAT pool `<pool>`.
fn nat_rule(lb_props: &Value, name: &str) -> Option<Value> {
    let by_name = |list: &Value, n: &str| {
        list.as_array()?
            .iter()
            .find(|c| {
                c["name"]
                    .as_str()
                    .is_some_and(|x| x.eq_ignore_ascii_case(n))
            })
            .map(|c| c["properties"].clone())
    };
    if let Some(explicit) = by_name(&lb_props["inboundNatRules"], name) {
        return Some(explicit);
    }
    let (pool_name, k) = name.rsplit_once('.')?;
    let k: u64 = k.parse().ok()?;
    let pool = by_name(&lb_props["inboundNatPools"], pool_name)?;
    let start = pool["frontendPortRangeStart"].as_u64()?;
    if start + k > pool["frontendPortRangeEnd"].as_u64()? {
        return None;
    }
    let mut rule = pool.clone();
    rule["frontendPort"] = serde_json::json!(start + k);
    Some(rule)
}

fn minutes(v: &Value) -> Duration {
    Duration::from_secs(v.as_u64().unwrap_or(4) * 60)
}

fn probe_plan(probe: &Value, key: ProbeRef, addr: Ipv4Addr, port: u16) -> ProbePlan {
    let p = &probe["properties"];
    // Azure today treats numberOfProbes like probeThreshold; probeThreshold wins when both are set.
    let threshold = p["probeThreshold"]
        .as_u64()
        .or_else(|| p["numberOfProbes"].as_u64())
        .unwrap_or(1)
        .max(1) as u32;
    ProbePlan {
        key,
        protocol: p["protocol"].as_str().unwrap_or("Tcp").to_string(),
        addr: SocketAddr::from((addr, port)),
        request_path: p["requestPath"].as_str().map(str::to_string),
        interval: Duration::from_secs(p["intervalInSeconds"].as_u64().unwrap_or(15).max(1)),
        threshold,
    }
}

fn health_extension(model: &Value) -> Option<&Value> {
    model["extensionProfile"]["extensions"]
        .as_array()?
        .iter()
        .find(|e| {
            e["properties"]["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("ApplicationHealth"))
        })
        .map(|e| &e["properties"]["settings"])
}

fn instance_plan(row: &Value) -> Option<InstancePlan> {
    let internal = &row[INTERNAL];
    let id = lower(&row["id"]);
    let scale_set = row["name"].as_str()?.rsplit_once('_')?.0.to_string();
    Some(InstancePlan {
        key: id,
        scale_set,
        scale_set_id: internal["scaleSet"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        instance_id: row["instanceId"].as_str()?.to_string(),
        name: row["name"].as_str()?.to_string(),
        private_ip: Ipv4Addr::UNSPECIFIED,
        bind_address: internal["bindAddress"].as_str()?.parse().ok()?,
        ports: Vec::new(),
        model: internal["model"].clone(),
        model_version: internal["modelVersion"].as_u64().unwrap_or(1),
        generation: internal["generation"].as_u64().unwrap_or(0),
        reimages: internal["reimages"].as_u64().unwrap_or(0),
        power: internal["power"].as_str().unwrap_or("running").to_string(),
    })
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
            "frontendIPConfigurations": [{"id": fe, "properties": {"publicIPAddress": {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip"}}}],
            "probes": [
                {"id": format!("{LB}/probes/http"), "properties": {"protocol": "Http", "port": 80, "requestPath": "/health", "intervalInSeconds": 15, "numberOfProbes": 2}},
                {"id": format!("{LB}/probes/https"), "properties": {"protocol": "Https", "port": 443, "requestPath": "/health", "intervalInSeconds": 15, "numberOfProbes": 2}}
            ],
            "loadBalancingRules": [
                {"id": format!("{LB}/loadBalancingRules/http"), "properties": {"frontendIPConfiguration": {"id": fe}, "backendAddressPool": {"id": pool}, "probe": {"id": format!("{LB}/probes/http")}, "protocol": "Tcp", "frontendPort": 80, "backendPort": 80, "idleTimeoutInMinutes": 15, "enableTcpReset": true}},
                {"id": format!("{LB}/loadBalancingRules/https"), "properties": {"frontendIPConfiguration": {"id": fe}, "backendAddressPool": {"id": pool}, "probe": {"id": format!("{LB}/probes/https")}, "protocol": "Tcp", "frontendPort": 443, "backendPort": 443, "loadDistribution": "SourceIP"}}
            ],
            "inboundNatPools": [
                {"name": "ssh", "properties": {"frontendIPConfiguration": {"id": fe}, "protocol": "Tcp", "frontendPortRangeStart": 50000, "frontendPortRangeEnd": 50099, "backendPort": 22}}
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
            instances.push(json!({"id": vm, "name": format!("web_{i}"), "instanceId": i.to_string(),
                "_armlet": {"bindAddress": format!("127.2.0.{}", i + 1), "model": {}, "modelVersion": 1, "power": "running"}}));
            nics.push(json!({"id": format!("{vm}/networkInterfaces/nic"), "properties": {"virtualMachine": {"id": vm}, "ipConfigurations": [
                {"id": format!("{vm}/networkInterfaces/nic/ipConfigurations/ipc"), "properties": {"privateIPAddress": format!("10.0.0.{}", i + 4), "primary": true,
                  "loadBalancerBackendAddressPools": [{"id": pool}], "loadBalancerInboundNatRules": nat}}]}}));
        }
        State {
            load_balancers: vec![lb],
            public_ips: vec![ip],
            nics,
            instances,
            scale_sets: vec![],
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
        assert_eq!(https.distribution, Distribution::SourceIp);
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
            .find(|p| p.protocol == "Http" && p.addr.ip() == Ipv4Addr::new(127, 2, 0, 1))
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
                (443, 10443, PortKind::Https)
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
}
