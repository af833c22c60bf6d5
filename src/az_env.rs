//! `armlet az-env`: a dedicated `AZURE_CONFIG_DIR` in which the `az` CLI already has armlet
//! registered as its active cloud and is logged in as a service principal, plus the
//! `export` lines that select it. The user's own `~/.azure` is never touched.
//!
//! The CLI asks armlet's token endpoint for tokens itself (client credentials from
//! `service_principal_entries.json`), so nothing has to be cached beforehand.
//!
//! Log Analytics queries go to armlet too. az core's clients (`LogsQueryClient` in
//! `vm monitor log show`) take `cloud.endpoints.log_analytics_resource_id`, set in
//! `clouds.config`. The `log-analytics` extension (`az monitor log-analytics query`, not part
//! of az core) looks its host up by the metadata index `logAnalyticslogAnalyticsResourceId`,
//! which matches no endpoint az keeps, so az reads it from the ARM cloud metadata document
//! named by `ARM_CLOUD_METADATA_URL`: the exports point that at a copy of armlet's metadata
//! in the config dir (a `file://` URL: az fetches it without the CA bundle).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use crate::config::{AzEnvConfig, default_data_dir};
use crate::tls::TlsFiles;

/// The service principal `az` is logged in as (any secret is accepted).
pub const CLIENT_ID: &str = "a1e7a1e7-0000-4000-8000-000000000001";
pub const CLIENT_SECRET: &str = "armlet";
/// The az version the pre-seeded update check names (stops a first-run version check).
const AZ_VERSION: &str = "2.91.0";

/// Writes the config dir and returns the `export` lines.
pub fn prepare(cfg: &AzEnvConfig) -> anyhow::Result<String> {
    let data_dir = cfg.data_dir.clone().unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&data_dir)?;
    let data_dir = data_dir.canonicalize()?;
    let tls = TlsFiles::new(&data_dir);
    tls.ensure()?;
    let bundle = write_ca_bundle(&tls)?;
    let config_dir = data_dir.join("az");
    write_config_dir(
        &config_dir,
        &cfg.endpoint,
        &cfg.identity.tenant_id,
        &cfg.identity.subscription_id,
    )?;
    let metadata = config_dir.join("cloud-metadata.json");
    let mut out = String::new();
    for (k, v) in [
        ("AZURE_CONFIG_DIR", config_dir.display().to_string()),
        ("REQUESTS_CA_BUNDLE", bundle.display().to_string()),
        ("AZURE_CORE_INSTANCE_DISCOVERY", "false".into()),
        ("AZURE_CORE_COLLECT_TELEMETRY", "false".into()),
        ("ARMLET_ENDPOINT", cfg.endpoint.clone()),
        (
            "ARM_CLOUD_METADATA_URL",
            format!("file://{}", metadata.display()),
        ),
    ] {
        writeln!(out, "export {k}={}", shell_quote(&v))?;
    }
    Ok(out)
}

/// `REQUESTS_CA_BUNDLE` replaces the trust store of every Python program in the shell, so
/// the bundle is the system's CAs plus armlet's.
fn write_ca_bundle(tls: &TlsFiles) -> anyhow::Result<PathBuf> {
    let mut bundle = String::new();
    for system in [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ] {
        if let Ok(s) = std::fs::read_to_string(system) {
            bundle.push_str(&s);
            bundle.push('\n');
            break;
        }
    }
    bundle.push_str(&std::fs::read_to_string(tls.ca_cert())?);
    let path = tls.dir.join("ca-bundle.pem");
    std::fs::write(&path, bundle)?;
    Ok(path)
}

/// The files `az` reads: active cloud, offline settings, the logged-in account and its credential.
pub fn write_config_dir(
    dir: &Path,
    endpoint: &str,
    tenant: &str,
    subscription: &str,
) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let base = endpoint.trim_end_matches('/').to_string();
    let endpoint = format!("{base}/");
    let files = [
        (
            "config",
            "[cloud]\nname = armlet\n\n[core]\ninstance_discovery = false\ncollect_telemetry = false\nsurvey_message = false\nfirst_run = yes\n\n[extension]\nuse_dynamic_install = no\n\n[auto-upgrade]\nenable = no\n".to_string(),
        ),
        (
            "clouds.config",
            format!(
                "[armlet]\nendpoint_active_directory = {endpoint}\nendpoint_active_directory_resource_id = https://management.core.windows.net/\nendpoint_management = https://management.core.windows.net/\nendpoint_resource_manager = {endpoint}\nendpoint_vm_image_alias_doc = {endpoint}armlet/vm-image-aliases.json\nendpoint_log_analytics_resource_id = {base}\nsubscription = {subscription}\n"
            ),
        ),
        (
            "azureProfile.json",
            json!({
                "installationId": uuid::Uuid::new_v4().to_string(),
                "subscriptions": [{
                    "id": subscription,
                    "name": "armlet",
                    "state": "Enabled",
                    "user": {"name": CLIENT_ID, "type": "servicePrincipal"},
                    "isDefault": true,
                    "tenantId": tenant,
                    "environmentName": "armlet",
                    "homeTenantId": tenant,
                    "managedByTenants": []
                }]
            })
            .to_string(),
        ),
        (
            "cloud-metadata.json",
            serde_json::Value::Array(vec![crate::api::identity::cloud_metadata(&base)]).to_string(),
        ),
        (
            "service_principal_entries.json",
            json!([{"client_id": CLIENT_ID, "tenant": tenant, "client_secret": CLIENT_SECRET}]).to_string(),
        ),
        (
            "versionCheck.json",
            json!({
                "versions": {"azure-cli": {"local": AZ_VERSION}, "core": {"local": AZ_VERSION}},
                "update_time": chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.6f").to_string()
            })
            .to_string(),
        ),
    ];
    for (name, contents) in files {
        let path = dir.join(name);
        std::fs::write(&path, contents)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    // MSAL caches tokens per host without the port: a token from an earlier armlet must not
    // be reused for this one.
    // az caches the cloud list read through ARM_CLOUD_METADATA_URL; it must be re-read.
    for stale in [
        "msal_token_cache.json",
        "msal_http_cache.bin",
        "cloudEndpoints.json",
    ] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    Ok(())
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_point_at_a_dedicated_config_dir() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = AzEnvConfig {
            data_dir: Some(dir.path().to_path_buf()),
            endpoint: "https://localhost:9443".into(),
            identity: Default::default(),
        };
        let out = prepare(&cfg).unwrap();
        assert!(out.contains("export AZURE_CONFIG_DIR="));
        assert!(out.contains("REQUESTS_CA_BUNDLE="));
        let az = dir.path().canonicalize().unwrap().join("az");
        let clouds = std::fs::read_to_string(az.join("clouds.config")).unwrap();
        assert!(clouds.contains("endpoint_resource_manager = https://localhost:9443/"));
        assert!(clouds.contains("endpoint_log_analytics_resource_id = https://localhost:9443\n"));
        let metadata: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(az.join("cloud-metadata.json")).unwrap())
                .unwrap();
        assert_eq!(metadata[0]["name"], "armlet");
        assert_eq!(
            metadata[0]["logAnalyticsResourceId"],
            "https://localhost:9443"
        );
        assert!(out.contains(&format!("ARM_CLOUD_METADATA_URL='file://{}", az.display())));
        let profile: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(az.join("azureProfile.json")).unwrap())
                .unwrap();
        assert_eq!(profile["subscriptions"][0]["environmentName"], "armlet");
    }

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(shell_quote("a'b"), "'a'\\''b'");
    }
}
