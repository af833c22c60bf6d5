//! Linked templates and what-if with the real `az` CLI: `az deployment group create
//! --template-uri file:///...` (nested links through `_artifactsLocation` and
//! `relativePath`), `--template-file` with nested linked templates, a public quickstart that
//! needs `deployment().properties.templateLink`, and `az deployment group what-if`,
//! `--what-if`, `--confirm-with-what-if` and `--result-format ResourceIdOnly`.

mod common;

use common::*;
use serde_json::{Value, json};

fn path(relative: &str) -> String {
    repo_root()
        .join("tests/fixtures/templates")
        .join(relative)
        .display()
        .to_string()
}

fn file_uri(relative: &str) -> String {
    format!("file://{}", path(relative))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_deploys_linked_templates_from_file_uris_and_template_files() {
    let t = TestArmlet::start().await;
    let az = Az::for_armlet(&t);
    az.json(&["group", "create", "-n", "linked", "-l", "eastus"])
        .await;

    // --template-uri: az sends templateLink; _artifactsLocation defaults to it.
    let main = file_uri("linked/azuredeploy.json");
    let d = az
        .json(&[
            "deployment",
            "group",
            "create",
            "-g",
            "linked",
            "-n",
            "by-uri",
            "--template-uri",
            &main,
            "--parameters",
            "_artifactsLocationSasToken=?sv=1",
        ])
        .await;
    let p = &d["properties"];
    assert_eq!(p["provisioningState"], "Succeeded", "{d}");
    assert_eq!(p["templateLink"]["uri"], json!(main));
    assert_eq!(p["outputs"]["artifacts"]["value"], json!(main));
    assert!(
        p["outputs"]["loadBalancerId"]["value"]
            .as_str()
            .unwrap()
            .ends_with("/loadBalancers/lnk-lb")
    );
    let names: Vec<String> = az
        .json(&[
            "deployment",
            "group",
            "list",
            "-g",
            "linked",
            "--query",
            "[].name",
        ])
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    for nested in ["network", "frontend", "balancer"] {
        assert!(names.contains(&nested.to_string()), "{names:?}");
    }

    // --template-file: the same template inline, its artifacts found through the parameter.
    let d = az
        .json(&[
            "deployment",
            "group",
            "create",
            "-g",
            "linked",
            "-n",
            "by-file",
            "--template-file",
            &path("linked/azuredeploy.json"),
            "--parameters",
            &format!("_artifactsLocation={}/", file_uri("linked")),
        ])
        .await;
    assert_eq!(d["properties"]["provisioningState"], "Succeeded", "{d}");

    // Without either, the template's default has no templateLink to read, as in Azure.
    let err = az
        .fails(&[
            "deployment",
            "group",
            "create",
            "-g",
            "linked",
            "-n",
            "no-link",
            "--template-file",
            &path("linked/azuredeploy.json"),
        ])
        .await;
    assert!(
        err.contains("InvalidTemplate") && err.contains("templateLink"),
        "{err}"
    );

    // A public quickstart whose _artifactsLocation is deployment().properties.templateLink.uri.
    let repairs = file_uri("quickstarts/vmss-automatic-repairs-slb-health-probe/azuredeploy.json");
    let d = az
        .json(&[
            "deployment",
            "group",
            "create",
            "-g",
            "linked",
            "-n",
            "repairs",
            "--template-uri",
            &repairs,
            "--parameters",
            "vmssName=qsrepair",
            "instanceCount=2",
            "adminUsername=azureuser",
            "adminPassword=Armlet-Passw0rd!",
        ])
        .await;
    assert_eq!(d["properties"]["provisioningState"], "Succeeded", "{d}");
    let vmss = az
        .json(&["vmss", "show", "-g", "linked", "-n", "qsrepair"])
        .await;
    let uris =
        &vmss["virtualMachineProfile"]["extensionProfile"]["extensions"][0]["settings"]["fileUris"];
    assert_eq!(
        uris,
        &json!([file_uri(
            "quickstarts/vmss-automatic-repairs-slb-health-probe/install_apache.sh"
        )])
    );
    t.stop().await;
}

fn what_if_template() -> String {
    path("whatif.json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_what_if_prints_creates_modifications_and_no_changes() {
    let t = TestArmlet::start().await;
    let az = Az::for_armlet(&t);
    az.json(&["group", "create", "-n", "wi", "-l", "eastus"])
        .await;
    let template = what_if_template();
    let what_if = |extra: &'static [&'static str]| {
        let az = &az;
        let template = template.clone();
        async move {
            let mut args = vec![
                "deployment",
                "group",
                "what-if",
                "-g",
                "wi",
                "--template-file",
                &template,
            ];
            args.extend(extra);
            let (ok, out, err) = az.run(&args).await;
            assert!(ok, "what-if failed: {err}");
            out
        }
    };

    let out = what_if(&[]).await;
    assert!(out.contains("Resource changes: 3 to create."), "{out}");
    // Scopes armlet does not serve are named as such.
    for scope in [
        &["mg", "what-if", "--management-group-id", "mg"][..],
        &["tenant", "create"][..],
    ] {
        let mut args = vec!["deployment"];
        args.extend(scope);
        args.extend(["-l", "eastus", "--template-file", &template]);
        let err = az.fails(&args).await;
        assert!(
            err.contains("NotSupportedByArmlet")
                && err.contains("resource-group and subscription scope only"),
            "{err}"
        );
    }
    assert!(
        out.contains("+ Microsoft.Network/loadBalancers/lb [2024-05-01]"),
        "{out}"
    );

    // --what-if on create previews and deploys nothing.
    let (ok, out, err) = az
        .run(&[
            "deployment",
            "group",
            "create",
            "-g",
            "wi",
            "--template-file",
            &template,
            "--what-if",
        ])
        .await;
    assert!(ok, "{err}");
    assert!(out.contains("3 to create"), "{out}");
    let resources = az.json(&["resource", "list", "-g", "wi"]).await;
    assert_eq!(resources, json!([]), "--what-if deployed nothing");

    az.json(&[
        "deployment",
        "group",
        "create",
        "-g",
        "wi",
        "-n",
        "first",
        "--template-file",
        &template,
    ])
    .await;
    let out = what_if(&[]).await;
    assert!(out.contains("Resource changes: 3 no change."), "{out}");

    // A changed port and tag: the property deltas as az prints them.
    let out = what_if(&["--parameters", "port=8080", "env=prod"]).await;
    assert!(
        out.contains("~ Microsoft.Network/loadBalancers/lb [2024-05-01]"),
        "{out}"
    );
    assert!(out.contains("properties.frontendPort: 80 => 8080"), "{out}");
    assert!(out.contains("tags.env: \"dev\" => \"prod\""), "{out}");
    assert!(
        out.contains("Resource changes: 2 to modify, 1 no change."),
        "{out}"
    );
    let json_out = what_if(&["--parameters", "port=8080", "--no-pretty-print"]).await;
    let r: Value = serde_json::from_str(&json_out).unwrap();
    let kinds: Vec<&str> = r["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["changeType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "Modify").count(), 1, "{r}");

    let out = what_if(&[
        "--parameters",
        "port=8080",
        "--result-format",
        "ResourceIdOnly",
    ])
    .await;
    assert!(
        out.contains("! Microsoft.Network/loadBalancers/lb"),
        "{out}"
    );
    assert!(out.contains("3 to deploy"), "{out}");

    // --confirm-with-what-if: no change, no prompt; a change is deployed once confirmed.
    let (ok, out, err) = az
        .run(&[
            "deployment",
            "group",
            "create",
            "-g",
            "wi",
            "-n",
            "again",
            "--template-file",
            &template,
            "--confirm-with-what-if",
            "--proceed-if-no-change",
        ])
        .await;
    assert!(ok, "{err}");
    assert!(out.contains("3 no change"), "{out}");
    let confirmed = confirm_with_what_if(&az, &template).await;
    assert!(confirmed.contains("2 to modify"), "{confirmed}");
    let lb = az
        .json(&["network", "lb", "show", "-g", "wi", "-n", "lb"])
        .await;
    assert_eq!(lb["loadBalancingRules"][0]["frontendPort"], 8080);
    t.stop().await;
}

/// `az deployment group create --confirm-with-what-if` answered `y` on a terminal (az
/// prompts only on a tty; `script` provides one).
async fn confirm_with_what_if(az: &Az, template: &str) -> String {
    let env = az.env.clone();
    let command = format!(
        "az deployment group create -g wi -n confirmed --template-file {template} --parameters port=8080 env=prod --confirm-with-what-if"
    );
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "printf 'y\\n' | script -qec \"{command}\" /dev/null"
            ))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("script runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    })
    .await
    .unwrap()
}
