//! What the control plane asks the supervisor to run: an [`InstanceSpec`], and the pure
//! encodings derived from it — the `ARMLET_*` environment, the `ARMLET_PORTS` list and the
//! filesystem-safe directory name of an instance key.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;
use std::str::FromStr;

use sha2::Digest;

use super::program::Program;

/// One instance the supervisor runs.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceSpec {
    /// Unique and stable, e.g. `<lowercase vmss id>/<instance id>`; names the directory.
    pub key: String,
    /// The scale set's name.
    pub scale_set: String,
    /// `0`, `1`, ...
    pub instance_id: String,
    /// `{vmss}_{id}`.
    pub instance_name: String,
    /// The NIC's IP as Azure reports it (e.g. 10.0.0.4).
    pub private_ip: Ipv4Addr,
    /// The loopback address the process binds (127.x.y.z), distinct per instance.
    pub bind_address: Ipv4Addr,
    /// What the built-in app serves (user programs get the list in `ARMLET_PORTS`).
    pub ports: Vec<PortSpec>,
    pub program: Program,
    /// Shown by the built-in app.
    pub model_version: String,
    pub extra_env: Vec<(String, String)>,
}

/// One port of an instance: the Azure port, where it is really bound, and what serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec {
    /// The port Azure reports (a backend port of an LB rule, probe or NAT pool).
    pub port: u16,
    /// The port actually bound ([`crate::runtime::ports::PortRule::effective`]).
    pub bound: u16,
    pub kind: PortKind,
}

/// What the built-in app serves on a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortKind {
    /// HTTP/1.1: identity, health, CPU burn, slow responses.
    Http,
    /// The same routes over TLS with a self-signed certificate.
    Https,
    /// A one-line banner naming the instance, then an echo (NAT backend ports such as 22).
    Banner,
    /// A UDP echo that prefixes each answer with the instance's name (UDP rules).
    Udp,
}

impl fmt::Display for PortKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PortKind::Http => "http",
            PortKind::Https => "https",
            PortKind::Banner => "banner",
            PortKind::Udp => "udp",
        })
    }
}

impl FromStr for PortKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "http" => Ok(PortKind::Http),
            "https" => Ok(PortKind::Https),
            "banner" | "tcp" => Ok(PortKind::Banner),
            "udp" => Ok(PortKind::Udp),
            other => Err(format!("unknown port kind {other:?}")),
        }
    }
}

/// `80=10080/http,443=10443/https,22=10022/banner`.
pub fn encode_ports(ports: &[PortSpec]) -> String {
    ports
        .iter()
        .map(|p| format!("{}={}/{}", p.port, p.bound, p.kind))
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses [`encode_ports`]' format; `80/http` (bound = Azure port) is accepted too.
pub fn parse_ports(text: &str) -> Result<Vec<PortSpec>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (ports, kind) = item
                .split_once('/')
                .ok_or_else(|| format!("{item:?}: expected PORT=BOUND/KIND"))?;
            let (port, bound) = ports.split_once('=').unwrap_or((ports, ports));
            let number = |s: &str| {
                s.trim()
                    .parse::<u16>()
                    .map_err(|_| format!("{item:?}: {s:?} is not a port"))
            };
            Ok(PortSpec {
                port: number(port)?,
                bound: number(bound)?,
                kind: kind.parse()?,
            })
        })
        .collect()
}

/// The port `PORT` names: the first http port, else the first port.
pub fn primary_port(ports: &[PortSpec]) -> Option<u16> {
    ports
        .iter()
        .find(|p| p.kind == PortKind::Http)
        .or_else(|| ports.first())
        .map(|p| p.bound)
}

/// The variables armlet sets for an instance process running in `dir` (see the module docs).
/// Variables of armlet's own environment an instance does not inherit: armlet's
/// configuration and anything that looks like a credential (Azure SDK and Terraform
/// credentials, secrets, passwords, tokens).
pub fn is_host_private(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["ARMLET_", "AZURE_", "ARM_", "MSI_", "IDENTITY_"]
        .iter()
        .any(|p| upper.starts_with(p))
        || [
            "SECRET",
            "PASSWORD",
            "PASSWD",
            "TOKEN",
            "CREDENTIAL",
            "API_KEY",
            "PRIVATE_KEY",
        ]
        .iter()
        .any(|w| upper.contains(w))
}

pub fn environment(spec: &InstanceSpec, dir: &Path) -> Vec<(String, String)> {
    let mut env = vec![
        ("ARMLET_INSTANCE_KEY", spec.key.clone()),
        ("ARMLET_INSTANCE_ID", spec.instance_id.clone()),
        ("ARMLET_INSTANCE_NAME", spec.instance_name.clone()),
        ("ARMLET_VMSS_NAME", spec.scale_set.clone()),
        ("ARMLET_PRIVATE_IP", spec.private_ip.to_string()),
        ("ARMLET_BIND_ADDRESS", spec.bind_address.to_string()),
        ("ARMLET_PORTS", encode_ports(&spec.ports)),
        ("ARMLET_MODEL_VERSION", spec.model_version.clone()),
        ("ARMLET_INSTANCE_DIR", dir.display().to_string()),
        ("ARMLET_ROOT", dir.join("root").display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect::<Vec<_>>();
    if let Some(port) = primary_port(&spec.ports) {
        env.push(("PORT".into(), port.to_string()));
    }
    env.extend(spec.extra_env.iter().cloned());
    env
}

/// A directory name for `key`: a readable, sanitised tail of the key and a digest of all
/// of it, so distinct keys never share a directory and no key escapes the runtime dir.
pub fn dir_name(key: &str) -> String {
    let digest = sha2::Sha256::digest(key.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let readable: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let tail: String = {
        let chars: Vec<char> = readable.trim_matches(['_', '.']).chars().collect();
        chars[chars.len().saturating_sub(40)..].iter().collect()
    };
    let tail = tail.trim_start_matches(['_', '.']);
    if tail.is_empty() {
        hex
    } else {
        format!("{tail}-{hex}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports() -> Vec<PortSpec> {
        vec![
            PortSpec {
                port: 80,
                bound: 10080,
                kind: PortKind::Http,
            },
            PortSpec {
                port: 443,
                bound: 10443,
                kind: PortKind::Https,
            },
            PortSpec {
                port: 22,
                bound: 10022,
                kind: PortKind::Banner,
            },
        ]
    }

    #[test]
    fn ports_round_trip() {
        let text = encode_ports(&ports());
        assert_eq!(text, "80=10080/http,443=10443/https,22=10022/banner");
        assert_eq!(parse_ports(&text).unwrap(), ports());
        assert_eq!(parse_ports("").unwrap(), vec![]);
    }

    #[test]
    fn short_port_form_and_errors() {
        let p = parse_ports("8080/HTTP").unwrap();
        assert_eq!(
            (p[0].port, p[0].bound, p[0].kind),
            (8080, 8080, PortKind::Http)
        );
        assert!(parse_ports("80=x/http").is_err());
        assert!(parse_ports("80=80").is_err());
        assert!(parse_ports("80=80/sctp").is_err());
        assert_eq!(parse_ports("53=53/udp").unwrap()[0].kind, PortKind::Udp);
    }

    #[test]
    fn primary_port_prefers_http() {
        assert_eq!(primary_port(&ports()), Some(10080));
        assert_eq!(primary_port(&ports()[1..]), Some(10443));
        assert_eq!(primary_port(&[]), None);
    }

    #[test]
    fn host_credentials_are_not_inherited() {
        for private in [
            "ARMLET_LOG",
            "AZURE_CLIENT_SECRET",
            "ARM_CLIENT_SECRET",
            "GITHUB_TOKEN",
            "DB_PASSWORD",
            "IDENTITY_HEADER",
        ] {
            assert!(is_host_private(private), "{private}");
        }
        for public in ["PATH", "HOME", "LANG", "TMPDIR"] {
            assert!(!is_host_private(public), "{public}");
        }
    }

    #[test]
    fn environment_names_the_instance() {
        let spec = InstanceSpec {
            key: "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachinescalesets/web/0".into(),
            scale_set: "web".into(),
            instance_id: "0".into(),
            instance_name: "web_0".into(),
            private_ip: "10.0.0.4".parse().unwrap(),
            bind_address: "127.1.0.4".parse().unwrap(),
            ports: ports(),
            program: Program::BuiltIn,
            model_version: "3".into(),
            extra_env: vec![("FOO".into(), "bar".into())],
        };
        let env = environment(&spec, Path::new("/d/web_0"));
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("ARMLET_INSTANCE_NAME"), Some("web_0"));
        assert_eq!(get("ARMLET_PRIVATE_IP"), Some("10.0.0.4"));
        assert_eq!(get("ARMLET_BIND_ADDRESS"), Some("127.1.0.4"));
        assert_eq!(get("ARMLET_ROOT"), Some("/d/web_0/root"));
        assert_eq!(get("PORT"), Some("10080"));
        assert_eq!(get("FOO"), Some("bar"));
    }

    #[test]
    fn dir_names_are_safe_distinct_and_stable() {
        let a = dir_name(
            "/subscriptions/S/resourceGroups/rg/providers/x/virtualMachineScaleSets/web/0",
        );
        let b = dir_name(
            "/subscriptions/S/resourceGroups/rg/providers/x/virtualMachineScaleSets/web/1",
        );
        assert_ne!(a, b);
        assert_eq!(
            a,
            dir_name(
                "/subscriptions/S/resourceGroups/rg/providers/x/virtualMachineScaleSets/web/0"
            )
        );
        assert!(a.contains("web_0-"), "{a}");
        for name in [a, b, dir_name("../../etc"), dir_name(""), dir_name("..")] {
            assert!(!name.is_empty() && !name.starts_with('.'), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
            );
            assert!(name.len() <= 40 + 17);
        }
    }
}
