//! Resource groups: PUT, GET, HEAD, PATCH, LIST and an asynchronous DELETE that removes
//! everything inside the group.

use axum::Json;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::api::method_not_allowed;
use crate::app::AppState;
use crate::arm::id::resource_group_id;
use crate::arm::lro::{self, Polling};
use crate::arm::{ArmError, ArmRequest, ArmResult, list, location};
use crate::store::{Resource, ResourceQuery, operations, resources};

pub const TYPE: &str = "Microsoft.Resources/resourceGroups";
/// The operation kind of a group deletion.
pub const DELETE_KIND: &str = "delete-resource-group";

pub async fn handle(
    app: &AppState,
    req: &ArmRequest,
    sub: &str,
    name: &str,
) -> ArmResult<Response> {
    match req.method {
        Method::PUT => put(app, req, sub, name).await,
        Method::GET => get(app, sub, name).await,
        Method::HEAD => Ok(match find(app, sub, name).await? {
            Some(_) => StatusCode::NO_CONTENT,
            None => StatusCode::NOT_FOUND,
        }
        .into_response()),
        Method::PATCH => patch(app, req, sub, name).await,
        Method::DELETE => delete(app, req, sub, name).await,
        _ => Err(method_not_allowed(req)),
    }
}

/// Azure's rule: 1-90 letters, digits, `-`, `_`, `.`, `(`, `)`, not ending in a period.
pub fn validate_name(name: &str) -> ArmResult<()> {
    let bad: String = name
        .chars()
        .filter(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')')))
        .collect();
    let problem = if name.is_empty() || name.chars().count() > 90 {
        Some(format!(
            "The provided resource group name '{name}' must be 1 to 90 characters long."
        ))
    } else if !bad.is_empty() {
        Some(format!(
            "The provided resource group name '{name}' has these invalid characters: '{bad}'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'."
        ))
    } else if name.ends_with('.') {
        Some(format!(
            "The provided resource group name '{name}' cannot end with a period."
        ))
    } else {
        None
    };
    match problem {
        Some(message) => Err(ArmError::bad_request("InvalidResourceGroup", message)),
        None => Ok(()),
    }
}

/// Tags: an object of string values, at most 50, with Azure's length limits.
pub fn parse_tags(v: Option<&Value>) -> ArmResult<Option<Map<String, Value>>> {
    let tags = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(tags)) => tags,
        Some(_) => {
            return Err(ArmError::invalid_request_content(
                "'tags' must be an object of strings.",
            ));
        }
    };
    if tags.len() > 50 {
        return Err(ArmError::bad_request(
            "InvalidTagCount",
            "The number of tags exceeds the limit of 50.",
        ));
    }
    for (k, v) in tags {
        let Some(s) = v.as_str() else {
            return Err(ArmError::invalid_request_content(format!(
                "The value of tag '{k}' must be a string."
            )));
        };
        if k.is_empty()
            || k.chars().count() > 512
            || k.contains(['<', '>', '%', '&', '\\', '?', '/'])
        {
            return Err(ArmError::bad_request(
                "InvalidTagNameCharacters",
                format!("The tag name '{k}' is invalid."),
            ));
        }
        if s.chars().count() > 256 {
            return Err(ArmError::bad_request(
                "InvalidTagValueLength",
                format!("The value of tag '{k}' exceeds 256 characters."),
            ));
        }
    }
    Ok(Some(tags.clone()))
}

pub async fn find(app: &AppState, sub: &str, name: &str) -> ArmResult<Option<Resource>> {
    Ok(app.store.get(&resource_group_id(sub, name)).await?)
}

/// The group, or 404 `ResourceGroupNotFound`; also refuses groups being deleted when `writing`.
pub async fn require(app: &AppState, sub: &str, name: &str, writing: bool) -> ArmResult<Resource> {
    let rg = find(app, sub, name)
        .await?
        .ok_or_else(|| ArmError::resource_group_not_found(name))?;
    if writing && state(&rg.body) == "Deleting" {
        return Err(being_deleted(&rg.name));
    }
    Ok(rg)
}

fn state(body: &Value) -> &str {
    body["properties"]["provisioningState"]
        .as_str()
        .unwrap_or("Succeeded")
}

fn being_deleted(name: &str) -> ArmError {
    ArmError::conflict(
        "ResourceGroupBeingDeleted",
        format!(
            "The resource group '{name}' is in deprovisioning state and cannot perform this operation."
        ),
    )
}

async fn put(app: &AppState, req: &ArmRequest, sub: &str, name: &str) -> ArmResult<Response> {
    validate_name(name)?;
    let body = req.json_object()?;
    let (doc, created) = create_or_update(app, sub, name, &body, Some(req)).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(doc)).into_response())
}

/// Creates or updates a group from a PUT body (`location`, `tags`, `managedBy`); returns the
/// document and whether it was created. Template deployments create groups through here too;
/// `req` (when there is one) supplies the `If-Match` preconditions.
pub async fn create_or_update(
    app: &AppState,
    sub: &str,
    name: &str,
    body: &Map<String, Value>,
    req: Option<&ArmRequest>,
) -> ArmResult<(Value, bool)> {
    validate_name(name)?;
    let Some(loc) = body.get("location").and_then(Value::as_str) else {
        return Err(ArmError::bad_request(
            "LocationRequired",
            "The location property is required for this definition.",
        ));
    };
    let loc = location::parse_for(loc, TYPE).map_err(|e| ArmError {
        code: "LocationNotAvailableForResourceGroup".into(),
        ..e
    })?;
    let tags = parse_tags(body.get("tags"))?;

    let mut w = app.store.write().await?;
    let existing = resources::get(&mut w.tx, &resource_group_id(sub, name)).await?;
    if let Some(req) = req {
        req.check_preconditions(existing.as_ref().map(|r| r.etag.as_str()))?;
    }
    let (id, stored_name) = match &existing {
        Some(rg) => {
            if state(&rg.body) == "Deleting" {
                return Err(being_deleted(&rg.name));
            }
            let stored = rg.body["location"].as_str().unwrap_or_default();
            if stored != loc {
                return Err(ArmError::conflict(
                    "InvalidResourceGroupLocation",
                    format!(
                        "Invalid resource group location '{loc}'. The Resource group already exists in location '{stored}'."
                    ),
                ));
            }
            (rg.id.clone(), rg.name.clone())
        }
        None => (resource_group_id(sub, name), name.to_string()),
    };
    let mut doc = json!({
        "id": id,
        "name": stored_name,
        "type": TYPE,
        "location": loc,
        "properties": {"provisioningState": "Succeeded"},
    });
    if let Some(tags) = tags {
        doc["tags"] = Value::Object(tags);
    }
    if let Some(m) = body.get("managedBy").and_then(Value::as_str) {
        doc["managedBy"] = json!(m);
    }
    let row = Resource {
        id: id.clone(),
        subscription: sub.to_string(),
        resource_group: Some(stored_name.clone()),
        type_name: TYPE.into(),
        name: stored_name,
        body: doc.clone(),
        etag: new_etag(),
    };
    resources::put(&mut w.tx, &row).await?;
    w.commit().await?;
    Ok((doc, existing.is_none()))
}

async fn get(app: &AppState, sub: &str, name: &str) -> ArmResult<Response> {
    let rg = require(app, sub, name, false).await?;
    Ok(Json(rg.body).into_response())
}

async fn patch(app: &AppState, req: &ArmRequest, sub: &str, name: &str) -> ArmResult<Response> {
    let body = req.json_object()?;
    let tags = parse_tags(body.get("tags"))?;
    let mut w = app.store.write().await?;
    let mut rg = resources::get(&mut w.tx, &resource_group_id(sub, name))
        .await?
        .ok_or_else(|| ArmError::resource_group_not_found(name))?;
    req.check_preconditions(Some(&rg.etag))?;
    if state(&rg.body) == "Deleting" {
        return Err(being_deleted(&rg.name));
    }
    if let Some(tags) = tags {
        rg.body["tags"] = Value::Object(tags);
    }
    if let Some(m) = body.get("managedBy").and_then(Value::as_str) {
        rg.body["managedBy"] = json!(m);
    }
    rg.etag = new_etag();
    resources::put(&mut w.tx, &rg).await?;
    w.commit().await?;
    Ok(Json(rg.body).into_response())
}

async fn list_groups(app: &AppState, sub: &str) -> ArmResult<Vec<Value>> {
    let q = ResourceQuery {
        subscription: sub.into(),
        type_name: Some(TYPE.into()),
        ..Default::default()
    };
    Ok(app
        .store
        .list(&q)
        .await?
        .into_iter()
        .map(|r| r.body)
        .collect())
}

pub async fn list(app: &AppState, req: &ArmRequest, sub: &str) -> ArmResult<Response> {
    let mut items = list_groups(app, sub).await?;
    if let Some(filter) = req.query("$filter") {
        let f = super::generic::Filter::parse(filter)?;
        items.retain(|g| f.matches(g, g["name"].as_str().unwrap_or_default()));
    }
    Ok(Json(list::page(req, items)?).into_response())
}

/// Marks the group Deleting and starts the operation that empties and removes it.
async fn delete(app: &AppState, req: &ArmRequest, sub: &str, name: &str) -> ArmResult<Response> {
    let mut w = app.store.write().await?;
    let mut rg = resources::get(&mut w.tx, &resource_group_id(sub, name))
        .await?
        .ok_or_else(|| ArmError::resource_group_not_found(name))?;
    req.check_preconditions(Some(&rg.etag))?;
    rg.body["properties"]["provisioningState"] = json!("Deleting");
    resources::put(&mut w.tx, &rg).await?;
    let op = operations::insert(&mut w.tx, sub, DELETE_KIND, &rg.id).await?;
    w.commit().await?;
    crate::api::operations::spawn(app, op.clone());
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

/// The worker of a group deletion: removes every resource in the group, then the group.
/// Idempotent, so an operation interrupted by a crash is simply run again at boot.
pub async fn delete_worker(app: &AppState, rg_id: &str) -> ArmResult<()> {
    let Some(rg) = app.store.get(rg_id).await? else {
        return Ok(());
    };
    let q = ResourceQuery {
        subscription: rg.subscription.clone(),
        resource_group: Some(rg.name.clone()),
        ..Default::default()
    };
    let mut w = app.store.write().await?;
    for r in resources::list(&mut w.tx, &q).await? {
        resources::delete(&mut w.tx, &r.key()).await?;
    }
    w.commit().await?;
    tracing::info!(resource_group = rg.name, "resource group deleted");
    Ok(())
}

pub fn new_etag() -> String {
    format!("W/\"{}\"", uuid::Uuid::new_v4())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_group_names_follow_azure_rules() {
        for ok in ["rg", "My_RG-1.(x)", "ünïcode", &"a".repeat(90)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "ends.", "has space", "semi;colon", &"a".repeat(91)] {
            assert_eq!(
                validate_name(bad).unwrap_err().code,
                "InvalidResourceGroup",
                "{bad}"
            );
        }
    }

    #[test]
    fn tags_must_be_strings() {
        assert!(parse_tags(Some(&json!({"a": "b"}))).is_ok());
        assert!(parse_tags(Some(&json!({"a": 1}))).is_err());
        assert!(parse_tags(Some(&json!(["a"]))).is_err());
    }
}
