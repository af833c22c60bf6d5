//! `list*()` template functions, performed the way ARM performs them: as the resource's
//! POST action of the same name (`POST {resourceId}/{function}?api-version=...`, with
//! `functionValues` as the body), through the same resource-type routes the HTTP API uses.
//! So any resource type armlet serves gets the list functions its API has, and a function
//! the type has no action for is an error naming the function and the type.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use serde_json::Value;

use crate::arm::request::MAX_BODY_BYTES;
use crate::arm::resources::{canonical, get_stored, resolve_type};
use crate::arm::{Arm, ArmRequest, ResourceId};
use crate::deploy::scope::{ListCall, ListFailure};

/// Performs one `list*()` call. `base`: `https://host:port` as the client reached armlet.
pub async fn perform(app: &Arc<Arm>, call: &ListCall, base: &str) -> Result<Value, ListFailure> {
    let f = &call.function;
    let invalid = |why: String| {
        ListFailure::Invalid(format!(
            "The template function '{f}' is not valid for the resource '{}': {why}",
            call.id
        ))
    };
    let id = ResourceId::parse(&call.id).map_err(|e| invalid(e.message))?;
    let ty = resolve_type(app, &id, &call.api_version).map_err(|e| {
        invalid(format!(
            "armlet does not serve its resource type ({}: {})",
            e.code, e.message
        ))
    })?;
    let root = canonical(ty.as_ref(), &id.root());
    if let Err(e) = get_stored(app, &root).await {
        return Err(if e.status == StatusCode::NOT_FOUND {
            ListFailure::Missing(e.message)
        } else {
            ListFailure::Invalid(e.message)
        });
    }
    let mut rest: Vec<String> = id
        .segments
        .iter()
        .skip(1)
        .flat_map(|(t, n)| [t.to_ascii_lowercase(), n.to_ascii_lowercase()])
        .collect();
    rest.push(f.to_ascii_lowercase());
    let req = request(&id, call, base)?;
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let response = match ty.route(app, &req, &root, &rest).await {
        Ok(r) => r,
        // The generic "no such path": the type has no action by this name.
        Err(e) if e.status == StatusCode::NOT_FOUND && e.code == "NotFound" => {
            return Err(ListFailure::Invalid(format!(
                "The template function '{f}' is not valid: the resource type '{}' has no '{f}' action, so '{f}' cannot be used with it. Please see https://aka.ms/arm-resource-functions for usage details.",
                ty.type_name()
            )));
        }
        Err(e) => return Err(invalid(format!("{} ({})", e.message, e.code))),
    };
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|e| invalid(e.to_string()))?;
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?
    };
    if status.is_success() {
        Ok(body)
    } else {
        Err(invalid(
            body["error"]["message"]
                .as_str()
                .unwrap_or("the action failed")
                .to_string(),
        ))
    }
}

/// Characters a URI path cannot carry as they are (`/` stays a separator).
const PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// The POST request ARM would send the resource provider.
fn request(id: &ResourceId, call: &ListCall, base: &str) -> Result<ArmRequest, ListFailure> {
    let path = format!("{}/{}", id.to_string().trim_end_matches('/'), call.function);
    let query = format!(
        "api-version={}",
        form_urlencoded::byte_serialize(call.api_version.as_bytes()).collect::<String>()
    );
    let uri: Uri = format!(
        "{}?{query}",
        percent_encoding::utf8_percent_encode(&path, PATH)
    )
    .parse()
    .map_err(|e| ListFailure::Invalid(format!("'{path}' is not a valid request path: {e}")))?;
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    Ok(ArmRequest {
        method: Method::POST,
        uri,
        lower: segments.iter().map(|s| s.to_ascii_lowercase()).collect(),
        segments,
        query: vec![("api-version".into(), call.api_version.clone())],
        headers,
        body: Bytes::from(call.body.clone().unwrap_or_default()),
        base: base.to_string(),
    })
}
