//! HTTP shapes of provider resources, mapped onto the generic operations in
//! [`crate::arm::resources`]:
//! `.../providers/{ns}/{type}` (list), `.../{type}/{name}` (PUT, GET, PATCH, DELETE),
//! `.../{name}/{child}` and `.../{name}/{child}/{childName}` for child collections, and
//! anything else below a resource to the type's own `route`.

use axum::Json;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{method_not_allowed, only};
use crate::api::ApiState;
use crate::arm::lro::{self, Polling};
use crate::arm::resource_type::ResourceType;
use crate::arm::resources::{self as generic, child_of, resolve_type};
use crate::arm::{ArmRequest, ArmResult, ResourceId, list};

/// `rest` starts at the namespace; `offset` is the index of the namespace in `req.segments`.
pub async fn handle(
    app: &ApiState,
    req: &ArmRequest,
    sub: &str,
    rg: Option<&str>,
    offset: usize,
) -> ArmResult<Response> {
    let arm = &app.arm;
    let seg = &req.segments[offset..];
    let lower: Vec<&str> = req.lower[offset..].iter().map(String::as_str).collect();
    let api_version = req.api_version()?;
    let (namespace, ty_name) = (&seg[0], seg.get(1).cloned().unwrap_or_default());
    let probe_id = ResourceId::new(
        sub,
        rg,
        namespace,
        vec![(ty_name, seg.get(2).cloned().unwrap_or_else(|| "_".into()))],
    );
    let ty = resolve_type(arm, &probe_id, api_version)?;

    // An extension of the resource (`.../{name}[/{child}/{name}...]/providers/{ns}/...`).
    if let Some(at) = (3..lower.len())
        .step_by(2)
        .find(|&i| lower[i] == "providers" && i + 1 < lower.len())
    {
        let pairs = seg[1..at]
            .chunks(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect();
        let target = generic::canonical(ty.as_ref(), &ResourceId::new(sub, rg, namespace, pairs));
        return super::insights::extension(app, req, &target, &lower[at + 1..]).await;
    }

    if seg.len() == 2 {
        only(req, &[Method::GET])?;
        let items = generic::list(arm, ty.as_ref(), sub, rg).await?;
        return Ok(Json(list::page(req, items)?).into_response());
    }
    let id = generic::canonical(ty.as_ref(), &probe_id);
    match &lower[3..] {
        [] => match req.method {
            Method::PUT => {
                let out =
                    generic::put_started(arm, &id, api_version, req.json_object()?, Some(req))
                        .await?;
                Ok(respond(ty.as_ref(), req, &id, api_version, out))
            }
            Method::GET | Method::HEAD => Ok(Json(generic::get(arm, &id).await?).into_response()),
            Method::PATCH => {
                let out = generic::patch(arm, &id, req).await?;
                Ok(respond(ty.as_ref(), req, &id, api_version, out))
            }
            Method::DELETE => Ok(if generic::delete(arm, &id, Some(req)).await? {
                StatusCode::OK
            } else {
                StatusCode::NO_CONTENT
            }
            .into_response()),
            _ => Err(method_not_allowed(req)),
        },
        [child] if child_of(ty.as_ref(), child).is_some() => {
            only(req, &[Method::GET])?;
            let child = child_of(ty.as_ref(), child).expect("checked");
            let items = generic::list_children(arm, &id, &child).await?;
            Ok(Json(list::page(req, items)?).into_response())
        }
        [child, _] if child_of(ty.as_ref(), child).is_some() => {
            let child = child_of(ty.as_ref(), child).expect("checked");
            let name = &seg[4];
            match req.method {
                Method::GET | Method::HEAD => {
                    Ok(Json(generic::get_child(arm, &id, &child, name).await?).into_response())
                }
                Method::PUT if child.writable => {
                    let (doc, created) =
                        generic::put_child(arm, &id, api_version, &child, name, req.json_object()?)
                            .await?;
                    Ok((
                        if created {
                            StatusCode::CREATED
                        } else {
                            StatusCode::OK
                        },
                        Json(doc),
                    )
                        .into_response())
                }
                Method::DELETE if child.writable => {
                    Ok(
                        if generic::delete_child(arm, &id, api_version, &child, name).await? {
                            StatusCode::OK
                        } else {
                            StatusCode::NO_CONTENT
                        }
                        .into_response(),
                    )
                }
                _ => Err(method_not_allowed(req)),
            }
        }
        rest => ty.route(arm, req, &id, rest).await,
    }
}

/// The answer to a create, update or patch: 201 (200 for types whose spec says so) or 200,
/// with polling headers when the type provisions asynchronously.
fn respond(
    ty: &dyn ResourceType,
    req: &ArmRequest,
    id: &ResourceId,
    api_version: &str,
    out: generic::PutOutcome,
) -> Response {
    let status = if out.created && !ty.created_with_ok() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = out.doc["location"].as_str().unwrap_or("eastus").to_string();
    let response = (status, Json(out.doc)).into_response();
    match out.operation {
        Some(op) => {
            let style = Polling::Provider {
                namespace: &id.namespace,
                location: &location,
            };
            lro::with_poll_headers(
                response,
                &lro::poll_urls(&req.base, &id.subscription, &op, api_version, &style),
            )
        }
        None => response,
    }
}
