//! `{resource}/providers/Microsoft.Insights/diagnosticSettings[/{name}]` (PUT, GET, DELETE,
//! list; api-version 2021-05-01-preview is what az 2.91 sends) and
//! `{resource}/providers/Microsoft.Insights/diagnosticSettingsCategories[/{name}]`.
//!
//! Settings are extension resources ([`crate::arm::extension`]): stored as rows below their
//! target, validated by [`crate::model::diagnostic_settings`]. On top of the body's rules, a
//! write is refused when the target does not exist (404, ARM's `ResourceNotFound`), when its
//! type has no diagnostic settings, when the resource already has five settings, and when
//! `workspaceId` names a workspace that does not exist: Azure answers that with 404
//! `ResourceNotFound`, "The resource '<id>' doesn't exist." (MicrosoftDocs/azure-docs#78615,
//! Azure/azure-cli#4215), so the tutorial's command, which names `myWorkspace` without creating
//! it, needs `az monitor log-analytics workspace create` first, on armlet as on Azure.
//!
//! Both the PUT of a new setting and of an existing one answer 200, as the spec lists.

use axum::Json;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::api::{ApiState, method_not_allowed, only};
use crate::arm::extension::{self, ExtensionType};
use crate::arm::{ArmError, ArmRequest, ArmResult, ResourceId};
use crate::model::diagnostic_settings::{self as model, CATEGORY_TYPE, Categories};
use crate::store::resources;

pub const SETTINGS: ExtensionType = ExtensionType {
    type_name: model::TYPE,
    id_namespace: "microsoft.insights",
    collection: "diagnosticSettings",
};

/// `rest` starts after `microsoft.insights` (lower case).
pub async fn route(
    app: &ApiState,
    req: &ArmRequest,
    target: &ResourceId,
    rest: &[&str],
) -> ArmResult<Response> {
    // The name with the casing the client gave: the last path segment.
    let name = req.segments.last().cloned().unwrap_or_default();
    match rest {
        ["diagnosticsettings"] => {
            only(req, &[Method::GET])?;
            let mut conn = app.arm.store.pool().acquire().await?;
            extension::target(&mut conn, target).await?;
            let value: Vec<Value> = extension::list(&mut conn, &SETTINGS, target)
                .await?
                .into_iter()
                .map(|r| r.body)
                .collect();
            Ok(Json(json!({ "value": value })).into_response())
        }
        ["diagnosticsettings", _] => match req.method {
            Method::PUT => Ok(Json(put(app, req, target, &name).await?).into_response()),
            Method::GET | Method::HEAD => Ok(Json(get(app, target, &name).await?).into_response()),
            Method::DELETE => {
                let deleted = extension::delete(&app.arm, &SETTINGS, target, &name, req).await?;
                Ok(if deleted {
                    StatusCode::OK
                } else {
                    StatusCode::NO_CONTENT
                }
                .into_response())
            }
            _ => Err(method_not_allowed(req)),
        },
        ["diagnosticsettingscategories"] => {
            only(req, &[Method::GET])?;
            let categories = categories_of(app, target).await?;
            let value: Vec<Value> = categories
                .listing()
                .into_iter()
                .map(|c| category_doc(target, c))
                .collect();
            Ok(Json(json!({ "value": value })).into_response())
        }
        ["diagnosticsettingscategories", _] => {
            only(req, &[Method::GET])?;
            let categories = categories_of(app, target).await?;
            categories
                .listing()
                .into_iter()
                .find(|(n, _, _)| n.eq_ignore_ascii_case(&name))
                .map(|c| Json(category_doc(target, c)).into_response())
                .ok_or_else(|| {
                    ArmError::not_found(
                        "ResourceNotFound",
                        format!("The diagnostic settings category '{name}' doesn't exist for this resource."),
                    )
                })
        }
        _ => Err(super::not_served(req)),
    }
}

/// The categories of an existing target's type.
async fn categories_of(app: &ApiState, target: &ResourceId) -> ArmResult<&'static Categories> {
    let mut conn = app.arm.store.pool().acquire().await?;
    extension::target(&mut conn, target).await?;
    let ty = target.type_name();
    model::categories_for(&ty).ok_or_else(|| model::unsupported_type(&ty))
}

fn category_doc(target: &ResourceId, (name, kind, groups): (&str, &str, Vec<&str>)) -> Value {
    json!({
        "id": format!("{target}/providers/microsoft.insights/diagnosticSettingsCategories/{name}"),
        "name": name,
        "type": CATEGORY_TYPE,
        "properties": {"categoryType": kind, "categoryGroups": groups}
    })
}

fn not_found(name: &str) -> ArmError {
    ArmError::not_found(
        "ResourceNotFound",
        format!("The diagnostic setting '{name}' doesn't exist."),
    )
}

async fn get(app: &ApiState, target: &ResourceId, name: &str) -> ArmResult<Value> {
    let mut conn = app.arm.store.pool().acquire().await?;
    extension::target(&mut conn, target).await?;
    let key = SETTINGS.id(target, name).to_ascii_lowercase();
    Ok(resources::get(&mut conn, &key)
        .await?
        .ok_or_else(|| not_found(name))?
        .body)
}

async fn put(
    app: &ApiState,
    req: &ArmRequest,
    target: &ResourceId,
    name: &str,
) -> ArmResult<Value> {
    if name.is_empty()
        || name.chars().count() > 260
        || name.contains(['<', '>', '%', '&', '\\', '?', '*', '#'])
    {
        return Err(ArmError::bad_request(
            "BadRequest",
            format!("'{name}' is not a valid diagnostic setting name."),
        ));
    }
    let body = req.json_object()?;
    let arm = &app.arm;
    let mut w = arm.store.write().await?;
    extension::target(&mut w.tx, target).await?;
    let ty = target.type_name();
    let categories = model::categories_for(&ty).ok_or_else(|| model::unsupported_type(&ty))?;
    let key = SETTINGS.id(target, name).to_ascii_lowercase();
    let existing = resources::get(&mut w.tx, &key).await?;
    req.check_preconditions(existing.as_ref().map(|r| r.etag.as_str()))?;
    let setting = model::validate(&body, categories)?;
    if let Some(ws) = &setting.workspace
        && resources::get(&mut w.tx, &ws.key()).await?.is_none()
    {
        return Err(ArmError::not_found(
            "ResourceNotFound",
            format!("The resource '{}' doesn't exist.", ws.key()),
        ));
    }
    if existing.is_none() {
        let count = extension::list(&mut w.tx, &SETTINGS, target).await?.len();
        if count >= model::MAX_PER_RESOURCE {
            return Err(ArmError::bad_request(
                "BadRequest",
                format!(
                    "The resource already has {count} diagnostic settings, the most a resource can have."
                ),
            ));
        }
    }
    let doc = json!({ "properties": setting.properties });
    let row = extension::row(&SETTINGS, target, name, existing.as_ref(), doc);
    resources::put(&mut w.tx, &row).await?;
    w.commit().await?;
    arm.notify_change();
    Ok(row.body)
}
