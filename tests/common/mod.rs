//! Test fixtures: armlet started in-process on an ephemeral port, a client that trusts its CA,
//! and helpers for ARM requests and for the real `az` CLI and Python SDK.
#![allow(dead_code)]

pub mod autoscale;
pub mod deploy;
pub mod http;
pub mod insights;
pub mod load;
pub mod process;
pub mod receiver;
pub mod rng;
pub mod scale_set;
pub mod tutorial;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use armlet::Armlet;
use armlet::config::ServeConfig;
use serde_json::Value;

pub const SUB: &str = "00000000-0000-0000-0000-000000000001";

pub struct TestArmlet {
    pub armlet: Armlet,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
}

impl TestArmlet {
    /// In memory, certificates in a fresh temp dir.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_with(ServeConfig::for_tests(dir.path().to_path_buf()), dir).await
    }

    /// With the SQLite file store in `dir` (to test restarts).
    pub async fn start_on_disk(dir: tempfile::TempDir) -> Self {
        let config = ServeConfig {
            in_memory: false,
            ..ServeConfig::for_tests(dir.path().to_path_buf())
        };
        Self::start_with(config, dir).await
    }

    pub async fn start_with(mut config: ServeConfig, dir: tempfile::TempDir) -> Self {
        // Instances run the built-in app from the armlet binary, not from the test binary.
        config.instance_exe = Some(env!("CARGO_BIN_EXE_armlet").into());
        config.termination_grace = 3.0;
        config.address_block = next_address_block();
        let armlet = Armlet::start(config).await.expect("armlet starts");
        let client = signed_in_client(&armlet.ca_cert(), &armlet.endpoint()).await;
        TestArmlet {
            armlet,
            client,
            dir,
        }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.armlet.endpoint(), path_and_query)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        send(self.client.get(self.url(path))).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        send(self.client.put(self.url(path)).json(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        send(self.client.patch(self.url(path)).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        send(self.client.delete(self.url(path))).await
    }

    pub async fn stop(self) -> tempfile::TempDir {
        self.armlet.stop().await.unwrap();
        self.dir
    }
}

pub fn client_for(ca: &Path) -> reqwest::Client {
    let pem = std::fs::read(ca).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A client signed in the way `az` and the SDKs are: it asks armlet's token endpoint for a
/// management token (client credentials; any secret works) and sends it on every request.
pub async fn signed_in_client(ca: &Path, endpoint: &str) -> reqwest::Client {
    let token = access_token(&client_for(ca), endpoint, "test-client").await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    let pem = std::fs::read(ca).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .default_headers(headers)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A management access token for `client_id` from armlet's OAuth2 token endpoint.
pub async fn access_token(client: &reqwest::Client, endpoint: &str, client_id: &str) -> String {
    let url = format!(
        "{endpoint}/{}/oauth2/v2.0/token",
        armlet::config::DEFAULT_TENANT
    );
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", "any"),
        ("scope", "https://management.core.windows.net//.default"),
    ];
    let (status, body) = send(client.post(url).form(&form)).await;
    assert_eq!(status, 200, "token endpoint: {body}");
    body["access_token"].as_str().unwrap().to_string()
}

/// Sends a request and returns the status and the JSON body (`Null` when empty).
pub async fn send(rb: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = rb.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// Polls `check` until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn rg_path(rg: &str) -> String {
    format!("/subscriptions/{SUB}/resourcegroups/{rg}?api-version=2024-11-01")
}

/// The repository root (where `target/az` and `target/sdk` live).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The real `az` CLI, installed by `scripts/install-clients` into `target/az`.
pub struct Az {
    pub env: Vec<(String, String)>,
}

impl Az {
    /// Points a dedicated az config dir at `armlet` the way `armlet az-env` does.
    pub fn for_armlet(t: &TestArmlet) -> Az {
        let cfg = armlet::config::AzEnvConfig {
            data_dir: Some(t.dir.path().to_path_buf()),
            endpoint: t.armlet.endpoint(),
            identity: Default::default(),
        };
        let exports = armlet::az_env::prepare(&cfg).unwrap();
        let mut env: Vec<(String, String)> = exports
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
            .collect();
        let bin = repo_root().join("target/az/bin");
        assert!(
            bin.join("az").exists(),
            "the az CLI is not installed: run scripts/install-clients"
        );
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        env.push(("PATH".into(), path));
        env.push(("AZURE_CORE_ONLY_SHOW_ERRORS".into(), "true".into()));
        env.push(("AZURE_CORE_NO_COLOR".into(), "true".into()));
        Az { env }
    }

    /// Runs `az ARGS` (blocking, on a helper thread) and returns exit status, stdout, stderr.
    pub async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let env = self.env.clone();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let out = Command::new("az")
                .args(&args)
                .envs(env.iter().map(|(k, v)| (k, v)))
                .env("PATH", &env.iter().find(|(k, _)| k == "PATH").unwrap().1)
                .output()
                .expect("az runs");
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .await
        .unwrap()
    }

    /// Runs `az ARGS -o json`, asserts success, and parses the output.
    pub async fn json(&self, args: &[&str]) -> Value {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-o", "json"]);
        let (ok, out, err) = self.run(&all).await;
        assert!(ok, "az {} failed:\n{err}", args.join(" "));
        if out.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&out)
                .unwrap_or_else(|e| panic!("az output is not JSON ({e}): {out}"))
        }
    }

    /// Runs `az ARGS`, asserts failure, returns stderr.
    pub async fn fails(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args).await;
        assert!(!ok, "az {} unexpectedly succeeded: {out}", args.join(" "));
        err
    }
}

/// Runs a Python SDK script from `tests/interop/` with the SDK venv; returns its stdout.
pub async fn python_sdk(t: &TestArmlet, script: &str, args: &[&str]) -> String {
    let python = repo_root().join("target/sdk/bin/python");
    assert!(
        python.exists(),
        "the Azure SDK for Python is not installed: run scripts/install-clients"
    );
    let script = repo_root().join("tests/interop").join(script);
    let env = vec![
        ("ARMLET_ENDPOINT".to_string(), t.armlet.endpoint()),
        (
            "ARMLET_CA".to_string(),
            t.armlet.ca_cert().display().to_string(),
        ),
        ("ARMLET_SUBSCRIPTION".to_string(), SUB.to_string()),
        (
            "ARMLET_TENANT".to_string(),
            armlet::config::DEFAULT_TENANT.to_string(),
        ),
    ];
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(python)
            .arg(script)
            .args(&args)
            .envs(env)
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "SDK script failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .unwrap()
}

/// The `n`th public IP address `t` hands out (its loopback block, host `n`).
pub fn public_ip_n(t: &TestArmlet, n: u8) -> String {
    format!("127.{}.0.{n}", t.armlet.app.config.address_block)
}

/// Loopback blocks for the armlets of this test process: each armlet gets its own, and test
/// processes running at the same time (`scripts/test` runs test binaries in parallel, other
/// suites may run on the machine) use different ranges, since frontends of different
/// processes must not share an address.
fn next_address_block() -> u8 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 10;
    (10 + process_slot() * 30 + n * 3) as u8
}

/// This process's range of address blocks: the first of 7 slots whose lock file no other
/// live process holds (the lock goes with the process, even on a crash); the process id
/// picks one when all are taken.
fn process_slot() -> u32 {
    static SLOT: std::sync::OnceLock<(u32, Option<std::fs::File>)> = std::sync::OnceLock::new();
    SLOT.get_or_init(|| {
        for k in 0..7 {
            let path = std::env::temp_dir().join(format!("armlet-test-slot-{k}.lock"));
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path);
            if let Ok(file) = file
                && file.try_lock().is_ok()
            {
                return (k, Some(file));
            }
        }
        (std::process::id() % 7, None)
    })
    .0
}
