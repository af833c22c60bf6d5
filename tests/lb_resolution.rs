//! What the one resolution of a load balancer fixed, end to end over REST: NAT rules over a
//! backend pool really forward, `noHealthyBackendsBehavior` decides where flows go when
//! every backend is down, and a Flexible scale-in removes exactly what the policy picks.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::http::http_get;
use common::scale_set::*;
use common::*;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The first line a TCP server sends (the built-in app's banner on NAT backend ports).
async fn banner(addr: SocketAddr) -> Option<String> {
    let s = tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(3),
        BufReader::new(s).read_line(&mut line),
    )
    .await
    .ok()?
    .ok()?;
    Some(line)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nat_rules_over_a_backend_pool_forward_port_start_plus_k_to_member_k() {
    let t = TestArmlet::start().await;
    let ip: Ipv4Addr = network(&t).await.parse().unwrap();
    let lb = rid("Microsoft.Network/loadBalancers", "lb");
    let (s, body) = t
        .put(
            &format!("{lb}/inboundNatRules/admin?api-version={NET}"),
            json!({"properties": {
                "frontendIPConfiguration": {"id": format!("{lb}/frontendIPConfigurations/fe")},
                "backendAddressPool": {"id": format!("{lb}/backendAddressPools/pool")},
                "protocol": "Tcp", "frontendPortRangeStart": 6000, "frontendPortRangeEnd": 6009,
                "backendPort": 2222}}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let vmss = rid("Microsoft.Compute/virtualMachineScaleSets", "web");
    let (_, end) = put_and_wait(&t, &format!("{vmss}?api-version={COMPUTE}"), vmss_body(2)).await;
    assert_eq!(end, "Succeeded");

    // The port mapping query and the data plane agree: 6000 + k reaches member k.
    let (_, nics) = t
        .get(&format!(
            "{vmss}/virtualMachines/1/networkInterfaces?api-version={COMPUTE}"
        ))
        .await;
    let ipc = nics["value"][0]["properties"]["ipConfigurations"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, mapping) = send(
        t.client
            .post(t.url(&format!(
                "{lb}/backendAddressPools/pool/queryInboundNatRulePortMapping?api-version={NET}"
            )))
            .json(&json!({"ipConfiguration": {"id": ipc}})),
    )
    .await;
    assert_eq!(s, 200, "{mapping}");
    let admin = mapping["inboundNatRulePortMappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["inboundNatRuleName"] == "admin")
        .unwrap_or_else(|| panic!("{mapping}"))
        .clone();
    assert_eq!(admin["frontendPort"], 6001);
    for (k, name) in [(0u16, "web_0"), (1, "web_1")] {
        let line = eventually(Duration::from_secs(20), || {
            banner(SocketAddr::from((ip, 6000 + k)))
        })
        .await;
        assert!(line.contains(name), "port {}: {line}", 6000 + k);
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_healthy_backends_behavior_decides_where_flows_go_when_all_are_down() {
    let t = TestArmlet::start().await;
    let ip: Ipv4Addr = network(&t).await.parse().unwrap();
    let lb = rid("Microsoft.Network/loadBalancers", "lb");
    let set_behavior = |behavior: &'static str| {
        let t = &t;
        let lb = lb.clone();
        async move {
            let (_, mut doc) = t.get(&format!("{lb}?api-version=2025-07-01")).await;
            doc["properties"]["probes"][0]["properties"]["noHealthyBackendsBehavior"] =
                json!(behavior);
            let (s, body) = t.put(&format!("{lb}?api-version=2025-07-01"), doc).await;
            assert_eq!(s, 200, "{body}");
        }
    };
    set_behavior("AllProbedUp").await;
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
    let frontend = SocketAddr::from((ip, instance_http[0].port()));
    eventually(Duration::from_secs(30), || async {
        (names_behind(frontend, 8).await.len() == 2).then_some(())
    })
    .await;

    // Every instance fails its probe.
    for addr in &instance_http {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        use tokio::io::AsyncWriteExt;
        s.write_all(b"POST /admin/unhealthy HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut s, &mut out)
            .await
            .unwrap();
    }
    eventually(Duration::from_secs(30), || async {
        let (_, h) = send(t.client.post(t.url(&format!(
            "{lb}/loadBalancingRules/http/health?api-version={NET}"
        ))))
        .await;
        (h["down"] == 2).then_some(())
    })
    .await;
    // AllProbedUp: new flows still reach the (down) backends.
    let (code, _) = http_get(frontend, "/")
        .await
        .expect("AllProbedUp sends to all backends");
    assert_eq!(code, 200);
    // AllProbedDown: nowhere to go.
    set_behavior("AllProbedDown").await;
    eventually(Duration::from_secs(30), || async {
        http_get(frontend, "/").await.is_none().then_some(())
    })
    .await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flexible_scale_in_removes_exactly_the_instances_the_policy_picks() {
    let t = TestArmlet::start().await;
    network(&t).await;
    let vmss = rid("Microsoft.Compute/virtualMachineScaleSets", "flex");
    let mut body = vmss_body(3);
    body["properties"]["orchestrationMode"] = json!("Flexible");
    body["properties"]["upgradePolicy"] = json!({"mode": "Manual"});
    let net = &mut body["properties"]["virtualMachineProfile"]["networkProfile"];
    net.as_object_mut().unwrap().remove("healthProbe");
    net["networkInterfaceConfigurations"][0]["properties"]["ipConfigurations"][0]["properties"]
        .as_object_mut()
        .unwrap()
        .remove("loadBalancerInboundNatPools");
    let (_, end) = put_and_wait(&t, &format!("{vmss}?api-version={COMPUTE}"), body).await;
    assert_eq!(end, "Succeeded");
    let vms = |t: &TestArmlet| {
        let url = t.url(&format!(
            "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines?api-version={COMPUTE}"
        ));
        let client = t.client.clone();
        async move {
            let (_, list) = send(client.get(url)).await;
            list["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    let before = vms(&t).await;
    assert_eq!(before.len(), 3, "{before:?}");
    let (_, end) = put_and_wait(
        &t,
        &format!("{vmss}?api-version={COMPUTE}"),
        json!({"location": "eastus", "sku": {"capacity": 2}}),
    )
    .await;
    assert_eq!(end, "Succeeded");
    // Default policy: the newest VM (Flexible VMs are ordered by creation) goes.
    assert_eq!(vms(&t).await, before[..2]);
    let (_, end) = put_and_wait(
        &t,
        &format!("{vmss}?api-version={COMPUTE}"),
        json!({"location": "eastus", "sku": {"capacity": 1}, "properties": {"scaleInPolicy": {"rules": ["OldestVM"]}}}),
    )
    .await;
    assert_eq!(end, "Succeeded");
    assert_eq!(vms(&t).await, before[1..2], "OldestVM removes the oldest");
    t.stop().await;
}
