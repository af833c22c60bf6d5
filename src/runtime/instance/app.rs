//! The built-in instance app, `armlet instance-app`: what an instance runs unless its
//! custom data or image says otherwise.
//!
//! It reads the `ARMLET_*` environment the supervisor sets ([`AppConfig::from_env`]), runs
//! a cloud-config boot phase if `ARMLET_CLOUD_CONFIG` names one ([`super::boot`]), then
//! serves every port of `ARMLET_PORTS` on `ARMLET_BIND_ADDRESS`: `http` and `https` with
//! the routes of [`super::http`], `banner` with [`super::banner`].
//!
//! On SIGTERM (or when the armlet that started it goes away) it stops accepting
//! connections, lets in-flight requests finish for up to `ARMLET_DRAIN_SECONDS` (default
//! 30) and exits 0. It logs to stdout.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::InstanceError;
use super::http::{Identity, Shared};
use super::spec::{self, PortKind, PortSpec};

/// The built-in app's configuration: the instance's environment.
#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    pub identity: Identity,
    pub bind_address: Ipv4Addr,
    pub ports: Vec<PortSpec>,
    pub instance_dir: PathBuf,
    /// A cloud-config (JSON, written by the supervisor) to run before serving.
    pub cloud_config: Option<PathBuf>,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub drain: Duration,
}

impl AppConfig {
    pub fn from_env() -> Result<Self, InstanceError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, InstanceError> {
        let bad = |var: &str, message: String| InstanceError::Env {
            var: var.into(),
            message,
        };
        let required = |var: &str| get(var).ok_or_else(|| bad(var, "is not set".into()));
        let ip = |var: &str| -> Result<Ipv4Addr, InstanceError> {
            let text = required(var)?;
            text.parse()
                .map_err(|_| bad(var, format!("{text:?} is not an IPv4 address")))
        };
        let ports = spec::parse_ports(&get("ARMLET_PORTS").unwrap_or_default())
            .map_err(|m| bad("ARMLET_PORTS", m))?;
        let drain = match get("ARMLET_DRAIN_SECONDS") {
            None => Duration::from_secs(30),
            Some(s) => s
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| {
                    bad(
                        "ARMLET_DRAIN_SECONDS",
                        format!("{s:?} is not a number of seconds"),
                    )
                })?,
        };
        let instance_dir = get("ARMLET_INSTANCE_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default();
        let instance_name = required("ARMLET_INSTANCE_NAME")?;
        Ok(AppConfig {
            identity: Identity {
                hostname: instance_name.replace('_', "-"),
                name: instance_name,
                instance_id: required("ARMLET_INSTANCE_ID")?,
                scale_set: get("ARMLET_VMSS_NAME").unwrap_or_default(),
                private_ip: ip("ARMLET_PRIVATE_IP")?,
                model_version: get("ARMLET_MODEL_VERSION").unwrap_or_default(),
            },
            bind_address: ip("ARMLET_BIND_ADDRESS")?,
            ports,
            instance_dir,
            cloud_config: get("ARMLET_CLOUD_CONFIG").map(PathBuf::from),
            drain,
        })
    }
}

/// Runs the app until `shutdown` resolves (or the parent process dies), then drains.
pub async fn run(
    config: AppConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let id = &config.identity;
    tracing::info!(
        name = %id.name, private_ip = %id.private_ip, bind = %config.bind_address,
        ports = %spec::encode_ports(&config.ports), model = %id.model_version,
        "armlet instance app starting"
    );
    let stop = CancellationToken::new();
    let signals = {
        let stop = stop.clone();
        async move {
            tokio::select! {
                _ = shutdown => tracing::info!("SIGTERM: draining"),
                _ = parent_gone() => tracing::warn!("the armlet that started this instance is gone: stopping"),
            }
            stop.cancel();
        }
    };
    tokio::pin!(signals);
    if let Some(path) = &config.cloud_config {
        let boot = super::boot::run_file(path, &config.instance_dir);
        tokio::select! {
            _ = boot => {}
            _ = &mut signals => {
                tracing::info!("stopped during boot");
                return Ok(());
            }
        }
    }

    let shared = Arc::new(Shared::new(
        config.identity.clone(),
        config.instance_dir.join("root/var/www/html"),
    ));
    let mut servers = tokio::task::JoinSet::new();
    let mut handles = Vec::new();
    for port in &config.ports {
        let addr = SocketAddr::from((config.bind_address, port.bound));
        if port.kind == PortKind::Udp {
            let socket = tokio::net::UdpSocket::bind(addr)
                .await
                .with_context(|| format!("binding UDP {addr} (Azure port {})", port.port))?;
            tracing::info!(%addr, azure_port = port.port, kind = %port.kind, "listening");
            let prefix = format!("{} ", config.identity.name);
            servers.spawn(super::banner::udp_echo(socket, prefix, stop.child_token()));
            continue;
        }
        let listener =
            bind(addr).with_context(|| format!("binding {addr} (Azure port {})", port.port))?;
        tracing::info!(%addr, azure_port = port.port, kind = %port.kind, "listening");
        let router = super::http::router(shared.clone(), *port)
            .into_make_service_with_connect_info::<SocketAddr>();
        match port.kind {
            PortKind::Http => {
                let handle = axum_server::Handle::new();
                let server = axum_server::from_tcp(listener)?.handle(handle.clone());
                handles.push(handle);
                servers
                    .spawn(async move { server.serve(router).await.map_err(anyhow::Error::from) });
            }
            PortKind::Https => {
                let tls = axum_server::tls_rustls::RustlsConfig::from_config(tls_config(&config)?);
                let handle = axum_server::Handle::new();
                let server =
                    axum_server::tls_rustls::from_tcp_rustls(listener, tls)?.handle(handle.clone());
                handles.push(handle);
                servers
                    .spawn(async move { server.serve(router).await.map_err(anyhow::Error::from) });
            }
            PortKind::Banner => {
                let line = super::banner::banner_line(&config.identity);
                let listener = tokio::net::TcpListener::from_std(listener)?;
                servers.spawn(super::banner::serve(listener, line, stop.child_token()));
            }
            PortKind::Udp => unreachable!("UDP ports are bound above"),
        }
    }
    tracing::info!("instance app ready");

    tokio::select! {
        _ = &mut signals => {}
        Some(result) = servers.join_next() => {
            // A server ending by itself is a failure: report it and exit non-zero.
            result??;
            anyhow::bail!("a listener stopped unexpectedly");
        }
    }
    for handle in &handles {
        handle.graceful_shutdown(Some(config.drain));
    }
    let drained = tokio::time::timeout(config.drain + Duration::from_secs(1), async {
        while servers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "in-flight requests did not finish within {:?}",
            config.drain
        );
    }
    tracing::info!("instance app stopped");
    Ok(())
}

/// Binds with `SO_REUSEADDR` (as tokio does), so a restarted instance is not refused its
/// port while connections of the previous run linger in TIME_WAIT.
fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)?.into_std()
}

/// Resolves when this process is re-parented, i.e. the process that started it died.
async fn parent_gone() {
    let original = rustix::process::getppid();
    if original.is_none() {
        return std::future::pending().await;
    }
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        if rustix::process::getppid() != original {
            return;
        }
    }
}

/// A self-signed certificate for the instance's names and addresses (probes do not check it).
fn tls_config(config: &AppConfig) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let id = &config.identity;
    let names = vec![
        id.hostname.clone(),
        "localhost".to_string(),
        id.private_ip.to_string(),
        config.bind_address.to_string(),
    ];
    let cert = rcgen::generate_simple_self_signed(names)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let chain = vec![CertificateDer::from(cert.cert.der().to_vec())];
    let mut server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(server))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const BASE: &[(&str, &str)] = &[
        ("ARMLET_INSTANCE_ID", "2"),
        ("ARMLET_INSTANCE_NAME", "web_2"),
        ("ARMLET_VMSS_NAME", "web"),
        ("ARMLET_PRIVATE_IP", "10.0.0.6"),
        ("ARMLET_BIND_ADDRESS", "127.1.0.6"),
        ("ARMLET_PORTS", "80=10080/http,22=10022/banner"),
        ("ARMLET_INSTANCE_DIR", "/d/web_2"),
    ];

    #[test]
    fn config_from_the_environment() {
        let c = AppConfig::from_lookup(env(BASE)).unwrap();
        assert_eq!(c.identity.name, "web_2");
        assert_eq!(c.identity.hostname, "web-2");
        assert_eq!(c.bind_address, Ipv4Addr::new(127, 1, 0, 6));
        assert_eq!(c.ports.len(), 2);
        assert_eq!(c.drain, Duration::from_secs(30));
        assert_eq!(c.cloud_config, None);
    }

    #[test]
    fn bad_environment_names_the_variable() {
        let mut pairs = BASE.to_vec();
        pairs.push(("ARMLET_BIND_ADDRESS", "nope"));
        pairs.retain(|(k, v)| *k != "ARMLET_BIND_ADDRESS" || *v == "nope");
        let err = AppConfig::from_lookup(env(&pairs)).unwrap_err();
        assert!(matches!(err, InstanceError::Env { ref var, .. } if var == "ARMLET_BIND_ADDRESS"));
        let missing: Vec<_> = BASE
            .iter()
            .copied()
            .filter(|(k, _)| *k != "ARMLET_INSTANCE_ID")
            .collect();
        assert!(AppConfig::from_lookup(env(&missing)).is_err());
        let mut drain = BASE.to_vec();
        drain.push(("ARMLET_DRAIN_SECONDS", "-1"));
        assert!(AppConfig::from_lookup(env(&drain)).is_err());
    }
}
