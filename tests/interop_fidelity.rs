//! Defects real clients hit, each found by the client that tests it: `az resource list` with
//! no arguments (an empty `$filter=`), and the Python SDK's `begin_update` of a scale set's
//! capacity (a PATCH that must scale, written with the SDK's model classes).

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
