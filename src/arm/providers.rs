//! The provider catalogue: the namespaces armlet serves and, for each, the resource types
//! it implements with their api-versions (what `/providers` lists and the template function
//! `providers()` returns).

use serde_json::{Value, json};

use super::error::{ArmError, ArmResult};
use super::location::REGIONS;
use super::service::Arm;

/// The namespaces armlet serves, in canonical casing.
pub const NAMESPACES: &[&str] = &[
    "Microsoft.Resources",
    "Microsoft.Network",
    "Microsoft.Compute",
    "Microsoft.Insights",
    "Microsoft.OperationalInsights",
];

/// Microsoft.Resources types armlet implements by hand (not through the registry).
const RESOURCES_TYPES: &[(&str, &[&str])] = &[
    (
        "resourceGroups",
        &[
            "2024-11-01",
            "2024-07-01",
            "2024-03-01",
            "2023-07-01",
            "2022-09-01",
            "2021-04-01",
        ],
    ),
    (
        "deployments",
        &[
            "2024-11-01",
            "2024-07-01",
            "2024-03-01",
            "2023-07-01",
            "2022-09-01",
            "2021-04-01",
        ],
    ),
    ("subscriptions", &["2022-12-01", "2021-01-01", "2020-01-01"]),
    ("tenants", &["2022-12-01", "2021-01-01", "2020-01-01"]),
    ("providers", &["2024-11-01", "2021-04-01"]),
    ("resources", &["2024-11-01", "2021-04-01"]),
    ("locations", &["2022-12-01", "2021-01-01"]),
];

pub fn canonical(namespace: &str) -> ArmResult<&'static str> {
    NAMESPACES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(namespace))
        .copied()
        .ok_or_else(|| {
            ArmError::not_found(
                "InvalidResourceNamespace",
                format!("The resource namespace '{namespace}' is invalid."),
            )
        })
}

fn resource_type(name: &str, api_versions: &[&str]) -> Value {
    let locations: Vec<&str> = REGIONS.iter().map(|(_, d)| *d).collect();
    json!({
        "resourceType": name,
        "locations": locations,
        "apiVersions": api_versions,
        "defaultApiVersion": api_versions.first(),
        "capabilities": "None"
    })
}

pub fn provider(arm: &Arm, namespace: &'static str, sub: Option<&str>) -> Value {
    let types: Vec<Value> = if namespace == "Microsoft.Resources" {
        RESOURCES_TYPES
            .iter()
            .map(|(t, v)| resource_type(t, v))
            .collect()
    } else {
        arm.registry
            .in_namespace(namespace)
            .iter()
            .map(|t| {
                let name = t
                    .type_name()
                    .split_once('/')
                    .map(|(_, rest)| rest)
                    .unwrap_or_default();
                resource_type(name, t.api_versions())
            })
            .collect()
    };
    let id = match sub {
        Some(s) => format!("/subscriptions/{s}/providers/{namespace}"),
        None => format!("/providers/{namespace}"),
    };
    json!({
        "id": id,
        "namespace": namespace,
        "registrationState": "Registered",
        "registrationPolicy": "RegistrationRequired",
        "resourceTypes": types
    })
}

/// Every namespace with its resource types, as `/providers` lists them (for the template
/// function `providers()`).
pub fn catalog(arm: &Arm) -> Vec<Value> {
    NAMESPACES
        .iter()
        .map(|ns| provider(arm, ns, None))
        .collect()
}
