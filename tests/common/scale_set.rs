//! A load balancer with a scale set behind it, built over REST: the tutorial's network (RG,
//! VNet, public IP, load balancer with an Http probe, rule 80→80 and a NAT pool → 22) and
//! scale-set bodies, and helpers to follow their operations and read their instances.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};

use super::http::rotation;
use super::{SUB, TestArmlet, eventually, rg_path, send};

pub const NET: &str = "2023-04-01";
pub const COMPUTE: &str = "2024-11-01";

pub fn rid(kind: &str, name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg/providers/{kind}/{name}")
}

/// RG, VNet, public IP and the tutorial's load balancer (Http probe, rule 80→80, NAT pool → 22).
pub async fn network(t: &TestArmlet) -> String {
    t.put(&rg_path("rg"), json!({"location": "eastus"})).await;
    let (s, _) = t
        .put(
            &format!("{}?api-version={NET}", rid("Microsoft.Network/virtualNetworks", "vnet")),
            json!({"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [{"name": "sub", "properties": {"addressPrefix": "10.0.0.0/24"}}]}}),
        )
        .await;
    assert_eq!(s, 201);
    let (s, ip) = t
        .put(
            &format!("{}?api-version={NET}", rid("Microsoft.Network/publicIPAddresses", "ip")),
            json!({"location": "eastus", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}}),
        )
        .await;
    assert_eq!(s, 201, "{ip}");
    let lb = rid("Microsoft.Network/loadBalancers", "lb");
    let fe = format!("{lb}/frontendIPConfigurations/fe");
    let (s, body) = t
        .put(
            &format!("{lb}?api-version={NET}"),
            json!({"location": "eastus", "sku": {"name": "Standard"}, "properties": {
                "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": rid("Microsoft.Network/publicIPAddresses", "ip")}}}],
                "backendAddressPools": [{"name": "pool"}],
                "probes": [{"name": "hp", "properties": {"protocol": "Http", "port": 80, "requestPath": "/health", "intervalInSeconds": 5, "numberOfProbes": 1}}],
                "loadBalancingRules": [{"name": "http", "properties": {"frontendIPConfiguration": {"id": fe}, "backendAddressPool": {"id": format!("{lb}/backendAddressPools/pool")},
                    "probe": {"id": format!("{lb}/probes/hp")}, "protocol": "Tcp", "frontendPort": 80, "backendPort": 80, "idleTimeoutInMinutes": 15, "enableTcpReset": true}}],
                "inboundNatPools": [{"name": "ssh", "properties": {"frontendIPConfiguration": {"id": fe}, "protocol": "Tcp",
                    "frontendPortRangeStart": 50000, "frontendPortRangeEnd": 50099, "backendPort": 22}}]
            }}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    ip["properties"]["ipAddress"].as_str().unwrap().to_string()
}

pub fn vmss_body(capacity: u32) -> Value {
    let lb = rid("Microsoft.Network/loadBalancers", "lb");
    json!({
        "location": "eastus",
        "sku": {"name": "Standard_D2s_v3", "capacity": capacity},
        "properties": {
            "orchestrationMode": "Uniform",
            "upgradePolicy": {"mode": "Rolling"},
            "virtualMachineProfile": {
                "osProfile": {"computerNamePrefix": "web", "adminUsername": "azureuser"},
                "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2", "version": "latest"}},
                "networkProfile": {
                    "healthProbe": {"id": format!("{lb}/probes/hp")},
                    "networkInterfaceConfigurations": [{"name": "nic", "properties": {"primary": true, "ipConfigurations": [{"name": "ipc", "properties": {
                        "subnet": {"id": format!("{}/subnets/sub", rid("Microsoft.Network/virtualNetworks", "vnet"))},
                        "loadBalancerBackendAddressPools": [{"id": format!("{lb}/backendAddressPools/pool")}],
                        "loadBalancerInboundNatPools": [{"id": format!("{lb}/inboundNatPools/ssh")}]
                    }}]}}]
                }
            }
        }
    })
}

/// PUTs and follows the Azure-AsyncOperation to its end; returns the final status.
pub async fn put_and_wait(t: &TestArmlet, path: &str, body: Value) -> (u16, String) {
    let resp = t.client.put(t.url(path)).json(&body).send().await.unwrap();
    let status = resp.status().as_u16();
    let op = resp
        .headers()
        .get("azure-asyncoperation")
        .map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap();
    assert!(status < 300, "{status}: {text}");
    let Some(op) = op else {
        return (status, "Succeeded".into());
    };
    let end = eventually(Duration::from_secs(60), || async {
        let (_, s) = send(t.client.get(&op)).await;
        let st = s["status"].as_str().unwrap_or_default().to_string();
        (st != "InProgress").then_some((st, s))
    })
    .await;
    if end.0 != "Succeeded" {
        eprintln!("{path} ended {}: {}", end.0, end.1);
    }
    (status, end.0)
}

pub fn bound(view: &Value, port: u16) -> u16 {
    view["armlet"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["port"] == port)
        .unwrap()["boundPort"]
        .as_u64()
        .unwrap() as u16
}

/// The instances answering through `frontend` (empty when a request failed).
pub async fn names_behind(frontend: SocketAddr, n: usize) -> Vec<String> {
    rotation(frontend, n).await.unwrap_or_default()
}
