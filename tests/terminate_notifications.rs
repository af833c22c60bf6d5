//! Graceful scale-in with terminate notifications: a scale-in leaves the instance running
//! with a `Terminate` event its IMDS shows (to every instance of the set), the deletion
//! waits for `NotBefore` or for the instance's early approval, and an instance running the
//! tutorial's Python SIGTERM drain handler finishes its in-flight requests: no request
//! through the load balancer fails.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use base64::Engine;
use common::http::http_get;
use common::load::Load;
use common::scale_set::*;
use common::*;
use serde_json::{Value, json};

/// At 60×, the shortest notBeforeTimeout (PT5M) lasts 5 s.
const SCALE: f64 = 60.0;
const DRAIN_SERVER: &str = include_str!("fixtures/instances/drain_server.py");

fn vmss() -> String {
    rid("Microsoft.Compute/virtualMachineScaleSets", "web")
}

/// Where instance `id` serves port 80, straight (not through the load balancer).
async fn instance_addr(t: &TestArmlet, id: &str) -> SocketAddr {
    let (_, view) = t
        .get(&format!(
            "{}/virtualMachines/{id}/instanceView?api-version={COMPUTE}",
            vmss()
        ))
        .await;
    let ip: Ipv4Addr = view["armlet"]["bindAddress"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    SocketAddr::from((ip, bound(&view, 80)))
}

async fn instance_ids(t: &TestArmlet) -> Vec<(String, String)> {
    let (_, list) = t
        .get(&format!("{}/virtualMachines?api-version={COMPUTE}", vmss()))
        .await;
    list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["instanceId"].as_str().unwrap().to_string(),
                i["properties"]["provisioningState"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

async fn scale_to(t: &TestArmlet, capacity: u32) {
    let (s, end) = put_and_wait(
        t,
        &format!("{}?api-version={COMPUTE}", vmss()),
        json!({"location": "eastus", "sku": {"capacity": capacity}}),
    )
    .await;
    assert_eq!((s, end.as_str()), (200, "Succeeded"));
}

async fn body(addr: SocketAddr, path: &str) -> String {
    let (code, text) = http_get(addr, path).await.expect("instance answers");
    assert_eq!(code, 200, "{text}");
    text.split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_in_notifies_waits_and_drains_in_flight_requests() {
    let dir = tempfile::tempdir().unwrap();
    let config = armlet::config::ServeConfig {
        time_scale: SCALE,
        ..armlet::config::ServeConfig::for_tests(dir.path().to_path_buf())
    };
    let t = TestArmlet::start_with(config, dir).await;
    let ip = network(&t).await;
    let mut set = vmss_body(3);
    set["properties"]["upgradePolicy"] = json!({"mode": "Manual"});
    let profile = &mut set["properties"]["virtualMachineProfile"];
    profile["osProfile"]["customData"] =
        json!(base64::engine::general_purpose::STANDARD.encode(DRAIN_SERVER));
    profile["scheduledEventsProfile"] =
        json!({"terminateNotificationProfile": {"enable": true, "notBeforeTimeout": "PT5M"}});
    let (_, end) = put_and_wait(&t, &format!("{}?api-version={COMPUTE}", vmss()), set).await;
    assert_eq!(end, "Succeeded");
    let frontend = SocketAddr::from((
        ip.parse::<Ipv4Addr>().unwrap(),
        instance_addr(&t, "0").await.port(),
    ));
    eventually(Duration::from_secs(60), || async {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..15 {
            let (code, text) = http_get(frontend, "/").await?;
            (code == 200).then_some(())?;
            seen.insert(text.split("\r\n\r\n").nth(1)?.to_string());
        }
        (seen.len() == 3).then_some(())
    })
    .await;
    let load = Load::start(frontend, "/", 2);

    // The instance's IMDS wants the Metadata header and knows who the instance is.
    let imds: SocketAddr = body(instance_addr(&t, "2").await, "/imds")
        .await
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let (code, _) = http_get(imds, "/metadata/instance?api-version=2021-02-01")
        .await
        .unwrap();
    assert_eq!(code, 400, "no Metadata header");
    let doc = t
        .client
        .get(format!(
            "http://{imds}/metadata/instance/compute?api-version=2021-02-01"
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        (doc["name"].as_str(), doc["vmScaleSetName"].as_str()),
        (Some("web_2"), Some("web"))
    );

    // Scale-in without approval: instance 2 keeps running until NotBefore (5 s here).
    let asked = Instant::now();
    scale_to(&t, 2).await;
    assert!(
        instance_ids(&t)
            .await
            .contains(&("2".into(), "Deleting".into()))
    );
    let events: Value =
        serde_json::from_str(&body(instance_addr(&t, "0").await, "/events").await).unwrap();
    let event = &events["Events"][0];
    assert_eq!(
        (
            event["EventType"].as_str(),
            event["EventStatus"].as_str(),
            event["Resources"][0].as_str()
        ),
        (Some("Terminate"), Some("Scheduled"), Some("web_2")),
        "every instance sees the event: {events}"
    );
    assert!(
        event["NotBefore"].as_str().unwrap().ends_with("GMT"),
        "{event}"
    );
    eventually(Duration::from_secs(30), || async {
        (instance_ids(&t).await.len() == 2).then_some(())
    })
    .await;
    let waited = asked.elapsed();
    assert!(
        waited >= Duration::from_secs(4),
        "deleted before NotBefore: {waited:?}"
    );

    // Scale-in with early approval, while slow requests are in flight through the
    // frontend: instance 1 approves its own event and is gone well before NotBefore, and
    // its SIGTERM handler lets its in-flight requests finish.
    scale_to(&t, 1).await;
    let slow: Vec<_> = (0..8)
        .map(|_| tokio::spawn(http_get(frontend, "/slow?s=1.5")))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let approved = Instant::now();
    let mine = body(instance_addr(&t, "1").await, "/approve").await;
    assert!(mine.contains('-'), "an event id: {mine}");
    eventually(Duration::from_secs(30), || async {
        (instance_ids(&t).await.len() == 1).then_some(())
    })
    .await;
    assert!(
        approved.elapsed() < Duration::from_secs(3),
        "approval did not shorten the wait: {:?}",
        approved.elapsed()
    );
    let mut by_leaving = 0;
    for s in slow {
        let (code, text) = s.await.unwrap().expect("in-flight request completed");
        assert_eq!((code, text.contains("done by web_")), (200, true), "{text}");
        by_leaving += usize::from(text.ends_with("web_1"));
    }
    assert!(
        by_leaving > 0,
        "no request was in flight on the leaving instance"
    );
    let report = load.stop().await;
    assert_eq!(report.failed, 0, "failed requests: {:?}", report.failures);
    // The events left the document with their instances.
    let events: Value =
        serde_json::from_str(&body(instance_addr(&t, "0").await, "/events").await).unwrap();
    assert_eq!(events["Events"], json!([]), "{events}");
    assert!(events["DocumentIncarnation"].as_u64().unwrap() >= 5);
    t.stop().await;
}
