//! `armlet-bench --control-plane`: what the ARM API costs as a scale set grows. An armlet
//! runs in-process (in memory, HTTPS on loopback); one load balancer (public frontend, a
//! pool, a Tcp probe and a rule) and one scale set in its pool whose instances run a light
//! program (`#!/bin/sh` + `exec sleep`) so a thousand of them fit on a small machine.
//!
//! For each instance count (ascending) the scale set is PUT with that capacity and the time
//! to `Succeeded` is taken; then, with one keep-alive HTTPS client issuing sequential
//! requests: `GET` of the load balancer (which lists every member NIC of its pool), `GET` of
//! one instance, `GET` of that instance's NIC, and the first page of the instance list (50
//! items), each `--requests` times (the page half as often), p50 and p99; and this process's
//! RSS (armlet and the client; instances are separate processes).
//!
//! Usage: `armlet-bench --control-plane [--instances 0,200] [--requests 300]`

use std::time::{Duration, Instant};

use armlet::config::{AuthMode, LimitsConfig, ServeConfig, Throttling};
use armlet::embedded::Armlet;
use base64::Engine;
use serde_json::{Value, json};

const SUB: &str = "00000000-0000-0000-0000-00000000be9c";
const NET: &str = "2023-04-01";
const COMPUTE: &str = "2024-11-01";

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let counts: Vec<u32> = value("--instances")
        .map_or("0,200", |v| v.as_str())
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let requests: usize = value("--requests").map_or(Ok(300), |v| v.parse())?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(measure(counts, requests))
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    async fn put(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let resp = self
            .http
            .put(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let op = resp
            .headers()
            .get("azure-asyncoperation")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = resp.text().await?;
        anyhow::ensure!(status < 300, "PUT {path}: {status} {text}");
        if let Some(op) = op {
            loop {
                let (_, s) = self
                    .send(reqwest::Method::GET, &op[self.base.len()..], None)
                    .await?;
                match s["status"].as_str() {
                    Some("InProgress") | None => {
                        tokio::time::sleep(Duration::from_millis(100)).await
                    }
                    Some("Succeeded") => break,
                    Some(other) => anyhow::bail!("PUT {path}: operation {other}: {s}"),
                }
            }
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// Latencies (µs) of `n` sequential GETs of `path`, sorted.
    async fn timed_gets(&self, path: &str, n: usize) -> anyhow::Result<Vec<f64>> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let (status, _) = self.send(reqwest::Method::GET, path, None).await?;
            out.push(t.elapsed().as_secs_f64() * 1e6);
            anyhow::ensure!(status == 200, "GET {path}: {status}");
        }
        out.sort_by(f64::total_cmp);
        Ok(out)
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn rid(kind: &str, name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/bench/providers/{kind}/{name}")
}

async fn measure(counts: Vec<u32>, requests: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = ServeConfig {
        address_block: 60,
        limits: LimitsConfig {
            // The client sends no token; reads are not throttled (as in the tests).
            auth: AuthMode::None,
            throttling: Throttling::None,
            // Room for the largest count (Standard_B1s: one vCPU each).
            vcpu_quota: Some(2000),
            ..Default::default()
        },
        ..ServeConfig::for_tests(dir.path().to_path_buf())
    };
    let armlet = Armlet::start(config).await?;
    let pem = std::fs::read(armlet.ca_cert())?;
    let c = Client {
        http: reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem)?)
            .timeout(Duration::from_secs(600))
            .build()?,
        base: armlet.endpoint(),
    };
    network(&c).await?;
    let lb = format!(
        "{}?api-version={NET}",
        rid("Microsoft.Network/loadBalancers", "lb")
    );
    let other_lb = format!(
        "{}?api-version={NET}",
        rid("Microsoft.Network/loadBalancers", "other")
    );
    let vmss_id = rid("Microsoft.Compute/virtualMachineScaleSets", "web");
    let vmss = format!("{vmss_id}?api-version={COMPUTE}");
    let instance = format!("{vmss_id}/virtualMachines/0?api-version={COMPUTE}");
    let list = format!("{vmss_id}/virtualMachines?api-version={COMPUTE}");

    println!(
        "armlet-bench --control-plane: {requests} sequential requests per figure, keep-alive HTTPS"
    );
    let head = [
        "instances",
        "scale s",
        "LB p50",
        "LB p99",
        "other p50",
        "other p99",
        "VM p50",
        "VM p99",
        "NIC p50",
        "NIC p99",
        "page p50",
        "page p99",
        "RSS MiB",
    ];
    println!();
    println!("| {} |", head.join(" | "));
    println!("|{}", "---:|".repeat(head.len()));
    for n in counts {
        let t = Instant::now();
        c.put(&vmss, scale_set(n)).await?;
        let scale_secs = t.elapsed().as_secs_f64();
        // Warm up the connection and caches.
        c.timed_gets(&lb, 10).await?;
        let lb_t = c.timed_gets(&lb, requests).await?;
        let other_t = c.timed_gets(&other_lb, requests).await?;
        let (mut vm_t, mut nic_t) = (Vec::new(), Vec::new());
        if n > 0 {
            vm_t = c.timed_gets(&instance, requests).await?;
            let (_, vm) = c.send(reqwest::Method::GET, &instance, None).await?;
            let nic = vm["properties"]["networkProfile"]["networkInterfaces"][0]["id"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("instance 0 has no NIC: {vm}"))?;
            nic_t = c
                .timed_gets(&format!("{nic}?api-version={NET}"), requests)
                .await?;
        }
        let page_t = c.timed_gets(&list, requests.div_ceil(2)).await?;
        let (_, first) = c.send(reqwest::Method::GET, &list, None).await?;
        let page_len = first["value"].as_array().map_or(0, Vec::len);
        anyhow::ensure!(
            page_len == (n as usize).min(50),
            "page of {page_len} at {n}"
        );
        let (_, lb_doc) = c.send(reqwest::Method::GET, &lb, None).await?;
        let members =
            lb_doc["properties"]["backendAddressPools"][0]["properties"]["backendIPConfigurations"]
                .as_array()
                .map_or(0, Vec::len);
        anyhow::ensure!(members == n as usize, "{members} pool members at {n}");
        let cell = |v: &[f64], p: f64| {
            if v.is_empty() {
                "–".to_string()
            } else {
                format!("{:.0}", pct(v, p))
            }
        };
        println!(
            "| {n} | {scale_secs:.1} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} |",
            cell(&lb_t, 0.5),
            cell(&lb_t, 0.99),
            cell(&other_t, 0.5),
            cell(&other_t, 0.99),
            cell(&vm_t, 0.5),
            cell(&vm_t, 0.99),
            cell(&nic_t, 0.5),
            cell(&nic_t, 0.99),
            cell(&page_t, 0.5),
            cell(&page_t, 0.99),
            rss_mib()
        );
    }
    println!(
        "\n(latencies in µs; `scale s`: PUT of the capacity until its operation Succeeded; `LB`: \
         the load balancer whose pool holds every instance; `other`: a load balancer with no \
         members; `page`: the first page of the instance list)"
    );
    c.put(&vmss, scale_set(0)).await?;
    armlet.stop().await?;
    Ok(())
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// RG, VNet, public IP, a load balancer with a pool, a Tcp probe and a rule, and another
/// load balancer with an empty pool.
async fn network(c: &Client) -> anyhow::Result<()> {
    c.put(
        &format!("/subscriptions/{SUB}/resourceGroups/bench?api-version=2021-04-01"),
        json!({"location": "eastus"}),
    )
    .await?;
    c.put(
        &format!("{}?api-version={NET}", rid("Microsoft.Network/virtualNetworks", "vnet")),
        json!({"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "sub", "properties": {"addressPrefix": "10.0.0.0/22"}}]}}),
    )
    .await?;
    c.put(
        &format!("{}?api-version={NET}", rid("Microsoft.Network/publicIPAddresses", "ip")),
        json!({"location": "eastus", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}}),
    )
    .await?;
    let lb = rid("Microsoft.Network/loadBalancers", "lb");
    let fe = format!("{lb}/frontendIPConfigurations/fe");
    c.put(
        &format!("{lb}?api-version={NET}"),
        json!({"location": "eastus", "sku": {"name": "Standard"}, "properties": {
            "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": rid("Microsoft.Network/publicIPAddresses", "ip")}}}],
            "backendAddressPools": [{"name": "pool"}],
            "probes": [{"name": "hp", "properties": {"protocol": "Tcp", "port": 80, "intervalInSeconds": 5, "numberOfProbes": 2}}],
            "loadBalancingRules": [{"name": "http", "properties": {"frontendIPConfiguration": {"id": fe}, "backendAddressPool": {"id": format!("{lb}/backendAddressPools/pool")},
                "probe": {"id": format!("{lb}/probes/hp")}, "protocol": "Tcp", "frontendPort": 80, "backendPort": 80}}]
        }}),
    )
    .await?;
    // A load balancer none of the instances belong to: reading it must not cost more as
    // instances (NICs) are added elsewhere.
    c.put(
        &format!(
            "{}?api-version={NET}",
            rid("Microsoft.Network/loadBalancers", "other")
        ),
        json!({"location": "eastus", "sku": {"name": "Standard"}, "properties": {
            "backendAddressPools": [{"name": "pool"}]
        }}),
    )
    .await?;
    Ok(())
}

fn scale_set(capacity: u32) -> Value {
    let lb = rid("Microsoft.Network/loadBalancers", "lb");
    let script = "#!/bin/sh\nexec sleep 86400\n";
    json!({
        "location": "eastus",
        "sku": {"name": "Standard_B1s", "capacity": capacity},
        "properties": {
            "orchestrationMode": "Uniform",
            // Beyond 100 instances, as `az vmss create` sets it.
            "singlePlacementGroup": false,
            "upgradePolicy": {"mode": "Manual"},
            "virtualMachineProfile": {
                "osProfile": {"computerNamePrefix": "web", "adminUsername": "azureuser",
                    "customData": base64::engine::general_purpose::STANDARD.encode(script)},
                "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2", "version": "latest"}},
                "networkProfile": {
                    "networkInterfaceConfigurations": [{"name": "nic", "properties": {"primary": true, "ipConfigurations": [{"name": "ipc", "properties": {
                        "subnet": {"id": format!("{}/subnets/sub", rid("Microsoft.Network/virtualNetworks", "vnet"))},
                        "loadBalancerBackendAddressPools": [{"id": format!("{lb}/backendAddressPools/pool")}]
                    }}]}}]
                }
            }
        }
    })
}
