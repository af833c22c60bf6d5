//! `Microsoft.Resources/deployments` over HTTP, at resource-group and subscription scope:
//! PUT (preflight, then an asynchronous run polled at `.../operationStatuses/{id}`), GET,
//! HEAD, LIST, DELETE (asynchronous), `cancel`, `validate`, `whatIf` (asynchronous, see
//! [`crate::deploy::whatif`]), `exportTemplate`, deployment operations, and
//! `calculateTemplateHash`. The engine is [`crate::deploy::engine`].

use axum::Json;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

mod body;
mod what_if;

use crate::api::ApiState;
use crate::api::{method_not_allowed, only};
use crate::arm::groups;
use crate::arm::lro::{self, Polling};
use crate::arm::{ArmError, ArmRequest, ArmResult, list};
use crate::deploy::engine;
use crate::deploy::record::{self, Record, Target};
use crate::store::{ResourceQuery, operations, resources};
use body::{parse_body, spec_with_links, validate_name};

/// Requests below `.../deployments`: `rest` are the lower-cased segments from the deployment
/// name on, `name_index` is where the name is in `req.segments`.
pub async fn handle(
    app: &ApiState,
    req: &ArmRequest,
    sub: &str,
    rg: Option<&str>,
    name_index: usize,
    rest: &[&str],
) -> ArmResult<Response> {
    if let Some(rg) = rg {
        groups::require(&app.arm, sub, rg, false).await?;
    }
    let Some(name) = req.segments.get(name_index) else {
        only(req, &[Method::GET])?;
        return list_deployments(app, req, sub, rg).await;
    };
    let target = Target {
        sub: sub.to_string(),
        rg: rg.map(str::to_string),
        name: name.clone(),
    };
    match &rest[1..] {
        [] => match req.method {
            Method::PUT => put(app, req, target).await,
            Method::GET => Ok(Json(load(app, &target).await?.public()).into_response()),
            Method::HEAD => Ok(match Record::load(&app.arm, &target).await? {
                Some(_) => StatusCode::NO_CONTENT,
                None => StatusCode::NOT_FOUND,
            }
            .into_response()),
            Method::DELETE => delete(app, req, &target).await,
            _ => Err(method_not_allowed(req)),
        },
        ["cancel"] => {
            only(req, &[Method::POST])?;
            cancel(app, &target).await
        }
        ["validate"] => {
            only(req, &[Method::POST])?;
            validate(app, req, target).await
        }
        ["exporttemplate"] => {
            only(req, &[Method::POST])?;
            let rec = load(app, &target).await?;
            Ok(Json(json!({"template": rec.template()})).into_response())
        }
        ["whatif"] => {
            only(req, &[Method::POST])?;
            what_if::post(app, req, target).await
        }
        ["whatifoperationresults", op] => {
            only(req, &[Method::GET])?;
            what_if::result(app, req, &target, op).await
        }
        ["operations"] => {
            only(req, &[Method::GET])?;
            let rec = load(app, &target).await?;
            Ok(Json(list::page(req, rec.operations())?).into_response())
        }
        ["operations", id] => {
            only(req, &[Method::GET])?;
            let rec = load(app, &target).await?;
            rec.operations()
                .into_iter()
                .find(|op| {
                    op["operationId"]
                        .as_str()
                        .is_some_and(|o| o.eq_ignore_ascii_case(id))
                })
                .map(|op| Json(op).into_response())
                .ok_or_else(|| {
                    ArmError::not_found(
                        "DeploymentOperationNotFound",
                        format!(
                            "Deployment operation '{id}' of deployment '{}' could not be found.",
                            target.name
                        ),
                    )
                })
        }
        ["operationstatuses", id] => {
            only(req, &[Method::GET])?;
            lro::get_status(&app.arm.store, sub, id, req.uri.path()).await
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

/// Deployments at tenant scope (`/providers/Microsoft.Resources/deployments/...`) or at
/// management-group scope: armlet has one tenant and no management groups to deploy into,
/// so these say so instead of answering a 404 that looks like a missing deployment.
pub fn scope_not_served(req: &ArmRequest, scope: &str) -> ArmError {
    ArmError::bad_request(
        "NotSupportedByArmlet",
        format!(
            "armlet serves template deployments at resource-group and subscription scope only, not at {scope} scope ('{}'). Use 'az deployment group' or 'az deployment sub'.",
            req.uri.path()
        ),
    )
}

async fn load(app: &ApiState, target: &Target) -> ArmResult<Record> {
    Record::load(&app.arm, target).await?.ok_or_else(|| {
        ArmError::not_found(
            "DeploymentNotFound",
            format!("Deployment '{}' could not be found.", target.name),
        )
    })
}

/// PUT: preflight synchronously (a bad template is a 400 and nothing is stored), then store
/// the deployment as Accepted and run it in the background.
async fn put(app: &ApiState, req: &ArmRequest, target: Target) -> ArmResult<Response> {
    validate_name(&target.name)?;
    if let Some(rg) = &target.rg {
        groups::require(&app.arm, &target.sub, rg, true).await?;
    }
    let body = parse_body(req)?;
    let spec = spec_with_links(req, &target, &body).await?;
    let existing = Record::load(&app.arm, &target).await?;
    if let Some(e) = &existing {
        if e.is_active() {
            return Err(ArmError::conflict(
                "DeploymentActive",
                format!(
                    "Unable to edit or replace deployment '{}': previous deployment is still active. Please see https://aka.ms/arm-deploy for usage details.",
                    target.name
                ),
            ));
        }
        let stored = e.public()["location"].as_str().map(str::to_string);
        if let (Some(stored), Some(wanted)) = (stored, &spec.location)
            && stored != *wanted
        {
            return Err(ArmError::bad_request(
                "InvalidDeploymentLocation",
                format!(
                    "Invalid deployment location '{wanted}'. The deployment '{}' already exists in location '{stored}'.",
                    target.name
                ),
            ));
        }
    }
    let prepared = engine::prepare(&app.arm, &target, &spec, None).await?;
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let target = existing.map(|e| e.target).unwrap_or(target);
    let mut rec = Record::new(target.clone(), spec);
    prepared.describe(&mut rec);
    drop(prepared);

    let mut w = app.arm.store.write().await?;
    resources::put(&mut w.tx, &rec.row()).await?;
    let op = operations::insert(&mut w.tx, &target.sub, engine::KIND, &target.id()).await?;
    w.commit().await?;
    app.arm.spawn_operation(op.clone());

    let mut response = (status, Json(rec.public())).into_response();
    let status_url = format!(
        "{}{}/operationStatuses/{op}?api-version={}",
        req.base,
        target.id(),
        req.api_version()?
    );
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&status_url) {
        h.insert("azure-asyncoperation", v);
    }
    h.insert("retry-after", HeaderValue::from_static(lro::RETRY_AFTER));
    Ok(response)
}

/// POST validate: the preflight of PUT, without deploying. 200 with the deployment as it
/// would be, or 400 with the first problem.
async fn validate(app: &ApiState, req: &ArmRequest, target: Target) -> ArmResult<Response> {
    validate_name(&target.name)?;
    let body = parse_body(req)?;
    let spec = spec_with_links(req, &target, &body).await?;
    let prepared = engine::prepare(&app.arm, &target, &spec, None).await?;
    let mut rec = Record::new(target, spec);
    prepared.describe(&mut rec);
    rec.set("validatedResources", prepared.validated_resources());
    rec.finish("Succeeded", None);
    rec.row();
    Ok(Json(rec.public()).into_response())
}

/// DELETE: removes the deployment record (never the resources it deployed).
async fn delete(app: &ApiState, req: &ArmRequest, target: &Target) -> ArmResult<Response> {
    let Some(rec) = Record::load(&app.arm, target).await? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    if rec.is_active() {
        return Err(ArmError::conflict(
            "DeploymentActive",
            format!(
                "The deployment '{}' is still running; cancel it before deleting it.",
                target.name
            ),
        ));
    }
    let mut w = app.arm.store.write().await?;
    let op = operations::insert(
        &mut w.tx,
        &target.sub,
        engine::DELETE_KIND,
        &rec.target.id(),
    )
    .await?;
    w.commit().await?;
    app.arm.spawn_operation(op.clone());
    let urls = lro::poll_urls(
        &req.base,
        &target.sub,
        &op,
        req.api_version()?,
        &Polling::Subscription,
    );
    Ok(lro::with_poll_headers(
        StatusCode::ACCEPTED.into_response(),
        &urls,
    ))
}

/// POST cancel: marks a running deployment Canceled; its run stops before the next step.
async fn cancel(app: &ApiState, target: &Target) -> ArmResult<Response> {
    let mut w = app.arm.store.write().await?;
    let mut row = resources::get(&mut w.tx, &target.key())
        .await?
        .ok_or_else(|| {
            ArmError::not_found(
                "DeploymentNotFound",
                format!("Deployment '{}' could not be found.", target.name),
            )
        })?;
    let state = row.body["properties"]["provisioningState"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !matches!(state.as_str(), "Accepted" | "Running") {
        return Err(ArmError::conflict(
            "DeploymentCannotBeCancelled",
            format!(
                "The deployment '{}' cannot be cancelled: it is in state '{state}', and only Accepted or Running deployments can be.",
                target.name
            ),
        ));
    }
    row.body["properties"]["provisioningState"] = json!("Canceled");
    resources::put(&mut w.tx, &row).await?;
    w.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_deployments(
    app: &ApiState,
    req: &ArmRequest,
    sub: &str,
    rg: Option<&str>,
) -> ArmResult<Response> {
    let q = ResourceQuery {
        subscription: sub.to_string(),
        resource_group: rg.map(str::to_string),
        type_name: Some(record::TYPE.into()),
    };
    let state_filter = match req.query("$filter") {
        None => None,
        Some(f) => Some(provisioning_state_filter(f)?),
    };
    let items = app
        .arm
        .store
        .list(&q)
        .await?
        .into_iter()
        .filter(|r| rg.is_some() || r.resource_group.is_none())
        .map(|r| record::public(&r.body))
        .filter(|d| {
            state_filter.as_deref().is_none_or(|s| {
                d["properties"]["provisioningState"]
                    .as_str()
                    .is_some_and(|p| p.eq_ignore_ascii_case(s))
            })
        })
        .collect();
    Ok(Json(list::page(req, items)?).into_response())
}

/// `provisioningState eq 'Failed'`, the one `$filter` ARM supports on deployments.
fn provisioning_state_filter(filter: &str) -> ArmResult<String> {
    let invalid = || {
        ArmError::bad_request(
            "InvalidFilterInQueryString",
            format!(
                "The $filter '{filter}' is invalid. Supported: provisioningState eq '{{state}}'."
            ),
        )
    };
    let mut words = filter.trim().splitn(3, ' ');
    match (words.next(), words.next(), words.next()) {
        (Some(f), Some(op), Some(v))
            if f.eq_ignore_ascii_case("provisioningState") && op.eq_ignore_ascii_case("eq") =>
        {
            v.trim()
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .map(str::to_string)
                .ok_or_else(invalid)
        }
        _ => Err(invalid()),
    }
}

/// `POST /providers/Microsoft.Resources/calculateTemplateHash`: the body is a template.
pub fn calculate_template_hash(req: &ArmRequest) -> ArmResult<Response> {
    let template = Value::Object(parse_body(req)?);
    Ok(Json(json!({
        "minifiedTemplate": record::minified(&template),
        "templateHash": record::template_hash(&template),
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_filter() {
        assert_eq!(
            provisioning_state_filter("provisioningState eq 'Failed'").unwrap(),
            "Failed"
        );
        assert!(provisioning_state_filter("name eq 'x'").is_err());
    }
}
