//! The data plane through a setup built with the real `az` CLI, on a fast clock
//! (`--time-scale 60`): SourceIP affinity pins a client, the instance sees the client's
//! address, an Https probe on 443 sees the instances' TLS, a UDP rule forwards datagrams both
//! ways, and an idle flow is reset.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use armlet::config::ServeConfig;
use common::http::{http_get_from, instance_name};
use common::*;
use tokio::io::AsyncReadExt;

const RG: &str = "dp";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_built_load_balancer_carries_real_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        time_scale: 60.0,
        ..ServeConfig::for_tests(dir.path().to_path_buf())
    };
    let t = TestArmlet::start_with(config, dir).await;
    let mut az = Az::for_armlet(&t);
    let home = t.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    az.env.push(("HOME".into(), home.display().to_string()));
    let lb = ["--resource-group", RG, "--lb-name", "lb"];

    az.json(&["group", "create", "-n", RG, "-l", "eastus"])
        .await;
    let ip = az
        .json(&[
            "network",
            "public-ip",
            "create",
            "-g",
            RG,
            "-n",
            "ip",
            "--sku",
            "Standard",
            "--allocation-method",
            "Static",
        ])
        .await;
    let frontend_ip: Ipv4Addr = ip["publicIp"]["ipAddress"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    az.json(&[
        "network",
        "lb",
        "create",
        "-g",
        RG,
        "-n",
        "lb",
        "--sku",
        "Standard",
        "--public-ip-address",
        "ip",
        "--frontend-ip-name",
        "fe",
        "--backend-pool-name",
        "pool",
    ])
    .await;
    az.json(
        &[
            &[
                "network",
                "lb",
                "probe",
                "create",
                "-n",
                "http",
                "--protocol",
                "Http",
                "--port",
                "80",
                "--path",
                "/health",
                "--interval",
                "5",
                "--threshold",
                "2",
            ][..],
            &lb,
        ]
        .concat(),
    )
    .await;
    az.json(
        &[
            &[
                "network",
                "lb",
                "probe",
                "create",
                "-n",
                "https",
                "--protocol",
                "Https",
                "--port",
                "443",
                "--path",
                "/health",
                "--interval",
                "5",
                "--threshold",
                "2",
            ][..],
            &lb,
        ]
        .concat(),
    )
    .await;
    let rule = |name: &'static str,
                proto: &'static str,
                port: &'static str,
                probe: &'static str,
                extra: &'static [&'static str]| {
        let mut args = vec![
            "network",
            "lb",
            "rule",
            "create",
            "-n",
            name,
            "--frontend-ip-name",
            "fe",
            "--backend-pool-name",
            "pool",
            "--probe-name",
            probe,
            "--protocol",
            proto,
            "--frontend-port",
            port,
            "--backend-port",
            port,
        ];
        args.extend(extra);
        args
    };
    az.json(
        &[
            rule(
                "web",
                "Tcp",
                "80",
                "http",
                &[
                    "--load-distribution",
                    "SourceIP",
                    "--idle-timeout",
                    "4",
                    "--enable-tcp-reset",
                    "true",
                ],
            ),
            lb.to_vec(),
        ]
        .concat(),
    )
    .await;
    az.json(&[rule("tls", "Tcp", "443", "https", &[]), lb.to_vec()].concat())
        .await;
    az.json(&[rule("dns", "Udp", "5353", "http", &[]), lb.to_vec()].concat())
        .await;
    let vmss = az
        .json(&[
            "vmss",
            "create",
            "-g",
            RG,
            "-n",
            "web",
            "--image",
            "Ubuntu2204",
            "--instance-count",
            "2",
            "--admin-username",
            "azureuser",
            "--generate-ssh-keys",
            "--vnet-name",
            "vnet",
            "--subnet",
            "sub",
            "--lb",
            "lb",
            "--backend-pool-name",
            "pool",
            "--health-probe",
            "http",
            "--upgrade-policy-mode",
            "Manual",
            "--orchestration-mode",
            "Uniform",
        ])
        .await;
    assert_eq!(vmss["vmss"]["provisioningState"], "Succeeded");

    let ports = t.armlet.app.runtime.ports;
    let web = SocketAddr::from((frontend_ip, ports.effective(80)));
    // Both instances come into rotation after their first successful probe.
    let lb_id = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/loadBalancers/lb"
    );
    for rule in ["web", "tls"] {
        eventually(Duration::from_secs(60), || async {
            let (_, h) = send(t.client.post(t.url(&format!(
                "{lb_id}/loadBalancingRules/{rule}/health?api-version=2023-04-01"
            ))))
            .await;
            (h["up"] == 2).then_some(())
        })
        .await;
    }

    // SourceIP: one client address always reaches the same instance; many addresses reach both.
    let pinned = name_from(Ipv4Addr::new(127, 0, 0, 2), web)
        .await
        .expect("request through the frontend");
    for _ in 0..8 {
        assert_eq!(
            name_from(Ipv4Addr::new(127, 0, 0, 2), web).await.as_deref(),
            Some(pinned.as_str())
        );
    }
    // The instance sees the client's address (the proxy's upstream socket is bound to it),
    // with the proxy's own source port.
    let (_, answer) = http_get_from(Ipv4Addr::new(127, 0, 0, 7), web, "/")
        .await
        .expect("request through the frontend");
    assert!(
        answer.contains("\"clientAddress\":\"127.0.0.7:"),
        "{answer}"
    );
    let mut seen = std::collections::HashSet::new();
    for host in 2..40u8 {
        seen.extend(name_from(Ipv4Addr::new(127, 0, 0, host), web).await);
    }
    assert_eq!(seen.len(), 2, "{seen:?}");

    // Https: the instances serve TLS on 443 (the probe saw it); a client gets through too.
    let tls = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let body = tls
        .get(format!("https://{frontend_ip}:{}/", ports.effective(443)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("\"name\":\"web_"), "{body}");

    // UDP: a datagram goes to an instance and its answer comes back.
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    udp.connect((frontend_ip, ports.effective(5353)))
        .await
        .unwrap();
    let reply = eventually(Duration::from_secs(20), || async {
        udp.send(b"hello").await.ok()?;
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(Duration::from_millis(500), udp.recv(&mut buf))
            .await
            .ok()?
            .ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    })
    .await;
    assert!(
        reply.starts_with("web_") && reply.ends_with(" hello"),
        "{reply}"
    );

    // Idle timeout (4 minutes of Azure time = 4 s here) with TCP reset: the client sees an RST.
    let mut idle = tokio::net::TcpStream::connect(web).await.unwrap();
    let mut buf = [0u8; 16];
    let started = std::time::Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(30), idle.read(&mut buf))
        .await
        .expect("the flow is closed by the idle timeout");
    let err = outcome.expect_err("an RST, not a clean close");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "not before the idle timeout: {:?}",
        started.elapsed()
    );
    t.stop().await;
}

/// The instance answering one request from source address `from`.
async fn name_from(from: Ipv4Addr, frontend: SocketAddr) -> Option<String> {
    instance_name(&http_get_from(from, frontend, "/").await?.1)
}
