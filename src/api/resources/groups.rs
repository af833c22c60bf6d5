//! Resource groups over HTTP: PUT, GET, HEAD, PATCH, LIST and the asynchronous DELETE; the
//! rules live in [`crate::arm::groups`].

use axum::Json;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::api::{ApiState, method_not_allowed};
use crate::arm::groups;
use crate::arm::lro::{self, Polling};
use crate::arm::{ArmRequest, ArmResult, list};

pub async fn handle(
    app: &ApiState,
    req: &ArmRequest,
    sub: &str,
    name: &str,
) -> ArmResult<Response> {
    let preconditions = |etag: Option<&str>| req.check_preconditions(etag);
    match req.method {
        Method::PUT => {
            let body = req.json_object()?;
            let (doc, created) =
                groups::create_or_update(&app.arm, sub, name, &body, Some(&preconditions)).await?;
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok((status, Json(doc)).into_response())
        }
        Method::GET => {
            let rg = groups::require(&app.arm, sub, name, false).await?;
            Ok(Json(rg.body).into_response())
        }
        Method::HEAD => Ok(match groups::find(&app.arm, sub, name).await? {
            Some(_) => StatusCode::NO_CONTENT,
            None => StatusCode::NOT_FOUND,
        }
        .into_response()),
        Method::PATCH => {
            let body = req.json_object()?;
            let doc = groups::patch(&app.arm, sub, name, &body, &preconditions).await?;
            Ok(Json(doc).into_response())
        }
        Method::DELETE => {
            let op = groups::begin_delete(&app.arm, sub, name, &preconditions).await?;
            let urls = lro::poll_urls(
                &req.base,
                sub,
                &op,
                req.api_version()?,
                &Polling::Subscription,
            );
            Ok(lro::with_poll_headers(
                StatusCode::ACCEPTED.into_response(),
                &urls,
            ))
        }
        _ => Err(method_not_allowed(req)),
    }
}

pub async fn list(app: &ApiState, req: &ArmRequest, sub: &str) -> ArmResult<Response> {
    let mut items = groups::list(&app.arm, sub).await?;
    if let Some(filter) = req.query("$filter") {
        let f = super::generic::Filter::parse(filter)?;
        items.retain(|g| f.matches(g, g["name"].as_str().unwrap_or_default()));
    }
    Ok(Json(list::page(req, items)?).into_response())
}
