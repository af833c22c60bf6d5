//! Interop with the real clients: the `az` CLI (set up by `armlet az-env`) and the Azure SDK
//! for Python manage resource groups against armlet.

mod common;

use common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_cli_manages_resource_groups() {
    let t = TestArmlet::start().await;
    let az = Az::for_armlet(&t);

    let account = az.json(&["account", "show"]).await;
    assert_eq!(account["id"], SUB);

    let rg = az
        .json(&["group", "create", "-n", "tutorial-rg", "-l", "eastus"])
        .await;
    assert_eq!(rg["name"], "tutorial-rg");
    assert_eq!(rg["properties"]["provisioningState"], "Succeeded");

    let shown = az.json(&["group", "show", "-n", "tutorial-rg"]).await;
    assert_eq!(shown["location"], "eastus");
    let list = az.json(&["group", "list"]).await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "tutorial-rg")
    );
    assert_eq!(
        az.json(&["group", "exists", "-n", "tutorial-rg"]).await,
        Value::Bool(true)
    );

    let updated = az
        .json(&[
            "group",
            "update",
            "-n",
            "tutorial-rg",
            "--tags",
            "env=ci",
            "team=armlet",
        ])
        .await;
    assert_eq!(updated["tags"]["env"], "ci");
    assert_eq!(updated["tags"]["team"], "armlet");

    let provider = az
        .json(&["provider", "show", "-n", "Microsoft.Network"])
        .await;
    assert_eq!(provider["registrationState"], "Registered");

    // Errors come through as ARM errors.
    let err = az.fails(&["group", "show", "-n", "does-not-exist"]).await;
    assert!(err.contains("ResourceGroupNotFound"), "{err}");
    let err = az
        .fails(&["group", "create", "-n", "tutorial-rg", "-l", "westus"])
        .await;
    assert!(err.contains("InvalidResourceGroupLocation"), "{err}");

    az.json(&["group", "delete", "-n", "tutorial-rg", "--yes"])
        .await;
    assert_eq!(
        az.json(&["group", "exists", "-n", "tutorial-rg"]).await,
        Value::Bool(false)
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_login_with_service_principal_and_managed_identity() {
    let t = TestArmlet::start().await;
    let az = Az::for_armlet(&t);
    let tenant = armlet::config::DEFAULT_TENANT;
    let accounts = az
        .json(&[
            "login",
            "--service-principal",
            "-u",
            "my-app",
            "-p",
            "any-secret",
            "--tenant",
            tenant,
        ])
        .await;
    assert_eq!(accounts[0]["id"], SUB);
    assert_eq!(accounts[0]["user"]["type"], "servicePrincipal");
    az.json(&["group", "create", "-n", "after-login", "-l", "eastus"])
        .await;

    // Managed identity, App Service style: IDENTITY_ENDPOINT + IDENTITY_HEADER.
    let mut mi = Az {
        env: az.env.clone(),
    };
    mi.env.push((
        "IDENTITY_ENDPOINT".into(),
        format!("{}/msi/token", t.armlet.endpoint()),
    ));
    mi.env.push(("IDENTITY_HEADER".into(), "armlet".into()));
    let accounts = mi.json(&["login", "--identity"]).await;
    assert_eq!(accounts[0]["id"], SUB);
    let groups = mi.json(&["group", "list"]).await;
    assert!(
        groups
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "after-login")
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_creates_lists_and_deletes_with_its_poller() {
    let t = TestArmlet::start().await;
    let out = python_sdk(&t, "sdk_resource_groups.py", &["sdk-rg"]).await;
    let seen: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(seen["created"], "sdk-rg");
    assert_eq!(seen["location"], "westeurope");
    assert_eq!(seen["tags"]["by"], "sdk");
    assert!(
        seen["listed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "sdk-rg")
    );
    assert_eq!(seen["exists_before"], true);
    assert_eq!(seen["exists_after"], false);
    assert_eq!(seen["poller_status"], "Succeeded");
    t.stop().await;
}
