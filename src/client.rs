//! Commands that talk to a running armlet over its HTTPS API, trusting the CA in its data
//! directory: `armlet snapshot save FILE`.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::{SnapshotAction, SnapshotConfig, default_data_dir};
use crate::tls::TlsFiles;

pub async fn snapshot(config: SnapshotConfig) -> anyhow::Result<()> {
    match config.action {
        SnapshotAction::Save {
            file,
            data_dir,
            endpoint,
        } => {
            let data_dir = data_dir.unwrap_or_else(default_data_dir);
            let n = save(&file, &data_dir, &endpoint).await?;
            println!(
                "saved a snapshot of {endpoint} ({n} bytes) to {}",
                file.display()
            );
            Ok(())
        }
    }
}

fn client(data_dir: &Path) -> anyhow::Result<reqwest::Client> {
    let ca = TlsFiles::new(data_dir).ca_cert();
    let pem = std::fs::read(&ca)
        .with_context(|| format!("reading armlet's CA certificate {}", ca.display()))?;
    Ok(reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem)?)
        .build()?)
}

/// A management token from armlet's own token endpoint, as `az` gets one (login is open: any
/// client credentials are accepted).
async fn sign_in(client: &reqwest::Client, endpoint: &str) -> anyhow::Result<String> {
    let url = format!(
        "{endpoint}/{}/oauth2/v2.0/token",
        crate::config::DEFAULT_TENANT
    );
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "armlet-cli"),
        ("client_secret", "armlet-cli"),
        ("scope", "https://management.core.windows.net//.default"),
    ];
    let response = client
        .post(&url)
        .form(&form)
        .send()
        .await
        .with_context(|| format!("signing in at {url}"))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    match body["access_token"].as_str() {
        Some(token) if status.is_success() => Ok(token.to_string()),
        _ => anyhow::bail!("armlet's token endpoint refused to sign in ({status}): {body}"),
    }
}

/// Downloads `GET /_armlet/snapshot` into `file` (through a temporary file beside it, so a
/// failed save leaves no partial file); returns its size.
pub async fn save(file: &Path, data_dir: &Path, endpoint: &str) -> anyhow::Result<usize> {
    let endpoint = endpoint.trim_end_matches('/');
    let client = client(data_dir)?;
    let token = sign_in(&client, endpoint).await?;
    let url = format!("{endpoint}/_armlet/snapshot");
    let response = client
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("calling {url}"))?;
    let status = response.status();
    let body = response.bytes().await?;
    if !status.is_success() {
        let e: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        anyhow::bail!(
            "armlet refused the snapshot ({status}): {}: {}",
            e["error"]["code"].as_str().unwrap_or("Error"),
            e["error"]["message"].as_str().unwrap_or("no message")
        );
    }
    let mut partial = PathBuf::from(file);
    partial.as_mut_os_string().push(".partial");
    if let Err(e) = std::fs::write(&partial, &body) {
        let _ = std::fs::remove_file(&partial);
        return Err(e).with_context(|| format!("writing {}", partial.display()));
    }
    std::fs::rename(&partial, file).with_context(|| format!("writing {}", file.display()))?;
    Ok(body.len())
}
