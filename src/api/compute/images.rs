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
use crate::model::compute::image::{IMAGES, find};

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
