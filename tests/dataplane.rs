//! The data plane against real sockets on loopback: probes deciding rotation, distribution,
//! TCP and UDP forwarding, idle timeout with and without reset, half-close, listener and
//! backend removal. Waits are bounded polls; the probe clock runs fast (scale 60).

#[path = "support/dataplane.rs"]
mod support;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use armlet::runtime::probe::{Health, ProbeKey, ProbeProtocol, ProbeTarget};
use armlet::runtime::proxy::{Distribution, NoHealthy, RoutingTable, Transport};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

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

    let flipped = tokio::time::Instant::now();
    flags[1].store(false, Ordering::SeqCst);
    rig.wait_health(&ProbeKey::new("hp", "vm1"), Health::Down)
        .await;
    // Two consecutive failures: at least one probe interval (5 s / 60 = 83 ms) apart.
    assert!(
        flipped.elapsed() >= Duration::from_millis(80),
        "down too early"
    );
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
    let baddr = udp_echo_backend().await;
    let mut r = rule(
        "lb/rules/dns/udp",
        Transport::Udp,
        vec![backend("u0", baddr, None)],
    );
    r.idle_timeout = Duration::from_secs(60); // 1 s real at scale 60
    let fe = rig.publish(vec![r])[0];
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
        (t.packets_in, t.packets_out, t.syn) == (6, 6, 0)
    })
    .await;
    eventually("idle UDP flows to expire", async || {
        rig.proxy.counters()[0].totals.flows == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_flows_are_reset_or_closed() {
    let rig = rig();
    let echo = echo_backend().await;
    let mut with_reset = tcp_rule("lb/rules/rst", "e", echo);
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
    let fe = rig.publish(vec![tcp_rule("lb/rules/hc", "e", echo)])[0];
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
    let addr = tls_backend().await;
    let closed = free_addr();
    let mut https = http_probe("tls", addr);
    https.protocol = ProbeProtocol::Https;
    let mut plain_to_tls = http_probe("plain", addr);
    plain_to_tls.key = ProbeKey::new("hp", "plain");
    let tcp_closed = ProbeTarget {
        app_health: None,
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
    let fe = rig.publish(vec![tcp_rule("lb/rules/gone", "x", addr)])[0];
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
    let r = tcp_rule("lb/rules/rm", "e", echo);
    let fe = rig.publish(vec![r.clone()])[0];
    let mut c = TcpStream::connect(fe).await.unwrap();
    c.write_all(b"hi").await.unwrap();
    let mut buf = [0u8; 2];
    c.read_exact(&mut buf).await.unwrap();
    // Another frontend appears: this listener and its flow are untouched.
    let extra = rule("lb/rules/extra", Transport::Tcp, vec![]);
    assert_eq!(rig.publish(vec![r.clone(), extra])[0], fe);
    c.write_all(b"hi").await.unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_flows_survive_a_backend_going_down() {
    let rig = rig();
    let echo = echo_backend().await;
    let (health_addr, healthy) = http_backend("h").await;
    let key = ProbeKey::new("hp", "e");
    let mut target = http_probe("e", health_addr);
    target.key = key.clone();
    rig.prober.set_targets(vec![target]);
    rig.wait_health(&key, Health::Up).await;
    let fe = rig.publish(vec![rule(
        "lb/rules/keep",
        Transport::Tcp,
        vec![backend("e", echo, Some(key.clone()))],
    )])[0];
    let mut c = TcpStream::connect(fe).await.unwrap();
    c.write_all(b"one").await.unwrap();
    let mut buf = [0u8; 3];
    c.read_exact(&mut buf).await.unwrap();

    healthy.store(false, Ordering::SeqCst);
    rig.wait_health(&key, Health::Down).await;
    c.write_all(b"two").await.unwrap();
    c.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"two", "the open flow goes on");
    // All probed down (the default behaviour): a new flow is refused.
    // (The reset may already be there when connect returns.)
    if let Ok(mut n) = TcpStream::connect(fe).await {
        let _ = n.write_all(b"x").await;
        let r = tokio::time::timeout(WAIT, n.read(&mut buf)).await.unwrap();
        assert!(matches!(r, Ok(0) | Err(_)), "new flow served: {r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_a_probe_target_applies_it() {
    let rig = rig();
    let (addr, healthy) = http_backend("p").await;
    let mut target = http_probe("p", addr);
    target.request_path = Some("/".into()); // answers 200 whatever `healthy` says
    rig.prober.set_targets(vec![target.clone()]);
    rig.wait_health(&target.key, Health::Up).await;
    healthy.store(false, Ordering::SeqCst);
    target.interval = Duration::from_secs(6);
    target.threshold = 3;
    rig.prober.set_targets(vec![target.clone()]);
    assert_eq!(rig.prober.targets(), vec![target.clone()]);
    assert_eq!(
        rig.health.load().health(&target.key),
        Health::Up,
        "health kept"
    );
    target.request_path = Some("/health".into());
    rig.prober.set_targets(vec![target.clone()]);
    rig.wait_health(&target.key, Health::Down).await;
    let entry = rig.health.load().get(&target.key).cloned().unwrap();
    assert_eq!(entry.detail, "status 500");
    assert!(entry.state.failures >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_path_probes_are_forwarded_but_not_counted() {
    let rig = rig();
    let (addr, _) = http_backend("m").await;
    let fe = rig.publish(vec![rule(
        "lb/rules/metrics",
        Transport::Tcp,
        vec![backend("m", addr, None)],
    )])[0];
    assert_eq!(get(fe, None).await.unwrap(), "m");
    let before = rig.proxy.counters()[0].clone();
    assert_eq!(before.totals.syn, 1);
    assert!(before.backends[0].counters.bytes() > 0);
    // The collector's probe: a connection from the reserved source reaches the backend...
    let probe_source = armlet::runtime::proxy::DATA_PATH_PROBE_SOURCE;
    assert_eq!(get(fe, Some(probe_source)).await.unwrap(), "m");
    // ...and leaves every counter as it was; the frontend and backend keep their ids.
    let after = rig.proxy.counters()[0].clone();
    assert_eq!(after.totals.syn, before.totals.syn);
    assert_eq!(after.totals.bytes(), before.totals.bytes());
    assert_eq!(
        after.backends[0].counters.bytes(),
        before.backends[0].counters.bytes()
    );
    assert_eq!(
        (after.id, after.backends[0].id),
        (before.id, before.backends[0].id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_transfers_arrive_intact() {
    // 8 MiB each way: past the point where a direction switches to splice(2).
    let rig = rig();
    let echo = echo_backend().await;
    let fe = rig.publish(vec![tcp_rule("lb/rules/bulk", "e", echo)])[0];
    let c = TcpStream::connect(fe).await.unwrap();
    let (mut rd, mut wr) = c.into_split();
    let data: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let expected = data.clone();
    let writer = tokio::spawn(async move {
        wr.write_all(&data).await.unwrap();
        wr.shutdown().await.unwrap();
    });
    let mut got = Vec::with_capacity(expected.len() + 3);
    tokio::time::timeout(WAIT, rd.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    writer.await.unwrap();
    assert_eq!(got.len(), expected.len() + 3);
    assert!(got[..expected.len()] == expected[..], "payload corrupted");
    assert_eq!(&got[expected.len()..], b"bye");
    let t = rig.proxy.counters()[0].totals;
    assert_eq!(t.bytes_in, expected.len() as u64);
    assert_eq!(t.bytes_out, expected.len() as u64 + 3);
}

/// A backend answering each connection (or datagram) with the address it came from.
async fn peer_reporting_backends() -> (std::net::SocketAddr, std::net::SocketAddr) {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tcp_addr = tcp.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, peer)) = tcp.accept().await {
            let _ = s.write_all(peer.to_string().as_bytes()).await;
        }
    });
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let udp_addr = udp.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 64];
        while let Ok((_, peer)) = udp.recv_from(&mut buf).await {
            let _ = udp.send_to(peer.to_string().as_bytes(), peer).await;
        }
    });
    (tcp_addr, udp_addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_see_the_clients_address() {
    let rig = rig();
    let (tcp_backend, udp_backend) = peer_reporting_backends().await;
    let fes = rig.publish(vec![
        tcp_rule("lb/rules/peer", "p", tcp_backend),
        rule(
            "lb/rules/peer/udp",
            Transport::Udp,
            vec![backend("u", udp_backend, None)],
        ),
    ]);
    for client_ip in [Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 66)] {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((client_ip, 0).into()).unwrap();
        let mut c = socket.connect(fes[0]).await.unwrap();
        let mut seen = String::new();
        tokio::time::timeout(WAIT, c.read_to_string(&mut seen))
            .await
            .unwrap()
            .unwrap();
        let seen: std::net::SocketAddr = seen.parse().unwrap();
        // The client's IP; the port is the proxy's own (the client's is in use by the client).
        assert_eq!(seen.ip(), client_ip);
        assert_ne!(seen, c.local_addr().unwrap());

        let u = UdpSocket::bind((client_ip, 0)).await.unwrap();
        u.connect(fes[1]).await.unwrap();
        u.send(b"?").await.unwrap();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(WAIT, u.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let seen: std::net::SocketAddr = std::str::from_utf8(&buf[..n]).unwrap().parse().unwrap();
        assert_eq!(seen.ip(), client_ip);
    }
}
