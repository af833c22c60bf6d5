//! The provider catalogue (`/providers`, `/subscriptions/{s}/providers/{ns}`, `register`):
//! the namespaces armlet serves and, for each, the resource types it implements.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::arm::location::REGIONS;
use crate::arm::{ArmError, ArmRequest, ArmResult, list};

/// The namespaces armlet serves, in canonical casing.
pub const NAMESPACES: &[&str] = &[
    "Microsoft.Resources",
    "Microsoft.Network",
    "Microsoft.Compute",
    "Microsoft.Insights",
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

fn canonical(namespace: &str) -> ArmResult<&'static str> {
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

fn provider(app: &AppState, namespace: &'static str, sub: Option<&str>) -> Value {
    let types: Vec<Value> = if namespace == "Microsoft.Resources" {
        RESOURCES_TYPES
            .iter()
            .map(|(t, v)| resource_type(t, v))
            .collect()
    } else {
        app.registry
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
pub fn catalog(app: &AppState) -> Vec<Value> {
    NAMESPACES
        .iter()
        .map(|ns| provider(app, ns, None))
        .collect()
}

pub async fn list(app: &AppState, req: &ArmRequest, sub: Option<&str>) -> ArmResult<Response> {
    let items = NAMESPACES.iter().map(|ns| provider(app, ns, sub)).collect();
    Ok(Json(list::page(req, items)?).into_response())
}

pub async fn get(app: &AppState, req: &ArmRequest, sub: Option<&str>) -> ArmResult<Response> {
    let ns_index = if sub.is_some() { 3 } else { 1 };
    let ns = canonical(&req.segments[ns_index])?;
    Ok(Json(provider(app, ns, sub)).into_response())
}

/// Every namespace armlet serves is always registered; registering is a no-op that says so.
pub async fn register(app: &AppState, req: &ArmRequest, sub: &str) -> ArmResult<Response> {
    let ns = canonical(&req.segments[3])?;
    Ok(Json(provider(app, ns, Some(sub))).into_response())
}
