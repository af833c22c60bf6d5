//! Azure Monitor metrics through the real `az` CLI on `--time-scale 60` (an Azure minute per
//! real second): bytes, packets and SYNs sent through the tutorial's load balancer show in
//! `ByteCount`, `PacketCount` and `SYNCount` split by frontend port; a stopped instance's
//! `DipAvailability` (asked as `HealthProbeStatus`) drops; an instance burning CPU shows in
//! `Percentage CPU` as much CPU as `/proc` measured; definitions and namespaces list for a
//! load balancer, a scale set, a scale-set VM and a Flexible VM; series survive a restart.
//!
//! `az` defaults its timespan to the wall clock's last hour, while armlet's Azure time runs
//! sixty times faster here: every query passes `--start-time`/`--end-time` in armlet's time.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use armlet::config::ServeConfig;
use armlet::runtime::instance::usage::sample_group;
use chrono::{DateTime, TimeDelta, Utc};
use common::scale_set::*;
use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SCALE: f64 = 60.0;

async fn start() -> TestArmlet {
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        time_scale: SCALE,
        ..ServeConfig::for_tests(dir.path().to_path_buf())
    };
    TestArmlet::start_with(config, dir).await
}

fn now(t: &TestArmlet) -> DateTime<Utc> {
    t.armlet.app.runtime.clock.now_utc()
}

fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Sleeps `azure_minutes` of armlet's time.
async fn minutes(azure_minutes: f64) {
    tokio::time::sleep(Duration::from_secs_f64(azure_minutes * 60.0 / SCALE)).await;
}

/// `az monitor metrics list` over `[from, to)` at PT1M, plus `extra` arguments.
async fn metrics(
    az: &Az,
    resource: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    extra: &[&str],
) -> Value {
    let (from, to) = (iso(from), iso(to));
    let mut args = vec![
        "monitor",
        "metrics",
        "list",
        "--resource",
        resource,
        "--interval",
        "PT1M",
        "--start-time",
        &from,
        "--end-time",
        &to,
    ];
    args.extend_from_slice(extra);
    az.json(&args).await
}

/// The sum of `field` over the data of the series whose dimension values are `dims`
/// (names as Azure returns them, lower case), over every metric of the answer.
fn sum(answer: &Value, dims: &[(&str, &str)], field: &str) -> f64 {
    let mut total = 0.0;
    for metric in answer["value"].as_array().unwrap() {
        for series in metric["timeseries"].as_array().unwrap() {
            let meta = series["metadatavalues"].as_array().unwrap();
            let matches = dims.iter().all(|(name, value)| {
                meta.iter()
                    .any(|m| m["name"]["value"] == *name && m["value"] == *value)
            });
            if matches {
                total += series["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|d| d[field].as_f64())
                    .sum::<f64>();
            }
        }
    }
    total
}

/// The `field` values of every data point of the series whose dimension values are `dims`.
fn values(answer: &Value, dims: &[(&str, &str)], field: &str) -> Vec<f64> {
    let mut out = Vec::new();
    for series in answer["value"][0]["timeseries"].as_array().unwrap() {
        let meta = series["metadatavalues"].as_array().unwrap();
        if dims.iter().all(|(n, v)| {
            meta.iter()
                .any(|m| m["name"]["value"] == *n && m["value"] == *v)
        }) {
            out.extend(
                series["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|d| d[field].as_f64()),
            );
        }
    }
    out
}

/// One exchange on a new connection: sends `request` and reads until the other side closes
/// (an HTTP request with `Connection: close`; other requests half-close to end the echo).
/// Returns (bytes sent, bytes received).
async fn exchange(addr: SocketAddr, request: &[u8]) -> (usize, usize) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    if !request.starts_with(b"GET ") {
        s.shutdown().await.unwrap();
    }
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert!(!got.is_empty(), "no answer from {addr}");
    (request.len(), got.len())
}

/// The tutorial's network and a Uniform scale set `web` of `n` D2s_v3 instances behind it;
/// returns the frontend address of the rule on port 80 and the instances' views.
async fn tutorial(t: &TestArmlet, n: u32) -> (SocketAddr, Vec<Value>) {
    let ip: Ipv4Addr = network(t).await.parse().unwrap();
    let vmss = rid("Microsoft.Compute/virtualMachineScaleSets", "web");
    let (_, end) = put_and_wait(t, &format!("{vmss}?api-version={COMPUTE}"), vmss_body(n)).await;
    assert_eq!(end, "Succeeded");
    let mut views = Vec::new();
    for i in 0..n {
        let (_, view) = t
            .get(&format!(
                "{vmss}/virtualMachines/{i}/instanceView?api-version={COMPUTE}"
            ))
            .await;
        views.push(view);
    }
    let frontend = SocketAddr::from((ip, bound(&views[0], 80)));
    eventually(Duration::from_secs(60), || async {
        (names_behind(frontend, 4 * n as usize).await.len() == n as usize).then_some(())
    })
    .await;
    (frontend, views)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancer_and_instance_metrics_through_az() {
    let t = start().await;
    let az = Az::for_armlet(&t);
    let (frontend, views) = tutorial(&t, 2).await;
    let lb = rid("Microsoft.Network/loadBalancers", "lb");
    let vmss = rid("Microsoft.Compute/virtualMachineScaleSets", "web");

    // Traffic of our own only: what came before is flushed into earlier minutes.
    minutes(4.0).await;
    let from = now(&t) - TimeDelta::minutes(2);
    let request = b"GET / HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n";
    let (mut http_in, mut http_out) = (0, 0);
    for _ in 0..20 {
        let (sent, got) = exchange(frontend, request).await;
        http_in += sent;
        http_out += got;
    }
    // The NAT pool's port 50000 reaches instance 0's banner port, which echoes.
    let nat = SocketAddr::from((frontend.ip(), 50000));
    let (nat_in, nat_out) = exchange(nat, b"hello\n").await;

    let split = ["--dimension", "FrontendPort", "Direction"];
    let bytes = eventually(Duration::from_secs(30), || async {
        let to = now(&t) + TimeDelta::minutes(1);
        let got = metrics(
            &az,
            &lb,
            from,
            to,
            &[
                &["--metric", "ByteCount", "--aggregation", "Total"],
                &split[..],
            ]
            .concat(),
        )
        .await;
        let port80_in = sum(
            &got,
            &[("frontendport", "80"), ("direction", "In")],
            "total",
        );
        let nat_out_seen = sum(
            &got,
            &[("frontendport", "50000"), ("direction", "Out")],
            "total",
        );
        (port80_in >= http_in as f64 && nat_out_seen >= nat_out as f64).then_some(got)
    })
    .await;
    assert_eq!(
        sum(
            &bytes,
            &[("frontendport", "80"), ("direction", "In")],
            "total"
        ),
        http_in as f64
    );
    assert_eq!(
        sum(
            &bytes,
            &[("frontendport", "80"), ("direction", "Out")],
            "total"
        ),
        http_out as f64
    );
    assert_eq!(
        sum(
            &bytes,
            &[("frontendport", "50000"), ("direction", "In")],
            "total"
        ),
        nat_in as f64
    );
    assert_eq!(
        sum(
            &bytes,
            &[("frontendport", "50000"), ("direction", "Out")],
            "total"
        ),
        nat_out as f64
    );
    assert_eq!(bytes["value"][0]["unit"], "Bytes");

    let to = now(&t) + TimeDelta::minutes(1);
    let port80 = ["--filter", "FrontendPort eq '80' and Direction eq '*'"];
    let packets = metrics(
        &az,
        &lb,
        from,
        to,
        &[
            &["--metric", "PacketCount", "--aggregation", "Total"],
            &port80[..],
        ]
        .concat(),
    )
    .await;
    let packets_in = sum(
        &packets,
        &[("frontendport", "80"), ("direction", "In")],
        "total",
    );
    assert!(
        (20.0..=40.0).contains(&packets_in),
        "one small request per connection: {packets_in}"
    );
    let syn = metrics(
        &az,
        &lb,
        from,
        to,
        &[
            &["--metric", "SYNCount", "--aggregation", "Total"],
            &port80[..],
        ]
        .concat(),
    )
    .await;
    assert_eq!(
        sum(
            &syn,
            &[("frontendport", "80"), ("direction", "In")],
            "total"
        ),
        20.0
    );
    // `--offset` with only a start time: az asks for [start, start + offset).
    let (start, window) = (iso(from), "30m");
    let offset = az
        .json(
            &[
                &[
                    "monitor",
                    "metrics",
                    "list",
                    "--resource",
                    &lb,
                    "--metric",
                    "SYNCount",
                    "--aggregation",
                    "Total",
                    "--start-time",
                    &start,
                    "--offset",
                    window,
                ][..],
                &port80[..],
            ]
            .concat(),
        )
        .await;
    assert_eq!(
        sum(
            &offset,
            &[("frontendport", "80"), ("direction", "In")],
            "total"
        ),
        20.0,
        "{offset}"
    );

    // Percentage CPU of a burning instance against what /proc says its process group used.
    let pid = views[0]["armlet"]["process"]["pid"].as_u64().unwrap() as i32;
    let http0 = SocketAddr::from((
        views[0]["armlet"]["bindAddress"]
            .as_str()
            .unwrap()
            .parse::<Ipv4Addr>()
            .unwrap(),
        bound(&views[0], 80),
    ));
    let vm0 = format!("{vmss}/virtualMachines/0");
    let burn_from = now(&t) - TimeDelta::minutes(1);
    let before = sample_group(pid).unwrap().cpu_seconds;
    let (code, _) = common::http::http_get(http0, "/burn?seconds=3")
        .await
        .unwrap();
    assert_eq!(code, 200);
    minutes(5.0).await;
    let used = sample_group(pid).unwrap().cpu_seconds - before;
    minutes(3.0).await;
    // Only minutes the collector has already written, so the two queries below see the same.
    let burn_to = now(&t) - TimeDelta::minutes(2);
    let cpu = metrics(
        &az,
        &vm0,
        burn_from,
        burn_to,
        &["--metric", "Percentage CPU", "--aggregation", "Average"],
    )
    .await;
    // Each minute lasts one real second: a minute at p % used p/100 of the usable cores.
    let cores = std::thread::available_parallelism().unwrap().get().min(2) as f64;
    let reported = sum(&cpu, &[], "average") / 100.0 * cores * 60.0 / SCALE;
    assert!(used > 0.5, "the burn ran: {used} CPU-s");
    eprintln!("Percentage CPU accounts for {reported:.2} CPU-s, /proc measured {used:.2}");
    assert!(
        (reported - used).abs() <= 0.25 * used + 0.3,
        "Percentage CPU accounts for {reported:.2} CPU-s, /proc measured {used:.2}"
    );
    // The scale set reports the same minutes with the VMName dimension.
    let by_name = metrics(
        &az,
        &vmss,
        burn_from,
        burn_to,
        &[
            "--metric",
            "Percentage CPU",
            "--aggregation",
            "Average",
            "--filter",
            "VMName eq 'web_0'",
        ],
    )
    .await;
    assert_eq!(
        values(&by_name, &[("vmname", "web_0")], "average"),
        values(&cpu, &[], "average")
    );

    // Stopping instance 1 drops its Health Probe Status; instance 0 stays at 100.
    let ip1 = views[1]["armlet"]["bindAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, nic) = t
        .get(&format!(
            "{vmss}/virtualMachines/1/networkInterfaces?api-version={COMPUTE}"
        ))
        .await;
    let private1 =
        nic["value"][0]["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"]
            .as_str()
            .unwrap()
            .to_string();
    assert_ne!(
        ip1, private1,
        "the metric names Azure's address, not the loopback one"
    );
    az.json(&[
        "vmss",
        "stop",
        "-g",
        "rg",
        "-n",
        "web",
        "--instance-ids",
        "1",
    ])
    .await;
    let stopped_at = now(&t);
    let filter = format!("BackendIPAddress eq '{private1}'");
    eventually(Duration::from_secs(30), || async {
        let to = now(&t) + TimeDelta::minutes(1);
        let got = metrics(
            &az,
            &lb,
            stopped_at,
            to,
            &[
                "--metric",
                "HealthProbeStatus",
                "--aggregation",
                "Average",
                "--filter",
                &filter,
            ],
        )
        .await;
        let v = values(&got, &[("backendipaddress", &private1)], "average");
        v.iter().any(|a| *a < 100.0).then_some(())
    })
    .await;
    let to = now(&t) + TimeDelta::minutes(1);
    let all = metrics(
        &az,
        &lb,
        stopped_at,
        to,
        &[
            "--metric",
            "DipAvailability",
            "--aggregation",
            "Minimum",
            "--filter",
            "BackendIPAddress eq '*'",
        ],
    )
    .await;
    assert_eq!(all["value"][0]["name"]["value"], "DipAvailability");
    let zero = all["value"][0]["timeseries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["metadatavalues"][0]["value"] != private1.as_str())
        .unwrap();
    let healthy: Vec<f64> = zero["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["minimum"].as_f64())
        .collect();
    assert!(
        !healthy.is_empty() && healthy.iter().all(|m| *m == 100.0),
        "{healthy:?}"
    );

    // Data path availability: the rule on port 80 answers through the proxy.
    let vip = metrics(
        &az,
        &lb,
        from,
        to,
        &["--metric", "VipAvailability", "--aggregation", "Average"],
    )
    .await;
    assert!(
        values(&vip, &[], "average").iter().all(|v| *v == 100.0),
        "{vip}"
    );

    // Azure's errors for bad input.
    let err = az
        .fails(&[
            "monitor",
            "metrics",
            "list",
            "--resource",
            &lb,
            "--metric",
            "Nope",
            "--start-time",
            &iso(from),
            "--end-time",
            &iso(to),
        ])
        .await;
    assert!(
        err.contains("Failed to find metric configuration") && err.contains("ByteCount"),
        "{err}"
    );
    let err = az
        .fails(&[
            "monitor",
            "metrics",
            "list",
            "--resource",
            &lb,
            "--interval",
            "PT7M",
            "--start-time",
            &iso(from),
            "--end-time",
            &iso(to),
        ])
        .await;
    assert!(err.contains("Invalid time grain duration: PT7M"), "{err}");
    let missing = rid("Microsoft.Network/loadBalancers", "nope");
    let err = az
        .fails(&["monitor", "metrics", "list", "--resource", &missing])
        .await;
    assert!(
        err.contains("ResourceNotFound") || err.contains("was not found"),
        "{err}"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_and_namespaces_for_each_resource_type() {
    let t = start().await;
    let az = Az::for_armlet(&t);
    network(&t).await;
    let vmss = rid("Microsoft.Compute/virtualMachineScaleSets", "web");
    let (_, end) = put_and_wait(&t, &format!("{vmss}?api-version={COMPUTE}"), vmss_body(1)).await;
    assert_eq!(end, "Succeeded");
    let flex = rid("Microsoft.Compute/virtualMachineScaleSets", "flex");
    let mut body = vmss_body(1);
    body["properties"]["orchestrationMode"] = json!("Flexible");
    body["properties"]["upgradePolicy"] = json!({"mode": "Manual"});
    body["properties"]["virtualMachineProfile"]["networkProfile"] = json!({"networkInterfaceConfigurations": [{"name": "nic", "properties": {"primary": true, "ipConfigurations": [{"name": "ipc", "properties": {"subnet": {"id": format!("{}/subnets/sub", rid("Microsoft.Network/virtualNetworks", "vnet"))}}}]}}]});
    let (_, end) = put_and_wait(&t, &format!("{flex}?api-version={COMPUTE}"), body).await;
    assert_eq!(end, "Succeeded");
    let (_, vms) = t
        .get(&format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines?api-version={COMPUTE}"))
        .await;
    let flex_vm = vms["value"][0]["id"].as_str().unwrap().to_string();

    let cases = [
        (
            rid("Microsoft.Network/loadBalancers", "lb"),
            "Microsoft.Network/loadBalancers",
            "ByteCount",
        ),
        (
            vmss.clone(),
            "Microsoft.Compute/virtualMachineScaleSets",
            "Percentage CPU",
        ),
        (
            format!("{vmss}/virtualMachines/0"),
            "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
            "Percentage CPU",
        ),
        (
            flex_vm.clone(),
            "Microsoft.Compute/virtualMachines",
            "Percentage CPU",
        ),
    ];
    for (resource, namespace, metric) in &cases {
        let defs = az
            .json(&[
                "monitor",
                "metrics",
                "list-definitions",
                "--resource",
                resource,
            ])
            .await;
        let defs = defs.as_array().unwrap_or_else(|| panic!("{defs}"));
        let d = defs
            .iter()
            .find(|d| d["name"]["value"] == *metric)
            .unwrap_or_else(|| panic!("{metric} in {defs:?}"));
        assert_eq!(d["namespace"], *namespace);
        assert!(
            d["metricAvailabilities"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["timeGrain"] == "PT1M" && a["retention"] == "P93D")
        );
        let ns = az
            .json(&[
                "monitor",
                "metrics",
                "list-namespaces",
                "--resource-uri",
                resource,
            ])
            .await;
        assert_eq!(
            ns[0]["properties"]["metricNamespaceName"], *namespace,
            "{ns}"
        );
        assert_eq!(ns[0]["classification"], "Platform");
    }
    let definitions = az
        .json(&[
            "monitor",
            "metrics",
            "list-definitions",
            "--resource",
            &vmss,
        ])
        .await;
    let dims: Vec<&str> = definitions
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"]["value"] == "Percentage CPU")
        .unwrap()["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["value"].as_str().unwrap())
        .collect();
    assert_eq!(dims, ["VMName"]);
    // A Flexible VM's metrics are its own: available memory against its size, no VMName.
    let to = now(&t) + TimeDelta::minutes(1);
    let from = to - TimeDelta::minutes(30);
    let mem = eventually(Duration::from_secs(20), || async {
        let got = metrics(
            &az,
            &flex_vm,
            from,
            to,
            &[
                "--metric",
                "Available Memory Bytes",
                "--aggregation",
                "Maximum",
            ],
        )
        .await;
        let v = values(&got, &[], "maximum");
        (!v.is_empty()).then_some(v)
    })
    .await;
    let d2s_v3 = 8.0 * 1024.0 * 1024.0 * 1024.0;
    assert!(mem.iter().all(|m| *m > 0.0 && *m < d2s_v3), "{mem:?}");

    // Over REST: the provider lists the routes; a type without metrics has no definitions
    // and refuses a metrics query; unknown api-versions and methods are refused.
    let (_, provider) = t
        .get(&format!(
            "/subscriptions/{SUB}/providers/Microsoft.Insights?api-version=2021-04-01"
        ))
        .await;
    let types: Vec<&str> = provider["resourceTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["resourceType"].as_str().unwrap())
        .collect();
    for ty in ["metrics", "metricDefinitions", "metricNamespaces"] {
        assert!(types.contains(&ty), "{types:?}");
    }
    let vnet = rid("Microsoft.Network/virtualNetworks", "vnet");
    let insights = |id: &str, route: &str, version: &str| {
        format!("{id}/providers/Microsoft.Insights/{route}?api-version={version}")
    };
    let (status, defs) = t
        .get(&insights(&vnet, "metricDefinitions", "2018-01-01"))
        .await;
    assert_eq!((status, defs), (200, json!({"value": []})));
    let (status, err) = t.get(&insights(&vnet, "metrics", "2018-01-01")).await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Failed to find metric configuration")
    );
    let lb = rid("Microsoft.Network/loadBalancers", "lb");
    let (status, err) = t.get(&insights(&lb, "metrics", "2099-01-01")).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("NoRegisteredProviderFound"))
    );
    let (status, _) = send(
        t.client
            .post(t.url(&insights(&lb, "metrics", "2018-01-01"))),
    )
    .await;
    assert_eq!(status, 405);
    let (status, err) = t
        .get(&insights(
            &format!("{vmss}/virtualMachines/7"),
            "metrics",
            "2018-01-01",
        ))
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("ResourceNotFound"))
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_series_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let on_disk = |dir: tempfile::TempDir| async move {
        let config = ServeConfig {
            time_scale: SCALE,
            in_memory: false,
            ..ServeConfig::for_tests(dir.path().to_path_buf())
        };
        TestArmlet::start_with(config, dir).await
    };
    let t = on_disk(dir).await;
    let (frontend, _) = tutorial(&t, 1).await;
    let lb = rid("Microsoft.Network/loadBalancers", "lb");
    let from = now(&t) - TimeDelta::minutes(5);
    for _ in 0..5 {
        exchange(
            frontend,
            b"GET / HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n",
        )
        .await;
    }
    minutes(3.0).await;
    let to = now(&t) + TimeDelta::minutes(1);
    let query = |az: &Az| {
        let az = Az {
            env: az.env.clone(),
        };
        let lb = lb.clone();
        async move {
            metrics(
                &az,
                &lb,
                from,
                to,
                &["--metric", "SYNCount", "--aggregation", "Total"],
            )
            .await
        }
    };
    let before = query(&Az::for_armlet(&t)).await;
    let syn = sum(&before, &[], "total");
    assert!(syn >= 5.0, "{before}");

    let t = on_disk(t.stop().await).await;
    // The restarted armlet's clock starts at the wall clock again: the window lies in what
    // it sees as the future, and the minutes written before the restart are all there.
    let after = query(&Az::for_armlet(&t)).await;
    assert_eq!(sum(&after, &[], "total"), syn);
    t.stop().await;
}
