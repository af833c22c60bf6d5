//! Defects real clients hit, each found by the client that tests it: `az resource list` with
//! no arguments (an empty `$filter=`), the Python SDK's `begin_update` of a scale set's
//! capacity (a PATCH that must scale, written with the SDK's model classes), and
//! `az vmss list-instances` over more than one page (it follows `nextLink`), and one instance's
//! NIC with `az vmss nic show`.

mod common;

use common::scale_set::*;
use common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_resource_list_with_no_arguments_lists_everything() {
    let t = TestArmlet::start().await;
    let az = Az::for_armlet(&t);
    az.json(&["group", "create", "-n", "keep", "-l", "eastus"])
        .await;
    az.json(&["group", "create", "-n", "gone", "-l", "eastus"])
        .await;
    for (rg, ip) in [("keep", "ip1"), ("gone", "ip2")] {
        az.json(&[
            "network",
            "public-ip",
            "create",
            "-g",
            rg,
            "-n",
            ip,
            "--sku",
            "Standard",
        ])
        .await;
    }
    az.run(&["group", "delete", "-n", "gone", "--yes"]).await;
    let listed = az.json(&["resource", "list"]).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ip1"], "{listed}");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdks_begin_update_of_a_scale_sets_capacity_scales_it() {
    let t = TestArmlet::start().await;
    network(&t).await;
    let out = python_sdk(&t, "sdk_compute.py", &["scale", "rg"]).await;
    let steps: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(steps[0]["instances"], 2, "{out}");
    assert_eq!(steps[1]["capacity"], 3, "{out}");
    assert_eq!(steps[1]["instances"], 3, "the PATCH scaled: {out}");
    assert_eq!(steps[1]["mode"], "Manual", "the PATCH merged: {out}");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_vmss_list_instances_follows_next_links_across_pages() {
    use base64::Engine;
    const INSTANCES: usize = 55; // more than one page of 50
    let t = TestArmlet::start().await;
    network(&t).await;
    // A light instance program (a shell that sleeps) so that 55 instances cost little.
    let script = "#!/bin/sh\nexec sleep 600\n";
    let mut body = vmss_body(INSTANCES as u32);
    body["properties"]["upgradePolicy"]["mode"] = "Manual".into();
    // One vCPU each, so that 55 instances fit the default regional vCPU quota.
    body["sku"]["name"] = "Standard_B1s".into();
    let profile = &mut body["properties"]["virtualMachineProfile"];
    profile["osProfile"]["customData"] = base64::engine::general_purpose::STANDARD
        .encode(script)
        .into();
    profile["networkProfile"]
        .as_object_mut()
        .unwrap()
        .remove("healthProbe");
    let vmss = rid("Microsoft.Compute/virtualMachineScaleSets", "web");
    let (_, end) = put_and_wait(&t, &format!("{vmss}?api-version={COMPUTE}"), body).await;
    assert_eq!(end, "Succeeded");

    // One page over REST: 50 instances and a nextLink with a $skiptoken.
    let (s, page) = send(
        t.client
            .get(t.url(&format!("{vmss}/virtualMachines?api-version={COMPUTE}"))),
    )
    .await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["value"].as_array().unwrap().len(), 50);
    let next = page["nextLink"].as_str().expect("a nextLink");
    assert!(
        next.contains("%24skiptoken=50") || next.contains("$skiptoken=50"),
        "{next}"
    );
    // The next page has the other 5 and ends the list; pages do not overlap.
    let (s, rest) = send(t.client.get(next)).await;
    assert_eq!(s, 200, "{rest}");
    assert_eq!(rest["value"].as_array().unwrap().len(), INSTANCES - 50);
    assert!(rest.get("nextLink").is_none(), "{rest}");
    let first_ids: Vec<&Value> = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["instanceId"])
        .collect();
    assert!(
        rest["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| !first_ids.contains(&&i["instanceId"]))
    );
    // A smaller $top is kept in the nextLink; a bad token or $top is a 400, not a panic.
    let (_, small) = send(t.client.get(t.url(&format!(
        "{vmss}/virtualMachines?api-version={COMPUTE}&$top=20&$skiptoken=40"
    ))))
    .await;
    assert_eq!(small["value"].as_array().unwrap().len(), 15, "{small}");
    assert!(small.get("nextLink").is_none(), "{small}");
    for (query, code) in [
        ("$skiptoken=x", "InvalidSkipToken"),
        ("$top=0", "InvalidTopValue"),
        ("$top=18446744073709551616", "InvalidTopValue"),
    ] {
        let (s, e) = send(t.client.get(t.url(&format!(
            "{vmss}/virtualMachines?api-version={COMPUTE}&{query}"
        ))))
        .await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (400, Some(code)),
            "{query}: {e}"
        );
    }
    let (s, huge) = send(t.client.get(t.url(&format!(
        "{vmss}/virtualMachines?api-version={COMPUTE}&$top=18446744073709551615&$skiptoken=18446744073709551615"
    ))))
    .await;
    assert_eq!(s, 200, "{huge}");
    assert_eq!(huge["value"], serde_json::json!([]));

    // az follows it and lists every instance once.
    let az = Az::for_armlet(&t);
    let listed = az
        .json(&["vmss", "list-instances", "-g", "rg", "-n", "web"])
        .await;
    let mut ids: Vec<u64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["instanceId"].as_str().unwrap().parse().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), INSTANCES, "{listed}");

    // One instance by id, and the load balancer listing every member (reference index).
    let shown = az
        .json(&[
            "vmss",
            "show",
            "-g",
            "rg",
            "-n",
            "web",
            "--instance-id",
            "54",
        ])
        .await;
    assert_eq!(shown["instanceId"], "54");
    // Its NIC, by name under the instance (`az vmss nic show`); an unknown name is a 404.
    let nic_id = shown["networkProfile"]["networkInterfaces"][0]["id"]
        .as_str()
        .expect("the instance's NIC")
        .to_string();
    let nic_name = nic_id.rsplit('/').next().unwrap();
    let nic = az
        .json(&[
            "vmss",
            "nic",
            "show",
            "-g",
            "rg",
            "--vmss-name",
            "web",
            "--instance-id",
            "54",
            "-n",
            nic_name,
        ])
        .await;
    assert_eq!(
        nic["id"].as_str().map(str::to_lowercase),
        Some(nic_id.to_lowercase())
    );
    let (s, e) = send(t.client.get(t.url(&format!(
        "{vmss}/virtualMachines/54/networkInterfaces/nope?api-version={COMPUTE}"
    ))))
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("NotFound")),
        "{e}"
    );
    let lb = az
        .json(&["network", "lb", "show", "-g", "rg", "-n", "lb"])
        .await;
    let members = lb["backendAddressPools"][0]["backendIPConfigurations"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(members, INSTANCES, "{lb}");
    t.stop().await;
}
