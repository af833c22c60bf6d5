//! The Instance Metadata Service an instance reaches at `ARMLET_IMDS_ENDPOINT`
//! (`runtime::imds` runs one listener per instance; this is what they serve):
//!
//! - `GET /metadata/instance[/path]?api-version=…[&format=text]`: the instance document
//!   (`runtime::upgrade::imds`) or one node of it;
//! - `GET /metadata/scheduledevents?api-version=…`: the scale set's Scheduled Events
//!   (terminate notifications), and `POST` `{"StartRequests": [{"EventId": …}]}` to approve
//!   events early;
//! - `GET /metadata/identity/oauth2/token?api-version=…&resource=…`: a managed-identity
//!   token from armlet's token issuer.
//!
//! Every request needs `Metadata: true` and no `X-Forwarded-For`, as Azure's IMDS does.

use std::collections::HashMap;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use crate::api::ApiState;
use crate::arm::ResourceId;
use crate::model::compute::instance::InstanceState;
use crate::runtime::imds::ImdsCaller;
use crate::runtime::upgrade::imds::{
    INSTANCE_VERSIONS, ImdsError, InstanceFacts, SCHEDULED_EVENTS_VERSIONS, check_request,
    instance_document, select, text,
};
use crate::runtime::upgrade::scheduled_events::ScheduledEvents;

/// The routes every instance's IMDS listener serves.
pub fn router(app: ApiState) -> Router {
    Router::new()
        .route("/metadata/instance", get(instance))
        .route("/metadata/instance/{*path}", get(instance_node))
        .route("/metadata/scheduledevents", get(events).post(approve))
        .route("/metadata/identity/oauth2/token", get(token))
        .fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({"error": "Not found"}))) })
        .layer(middleware::from_fn(metadata_header))
        .with_state(app)
}

fn bad(e: ImdsError) -> Response {
    (StatusCode::BAD_REQUEST, Json(e.body)).into_response()
}

/// `Metadata: true` and no `X-Forwarded-For` on every request.
async fn metadata_header(req: Request, next: Next) -> Response {
    let h = req.headers();
    let metadata = h.get("metadata").and_then(|v| v.to_str().ok());
    let forwarded = h.contains_key("x-forwarded-for");
    // The api-version is checked per endpoint; here only the header (any known version).
    if let Err(e) = check_request(
        metadata,
        forwarded,
        Some(INSTANCE_VERSIONS[0]),
        &INSTANCE_VERSIONS,
    ) {
        return bad(e);
    }
    next.run(req).await
}

/// IMDS's answer to a request without a supported `api-version`, if it is one.
fn version_error(q: &HashMap<String, String>, supported: &[&str]) -> Option<Response> {
    check_request(
        Some("true"),
        false,
        q.get("api-version").map(String::as_str),
        supported,
    )
    .err()
    .map(bad)
}

async fn instance(
    State(app): State<ApiState>,
    Extension(caller): Extension<ImdsCaller>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    node(&app, &caller, &q, "").await
}

async fn instance_node(
    State(app): State<ApiState>,
    Extension(caller): Extension<ImdsCaller>,
    Path(path): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    node(&app, &caller, &q, &path).await
}

async fn node(
    app: &ApiState,
    caller: &ImdsCaller,
    q: &HashMap<String, String>,
    path: &str,
) -> Response {
    if let Some(r) = version_error(q, &INSTANCE_VERSIONS) {
        return r;
    }
    let doc = match facts(app, &caller.key).await {
        Ok(Some(f)) => instance_document(&f),
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "instance metadata");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let parts: Vec<&str> = path.split('/').collect();
    let Some(v) = select(&doc, &parts) else {
        return (StatusCode::NOT_FOUND, Json(json!({"error": "Not found"}))).into_response();
    };
    if q.get("format").is_some_and(|f| f == "text") {
        return match text(v) {
            Some(t) => t.into_response(),
            None => bad(ImdsError {
                body: json!({"error": "Bad request. Query parameter 'format=text' is only supported for leaf nodes."}),
            }),
        };
    }
    Json(v.clone()).into_response()
}

/// What IMDS knows about instance `key`.
async fn facts(app: &ApiState, key: &str) -> anyhow::Result<Option<InstanceFacts>> {
    let store = &app.arm.store;
    let Some(row) = store.get(key).await? else {
        return Ok(None);
    };
    let state = InstanceState::of(&row.body)?;
    let vmss = store.get(&state.scale_set).await?;
    let vmss_doc = vmss.as_ref().map(|v| &v.body).unwrap_or(&Value::Null);
    let id = ResourceId::parse(&row.id)?;
    let props = &row.body["properties"];
    let mut f = InstanceFacts {
        subscription_id: id.subscription.clone(),
        resource_group: id.resource_group.clone().unwrap_or_default(),
        location: row.body["location"].as_str().unwrap_or_default().into(),
        name: row.name.clone(),
        resource_id: row.id.clone(),
        vm_scale_set_name: vmss.as_ref().map(|v| v.name.clone()).unwrap_or_default(),
        flexible_scale_set_id: (vmss_doc["properties"]["orchestrationMode"] == "Flexible")
            .then(|| vmss.as_ref().map(|v| v.id.clone()).unwrap_or_default()),
        vm_id: props["vmId"].as_str().unwrap_or_default().into(),
        vm_size: props["hardwareProfile"]["vmSize"]
            .as_str()
            .unwrap_or_default()
            .into(),
        os_type: if props["osProfile"]["windowsConfiguration"].is_object() {
            "Windows"
        } else {
            "Linux"
        }
        .into(),
        computer_name: props["osProfile"]["computerName"]
            .as_str()
            .unwrap_or_default()
            .into(),
        admin_username: props["osProfile"]["adminUsername"]
            .as_str()
            .unwrap_or_default()
            .into(),
        disable_password_authentication:
            props["osProfile"]["linuxConfiguration"]["disablePasswordAuthentication"].as_bool(),
        image_reference: state.model["storageProfile"]["imageReference"].clone(),
        tags: row.body["tags"].clone(),
        zone: row.body["zones"][0].as_str().map(str::to_string),
        priority: state.model["priority"].as_str().unwrap_or("Regular").into(),
        eviction_policy: state.model["evictionPolicy"].as_str().map(str::to_string),
        user_data: state.model["userData"].as_str().map(str::to_string),
        ..Default::default()
    };
    // The primary NIC: addresses and subnet.
    for nic in props["networkProfile"]["networkInterfaces"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(nic) = store.get(nic["id"].as_str().unwrap_or_default()).await? else {
            continue;
        };
        let ipc = &nic.body["properties"]["ipConfigurations"][0]["properties"];
        f.private_ip = ipc["privateIPAddress"].as_str().unwrap_or_default().into();
        f.mac_address = nic.body["properties"]["macAddress"]
            .as_str()
            .unwrap_or_default()
            .replace('-', "")
            .to_ascii_uppercase();
        if let Some(prefix) = subnet_prefix(app, ipc["subnet"]["id"].as_str()).await? {
            let (address, bits) = prefix.split_once('/').unwrap_or((&prefix, ""));
            (f.subnet_address, f.subnet_prefix) = (address.into(), bits.into());
        }
        break;
    }
    Ok(Some(f))
}

/// The address prefix of a subnet (`10.0.0.0/24`), read from its virtual network.
async fn subnet_prefix(app: &ApiState, subnet: Option<&str>) -> anyhow::Result<Option<String>> {
    let Some(id) = subnet.and_then(|s| ResourceId::parse(s).ok()) else {
        return Ok(None);
    };
    let Some(vnet) = app.arm.store.get(&id.root().to_string()).await? else {
        return Ok(None);
    };
    Ok(vnet.body["properties"]["subnets"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| {
            s["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(id.name()))
        })
        .and_then(|s| {
            s["properties"]["addressPrefix"]
                .as_str()
                .map(str::to_string)
        }))
}

/// The scale set of instance `key` and its Scheduled Events.
async fn scale_set_events(
    app: &ApiState,
    key: &str,
) -> anyhow::Result<Option<(String, ScheduledEvents)>> {
    let Some(row) = app.arm.store.get(key).await? else {
        return Ok(None);
    };
    let vmss = InstanceState::of(&row.body)?.scale_set;
    let events = match app.arm.store.scheduled_events(&vmss).await? {
        Some(doc) => serde_json::from_value(doc)?,
        None => ScheduledEvents::default(),
    };
    Ok(Some((vmss, events)))
}

async fn events(
    State(app): State<ApiState>,
    Extension(caller): Extension<ImdsCaller>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = version_error(&q, &SCHEDULED_EVENTS_VERSIONS) {
        return r;
    }
    match scale_set_events(&app, &caller.key).await {
        Ok(Some((_, events))) => Json(events.document(&q["api-version"])).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "scheduled events");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `POST /metadata/scheduledevents`: approves events early; the terminate controller
/// wakes on the stored change.
async fn approve(
    State(app): State<ApiState>,
    Extension(caller): Extension<ImdsCaller>,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(r) = version_error(&q, &SCHEDULED_EVENTS_VERSIONS) {
        return r;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "The request body is not JSON."})),
        )
            .into_response();
    };
    let result = async {
        let Some((vmss, mut events)) = scale_set_events(&app, &caller.key).await? else {
            return Ok(Err(StatusCode::NOT_FOUND.into_response()));
        };
        if let Err(e) = events.approve(&body) {
            return Ok(Err(
                (StatusCode::BAD_REQUEST, Json(json!({"error": e.0}))).into_response()
            ));
        }
        app.arm
            .store
            .save_scheduled_events(&vmss, &serde_json::to_value(&events)?)
            .await?;
        app.arm.notify_change();
        anyhow::Ok(Ok(()))
    }
    .await;
    match result {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(r)) => r,
        Err(e) => {
            tracing::warn!(error = %e, "approving scheduled events");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn token(
    State(app): State<ApiState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !q.contains_key("api-version") {
        return bad(ImdsError {
            body: json!({"error": "invalid_request", "error_description": "Required metadata header not specified"}),
        });
    }
    super::identity::managed_identity_token(State(app), headers, Query(q)).await
}
