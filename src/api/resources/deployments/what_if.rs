//! `POST .../deployments/{name}/whatIf` and its `Location`
//! (`.../whatIfOperationResults/{id}`); the computation is [`crate::deploy::whatif`].

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::body::{parse_body, spec_with_links, validate_name};
use crate::api::ApiState;
use crate::arm::lro;
use crate::arm::{ArmError, ArmRequest, ArmResult};
use crate::deploy::record::Target;
use crate::deploy::whatif;
use crate::store::{Resource, ResourceQuery, operations, resources};

/// POST whatIf: the request checked and its links read, then the what-if runs as an
/// operation polled at its `Location` (`.../whatIfOperationResults/{op}`), which answers 202
/// until the `WhatIfOperationResult` is ready.
pub async fn post(app: &ApiState, req: &ArmRequest, target: Target) -> ArmResult<Response> {
    validate_name(&target.name)?;
    let body = parse_body(req)?;
    let spec = spec_with_links(req, &target, &body).await?;
    let format = whatif::ResultFormat::of(body.get("properties"))?;
    let pending = whatif::pending(&target, &spec, format)?;
    let mut w = app.arm.store.write().await?;
    // One stored result per deployment name is enough: earlier finished ones go.
    let q = ResourceQuery {
        subscription: target.sub.clone(),
        resource_group: target.rg.clone(),
        type_name: Some(whatif::RESULT_TYPE.into()),
    };
    let prefix = format!("{}/whatifoperationresults/", target.key());
    for old in resources::list(&mut w.tx, &q).await? {
        if old.key().starts_with(&prefix) && whatif::result_of(&old.body).is_some() {
            resources::delete(&mut w.tx, &old.key()).await?;
        }
    }
    let result = uuid::Uuid::new_v4().simple().to_string();
    let row_id = whatif::result_id(&target, &result);
    let op = operations::insert(&mut w.tx, &target.sub, whatif::KIND, &row_id).await?;
    let mut pending = pending;
    pending["armlet"]["operation"] = json!(op);
    resources::put(
        &mut w.tx,
        &Resource {
            id: row_id,
            subscription: target.sub.clone(),
            resource_group: target.rg.clone(),
            type_name: whatif::RESULT_TYPE.into(),
            name: format!("{}/{result}", target.name),
            body: pending,
            etag: crate::arm::tags::new_etag(),
        },
    )
    .await?;
    w.commit().await?;
    app.arm.spawn_operation(op.clone());
    let location = format!(
        "{}{}/whatIfOperationResults/{result}?api-version={}",
        req.base,
        target.id(),
        req.api_version()?
    );
    let mut response = StatusCode::ACCEPTED.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert("location", v);
    }
    h.insert("retry-after", HeaderValue::from_static(lro::RETRY_AFTER));
    Ok(response)
}

/// GET of a what-if's `Location`: 202 while it runs, then the `WhatIfOperationResult`.
pub async fn result(
    app: &ApiState,
    req: &ArmRequest,
    target: &Target,
    result: &str,
) -> ArmResult<Response> {
    let not_found = || {
        ArmError::not_found(
            "OperationNotFound",
            format!(
                "The what-if operation '{result}' of deployment '{}' could not be found.",
                target.name
            ),
        )
    };
    let row = app
        .arm
        .store
        .get(&whatif::result_id(target, result))
        .await?
        .ok_or_else(not_found)?;
    if let Some(done) = whatif::result_of(&row.body) {
        return Ok(Json(done.clone()).into_response());
    }
    let op = row.body["armlet"]["operation"]
        .as_str()
        .ok_or_else(not_found)?;
    let self_url = format!(
        "{}{}?api-version={}",
        req.base,
        req.uri.path(),
        req.api_version()?
    );
    match lro::get_result(&app.arm.store, &target.sub, op, &self_url).await? {
        Err(pending) => Ok(pending),
        Ok(_) => Err(not_found()),
    }
}
