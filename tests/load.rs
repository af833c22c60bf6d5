//! Load: 50 clients, each its own principal, doing mixed ARM reads and writes (reads of the
//! group, load balancer, scale set, instances and listings; group creates, updates and
//! deletes) for a bounded time with ARM's throttling on, while traffic flows through the load
//! balancer's frontend to the scale set; beside them one runaway client (one principal with
//! twice its in-flight share of concurrent loops) that must be throttled without starving
//! anyone.
//!
//! The only error allowed is ARM's throttling answer: 429 with `Retry-After` and an ARM
//! throttling code, which every client honours. Every client must be served, the data plane
//! must not fail, and after the run every group update a client saw acknowledged is what the
//! group holds. Prints API p50/p99 (overall and per request), the runaway's answers and the
//! data plane's figures.
//!
//! Small by default (5 s, for CI); the recorded run (BENCHMARKS.md):
//! `ARMLET_LOAD_SECS=60 cargo test --release --test load -- --nocapture`
//! (`ARMLET_LOAD_CLIENTS` changes the number of clients).

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use armlet::config::{ServeConfig, Throttling};
use common::http::{http_get, rotation};
use common::rng::{Rng, setting};
use common::scale_set::*;
use common::*;
use serde_json::{Value, json};

/// ARM's throttling codes (`SubscriptionRequestsThrottled`, `TenantRequestsThrottled`) and
/// armlet's in-flight cap (`TooManyRequests`): the only errors a client may see.
const THROTTLING_CODES: &[&str] = &[
    "SubscriptionRequestsThrottled",
    "TenantRequestsThrottled",
    "TooManyRequests",
];

/// How long the runaway keeps going past the run, at most, if it has not been throttled yet
/// (a slow machine may need it; a throttled runaway stops with everyone else).
const RUNAWAY_GRACE: Duration = Duration::from_secs(30);

enum Outcome {
    Served,
    Throttled { code: String, retry_after: u64 },
    Failed(String),
}

/// Sends one request and classifies the answer; a 429 counts as throttling only when it is
/// ARM's (an integer `Retry-After` of at least 1 s and a throttling code).
async fn call(rb: reqwest::RequestBuilder) -> Outcome {
    let r = match rb.send().await {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(format!("transport: {e}")),
    };
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let text = r.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    match (status, retry_after, body["error"]["code"].as_str()) {
        (200..=299, _, _) => Outcome::Served,
        (429, Some(secs), Some(code)) if secs >= 1 && THROTTLING_CODES.contains(&code) => {
            Outcome::Throttled {
                code: code.to_string(),
                retry_after: secs,
            }
        }
        _ => Outcome::Failed(format!(
            "{status} (Retry-After {retry_after:?}): {}",
            text.chars().take(200).collect::<String>()
        )),
    }
}

/// What one client saw.
#[derive(Default)]
struct Tally {
    served: Vec<Duration>,
    by_request: BTreeMap<&'static str, Vec<Duration>>,
    throttled: BTreeMap<String, u64>,
    errors: Vec<String>,
    /// Group → the tag value of the last acknowledged update.
    acked: BTreeMap<String, u64>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.served.extend(other.served);
        for (k, v) in other.by_request {
            self.by_request.entry(k).or_default().extend(v);
        }
        for (k, n) in other.throttled {
            *self.throttled.entry(k).or_default() += n;
        }
        self.errors.extend(other.errors);
        self.acked.extend(other.acked);
    }

    fn throttled_total(&self) -> u64 {
        self.throttled.values().sum()
    }
}

/// Nearest-rank percentile of sorted latencies, in ms.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn figures(latencies: &mut [Duration]) -> String {
    latencies.sort();
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        percentile(latencies, 1.0)
    )
}

/// Sleeps for a throttled answer's `Retry-After`, as `az` and the SDKs do (not past `until`).
async fn honour(secs: u64, until: Instant) {
    let wait = Duration::from_secs(secs).min(until.saturating_duration_since(Instant::now()));
    tokio::time::sleep(wait).await;
}

/// One well-behaved client: 70 % reads, 20 % updates of its own five groups, 10 % creates and
/// deletes of throwaway groups, one request at a time.
async fn api_client(t: Arc<TestArmlet>, n: u64, until: Instant) -> Tally {
    let client = client_for(&t.armlet.ca_cert());
    let token = access_token(&client, &t.armlet.endpoint(), &format!("load-{n}")).await;
    let vmss = rid("Microsoft.Compute/virtualMachineScaleSets", "web");
    let reads: [(&str, String); 6] = [
        ("GET group", rg_path("rg")),
        (
            "GET load balancer",
            format!(
                "{}?api-version={NET}",
                rid("Microsoft.Network/loadBalancers", "lb")
            ),
        ),
        ("GET scale set", format!("{vmss}?api-version={COMPUTE}")),
        (
            "list instances",
            format!("{vmss}/virtualMachines?api-version={COMPUTE}"),
        ),
        (
            "list resources",
            format!("/subscriptions/{SUB}/resources?api-version=2024-11-01"),
        ),
        (
            "list groups",
            format!("/subscriptions/{SUB}/resourcegroups?api-version=2024-11-01"),
        ),
    ];
    let mut rng = Rng::new(1000 + n);
    let mut tally = Tally::default();
    let mut throwaway: Vec<String> = Vec::new();
    let mut k = 0u64;
    while Instant::now() < until {
        k += 1;
        let roll = rng.below(100);
        let mut update = None;
        let (what, rb) = if roll < 70 {
            let (what, path) = rng.pick(&reads);
            (*what, client.get(t.url(path)))
        } else if roll < 90 {
            let group = format!("load-{n}-{}", k % 5);
            let rb = client
                .put(t.url(&rg_path(&group)))
                .json(&json!({"location": "eastus", "tags": {"k": k.to_string()}}));
            update = Some(group);
            ("update group", rb)
        } else if let Some(name) = throwaway.pop().filter(|_| roll >= 95) {
            ("delete group", client.delete(t.url(&rg_path(&name))))
        } else {
            let name = format!("tmp-{n}-{k}");
            throwaway.push(name.clone());
            let body = json!({"location": "eastus"});
            (
                "create group",
                client.put(t.url(&rg_path(&name))).json(&body),
            )
        };
        let started = Instant::now();
        match call(rb.bearer_auth(&token)).await {
            Outcome::Served => {
                let took = started.elapsed();
                tally.served.push(took);
                tally.by_request.entry(what).or_default().push(took);
                if let Some(group) = update {
                    tally.acked.insert(group, k);
                }
            }
            Outcome::Throttled { code, retry_after } => {
                *tally.throttled.entry(code).or_default() += 1;
                honour(retry_after, until).await;
            }
            Outcome::Failed(e) => tally.errors.push(format!("{what}: {e}")),
        }
    }
    tally
}

/// One of the runaway's loops: reads as fast as it is answered, waiting only when told to.
/// All loops share one principal; they stop at `until` once any of them has been throttled.
async fn runaway_loop(
    client: reqwest::Client,
    t: Arc<TestArmlet>,
    token: Arc<String>,
    until: Instant,
    throttled_once: Arc<AtomicBool>,
) -> Tally {
    let path = format!("/subscriptions/{SUB}/resourcegroups?api-version=2024-11-01");
    let mut tally = Tally::default();
    let give_up = until + RUNAWAY_GRACE;
    loop {
        let now = Instant::now();
        if now >= give_up || (now >= until && throttled_once.load(Ordering::Relaxed)) {
            return tally;
        }
        let started = Instant::now();
        match call(client.get(t.url(&path)).bearer_auth(token.as_str())).await {
            Outcome::Served => tally.served.push(started.elapsed()),
            Outcome::Throttled { code, retry_after } => {
                throttled_once.store(true, Ordering::Relaxed);
                *tally.throttled.entry(code).or_default() += 1;
                honour(retry_after, give_up).await;
            }
            Outcome::Failed(e) => tally.errors.push(format!("runaway: {e}")),
        }
    }
}

/// Plain HTTP through the load balancer's frontend, one connection per request.
async fn data_client(frontend: SocketAddr, until: Instant) -> Tally {
    let mut tally = Tally::default();
    while Instant::now() < until {
        let started = Instant::now();
        match http_get(frontend, "/").await {
            Some((200, _)) => tally.served.push(started.elapsed()),
            other => tally.errors.push(format!("{:?}", other.map(|(s, _)| s))),
        }
    }
    tally
}

/// The tutorial's network and a two-instance scale set, both instances answering.
async fn scale_set_behind_a_load_balancer(t: &TestArmlet) -> SocketAddr {
    let ip = network(t).await;
    let vmss = rid("Microsoft.Compute/virtualMachineScaleSets", "web");
    let (_, end) = put_and_wait(t, &format!("{vmss}?api-version={COMPUTE}"), vmss_body(2)).await;
    assert_eq!(end, "Succeeded");
    let port = t.armlet.app.runtime.ports.effective(80);
    let frontend: SocketAddr = format!("{ip}:{port}").parse().unwrap();
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < Duration::from_secs(60) {
        last = rotation(frontend, 8).await;
        if last.as_ref().is_some_and(|names| names.len() == 2) {
            return frontend;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("both instances did not answer through {frontend} within 60 s; last: {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_and_traffic_get_served_or_throttled_as_arm_throttles() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::for_tests(dir.path().to_path_buf());
    config.limits.throttling = Throttling::Azure;
    // The SQLite file store, as `armlet serve` runs (every write is committed to disk).
    config.in_memory = false;
    config.time_scale = 10.0;
    let runaway_loops = 2 * config.limits.client_concurrency as u64;
    let t = Arc::new(TestArmlet::start_with(config, dir).await);
    let frontend = scale_set_behind_a_load_balancer(&t).await;

    let clients = setting("ARMLET_LOAD_CLIENTS", 50);
    let secs = setting("ARMLET_LOAD_SECS", 5);
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let api: Vec<_> = (0..clients)
        .map(|n| tokio::spawn(api_client(t.clone(), n, until)))
        .collect();
    let data: Vec<_> = (0..4)
        .map(|_| tokio::spawn(data_client(frontend, until)))
        .collect();
    let plain = client_for(&t.armlet.ca_cert());
    let token = Arc::new(access_token(&plain, &t.armlet.endpoint(), "load-runaway").await);
    let throttled_once = Arc::new(AtomicBool::new(false));
    let runaway: Vec<_> = (0..runaway_loops)
        .map(|_| {
            let loop_ = runaway_loop(
                client_for(&t.armlet.ca_cert()),
                t.clone(),
                token.clone(),
                until,
                throttled_once.clone(),
            );
            tokio::spawn(loop_)
        })
        .collect();

    let mut per_client = Vec::new();
    let mut all = Tally::default();
    for task in api {
        let tally = task.await.unwrap();
        per_client.push(tally.served.len());
        all.merge(tally);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut plane = Tally::default();
    for task in data {
        plane.merge(task.await.unwrap());
    }
    let mut wild = Tally::default();
    for task in runaway {
        wild.merge(task.await.unwrap());
    }

    // Every acknowledged update is what its group holds.
    let mut lost = Vec::new();
    for (group, k) in &all.acked {
        let (s, body) = t.get(&rg_path(group)).await;
        if s != 200 || body["tags"]["k"] != json!(k.to_string()) {
            lost.push(format!(
                "{group}: acknowledged k={k}, holds {s} {}",
                body["tags"]
            ));
        }
    }

    println!(
        "load: {clients} ARM clients for {secs} s with traffic: API {} served ({:.0}/s), {}, throttled (429 + Retry-After) {:?}, other errors {}; acknowledged updates checked {}, lost {}",
        all.served.len(),
        all.served.len() as f64 / elapsed,
        figures(&mut all.served),
        all.throttled,
        all.errors.len(),
        all.acked.len(),
        lost.len()
    );
    for (what, latencies) in all.by_request.iter_mut() {
        println!(
            "  {what}: {} served, {}",
            latencies.len(),
            figures(latencies)
        );
    }
    per_client.sort();
    println!(
        "  per client: fewest served {}, most {}",
        per_client[0],
        per_client[per_client.len() - 1]
    );
    println!(
        "  runaway ({runaway_loops} concurrent loops, one principal): {} served, {}, throttled {:?}, other errors {}",
        wild.served.len(),
        figures(&mut wild.served),
        wild.throttled,
        wild.errors.len()
    );
    println!(
        "  data plane (4 clients, a new connection per request): {} requests ({:.0}/s), {}, failed {}",
        plane.served.len(),
        plane.served.len() as f64 / elapsed,
        figures(&mut plane.served),
        plane.errors.len()
    );

    let first = |e: &[String]| e.iter().take(5).cloned().collect::<Vec<_>>();
    assert!(
        all.errors.is_empty(),
        "errors other than throttling: {:?}",
        first(&all.errors)
    );
    assert!(
        wild.errors.is_empty(),
        "runaway: errors other than throttling: {:?}",
        first(&wild.errors)
    );
    assert!(
        plane.errors.is_empty(),
        "data-plane failures: {:?}",
        first(&plane.errors)
    );
    assert!(lost.is_empty(), "acknowledged updates lost: {lost:?}");
    assert!(per_client[0] > 0, "a client was starved: {per_client:?}");
    assert!(wild.throttled_total() > 0, "the runaway was throttled");
    assert!(!plane.served.is_empty(), "traffic flowed");
    Arc::try_unwrap(t).ok().expect("clients done").stop().await;
}
