//! The VM image catalogue `az vmss create` reads: the image alias document, and
//! `.../locations/{loc}/publishers/{p}/artifacttypes/vmimage/offers/{o}/skus/{s}/versions[/{v}]`.
//! The images are names only: what an instance runs is decided by armlet (built-in app,
//! custom data, or the image → command mapping).

use axum::Json;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::api::only;
use crate::arm::{ArmError, ArmRequest, ArmResult};

/// (alias, OS, publisher, offer, sku, architecture, hyperV generation)
pub const IMAGES: &[(&str, &str, &str, &str, &str, &str, &str)] = &[
    (
        "Ubuntu2204",
        "Linux",
        "Canonical",
        "0001-com-ubuntu-server-jammy",
        "22_04-lts-gen2",
        "x64",
        "V2",
    ),
    (
        "Ubuntu2404",
        "Linux",
        "Canonical",
        "ubuntu-24_04-lts",
        "server",
        "x64",
        "V2",
    ),
    (
        "Debian11",
        "Linux",
        "Debian",
        "debian-11",
        "11-backports-gen2",
        "x64",
        "V2",
    ),
    (
        "Debian12",
        "Linux",
        "Debian",
        "debian-12",
        "12-gen2",
        "x64",
        "V2",
    ),
    (
        "AzureLinux4",
        "Linux",
        "microsoftazurelinux",
        "azurelinux-4",
        "4",
        "x64",
        "V2",
    ),
    (
        "CentOS85Gen2",
        "Linux",
        "OpenLogic",
        "CentOS",
        "8_5-gen2",
        "x64",
        "V2",
    ),
    (
        "FlatcarLinuxFreeGen2",
        "Linux",
        "kinvolk",
        "flatcar-container-linux-free",
        "stable-gen2",
        "x64",
        "V2",
    ),
    (
        "OpenSuseLeap154Gen2",
        "Linux",
        "SUSE",
        "openSUSE-leap-15-4",
        "gen2",
        "x64",
        "V2",
    ),
    (
        "RHELRaw8LVMGen2",
        "Linux",
        "RedHat",
        "RHEL",
        "8-lvm-gen2",
        "x64",
        "V2",
    ),
    (
        "SuseSles15SP3",
        "Linux",
        "SUSE",
        "sles-15-sp3",
        "gen2",
        "x64",
        "V2",
    ),
    (
        "Win2022Datacenter",
        "Windows",
        "MicrosoftWindowsServer",
        "WindowsServer",
        "2022-datacenter-g2",
        "x64",
        "V2",
    ),
    (
        "Win2019Datacenter",
        "Windows",
        "MicrosoftWindowsServer",
        "WindowsServer",
        "2019-datacenter-gensecond",
        "x64",
        "V2",
    ),
];

/// The versions every image has, newest first.
const VERSIONS: &[&str] = &["2025.10.01", "2025.04.01", "2024.10.01"];

/// The alias document (`vmImageAliasDoc` in the cloud metadata points here).
pub async fn alias_doc() -> Json<Value> {
    let mut linux = serde_json::Map::new();
    let mut windows = serde_json::Map::new();
    for (alias, os, publisher, offer, sku, arch, _) in IMAGES {
        let entry = json!({"publisher": publisher, "offer": offer, "sku": sku, "version": "latest", "architecture": arch});
        if *os == "Linux" {
            linux.insert(alias.to_string(), entry)
        } else {
            windows.insert(alias.to_string(), entry)
        };
    }
    Json(json!({
        "$schema": "http://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json",
        "contentVersion": "1.0.0.0",
        "parameters": {}, "variables": {}, "resources": [],
        "outputs": {"aliases": {"type": "object", "value": {"Linux": linux, "Windows": windows}}}
    }))
}

fn find(
    publisher: &str,
    offer: &str,
    sku: &str,
) -> Option<&'static (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
)> {
    IMAGES.iter().find(|(_, _, p, o, s, _, _)| {
        p.eq_ignore_ascii_case(publisher)
            && o.eq_ignore_ascii_case(offer)
            && s.eq_ignore_ascii_case(sku)
    })
}

/// The alias of an image reference (`Ubuntu2204`), for the image → command mapping.
pub fn alias_of(image: &Value) -> Option<&'static str> {
    let s = |k: &str| image[k].as_str().unwrap_or_default().to_string();
    find(&s("publisher"), &s("offer"), &s("sku")).map(|i| i.0)
}

/// `rest` is the lower-cased path after `/subscriptions/{s}/providers/Microsoft.Compute/locations/{loc}/`.
pub async fn route(
    req: &ArmRequest,
    sub: &str,
    location: &str,
    rest: &[&str],
) -> ArmResult<Response> {
    only(req, &[Method::GET])?;
    let seg = &req.segments[req.segments.len() - rest.len()..];
    let base = format!("/Subscriptions/{sub}/Providers/Microsoft.Compute/Locations/{location}");
    match rest {
        ["publishers"] => {
            let mut names: Vec<&str> = IMAGES.iter().map(|i| i.2).collect();
            names.dedup();
            Ok(Json(names.iter().map(|p| json!({"name": p, "location": location, "id": format!("{base}/Publishers/{p}")})).collect::<Vec<_>>()).into_response())
        }
        ["publishers", _, "artifacttypes", "vmimage", "offers"] => {
            let offers: Vec<Value> = IMAGES
                .iter()
                .filter(|i| i.2.eq_ignore_ascii_case(&seg[1]))
                .map(|i| json!({"name": i.3, "location": location, "id": format!("{base}/Publishers/{}/ArtifactTypes/VMImage/Offers/{}", i.2, i.3)}))
                .collect();
            Ok(Json(offers).into_response())
        }
        [
            "publishers",
            _,
            "artifacttypes",
            "vmimage",
            "offers",
            _,
            "skus",
        ] => {
            let skus: Vec<Value> = IMAGES
                .iter()
                .filter(|i| i.2.eq_ignore_ascii_case(&seg[1]) && i.3.eq_ignore_ascii_case(&seg[5]))
                .map(|i| json!({"name": i.4, "location": location, "id": format!("{base}/Publishers/{}/ArtifactTypes/VMImage/Offers/{}/Skus/{}", i.2, i.3, i.4)}))
                .collect();
            Ok(Json(skus).into_response())
        }
        [
            "publishers",
            _,
            "artifacttypes",
            "vmimage",
            "offers",
            _,
            "skus",
            _,
            "versions",
        ] => {
            let image = find(&seg[1], &seg[5], &seg[7])
                .ok_or_else(|| image_not_found(&seg[1], &seg[5], &seg[7]))?;
            let top = req
                .query("$top")
                .and_then(|t| t.parse::<usize>().ok())
                .unwrap_or(VERSIONS.len());
            let versions: Vec<Value> = VERSIONS
                .iter()
                .take(top)
                .map(|v| version_body(&base, image, v, location))
                .collect();
            Ok(Json(versions).into_response())
        }
        [
            "publishers",
            _,
            "artifacttypes",
            "vmimage",
            "offers",
            _,
            "skus",
            _,
            "versions",
            version,
        ] => {
            let image = find(&seg[1], &seg[5], &seg[7])
                .ok_or_else(|| image_not_found(&seg[1], &seg[5], &seg[7]))?;
            let v = if *version == "latest" {
                VERSIONS[0]
            } else {
                VERSIONS
                    .iter()
                    .find(|v| v.eq_ignore_ascii_case(version))
                    .copied()
                    .ok_or_else(|| image_not_found(&seg[1], &seg[5], &seg[7]))?
            };
            Ok(Json(version_body(&base, image, v, location)).into_response())
        }
        _ => Err(ArmError::not_found(
            "NotFound",
            format!(
                "The requested resource path '{}' does not exist.",
                req.uri.path()
            ),
        )),
    }
}

fn version_body(
    base: &str,
    i: &(&str, &str, &str, &str, &str, &str, &str),
    version: &str,
    location: &str,
) -> Value {
    json!({
        "name": version,
        "location": location,
        "id": format!("{base}/Publishers/{}/ArtifactTypes/VMImage/Offers/{}/Skus/{}/Versions/{version}", i.2, i.3, i.4),
        "properties": {
            "hyperVGeneration": i.6,
            "architecture": i.5,
            "osDiskImage": {"operatingSystem": i.1},
            "dataDiskImages": [],
            "automaticOSUpgradeProperties": {"automaticOSUpgradeSupported": true},
            "disallowed": {"vmDiskType": "None"},
            "features": [{"name": "IsAcceleratedNetworkSupported", "value": "True"}]
        }
    })
}

fn image_not_found(publisher: &str, offer: &str, sku: &str) -> ArmError {
    ArmError::not_found(
        "ImageNotFound",
        format!(
            "The platform image '{publisher}:{offer}:{sku}' is not available. Verify that all fields in the storage profile are correct."
        ),
    )
}
