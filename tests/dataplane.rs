//! The data plane against real sockets on loopback: probes deciding rotation, distribution,
//! TCP and UDP forwarding, idle timeout with and without reset, half-close, listener and
//! backend removal. Waits are bounded polls; the probe clock runs fast (scale 60).

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
use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const WAIT: Duration = Duration::from_secs(10);

/// Polls `f` every 10 ms until it holds, for at most [`WAIT`].
async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
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
async fn http_backend(name: &'static str) -> (SocketAddr, Arc<AtomicBool>) {
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
async fn echo_backend() -> SocketAddr {
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
async fn get(fe: SocketAddr, src: Option<Ipv4Addr>) -> std::io::Result<String> {
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

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn rule(key: &str, protocol: Transport, backends: Vec<Backend>) -> FrontendRule {
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

fn backend(key: &str, addr: SocketAddr, probe: Option<ProbeKey>) -> Backend {
    Backend {
        key: key.into(),
        addr,
        probe,
    }
}

struct Rig {
    proxy: Proxy,
    prober: Prober,
    health: HealthView,
    _shutdown: CancellationToken,
}

fn rig() -> Rig {
    let shutdown = CancellationToken::new();
    let clock = Clock::new(60.0);
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
    fn publish(&self, frontends: Vec<FrontendRule>) -> Vec<SocketAddr> {
        let keys: Vec<String> = frontends.iter().map(|f| f.key.clone()).collect();
        self.proxy.publish(Arc::new(RoutingTable { frontends }));
        keys.iter()
            .map(|k| self.proxy.local_addr(k).expect("frontend bound"))
            .collect()
    }

    async fn wait_health(&self, key: &ProbeKey, want: Health) {
        eventually(&format!("{key:?} to be {want:?}"), async || {
            self.health.load().health(key) == want
        })
        .await;
    }
}

fn http_probe(backend: &str, addr: SocketAddr) -> ProbeTarget {
    ProbeTarget {
        key: ProbeKey::new("hp", backend),
        protocol: ProbeProtocol::Http,
        addr,
        request_path: Some("/health".into()),
        interval: Duration::from_secs(5),
        threshold: 2,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_follows_health_probes() {
    let rig = rig();
    let mut backends = Vec::new();
    let mut flags = Vec::new();
    let mut targets = Vec::new();
    for name in ["vm0", "vm1", "vm2"] {
        let (addr, healthy) = http_backend(name).await;
        targets.push(http_probe(name, addr));
        backends.push(backend(name, addr, Some(ProbeKey::new("hp", name))));
        flags.push(healthy);
    }
    assert!(rig.prober.set_targets(targets).is_empty());
    let fe = rig.publish(vec![rule("lb/rules/http", Transport::Tcp, backends)])[0];
    for name in ["vm0", "vm1", "vm2"] {
        rig.wait_health(&ProbeKey::new("hp", name), Health::Up)
            .await;
    }
    let mut seen = std::collections::HashSet::new();
    for _ in 0..60 {
        seen.insert(get(fe, None).await.unwrap());
    }
    assert_eq!(seen.len(), 3, "all healthy backends get traffic: {seen:?}");

    flags[1].store(false, Ordering::SeqCst);
    rig.wait_health(&ProbeKey::new("hp", "vm1"), Health::Down)
        .await;
    for _ in 0..60 {
        let who = get(fe, None)
            .await
            .expect("no request fails once vm1 is out");
        assert_ne!(who, "vm1");
    }

    flags[1].store(true, Ordering::SeqCst);
    rig.wait_health(&ProbeKey::new("hp", "vm1"), Health::Up)
        .await;
    eventually("vm1 back in rotation", async || {
        get(fe, None).await.is_ok_and(|w| w == "vm1")
    })
    .await;

    let counters = rig.proxy.counters();
    assert!(counters[0].totals.syn >= 120);
    assert!(counters[0].totals.bytes_in > 0 && counters[0].totals.bytes_out > 0);
    let entry = rig
        .health
        .load()
        .get(&ProbeKey::new("hp", "vm1"))
        .cloned()
        .unwrap();
    assert_eq!(entry.detail, "200 OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_ip_distribution_pins_a_client() {
    let rig = rig();
    let mut backends = Vec::new();
    for name in ["a", "b", "c", "d"] {
        backends.push(backend(name, http_backend(name).await.0, None));
    }
    let mut r = rule("lb/rules/sticky", Transport::Tcp, backends);
    r.distribution = Distribution::SourceIp;
    let fe = rig.publish(vec![r])[0];
    for src in [Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3)] {
        let first = get(fe, Some(src)).await.unwrap();
        for _ in 0..15 {
            assert_eq!(get(fe, Some(src)).await.unwrap(), first);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_healthy_backends_behaviour() {
    let rig = rig();
    let (addr, _) = http_backend("lonely").await;
    // A probe nobody runs: the backend stays Unknown, i.e. out of rotation.
    let b = backend("lonely", addr, Some(ProbeKey::new("hp", "lonely")));
    let down = rule("lb/rules/down", Transport::Tcp, vec![b.clone()]);
    let mut up = rule("lb/rules/up", Transport::Tcp, vec![b]);
    up.no_healthy = NoHealthy::AllProbedUp;
    let fes = rig.publish(vec![down, up]);
    assert!(
        get(fes[0], None).await.is_err(),
        "AllProbedDown sends no new flows"
    );
    assert_eq!(get(fes[1], None).await.unwrap(), "lonely");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_forwards_both_ways() {
    let rig = rig();
    let backend_sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let baddr = backend_sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = backend_sock.recv_from(&mut buf).await {
            let mut reply = b"echo:".to_vec();
            reply.extend_from_slice(&buf[..n]);
            let _ = backend_sock.send_to(&reply, from).await;
        }
    });
    let fe = rig.publish(vec![rule(
        "lb/rules/dns/udp",
        Transport::Udp,
        vec![backend("u0", baddr, None)],
    )])[0];
    for i in 0..2 {
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(fe).await.unwrap();
        for j in 0..3 {
            let msg = format!("ping{i}{j}");
            client.send(msg.as_bytes()).await.unwrap();
            let mut buf = [0u8; 1500];
            let n = tokio::time::timeout(WAIT, client.recv(&mut buf))
                .await
                .expect("reply in time")
                .unwrap();
            assert_eq!(&buf[..n], format!("echo:{msg}").as_bytes());
        }
    }
    // Counters are bumped just after each send: poll.
    eventually("UDP counters", async || {
        let t = rig.proxy.counters()[0].totals;
        (t.packets_in, t.packets_out, t.flows, t.syn) == (6, 6, 2, 0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_flows_are_reset_or_closed() {
    let rig = rig();
    let echo = echo_backend().await;
    let mut with_reset = rule(
        "lb/rules/rst",
        Transport::Tcp,
        vec![backend("e", echo, None)],
    );
    with_reset.idle_timeout = Duration::from_secs(30); // 0.5 s real at scale 60
    with_reset.tcp_reset = true;
    let mut silent = with_reset.clone();
    silent.key = "lb/rules/fin".into();
    silent.tcp_reset = false;
    let fes = rig.publish(vec![with_reset, silent]);
    for (fe, want_reset) in [(fes[0], true), (fes[1], false)] {
        let mut c = TcpStream::connect(fe).await.unwrap();
        c.write_all(b"hi").await.unwrap();
        let mut buf = [0u8; 2];
        c.read_exact(&mut buf).await.unwrap();
        let mut rest = [0u8; 16];
        let r = tokio::time::timeout(WAIT, c.read(&mut rest))
            .await
            .expect("idle timeout fires");
        match (want_reset, r) {
            (true, Err(e)) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
            (false, Ok(0)) => {}
            (w, r) => panic!("tcp_reset={w}: unexpected {r:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_close_still_gets_the_answer() {
    let rig = rig();
    let echo = echo_backend().await;
    let fe = rig.publish(vec![rule(
        "lb/rules/hc",
        Transport::Tcp,
        vec![backend("e", echo, None)],
    )])[0];
    let mut c = TcpStream::connect(fe).await.unwrap();
    c.write_all(b"hello").await.unwrap();
    c.shutdown().await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, c.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out, b"hellobye");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_probe_accepts_a_self_signed_backend() {
    let rig = rig();
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
    let closed = free_addr();
    let mut https = http_probe("tls", addr);
    https.protocol = ProbeProtocol::Https;
    let mut plain_to_tls = http_probe("plain", addr);
    plain_to_tls.key = ProbeKey::new("hp", "plain");
    let tcp_closed = ProbeTarget {
        key: ProbeKey::new("tp", "closed"),
        protocol: ProbeProtocol::Tcp,
        ..http_probe("closed", closed)
    };
    assert!(
        rig.prober
            .set_targets(vec![https, plain_to_tls, tcp_closed])
            .is_empty()
    );
    rig.wait_health(&ProbeKey::new("hp", "tls"), Health::Up)
        .await;
    rig.wait_health(&ProbeKey::new("hp", "plain"), Health::Down)
        .await;
    rig.wait_health(&ProbeKey::new("tp", "closed"), Health::Down)
        .await;
    // Removing targets forgets their health.
    rig.prober.set_targets(vec![]);
    assert!(rig.health.load().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_frontend_closes_its_listener() {
    let rig = rig();
    let (addr, _) = http_backend("x").await;
    let fe = rig.publish(vec![rule(
        "lb/rules/gone",
        Transport::Tcp,
        vec![backend("x", addr, None)],
    )])[0];
    assert_eq!(get(fe, None).await.unwrap(), "x");
    rig.publish(vec![]);
    eventually("the listener to close", async || {
        TcpStream::connect(fe).await.is_err()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_backend_ends_its_flows() {
    let rig = rig();
    let echo = echo_backend().await;
    let other = echo_backend().await;
    let r = rule(
        "lb/rules/rm",
        Transport::Tcp,
        vec![backend("e", echo, None)],
    );
    let fe = rig.publish(vec![r.clone()])[0];
    let mut c = TcpStream::connect(fe).await.unwrap();
    c.write_all(b"hi").await.unwrap();
    let mut buf = [0u8; 2];
    c.read_exact(&mut buf).await.unwrap();
    // Same frontend, the backend replaced: the listener stays, the flow ends.
    let mut r2 = r.clone();
    r2.backends = vec![backend("o", other, None)];
    assert_eq!(rig.publish(vec![r2])[0], fe);
    let mut rest = [0u8; 16];
    let r = tokio::time::timeout(WAIT, c.read(&mut rest))
        .await
        .expect("flow ends");
    assert!(matches!(r, Ok(0) | Err(_)), "flow still open: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_failures_are_reported_per_frontend() {
    let rig = rig();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut r = rule("lb/rules/busy", Transport::Tcp, vec![]);
    r.bind = taken.local_addr().unwrap();
    let ok = rule("lb/rules/fine", Transport::Tcp, vec![]);
    rig.proxy.publish(Arc::new(RoutingTable {
        frontends: vec![r, ok],
    }));
    let errors = rig.proxy.bind_errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "lb/rules/busy");
    assert!(rig.proxy.local_addr("lb/rules/fine").is_some());
}
