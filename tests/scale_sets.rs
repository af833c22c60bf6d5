//! Scale sets for real: a Uniform scale set behind a load balancer runs its instances as
//! processes, traffic to the frontend reaches them, NAT ports reach one instance each, and
//! scaling, stopping and deleting change what runs.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::http::http_get;
use common::scale_set::*;
use common::*;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uniform_scale_set_behind_a_load_balancer_runs_for_real() {
    let t = TestArmlet::start().await;
    let ip = network(&t).await;
    let vmss = rid("Microsoft.Compute/virtualMachineScaleSets", "web");
    let (status, end) =
        put_and_wait(&t, &format!("{vmss}?api-version={COMPUTE}"), vmss_body(2)).await;
    assert_eq!((status, end.as_str()), (201, "Succeeded"));
    let (_, doc) = t.get(&format!("{vmss}?api-version={COMPUTE}")).await;
    assert_eq!(doc["properties"]["provisioningState"], "Succeeded");

    let (_, vms) = t
        .get(&format!("{vmss}/virtualMachines?api-version={COMPUTE}"))
        .await;
    let vms = vms["value"].as_array().unwrap().clone();
    assert_eq!(vms.len(), 2);
    assert_eq!(vms[0]["name"], "web_0");
    assert_eq!(
        vms[1]["properties"]["osProfile"]["computerName"],
        "web000001"
    );

    // Each instance is a process on its own loopback address.
    let (_, view) = t
        .get(&format!(
            "{vmss}/virtualMachines/0/instanceView?api-version={COMPUTE}"
        ))
        .await;
    assert_eq!(view["armlet"]["process"]["state"], "running", "{view}");
    let addr: std::net::Ipv4Addr = view["armlet"]["bindAddress"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let http = SocketAddr::from((addr, bound(&view, 80)));
    let (code, body) = eventually(Duration::from_secs(20), || http_get(http, "/")).await;
    assert_eq!(code, 200);
    assert!(body.contains("web_0"), "{body}");

    // Traffic to the frontend reaches both instances once they pass the probe.
    let frontend = SocketAddr::from((ip.parse::<std::net::Ipv4Addr>().unwrap(), bound(&view, 80)));
    let names = eventually(Duration::from_secs(30), || async {
        let n = names_behind(frontend, 12).await;
        (n.len() == 2).then_some(n)
    })
    .await;
    assert_eq!(names, ["web_0", "web_1"]);
    // The rule's health reports what the probes see.
    let lb = rid("Microsoft.Network/loadBalancers", "lb");
    let health = eventually(Duration::from_secs(20), || async {
        let (_, h) = send(t.client.post(t.url(&format!(
            "{lb}/loadBalancingRules/http/health?api-version={NET}"
        ))))
        .await;
        (h["up"] == 2).then_some(h)
    })
    .await;
    assert_eq!(health["down"], 0);

    // NAT pool: frontend port 50000 + k reaches instance k's port 22 banner.
    let nat = SocketAddr::from((frontend.ip(), 50001));
    let banner = eventually(Duration::from_secs(20), || async {
        let s = tokio::net::TcpStream::connect(nat).await.ok()?;
        let mut line = String::new();
        tokio::time::timeout(
            Duration::from_secs(3),
            BufReader::new(s).read_line(&mut line),
        )
        .await
        .ok()?
        .ok()?;
        Some(line)
    })
    .await;
    assert!(banner.contains("web_1"), "{banner}");

    // Stopping an instance takes it out of rotation; starting brings it back.
    let (s, _) = send(
        t.client
            .post(t.url(&format!("{vmss}/poweroff?api-version={COMPUTE}")))
            .json(&json!({"instanceIds": ["1"]})),
    )
    .await;
    assert!(s < 300);
    eventually(Duration::from_secs(30), || async {
        (names_behind(frontend, 8).await == ["web_0"]).then_some(())
    })
    .await;
    let (_, view1) = t
        .get(&format!(
            "{vmss}/virtualMachines/1/instanceView?api-version={COMPUTE}"
        ))
        .await;
    assert!(
        view1["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["code"] == "PowerState/stopped")
    );
    send(
        t.client
            .post(t.url(&format!("{vmss}/start?api-version={COMPUTE}")))
            .json(&json!({"instanceIds": ["1"]})),
    )
    .await;
    eventually(Duration::from_secs(30), || async {
        (names_behind(frontend, 12).await.len() == 2).then_some(())
    })
    .await;

    // Scale out (new ids), then in (highest ids go first).
    let (_, end) = put_and_wait(
        &t,
        &format!("{vmss}?api-version={COMPUTE}"),
        json!({"location": "eastus", "sku": {"capacity": 3}}),
    )
    .await;
    assert_eq!(end, "Succeeded");
    let (_, vms) = t
        .get(&format!("{vmss}/virtualMachines?api-version={COMPUTE}"))
        .await;
    let ids: Vec<&str> = vms["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["instanceId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["0", "1", "2"]);
    let (_, doc) = t.get(&format!("{vmss}?api-version={COMPUTE}")).await;
    assert_eq!(
        doc["properties"]["upgradePolicy"]["mode"], "Rolling",
        "a scale PUT merges"
    );
    put_and_wait(
        &t,
        &format!("{vmss}?api-version={COMPUTE}"),
        json!({"location": "eastus", "sku": {"capacity": 1}}),
    )
    .await;
    let (_, vms) = t
        .get(&format!("{vmss}/virtualMachines?api-version={COMPUTE}"))
        .await;
    let ids: Vec<&str> = vms["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["instanceId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["0"]);
    eventually(Duration::from_secs(30), || async {
        (names_behind(frontend, 6).await == ["web_0"]).then_some(())
    })
    .await;

    // Deleting the scale set stops its processes.
    let (s, _) = t.delete(&format!("{vmss}?api-version={COMPUTE}")).await;
    assert!(s < 300);
    eventually(Duration::from_secs(30), || async {
        let sup = &t.armlet.app.runtime.supervisor;
        let running = sup
            .list()
            .iter()
            .any(|(_, s)| matches!(s, armlet::runtime::instance::InstanceStatus::Running { .. }));
        (!running && http_get(http, "/health").await.is_none()).then_some(())
    })
    .await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_set_input_is_validated() {
    let t = TestArmlet::start().await;
    network(&t).await;
    let vmss = rid("Microsoft.Compute/virtualMachineScaleSets", "bad");
    let path = format!("{vmss}?api-version={COMPUTE}");
    let mut no_probe = vmss_body(1);
    no_probe["properties"]["virtualMachineProfile"]["networkProfile"]
        .as_object_mut()
        .unwrap()
        .remove("healthProbe");
    let mut bad_percent = vmss_body(1);
    bad_percent["properties"]["upgradePolicy"]["rollingUpgradePolicy"] =
        json!({"maxBatchInstancePercent": 150});
    let mut dangling = vmss_body(1);
    dangling["properties"]["virtualMachineProfile"]["networkProfile"]["healthProbe"]["id"] =
        json!(format!(
            "{}/probes/nope",
            rid("Microsoft.Network/loadBalancers", "lb")
        ));
    let mut too_many = vmss_body(1);
    too_many["sku"]["capacity"] = json!(5000);
    for (body, code) in [
        (no_probe, "InvalidParameter"),
        (bad_percent, "InvalidParameter"),
        (dangling, "InvalidResourceReference"),
        (too_many, "InvalidParameter"),
    ] {
        let (s, err) = t.put(&path, body).await;
        assert_eq!(s, 400, "{err}");
        assert_eq!(err["error"]["code"], code, "{err}");
    }
    let (s, _) = t.get(&path).await;
    assert_eq!(s, 404, "nothing was stored");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nat_pool_hands_out_only_its_port_range() {
    let t = TestArmlet::start().await;
    network(&t).await;
    // Shrink the NAT pool to two frontend ports.
    let lb = rid("Microsoft.Network/loadBalancers", "lb");
    let (_, mut doc) = t.get(&format!("{lb}?api-version={NET}")).await;
    doc["properties"]["inboundNatPools"][0]["properties"]["frontendPortRangeEnd"] = json!(50001);
    let (s, body) = t.put(&format!("{lb}?api-version={NET}"), doc).await;
    assert_eq!(s, 200, "{body}");
    let vmss = rid("Microsoft.Compute/virtualMachineScaleSets", "nat");
    let (s, err) = t
        .put(&format!("{vmss}?api-version={COMPUTE}"), vmss_body(3))
        .await;
    assert_eq!(s, 400, "{err}");
    assert_eq!(
        err["error"]["code"],
        "InboundNatPoolFrontendPortRangeSmallerThanRequestedPorts"
    );
    let (s, _) = t.get(&format!("{vmss}?api-version={COMPUTE}")).await;
    assert_eq!(s, 404, "nothing was stored");
    let (_, end) = put_and_wait(&t, &format!("{vmss}?api-version={COMPUTE}"), vmss_body(2)).await;
    assert_eq!(end, "Succeeded", "two instances fit the two ports");
    t.stop().await;
}
