//! Microsoft.Network over HTTPS: public IPs and their loopback pool, virtual networks and
//! subnets, NICs and private IP allocation, load balancers with every child collection,
//! back-references, NAT pools, and Azure's validation errors (each leaving state unchanged).

mod common;

use common::*;
use serde_json::{Value, json};

const V: &str = "api-version=2024-05-01";

fn net(rest: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/{rest}")
}

fn url(rest: &str) -> String {
    let (path, query) = rest
        .split_once('?')
        .map_or((rest, None), |(p, q)| (p, Some(q)));
    match query {
        Some(q) => format!("{}?{q}&{V}", net(path)),
        None => format!("{}?{V}", net(path)),
    }
}

async fn start() -> TestArmlet {
    let t = TestArmlet::start().await;
    let (s, _) = t.put(&rg_path("rg"), json!({"location": "eastus"})).await;
    assert_eq!(s, 201);
    t
}

async fn ok(t: &TestArmlet, rest: &str, body: Value) -> Value {
    let (s, v) = t.put(&url(rest), body).await;
    assert!(s == 200 || s == 201, "PUT {rest}: {s} {v}");
    v
}

async fn fails(t: &TestArmlet, rest: &str, body: Value, code: &str) {
    let (s, v) = t.put(&url(rest), body).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some(code)),
        "PUT {rest}: {v}"
    );
}

async fn get(t: &TestArmlet, rest: &str) -> Value {
    let (s, v) = t.get(&url(rest)).await;
    assert_eq!(s, 200, "GET {rest}: {v}");
    v
}

fn pip(sku: &str) -> Value {
    json!({"location": "eastus", "sku": {"name": sku}, "properties": {"publicIPAllocationMethod": "Static"}})
}

fn vnet(subnets: Value) -> Value {
    json!({"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": subnets}})
}

fn subnet(name: &str, prefix: &str) -> Value {
    json!({"name": name, "properties": {"addressPrefix": prefix}})
}

fn nic(subnet: &str, extra: Value) -> Value {
    let mut props =
        json!({"subnet": {"id": net(&format!("virtualNetworks/vnet/subnets/{subnet}"))}});
    for (k, v) in extra.as_object().unwrap() {
        props[k] = v.clone();
    }
    json!({"location": "eastus", "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": props}]}})
}

fn lb_ref(lb: &str, collection: &str, name: &str) -> Value {
    json!({"id": net(&format!("loadBalancers/{lb}/{collection}/{name}"))})
}

/// The tutorial's load balancer, built the way the clients send it.
fn tutorial_lb() -> Value {
    let fe = lb_ref("lb", "frontendIPConfigurations", "fe");
    let pool = lb_ref("lb", "backendAddressPools", "pool");
    json!({
        "location": "eastus",
        "sku": {"name": "Standard"},
        "properties": {
            "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": net("publicIPAddresses/ip")}}}],
            "backendAddressPools": [{"name": "pool"}],
            "probes": [
                {"name": "http", "properties": {"protocol": "Http", "port": 80, "requestPath": "/health", "intervalInSeconds": 15, "numberOfProbes": 2}},
                {"name": "https", "properties": {"protocol": "Https", "port": 443, "requestPath": "/health", "intervalInSeconds": 15, "numberOfProbes": 2}},
            ],
            "loadBalancingRules": [
                {"name": "web", "properties": {"frontendIPConfiguration": fe, "backendAddressPool": pool, "probe": lb_ref("lb", "probes", "http"),
                    "protocol": "Tcp", "frontendPort": 80, "backendPort": 80, "idleTimeoutInMinutes": 15, "enableTcpReset": true}},
                {"name": "tls", "properties": {"frontendIPConfiguration": fe, "backendAddressPool": pool, "probe": lb_ref("lb", "probes", "https"),
                    "protocol": "Tcp", "frontendPort": 443, "backendPort": 443, "idleTimeoutInMinutes": 15, "enableTcpReset": true}},
            ],
            "inboundNatPools": [{"name": "ssh", "properties": {"frontendIPConfiguration": fe, "protocol": "Tcp",
                "frontendPortRangeStart": 50000, "frontendPortRangeEnd": 50099, "backendPort": 22}}],
            "inboundNatRules": [{"name": "rdp", "properties": {"frontendIPConfiguration": fe, "protocol": "Tcp", "frontendPort": 3389, "backendPort": 3389}}],
        }
    })
}

#[tokio::test]
async fn public_ips_get_loopback_addresses_and_dns_names() {
    let t = start().await;
    let a = ok(&t, "publicIPAddresses/a", pip("Standard")).await;
    assert_eq!(a["properties"]["ipAddress"], public_ip_n(&t, 1));
    assert_eq!(a["properties"]["provisioningState"], "Succeeded");
    assert_eq!(a["properties"]["idleTimeoutInMinutes"], 4);
    assert_eq!(a["properties"]["publicIPAddressVersion"], "IPv4");
    assert_eq!(a["sku"], json!({"name": "Standard", "tier": "Regional"}));
    assert_eq!(a["id"], net("publicIPAddresses/a"));
    let b = ok(
        &t,
        "publicIPAddresses/b",
        json!({"location": "eastus", "sku": {"name": "Basic"}, "properties": {"publicIPAllocationMethod": "Dynamic",
            "idleTimeoutInMinutes": 10, "dnsSettings": {"domainNameLabel": "myapp"}}}),
    )
    .await;
    assert_eq!(
        b["properties"]["ipAddress"],
        public_ip_n(&t, 2),
        "Dynamic addresses are assigned at create too"
    );
    assert_eq!(
        b["properties"]["dnsSettings"]["fqdn"],
        "myapp.eastus.cloudapp.azure.com"
    );

    // An update keeps the address; a freed address is reused, lowest first.
    let b2 = ok(&t, "publicIPAddresses/B", json!({"location": "eastus", "sku": {"name": "Basic"}, "properties": {"idleTimeoutInMinutes": 20}})).await;
    assert_eq!(b2["properties"]["ipAddress"], public_ip_n(&t, 2));
    assert_eq!(b2["name"], "b");
    assert!(b2["properties"]["dnsSettings"].is_null());
    assert_eq!(t.delete(&url("publicIPAddresses/a")).await.0, 200);
    let mut with_dns = pip("Standard");
    with_dns["properties"]["dnsSettings"] = json!({"domainNameLabel": "webapp"});
    let c = ok(&t, "publicIPAddresses/c", with_dns).await;
    assert_eq!(c["properties"]["ipAddress"], public_ip_n(&t, 1));
    // The pool spans subscriptions.
    let other = "00000000-0000-0000-0000-0000000000ff";
    t.put(
        &format!("/subscriptions/{other}/resourcegroups/rg?api-version=2024-11-01"),
        json!({"location": "eastus"}),
    )
    .await;
    let (s, d) = t
        .put(&format!("/subscriptions/{other}/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/d?{V}"), pip("Standard"))
        .await;
    assert_eq!(
        (s, d["properties"]["ipAddress"].as_str()),
        (201, Some(public_ip_n(&t, 3).as_str()))
    );

    let list = get(&t, "publicIPAddresses").await;
    assert_eq!(list["value"].as_array().unwrap().len(), 2);

    fails(&t, "publicIPAddresses/e", json!({"location": "eastus", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Dynamic"}}), "StandardSkuPublicIPAddressesMustBeStatic").await;
    fails(
        &t,
        "publicIPAddresses/e",
        json!({"location": "eastus", "properties": {"idleTimeoutInMinutes": 31}}),
        "InvalidRequestFormat",
    )
    .await;
    fails(
        &t,
        "publicIPAddresses/e",
        json!({"location": "eastus", "properties": {"dnsSettings": {"domainNameLabel": "webapp"}}}),
        "DnsRecordInUse",
    )
    .await;
    fails(&t, "publicIPAddresses/e", json!({"location": "eastus", "properties": {"dnsSettings": {"domainNameLabel": "Bad_Label"}}}), "InvalidDomainNameLabel").await;
    fails(
        &t,
        "publicIPAddresses/e",
        json!({"location": "eastus", "sku": {"name": "Premium"}}),
        "InvalidRequestFormat",
    )
    .await;
    assert_eq!(t.get(&url("publicIPAddresses/e")).await.0, 404);
    t.stop().await;
}

#[tokio::test]
async fn virtual_networks_and_subnets() {
    let t = start().await;
    let v = ok(
        &t,
        "virtualNetworks/vnet",
        vnet(json!([subnet("a", "10.0.0.0/24")])),
    )
    .await;
    let a = &v["properties"]["subnets"][0];
    assert_eq!(a["id"], net("virtualNetworks/vnet/subnets/a"));
    assert_eq!(a["type"], "Microsoft.Network/virtualNetworks/subnets");
    assert_eq!(a["properties"]["provisioningState"], "Succeeded");
    assert_eq!(a["etag"], v["etag"]);

    // Subnets as child resources.
    let (s, b) = t
        .put(
            &url("virtualNetworks/vnet/subnets/b"),
            json!({"properties": {"addressPrefix": "10.0.1.0/24"}}),
        )
        .await;
    assert_eq!((s, b["name"].as_str()), (201, Some("b")));
    let list = get(&t, "virtualNetworks/vnet/subnets").await;
    assert_eq!(list["value"].as_array().unwrap().len(), 2);
    assert_eq!(
        get(&t, "virtualNetworks/vnet/subnets/B").await["properties"]["addressPrefix"],
        "10.0.1.0/24"
    );

    fails(
        &t,
        "virtualNetworks/vnet/subnets/c",
        json!({"properties": {"addressPrefix": "10.0.1.128/25"}}),
        "NetcfgSubnetRangesOverlap",
    )
    .await;
    fails(
        &t,
        "virtualNetworks/vnet/subnets/c",
        json!({"properties": {"addressPrefix": "10.1.0.0/24"}}),
        "NetcfgSubnetRangeOutsideVnet",
    )
    .await;
    fails(
        &t,
        "virtualNetworks/vnet/subnets/c",
        json!({"properties": {"addressPrefix": "10.0.2.1/24"}}),
        "InvalidCIDRNotation",
    )
    .await;
    fails(
        &t,
        "virtualNetworks/vnet/subnets/c",
        json!({"properties": {"addressPrefix": "10.0.2.0/30"}}),
        "NetcfgInvalidSubnet",
    )
    .await;
    fails(&t, "virtualNetworks/v2", json!({"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16", "10.0.128.0/17"]}}}), "VnetAddressSpacesOverlap").await;
    fails(&t, "virtualNetworks/v2", json!({"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/33"]}}}), "NetcfgInvalidIPAddressPrefix").await;

    let (s, _) = t.delete(&url("virtualNetworks/vnet/subnets/b")).await;
    assert_eq!(s, 200);
    assert_eq!(t.get(&url("virtualNetworks/vnet/subnets/b")).await.0, 404);
    assert_eq!(
        get(&t, "virtualNetworks/vnet").await["properties"]["subnets"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    t.stop().await;
}

#[tokio::test]
async fn nics_get_private_addresses_the_way_azure_allocates() {
    let t = start().await;
    ok(
        &t,
        "virtualNetworks/vnet",
        vnet(json!([subnet("small", "10.0.0.0/29")])),
    )
    .await;
    let n1 = ok(&t, "networkInterfaces/n1", nic("small", json!({}))).await;
    let c = &n1["properties"]["ipConfigurations"][0];
    assert_eq!(c["properties"]["privateIPAddress"], "10.0.0.4");
    assert_eq!(c["properties"]["privateIPAllocationMethod"], "Dynamic");
    assert_eq!(c["properties"]["primary"], true);
    assert_eq!(
        c["id"],
        net("networkInterfaces/n1/ipConfigurations/ipconfig1")
    );
    assert_eq!(
        c["type"],
        "Microsoft.Network/networkInterfaces/ipConfigurations"
    );
    let n2 = ok(&t, "networkInterfaces/n2", nic("small", json!({}))).await;
    assert_eq!(
        n2["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"],
        "10.0.0.5"
    );
    let static_ip = json!({"privateIPAllocationMethod": "Static", "privateIPAddress": "10.0.0.6"});
    ok(&t, "networkInterfaces/n3", nic("small", static_ip)).await;
    fails(
        &t,
        "networkInterfaces/n4",
        nic("small", json!({})),
        "SubnetIsFull",
    )
    .await;
    fails(
        &t,
        "networkInterfaces/n4",
        nic(
            "small",
            json!({"privateIPAllocationMethod": "Static", "privateIPAddress": "10.0.0.1"}),
        ),
        "PrivateIPAddressInReservedRange",
    )
    .await;
    fails(
        &t,
        "networkInterfaces/n4",
        nic(
            "small",
            json!({"privateIPAllocationMethod": "Static", "privateIPAddress": "10.0.0.4"}),
        ),
        "PrivateIPAddressInUse",
    )
    .await;
    fails(
        &t,
        "networkInterfaces/n4",
        nic(
            "small",
            json!({"privateIPAllocationMethod": "Static", "privateIPAddress": "10.0.1.4"}),
        ),
        "PrivateIPAddressNotInSubnet",
    )
    .await;
    fails(
        &t,
        "networkInterfaces/n4",
        nic("missing", json!({})),
        "InvalidResourceReference",
    )
    .await;
    fails(&t, "networkInterfaces/n4", nic("small", json!({"loadBalancerBackendAddressPools": [lb_ref("nolb", "backendAddressPools", "p")]})), "InvalidResourceReference").await;

    // Updates keep the address; a freed address is handed out again.
    let again = ok(&t, "networkInterfaces/n1", nic("small", json!({}))).await;
    assert_eq!(
        again["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"],
        "10.0.0.4"
    );
    assert_eq!(t.delete(&url("networkInterfaces/n2")).await.0, 200);
    let n5 = ok(&t, "networkInterfaces/n5", nic("small", json!({}))).await;
    assert_eq!(
        n5["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"],
        "10.0.0.5"
    );
    assert_eq!(
        get(&t, "networkInterfaces/n5/ipConfigurations/ipconfig1").await["properties"]["privateIPAddress"],
        "10.0.0.5"
    );

    // The subnet lists what uses it and cannot go while it is used.
    let s = get(&t, "virtualNetworks/vnet/subnets/small").await;
    assert_eq!(
        s["properties"]["ipConfigurations"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let before = get(&t, "virtualNetworks/vnet").await;
    let (status, err) = t.delete(&url("virtualNetworks/vnet/subnets/small")).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("InUseSubnetCannotBeDeleted"))
    );
    fails(
        &t,
        "virtualNetworks/vnet",
        vnet(json!([])),
        "InUseSubnetCannotBeDeleted",
    )
    .await;
    fails(
        &t,
        "virtualNetworks/vnet",
        vnet(json!([subnet("small", "10.0.0.8/29")])),
        "InUseSubnetCannotBeUpdated",
    )
    .await;
    let (status, err) = t.delete(&url("virtualNetworks/vnet")).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("InUseSubnetCannotBeDeleted"))
    );
    assert_eq!(
        get(&t, "virtualNetworks/vnet").await["etag"],
        before["etag"],
        "nothing changed"
    );
    t.stop().await;
}

/// Writes a NIC row the way the compute provider stores a scale-set instance's NIC.
async fn instance_nic(t: &TestArmlet, instance: u32, nat_index: u32, ip: &str) {
    let id = format!(
        "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/vmss/virtualMachines/{instance}/networkInterfaces/nic"
    );
    let body = json!({"id": id, "name": "nic", "type": "Microsoft.Network/networkInterfaces", "location": "eastus",
    "properties": {"ipConfigurations": [{"name": "ipc", "properties": {
        "privateIPAddress": ip, "subnet": {"id": net("virtualNetworks/vnet/subnets/default")},
        "loadBalancerBackendAddressPools": [lb_ref("lb", "backendAddressPools", "pool")],
        "loadBalancerInboundNatRules": [{"id": net(&format!("loadBalancers/lb/inboundNatRules/ssh.{nat_index}"))}],
    }}]}});
    let row = armlet::store::Resource {
        id: id.clone(),
        subscription: SUB.into(),
        resource_group: Some("rg".into()),
        type_name: "Microsoft.Network/networkInterfaces".into(),
        name: "nic".into(),
        body,
        etag: "W/\"x\"".into(),
    };
    let mut w = t.armlet.app.store.write().await.unwrap();
    armlet::store::resources::put(&mut w.tx, &row)
        .await
        .unwrap();
    w.commit().await.unwrap();
}

#[tokio::test]
async fn load_balancer_children_back_references_and_nat_pools() {
    let t = start().await;
    ok(&t, "publicIPAddresses/ip", pip("Standard")).await;
    ok(
        &t,
        "virtualNetworks/vnet",
        vnet(json!([subnet("default", "10.0.0.0/24")])),
    )
    .await;
    let lb = ok(&t, "loadBalancers/lb", tutorial_lb()).await;
    let lb_id = net("loadBalancers/lb");
    assert_eq!(lb["id"], lb_id);
    let p = &lb["properties"];
    for c in [
        "frontendIPConfigurations",
        "backendAddressPools",
        "loadBalancingRules",
        "probes",
        "inboundNatRules",
        "inboundNatPools",
        "outboundRules",
    ] {
        assert!(p[c].is_array(), "{c} present");
    }
    let rule = &p["loadBalancingRules"][0];
    assert_eq!(rule["id"], format!("{lb_id}/loadBalancingRules/web"));
    assert_eq!(
        rule["type"],
        "Microsoft.Network/loadBalancers/loadBalancingRules"
    );
    assert_eq!(rule["etag"], lb["etag"]);
    assert_eq!(rule["properties"]["idleTimeoutInMinutes"], 15);
    assert_eq!(rule["properties"]["enableTcpReset"], true);
    assert_eq!(rule["properties"]["loadDistribution"], "Default");
    assert_eq!(
        rule["properties"]["backendAddressPools"],
        json!([{"id": format!("{lb_id}/backendAddressPools/pool")}])
    );
    assert_eq!(
        p["probes"][0]["properties"]["loadBalancingRules"],
        json!([{"id": format!("{lb_id}/loadBalancingRules/web")}])
    );
    let fe = &p["frontendIPConfigurations"][0]["properties"];
    assert_eq!(fe["loadBalancingRules"].as_array().unwrap().len(), 2);
    assert_eq!(
        fe["inboundNatPools"],
        json!([{"id": format!("{lb_id}/inboundNatPools/ssh")}])
    );
    assert_eq!(
        fe["inboundNatRules"],
        json!([{"id": format!("{lb_id}/inboundNatRules/rdp")}])
    );
    assert_eq!(
        get(&t, "publicIPAddresses/ip").await["properties"]["ipConfiguration"]["id"],
        format!("{lb_id}/frontendIPConfigurations/fe")
    );
    let (s, e) = t.delete(&url("publicIPAddresses/ip")).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("PublicIPAddressCannotBeDeleted"))
    );

    // Instance NICs in the pool, each holding a NAT pool port.
    instance_nic(&t, 0, 0, "10.0.0.4").await;
    instance_nic(&t, 1, 1, "10.0.0.5").await;
    let lb = get(&t, "loadBalancers/lb").await;
    let nat: Vec<&Value> = lb["properties"]["inboundNatRules"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    let names: Vec<&str> = nat.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["rdp", "ssh.0", "ssh.1"]);
    assert_eq!(nat[2]["properties"]["frontendPort"], 50001);
    assert_eq!(nat[2]["properties"]["backendPort"], 22);
    assert_eq!(nat[2]["id"], format!("{lb_id}/inboundNatRules/ssh.1"));
    let ipc1 = format!(
        "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/vmss/virtualMachines/1/networkInterfaces/nic/ipConfigurations/ipc"
    );
    assert_eq!(nat[2]["properties"]["backendIPConfiguration"]["id"], ipc1);
    assert_eq!(
        lb["properties"]["backendAddressPools"][0]["properties"]["backendIPConfigurations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        get(&t, "loadBalancers/lb/inboundNatRules/ssh.0").await["properties"]["frontendPort"],
        50000
    );
    assert_eq!(
        get(&t, "loadBalancers/lb/inboundNatRules").await["value"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // Instance NICs are not standalone NICs.
    assert!(
        get(&t, "networkInterfaces").await["value"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        get(&t, "loadBalancers/lb/networkInterfaces").await["value"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let subnet_users =
        &get(&t, "virtualNetworks/vnet/subnets/default").await["properties"]["ipConfigurations"];
    assert_eq!(subnet_users.as_array().unwrap().len(), 2);

    // What a client GETs it can PUT back: the NAT pool rules are recomputed, not stored.
    let (s, echoed) = t.put(&url("loadBalancers/lb"), lb.clone()).await;
    assert_eq!(s, 200, "{echoed}");
    assert_eq!(
        echoed["properties"]["inboundNatRules"],
        lb["properties"]["inboundNatRules"]
            .clone()
            .tap_etag(&echoed["etag"])
    );

    // Port mappings and rule health.
    let resp = t
        .client
        .post(t.url(&url(
            "loadBalancers/lb/backendAddressPools/pool/queryInboundNatRulePortMapping",
        )))
        .json(&json!({"ipConfiguration": {"id": ipc1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mappings: Value = resp.json().await.unwrap();
    assert_eq!(
        mappings,
        json!({"inboundNatRulePortMappings": [{"inboundNatRuleName": "ssh.1", "protocol": "Tcp", "frontendPort": 50001, "backendPort": 22}]})
    );
    let health: Value = t
        .client
        .post(t.url(&url("loadBalancers/lb/loadBalancingRules/web/health")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        health["loadBalancerBackendAddresses"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        health["loadBalancerBackendAddresses"][0]["state"],
        "Unknown"
    );
    assert_eq!(
        health["loadBalancerBackendAddresses"][0]["ipAddress"],
        "10.0.0.4"
    );

    // Child PUT/DELETE where Azure has them; the pool a NIC uses cannot go.
    let (s, pool2) = t
        .put(
            &url("loadBalancers/lb/backendAddressPools/pool2"),
            json!({"properties": {}}),
        )
        .await;
    assert_eq!(
        (s, pool2["id"].as_str()),
        (
            201,
            Some(format!("{lb_id}/backendAddressPools/pool2").as_str())
        )
    );
    assert_eq!(
        t.delete(&url("loadBalancers/lb/backendAddressPools/pool2"))
            .await
            .0,
        200
    );
    let (s, e) = t
        .delete(&url("loadBalancers/lb/backendAddressPools/pool"))
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("InUseBackendAddressPoolCannotBeDeleted"))
    );
    let mut no_nat_pool = tutorial_lb();
    no_nat_pool["properties"]["inboundNatPools"] = json!([]);
    fails(
        &t,
        "loadBalancers/lb",
        no_nat_pool,
        "InUseInboundNatPoolCannotBeDeleted",
    )
    .await;
    let (s, e) = t.delete(&url("loadBalancers/lb")).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("LoadBalancerInUseByVirtualMachineScaleSet"))
    );
    let (s, rdp) = t
        .put(&url("loadBalancers/lb/inboundNatRules/rdp"), json!({"properties": {"frontendIPConfiguration": lb_ref("lb", "frontendIPConfigurations", "fe"), "protocol": "Tcp", "frontendPort": 3390, "backendPort": 3389}}))
        .await;
    assert_eq!(
        (s, rdp["properties"]["frontendPort"].as_i64()),
        (200, Some(3390))
    );
    assert_eq!(
        t.delete(&url("loadBalancers/lb/inboundNatRules/rdp"))
            .await
            .0,
        200
    );
    assert_eq!(
        get(&t, "loadBalancers/lb/probes").await["value"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        get(&t, "loadBalancers/lb/frontendIPConfigurations/FE").await["name"],
        "fe"
    );
    let (s, _) = t
        .put(
            &url("loadBalancers/lb/probes/new"),
            json!({"properties": {"protocol": "Tcp", "port": 1}}),
        )
        .await;
    assert_eq!(s, 405, "probes are written through the load balancer");
    t.stop().await;
}

trait TapEtag {
    fn tap_etag(self, etag: &Value) -> Value;
}

impl TapEtag for Value {
    /// The same child array with every element's etag replaced (a PUT gives a new etag).
    fn tap_etag(mut self, etag: &Value) -> Value {
        for e in self.as_array_mut().unwrap() {
            e["etag"] = etag.clone();
        }
        self
    }
}

#[tokio::test]
async fn load_balancer_validation_refuses_what_azure_refuses_and_changes_nothing() {
    let t = start().await;
    ok(&t, "publicIPAddresses/ip", pip("Standard")).await;
    ok(&t, "publicIPAddresses/basic", pip("Basic")).await;
    let good = ok(&t, "loadBalancers/lb", tutorial_lb()).await;

    let with = |edit: &dyn Fn(&mut Value)| {
        let mut lb = tutorial_lb();
        edit(&mut lb);
        lb
    };
    let rules = "/properties/loadBalancingRules";
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&|lb| {
                lb.pointer_mut(&format!("{rules}/0/properties/probe"))
                    .map(|p| *p = lb_ref("lb", "probes", "nope"))
                    .unwrap()
            }),
            "InvalidResourceReference",
        ),
        (
            with(&|lb| {
                lb["properties"]["frontendIPConfigurations"][0]["properties"]["publicIPAddress"]["id"] =
                    json!(net("publicIPAddresses/nope"))
            }),
            "InvalidResourceReference",
        ),
        (
            with(&|lb| {
                lb["properties"]["frontendIPConfigurations"][0]["properties"]["publicIPAddress"]["id"] =
                    json!(net("publicIPAddresses/basic"))
            }),
            "PublicIPAndLBSkuDoNotMatch",
        ),
        (
            with(&|lb| {
                lb.pointer_mut(&format!("{rules}/1/properties/frontendPort"))
                    .map(|p| *p = json!(80))
                    .unwrap()
            }),
            "LoadBalancingRuleFrontendPortConflict",
        ),
        (
            with(&|lb| {
                lb["properties"]["inboundNatRules"][0]["properties"]["frontendPort"] = json!(50050)
            }),
            "InboundNatFrontendPortConflict",
        ),
        (
            with(&|lb| {
                let mut second = lb["properties"]["inboundNatPools"][0].clone();
                second["name"] = json!("ssh2");
                second["properties"]["frontendPortRangeStart"] = json!(50099);
                second["properties"]["frontendPortRangeEnd"] = json!(50199);
                lb["properties"]["inboundNatPools"]
                    .as_array_mut()
                    .unwrap()
                    .push(second);
            }),
            "InboundNatFrontendPortConflict",
        ),
        (
            with(&|lb| lb["properties"]["probes"][0]["properties"]["protocol"] = json!("Tcp")),
            "ProbeRequestPathNotAllowedForTcpProbes",
        ),
        (
            with(&|lb| lb["properties"]["probes"][0]["properties"]["port"] = json!(70000)),
            "InvalidRequestFormat",
        ),
        (
            with(&|lb| {
                lb.pointer_mut(&format!("{rules}/0/properties/idleTimeoutInMinutes"))
                    .map(|p| *p = json!(101))
                    .unwrap()
            }),
            "InvalidRequestFormat",
        ),
        (
            with(&|lb| {
                lb.pointer_mut(&format!("{rules}/1/properties/backendPort"))
                    .map(|p| *p = json!(80))
                    .unwrap()
            }),
            "RulesUseSameBackendPortProtocolAndPool",
        ),
        (
            with(&|lb| {
                lb["properties"]["inboundNatPools"][0]["properties"]["frontendPortRangeEnd"] =
                    json!(70000)
            }),
            "InvalidRequestFormat",
        ),
        (
            with(&|lb| lb["properties"]["probes"][1]["name"] = json!("HTTP")),
            "InvalidRequestFormat",
        ),
    ];
    for (body, code) in cases {
        fails(&t, "loadBalancers/lb", body, code).await;
    }
    let mut lb_ref_bad = tutorial_lb();
    lb_ref_bad["properties"]["loadBalancingRules"][0]["properties"]["frontendIPConfiguration"]["id"] =
        json!("not-an-id");
    fails(
        &t,
        "loadBalancers/lb",
        lb_ref_bad,
        "InvalidResourceReference",
    )
    .await;
    let now = get(&t, "loadBalancers/lb").await;
    assert_eq!(now["etag"], good["etag"], "nothing was written");
    assert_eq!(now, good);

    // A Basic public IP cannot serve a second load balancer's frontend, nor be used twice.
    let mut second = tutorial_lb();
    second["properties"] = json!({"frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": net("publicIPAddresses/ip")}}}]});
    fails(&t, "loadBalancers/lb2", second, "PublicIPAddressInUse").await;
    t.stop().await;
}

#[tokio::test]
async fn internal_load_balancer_takes_a_private_address_and_ha_ports() {
    let t = start().await;
    ok(
        &t,
        "virtualNetworks/vnet",
        vnet(json!([subnet("default", "10.0.0.0/24")])),
    )
    .await;
    ok(&t, "networkInterfaces/n1", nic("default", json!({}))).await;
    let subnet_ref = json!({"id": net("virtualNetworks/vnet/subnets/default")});
    let body = json!({"location": "eastus", "sku": {"name": "Standard"}, "properties": {
        "frontendIPConfigurations": [
            {"name": "dyn", "properties": {"subnet": subnet_ref}},
            {"name": "fixed", "properties": {"subnet": subnet_ref, "privateIPAllocationMethod": "Static", "privateIPAddress": "10.0.0.100"}},
        ],
        "backendAddressPools": [{"name": "pool", "properties": {"loadBalancerBackendAddresses": [
            {"name": "a", "properties": {"ipAddress": "10.0.0.50", "virtualNetwork": {"id": net("virtualNetworks/vnet")}}}]}}],
        "loadBalancingRules": [{"name": "ha", "properties": {"frontendIPConfiguration": lb_ref("ilb", "frontendIPConfigurations", "dyn"),
            "backendAddressPool": lb_ref("ilb", "backendAddressPools", "pool"), "protocol": "All", "frontendPort": 0, "backendPort": 0}}],
    }});
    let ilb = ok(&t, "loadBalancers/ilb", body.clone()).await;
    let fes = &ilb["properties"]["frontendIPConfigurations"];
    assert_eq!(
        fes[0]["properties"]["privateIPAddress"], "10.0.0.5",
        ".4 is the NIC's"
    );
    assert_eq!(fes[1]["properties"]["privateIPAddress"], "10.0.0.100");
    let again = ok(&t, "loadBalancers/ilb", body.clone()).await;
    assert_eq!(
        again["properties"]["frontendIPConfigurations"][0]["properties"]["privateIPAddress"],
        "10.0.0.5"
    );
    let n2 = ok(&t, "networkInterfaces/n2", nic("default", json!({}))).await;
    assert_eq!(
        n2["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"],
        "10.0.0.6"
    );
    fails(
        &t,
        "networkInterfaces/n3",
        nic(
            "default",
            json!({"privateIPAllocationMethod": "Static", "privateIPAddress": "10.0.0.100"}),
        ),
        "PrivateIPAddressInUse",
    )
    .await;
    let (s, e) = t.delete(&url("virtualNetworks/vnet/subnets/default")).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("InUseSubnetCannotBeDeleted"))
    );
    let health: Value = t
        .client
        .post(t.url(&url("loadBalancers/ilb/loadBalancingRules/ha/health")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        health["loadBalancerBackendAddresses"],
        json!([{"ipAddress": "10.0.0.50", "state": "Unknown", "reason": "No health probe results are available for this backend yet."}])
    );
    let mut two_same = body.clone();
    two_same["properties"]["frontendIPConfigurations"][0]["properties"] = json!({"subnet": subnet_ref, "privateIPAllocationMethod": "Static", "privateIPAddress": "10.0.0.100"});
    fails(
        &t,
        "loadBalancers/ilb",
        two_same,
        "MultipleIpConfigsRequestSamePrivateIpAddress",
    )
    .await;
    let mut bad_vnet = body;
    bad_vnet["properties"]["backendAddressPools"][0]["properties"]["loadBalancerBackendAddresses"]
        [0]["properties"]["virtualNetwork"]["id"] = json!(net("virtualNetworks/nope"));
    fails(
        &t,
        "loadBalancers/ilb",
        bad_vnet,
        "InvalidResourceReference",
    )
    .await;

    // HA ports only on an internal frontend.
    ok(&t, "publicIPAddresses/ip", pip("Standard")).await;
    let mut public = tutorial_lb();
    public["properties"]["loadBalancingRules"]
        .as_array_mut()
        .unwrap()
        .truncate(1);
    public["properties"]["loadBalancingRules"][0]["properties"]["protocol"] = json!("All");
    public["properties"]["loadBalancingRules"][0]["properties"]["frontendPort"] = json!(0);
    public["properties"]["loadBalancingRules"][0]["properties"]["backendPort"] = json!(0);
    fails(&t, "loadBalancers/lb", public, "InvalidRequestFormat").await;
    t.stop().await;
}
