//! The fuzz suite: the ARM surface driven by requests generated from the Azure REST API
//! specs (`openapi/azure/`, [`fuzz_gen`]), then by hand-made hostile inputs: malformed JSON,
//! huge and deeply nested bodies, odd encodings and content types, path tricks (`..`,
//! `%2F`, `%00`, overlong names), odd methods, headers and queries.
//!
//! Every answer must be below 500, none may hang (10 s) or drop the connection (a panic in a
//! handler does), and a refused write must leave the store exactly as it was (every resource
//! row's ETag and body compared before and after; writes are checked only when no operation
//! is running, so background work cannot muddy the comparison). Prints requests sent by
//! status class. Small by default; `ARMLET_FUZZ_REQUESTS=50000 ARMLET_FUZZ_SEED=7` for a large
//! run.

mod common;

#[path = "support/fuzz_gen.rs"]
mod fuzz_gen;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use armlet::config::ServeConfig;
use common::rng::{Rng, setting};
use common::*;
use serde_json::{Value, json};

static PANICS: AtomicU64 = AtomicU64::new(0);

#[derive(Default, Debug)]
struct Figures {
    sent: u64,
    by_class: BTreeMap<u16, u64>,
    by_status: BTreeMap<u16, u64>,
    server_errors: Vec<String>,
    hangs: Vec<String>,
    dropped: Vec<String>,
    changed_by_rejected: Vec<String>,
}

/// Every resource row: key → etag and body.
async fn snapshot(t: &TestArmlet) -> BTreeMap<String, String> {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT key, etag, body FROM resources")
            .fetch_all(t.armlet.app.store.pool())
            .await
            .unwrap();
    rows.into_iter()
        .map(|(k, e, b)| (k, format!("{e} {b}")))
        .collect()
}

/// Waits (up to 10 s) until no operation runs, so the store only changes by the next request.
async fn quiet(t: &TestArmlet) -> bool {
    for _ in 0..200 {
        let (n,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM operations WHERE status = 'InProgress'")
                .fetch_one(t.armlet.app.store.pool())
                .await
                .unwrap();
        if n == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

struct Probe {
    method: reqwest::Method,
    path: String,
    body: Option<Vec<u8>>,
    headers: Vec<(String, String)>,
}

impl Probe {
    fn json(method: &str, path: String, body: Option<Value>) -> Probe {
        Probe {
            method: reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            path,
            body: body.map(|b| serde_json::to_vec(&b).unwrap()),
            headers: vec![("content-type".into(), "application/json".into())],
        }
    }
    fn raw(method: &str, path: &str, body: &[u8], content_type: &str) -> Probe {
        Probe {
            method: reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            path: path.to_string(),
            body: Some(body.to_vec()),
            headers: vec![("content-type".into(), content_type.into())],
        }
    }
}

async fn send_probe(t: &TestArmlet, p: &Probe, f: &mut Figures) {
    let write = p.method != reqwest::Method::GET && p.method != reqwest::Method::HEAD;
    let before = if write && quiet(t).await {
        Some(snapshot(t).await)
    } else {
        None
    };
    let mut rb = t
        .client
        .request(p.method.clone(), t.url(&p.path))
        .timeout(Duration::from_secs(10));
    for (k, v) in &p.headers {
        rb = rb.header(k, v);
    }
    if let Some(b) = &p.body {
        rb = rb.body(b.clone());
    }
    f.sent += 1;
    let what = format!(
        "{} {}",
        p.method,
        p.path.chars().take(160).collect::<String>()
    );
    match rb.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            *f.by_class.entry(status / 100 * 100).or_default() += 1;
            *f.by_status.entry(status).or_default() += 1;
            let text = r.text().await.unwrap_or_default();
            if status >= 500 {
                f.server_errors.push(format!(
                    "{what} → {status} {}",
                    text.chars().take(300).collect::<String>()
                ));
            }
            if status >= 400
                && let Some(before) = before
            {
                let after = snapshot(t).await;
                if after != before {
                    let changed: Vec<&String> = after
                        .keys()
                        .chain(before.keys())
                        .filter(|k| after.get(*k) != before.get(*k))
                        .collect();
                    f.changed_by_rejected
                        .push(format!("{what} → {status}: {changed:?}"));
                }
            }
        }
        Err(e) if e.is_timeout() => f.hangs.push(what),
        Err(e) => f.dropped.push(format!("{what}: {e}")),
    }
}

/// The hand-made hostile inputs.
fn tricks() -> Vec<Probe> {
    let rg = format!("/subscriptions/{SUB}/resourceGroups/fuzz");
    let lb = format!("{rg}/providers/Microsoft.Network/loadBalancers/lb?api-version=2023-04-01");
    let vmss = format!(
        "{rg}/providers/Microsoft.Compute/virtualMachineScaleSets/web?api-version=2024-11-01"
    );
    let mut out = Vec::new();
    for body in [
        &b"{"[..],
        b"{\"location\":",
        b"[1,2",
        b"nul",
        b"{\"a\":1}}",
        b"{\"location\":\"eastus\"} trailing",
        b"{\"n\": NaN}",
        b"{\"n\": 1e999999}",
        b"{\"s\": \"\\ud800\"}",
        b"{\"s\": \"\\u0000\"}",
        b"\xff\xfe{\x00}\x00",
        b"\xef\xbb\xbf{\"location\":\"eastus\"}",
        b"{\"location\": \"\xc3\x28\"}",
        b"",
        b"   ",
        b"null",
        b"42",
        b"\"string\"",
        b"{\"location\":\"eastus\",\"location\":\"westus\"}",
        b"{\"tags\": {\"\": \"x\"}, \"location\": \"eastus\"}",
    ] {
        for path in [&lb, &vmss] {
            out.push(Probe::raw("PUT", path, body, "application/json"));
        }
        out.push(Probe::raw("PATCH", &vmss, body, "application/json"));
    }
    for depth in [64usize, 127, 129, 5000, 200_000] {
        let nested = format!(
            "{{\"location\":\"eastus\",\"properties\":{}1{}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        out.push(Probe::raw(
            "PUT",
            &lb,
            nested.as_bytes(),
            "application/json",
        ));
        let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        out.push(Probe::raw(
            "PUT",
            &vmss,
            objects.as_bytes(),
            "application/json",
        ));
    }
    let big_tags: serde_json::Map<String, Value> = (0..60)
        .map(|i| (format!("t{i}"), json!("v".repeat(256))))
        .collect();
    out.push(Probe::json(
        "PUT",
        lb.clone(),
        Some(json!({"location": "eastus", "tags": big_tags})),
    ));
    let huge = format!(
        "{{\"location\":\"eastus\",\"properties\":{{\"x\":\"{}\"}}}}",
        "a".repeat(4 * 1024 * 1024)
    );
    out.push(Probe::raw("PUT", &lb, huge.as_bytes(), "application/json"));
    let wide = format!(
        "{{\"location\":\"eastus\",\"properties\":{{\"loadBalancingRules\":[{}]}}}}",
        vec!["{}"; 200_000].join(",")
    );
    out.push(Probe::raw("PUT", &lb, wide.as_bytes(), "application/json"));
    for ct in [
        "text/plain",
        "application/json; charset=utf-16",
        "application/xml",
        "multipart/form-data; boundary=x",
        "application/JSON",
        "",
    ] {
        out.push(Probe::raw("PUT", &lb, br#"{"location":"eastus"}"#, ct));
    }
    for path in [
        format!(
            "/subscriptions/{SUB}/resourceGroups/../resourceGroups/fuzz?api-version=2024-11-01"
        ),
        format!("/subscriptions/{SUB}/resourcegroups/fuzz%2F..%2Fother?api-version=2024-11-01"),
        format!("/subscriptions/{SUB}/resourcegroups/%2e%2e?api-version=2024-11-01"),
        format!("//subscriptions//{SUB}//resourcegroups//fuzz?api-version=2024-11-01"),
        format!("{rg}/providers/Microsoft.Network/loadBalancers/%00?api-version=2023-04-01"),
        format!(
            "{rg}/providers/Microsoft.Network/loadBalancers/{}?api-version=2023-04-01",
            "n".repeat(300)
        ),
        format!(
            "{rg}/providers/Microsoft.Network/loadBalancers/{}?api-version=2023-04-01",
            "n".repeat(81)
        ),
        format!(
            "{rg}/providers/Microsoft.Compute/virtualMachineScaleSets/web/virtualMachines/../../..?api-version=2024-11-01"
        ),
        format!(
            "{rg}/providers/Microsoft.Network/loadBalancers/lb/probes/%2F?api-version=2023-04-01"
        ),
        "/subscriptions/%ZZ/resourcegroups?api-version=2024-11-01".to_string(),
        format!(
            "/subscriptions/{SUB}/{}?api-version=2024-11-01",
            "a/".repeat(300)
        ),
        format!(
            "/subscriptions/{SUB}/resourcegroups/fuzz?api-version=2024-11-01&api-version=1999-01-01"
        ),
        format!("/subscriptions/{SUB}/resourcegroups?api-version=2024-11-01&$top=-1"),
        format!(
            "/subscriptions/{SUB}/resourcegroups?api-version=2024-11-01&$top=99999999999999999999999"
        ),
        format!("/subscriptions/{SUB}/resourcegroups?api-version=2024-11-01&$skipToken=%FF%FE"),
        format!(
            "/subscriptions/{SUB}/resources?api-version=2024-11-01&$filter=resourceType eq 'a' and or ("
        ),
        format!("/subscriptions/{SUB}/resourcegroups/ü€?api-version=2024-11-01"),
        "/%".to_string(),
        "/".to_string(),
        "/providers/Microsoft.Network?api-version=2024-11-01".to_string(),
    ] {
        for m in [
            "GET", "PUT", "DELETE", "PATCH", "POST", "OPTIONS", "TRACE", "FOO",
        ] {
            out.push(Probe::raw(
                m,
                &path,
                br#"{"location":"eastus"}"#,
                "application/json",
            ));
        }
    }
    let mut odd = Probe::json("PUT", lb.clone(), Some(json!({"location": "eastus"})));
    odd.headers
        .push(("if-match".into(), "\"not-the-etag\", garbage, *,,".into()));
    out.push(odd);
    let mut none_match = Probe::json("PUT", lb.clone(), Some(json!({"location": "eastus"})));
    none_match
        .headers
        .push(("if-none-match".into(), "*".into()));
    out.push(none_match);
    let mut long_header = Probe::json(
        "GET",
        format!("/subscriptions/{SUB}?api-version=2024-11-01"),
        None,
    );
    long_header
        .headers
        .push(("x-ms-client-request-id".into(), "x".repeat(20_000)));
    out.push(long_header);
    let mut many = Probe::json(
        "GET",
        format!("/subscriptions/{SUB}?api-version=2024-11-01"),
        None,
    );
    for i in 0..90 {
        many.headers.push((format!("x-many-{i}"), "v".into()));
    }
    out.push(many);
    out
}

/// What the generated requests work on: a group with a network and a load balancer.
async fn base(t: &TestArmlet) {
    t.put(&rg_path("fuzz"), json!({"location": "eastus"})).await;
    let rg = format!("/subscriptions/{SUB}/resourceGroups/fuzz/providers");
    let (s, b) = t.put(&format!("{rg}/Microsoft.Network/virtualNetworks/vnet?api-version=2023-04-01"), json!({"location": "eastus",
        "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [{"name": "s", "properties": {"addressPrefix": "10.0.0.0/24"}}]}})).await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = t.put(&format!("{rg}/Microsoft.Network/publicIPAddresses/ip?api-version=2023-04-01"),
        json!({"location": "eastus", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}})).await;
    assert_eq!(s, 201, "{b}");
    let lb = format!("{rg}/Microsoft.Network/loadBalancers/lb");
    let (s, b) = t.put(&format!("{lb}?api-version=2023-04-01"), json!({"location": "eastus", "sku": {"name": "Standard"}, "properties": {
        "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": format!("/subscriptions/{SUB}/resourceGroups/fuzz/providers/Microsoft.Network/publicIPAddresses/ip")}}}],
        "backendAddressPools": [{"name": "pool"}],
        "probes": [{"name": "hp", "properties": {"protocol": "Tcp", "port": 80}}]}})).await;
    assert_eq!(s, 201, "{b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_arm_surface_survives_generated_and_hostile_requests() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::Relaxed);
        default_hook(info);
    }));
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::for_tests(dir.path().to_path_buf());
    // At most a few instance processes, whatever the generator asks for.
    config.limits.vcpu_quota = Some(4);
    let t = TestArmlet::start_with(config, dir).await;
    base(&t).await;
    let specs = fuzz_gen::Specs::load(&repo_root().join("openapi/azure"));
    assert!(
        specs.operations.len() > 200,
        "{} operations",
        specs.operations.len()
    );
    let seed = setting("ARMLET_FUZZ_SEED", 1);
    let requests = setting("ARMLET_FUZZ_REQUESTS", 1500);
    let mut rng = Rng::new(seed);
    let mut f = Figures::default();
    for p in tricks() {
        send_probe(&t, &p, &mut f).await;
    }
    let hand_made = f.sent;
    while f.sent < hand_made + requests {
        let op = &specs.operations[rng.below(specs.operations.len() as u64) as usize];
        let (method, path, body) = fuzz_gen::request(&specs, op, &mut rng);
        send_probe(&t, &Probe::json(&method, path, body), &mut f).await;
    }
    // armlet still answers.
    let (s, _) = t
        .get(&format!("/subscriptions/{SUB}?api-version=2024-11-01"))
        .await;
    assert_eq!(s, 200);
    let panics = PANICS.load(Ordering::Relaxed);
    println!(
        "fuzz: seed {seed}, {} operations from the specs, requests sent {} ({hand_made} hand-made, {} generated), by status class {:?} (by status {:?}), 5xx {}, hangs {}, dropped connections {}, panics {panics}, state changed by a rejected request {}",
        specs.operations.len(),
        f.sent,
        f.sent - hand_made,
        f.by_class,
        f.by_status,
        f.server_errors.len(),
        f.hangs.len(),
        f.dropped.len(),
        f.changed_by_rejected.len()
    );
    t.stop().await;
    assert!(f.server_errors.is_empty(), "5xx: {:#?}", f.server_errors);
    assert!(f.hangs.is_empty(), "hangs: {:#?}", f.hangs);
    assert!(f.dropped.is_empty(), "dropped: {:#?}", f.dropped);
    assert_eq!(panics, 0, "panics");
    assert!(
        f.changed_by_rejected.is_empty(),
        "state changed: {:#?}",
        f.changed_by_rejected
    );
}
