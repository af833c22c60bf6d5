//! The LoadBalancerHealthEvent log category end to end: a scale set behind the tutorial's
//! load balancer, a diagnostic setting sending the category to a workspace, and events that
//! come from what armlet observes: every instance failing its probe (or stopped) gives
//! NoHealthyBackends, and the collector's data-path probe then failing (VipAvailability 0)
//! gives DataPathAvailabilityCritical, read back with KQL; a setting without the category
//! gets no rows.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use armlet::config::ServeConfig;
use armlet::model::network::health_events::{HealthEvent, HealthEventType};
use armlet::runtime::health_events;
use chrono::DateTime;
use common::scale_set::*;
use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn query(t: &TestArmlet, customer: &str, kql: &str) -> Vec<Value> {
    let (s, v) = send(
        t.client
            .post(t.url(&format!("/v1/workspaces/{customer}/query")))
            .json(&json!({ "query": kql })),
    )
    .await;
    assert_eq!(s, 200, "{kql}: {v}");
    v["tables"][0]["rows"].as_array().unwrap().clone()
}

async fn admin(addr: SocketAddr, path: &str) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
}

struct Setup {
    t: TestArmlet,
    ip: Ipv4Addr,
    lb: String,
    vmss: String,
    /// The customer ids of a workspace sent LoadBalancerHealthEvent and of one sent only
    /// AllMetrics.
    customer: String,
    metrics_only: String,
    instance_http: Vec<SocketAddr>,
}

async fn workspace(t: &TestArmlet, name: &str) -> (String, String) {
    let ws = rid("Microsoft.OperationalInsights/workspaces", name);
    let (s, w) = t
        .put(
            &format!("{ws}?api-version=2025-02-01"),
            json!({"location": "eastus"}),
        )
        .await;
    assert!(s < 300, "{w}");
    let customer = w["properties"]["customerId"].as_str().unwrap().to_string();
    (ws, customer)
}

/// The tutorial's network at 60x, two workspaces with a setting each, two healthy instances.
async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        time_scale: 60.0,
        ..ServeConfig::for_tests(dir.path().to_path_buf())
    };
    let t = TestArmlet::start_with(config, dir).await;
    let ip: Ipv4Addr = network(&t).await.parse().unwrap();
    let lb = rid("Microsoft.Network/loadBalancers", "lb");
    let (ws, customer) = workspace(&t, "myWorkspace").await;
    let (other, metrics_only) = workspace(&t, "metricsOnly").await;
    let settings = format!("{lb}/providers/Microsoft.Insights/diagnosticSettings");
    let body = json!({"properties": {"workspaceId": ws,
        "logs": [{"category": "LoadBalancerHealthEvent", "enabled": true}]}});
    let (s, v) = t
        .put(
            &format!("{settings}/health?api-version=2021-05-01-preview"),
            body,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let body = json!({"properties": {"workspaceId": other,
        "logs": [{"category": "LoadBalancerHealthEvent", "enabled": false}],
        "metrics": [{"category": "AllMetrics", "enabled": true}]}});
    let (s, v) = t
        .put(
            &format!("{settings}/metrics?api-version=2021-05-01-preview"),
            body,
        )
        .await;
    assert_eq!(s, 200, "{v}");

    let vmss = rid("Microsoft.Compute/virtualMachineScaleSets", "web");
    put_and_wait(&t, &format!("{vmss}?api-version={COMPUTE}"), vmss_body(2)).await;
    let mut instance_http = Vec::new();
    for k in 0..2 {
        let (_, view) = t
            .get(&format!(
                "{vmss}/virtualMachines/{k}/instanceView?api-version={COMPUTE}"
            ))
            .await;
        let addr: Ipv4Addr = view["armlet"]["bindAddress"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        instance_http.push(SocketAddr::from((addr, bound(&view, 80))));
    }
    let s = Setup {
        t,
        ip,
        lb,
        vmss,
        customer,
        metrics_only,
        instance_http,
    };
    eventually(Duration::from_secs(30), || async {
        (rule_health(&s).await["up"] == 2).then_some(())
    })
    .await;
    s
}

async fn rule_health(s: &Setup) -> Value {
    let path = format!("{}/loadBalancingRules/http/health?api-version={NET}", s.lb);
    send(s.t.client.post(s.t.url(&path))).await.1
}

const NO_HEALTHY: &str = "ALBHealthEvent | where HealthEventType == 'NoHealthyBackends' | project FrontendIP, Severity, Description, LoadBalancerResourceId";

/// Waits for the NoHealthyBackends row and checks it is the one Azure would write.
async fn no_healthy_row(s: &Setup) {
    let rows = eventually(Duration::from_secs(30), || async {
        let rows = query(&s.t, &s.customer, NO_HEALTHY).await;
        (!rows.is_empty()).then_some(rows)
    })
    .await;
    assert_eq!(
        rows.len(),
        1,
        "published once per re-detection interval: {rows:?}"
    );
    assert_eq!(rows[0][0], s.ip.to_string());
    assert_eq!(rows[0][1], "Critical");
    let text = rows[0][2].as_str().unwrap();
    assert!(
        text.contains(&format!(
            "The frontend IP {} is completely unreachable",
            s.ip
        )) && text.contains("protocol:port Tcp:80 "),
        "{text}"
    );
    assert_eq!(rows[0][3], s.lb.to_ascii_uppercase());
}

/// What one detection pass publishes now.
async fn detect(s: &Setup) -> Vec<HealthEvent> {
    let rt = &s.t.armlet.app.runtime;
    health_events::pass(rt, rt.clock.now_utc()).await.unwrap()
}

fn no_healthy(published: &[HealthEvent]) -> bool {
    !published
        .iter()
        .any(|e| e.event_type == HealthEventType::NoHealthyBackends)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_events_come_from_the_probes_and_reach_the_workspace() {
    let s = setup().await;
    let t = &s.t;
    let ip = s.ip;
    assert!(
        query(t, &s.customer, NO_HEALTHY).await.is_empty(),
        "healthy backends"
    );

    // One instance down is not an event; both down is.
    admin(s.instance_http[0], "/admin/unhealthy").await;
    eventually(Duration::from_secs(30), || async {
        (rule_health(&s).await["down"] == 1).then_some(())
    })
    .await;
    assert!(
        no_healthy(&detect(&s).await),
        "one backend of two is still up"
    );
    let down_at = t.armlet.app.runtime.clock.now_utc();
    admin(s.instance_http[1], "/admin/unhealthy").await;
    no_healthy_row(&s).await;

    // The data path: the collector's data-path probe now finds no backend, its VipAvailability
    // minutes are 0, and the frontend's data path is critical. (A minute before the instances
    // were up may have given an earlier event: only those after both went down count.)
    let rows = eventually(Duration::from_secs(30), || async {
        let rows = query(t, &s.customer, "ALBHealthEvent | where HealthEventType startswith 'DataPath' | project TimeGenerated, HealthEventType, Severity, Description, FrontendIP").await;
        let after: Vec<Value> = rows
            .into_iter()
            .filter(|r| {
                DateTime::parse_from_rfc3339(r[0].as_str().unwrap()).unwrap() > down_at
            })
            .map(|r| Value::Array(r.as_array().unwrap()[1..].to_vec()))
            .collect();
        (!after.is_empty()).then_some(after)
    })
    .await;
    assert_eq!(rows[0][0], "DataPathAvailabilityCritical");
    assert_eq!(rows[0][1], "Critical");
    assert!(
        rows[0][2]
            .as_str()
            .unwrap()
            .contains("is below 25% on the following ports: 80."),
        "{rows:?}"
    );
    assert_eq!(rows[0][3], ip.to_string());
    // The setting that sends only AllMetrics puts no ALBHealthEvent rows in its workspace.
    assert!(
        query(t, &s.metrics_only, "ALBHealthEvent").await.is_empty(),
        "LoadBalancerHealthEvent is not enabled there"
    );
    s.t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_instances_leave_no_healthy_backends() {
    let s = setup().await;
    let (st, v) = send(
        s.t.client
            .post(s.t.url(&format!("{}/poweroff?api-version={COMPUTE}", s.vmss)))
            .json(&json!({"instanceIds": ["0"]})),
    )
    .await;
    assert!(st < 300, "{v}");
    // The stopped instance is no longer probed, yet counts as down: one of two is still up.
    eventually(Duration::from_secs(30), || async {
        (rule_health(&s).await["up"] == 1).then_some(())
    })
    .await;
    assert!(no_healthy(&detect(&s).await), "instance 1 is still up");
    let (st, v) = send(
        s.t.client
            .post(s.t.url(&format!("{}/deallocate?api-version={COMPUTE}", s.vmss)))
            .json(&json!({"instanceIds": ["1"]})),
    )
    .await;
    assert!(st < 300, "{v}");
    no_healthy_row(&s).await;
    s.t.stop().await;
}
