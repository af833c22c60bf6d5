//! Fixtures for `tests/dataplane.rs`: tiny backends (HTTP with a switchable /health, echo),
//! a client, rule builders and a proxy + prober rig on a fast clock.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use armlet::runtime::clock::Clock;
use armlet::runtime::probe::{Health, HealthView, ProbeKey, ProbeProtocol, ProbeTarget, Prober};
use armlet::runtime::proxy::{
    Backend, Distribution, FrontendRule, NoHealthy, Proxy, RoutingTable, Transport,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, UdpSocket};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub const WAIT: Duration = Duration::from_secs(10);

/// Polls `f` every 10 ms until it holds, for at most [`WAIT`].
pub async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A backend that answers `GET /health` with 200 or 500 (per `healthy`) and anything
/// else with its name, one request per connection.
pub async fn http_backend(name: &'static str) -> (SocketAddr, Arc<AtomicBool>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let healthy = Arc::new(AtomicBool::new(true));
    let h = healthy.clone();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            let h = h.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let (status, body) = if buf.starts_with(b"GET /health ") {
                    if h.load(Ordering::SeqCst) {
                        ("200 OK", "up")
                    } else {
                        ("500 Sick", "down")
                    }
                } else {
                    ("200 OK", name)
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = c.write_all(answer.as_bytes()).await;
                let _ = c.shutdown().await;
            });
        }
    });
    (addr, healthy)
}

/// An echo backend: writes back what it reads; on EOF answers "bye" and closes.
pub async fn echo_backend() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = c.read(&mut buf).await {
                    if n == 0 {
                        let _ = c.write_all(b"bye").await;
                        return;
                    }
                    if c.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// `GET /` through `fe`, from `src` if given; the body (the backend's name).
pub async fn get(fe: SocketAddr, src: Option<Ipv4Addr>) -> std::io::Result<String> {
    let s = TcpSocket::new_v4()?;
    if let Some(ip) = src {
        s.bind((ip, 0).into())?;
    }
    let mut c = s.connect(fe).await?;
    c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await?;
    let mut out = String::new();
    c.read_to_string(&mut out).await?;
    match out.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => Ok(body.to_string()),
        _ => Err(std::io::Error::other(format!("bad answer: {out:?}"))),
    }
}

pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

pub fn rule(key: &str, protocol: Transport, backends: Vec<Backend>) -> FrontendRule {
    FrontendRule {
        key: key.into(),
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        protocol,
        backends,
        distribution: Distribution::Default,
        idle_timeout: Duration::from_secs(4 * 60),
        tcp_reset: false,
        no_healthy: NoHealthy::AllProbedDown,
    }
}

/// A Tcp rule with one unprobed backend.
pub fn tcp_rule(key: &str, backend_key: &str, addr: SocketAddr) -> FrontendRule {
    rule(key, Transport::Tcp, vec![backend(backend_key, addr, None)])
}

pub fn backend(key: &str, addr: SocketAddr, probe: Option<ProbeKey>) -> Backend {
    Backend {
        key: key.into(),
        addr,
        probe,
        draining: false,
    }
}

pub struct Rig {
    pub proxy: Proxy,
    pub prober: Prober,
    pub health: HealthView,
    _shutdown: CancellationToken,
}

/// A proxy and a prober on a clock at 60× (a 5 s probe interval lasts 83 ms).
pub fn rig() -> Rig {
    rig_at(60.0)
}

pub fn rig_at(scale: f64) -> Rig {
    let shutdown = CancellationToken::new();
    let clock = Clock::new(scale);
    let prober = Prober::new(clock, shutdown.child_token(), TaskTracker::new());
    let health = prober.health();
    let proxy = Proxy::with_workers(clock, health.clone(), &shutdown, 2).unwrap();
    Rig {
        proxy,
        prober,
        health,
        _shutdown: shutdown,
    }
}

impl Rig {
    pub fn publish(&self, frontends: Vec<FrontendRule>) -> Vec<SocketAddr> {
        let keys: Vec<String> = frontends.iter().map(|f| f.key.clone()).collect();
        self.proxy.publish(Arc::new(RoutingTable { frontends }));
        keys.iter()
            .map(|k| self.proxy.local_addr(k).expect("frontend bound"))
            .collect()
    }

    pub async fn wait_health(&self, key: &ProbeKey, want: Health) {
        eventually(&format!("{key:?} to be {want:?}"), async || {
            self.health.load().health(key) == want
        })
        .await;
    }
}

pub fn http_probe(backend: &str, addr: SocketAddr) -> ProbeTarget {
    ProbeTarget {
        app_health: None,
        key: ProbeKey::new("hp", backend),
        protocol: ProbeProtocol::Http,
        addr,
        request_path: Some("/health".into()),
        interval: Duration::from_secs(5),
        threshold: 2,
    }
}

/// An HTTPS backend with a self-signed certificate answering 200 to anything.
pub async fn tls_backend() -> SocketAddr {
    let cert = rcgen::generate_simple_self_signed(vec!["backend.local".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((c, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(c).await else {
                    return;
                };
                let mut buf = [0u8; 1024];
                let _ = tls.read(&mut buf).await;
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

/// A UDP backend answering every datagram with `echo:` + the datagram.
pub async fn udp_echo_backend() -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let mut reply = b"echo:".to_vec();
            reply.extend_from_slice(&buf[..n]);
            let _ = sock.send_to(&reply, from).await;
        }
    });
    addr
}
