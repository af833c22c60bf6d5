//! The Instance Metadata Service as an instance sees it: request checks, the
//! `/metadata/instance` document of a scale-set instance built from plain inputs, and the
//! route filters (`/metadata/instance/compute/name?format=text`).
//!
//! Azure's rules (docs "Azure Instance Metadata Service"): requests must carry
//! `Metadata: true` and no `X-Forwarded-For`; `api-version` is mandatory; "in json
//! responses, all primitives will be of type string, and missing or inapplicable values are
//! always included but will be set to an empty string"; `virtualMachineScaleSet.id` is only
//! filled for Flexible orchestration.

use serde_json::{Value, json};

/// The newest IMDS API versions, listed when a request names none (or an unknown one).
pub const NEWEST_VERSIONS: [&str; 3] = ["2025-04-07", "2024-07-17", "2024-03-15"];

/// API versions of `/metadata/scheduledevents` (its own, older list).
pub const SCHEDULED_EVENTS_VERSIONS: [&str; 7] = [
    "2017-03-01",
    "2017-08-01",
    "2017-11-01",
    "2019-01-01",
    "2019-04-01",
    "2019-08-01",
    "2020-07-01",
];

/// Every `/metadata/instance` API version the docs list.
pub const INSTANCE_VERSIONS: [&str; 35] = [
    "2017-03-01",
    "2017-04-02",
    "2017-08-01",
    "2017-10-01",
    "2017-12-01",
    "2018-02-01",
    "2018-04-02",
    "2018-10-01",
    "2019-02-01",
    "2019-03-11",
    "2019-04-30",
    "2019-06-01",
    "2019-06-04",
    "2019-08-01",
    "2019-08-15",
    "2019-11-01",
    "2020-06-01",
    "2020-07-15",
    "2020-09-01",
    "2020-10-01",
    "2020-12-01",
    "2021-01-01",
    "2021-02-01",
    "2021-03-01",
    "2021-05-01",
    "2021-08-01",
    "2021-10-01",
    "2021-11-01",
    "2021-11-15",
    "2021-12-13",
    "2023-07-01",
    "2023-11-15",
    "2024-03-15",
    "2024-07-17",
    "2025-04-07",
];

/// A rejected IMDS request: always 400 with this body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{body}")]
pub struct ImdsError {
    pub body: Value,
}

/// Checks an IMDS request: the `Metadata` header value, whether `X-Forwarded-For` was sent,
/// and the `api-version` against the endpoint's `supported` versions.
pub fn check_request(
    metadata: Option<&str>,
    forwarded: bool,
    api_version: Option<&str>,
    supported: &[&str],
) -> Result<(), ImdsError> {
    if forwarded || !metadata.is_some_and(|m| m.eq_ignore_ascii_case("true")) {
        return Err(ImdsError {
            body: json!({"error": "Bad request. Required metadata header not specified"}),
        });
    }
    if !api_version.is_some_and(|v| supported.contains(&v)) {
        return Err(ImdsError {
            body: json!({
                "error": "Bad request. api-version is invalid or was not specified in the request. \
                          For more information refer to aka.ms/azureimds",
                "newest-versions": NEWEST_VERSIONS,
            }),
        });
    }
    Ok(())
}

/// What IMDS knows about a scale-set instance.
#[derive(Debug, Clone, Default)]
pub struct InstanceFacts {
    pub subscription_id: String,
    pub resource_group: String,
    pub location: String,
    /// The VM name (`web_3` in Uniform, the VM's own name in Flexible).
    pub name: String,
    pub resource_id: String,
    pub vm_scale_set_name: String,
    /// The scale set's id when it is Flexible (empty for Uniform, as Azure reports).
    pub flexible_scale_set_id: Option<String>,
    pub vm_id: String,
    pub vm_size: String,
    /// `Linux` or `Windows`.
    pub os_type: String,
    pub computer_name: String,
    pub admin_username: String,
    pub disable_password_authentication: Option<bool>,
    /// `storageProfile.imageReference` of the instance's model.
    pub image_reference: Value,
    /// Resource tags (an object).
    pub tags: Value,
    pub zone: Option<String>,
    pub platform_update_domain: u32,
    pub platform_fault_domain: u32,
    /// `Regular` or `Spot`.
    pub priority: String,
    pub eviction_policy: Option<String>,
    pub placement_group_id: String,
    /// Base64 `userData`, if any.
    pub user_data: Option<String>,
    pub private_ip: String,
    pub public_ip: Option<String>,
    pub subnet_address: String,
    pub subnet_prefix: String,
    /// Without separators, upper case (`000D3A1B2C3D`).
    pub mac_address: String,
}

fn s(v: Option<&str>) -> Value {
    json!(v.unwrap_or(""))
}

/// The `/metadata/instance` document.
pub fn instance_document(f: &InstanceFacts) -> Value {
    let img = &f.image_reference;
    let tags = f.tags.as_object().cloned().unwrap_or_default();
    let mut pairs: Vec<(&String, String)> = tags
        .iter()
        .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), String::from)))
        .collect();
    pairs.sort();
    let tags_text = pairs
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect::<Vec<_>>()
        .join(";");
    let tags_list: Vec<Value> = pairs
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    let compute = json!({
        "azEnvironment": "AzurePublicCloud",
        "customData": "",
        "evictionPolicy": s(f.eviction_policy.as_deref()),
        "isHostCompatibilityLayerVm": "false",
        "licenseType": "",
        "location": f.location,
        "name": f.name,
        "offer": s(img["offer"].as_str()),
        "osProfile": {
            "adminUsername": f.admin_username,
            "computerName": f.computer_name,
            "disablePasswordAuthentication": f.disable_password_authentication.map_or(String::new(), |b| b.to_string()),
        },
        "osType": f.os_type,
        "placementGroupId": f.placement_group_id,
        "plan": {"name": "", "product": "", "publisher": ""},
        "platformFaultDomain": f.platform_fault_domain.to_string(),
        "platformUpdateDomain": f.platform_update_domain.to_string(),
        "priority": f.priority,
        "provider": "Microsoft.Compute",
        "publicKeys": [],
        "publisher": s(img["publisher"].as_str()),
        "resourceGroupName": f.resource_group,
        "resourceId": f.resource_id,
        "sku": s(img["sku"].as_str()),
        "storageProfile": {
            "imageReference": {
                "id": s(img["id"].as_str()),
                "offer": s(img["offer"].as_str()),
                "publisher": s(img["publisher"].as_str()),
                "sku": s(img["sku"].as_str()),
                "version": s(img["version"].as_str()),
            },
        },
        "subscriptionId": f.subscription_id,
        "tags": tags_text,
        "tagsList": tags_list,
        "userData": s(f.user_data.as_deref()),
        "version": s(img["exactVersion"].as_str().or(img["version"].as_str())),
        "virtualMachineScaleSet": {"id": s(f.flexible_scale_set_id.as_deref())},
        "vmId": f.vm_id,
        "vmScaleSetName": f.vm_scale_set_name,
        "vmSize": f.vm_size,
        "zone": s(f.zone.as_deref()),
    });
    let network = json!({"interface": [{
        "ipv4": {
            "ipAddress": [{"privateIpAddress": f.private_ip, "publicIpAddress": s(f.public_ip.as_deref())}],
            "subnet": [{"address": f.subnet_address, "prefix": f.subnet_prefix}],
        },
        "ipv6": {"ipAddress": []},
        "macAddress": f.mac_address,
    }]});
    json!({"compute": compute, "network": network})
}

/// Route parameters: walks `path` (`["compute", "name"]`, array indexes as numbers) into
/// the document.
pub fn select<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .filter(|p| !p.is_empty())
        .try_fold(doc, |v, key| match v {
            Value::Array(a) => a.get(key.parse::<usize>().ok()?),
            Value::Object(o) => o.get(*key),
            _ => None,
        })
}

/// `format=text` of a leaf (strings as they are); `None` for objects and arrays, which
/// only `format=json` renders.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(_) | Value::Array(_) => None,
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> InstanceFacts {
        InstanceFacts {
            subscription_id: "sub".into(),
            resource_group: "rg".into(),
            location: "westeurope".into(),
            name: "web_3".into(),
            resource_id: "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/web/virtualMachines/3".into(),
            vm_scale_set_name: "web".into(),
            vm_id: "5c08b38e-4d57-4c23-ac45-aca61037f084".into(),
            vm_size: "Standard_B1s".into(),
            os_type: "Linux".into(),
            computer_name: "web000003".into(),
            admin_username: "azureuser".into(),
            disable_password_authentication: Some(true),
            image_reference: json!({"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"}),
            tags: json!({"env": "test", "app": "web"}),
            priority: "Regular".into(),
            private_ip: "10.0.0.7".into(),
            subnet_address: "10.0.0.0".into(),
            subnet_prefix: "24".into(),
            mac_address: "000D3A1B2C3D".into(),
            ..Default::default()
        }
    }

    #[test]
    fn requests_need_the_metadata_header_and_a_known_version() {
        let ok = check_request(Some("true"), false, Some("2021-02-01"), &INSTANCE_VERSIONS);
        assert!(ok.is_ok());
        let no_header =
            check_request(None, false, Some("2021-02-01"), &INSTANCE_VERSIONS).unwrap_err();
        assert_eq!(
            no_header.body["error"],
            "Bad request. Required metadata header not specified"
        );
        assert!(check_request(Some("true"), true, Some("2021-02-01"), &INSTANCE_VERSIONS).is_err());
        let no_version = check_request(Some("True"), false, None, &INSTANCE_VERSIONS).unwrap_err();
        assert_eq!(
            no_version.body["newest-versions"],
            json!(["2025-04-07", "2024-07-17", "2024-03-15"])
        );
        assert!(
            check_request(
                Some("true"),
                false,
                Some("2021-02-01"),
                &SCHEDULED_EVENTS_VERSIONS
            )
            .is_err()
        );
        assert!(
            check_request(
                Some("true"),
                false,
                Some("2020-07-01"),
                &SCHEDULED_EVENTS_VERSIONS
            )
            .is_ok()
        );
    }

    #[test]
    fn the_instance_document_is_all_strings_with_empty_placeholders() {
        let doc = instance_document(&facts());
        let c = &doc["compute"];
        assert_eq!(
            (c["name"].as_str(), c["vmScaleSetName"].as_str()),
            (Some("web_3"), Some("web"))
        );
        assert_eq!(
            (c["platformUpdateDomain"].as_str(), c["zone"].as_str()),
            (Some("0"), Some(""))
        );
        assert_eq!(c["osProfile"]["disablePasswordAuthentication"], "true");
        assert_eq!(
            c["virtualMachineScaleSet"]["id"], "",
            "Uniform instances have no scale-set id here"
        );
        assert_eq!(
            (c["publisher"].as_str(), c["version"].as_str()),
            (Some("Canonical"), Some("latest"))
        );
        assert_eq!(c["tags"], "app:web;env:test");
        assert_eq!(
            c["tagsList"],
            json!([{"name": "app", "value": "web"}, {"name": "env", "value": "test"}])
        );
        assert_eq!(
            doc["network"]["interface"][0]["ipv4"]["ipAddress"][0]["publicIpAddress"],
            ""
        );
        fn strings_only(v: &Value) -> bool {
            match v {
                Value::Object(o) => o.values().all(strings_only),
                Value::Array(a) => a.iter().all(strings_only),
                v => v.is_string(),
            }
        }
        assert!(strings_only(&doc));
        let flex = InstanceFacts {
            flexible_scale_set_id: Some("/subscriptions/sub/x".into()),
            ..facts()
        };
        assert_eq!(
            instance_document(&flex)["compute"]["virtualMachineScaleSet"]["id"],
            "/subscriptions/sub/x"
        );
    }

    #[test]
    fn route_parameters_walk_into_the_document() {
        let doc = instance_document(&facts());
        assert_eq!(
            select(&doc, &["compute", "vmId"]).and_then(text).as_deref(),
            Some("5c08b38e-4d57-4c23-ac45-aca61037f084")
        );
        let ip = select(
            &doc,
            &[
                "network",
                "interface",
                "0",
                "ipv4",
                "ipAddress",
                "0",
                "privateIpAddress",
            ],
        );
        assert_eq!(ip.and_then(text).as_deref(), Some("10.0.0.7"));
        assert_eq!(
            select(&doc, &["compute", ""]).map(|v| v.is_object()),
            Some(true),
            "a trailing slash is the same node"
        );
        assert!(select(&doc, &["compute", "nope"]).is_none());
        assert!(select(&doc, &["network", "interface", "x"]).is_none());
        assert_eq!(select(&doc, &["compute"]).and_then(text), None);
    }
}
