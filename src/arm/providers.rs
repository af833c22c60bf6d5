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
    "Microsoft.AlertsManagement",
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

/// Microsoft.Insights extension types served below any resource (`{id}/providers/
/// Microsoft.Insights/...`) rather than through the registry, with the api-versions Azure
/// serves (azure-rest-api-specs, `monitor/.../Microsoft.Insights`; az 2.91 sends 2018-01-01
/// for metrics and definitions, 2017-12-01-preview for namespaces).
pub const INSIGHTS_EXTENSION_TYPES: &[(&str, &[&str])] = &[
    (
        "metrics",
        &["2024-02-01", "2023-10-01", "2021-05-01", "2018-01-01"],
    ),
    (
        "metricDefinitions",
        &["2024-02-01", "2023-10-01", "2021-05-01", "2018-01-01"],
    ),
    ("metricNamespaces", &["2024-02-01", "2017-12-01-preview"]),
];

/// Microsoft.AlertsManagement types armlet serves by hand: the fired alerts of metric alert
/// rules (`api::alerts_management`). 2019-05-05-preview is what az's alertsmanagement
/// extension sends; the spec's stable version is 2019-03-01.
const ALERTS_MANAGEMENT_TYPES: &[(&str, &[&str])] = &[(
    "alerts",
    &["2019-05-05-preview", "2019-03-01", "2018-05-05"],
)];

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
    let by_hand = match namespace {
        "Microsoft.Resources" => Some(RESOURCES_TYPES),
        "Microsoft.AlertsManagement" => Some(ALERTS_MANAGEMENT_TYPES),
        _ => None,
    };
    let types: Vec<Value> = if let Some(by_hand) = by_hand {
        by_hand.iter().map(|(t, v)| resource_type(t, v)).collect()
    } else {
        let mut types: Vec<Value> = arm
            .registry
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
            .collect();
        if namespace == "Microsoft.Insights" {
            types.extend(
                INSIGHTS_EXTENSION_TYPES
                    .iter()
                    .map(|(t, v)| resource_type(t, v)),
            );
        }
        types
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
