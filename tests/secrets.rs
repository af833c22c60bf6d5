//! No secret can be read back. A run of the armlet binary (debug logging, a credential in
//! its own environment) gets an admin password, custom data, protected extension settings,
//! a client secret and `securestring` / `secureObject` template parameters; then every
//! response (PUT answers, GETs and lists of everything, instance views with their boot logs,
//! deployments, their operations and export, the activity log), the whole log output and the
//! environment of every instance process are searched for each secret: none may appear. The
//! instance still gets its custom data, as Azure gives it to the VM.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine;
use common::process::{ArmletProcess, free_port, wait_ready};
use common::*;
use serde_json::{Value, json};

const PASSWORD: &str = "Pw-5ecret-adm1n!";
const CUSTOM_DATA_SECRET: &str = "cd-secret-7f3a9";
const PROTECTED: &str = "protected-secret-c41b";
const SECURE_OBJECT: &str = "secure-object-secret-9d2e";
const CLIENT_SECRET: &str = "client-secret-55aa";
const HOST_SECRET: &str = "host-credential-e0e0";
const PIN: &str = "pin-secret-3131";

fn custom_data() -> String {
    let cloud_config = format!(
        "#cloud-config\nwrite_files:\n- path: /etc/app.conf\n  content: {CUSTOM_DATA_SECRET}\n"
    );
    base64::engine::general_purpose::STANDARD.encode(cloud_config)
}

fn secrets() -> Vec<String> {
    [
        PASSWORD,
        CUSTOM_DATA_SECRET,
        PROTECTED,
        SECURE_OBJECT,
        CLIENT_SECRET,
        HOST_SECRET,
        PIN,
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([custom_data()])
    .collect()
}

/// The example template with the secrets wired in: the password and custom data from
/// `securestring` parameters, protected settings from a `secureObject`, a secure output.
fn template() -> Value {
    let mut t: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("examples/lb-vmss.template.json")).unwrap(),
    )
    .unwrap();
    t["parameters"]["adminPassword"] = json!({"type": "securestring"});
    t["parameters"]["customData"] = json!({"type": "securestring"});
    t["parameters"]["extensionSecrets"] = json!({"type": "secureObject"});
    t["parameters"]["pin"] =
        json!({"type": "securestring", "defaultValue": "0000", "allowedValues": ["0000"]});
    // A secure output (derived from the password, so the template itself holds no secret).
    t["outputs"]["secret"] =
        json!({"type": "securestring", "value": "[concat(parameters('adminPassword'), '-out')]"});
    let vmss = t["resources"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["type"] == "Microsoft.Compute/virtualMachineScaleSets")
        .unwrap();
    let profile = &mut vmss["properties"]["virtualMachineProfile"];
    profile["osProfile"]["adminPassword"] = json!("[parameters('adminPassword')]");
    profile["osProfile"]["customData"] = json!("[parameters('customData')]");
    profile["extensionProfile"] = json!({"extensions": [{"name": "script", "properties": {
        "publisher": "Microsoft.Azure.Extensions", "type": "CustomScript", "typeHandlerVersion": "2.1",
        "settings": {"fileUris": []},
        "protectedSettings": "[parameters('extensionSecrets')]"}}]});
    t
}

struct Remote {
    client: reqwest::Client,
    base: String,
    /// Every response body seen.
    seen: String,
}

impl Remote {
    async fn call(&mut self, rb: reqwest::RequestBuilder) -> (u16, Value) {
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        self.seen.push_str(&text);
        self.seen.push('\n');
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
    async fn get(&mut self, path: &str) -> (u16, Value) {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let rb = self.client.get(url);
        self.call(rb).await
    }
    async fn put(&mut self, path: &str, body: Value) -> (u16, Value) {
        let rb = self.client.put(format!("{}{path}", self.base)).json(&body);
        self.call(rb).await
    }
}

fn instance_environments(dir: &Path) -> Vec<String> {
    let marker = format!("ARMLET_INSTANCE_DIR={}", dir.join("instances").display());
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(environ) = std::fs::read(entry.path().join("environ")) {
            let text = String::from_utf8_lossy(&environ).replace('\0', "\n");
            if text.contains(&marker) {
                out.push(text);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_returned_logged_or_handed_to_processes() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("https://localhost:{port}");
    let log_path = dir.path().join("armlet.log");
    let mut armlet = ArmletProcess(Some(
        Command::new(env!("CARGO_BIN_EXE_armlet"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--address-block",
                "236",
                "--termination-grace",
                "2",
                "--data-dir",
            ])
            .arg(dir.path())
            .env("ARMLET_LOG", "debug")
            .env("AZURE_CLIENT_SECRET", HOST_SECRET)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .unwrap(),
    ));
    let client = wait_ready(dir.path(), &base).await;
    let mut r = Remote {
        client,
        base: base.clone(),
        seen: String::new(),
    };

    // A client secret goes to the token endpoint.
    let plain = client_for(&dir.path().join("tls/ca.pem"));
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "app"),
        ("client_secret", CLIENT_SECRET),
        ("scope", "https://management.core.windows.net//.default"),
    ];
    let (s, _) = r
        .call(
            plain
                .post(format!(
                    "{base}/{}/oauth2/v2.0/token",
                    armlet::config::DEFAULT_TENANT
                ))
                .form(&form),
        )
        .await;
    assert_eq!(s, 200);

    assert_eq!(
        r.put(&rg_path("sec"), json!({"location": "eastus"}))
            .await
            .0,
        201
    );
    let deployments = format!(
        "/subscriptions/{SUB}/resourceGroups/sec/providers/Microsoft.Resources/deployments"
    );
    let params = json!({
        "instanceCount": {"value": 2},
        "adminPassword": {"value": PASSWORD},
        "customData": {"value": custom_data()},
        "extensionSecrets": {"value": {"commandToExecute": format!("echo {PROTECTED}"), "key": SECURE_OBJECT}},
    });
    let (s, body) = r.put(&format!("{deployments}/app?api-version=2024-11-01"),
        json!({"properties": {"mode": "Incremental", "template": template(), "parameters": params}})).await;
    assert!(s == 200 || s == 201, "{body}");
    let state = eventually(Duration::from_secs(120), || {
        let client = r.client.clone();
        let url = format!("{base}{deployments}/app?api-version=2024-11-01");
        async move {
            let doc: Value = client.get(url).send().await.ok()?.json().await.ok()?;
            let st = doc["properties"]["provisioningState"].as_str()?.to_string();
            (st != "Running" && st != "Accepted").then_some(st)
        }
    })
    .await;
    assert_eq!(state, "Succeeded");

    // A secure parameter outside its allowed values is refused without being echoed.
    let (s, refused) = r.put(&format!("{deployments}/pin?api-version=2024-11-01"),
        json!({"properties": {"mode": "Incremental", "template": template(), "parameters": {
            "pin": {"value": PIN}, "adminPassword": {"value": PASSWORD}, "customData": {"value": custom_data()},
            "extensionSecrets": {"value": {}}}}})).await;
    assert_eq!(s, 400, "{refused}");

    // The same secrets in a direct PUT of a scale set, and its answer.
    let (_, vmss) = r.get(&format!("/subscriptions/{SUB}/resourceGroups/sec/providers/Microsoft.Compute/virtualMachineScaleSets/web?api-version=2024-11-01")).await;
    let mut direct = vmss.clone();
    direct["sku"]["capacity"] = json!(1);
    direct["properties"]["virtualMachineProfile"]["osProfile"]["adminPassword"] = json!(PASSWORD);
    direct["properties"]["virtualMachineProfile"]["osProfile"]["customData"] = json!(custom_data());
    direct["properties"]["virtualMachineProfile"]["extensionProfile"]["extensions"][0]["properties"]
        ["protectedSettings"] = json!({"commandToExecute": PROTECTED});
    let (s, answer) = r.put(&format!("/subscriptions/{SUB}/resourceGroups/sec/providers/Microsoft.Compute/virtualMachineScaleSets/direct?api-version=2024-11-01"), direct).await;
    assert!(s == 200 || s == 201, "{answer}");

    // The instances run; each got its custom data where Azure puts it (the VM's own files).
    let instances = eventually(Duration::from_secs(60), || async {
        let envs = instance_environments(dir.path());
        (envs.len() == 3).then_some(envs)
    })
    .await;
    let written = eventually(Duration::from_secs(30), || async {
        let mut found = 0;
        for e in std::fs::read_dir(dir.path().join("instances"))
            .ok()?
            .flatten()
        {
            if std::fs::read_to_string(e.path().join("root/etc/app.conf"))
                .is_ok_and(|c| c.contains(CUSTOM_DATA_SECRET))
            {
                found += 1;
            }
        }
        (found == 3).then_some(found)
    })
    .await;
    assert_eq!(written, 3);

    // Read everything back.
    let sub = format!("/subscriptions/{SUB}");
    let (_, all) = r
        .get(&format!("{sub}/resources?api-version=2024-11-01"))
        .await;
    let ids: Vec<(String, String)> = all["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["id"].as_str().unwrap().to_string(),
                x["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(ids.len() >= 5, "{all}");
    for (id, ty) in &ids {
        let v = if ty.starts_with("Microsoft.Compute") {
            "2024-11-01"
        } else {
            "2023-04-01"
        };
        assert_eq!(r.get(&format!("{id}?api-version={v}")).await.0, 200, "{id}");
    }
    for vmss in ["web", "direct"] {
        let path = format!(
            "{sub}/resourceGroups/sec/providers/Microsoft.Compute/virtualMachineScaleSets/{vmss}"
        );
        r.get(&format!("{path}/instanceView?api-version=2024-11-01"))
            .await;
        let (_, list) = r
            .get(&format!("{path}/virtualMachines?api-version=2024-11-01"))
            .await;
        for vm in list["value"].as_array().unwrap() {
            let id = vm["id"].as_str().unwrap();
            r.get(&format!("{id}?api-version=2024-11-01")).await;
            r.get(&format!("{id}/instanceView?api-version=2024-11-01"))
                .await;
            r.get(&format!("{id}?api-version=2024-11-01&$expand=instanceView"))
                .await;
        }
    }
    r.get(&format!(
        "{sub}/providers/Microsoft.Compute/virtualMachineScaleSets?api-version=2024-11-01"
    ))
    .await;
    r.get(&format!("{sub}/resourceGroups/sec/providers/Microsoft.Compute/virtualMachineScaleSets?api-version=2024-11-01")).await;
    for d in ["app", "pin"] {
        r.get(&format!("{deployments}/{d}?api-version=2024-11-01"))
            .await;
        r.get(&format!(
            "{deployments}/{d}/operations?api-version=2024-11-01"
        ))
        .await;
        let rb = r.client.post(format!(
            "{base}{deployments}/{d}/exportTemplate?api-version=2024-11-01"
        ));
        r.call(rb).await;
    }
    let (_, deps) = r
        .get(&format!("{deployments}?api-version=2024-11-01"))
        .await;
    assert!(
        deps["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["properties"]["parameters"]["adminPassword"]["type"] == "SecureString"),
        "{deps}"
    );
    let since = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    r.get(&format!("{sub}/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter=eventTimestamp ge '{since}'")).await;

    let mut leaks = Vec::new();
    for secret in secrets() {
        if r.seen.contains(&secret) {
            leaks.push(format!("response: {secret}"));
        }
        for env in &instances {
            if env.contains(&secret) {
                leaks.push(format!("instance environment: {secret}"));
            }
        }
    }
    assert!(
        tokio::task::spawn_blocking(move || armlet.terminate())
            .await
            .unwrap(),
        "armlet stops cleanly"
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.lines().count() > 20, "debug logging ran: {log}");
    for secret in secrets() {
        if log.contains(&secret) {
            leaks.push(format!("log: {secret}"));
        }
    }
    println!(
        "secrets: {} planted, {} bytes of responses and {} log lines searched, {} instance environments, {} leaks",
        secrets().len(),
        r.seen.len(),
        log.lines().count(),
        instances.len(),
        leaks.len()
    );
    assert!(leaks.is_empty(), "secrets leaked: {leaks:?}");
}
